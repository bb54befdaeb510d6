"""The self-test's state machine, driven by the control loop once per cycle while a run is on.

The loop owns the board; while a run is on it hands its cycle to :meth:`SelfTestRunner.cycle`
instead of applying the core's actuation (the core is held: ``ControlCore.hold_for_service``).
Per cycle the runner:

1. ends the run at once when something outranks it: a fault the core latched (an unexpected
   trip: E-stop, HW trip, supervisor...), a STOP, an E-stop loop found open outside the E-stop
   step, or the step's time limit; the board goes to the safe state in this same cycle;
2. otherwise resumes the running step's generator when its wait is over (a step yields how
   long to wait; no cycle blocks, so the heartbeat and the supervisor keep their rhythm);
3. when a step returns, records its result and an event, makes the board safe (K1 open, DAC 0,
   boost off, trip-test line down) and waits one relay settle time before releasing K2 and
   starting the next step.

Expected trips: the E-stop step's press and the trip step's latch trip the shutdown path as
every press and trip does (the board is cut in hardware and by the path); the loop offers such
a trip to :meth:`consumes` first: the running step takes it as its evidence instead of the core
latching a fault. Any other trip goes to the core.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from kiosk.control.codes import Reason
from kiosk.control.commands import ProgramDacEeprom, RunSelfTest, ServiceCommand, Stop
from kiosk.control.core import SelfTestReadings
from kiosk.control.reasons import Code, make
from kiosk.control.selftest.io import Blocked, StepIO
from kiosk.control.selftest.report import (
    RunSummary,
    SelfTestReport,
    StepResult,
    StepStatus,
)
from kiosk.control.selftest.steps import (
    READ_ONLY_STEPS,
    STEP_NAMES,
    Outcome,
    Step,
    Wait,
    make_step,
)
from kiosk.control.shutdown import TripRequest
from kiosk.hal.board import Board
from kiosk.hal.errors import HalError

_log = logging.getLogger(__name__)

K2_RELEASE_AFTER_S = 0.011  # K1 had its 10 ms to open before K2 moves (hardware.md 8)


class SelfTestRunner:
    """See the module docstring. Control thread only, except :attr:`report` (any thread)."""

    def __init__(self, board: Board, boot_readings: Callable[[], SelfTestReadings],
                 trip_pending: Callable[[], bool]) -> None:
        self.io = StepIO(board, boot_readings, trip_pending)
        self._queue: list[str] = []
        self._step: Step | None = None
        self._wait: Wait | None = None
        self._resume_at_s = 0.0
        self._step_started_s = 0.0
        self._k2_release_at_s: float | None = None
        self._program_eeprom = False
        self._results: dict[str, StepResult] = {
            name: StepResult(name, StepStatus.NOT_RUN) for name in STEP_NAMES}
        self._run: RunSummary | None = None
        self._run_results: list[StepResult] = []
        self._events: list[Reason] = []
        self._report = SelfTestReport(tuple(self._results.values()))

    # ---------------------------------------------------------------- the loop's side
    @property
    def active(self) -> bool:
        return bool(self._queue) or self._step is not None or self._program_eeprom \
            or self._k2_release_at_s is not None

    @property
    def heartbeat_allowed(self) -> bool:
        return self.io.heartbeat_allowed

    @property
    def report(self) -> SelfTestReport:
        """The latest published report (immutable; any thread)."""
        return self._report

    def start(self, command: ServiceCommand, now_s: float) -> None:
        """Begin what the core admitted."""
        if isinstance(command, ProgramDacEeprom):
            self._program_eeprom = True
            steps: tuple[str, ...] = ("dac_eeprom",)
        elif isinstance(command, RunSelfTest) and command.step is not None:
            steps = (command.step,)
        else:
            steps = STEP_NAMES
        self._queue = list(steps)
        self._run = RunSummary(steps, now_s)
        self._run_results = []
        self._events.append(make(Code.SELFTEST_RUN_STARTED, steps=", ".join(steps)))
        self._publish()

    def note_commands(self, commands: Iterable[object]) -> None:
        """A STOP among this cycle's commands ends the run (the core ignores it in idle)."""
        if self.active and any(isinstance(c, Stop) for c in commands):
            self.abort("stop")

    def consumes(self, trip: TripRequest) -> bool:
        """True when the running step caused ``trip`` on purpose (it keeps it as evidence)."""
        expected = self.io.expected_trip
        if self._step is None or expected is None or trip.reason.code != expected:
            return False
        self.io.trips_seen.append((trip.reason.code, trip.at_s))
        return True

    def take_events(self) -> tuple[Reason, ...]:
        events, self._events = tuple(self._events), []
        return events

    def abort(self, why: str) -> None:
        """End the run now: the running step is ABORTED, the rest not run, the board safe."""
        if not self.active:
            return
        self._make_safe()
        step = self._step
        if step is None and not self._queue and not self._program_eeprom:
            return  # every step has ended; only K2's release is due: the run ends as it ran
        if step is not None:
            result = StepResult(step.name, StepStatus.ABORTED, cause=why,
                                finished_s=self.io.now_s)
            self._record(step.name, result)
            self._step_event(result)
        self._close_step()
        self._queue = []
        self._program_eeprom = False
        self._events.append(make(Code.SELFTEST_RUN_ABORTED, why=why))
        self._finish(aborted=why)

    def cycle(self, now_s: float, fault_code: str | None) -> None:
        """One control cycle of the run (see the module docstring)."""
        if not self.active:
            return
        if fault_code is not None and self._needs_no_fault():
            self.abort(fault_code)
            return
        step = self._step
        if step is not None and step.name != "estop" and not self.io.estop_intact:
            self.abort("estop")
            return
        if step is not None and now_s - self._step_started_s > step.timeout_s:
            self._end_step(Outcome(False, round(now_s - self._step_started_s, 3), "s",
                                   "step_timeout"))
            return
        if self._k2_release_at_s is not None:
            if now_s < self._k2_release_at_s:
                return
            self.io.k2(False)
            self._k2_release_at_s = None
        if self._program_eeprom:
            self._program()
        if step is None:
            if not self._queue:
                self._finish()
                return
            self._begin(self._queue.pop(0), now_s)
            step = self._step
        if step is not None and now_s >= self._resume_at_s - 1e-9:
            self._resume(now_s)

    # ---------------------------------------------------------------- internals
    def _needs_no_fault(self) -> bool:
        """With a fault latched only the read-only steps may go on."""
        names = [self._step.name] if self._step is not None else []
        return any(name not in READ_ONLY_STEPS for name in names + self._queue)

    def _begin(self, name: str, now_s: float) -> None:
        if name not in READ_ONLY_STEPS and self._chips_failed():
            skipped = StepResult(name, StepStatus.SKIPPED, cause="chips_not_answering",
                                 finished_s=now_s)
            self._record(name, skipped)
            self._step_event(skipped)
            return
        self.io.trips_seen.clear()
        self._step = make_step(name, self.io)
        self._wait = self._step.run()
        self._step_started_s = now_s
        self._resume_at_s = now_s
        self._record(name, StepResult(name, StepStatus.RUNNING))

    def _chips_failed(self) -> bool:
        chips = [r for r in self._run_results if r.step == "chips"]
        return bool(chips) and not chips[-1].passed

    def _resume(self, now_s: float) -> None:
        wait = self._wait
        assert wait is not None
        try:
            delay_s = next(wait)
        except StopIteration as done:
            self._end_step(done.value)
            return
        except Blocked:
            self._end_step(Outcome(False, None, "", "trip_pending"))
            return
        except HalError as error:
            _log.warning("self-test step %s: bus error: %s",
                         self._step.name if self._step else "?", error)
            self._end_step(Outcome(False, None, "", "bus_error",
                                   (("error", str(error)[:120]),)))
            return
        self._resume_at_s = now_s + max(delay_s, 0.0)
        self._publish()  # a prompt may have changed

    def _end_step(self, outcome: Outcome) -> None:
        step = self._step
        if step is None:
            return
        self._make_safe()
        status = StepStatus.PASSED if outcome.passed else StepStatus.FAILED
        result = StepResult(step.name, status, outcome.figure, outcome.unit, outcome.cause,
                            outcome.details, self.io.now_s)
        self._record(step.name, result)
        self._step_event(result)
        self._close_step()

    def _step_event(self, result: StepResult) -> None:
        """One event per step's end: its code, figure and cause, and the step's own values."""
        figure = "-" if result.figure is None else f"{result.figure:g} {result.unit}".strip()
        named = {"step": result.step, "figure": figure}
        if not result.passed:
            named.update(status=str(result.status), cause=result.cause)
        values = {k: v for k, v in result.details if k not in named}
        code = Code.SELFTEST_STEP_PASSED if result.passed else Code.SELFTEST_STEP_FAILED
        self._events.append(make(code, **named, **values))

    def _close_step(self) -> None:
        if self._wait is not None:
            try:
                self._wait.close()
            except Exception:  # a step's clean-up must not break the safe path
                _log.exception("closing a self-test step failed")
        self._step = None
        self._wait = None
        self._k2_release_at_s = self.io.now_s + K2_RELEASE_AFTER_S
        self._publish()

    def _make_safe(self) -> None:
        self.io.make_safe()

    def _program(self) -> None:
        """ProgramDacEeprom: the production write (blocks up to ~60 ms on this one cycle,
        with everything off: the loop counts the overrun, nothing is connected)."""
        self._program_eeprom = False
        try:
            self.io.board.dac.program_safe_power_on()
        except HalError as error:
            self._queue = []
            self._record("dac_eeprom", StepResult("dac_eeprom", StepStatus.FAILED,
                                                  cause="eeprom_write_failed",
                                                  details=(("error", str(error)[:120]),),
                                                  finished_s=self.io.now_s))
            self._step_event(self._results["dac_eeprom"])
            return
        self._events.append(make(Code.DAC_EEPROM_PROGRAMMED))

    def _record(self, name: str, result: StepResult) -> None:
        self._results[name] = result
        if result.status is not StepStatus.RUNNING:
            self._run_results.append(result)
        self._publish()

    def _finish(self, aborted: str = "") -> None:
        run = self._run
        if run is None or run.finished_s is not None:
            return
        passed = not aborted and all(r.passed for r in self._run_results) \
            and len(self._run_results) == len(run.steps)
        self._run = RunSummary(run.steps, run.started_s, self.io.now_s, passed, aborted,
                               time.time())
        if not aborted:
            self._events.append(make(Code.SELFTEST_RUN_FINISHED,
                                     passed=sum(r.passed for r in self._run_results),
                                     total=len(run.steps)))
        self._publish()

    def _publish(self) -> None:
        step = self._step
        self._report = SelfTestReport(
            tuple(self._results[name] for name in STEP_NAMES),
            running=step.name if step is not None else None,
            prompt=step.prompt if step is not None else None,
            last_run=self._run)
