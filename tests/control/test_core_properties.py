"""Property test of the pure core: random commands, time and plant faults; the safety
invariants hold on every single cycle.

A hypothesis RuleBasedStateMachine drives the core through the rig (plant model, virtual time).
Invariants, checked after every 10 ms cycle:
- current is only commanded in ramp_up / hold / ramp_down, or as the contact-check test current;
- the DAC is zero whenever the relay is commanded open; a latched fault means the safe state;
- the set-point and the target never exceed the program's cap, nor the firmware maximum;
- the set-point never rises faster than 0.05 mA/s, nor falls faster than a STOP ramp (or a cut
  to zero);
- the polarity relay never changes while the output is connected or current is commanded;
- a latched fault never clears without an acknowledgement naming it;
- the dose never exceeds its cap by more than one cycle's worth (with a truthful sensor);
- no internal error (a broken invariant inside the core) ever happens;
- sessions (issue 12 item 0): the open session never turns into another one without being
  ended; a new session starts with no dose, time or target of an earlier one; a Resume or
  EndSession naming another session changes nothing; EndSession while current may flow is
  refused; junk commands are refused with ``invalid_command`` and change nothing.
"""

from __future__ import annotations

import dataclasses
import math

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from kiosk.control import domain_limits as lim
from kiosk.control.commands import (
    COMMAND_TYPES,
    Acknowledge,
    AdjustCurrent,
    Command,
    EndSession,
    Heartbeat,
    Pause,
    Polarity,
    ProgramRequest,
    Resume,
    StartTreatment,
    Stop,
    StopReason,
)
from kiosk.control.core import ControlCore, SelfTestReadings
from kiosk.control.cycle import CycleResult
from kiosk.control.regulator import output_limit_ma
from kiosk.control.snapshot import Snapshot
from kiosk.control.snapshot import TreatmentState as S
from tests.consent_version import CONSENT
from tests.control.core_rig import PERIOD_S, Rig, catalogue
from tests.control.junk import junk_strategy

CURRENT_STATES = {S.RAMP_UP, S.HOLD, S.RAMP_DOWN}
AT_REST = {S.IDLE, S.PAUSED, S.DONE, S.FAULT}
MAY_FLOW = {S.CONTACT_CHECK, *CURRENT_STATES}
PROGRAMS = [(p.area, p.indication, second) for p in catalogue().programs
            for second in (False, True) if p.phase(second) is not None]
PROGRAMS += [("eye_area", "pigmentation", False), ("face", "pigmentation", True)]
# Dose caps a few times smaller than domain.md's, so runs of a minute reach them and the dose
# invariant is exercised (a catalogue may lower caps, never raise them).
SMALL_DOSE_CATALOGUE = dataclasses.replace(catalogue(), areas=tuple(
    dataclasses.replace(area, dose_cap_ma_min=round(area.dose_cap_ma_min / 80, 3))
    for area in catalogue().areas))

RUN_EVENTS = [None, "open_circuit", "short", "load_60k", "load_5k", "dac_low", "estop",
              "screen_silent", "stuck_0", "stuck_1", "stuck_negative"]
STUCK = {"stuck_0": 0.0, "stuck_1": 1.0, "stuck_negative": -0.05}

programs = st.sampled_from(PROGRAMS).flatmap(
    lambda p: st.builds(
        ProgramRequest,
        area=st.just(p[0]), indication=st.just(p[1]), second_phase=st.just(p[2]),
        electrode_id=st.sampled_from([None] * 6 + ["pad_15", "face_roller", "eye_ball"]),
        current_ma=st.sampled_from([None] * 4 + [0.03, 0.05, 0.15, 0.3, 0.6, 0.8, 1.0, 1.5,
                                                 2.0, 2.5]),
        current_stage_s=st.sampled_from([None, 60.0, 60.0, 75.0, 120.0, 3600.0]),
        polarity=st.sampled_from([None] * 4 + [Polarity.POSITIVE, Polarity.NEGATIVE]),
        reduced_caps=st.sampled_from([False, False, False, True]),
        caution_acknowledged=st.sampled_from([True, True, True, False]),
    ))
junk_commands = junk_strategy()
PLANT_EVENTS = ["open_circuit", "reconnect", "reconnect", "short", "unshort", "unshort",
                "load_5k", "load_40k", "load_60k", "load_20k", "load_20k", "dac_low", "dac_ok",
                "dac_ok", "estop", "estop_release", "estop_release", "screen_silent",
                "screen_alive", "screen_alive"]


class CoreMachine(RuleBasedStateMachine):
    @initialize()
    def setup(self) -> None:
        self.rig = Rig(ControlCore(SMALL_DOSE_CATALOGUE), plant_substeps=2)
        self.rig.core.self_test(SelfTestReadings(True, True, 1, 0, True, True, 0.0, 0.0), 0.0)
        self.rig.run(1.1)
        self.prev: CycleResult = self.rig.results[-1]
        self.tainted: set[str] = set()  # sessions whose dose counted a lying sensor
        self.fall_from_ma = 0.0
        self.liar_active = False

    # --- time -------------------------------------------------------------------------------

    def cycle(self, commands: list[Command]) -> None:
        result = self.rig.tick(commands)
        self.check(self.prev, result, commands)
        self.prev = result

    def run(self, cycles: int, until_at_rest: bool = False) -> None:
        """Tick ``cycles`` cycles; with ``until_at_rest``, stop early once nothing flows (long
        stretches of idle time exercise nothing and cost test time)."""
        for _ in range(cycles):
            self.cycle([Heartbeat()] if self.rig.auto_heartbeat else [])
            if until_at_rest and self.prev.snapshot.state in AT_REST:
                return

    @rule(cycles=st.sampled_from([1, 2, 5, 10, 30]))
    def tick_a_little(self, cycles: int) -> None:
        self.run(cycles)

    @rule(cycles=st.sampled_from([50, 120, 300]))
    def tick_some(self, cycles: int) -> None:
        self.run(cycles)

    @rule(cycles=st.integers(1000, 4500))
    def tick_long(self, cycles: int) -> None:
        self.run(cycles, until_at_rest=True)

    # --- the operator -------------------------------------------------------------------------

    @rule(program=programs, session=st.sampled_from(["a", "b"]),
          screening=st.sampled_from([True, True, True, False]))
    def start(self, program: ProgramRequest, session: str, screening: bool) -> None:
        self.cycle([StartTreatment(program, session, screening, consent_version=CONSENT)])

    @rule()
    def pause(self) -> None:
        self.cycle([Pause()])

    @rule(session=st.sampled_from(["a", "a", "b"]))
    def resume(self, session: str) -> None:
        self.cycle([Resume(session)])

    @rule(session=st.sampled_from(["a", "b"]))
    def end_session(self, session: str) -> None:
        self.cycle([EndSession(session)])

    @rule(junk=junk_commands)
    def junk(self, junk: object) -> None:
        before = self.prev.snapshot
        self.cycle([junk, Heartbeat()])  # type: ignore[list-item]  # junk on purpose
        assert [e.code for e in self.prev.events if e.code == "invalid_command"] == \
            ["invalid_command"]
        after = self.prev.snapshot
        assert (after.session_id, after.program_id, after.target_ma) == \
            (before.session_id, before.program_id, before.target_ma)

    @rule(why=st.sampled_from(list(StopReason)))
    def stop(self, why: StopReason) -> None:
        self.cycle([Stop(why)])

    @rule(delta=st.sampled_from([-0.1, -0.05, 0.05, 0.1, 0.25, 0.03]))
    def adjust(self, delta: float) -> None:
        self.cycle([AdjustCurrent(delta)])

    @rule(right_code=st.sampled_from([True, True, True, False]))
    def acknowledge(self, right_code: bool) -> None:
        fault = self.rig.core.fault
        code = fault.code if (fault is not None and right_code) else "contact_lost"
        self.cycle([Acknowledge(code)])

    # --- the plant and the board: one rule, so faults are a fraction of the steps --------------

    @rule(event=st.sampled_from(PLANT_EVENTS))
    def plant(self, event: str) -> None:
        rig = self.rig
        if event in ("open_circuit", "reconnect"):
            rig.plant.open_circuit = event == "open_circuit"
        elif event in ("short", "unshort"):
            rig.plant.short_circuit = event == "short"
        elif event.startswith("load_"):
            rig.plant.rp_kohm = float(event[5:-1])
        elif event in ("dac_low", "dac_ok"):
            rig.dac_gain = 0.6 if event == "dac_low" else 1.0
        elif event in ("estop", "estop_release"):
            rig.estop_intact = event == "estop_release"
        else:
            rig.auto_heartbeat = event == "screen_alive"

    @rule(value=st.sampled_from([0.0, 0.3, 1.0, -0.05, math.nan]),
          cycles=st.sampled_from([1, 3, 15, 60]))
    def sensor_stuck_for_a_while(self, value: float, cycles: int) -> None:
        """AIN0 reads ``value`` for ``cycles`` cycles, then tells the truth again."""
        self.rig.stuck_current_ma = value
        if self.prev.snapshot.session_id is not None:
            self.tainted.add(self.prev.snapshot.session_id)
        self.liar_active = True
        self.run(cycles)
        self.rig.stuck_current_ma = None
        self.liar_active = False

    @rule(program=programs, event=st.sampled_from(RUN_EVENTS),
          at_cycle=st.integers(0, 3500), heal=st.booleans())
    def start_and_let_it_run(self, program: ProgramRequest, event: str | None, at_cycle: int,
                             heal: bool) -> None:
        """Acknowledge what is latched, (optionally) heal the plant, start, and let time pass,
        with a plant event somewhere in the run: reaches the current states often and hits
        them with faults."""
        fault = self.rig.core.fault
        if heal:
            self.rig.plant.open_circuit = self.rig.plant.short_circuit = False
            self.rig.plant.rp_kohm = 20.0
            self.rig.estop_intact = self.rig.auto_heartbeat = True
            self.rig.dac_gain = 1.0
        if fault is not None:
            self.cycle([Acknowledge(fault.code)])
        open_id = self.prev.snapshot.session_id
        if open_id not in (None, "a"):
            self.cycle([EndSession(open_id)])  # type: ignore[arg-type]  # not None here
        self.cycle([StartTreatment(program, "a", True, consent_version=CONSENT)])
        self.run(min(at_cycle, 300))  # the contact check
        self.run(at_cycle - min(at_cycle, 300), until_at_rest=True)
        if event is not None and event.startswith("stuck_"):
            self.sensor_stuck_for_a_while(STUCK[event], 3500 - at_cycle)
        elif event is not None:
            self.plant(event)
        self.run(3500 - at_cycle, until_at_rest=True)

    # --- the invariants, every cycle ----------------------------------------------------------

    def check(self, prev: CycleResult, now: CycleResult, commands: list[Command]) -> None:
        a, snap = now.actuation, now.snapshot
        pa, psnap = prev.actuation, prev.snapshot
        self.check_sessions(psnap, snap, now, commands)

        assert "internal_error" not in [e.code for e in now.events], now.events
        assert a.output_relay_closed or a.dac_ma == 0.0, "DAC driven with the relay open"
        if a.dac_ma > 0:
            assert snap.state in CURRENT_STATES or (
                snap.state is S.CONTACT_CHECK and snap.step == "test"
                and a.dac_ma == lim.TEST_CURRENT_MA), f"current in {snap.state}/{snap.step}"
        if a.output_relay_closed:
            assert snap.state in CURRENT_STATES | {S.CONTACT_CHECK}
            assert a.heartbeat_ok and a.boost_on
        if self.rig.plant.current_ma > lim.OFF_STATE_CURRENT_MA:  # the truth, not the reading
            assert a.output_relay_closed and a.dac_ma > 0

        if snap.fault is not None:
            assert not a.output_relay_closed and a.dac_ma == 0.0 and not a.boost_on
            assert snap.state is S.FAULT

        if snap.program_id is not None:
            assert snap.setpoint_ma <= snap.current_cap_ma + 1e-9
            assert snap.target_ma <= snap.current_cap_ma + 1e-9
            assert a.dac_ma <= output_limit_ma(snap.current_cap_ma) + 1e-9
        assert snap.setpoint_ma <= lim.FIRMWARE_MAX_CURRENT_MA + 1e-9
        assert a.dac_ma <= lim.DAC_RANGE_MAX_MA

        dt = snap.time_s - psnap.time_s
        rise = snap.setpoint_ma - psnap.setpoint_ma
        assert rise <= lim.RAMP_MAX_RATE_MA_PER_S * min(dt, 0.05) + 1e-9, "ramp too steep"
        if rise >= 0:
            self.fall_from_ma = snap.setpoint_ma
        elif snap.setpoint_ma > 0:  # a cut straight to zero is the fault / dose-cap path
            # A STOP ramp takes its rate from where the fall began: zero within 1.5 s.
            fast = max(lim.RAMP_MAX_RATE_MA_PER_S, self.fall_from_ma / lim.STOP_RAMP_DURATION_S)
            assert -rise <= fast * min(dt, 0.05) + 1e-9, "fell faster than a STOP"

        if a.polarity_reversed != pa.polarity_reversed:
            assert not a.output_relay_closed and not pa.output_relay_closed
            assert a.dac_ma == 0.0 and pa.dac_ma == 0.0

        if psnap.fault is not None and (snap.fault is None or snap.fault != psnap.fault):
            assert Acknowledge(psnap.fault.code) in commands, "a fault cleared by itself"

        if snap.session_id != psnap.session_id and snap.session_id is not None:
            self.tainted.discard(snap.session_id)  # a new session: its dose starts at zero
            if self.liar_active:
                self.tainted.add(snap.session_id)
        if snap.program_id is not None and snap.session_id not in self.tainted:
            one_cycle = lim.DAC_RANGE_MAX_MA * PERIOD_S / 60.0
            assert snap.dose_ma_min <= snap.dose_cap_ma_min + one_cycle + 1e-9

    def check_sessions(self, psnap: Snapshot, snap: Snapshot, now: CycleResult,
                       commands: list[Command]) -> None:
        codes = [e.code for e in now.events]
        if psnap.session_id is not None and snap.session_id is not None:
            assert snap.session_id == psnap.session_id, "a session turned into another one"
        if psnap.session_id is None and snap.session_id is not None:  # a new session
            assert snap.dose_ma_min == 0.0 and snap.elapsed_s == 0.0
        for command in commands:
            if isinstance(command, Resume | EndSession) and \
                    command.session_id != psnap.session_id:
                assert snap.session_id == psnap.session_id
                if isinstance(command, Resume):
                    assert "resumed" not in codes
            if isinstance(command, EndSession) and psnap.state in MAY_FLOW:
                assert snap.session_id == psnap.session_id, "ended while current may flow"
            if type(command) not in COMMAND_TYPES:
                assert "invalid_command" in codes
        if snap.session_id is None:
            assert snap.program_id is None and snap.target_ma == 0.0

    @invariant()
    def session_dose_is_reset_only_by_a_new_session(self) -> None:
        snap = self.prev.snapshot
        assert snap.dose_ma_min >= 0.0 and snap.elapsed_s >= 0.0


# Derandomized, so a failure reproduces; no shrinking: minute-long runs make it take many
# minutes, and the printed step list with its arguments already replays the failure.
CoreMachine.TestCase.settings = settings(
    max_examples=30, stateful_step_count=30, deadline=None, derandomize=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
test_core_keeps_its_invariants_under_random_commands_and_faults = CoreMachine.TestCase
