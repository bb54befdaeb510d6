"""PI current regulator on the shunt reading, with feed-forward of the set-point.

Why this shape (hardware.md 5-6): the V-to-I stage is a near-ideal current source (tau ~20 us)
and the skin's R-C (0.05-10 ms) is far faster than the 10 ms loop, so the plant seen by the loop
is a static gain near 1 (DAC and rail tolerance, a little output-impedance leak) plus one sample
of delay (the reading this cycle shows last cycle's command). The set-point in mA IS the
feed-forward (the HAL's DAC calibration turns mA into codes); the PI only trims the few percent
the calibration gets wrong. The error compares the reading with the set-point that produced it
(last cycle's), so a set-point step or a ramp is not mistaken for an error and the trim never
kicks. Integral gain 0.5 per cycle puts the closed-loop pole near 0.5 for a plant gain of 1
(a few cycles to 2 %, no overshoot for plant gains 0.6-1.5); the proportional term is small
because, with one sample of delay, a large one only slows the loop.

Anti-windup: conditional integration (no integrating further into a clamp, nor upward while
the source is at its compliance limit) plus a bound on the trim, so a saturated plant never
stores a correction that would overshoot when the load recovers. Output clamp 0..limit, the
limit never above the 2.5 mA range of the DAC path. Bumpless start: reset() at every enable,
and a zero set-point gives a zero command exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.control import domain_limits as lim

MAX_DT_S = 0.05
"""A late cycle integrates at most this much time: a stall must not kick the trim."""


@dataclass(frozen=True, slots=True)
class RegulatorTuning:
    kp: float = 0.05
    ki_per_s: float = 50.0
    """Integral gain: 0.5 of the relative error per 10 ms cycle."""
    trim_fraction: float = 0.15
    """The trim may correct at most 15 % of the set-point: more is a fault the regulation
    monitor should see, not something to hide."""
    min_reference_ma: float = 0.05
    """Below this set-point the relative error is taken against 0.05 mA (no division blow-up)."""


def output_limit_ma(cap_ma: float) -> float:
    """Highest command the regulator may give: cap + room for the trim, never above 2.5 mA."""
    return min(cap_ma * 1.2, lim.DAC_RANGE_MAX_MA)


class CurrentRegulator:
    """Feed-forward + PI; call :meth:`update` once per cycle with the newest reading.

    The integral is a relative gain correction (``command = setpoint x (1 + trim) + P``): what
    the plant gets wrong is a gain (DAC calibration, rail), so a trim learnt at 0.5 mA is right
    at 1.5 mA too and a set-point step needs no re-convergence.
    """

    def __init__(self, tuning: RegulatorTuning | None = None) -> None:
        self.tuning = tuning or RegulatorTuning()
        self.trim = 0.0
        self.output_ma = 0.0
        self._reference_ma = 0.0  # the set-point behind the command now being measured

    def reset(self) -> None:
        """Bumpless start: no stored trim, output zero."""
        self.trim = 0.0
        self.output_ma = 0.0
        self._reference_ma = 0.0

    def update(self, setpoint_ma: float, measured_ma: float, dt_s: float, output_max_ma: float,
               compliance_limited: bool = False) -> float:
        """The DAC command (mA) for this cycle."""
        if setpoint_ma <= 0.0:
            self.reset()
            return 0.0
        t = self.tuning
        dt = min(max(dt_s, 0.0), MAX_DT_S)
        reference = self._reference_ma
        self._reference_ma = setpoint_ma
        error = reference - measured_ma if reference > 0.0 else 0.0
        relative = error / max(reference, t.min_reference_ma)
        ceiling = min(output_max_ma, lim.DAC_RANGE_MAX_MA)

        proportional = t.kp * error
        candidate = _clamp(self.trim + t.ki_per_s * relative * dt, -t.trim_fraction,
                           t.trim_fraction)
        unclamped = setpoint_ma * (1.0 + candidate) + proportional
        pushing_high = unclamped > ceiling and error > 0
        pushing_low = unclamped < 0.0 and error < 0
        if not (pushing_high or pushing_low or (compliance_limited and error > 0)):
            self.trim = candidate
        self.output_ma = _clamp(setpoint_ma * (1.0 + self.trim) + proportional, 0.0, ceiling)
        return self.output_ma


def _clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value
