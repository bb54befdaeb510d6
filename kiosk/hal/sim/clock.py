"""A virtual clock that the simulation advances.

Time moves only when someone sleeps or consumes time (an I2C transaction, a conversion wait), so
a run is reproducible and a 20-minute session takes seconds. Periodic callbacks (the supervisor,
scheduled scenario events) fire in time order from whichever thread advances the clock.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field


class SimulationEnded(BaseException):  # not an error: the end of simulated time
    """Raised from a clock advance past ``end_s``.

    A BaseException so that ``except Exception`` in the code under test does not swallow it; it
    unwinds even a driver stuck in a busy-poll (whose every poll advances the clock).
    """


@dataclass(order=True)
class _Timer:
    due_s: float
    seq: int
    period_s: float | None = field(compare=False)
    callback: Callable[[float], None] = field(compare=False)
    name: str = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """Simulated monotonic time, starting at ``start_s``."""

    is_virtual = True

    def __init__(self, start_s: float = 0.0, end_s: float | None = None) -> None:
        self._now_s = start_s
        self.end_s = end_s
        self._timers: list[_Timer] = []
        self._seq = itertools.count()
        self._lock = threading.RLock()
        self._firing = False

    def now_s(self) -> float:
        return self._now_s

    def sleep_s(self, duration_s: float) -> None:
        if duration_s > 0:
            self.advance_to(self._now_s + duration_s)

    def sleep_until_s(self, deadline_s: float) -> None:
        if deadline_s > self._now_s:
            self.advance_to(deadline_s)

    def elapse_s(self, duration_s: float) -> None:
        self.sleep_s(duration_s)

    def call_at(self, due_s: float, callback: Callable[[float], None], name: str) -> _Timer:
        """Call ``callback(now_s)`` once when the clock reaches ``due_s``."""
        with self._lock:
            timer = _Timer(due_s, next(self._seq), None, callback, name)
            heapq.heappush(self._timers, timer)
            return timer

    def call_every(self, period_s: float, callback: Callable[[float], None],
                   name: str) -> _Timer:
        with self._lock:
            timer = _Timer(self._now_s + period_s, next(self._seq), period_s, callback, name)
            heapq.heappush(self._timers, timer)
            return timer

    def advance_to(self, target_s: float) -> None:
        """Move time to ``target_s``, firing due timers in order on the way.

        A callback sees ``now_s()`` equal to its own due time. Callbacks must not sleep; time
        advanced inside a callback is ignored by the outer advance (it continues from there).
        """
        with self._lock:
            end_s = self.end_s
            limit_s = target_s if end_s is None else min(target_s, end_s)
            if not self._firing:
                self._firing = True
                try:
                    while self._timers and self._timers[0].due_s <= limit_s:
                        timer = heapq.heappop(self._timers)
                        if timer.cancelled:
                            continue
                        self._now_s = max(self._now_s, timer.due_s)
                        if timer.period_s is not None:
                            timer.due_s += timer.period_s
                            timer.seq = next(self._seq)
                            heapq.heappush(self._timers, timer)
                        timer.callback(self._now_s)
                finally:
                    self._firing = False
            self._now_s = max(self._now_s, limit_s)
            if end_s is not None and target_s > end_s:
                raise SimulationEnded(f"simulated time reached its end at {end_s:.3f} s")
