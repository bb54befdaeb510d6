"""Time sources shared by the board, the chip models and the control loop.

Everything that needs "now" or "wait" takes a :class:`Clock`, so the same code runs on the wall
clock (the device, the kiosk under ``--sim``, timing benchmarks) and on a virtual clock that the
simulation advances (a 20-minute session in seconds, reproducible with a seed).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Protocol


class TimerHandle(Protocol):
    """A scheduled callback that can be cancelled."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """Monotonic time in seconds plus the ways of letting it pass."""

    @property
    def is_virtual(self) -> bool: ...

    def now_s(self) -> float:
        """Monotonic seconds; only differences are meaningful."""
        ...

    def sleep_s(self, duration_s: float) -> None:
        """Block the caller for ``duration_s`` (a virtual clock jumps forward)."""
        ...

    def sleep_until_s(self, deadline_s: float) -> None:
        """Block until ``now_s() >= deadline_s``; returns at once if it already is."""
        ...

    def elapse_s(self, duration_s: float) -> None:
        """Time consumed by work, such as an I2C transaction on the wire.

        The wall clock yields the GIL (as a real ioctl does) and returns once the duration has
        passed; a virtual clock simply advances.
        """
        ...

    def call_at(self, due_s: float, callback: Callable[[float], None],
                name: str) -> TimerHandle:
        """Call ``callback(now_s)`` once when the clock reaches ``due_s``.

        Wall clock: one scheduler thread per clock, callbacks in time order. Virtual clock:
        fired by whichever thread advances the clock.
        """
        ...

    def call_every(self, period_s: float, callback: Callable[[float], None],
                   name: str) -> TimerHandle:
        """Call ``callback(now_s)`` every ``period_s`` until cancelled.

        Wall clock: a daemon thread of its own (so it runs even when another thread is stuck).
        Virtual clock: fired by whichever thread advances the clock, in time order.
        """
        ...


class _ThreadTimer:
    def __init__(self, period_s: float, callback: Callable[[float], None], name: str,
                 clock: RealClock) -> None:
        self._stop = threading.Event()
        self._period_s = period_s
        self._callback = callback
        self._clock = clock
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        deadline_s = self._clock.now_s()
        while not self._stop.is_set():
            deadline_s += self._period_s
            delay_s = deadline_s - self._clock.now_s()
            if delay_s > 0 and self._stop.wait(delay_s):
                return
            if delay_s < -self._period_s:
                deadline_s = self._clock.now_s()  # fell behind: do not fire a burst
            self._callback(self._clock.now_s())

    def cancel(self) -> None:
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=1.0)


class _OneShot:
    """A pending :meth:`RealClock.call_at`; cancelling it before it is due skips it."""

    def __init__(self, callback: Callable[[float], None]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class _WallScheduler:
    """One-shot callbacks on the wall clock: a single thread, in time order."""

    def __init__(self, clock: RealClock) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, _OneShot]] = []
        self._seq = itertools.count()
        self._condition = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="wall-clock-timers", daemon=True)
        self._thread.start()

    def call_at(self, due_s: float, callback: Callable[[float], None]) -> _OneShot:
        timer = _OneShot(callback)
        with self._condition:
            heapq.heappush(self._heap, (due_s, next(self._seq), timer))
            self._condition.notify()
        return timer

    def _run(self) -> None:
        while True:
            with self._condition:
                while True:
                    if self._heap:
                        delay_s = self._heap[0][0] - self._clock.now_s()
                        if delay_s <= 0:
                            break
                        self._condition.wait(delay_s)
                    else:
                        self._condition.wait()
                _, _, timer = heapq.heappop(self._heap)
            if not timer.cancelled:
                timer.callback(self._clock.now_s())


class RealClock:
    """The wall clock: ``time.monotonic`` and real sleeps."""

    is_virtual = False

    def __init__(self) -> None:
        self._scheduler: _WallScheduler | None = None
        self._scheduler_lock = threading.Lock()

    def now_s(self) -> float:
        return time.monotonic()

    def sleep_s(self, duration_s: float) -> None:
        if duration_s > 0:
            time.sleep(duration_s)

    def sleep_until_s(self, deadline_s: float) -> None:
        delay_s = deadline_s - time.monotonic()
        if delay_s > 0:
            time.sleep(delay_s)

    def elapse_s(self, duration_s: float) -> None:
        end_s = time.monotonic() + duration_s
        time.sleep(0)  # yield the GIL, as the i2c-dev ioctl does
        while time.monotonic() < end_s:
            time.sleep(0)

    def call_at(self, due_s: float, callback: Callable[[float], None],
                name: str) -> TimerHandle:
        with self._scheduler_lock:
            if self._scheduler is None:
                self._scheduler = _WallScheduler(self)
        return self._scheduler.call_at(due_s, callback)

    def call_every(self, period_s: float, callback: Callable[[float], None],
                   name: str) -> TimerHandle:
        return _ThreadTimer(period_s, callback, name, self)
