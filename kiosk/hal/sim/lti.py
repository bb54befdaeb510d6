"""Exact solutions of the small linear RC systems the front end is made of.

Between two events (a DAC write, a relay contact moving, a fault) the output stage, the output
node capacitance and the skin's Rp||Cp form a linear time-invariant network with at most two
states. Its response is a sum of decaying exponentials, evaluated here in closed form, so the
simulated board is exact at any time step: a 10 ms control period and a 11 us node time constant
coexist without a stiff integrator or a free-running tick.

A :class:`Trajectory` is one scalar signal ``y(t) = final + sum(amp_k * exp(rate_k * t))`` over a
sub-step (``t`` counted from the sub-step start). Everything measured (shunt voltage, node voltage,
skin current) is an affine function of the states and so a trajectory of the same form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

_CROSSING_SAMPLES = 24
_BISECTION_STEPS = 48


@dataclass(frozen=True)
class Trajectory:
    """``y(t) = final + sum(amp * exp(rate * t))`` for ``t >= 0``; rates are <= 0 (stable)."""

    final: float
    modes: tuple[tuple[float, float], ...] = ()  # (amplitude, rate_per_s)

    def at(self, t_s: float) -> float:
        return self.final + sum(amp * math.exp(rate * t_s) for amp, rate in self.modes)

    def integral(self, t_s: float) -> float:
        """Integral of y from 0 to ``t_s`` (charge when y is a current)."""
        total = self.final * t_s
        for amp, rate in self.modes:
            total += amp * t_s if rate == 0.0 else amp * math.expm1(rate * t_s) / rate
        return total

    def upper_bound(self) -> float:
        """No value for t >= 0 exceeds this (every exponential lies in (0, 1])."""
        return self.final + sum(max(amp, 0.0) for amp, _ in self.modes)

    def lower_bound(self) -> float:
        return self.final + sum(min(amp, 0.0) for amp, _ in self.modes)

    def lowpass_at(self, y0_filtered: float, tau_s: float, t_s: float) -> float:
        """Output at ``t_s`` of a first-order RC filter (``tau_s``) driven by this trajectory.

        Exact: each input mode ``a*exp(r t)`` gives ``a/(1 + r tau) * exp(r t)`` plus a shared
        homogeneous term ``exp(-t/tau)``; the resonant case ``r = -1/tau`` gives ``a t/tau e^(rt)``.
        """
        if tau_s <= 0.0:
            return self.at(t_s)
        decay = math.exp(-t_s / tau_s)
        value = self.final
        homogeneous = y0_filtered - self.final
        for amp, rate in self.modes:
            denominator = 1.0 + rate * tau_s
            if abs(denominator) < 1e-9:
                value += amp * (t_s / tau_s) * math.exp(rate * t_s)
            else:
                gain = amp / denominator
                value += gain * math.exp(rate * t_s)
                homogeneous -= gain
        return value + homogeneous * decay

    def first_crossing(self, level: float, *, rising: bool, t_max_s: float,
                       tolerance: float = 0.0) -> float | None:
        """First ``t`` in (0, t_max] where y passes ``level`` upward (or downward), else None.

        "Passes" means it goes beyond ``level +- tolerance``, so a signal that starts exactly at
        the level (the instant a mode switched) does not count as crossing again at t = 0.
        Sampling is denser near t = 0 where the fast modes live, then bisection refines.
        """
        target = level + tolerance if rising else level - tolerance
        if rising and self.upper_bound() <= target:
            return None
        if not rising and self.lower_bound() >= target:
            return None

        def beyond(t_s: float) -> bool:
            value = self.at(t_s)
            return value > target if rising else value < target

        previous_t = 0.0
        if beyond(0.0):
            return None  # already beyond: not a crossing (the caller tracks that state)
        for index in range(1, _CROSSING_SAMPLES + 1):
            t_s = t_max_s * (index / _CROSSING_SAMPLES) ** 2
            if beyond(t_s):
                low, high = previous_t, t_s
                for _ in range(_BISECTION_STEPS):
                    middle = 0.5 * (low + high)
                    if beyond(middle):
                        high = middle
                    else:
                        low = middle
                    if high - low <= 1e-12:
                        break
                return high
            previous_t = t_s
        return None


@dataclass(frozen=True)
class AffineOutput:
    """``y = c0 * x0 + c1 * x1 + d``: a measurable quantity as a function of the two states."""

    c0: float
    c1: float
    d: float

    def value(self, x0: float, x1: float) -> float:
        return self.c0 * x0 + self.c1 * x1 + self.d


class LinearSolution:
    """Exact solution of ``dx/dt = A x + b`` (2 states) from ``x(0)``.

    RC networks built from reciprocal elements have real, negative, non-defective eigenvalues,
    so the modal form ``x(t) = x_inf + sum(v_k * alpha_k * exp(lambda_k t))`` always exists.
    """

    def __init__(self, a: tuple[tuple[float, float], tuple[float, float]],
                 b: tuple[float, float], x0: tuple[float, float]) -> None:
        (a00, a01), (a10, a11) = a
        det = a00 * a11 - a01 * a10
        if det == 0.0:
            raise ValueError("singular system: every node needs a DC path to ground")
        # x_inf = -A^-1 b
        self.x_inf = ((-(a11 * b[0] - a01 * b[1])) / det, (-(-a10 * b[0] + a00 * b[1])) / det)
        trace_half = 0.5 * (a00 + a11)
        disc = max(((a00 - a11) * 0.5) ** 2 + a01 * a10, 0.0)
        root = math.sqrt(disc)
        lam1, lam2 = trace_half + root, trace_half - root
        if a01 == 0.0 and a10 == 0.0:
            vectors = ((1.0, 0.0), (0.0, 1.0))
            lams = (a00, a11)
        elif root <= 1e-12 * abs(trace_half):
            # Equal eigenvalues of a non-diagonal matrix would be defective; physics rules it
            # out, numerical noise aside: split them a hair and carry on.
            lam1 *= 1.0 + 1e-9
            lam2 *= 1.0 - 1e-9
            vectors = self._eigenvectors(a00, a01, a10, a11, lam1, lam2)
            lams = (lam1, lam2)
        else:
            vectors = self._eigenvectors(a00, a01, a10, a11, lam1, lam2)
            lams = (lam1, lam2)
        (v00, v01), (v10, v11) = vectors  # v_k = (vk0, vk1)
        dx0, dx1 = x0[0] - self.x_inf[0], x0[1] - self.x_inf[1]
        basis_det = v00 * v11 - v10 * v01
        alpha0 = (dx0 * v11 - v10 * dx1) / basis_det
        alpha1 = (v00 * dx1 - v01 * dx0) / basis_det
        self.modes = (
            (lams[0], v00 * alpha0, v01 * alpha0),
            (lams[1], v10 * alpha1, v11 * alpha1),
        )

    @staticmethod
    def _eigenvectors(a00: float, a01: float, a10: float, a11: float, lam1: float,
                      lam2: float) -> tuple[tuple[float, float], tuple[float, float]]:
        def vector(lam: float) -> tuple[float, float]:
            # Pick the better-conditioned row of (A - lam I) v = 0.
            row0 = (a01, lam - a00)
            row1 = (lam - a11, a10)
            return row0 if abs(row0[0]) + abs(row0[1]) >= abs(row1[0]) + abs(row1[1]) else row1

        return vector(lam1), vector(lam2)

    def output(self, y: AffineOutput) -> Trajectory:
        final = y.value(*self.x_inf)
        return Trajectory(final, tuple((y.c0 * m0 + y.c1 * m1, lam) for lam, m0, m1 in self.modes))

    def state(self, index: int) -> Trajectory:
        return self.output(AffineOutput(1.0 if index == 0 else 0.0, 1.0 if index == 1 else 0.0,
                                        0.0))


def first_order(x0: float, rate_per_s: float, forcing: float) -> Trajectory:
    """Exact solution of ``dx/dt = rate * x + forcing`` (rate < 0) from ``x0``."""
    if rate_per_s >= 0.0:
        raise ValueError("first-order system must be stable (rate < 0)")
    final = -forcing / rate_per_s
    return Trajectory(final, ((x0 - final, rate_per_s),))
