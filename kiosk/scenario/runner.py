"""Run one scenario: the real control loop on the simulated board, events on schedule.

Virtual clock by default: every event (fault injections, operator actions, the UI's 15 Hz
heartbeat) is a clock timer, so it fires at its exact time even while the control thread is
stuck inside a driver's busy-poll (``adc_never_ready``). ``realtime=True`` runs the control
thread and the supervisor on the wall clock, with the events on a scheduler thread, for timing
figures.

What is measured comes from two sides: the control loop's own view (snapshots: state, measured
current, dose) and the simulated board's truth (the load model's current and charge, when the
relay contacts really opened and the DAC output really reached zero).
"""

from __future__ import annotations

import contextlib
import csv
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from kiosk.control.catalogue import load_catalogue
from kiosk.control.codes import Reason
from kiosk.control.commands import (
    Acknowledge,
    AdjustCurrent,
    Command,
    EndSession,
    Heartbeat,
    Pause,
    ProgramRequest,
    Resume,
    StartTreatment,
    Stop,
    StopReason,
)
from kiosk.control.limits import ResolvedProgram, resolve_program
from kiosk.control.loop import CycleRecord
from kiosk.control.reasons import Code, Kind, spec_of
from kiosk.control.service import Controller, build_controller
from kiosk.control.snapshot import TreatmentState
from kiosk.control.watchdog import SystemdWatchdog
from kiosk.files import BadInput, shown_path
from kiosk.hal.clock import Clock, RealClock, TimerHandle
from kiosk.hal.sim.board import SimBoard
from kiosk.hal.sim.clock import SimulationEnded, VirtualClock
from kiosk.hal.sim.skin import SkinParams
from kiosk.scenario.spec import Scenario, ScenarioError, ScenarioEvent

UI_POLL_S = 1.0 / 15.0  # the kiosk polls (and sends a heartbeat) at 15 Hz
SETTLE_S = 1.0  # a scenario without duration_s ends after a final state held this long
STUCK_S = 1.0  # no completed cycle for this long after a supervisor trip: the loop is gone
STEP_S = 0.1
FAULT_WINDOW_S = 0.6  # longest confirmation time of a current fault (regulation: 500 ms)
ADJUST_STEP_MA = 0.05
TERMINAL = frozenset({TreatmentState.DONE, TreatmentState.FAULT, TreatmentState.IDLE,
                      TreatmentState.PAUSED})
TRACE_COLUMNS = ("time_s", "state", "step", "setpoint_ma", "measured_ma", "true_current_ma",
                 "electrode_v", "dac_code", "k1_commanded", "k1_contacts", "k2_reversed",
                 "boost_on", "heartbeat_alive", "fault")


@dataclass
class FaultRecord:
    code: str
    at_s: float  # scenario time (0 = start)
    event_kind: str | None  # the injected event it follows, if any
    event_at_s: float | None
    safe_after_ms: float | None = None
    relay_open_after_ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "at_s": _r(self.at_s), "event": self.event_kind,
                "event_at_s": _r(self.event_at_s), "safe_after_ms": _r(self.safe_after_ms),
                "relay_open_after_ms": _r(self.relay_open_after_ms)}


@dataclass
class RunResult:
    """Everything the JSON summary reports, plus what the expectations are checked against."""

    scenario: Scenario
    realtime: bool
    final_state: str = "idle"
    faults: list[FaultRecord] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    peak_current_ma: float = 0.0
    true_peak_current_ma: float = 0.0
    dose_ma_min: float = 0.0
    true_dose_ma_min: float = 0.0
    final_true_current_ma: float = 0.0
    max_regulation_error_ma: float | None = None
    hold_s: float = 0.0
    duration_s: float = 0.0
    loop: dict[str, float | int] = field(default_factory=dict)
    loop_stuck: bool = False
    events_fired: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.scenario.name,
            "file": self.scenario.path,
            "seed": self.scenario.seed,
            "clock": "realtime" if self.realtime else "virtual",
            "final_state": self.final_state,
            "faults": [fault.as_dict() for fault in self.faults],
            "refusals": self.refusals,
            "peak_current_ma": _r(self.peak_current_ma),
            "true_peak_current_ma": _r(self.true_peak_current_ma),
            "dose_ma_min": _r(self.dose_ma_min),
            "true_dose_ma_min": _r(self.true_dose_ma_min),
            "final_true_current_ma": _r(self.final_true_current_ma),
            "max_regulation_error_ma": _r(self.max_regulation_error_ma),
            "hold_s": _r(self.hold_s),
            "duration_s": _r(self.duration_s),
            "loop": {key: _r(value) if isinstance(value, float) else value
                     for key, value in self.loop.items()},
            "loop_stuck": self.loop_stuck,
            "events": self.events_fired,
        }


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, digits)


# ---------------------------------------------------------------------------- program


def program_request(scenario: Scenario) -> ProgramRequest:
    p = scenario.program
    return ProgramRequest(area=p.area, indication=p.indication, electrode_id=p.electrode_id,
                          current_ma=p.current_ma, current_stage_s=p.current_stage_s,
                          caution_acknowledged=p.caution_acknowledged,
                          reduced_caps=p.reduced_caps, polarity=p.polarity,
                          second_phase=p.second_phase)


_REFUSAL_KEYS = {
    Code.CURRENT_ABOVE_CAP: "current_ma", Code.CURRENT_BELOW_MINIMUM: "current_ma",
    Code.TIME_ABOVE_CAP: "current_stage_s", Code.TIME_TOO_SHORT: "current_stage_s",
    Code.UNKNOWN_ELECTRODE: "electrode_id", Code.ELECTRODE_NOT_ALLOWED: "electrode_id",
    Code.POLARITY_NOT_ALLOWED: "polarity", Code.NO_SECOND_PHASE: "second_phase",
    Code.CAUTION_NOT_ACKNOWLEDGED: "caution_acknowledged", Code.UNKNOWN_PROGRAM: "indication",
}


def resolve_or_refuse(scenario: Scenario) -> ResolvedProgram:
    """The program as the core will run it, or ScenarioError naming the cap that refuses it:
    a scenario asking more than a cap is never silently run with less."""
    resolved = resolve_program(program_request(scenario), load_catalogue())
    if isinstance(resolved, Reason):
        key = _REFUSAL_KEYS.get(Code(resolved.code), "")
        line = scenario.line_of("program", key) if key else scenario.line_of("program")
        raise ScenarioError(scenario.path, line, f"[program] {key}" if key else "[program]",
                            f"refused by the control core ({resolved.code}): {resolved.text}")
    return resolved


# ---------------------------------------------------------------------------- the run


class ScenarioRun:
    """One run of one scenario; :meth:`run` returns the :class:`RunResult`."""

    def __init__(self, scenario: Scenario, *, realtime: bool = False,
                 trace: IO[str] | None = None) -> None:
        self.scenario = scenario
        self.realtime = realtime
        self.resolved = resolve_or_refuse(scenario)
        self.clock: Clock = RealClock() if realtime else VirtualClock()
        try:
            load = SkinParams(**scenario.load)
        except ValueError as error:
            raise ScenarioError(scenario.path, scenario.line_of("load"), "[load]",
                                str(error)) from error
        self.controller: Controller = build_controller(
            sim=True, clock=self.clock, seed=scenario.seed, load=load,
            notifier=SystemdWatchdog(env={}))
        board_sim = self.controller.board.sim
        assert board_sim is not None
        self.sim: SimBoard = board_sim
        self.result = RunResult(scenario, realtime)
        self.t0_s = self.clock.now_s()
        self._session_id = scenario.program.session_id
        self._session_count = 0
        self._ui_frozen_until_s: float | None = None
        self._pending_events = len(scenario.events)
        self._events_at: list[tuple[float, str]] = []  # (time, kind) of the fired events
        self._seen_faults: set[tuple[str, float]] = set()
        self._hold_errors: list[tuple[float, float]] = []  # (time, |measured - set-point|)
        self._last_cycle_s = self.t0_s
        self._last_state = TreatmentState.IDLE
        self._state_since_s = self.t0_s
        self._started = False
        self._summarised = False
        self._writer = csv.writer(trace) if trace is not None else None
        self._timers: list[TimerHandle] = []  # cancelled when the run ends
        if self._writer is not None:
            self._writer.writerow(TRACE_COLUMNS)
        self.controller.loop.add_observer(self._observe)

    # --- scheduling ---------------------------------------------------------------------------

    def _call_at(self, at_s: float, callback: Callable[[float], None], name: str) -> None:
        self._timers.append(self.clock.call_at(self.t0_s + at_s, callback, name))

    def _schedule(self) -> None:
        for event in self.scenario.events:
            self._call_at(event.at_s, _bind(self._fire, event), f"scenario {event.kind}")
        self._call_at(0.0, self._heartbeat, "ui heartbeat")
        if self.scenario.autostart:
            self._start_treatment(new_session=False)

    def _heartbeat(self, now_s: float) -> None:
        frozen_until = self._ui_frozen_until_s
        if frozen_until is None or now_s >= frozen_until:
            self._ui_frozen_until_s = None
            self.controller.submit(Heartbeat())
        if now_s - self.t0_s < self._limit_s():
            self._call_at(now_s - self.t0_s + UI_POLL_S, self._heartbeat, "ui heartbeat")

    def _fire(self, event: ScenarioEvent, now_s: float) -> None:
        self._pending_events -= 1
        self.result.events_fired.append({"at_s": _r(now_s - self.t0_s), "kind": event.kind,
                                         "state": self.controller.snapshot.state.value,
                                         **dict(event.params)})
        self._events_at.append((now_s, event.kind))
        if event.is_fault:
            self.controller.inject(event.kind, **dict(event.params))
            return
        command = self._command_for(event, now_s)
        if command is not None:
            self.controller.submit(command)

    def _command_for(self, event: ScenarioEvent, now_s: float) -> Command | None:
        kind, params = event.kind, event.params
        if kind == "operator_stop":
            return Stop(StopReason(params.get("reason", StopReason.OPERATOR.value)))
        if kind == "operator_pause":
            return Pause()
        if kind == "operator_resume":
            return Resume(self._session_id)
        if kind == "operator_ack":
            fault = self.controller.snapshot.fault
            code = params.get("code") or (fault.code if fault is not None else "")
            return Acknowledge(str(code))
        if kind == "operator_start":
            self._start_treatment(new_session=bool(params.get("new_session", False)))
            return None
        if kind in ("current_up", "current_down"):
            steps = int(params.get("steps", 1))
            sign = 1 if kind == "current_up" else -1
            return AdjustCurrent(round(sign * steps * ADJUST_STEP_MA, 4))
        if kind == "ui_freeze":
            ms = params.get("ms")
            self._ui_frozen_until_s = math.inf if ms is None else now_s + float(ms) / 1000
            return None
        if kind == "clear":
            self.controller.clear(str(params["fault"]))
            return None
        raise AssertionError(f"unhandled event kind {kind}")  # spec.OPERATOR_ACTIONS only

    def _start_treatment(self, *, new_session: bool) -> None:
        if new_session:  # the next client: the screen ends the old session first
            self.controller.submit(EndSession(self._session_id))
            self._session_count += 1
            self._session_id = f"{self.scenario.program.session_id}-{self._session_count}"
        self._started = True
        # a scenario's client has consented to the packaged catalogue's consent (issue 11.6)
        self.controller.submit(StartTreatment(program_request(self.scenario), self._session_id,
                                              self.scenario.program.screening_cleared,
                                              consent_version=load_catalogue().consent_version))

    # --- observing ----------------------------------------------------------------------------

    def _observe(self, record: CycleRecord) -> None:
        if self._summarised:
            return  # the closing cycles (controller.close) are not part of the scenario
        snapshot = record.snapshot
        result = self.result
        now_s = record.finished_s
        self._last_cycle_s = now_s
        true_ma = self.sim.true_current_ma()
        result.peak_current_ma = max(result.peak_current_ma, abs(snapshot.measured_ma))
        result.true_peak_current_ma = max(result.true_peak_current_ma, abs(true_ma))
        if snapshot.state is TreatmentState.HOLD:
            self._hold_errors.append((now_s, abs(snapshot.measured_ma - snapshot.setpoint_ma)))
            result.hold_s += self.controller.loop.timing.period_s
        if snapshot.state is not self._last_state:
            self._last_state = snapshot.state
            self._state_since_s = now_s
        if snapshot.fault is not None:
            self._note_fault(snapshot.fault.code, snapshot.fault.at_s)
        for reason in record.events:
            with contextlib.suppress(KeyError, ValueError):
                if spec_of(reason.code).kind is Kind.REFUSAL:
                    result.refusals.append(reason.code)
        if self._writer is not None:
            fault = snapshot.fault.code if snapshot.fault is not None else ""
            self._writer.writerow((
                f"{snapshot.time_s - self.t0_s:.4f}", snapshot.state.value, snapshot.step,
                f"{snapshot.setpoint_ma:.4f}", f"{snapshot.measured_ma:.4f}", f"{true_ma:.4f}",
                f"{snapshot.electrode_v:.3f}",
                "" if record.dac_code is None else record.dac_code,
                int(self.controller.board.output_relay.is_closed), int(self.sim.k1_closed()),
                int(self.sim.k2_reversed()), int(self.controller.board.boost.is_enabled),
                int(self.sim.heartbeat_alive()), fault))

    def _note_fault(self, code: str, at_s: float) -> None:
        key = (code, round(at_s, 9))
        if key in self._seen_faults:
            return
        self._seen_faults.add(key)
        # The event a fault is timed from: the latest scheduled event at or before it (the
        # injected fault, or the operator action that exposed it, e.g. a set-point change
        # with a DAC that ignores writes); none for a fault nothing scheduled provoked.
        event = next(((t, kind) for t, kind in reversed(self._events_at) if t <= at_s + 1e-9),
                     None)
        self.result.faults.append(FaultRecord(
            code=code, at_s=at_s - self.t0_s, event_kind=event[1] if event else None,
            event_at_s=event[0] - self.t0_s if event else None))

    # --- running ------------------------------------------------------------------------------

    def _limit_s(self) -> float:
        """How long the scenario may last: ``duration_s``, else long enough for the program
        (both ramps, the stage and a margin) after the last event."""
        if self.scenario.duration_s is not None:
            return self.scenario.duration_s
        last_event_s = max((e.at_s for e in self.scenario.events), default=0.0)
        program_s = self.resolved.stage_time_s + 2 * 40.0 + 30.0
        return min(3600.0, last_event_s + program_s)

    def _finished(self, now_s: float) -> bool:
        if self.scenario.duration_s is not None or self._pending_events > 0:
            return False
        state = self.controller.snapshot.state
        return state in TERMINAL and now_s - self._state_since_s >= SETTLE_S \
            and (self._started or not self.scenario.autostart)

    def _stuck(self, now_s: float) -> bool:
        return self.controller.loop.supervisor.trips > 0 and now_s - self._last_cycle_s > STUCK_S

    def run(self) -> RunResult:
        try:
            self._schedule()
            if self.realtime:
                self._run_realtime()
            else:
                self._run_virtual()
            return self._summarise()
        finally:
            for timer in self._timers:
                timer.cancel()
            if isinstance(self.clock, VirtualClock):
                self.clock.end_s = None
            self.controller.close()

    def _run_virtual(self) -> None:
        clock = self.clock
        assert isinstance(clock, VirtualClock)
        end_s = self.t0_s + self._limit_s()

        def watch_for_stuck_loop(now_s: float) -> None:
            if self._stuck(now_s):
                self.result.loop_stuck = True
                clock.end_s = now_s  # unwinds the stuck busy-poll on its next clock advance

        clock.call_every(STEP_S, watch_for_stuck_loop, "scenario stuck-loop watch")
        clock.end_s = end_s
        try:
            while clock.now_s() < end_s - 1e-9:
                self.controller.run_for(min(STEP_S, end_s - clock.now_s()))
                if self._finished(clock.now_s()):
                    break
        except SimulationEnded:
            pass
        finally:
            clock.end_s = None

    def _run_realtime(self) -> None:
        end_s = self.t0_s + self._limit_s()
        self.controller.start()
        while self.clock.now_s() < end_s:
            self.clock.sleep_s(0.05)
            now_s = self.clock.now_s()
            if self._finished(now_s):
                break
            if self._stuck(now_s):
                self.result.loop_stuck = True
                break
        self.controller.loop.stop()

    def _summarise(self) -> RunResult:
        self._summarised = True
        result = self.result
        snapshot = self.controller.snapshot
        if snapshot.fault is not None:  # e.g. published by the supervisor while stuck
            self._note_fault(snapshot.fault.code, snapshot.fault.at_s)
        result.final_state = snapshot.state.value
        result.dose_ma_min = snapshot.dose_ma_min
        result.true_dose_ma_min = self.sim.true_charge_mc() / 60.0
        result.final_true_current_ma = self.sim.true_current_ma()
        result.duration_s = self.clock.now_s() - self.t0_s
        result.loop = {key: value for key, value in self.controller.stats.summary().items()
                       if key in ("cycles", "period_ms_p50", "period_ms_p99", "period_ms_max",
                                  "overruns", "lateness_ms_max")}
        result.max_regulation_error_ma = self._regulation_error()
        relay_opens = [e.time_s for e in self.sim.relay_history
                       if e.relay == "k1" and e.part == "contacts" and not e.state]
        for fault in result.faults:
            since_s = self.t0_s + (fault.event_at_s if fault.event_at_s is not None
                                   else fault.at_s)
            safe_s = self.sim.safe_state_reached_at_s(since_s)
            if safe_s is not None:
                fault.safe_after_ms = (safe_s - since_s) * 1000.0
            opened_s = _relay_open_at(relay_opens, since_s, self.sim)
            if opened_s is not None:
                fault.relay_open_after_ms = (opened_s - since_s) * 1000.0
        return result

    def _regulation_error(self) -> float | None:
        """Largest |measured - set-point| in hold, leaving out the detection window before
        each latched fault (there the error IS the fault being confirmed, not regulation)."""
        fault_times = [self.t0_s + fault.at_s for fault in self.result.faults]
        errors = [error for t_s, error in self._hold_errors
                  if not any(f_s - FAULT_WINDOW_S <= t_s <= f_s for f_s in fault_times)]
        return max(errors) if errors else None


def _relay_open_at(opens: list[float], since_s: float, sim: SimBoard) -> float | None:
    """First time >= ``since_s`` with the K1 contacts open (since_s itself if already open)."""
    if not sim.frontend.k1_contacts_closed_at(since_s):
        return since_s
    return next((t for t in opens if t >= since_s), None)


def _bind(fire: Callable[[ScenarioEvent, float], None],
          event: ScenarioEvent) -> Callable[[float], None]:
    return lambda now_s: fire(event, now_s)


def run_scenario(scenario: Scenario, *, realtime: bool = False,
                 trace_path: Path | None = None) -> RunResult:
    """Run ``scenario`` (see :class:`ScenarioRun`), writing the per-cycle trace if asked."""
    if trace_path is None:
        return ScenarioRun(scenario, realtime=realtime).run()
    try:
        trace = open(trace_path, "w", newline="", encoding="utf-8")  # noqa: SIM115
    except OSError as error:
        raise BadInput(f"{shown_path(trace_path)}: cannot write the trace "
                       f"({error.strerror or error}); --trace needs a writable file path") from None
    with trace:
        return ScenarioRun(scenario, realtime=realtime, trace=trace).run()
