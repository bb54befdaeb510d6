"""Set-point slew: how fast the current may change (domain.md 6, ramp rows).

Why: a sudden change of current is felt as a shock. Up: over at least 30 s and never faster than
0.05 mA/s, so the rate is ``min(0.05, level / 30)`` mA/s. Down at a normal end: the same.
Operator STOP or "client feels burning": to zero within 2 s (here 1.5 s, leaving time for the
relay). A fault does not ramp at all: the core cuts the output and this ramp is simply reset.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.control import domain_limits as lim

MAX_STEP_S = 0.05
"""A late cycle advances the ramp by at most this: a stalled loop never turns into a jump."""


def normal_rate_ma_per_s(level_ma: float,
                         duration_s: float = lim.RAMP_MIN_DURATION_S) -> float:
    """The ramp rate toward or from ``level_ma``: ``min(0.05, level / duration)`` mA/s; the
    duration is the salon's ramp time, never under 30 s (kiosk.control.salon_limits)."""
    return min(lim.RAMP_MAX_RATE_MA_PER_S,
               abs(level_ma) / max(duration_s, lim.RAMP_MIN_DURATION_S))


def normal_ramp_duration_s(level_ma: float,
                           duration_s: float = lim.RAMP_MIN_DURATION_S) -> float:
    """How long a normal ramp between zero and ``level_ma`` lasts (>= 30 s)."""
    rate = normal_rate_ma_per_s(level_ma, duration_s)
    return abs(level_ma) / rate if rate > 0 else 0.0


def stop_rate_ma_per_s(setpoint_ma: float) -> float:
    """The rate that brings ``setpoint_ma`` to zero in 1.5 s (STOP / discomfort)."""
    return max(abs(setpoint_ma) / lim.STOP_RAMP_DURATION_S, lim.RAMP_MAX_RATE_MA_PER_S)


@dataclass(slots=True)
class SetpointRamp:
    """The set-point the regulator follows, moving toward ``target_ma`` at ``rate_ma_per_s``."""

    setpoint_ma: float = 0.0
    target_ma: float = 0.0
    rate_ma_per_s: float = 0.0
    duration_s: float = lim.RAMP_MIN_DURATION_S  # the salon's ramp time (>= 30 s)

    def ramp_to(self, target_ma: float, rate_ma_per_s: float) -> None:
        self.target_ma = max(0.0, target_ma)
        self.rate_ma_per_s = max(0.0, rate_ma_per_s)

    def ramp_up_to(self, target_ma: float) -> None:
        """Toward a higher (or lower) target at the normal rate for that target."""
        self.ramp_to(target_ma, normal_rate_ma_per_s(max(target_ma, self.setpoint_ma),
                                                    self.duration_s))

    def ramp_down_normally(self) -> None:
        """To zero over at least 30 s, at most 0.05 mA/s."""
        self.ramp_to(0.0, normal_rate_ma_per_s(self.setpoint_ma, self.duration_s))

    def ramp_down_fast(self) -> None:
        """To zero within 1.5 s (STOP, client discomfort)."""
        self.ramp_to(0.0, stop_rate_ma_per_s(self.setpoint_ma))

    def advance(self, dt_s: float, hold_rise: bool = False) -> float:
        """Move the set-point by at most rate x dt; ``hold_rise`` keeps it from rising
        (compliance warning: the ramp holds where it is)."""
        step = self.rate_ma_per_s * min(max(dt_s, 0.0), MAX_STEP_S)
        if self.setpoint_ma < self.target_ma:
            if not hold_rise:
                self.setpoint_ma = min(self.target_ma, self.setpoint_ma + step)
        elif self.setpoint_ma > self.target_ma:
            self.setpoint_ma = max(self.target_ma, self.setpoint_ma - step)
        return self.setpoint_ma

    def cut(self) -> None:
        """Zero at once, no ramp (faults)."""
        self.setpoint_ma = 0.0
        self.target_ma = 0.0
        self.rate_ma_per_s = 0.0

    @property
    def settled(self) -> bool:
        return self.setpoint_ma == self.target_ma

    @property
    def rising(self) -> bool:
        return self.setpoint_ma < self.target_ma
