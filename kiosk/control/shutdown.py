"""The one shutdown path: every way of cutting the current goes through here (Klipper's idea).

Why one path: a device with several ways of "turning off" ends up with one that forgets a step.
Here every trigger calls :meth:`ShutdownPath.trip` and the same steps run in the same order,
the order of hardware.md section 8 (fault stop):

1. ``output_relay_open``: K1 de-energised by one GPIO write. No I2C, no lock of ours: it works
   while the control thread is stuck inside an I2C transaction or a driver's busy-poll.
2. ``heartbeat_stop`` (only when asked, by the supervisor): the GPIO5 heartbeat parks low, so the
   external monostable also drops K1 and BOOST_EN in hardware ~100 ms later, whatever software
   does next.
3. ``dac_zero``: a fast write of code 0 through :meth:`SetpointDac.zero`, which uses its own
   immutable buffer (the Adafruit driver's class-level buffer is not thread-safe, hardware.md 3)
   and waits a bounded time for the bus lock: from another thread it never spins forever on a bus
   the control thread holds. Bus errors are ignored here: the relay is already open, and the
   control thread writes zero again on its next cycle once the core has latched the fault.
4. ``boost_off``: BOOST_EN low (GPIO).
5. ``buzzer_on``: the audible alarm (GPIO); the core's actuation keeps or silences it later.

Every step runs even when an earlier one raised. A ``BaseException`` that is not an ``Exception``
(``SimulationEnded``, ``KeyboardInterrupt``) is re-raised only after the remaining steps ran.

Threads: callable from any thread at any time, concurrently (control thread, gpiozero's
callback thread for the E-stop and the hardware trip, the supervisor thread, atexit/SIGTERM).
The internal lock guards only a few list operations and is never held across a GPIO or I2C
call. The steps are idempotent, so two triggers at once simply run them twice.

The latch: :meth:`trip` records the reason BEFORE it touches the hardware and :attr:`pending`
turns True at once. The control thread calls :meth:`take_pending` at the start of each cycle
and hands the reasons to the core (``ControlCore.latch_fault``); from then on the core's
latched fault state keeps the output safe until a person acknowledges it. Before energising
anything the control thread checks :attr:`pending`, and checks it again right after, opening
K1 once more if a trip slipped in between (see ``ControlLoop``): a trip can never be overwritten
by a cycle that was computed before it.

The fault state has one owner, the core: a trip reaches it only as an input
(``ControlCore.latch_fault``). Until the core's own snapshot shows it, the trip is still visible
to readers: each trip handed to the core carries a ``serial`` (1, 2, ...), and
:meth:`first_trip_after` answers "which trip has the published snapshot not seen yet?" (the loop
shows it over its last snapshot: a stuck loop's fault reaches the screen at once without anyone
but the core writing a fault snapshot).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from kiosk.control.codes import Reason
from kiosk.hal.clock import Clock

HISTORY_LENGTH = 64

Action = Callable[[], None]


class ShutdownBoard(Protocol):
    """The parts of :class:`kiosk.hal.board.Board` the shutdown path drives."""

    @property
    def output_relay(self) -> _Opens: ...

    @property
    def dac(self) -> _Zeroes: ...

    @property
    def boost(self) -> _Disables: ...

    @property
    def heartbeat(self) -> _Stops: ...

    @property
    def buzzer(self) -> _Sounds: ...


class _Opens(Protocol):
    def open(self) -> None: ...


class _Zeroes(Protocol):
    def zero(self) -> None: ...


class _Disables(Protocol):
    def disable(self) -> None: ...


class _Stops(Protocol):
    def stop(self) -> None: ...


class _Sounds(Protocol):
    def on(self) -> None: ...


@dataclass(frozen=True, slots=True)
class TripRequest:
    """A latched reason waiting for the core: what, from where, when (board clock seconds)."""

    reason: Reason
    source: str  # "control_loop", "estop_gpio", "hw_trip_gpio", "supervisor", "exit", ...
    at_s: float
    serial: int = 0  # 1, 2, ... for trips handed to the core; 0 for one the core latched itself


@dataclass(frozen=True, slots=True)
class StepFailure:
    """One shutdown step that raised; the other steps still ran."""

    step: str
    error: str
    source: str
    at_s: float


@dataclass(frozen=True, slots=True)
class ShutdownRun:
    """What one run of the steps did: which steps failed and how long the run took."""

    source: str
    started_s: float
    finished_s: float
    failures: tuple[StepFailure, ...]

    @property
    def ok(self) -> bool:
        return not self.failures


class ShutdownPath:
    """The steps to the safe state, plus the latch the control thread hands to the core."""

    def __init__(self, clock: Clock, *, open_output_relay: Action, zero_dac: Action,
                 disable_boost: Action, stop_heartbeat: Action, sound_alarm: Action,
                 bus_free: Callable[[], bool] | None = None) -> None:
        self._clock = clock
        self._bus_free = bus_free
        self._open_output_relay = open_output_relay
        self._zero_dac = zero_dac
        self._disable_boost = disable_boost
        self._stop_heartbeat = stop_heartbeat
        self._sound_alarm = sound_alarm
        self._lock = threading.Lock()  # a few list operations only; never across I/O
        self._pending: list[TripRequest] = []
        self._failures: list[StepFailure] = []
        self._history: deque[TripRequest] = deque(maxlen=HISTORY_LENGTH)
        self._runs: deque[ShutdownRun] = deque(maxlen=HISTORY_LENGTH)
        self._trip_count = 0
        self._serial = 0  # of the newest trip handed to the core
        self._heartbeat_stopped = False

    @classmethod
    def for_board(cls, board: ShutdownBoard, clock: Clock) -> ShutdownPath:
        """The shutdown path of a HAL board (real or simulated: the same HAL classes)."""
        i2c = getattr(board, "i2c", None)

        def bus_free() -> bool:
            if i2c is None or not i2c.try_lock():
                return False
            i2c.unlock()
            return True

        return cls(clock, open_output_relay=board.output_relay.open, zero_dac=board.dac.zero,
                   disable_boost=board.boost.disable, stop_heartbeat=board.heartbeat.stop,
                   sound_alarm=board.buzzer.on, bus_free=bus_free)

    # ------------------------------------------------------------------ triggers

    def trip(self, reason: Reason, source: str, *, stop_heartbeat: bool = False,
             latched: bool = False) -> ShutdownRun:
        """Latch ``reason`` and run every step to the safe state. Any thread, any time.

        ``stop_heartbeat`` also parks the heartbeat line (the supervisor's trip: the control
        thread is not trusted to stop toggling it), so the hardware monostable drops K1 too.
        ``latched``: the core has latched this fault itself (it detected it); the steps run and
        the trip is recorded, but nothing is handed to the core again.
        """
        at_s = self._clock.now_s()
        with self._lock:  # visible before any hardware step: the control thread sees it
            if latched:
                request = TripRequest(reason, source, at_s)
            else:
                request = TripRequest(reason, source, at_s, self._serial + 1)
                self._pending.append(request)
                self._serial = request.serial
            self._history.append(request)
            self._trip_count += 1
            if stop_heartbeat:
                self._heartbeat_stopped = True
        return self._run_steps(source, stop_heartbeat=stop_heartbeat)

    def make_safe(self, source: str) -> ShutdownRun:
        """Run the steps without latching a fault: process exit, a controller being closed.

        After this nothing is left that could acknowledge a fault, so there is nothing to latch;
        the board is simply left in the safe state (K1 open, DAC zero, boost off).
        """
        return self._run_steps(source, stop_heartbeat=True, alarm=False)

    def retry_dac_zero(self) -> bool:
        """One more attempt at the DAC step, only when the bus is free right now (the
        supervisor repeats it while the loop stays stuck: a thread hogging the bus between polls
        can make the first attempt miss). Never waits: a stalled bus is skipped at once. True
        when the write went through."""
        if self._bus_free is not None and not self._bus_free():
            return False
        try:
            self._zero_dac()
        except Exception:
            return False
        return True

    # ------------------------------------------------------------------ the control thread's side

    @property
    def pending(self) -> bool:
        """A trip happened that the core has not been told about yet: energise nothing."""
        return bool(self._pending)

    def pending_reason(self) -> TripRequest | None:
        """The oldest trip not yet handed to the core, or None."""
        with self._lock:
            return self._pending[0] if self._pending else None

    @property
    def last_serial(self) -> int:
        """The serial of the newest trip handed to the core (0: none yet)."""
        return self._serial

    def first_trip_after(self, serial: int) -> TripRequest | None:
        """The oldest trip for the core with a serial above ``serial`` (None: none), whether
        it is still pending or already taken. Cheap when there is none (no lock)."""
        if self._serial <= serial:
            return None
        with self._lock:
            newer = [t for t in self._history if t.serial > serial]
            if newer:
                return newer[0]
            return self._pending[0] if self._pending else None

    @property
    def heartbeat_stopped(self) -> bool:
        """The supervisor parked the heartbeat; the loop toggles it again only after the core
        latched the fault (:meth:`take_pending`)."""
        return self._heartbeat_stopped

    def take_pending(self) -> list[TripRequest]:
        """The trips not yet handed to the core, oldest first; the caller latches them."""
        with self._lock:
            taken, self._pending = self._pending, []
            if taken:
                self._heartbeat_stopped = False
            return taken

    def take_failures(self) -> list[StepFailure]:
        """Steps that raised since the last call (for the event log)."""
        with self._lock:
            taken, self._failures = self._failures, []
            return taken

    @property
    def trip_count(self) -> int:
        return self._trip_count

    @property
    def history(self) -> tuple[TripRequest, ...]:
        """The last trips (bounded), oldest first."""
        with self._lock:
            return tuple(self._history)

    @property
    def runs(self) -> tuple[ShutdownRun, ...]:
        """The last runs of the steps (bounded), oldest first, with their failures."""
        with self._lock:
            return tuple(self._runs)

    # ------------------------------------------------------------------ the steps

    def _run_steps(self, source: str, *, stop_heartbeat: bool, alarm: bool = True) -> ShutdownRun:
        steps: list[tuple[str, Action]] = [("output_relay_open", self._open_output_relay)]
        if stop_heartbeat:
            steps.append(("heartbeat_stop", self._stop_heartbeat))
        steps += [("dac_zero", self._zero_dac), ("boost_off", self._disable_boost)]
        if alarm:
            steps.append(("buzzer_on", self._sound_alarm))
        started_s = self._clock.now_s()
        failures, escaping = _run_all(steps, source, self._clock)
        run = ShutdownRun(source, started_s, self._clock.now_s(), tuple(failures))
        with self._lock:
            self._failures.extend(failures)
            self._runs.append(run)
        if escaping is not None:
            raise escaping
        return run


def _run_all(steps: Sequence[tuple[str, Action]], source: str,
             clock: Clock) -> tuple[list[StepFailure], BaseException | None]:
    """Run every step; collect the failures; keep the first non-Exception to re-raise."""
    failures: list[StepFailure] = []
    escaping: BaseException | None = None
    for name, action in steps:
        try:
            action()
        except BaseException as error:  # every step must run; see module doc
            try:
                at_s = clock.now_s()
            except BaseException:  # a broken clock must not stop the steps
                at_s = float("nan")
            failures.append(StepFailure(name, f"{type(error).__name__}: {error}", source, at_s))
            if not isinstance(error, Exception) and escaping is None:
                escaping = error
    return failures, escaping
