"""The control loop's timing: its period, the deadline grid and the period/lateness statistics.

Deadlines lie on the monotonic clock at ``t0 + k x period`` with ``k`` an integer (no drift: no
float accumulation, the next deadline is never computed from "now"). A cycle that starts more
than one period after its deadline is an OVERRUN; the grid then skips to the next point after now
(no burst of catch-up cycles). When lateness becomes a fault is :class:`LoopTiming`'s to say and
the loop's to judge (only while the output may be enabled).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

PERIOD_S = 0.010
STATS_WINDOW = 60_000  # 10 minutes of periods at 100 Hz


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


class DeadlineGrid:
    """Deadlines at ``t0 + k x period``; ``t0`` is the time of the first :meth:`take`."""

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self._t0_s: float | None = None
        self._k = 0

    def peek(self, now_s: float) -> float:
        """The next deadline, without taking it (``now_s`` before the first one)."""
        if self._t0_s is None:
            return now_s
        return self._t0_s + self._k * self.period_s

    def take(self, now_s: float) -> float:
        """Take the next deadline. When whole periods were missed, that late cycle runs at
        once (and counts as an overrun against the deadline it missed), and the grid resumes
        at the next point after now: no burst of catch-up cycles."""
        if self._t0_s is None:
            self._t0_s, self._k = now_s, 0
        deadline_s = self.peek(now_s)
        if now_s - deadline_s > self.period_s:
            self._k += math.floor((now_s - deadline_s) / self.period_s) + 1
        else:
            self._k += 1
        return deadline_s


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
            "period_ms_p50": percentile(periods, 0.50) * 1000,
            "period_ms_p99": percentile(periods, 0.99) * 1000,
            "period_ms_max": (periods[-1] if periods else 0.0) * 1000,
            "lateness_ms_p99": percentile(lateness, 0.99) * 1000,
            "lateness_ms_max": (lateness[-1] if lateness else 0.0) * 1000,
            "overruns": self.overruns,
            "unhealthy_cycles": self.unhealthy_cycles,
            "i2c_errors": self.i2c_errors,
            "exceptions": self.exceptions,
        }


def percentile(ordered: list[float], fraction: float) -> float:
    """The ``fraction`` quantile of an ascending list (nearest rank); 0 for an empty one."""
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return ordered[index]
