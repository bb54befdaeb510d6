"""The control thread: a fixed 10 ms cycle around the pure core, sole owner of the bus.

This module ties the parts together; each job lives in its own module:
``loop_timing`` (the deadline grid, lateness limits, statistics), ``board_io`` (measure and
apply), ``intake`` (the bounded command intake with its priority lane), ``event_sink`` (events to
the records, rate-limited), ``shutdown`` (the one path to the safe state) and ``supervisor``.

Each cycle, in this order:

1. run the start-up self-test when due;
2. take the commands that arrived (:class:`CommandIntake`: both lanes whole, in submission order,
   so a STOP never waits behind a backlog; ``submit`` never blocks and refuses junk and floods);
3. read the board (:class:`BoardIO`);
4. hand the shutdown path's latched trips (E-stop edge, HW trip, supervisor, I2C error, ...) to
   the core as inputs (``ControlCore.latch_fault``), then ``core.step(now, measurements,
   commands)``;
5. apply the actuation (relay first when opening; K1 last when closing), and when the core has
   just latched a fault, run the one shutdown path as well;
6. publish the core's snapshot (an atomic reference swap), post the cycle's events;
7. stamp the supervisor's liveness; if the cycle was healthy, toggle the heartbeat (GPIO5) and,
   while the device is trusted (``Snapshot.healthy``), ping the systemd watchdog.

One writer of the fault state: only the core latches faults and writes fault snapshots. A trip
that the core has not shown yet (the supervisor's ``loop_stall`` while this thread is stuck, an
E-stop edge between two cycles) is shown by the reader: :attr:`ControlLoop.snapshot` combines the
last published snapshot with the shutdown path's oldest trip that snapshot has not seen (a view
computed on reading, never stored), so the screen sees it at once.

Timing: see :mod:`kiosk.control.loop_timing`. While the output is enabled, an overrun later than
``LoopTiming.fault_lateness_s`` (two periods) or ``fault_overruns_in_row`` (three) overruns in a
row trips the shutdown path with ``loop_overrun``: the regulator and every monitor assume a
sample every 10 ms. With the output off an overrun is only counted (the board is already safe).

Healthy cycle = started on time (no overrun), no exception, no I2C error, no trip pending, and
the core not in a fault (in a fault the heartbeat stops, so the monostable holds K1 and the
boost off in hardware as well).

Threads: ``start()`` runs the cycles on a thread of their own at raised priority when the OS
allows it, plus the supervisor on its own thread; ``run_for()`` runs them on the caller's thread
on a virtual clock (the supervisor is then a clock timer): UI tests interleave control time and
Kivy frames deterministically.
"""

from __future__ import annotations

import atexit
import logging
import math
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from kiosk.control.board_io import RELAY_SETTLE_S, BoardIO
from kiosk.control.codes import Reason
from kiosk.control.commands import Heartbeat, Stop, StopReason
from kiosk.control.core import ControlCore, SelfTestResult
from kiosk.control.cycle import Actuation, Measurements
from kiosk.control.event_sink import (
    EventPoster,
    EventSink,
    MakeEvent,
    _log_event,  # re-exported: older callers import it from here
    shutdown_failure_reasons,
    storage_healthy,
)
from kiosk.control.intake import CommandIntake, Validate
from kiosk.control.loop_timing import PERIOD_S, DeadlineGrid, LoopStats, LoopTiming
from kiosk.control.reasons import Code, make
from kiosk.control.selftest.runner import SelfTestRunner
from kiosk.control.shutdown import ShutdownPath, TripRequest
from kiosk.control.snapshot import CURRENT_MAY_FLOW_STATES, FaultInfo, Snapshot, TreatmentState
from kiosk.control.supervisor import Supervisor, raise_thread_priority
from kiosk.hal.board import Board

__all__ = ["PERIOD_S", "RELAY_SETTLE_S", "ControlLoop", "CycleRecord",
           "EventSink", "LoopStats", "LoopTiming", "Notifier", "_log_event", "storage_healthy"]

_log = logging.getLogger(__name__)

SELFTEST_RETRY_S = 1.0
GIL_SWITCH_INTERVAL_S = 0.001
CONTROL_FIFO_PRIORITY = 50  # below the supervisor's: the watcher must preempt the watched
STOP_GRACE_S = 3.0  # Stop(SHUTDOWN) reaches zero within 2 s (domain.md 6)
REFUSAL_LOG_INTERVAL_S = 1.0  # the intake's refusals reach the log at most once a second


class Notifier(Protocol):
    """``kiosk.control.watchdog.SystemdWatchdog`` (or nothing)."""

    def ready(self, status: str) -> None: ...

    def status(self, text: str) -> None: ...

    def healthy_cycle(self, now_s: float) -> bool: ...


@dataclass(frozen=True, slots=True)
class CycleRecord:
    """What one cycle did, for observers (the scenario runner's trace, benches, tests)."""

    index: int
    deadline_s: float
    started_s: float
    finished_s: float
    measurements: Measurements
    actuation: Actuation
    dac_code: int | None  # the code written this cycle (None: the write failed)
    snapshot: Snapshot
    events: tuple[Reason, ...]
    healthy: bool
    overrun: bool


CycleObserver = Callable[[CycleRecord], None]


@dataclass(frozen=True, slots=True)
class _Publication:
    """The core's snapshot of the last cycle and the serial of the newest trip it includes."""

    snapshot: Snapshot
    trips_seen: int


def with_pending_trip(snapshot: Snapshot, trip: TripRequest) -> Snapshot:
    """What a reader sees while the shutdown path has tripped and the core has not shown it
    yet: the safe state with that fault (the core will latch exactly this reason and time)."""
    return replace(snapshot, time_s=max(snapshot.time_s, trip.at_s), state=TreatmentState.FAULT,
                   fault=FaultInfo(trip.reason, trip.at_s), setpoint_ma=0.0,
                   output_enabled=False, healthy=False, step="")


class ControlLoop:
    """The shell around :class:`ControlCore`: thread, board I/O, shutdown path, supervisor."""

    def __init__(self, board: Board, core: ControlCore, *, period_s: float = PERIOD_S,
                 records: EventSink | None = None, notifier: Notifier | None = None,
                 timing: LoopTiming | None = None, make_event: MakeEvent | None = None,
                 validate: Validate | None = None) -> None:
        self.board = board
        self.core = core
        core.watch_frozen_readings()  # every board's ADC is noisy: a frozen reading is a fault
        self.clock = board.clock
        self.timing = timing if timing is not None else LoopTiming(
            period_s=period_s, fault_lateness_s=2 * period_s)
        self.records = records
        self.notifier = notifier
        self.shutdown = ShutdownPath.for_board(board, self.clock)
        self.supervisor = Supervisor(self.clock, self.shutdown,
                                     stall_timeout_s=self.timing.stall_timeout_s,
                                     check_period_s=self.timing.supervisor_check_s)
        self.stats = LoopStats()
        self.grid = DeadlineGrid(self.timing.period_s)
        self.io = BoardIO(board, self.shutdown, self.stats,
                          lambda: storage_healthy(self.records))
        self.intake = CommandIntake(validate)
        self.events = EventPoster(records, make_event)
        self.service = SelfTestRunner(board, self.io.selftest_readings,
                                      lambda: self.shutdown.pending)
        """The technician's self-test (kiosk.control.selftest): owns the board while a run is
        on; the cycle below hands it the run's commands, trips and cycles."""
        self._published = _Publication(core.snapshot, 0)
        self._trips_delivered = 0  # serial of the newest trip handed to the core
        self._observers: list[CycleObserver] = []
        self._cycle_index = 0
        self._overruns_in_row = 0
        self._refusals_logged_at_s = -math.inf
        self._intake_refusal: Reason | None = None  # shown as last_refusal until the core's
        self._core_refusal: Reason | None = core.snapshot.last_refusal  # own newer one
        self._selftest: SelfTestResult | None = None
        self._selftest_at_s = -math.inf
        self._ready_sent = False
        self._thread: threading.Thread | None = None
        self._stop_event = threading.Event()
        self._closed = False
        self._exit_hook_registered = False
        self.priority_raised: str | None = None
        board.estop.on_pressed(self._on_estop_edge)
        board.hw_trip.on_trip(self._on_hw_trip_edge)

    # ------------------------------------------------------------------ the seam to the UI

    def submit(self, command: object) -> Reason | None:
        """Hand a command to the next cycle: None when accepted, else the refusal (junk, or a
        flood: see :mod:`kiosk.control.intake`). Never blocks, never raises, any thread."""
        return self.intake.submit(command)

    @property
    def snapshot(self) -> Snapshot:
        """The latest snapshot (immutable): the core's, with a trip it has not shown yet."""
        published = self._published
        trip = self.shutdown.first_trip_after(published.trips_seen)
        if trip is None or published.snapshot.fault is not None:
            return published.snapshot
        return with_pending_trip(published.snapshot, trip)

    def add_observer(self, observer: CycleObserver) -> None:
        """Call ``observer(record)`` after each cycle, on the control thread (keep it short)."""
        self._observers.append(observer)

    @property
    def selftest(self) -> SelfTestResult | None:
        """The start-up self-test's result once the first cycle ran it (None before)."""
        return self._selftest

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------------ wall clock

    def start(self) -> None:
        """Run the cycles on their own thread (wall clock), with the supervisor thread."""
        if self.clock.is_virtual:
            raise RuntimeError("a virtual clock has no control thread: use run_for()")
        if self._thread is not None:
            return
        self._register_exit_hook()
        if sys.getswitchinterval() > GIL_SWITCH_INTERVAL_S:
            # CPython hands the GIL over every 5 ms by default: a busy UI thread would make
            # every cycle up to 5 ms late. 1 ms keeps the control thread's wait short.
            sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
        self._stop_event.clear()
        self.supervisor.start()
        self._thread = threading.Thread(target=self._run_thread, name="control-loop",
                                        daemon=True)
        self._thread.start()

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """End the current normally (to zero within 2 s), stop the cycles, leave the board safe.

        Wall clock: waits up to ``grace_s`` for the core to leave the current states, then stops
        the thread. Virtual clock: runs the cycles for that time itself. Either way the shutdown
        path's steps run at the end (K1 open, DAC zero, boost off, heartbeat parked).
        """
        if self.snapshot.state in CURRENT_MAY_FLOW_STATES:
            self.submit(Stop(StopReason.SHUTDOWN))
            if self.clock.is_virtual:
                self._run_until_idle(grace_s)
            elif self.running:
                self._wait_until_idle(grace_s)
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop_event.set()
            thread.join(timeout=2.0)
        self.supervisor.stop()
        self.supervisor.disarm()
        self.shutdown.make_safe("stop")

    def close(self) -> None:
        """Stop and release the exit hook (the board is closed by its owner)."""
        if self._closed:
            return
        self._closed = True
        self.stop()
        if self._exit_hook_registered:
            atexit.unregister(self._on_exit)
            self._exit_hook_registered = False

    def _wait_until_idle(self, grace_s: float) -> None:
        deadline_s = self.clock.now_s() + grace_s
        while self.clock.now_s() < deadline_s and self.snapshot.state in CURRENT_MAY_FLOW_STATES:
            self.submit(Heartbeat())  # the stop is the caller's own; the UI may be gone already
            self.clock.sleep_s(self.timing.period_s)

    def _run_thread(self) -> None:
        self.priority_raised = raise_thread_priority(CONTROL_FIFO_PRIORITY)
        try:
            while not self._stop_event.is_set():
                self._one_scheduled_cycle()
        except BaseException as error:  # the thread dies: make sure the current dies first
            self.shutdown.trip(make(Code.INTERNAL_ERROR, what=f"control thread: {error!r}"),
                               "control_loop", stop_heartbeat=True)
            raise

    def _one_scheduled_cycle(self) -> None:
        deadline_s = self.grid.take(self.clock.now_s())
        self.clock.sleep_until_s(deadline_s)
        if self._stop_event.is_set():
            return
        self.run_cycle(deadline_s)

    # ------------------------------------------------------------------ virtual clock

    def run_for(self, duration_s: float) -> None:
        """Run the cycles due in the next ``duration_s`` on the caller's thread, then leave the
        clock at the end of that interval (virtual clock: the supervisor is a clock timer)."""
        if self._thread is not None:
            raise RuntimeError("the control thread is running; run_for() is for virtual time")
        self.supervisor.start()
        end_s = self.clock.now_s() + duration_s
        while self.grid.peek(self.clock.now_s()) < end_s:
            deadline_s = self.grid.take(self.clock.now_s())
            self.clock.sleep_until_s(deadline_s)
            self.run_cycle(deadline_s)
        self.clock.sleep_until_s(end_s)

    def _run_until_idle(self, grace_s: float) -> None:
        end_s = self.clock.now_s() + grace_s
        while self.clock.now_s() < end_s and self.snapshot.state in CURRENT_MAY_FLOW_STATES:
            self.submit(Heartbeat())  # as in _wait_until_idle
            self.run_for(self.timing.period_s)

    # ------------------------------------------------------------------ one cycle

    def run_cycle(self, deadline_s: float) -> CycleRecord:
        """One cycle for the deadline ``deadline_s`` (normally called by the schedulers)."""
        started_s = self.clock.now_s()
        lateness_s = started_s - deadline_s
        self.stats.note(started_s, lateness_s)
        overrun = lateness_s > self.timing.period_s
        healthy = not overrun
        self._cycle_index += 1
        if overrun:
            self.stats.overruns += 1
            self._overruns_in_row += 1
            self._judge_overrun(lateness_s)
        else:
            self._overruns_in_row = 0
        io = self.io
        measurements = io.last_measurements or io.rest_measurements(started_s)
        actuation = self.core.last_actuation
        dac_code: int | None = None
        events: tuple[Reason, ...] = ()
        trips_seen = self._trips_delivered
        try:
            io.begin_cycle()
            service = self.service
            if self._selftest_due(started_s) and not service.active:
                self._run_selftest()
            commands = self.intake.take()
            refused = self.intake.take_last_refusal()
            service.note_commands(commands)  # a STOP ends a self-test run
            if service.active:  # the runner reads what its step needs
                measurements, read_ok = io.rest_measurements(started_s), True
            else:
                measurements, read_ok = io.measure()
            healthy = healthy and read_ok
            self._deliver_trips()  # just before the step: nothing decided on a stale view
            trips_seen = self._trips_delivered
            previous_fault = self.core.fault
            self.core.hold_for_service(service.active)
            result = self.core.step(self.clock.now_s(), measurements, commands)
            actuation = result.actuation
            io.read_aux = result.read_aux_next
            if result.snapshot.last_refusal is not self._core_refusal:
                self._core_refusal = result.snapshot.last_refusal
                self._intake_refusal = None  # the core refused something newer
            if refused is not None:
                self._intake_refusal = refused
            if result.snapshot.fault is not None and previous_fault is None:
                self.shutdown.trip(result.snapshot.fault.reason, "core", latched=True)
            request = self.core.take_service_request()
            if request is not None:
                service.start(request, self.clock.now_s())
            if service.active:
                fault = self.core.fault
                service.cycle(self.clock.now_s(), fault.code if fault is not None else None)
                self.core.hold_for_service(service.active)
            else:
                dac_code, apply_ok = io.apply(actuation)
                healthy = healthy and apply_ok
            events = result.events + shutdown_failure_reasons(self.shutdown.take_failures()) \
                + self._intake_refusals(started_s) + service.take_events()
        except Exception as error:
            healthy = False
            self.stats.exceptions += 1
            reason = make(Code.INTERNAL_ERROR, what=f"{type(error).__name__}: {error}"[:200])
            self.shutdown.trip(reason, "control_loop")
            try:
                self._deliver_trips()  # the core holds it even if every cycle fails here
            except Exception:
                _log.exception("handing the trip to the core failed")
            _log.exception("control cycle failed; output cut")
        io.end_cycle()
        loop_ok = healthy and not self.shutdown.pending  # on time, no exception, bus fine
        snapshot = self.core.snapshot
        if snapshot.healthy and not loop_ok and self._loop_in_doubt():
            snapshot = replace(snapshot, healthy=False)
        if self._intake_refusal is not None:  # refused at submit(): the screen sees why
            snapshot = replace(snapshot, last_refusal=self._intake_refusal)
        self._published = _Publication(snapshot, trips_seen)
        # Heartbeat: only while nothing is latched (in a fault the monostable also holds K1
        # and the boost off in hardware). systemd watchdog: only while the device itself is
        # trusted (Snapshot.healthy: a device fault such as i2c_error or loop_stall stops the
        # pings and systemd restarts the service into the safe state; a patient fault such as
        # contact_lost does not).
        healthy = loop_ok and self.core.fault is None
        if healthy:
            if self.service.heartbeat_allowed:  # the self-test's monostable step stops it
                io.toggle_heartbeat()
        else:
            self.stats.unhealthy_cycles += 1
        if loop_ok and snapshot.healthy and self.notifier is not None:
            self.notifier.healthy_cycle(started_s)
        finished_s = self.clock.now_s()
        self.supervisor.cycle_completed(finished_s)
        record = CycleRecord(self._cycle_index, deadline_s, started_s, finished_s, measurements,
                             actuation, dac_code, self.snapshot, events, healthy, overrun)
        self.events.post(record.events, record.snapshot)
        for observer in self._observers:
            observer(record)
        return record

    def _loop_in_doubt(self) -> bool:
        """The snapshot's ``healthy`` says the device can be trusted: not while the loop runs
        late or the bus fails (a patient fault such as contact loss does not count)."""
        return self._overruns_in_row > 0 or self.io.i2c_failing or self.shutdown.pending

    def _judge_overrun(self, lateness_s: float) -> None:
        k1_closed = self.io.k1_commanded_closed or self.board.output_relay.is_closed
        if not k1_closed and self.core.state not in CURRENT_MAY_FLOW_STATES:  # (a self-test step
            return  # may close K1 itself) the board is safe already; counted in the stats only
        if lateness_s > self.timing.fault_lateness_s \
                or self._overruns_in_row >= self.timing.fault_overruns_in_row:
            self.shutdown.trip(make(Code.LOOP_OVERRUN), "control_loop")

    def _deliver_trips(self) -> None:
        """The shutdown path's trips reach the core as inputs (it alone latches faults)."""
        for trip in self.shutdown.take_pending():
            if not self.service.consumes(trip):  # a self-test step's own press or trip
                self.core.latch_fault(trip.reason, trip.at_s)  # when it happened, not told
            self._trips_delivered = max(self._trips_delivered, trip.serial)

    def _intake_refusals(self, now_s: float) -> tuple[Reason, ...]:
        """The intake's refusals, one event per code with its count, at most once a second."""
        if now_s - self._refusals_logged_at_s < REFUSAL_LOG_INTERVAL_S:
            return ()
        counts = self.intake.take_refusals()
        if not counts:
            return ()
        self._refusals_logged_at_s = now_s
        reasons = []
        for code, counted in counts.items():
            first = counted.first
            _log.warning("%d command(s) refused at the intake (%s): %s", counted.count, code,
                         first.text)
            reasons.append(Reason(first.code, first.text, first.severity,
                                  (*first.details, ("refused_count", counted.count))))
        return tuple(reasons)

    # ------------------------------------------------------------------ self-test

    def _selftest_due(self, now_s: float) -> bool:
        """On the first cycle; after a failure again every ``SELFTEST_RETRY_S`` once the fault
        is acknowledged and the board rests in idle (an E-stop pressed at power-up, released
        and acknowledged, must not need a reboot)."""
        result = self._selftest
        if self.service.active:
            return False
        if result is None:
            return True
        if result.passed or self.core.fault is not None \
                or self.core.state is not TreatmentState.IDLE:
            return False
        return now_s - self._selftest_at_s >= SELFTEST_RETRY_S

    def _run_selftest(self) -> None:
        """hardware.md 8 step 1 (this thread owns the bus)."""
        self._selftest_at_s = self.clock.now_s()
        readings = self.io.selftest_readings()
        result = self.core.self_test(readings, self.clock.now_s())
        self._selftest = result
        if self.notifier is not None:
            if result.passed and not self._ready_sent:
                self._ready_sent = True
                self.notifier.ready("self-test passed; control loop running")
            elif not result.passed:
                self.notifier.status(f"self-test failed: {', '.join(result.failed_checks)}")
        if not result.passed:
            self.shutdown.trip(result.reason, "selftest", latched=True)

    # ------------------------------------------------------------------ hooks

    def _on_estop_edge(self) -> None:
        """gpiozero's callback thread: the hardware pole has cut K1's coil already; this cuts
        the rest at once, without waiting for the next cycle."""
        self.shutdown.trip(make(Code.ESTOP), "estop_gpio")

    def _on_hw_trip_edge(self) -> None:
        self.shutdown.trip(make(Code.HW_TRIP), "hw_trip_gpio")

    def _register_exit_hook(self) -> None:
        if not self._exit_hook_registered:
            atexit.register(self._on_exit)
            self._exit_hook_registered = True

    def _on_exit(self) -> None:
        """Process exit: whatever state we are in, leave the board safe."""
        self._stop_event.set()
        self.shutdown.make_safe("exit")
