"""The control thread: a fixed 10 ms cycle around the pure core, sole owner of the bus.

Each cycle, in this order:

1. hand the shutdown path's latched trips (E-stop edge, HW trip, supervisor, ...) to the core;
2. take the commands that arrived (a queue: ``submit`` never blocks the UI);
3. read the board: AIN0 (shunt current) and AIN1 (electrode voltage) every cycle, AIN2 (boost)
   and AIN3 (DAC readback) on the cycles the core asks for; the E-stop loop and the trip latch;
4. ``core.step(now, measurements, commands)``;
5. apply the actuation (relay first when opening; K1 last when closing), and when the core has
   just latched a fault, run the one shutdown path as well;
6. publish the snapshot (an atomic reference swap), post the cycle's events to the records;
7. stamp the supervisor's liveness; if the cycle was healthy, toggle the heartbeat (GPIO5) and,
   while the device is trusted (``Snapshot.healthy``), ping the systemd watchdog.

Timing: deadlines on the monotonic clock at ``t0 + k x period`` (no drift: the next deadline is
computed from the previous deadline, never from "now"). A cycle that starts more than one period
after its deadline is an OVERRUN; the deadlines then skip to the next grid point (no burst of
catch-up cycles). While the output is enabled, an overrun later than ``LoopTiming.
fault_lateness_s`` (two periods) or ``fault_overruns_in_row`` (three) overruns in a row trips
the shutdown path with ``loop_overrun``: the regulator and every monitor assume a sample every
10 ms. With the output off an overrun is only counted (the board is already safe).

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
import contextlib
import logging
import math
import queue
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from kiosk.control.codes import Reason
from kiosk.control.commands import Command, Heartbeat, Stop, StopReason
from kiosk.control.core import ControlCore, SelfTestReadings, SelfTestResult
from kiosk.control.cycle import Actuation, CycleResult, Measurements
from kiosk.control.reasons import Code, Kind, make, spec_of
from kiosk.control.shutdown import ShutdownPath
from kiosk.control.snapshot import FaultInfo, Snapshot, TreatmentState
from kiosk.control.supervisor import Supervisor, raise_thread_priority
from kiosk.hal.board import Board
from kiosk.hal.errors import HalError
from kiosk.records.events import LogEvent

_log = logging.getLogger(__name__)

PERIOD_S = 0.010
RELAY_SETTLE_S = 0.010  # hardware.md 8: 10 ms after any coil change
MAX_COMMANDS_PER_CYCLE = 64
STATS_WINDOW = 60_000  # 10 minutes of periods at 100 Hz
SELFTEST_RETRY_S = 1.0
GIL_SWITCH_INTERVAL_S = 0.001
CONTROL_FIFO_PRIORITY = 50  # below the supervisor's: the watcher must preempt the watched
STOP_GRACE_S = 3.0  # Stop(SHUTDOWN) reaches zero within 2 s (domain.md 6)
CURRENT_STATES = frozenset({TreatmentState.CONTACT_CHECK, TreatmentState.RAMP_UP,
                            TreatmentState.HOLD, TreatmentState.RAMP_DOWN})
"""States in which the output may be enabled (the contact check drives a test current)."""


class EventSink(Protocol):
    """Where the cycle's events go (``kiosk.records.RecordWriter``); ``post`` never blocks."""

    def post(self, event: LogEvent) -> bool: ...


def storage_healthy(records: object) -> bool:
    """The records writer's ``healthy`` (SR-042: no new treatment while storage fails). A sink
    without the attribute (a test double, no records at all) counts as healthy; an attribute
    that cannot be read counts as a failed storage (any doubt refuses a new treatment)."""
    if records is None:
        return True
    try:
        return bool(getattr(records, "healthy", True))
    except Exception:
        return False


class Notifier(Protocol):
    """``kiosk.control.watchdog.SystemdWatchdog`` (or nothing)."""

    def ready(self, status: str) -> None: ...

    def status(self, text: str) -> None: ...

    def healthy_cycle(self, now_s: float) -> bool: ...


@dataclass(frozen=True)
class LoopTiming:
    """The loop's period and when lateness becomes a fault."""

    period_s: float = PERIOD_S
    fault_lateness_s: float = 2 * PERIOD_S
    fault_overruns_in_row: int = 3
    stall_timeout_s: float = 0.050  # supervisor
    supervisor_check_s: float = 0.002

    def __post_init__(self) -> None:
        if not 0.001 <= self.period_s <= 0.1:
            raise ValueError(f"period_s must be 1..100 ms, got {self.period_s}")
        if self.fault_lateness_s < self.period_s:
            raise ValueError("fault_lateness_s must be at least one period")
        if self.fault_overruns_in_row < 1:
            raise ValueError("fault_overruns_in_row must be >= 1")


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


class LoopStats:
    """Cycle-start periods and lateness over the last ``STATS_WINDOW`` cycles."""

    def __init__(self, window: int = STATS_WINDOW) -> None:
        self.periods_s: deque[float] = deque(maxlen=window)
        self.lateness_s: deque[float] = deque(maxlen=window)
        self.cycles = 0
        self.overruns = 0
        self.unhealthy_cycles = 0
        self.i2c_errors = 0
        self.exceptions = 0
        self._last_start_s: float | None = None

    def note(self, started_s: float, lateness_s: float) -> None:
        if self._last_start_s is not None:
            self.periods_s.append(started_s - self._last_start_s)
        self._last_start_s = started_s
        self.lateness_s.append(lateness_s)
        self.cycles += 1

    def summary(self) -> dict[str, float | int]:
        """``period_ms_p50``/``p99``/``max``, ``lateness_ms_p99``/``max`` and counters."""
        periods = sorted(self.periods_s)
        lateness = sorted(self.lateness_s)
        return {
            "cycles": self.cycles,
            "period_ms_p50": _percentile(periods, 0.50) * 1000,
            "period_ms_p99": _percentile(periods, 0.99) * 1000,
            "period_ms_max": (periods[-1] if periods else 0.0) * 1000,
            "lateness_ms_p99": _percentile(lateness, 0.99) * 1000,
            "lateness_ms_max": (lateness[-1] if lateness else 0.0) * 1000,
            "overruns": self.overruns,
            "unhealthy_cycles": self.unhealthy_cycles,
            "i2c_errors": self.i2c_errors,
            "exceptions": self.exceptions,
        }


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return ordered[index]


class ControlLoop:
    """The shell around :class:`ControlCore`: thread, board I/O, shutdown path, supervisor."""

    def __init__(self, board: Board, core: ControlCore, *, period_s: float = PERIOD_S,
                 records: EventSink | None = None, notifier: Notifier | None = None,
                 timing: LoopTiming | None = None,
                 make_event: Callable[[Reason, Snapshot], LogEvent] | None = None) -> None:
        self.board = board
        self.core = core
        core.watch_frozen_readings()  # every board's ADC is noisy: a frozen reading is a fault
        self.clock = board.clock
        self.timing = timing if timing is not None else LoopTiming(
            period_s=period_s, fault_lateness_s=2 * period_s)
        self.records = records
        self.notifier = notifier
        self._make_event = make_event if make_event is not None else _log_event
        self.shutdown = ShutdownPath.for_board(board, self.clock)
        self.supervisor = Supervisor(self.clock, self.shutdown,
                                     stall_timeout_s=self.timing.stall_timeout_s,
                                     check_period_s=self.timing.supervisor_check_s)
        self.supervisor.on_trip = self._publish_supervisor_trip
        self.stats = LoopStats()
        self._commands: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self._snapshot: Snapshot = core.snapshot
        self._observers: list[CycleObserver] = []
        self._cycle_index = 0
        self._grid_t0_s: float | None = None  # deadlines are t0 + k x period, k an integer:
        self._grid_k = 0  # no float accumulation, no drift
        self._overruns_in_row = 0
        self._read_aux = True
        self._last_measurements: Measurements | None = None
        self._i2c_failing = False
        self._bus_error_this_cycle = False
        self._k1_commanded_closed = False
        self._k1_opened_at_s: float = -math.inf
        self._dac_ma_written = 0.0
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

    def submit(self, command: Command) -> None:
        """Queue a command for the next cycle; never blocks, any thread."""
        self._commands.put(command)

    @property
    def snapshot(self) -> Snapshot:
        """The latest published snapshot (immutable; replaced each cycle)."""
        return self._snapshot

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
        if self._snapshot.state in CURRENT_STATES:
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
        while self.clock.now_s() < deadline_s and self._snapshot.state in CURRENT_STATES:
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
        deadline_s = self._next_deadline()
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
        while self._peek_deadline() < end_s:
            deadline_s = self._next_deadline()
            self.clock.sleep_until_s(deadline_s)
            self.run_cycle(deadline_s)
        self.clock.sleep_until_s(end_s)

    def _run_until_idle(self, grace_s: float) -> None:
        end_s = self.clock.now_s() + grace_s
        while self.clock.now_s() < end_s and self._snapshot.state in CURRENT_STATES:
            self.submit(Heartbeat())  # as in _wait_until_idle
            self.run_for(self.timing.period_s)

    def _peek_deadline(self) -> float:
        if self._grid_t0_s is None:
            return self.clock.now_s()
        return self._grid_t0_s + self._grid_k * self.timing.period_s

    def _next_deadline(self) -> float:
        """Take the next deadline on the grid ``t0 + k x period`` (no drift). When whole
        periods were missed, that late cycle runs at once (and counts as an overrun against
        the deadline it missed), and the grid resumes at the next point after now: no burst of
        catch-up cycles."""
        period_s = self.timing.period_s
        now_s = self.clock.now_s()
        if self._grid_t0_s is None:
            self._grid_t0_s, self._grid_k = now_s, 0
        deadline_s = self._peek_deadline()
        if now_s - deadline_s > period_s:
            self._grid_k += math.floor((now_s - deadline_s) / period_s) + 1
        else:
            self._grid_k += 1
        return deadline_s

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
        measurements = self._last_measurements or self._rest_measurements(started_s)
        actuation = self.core.last_actuation
        dac_code: int | None = None
        events: tuple[Reason, ...] = ()
        try:
            self._bus_error_this_cycle = False
            if self._selftest_due(started_s):
                self._run_selftest()
            commands = self._take_commands()
            measurements, read_ok = self._measure()
            healthy = healthy and read_ok
            self._deliver_trips()  # just before the step: nothing decided on a stale view
            previous_fault = self.core.fault
            result = self.core.step(self.clock.now_s(), measurements, commands)
            actuation = result.actuation
            self._read_aux = result.read_aux_next
            if result.snapshot.fault is not None and previous_fault is None:
                self.shutdown.trip(result.snapshot.fault.reason, "core", latched=True)
            dac_code, apply_ok = self._apply(actuation)
            healthy = healthy and apply_ok
            if actuation.hw_trip_reset:
                self.board.hw_trip.reset_pulse(self.clock)
            events = self._take_events(result)
        except Exception as error:
            healthy = False
            self.stats.exceptions += 1
            reason = make(Code.INTERNAL_ERROR, what=f"{type(error).__name__}: {error}"[:200])
            self.shutdown.trip(reason, "control_loop")
            with contextlib.suppress(Exception):
                self._deliver_trips()
            _log.exception("control cycle failed; output cut")
        self._i2c_failing = self._bus_error_this_cycle
        loop_ok = healthy and not self.shutdown.pending  # on time, no exception, bus fine
        snapshot = self.core.snapshot
        if snapshot.healthy and not loop_ok and self._loop_in_doubt():
            snapshot = replace(snapshot, healthy=False)
        pending = self.shutdown.pending_reason()
        if pending is not None and snapshot.fault is None:  # tripped during this cycle
            snapshot = replace(snapshot, state=TreatmentState.FAULT,
                               fault=FaultInfo(pending.reason, pending.at_s), setpoint_ma=0.0,
                               output_enabled=False, healthy=False, step="")
        self._snapshot = snapshot
        # Heartbeat: only while nothing is latched (in a fault the monostable also holds K1
        # and the boost off in hardware). systemd watchdog: only while the device itself is
        # trusted (Snapshot.healthy: a device fault such as i2c_error or loop_stall stops the
        # pings and systemd restarts the service into the safe state; a patient fault such as
        # contact_lost does not).
        healthy = loop_ok and self.core.fault is None
        if healthy:
            self.board.heartbeat.toggle()
        else:
            self.stats.unhealthy_cycles += 1
        if loop_ok and snapshot.healthy and self.notifier is not None:
            self.notifier.healthy_cycle(started_s)
        finished_s = self.clock.now_s()
        self.supervisor.cycle_completed(finished_s)
        record = CycleRecord(self._cycle_index, deadline_s, started_s, finished_s, measurements,
                             actuation, dac_code, snapshot, events, healthy, overrun)
        self._post(record)
        for observer in self._observers:
            observer(record)
        return record

    def _loop_in_doubt(self) -> bool:
        """The snapshot's ``healthy`` says the device can be trusted: not while the loop runs
        late or the bus fails (a patient fault such as contact loss does not count)."""
        return self._overruns_in_row > 0 or self._i2c_failing or self.shutdown.pending

    def _judge_overrun(self, lateness_s: float) -> None:
        if not self._k1_commanded_closed and self.core.state not in CURRENT_STATES:
            return  # the board is safe already; counted in the stats only
        if lateness_s > self.timing.fault_lateness_s \
                or self._overruns_in_row >= self.timing.fault_overruns_in_row:
            self.shutdown.trip(make(Code.LOOP_OVERRUN), "control_loop")

    def _deliver_trips(self) -> None:
        for trip in self.shutdown.take_pending():
            self.core.latch_fault(trip.reason, trip.at_s)  # when it happened, not when told

    def _take_commands(self) -> list[Command]:
        commands: list[Command] = []
        for _ in range(MAX_COMMANDS_PER_CYCLE):
            try:
                commands.append(self._commands.get_nowait())
            except queue.Empty:
                break
        return commands

    # ------------------------------------------------------------------ board I/O

    def _rest_measurements(self, now_s: float) -> Measurements:
        return Measurements(sample_time_s=now_s, current_ma=0.0, electrode_v=0.0,
                            estop_intact=self.board.estop.is_intact,
                            hw_trip_ok=not self.board.hw_trip.is_tripped)

    def _measure(self) -> tuple[Measurements, bool]:
        """This cycle's readings; on a bus error the last good ones with their old time (the
        core judges them stale after 100 ms) and the shutdown path tripped once."""
        board = self.board
        estop_intact = board.estop.is_intact
        hw_trip_ok = not board.hw_trip.is_tripped
        polarity = board.polarity_relay.is_reversed
        storage_ok = storage_healthy(self.records)
        try:
            current_ma = board.adc.read_current_ma()
            sample_time_s = self.clock.now_s()
            electrode_v = board.adc.read_electrode_v()
            boost_v = readback_ma = None
            if self._read_aux:
                boost_v = board.adc.read_boost_v()
                readback_ma = board.adc.read_setpoint_readback_ma()
        except HalError as error:
            self._i2c_fault(error)
            last = self._last_measurements or self._rest_measurements(self.clock.now_s())
            return replace(last, estop_intact=estop_intact, hw_trip_ok=hw_trip_ok,
                           boost_v=None, setpoint_readback_ma=None,
                           polarity_reversed_readback=polarity, storage_ok=storage_ok), False
        measurements = Measurements(
            sample_time_s=sample_time_s, current_ma=current_ma, electrode_v=electrode_v,
            estop_intact=estop_intact, hw_trip_ok=hw_trip_ok, boost_v=boost_v,
            setpoint_readback_ma=readback_ma, polarity_reversed_readback=polarity,
            storage_ok=storage_ok)
        self._last_measurements = measurements
        return measurements, True

    def _i2c_fault(self, error: HalError) -> None:
        """Trip once per episode of bus errors (cycles in a row with one); the core holds the
        fault after that, and a dead chip must not flood the log at 100 Hz."""
        self.stats.i2c_errors += 1
        self._bus_error_this_cycle = True
        if not self._i2c_failing:
            self._i2c_failing = True
            self.shutdown.trip(make(Code.I2C_ERROR), "control_loop")
            self._deliver_trips()
            _log.error("I2C error, output cut: %s", error)

    def _apply(self, a: Actuation) -> tuple[int | None, bool]:
        """Apply ``a``: opening K1 first, closing it last; nothing energised while a trip is
        pending, and a trip that slips in while applying is re-applied at once."""
        board = self.board
        blocked = self.shutdown.pending
        if blocked:
            a = Actuation(dac_ma=0.0, output_relay_closed=False,
                          polarity_reversed=board.polarity_relay.is_reversed, boost_on=False,
                          buzzer_on=True, heartbeat_ok=False)
        now_s = self.clock.now_s()
        ok = True
        if not a.output_relay_closed:
            board.output_relay.open()
            if self._k1_commanded_closed:
                self._k1_opened_at_s = now_s
            self._k1_commanded_closed = False
        dac_code: int | None = None
        try:
            dac_code = board.dac.set_current_ma(a.dac_ma)
            self._dac_ma_written = a.dac_ma
        except HalError as error:
            ok = False
            self._i2c_fault(error)
        if a.boost_on:
            board.boost.enable()
        else:
            board.boost.disable()
        self._apply_polarity(a.polarity_reversed, now_s)
        if a.buzzer_on:
            board.buzzer.on()
        else:
            board.buzzer.off()
        if a.output_relay_closed and ok and not self.shutdown.pending:
            board.output_relay.close()
            self._k1_commanded_closed = True
        if self.shutdown.pending and not blocked:  # a trip arrived while applying
            board.output_relay.open()
            self._k1_commanded_closed = False
            board.boost.disable()
            with contextlib.suppress(HalError):
                board.dac.zero()
        return dac_code, ok

    def _apply_polarity(self, reversed_polarity: bool, now_s: float) -> None:
        """K2 only moves dry: K1 commanded open for at least the relay settle time (second line
        behind the core's own sequencing)."""
        relay = self.board.polarity_relay
        if relay.is_reversed == reversed_polarity:
            return
        if self._k1_commanded_closed or now_s - self._k1_opened_at_s < RELAY_SETTLE_S:
            return
        relay.set_reversed(reversed_polarity)

    # ------------------------------------------------------------------ self-test

    def _selftest_due(self, now_s: float) -> bool:
        """On the first cycle; after a failure again every ``SELFTEST_RETRY_S`` once the fault
        is acknowledged and the board rests in idle (an E-stop pressed at power-up, released
        and acknowledged, must not need a reboot)."""
        result = self._selftest
        if result is None:
            return True
        if result.passed or self.core.fault is not None \
                or self.core.state is not TreatmentState.IDLE:
            return False
        return now_s - self._selftest_at_s >= SELFTEST_RETRY_S

    def _run_selftest(self) -> None:
        """hardware.md 8 step 1 (this thread owns the bus)."""
        board = self.board
        self._selftest_at_s = self.clock.now_s()
        board.output_relay.open()
        board.boost.disable()
        dac_answers = adc_answers = True
        eeprom_pd: int | None = None
        eeprom_code: int | None = None
        current_ma: float | None = None
        electrode_v: float | None = None
        try:
            board.dac.zero()
            status = board.dac.read_status()
            eeprom_pd, eeprom_code = status.eeprom_pd, status.eeprom_code
        except HalError:
            dac_answers = False
        try:
            current_ma = board.adc.read_current_ma()
            electrode_v = board.adc.read_electrode_v()
        except HalError:
            adc_answers = False
        readings = SelfTestReadings(
            dac_answers=dac_answers, adc_answers=adc_answers, dac_eeprom_power_down=eeprom_pd,
            dac_eeprom_code=eeprom_code, hw_trip_ok=not board.hw_trip.is_tripped,
            estop_intact=board.estop.is_intact, current_ma=current_ma, electrode_v=electrode_v)
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

    # ------------------------------------------------------------------ events and hooks

    def _take_events(self, result: CycleResult) -> tuple[Reason, ...]:
        failures = self.shutdown.take_failures()
        if not failures:
            return result.events
        extra = tuple(Reason(f"shutdown_step_failed.{f.step}", f"Shutdown step {f.step} failed "
                             f"({f.source}): {f.error}", spec_of(Code.I2C_ERROR).severity)
                      for f in failures)
        return result.events + extra

    def _post(self, record: CycleRecord) -> None:
        if self.records is None or not record.events:
            return
        for reason in record.events:
            try:
                self.records.post(self._make_event(reason, record.snapshot))
            except Exception:  # the log must never take the control loop down
                _log.exception("posting a control event failed")

    def _publish_supervisor_trip(self, reason: Reason, at_s: float) -> None:
        """The loop is stuck, so its snapshot is frozen at whatever it last showed (maybe
        "hold"): publish the fault from the supervisor's thread so the screen shows it now. When
        the loop comes back it publishes the core's own snapshot, with this fault latched."""
        last = self._snapshot
        self._snapshot = replace(last, time_s=at_s, state=TreatmentState.FAULT,
                                 fault=last.fault or FaultInfo(reason, at_s), setpoint_ma=0.0,
                                 output_enabled=False, healthy=False, step="")

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


def _log_event(reason: Reason, snapshot: Snapshot) -> LogEvent:
    try:
        kind = spec_of(reason.code).kind
    except (KeyError, ValueError):
        kind = Kind.FAULT if reason.severity == "high" else Kind.DECISION
    details: dict[str, object] = dict(reason.details)
    details["control_time_s"] = round(snapshot.time_s, 6)
    details["state"] = str(snapshot.state)
    # Issue 12 item 5: the dose progress (and the session's end) must survive a crash; they
    # name their own session (the snapshot's is already gone after EndSession).
    named = reason.detail("session_id")
    session_id = named if isinstance(named, str) else snapshot.session_id
    durable = kind is Kind.FAULT or reason.code in (Code.DOSE_PROGRESS, Code.SESSION_ENDED)
    return LogEvent(code=reason.code, reason=reason.text, severity=str(reason.severity),
                    details=details, session_id=session_id, durable=durable)
