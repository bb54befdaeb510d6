"""Delivered dose (mA·min) integrated from the MEASURED current (domain.md 6, dose row).

Why measured and not commanded: the dose cap protects the skin from what actually flowed; a
drifting DAC or a sagging current must count as it was. Trapezoid rule between samples; the
sample times are passed in (no clock here). The magnitude counts: charge moved the wrong way
still moved.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class DoseIntegrator:
    dose_ma_min: float = 0.0
    _last_time_s: float | None = None
    _last_current_ma: float = 0.0

    def add_sample(self, time_s: float, current_ma: float) -> float:
        """Add one measured sample; returns the dose so far."""
        magnitude = abs(current_ma)
        if self._last_time_s is not None:
            dt_s = time_s - self._last_time_s
            if dt_s <= 0.0:
                return self.dose_ma_min  # same or older sample: already counted
            # A long gap is bridged too: if current flowed, it flowed (over- beats under-counting).
            self.dose_ma_min += 0.5 * (self._last_current_ma + magnitude) * dt_s / 60.0
        self._last_time_s = time_s
        self._last_current_ma = magnitude
        return self.dose_ma_min

    def break_chain(self) -> None:
        """The next sample starts a new segment (output was off in between)."""
        self._last_time_s = None

    def reset(self, dose_ma_min: float = 0.0) -> None:
        self.dose_ma_min = dose_ma_min
        self._last_time_s = None
        self._last_current_ma = 0.0
