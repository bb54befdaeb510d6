"""Both sides of every rate and duration of ``kiosk.control.ramp``, to the step.

The rows cited are the ramp rows of domain.md section 6 ("Electrical safety limits"). Rates are
checked as exact figures (a ramp too slow is as wrong as one too fast: a STOP that takes 3 s
breaks SR-022 and a ramp-up that takes 10 minutes breaks the program), step by step on the
10 ms cycle.
"""

from __future__ import annotations

import pytest

from kiosk.control.ramp import (
    MAX_STEP_S,
    SetpointRamp,
    normal_ramp_duration_s,
    normal_rate_ma_per_s,
    stop_rate_ma_per_s,
)

PERIOD_S = 0.010


def steps_until_settled(ramp: SetpointRamp, dt_s: float = PERIOD_S, limit: int = 100_000
                        ) -> list[float]:
    """The set-point after each cycle until it reaches the target."""
    out: list[float] = []
    while not ramp.settled:
        out.append(ramp.advance(dt_s))
        assert len(out) < limit
    return out


# --- ramp-up: at least 30 s, never faster than 0.05 mA/s -------------------------------------

@pytest.mark.parametrize(("level_ma", "rate"), [
    (0.3, 0.01), (1.5, 0.05), (1.4999, 1.4999 / 30.0), (1.5001, 0.05), (2.0, 0.05),
    (-0.3, 0.01), (0.0, 0.0),
])
@pytest.mark.requirement("SR-020")
def test_normal_rate_is_the_lower_of_0_05_ma_per_s_and_level_over_30_s(
        level_ma: float, rate: float) -> None:
    """domain.md 6, "Ramp-up": at least 30 s and never faster than 0.05 mA/s; 1.5 mA is where
    the two limits meet. A level given negative (a polarity's sign) counts by its size."""
    assert normal_rate_ma_per_s(level_ma) == pytest.approx(rate, abs=1e-12)


@pytest.mark.parametrize(("level_ma", "duration_s"), [(0.3, 30.0), (1.5, 30.0), (2.0, 40.0),
                                                      (-0.6, 30.0), (0.0, 0.0)])
@pytest.mark.requirement("SR-020", "SR-021")
def test_normal_ramp_duration(level_ma: float, duration_s: float) -> None:
    """domain.md 6, "Ramp-up" / "Ramp-down": >= 30 s, longer above 1.5 mA; no ramp at zero."""
    assert normal_ramp_duration_s(level_ma) == pytest.approx(duration_s)


@pytest.mark.requirement("SR-020")
def test_ramp_up_from_zero_moves_exactly_rate_times_period_each_cycle() -> None:
    """domain.md 6, "Ramp-up": 0.6 mA at 0.02 mA/s is 0.2 uA per 10 ms cycle, 3000 cycles."""
    ramp = SetpointRamp()
    ramp.ramp_up_to(0.6)
    assert ramp.rising and not ramp.settled
    assert ramp.target_ma == 0.6
    assert ramp.rate_ma_per_s == pytest.approx(0.02)
    points = steps_until_settled(ramp)
    assert points[0] == pytest.approx(0.0002)
    assert points[1499] == pytest.approx(0.3)
    assert len(points) == pytest.approx(3000, abs=1)
    assert points[-1] == 0.6 and ramp.settled and not ramp.rising


@pytest.mark.requirement("SR-020")
def test_an_adjustment_down_while_ramping_up_uses_the_higher_levels_rate() -> None:
    """domain.md 6, "Ramp-up" (operator steps slewed the same): a lower target while at 1.2 mA
    moves at the rate for 1.2 mA (0.04 mA/s), not for the new 1.0 mA."""
    ramp = SetpointRamp(setpoint_ma=1.2, target_ma=1.2)
    ramp.ramp_up_to(1.0)
    assert ramp.rate_ma_per_s == pytest.approx(0.04)
    assert ramp.advance(PERIOD_S) == pytest.approx(1.2 - 0.0004)
    assert not ramp.rising


@pytest.mark.requirement("SR-020")
def test_a_late_cycle_advances_50_ms_worth_and_no_more() -> None:
    """domain.md 6, "Ramp-up" (never faster than 0.05 mA/s, no sudden change): a stalled loop
    never turns into a jump. 50 ms late is still honoured in full; 51 ms is cut to 50 ms."""
    assert MAX_STEP_S == 0.05
    for dt_s, moved in ((0.05, 0.0025), (0.051, 0.0025), (0.049, 0.00245), (-0.01, 0.0)):
        ramp = SetpointRamp()
        ramp.ramp_up_to(1.5)
        assert ramp.advance(dt_s) == pytest.approx(moved, abs=1e-12), dt_s


@pytest.mark.requirement("SR-020")
def test_the_ramp_lands_on_its_target_without_overshoot() -> None:
    """domain.md 6, "Ramp-up": the set-point never passes the target on either side."""
    ramp = SetpointRamp(setpoint_ma=0.5999)
    ramp.ramp_to(0.6, 0.05)
    assert ramp.advance(PERIOD_S) == 0.6
    ramp = SetpointRamp(setpoint_ma=0.0001, target_ma=0.0001)
    ramp.ramp_to(0.0, 0.05)
    assert ramp.advance(PERIOD_S) == 0.0


@pytest.mark.requirement("SR-020")
def test_negative_targets_and_rates_are_clamped() -> None:
    """domain.md 6, "Ramp-up" (start from zero): the set-point is never below zero and a
    negative rate does not move it backwards."""
    ramp = SetpointRamp(setpoint_ma=0.3, target_ma=0.3)
    ramp.ramp_to(-1.0, -0.05)
    assert (ramp.target_ma, ramp.rate_ma_per_s) == (0.0, 0.0)
    assert ramp.advance(PERIOD_S) == 0.3


@pytest.mark.requirement("SR-014")
def test_hold_rise_stops_only_a_rise() -> None:
    """domain.md 6, "Max compliance voltage": >= 24 V during ramp: hold ramp. A hold keeps the
    set-point; a fall (STOP, ramp-down) still moves while held."""
    ramp = SetpointRamp(setpoint_ma=0.4)
    ramp.ramp_up_to(0.6)
    assert ramp.advance(PERIOD_S, hold_rise=True) == 0.4
    assert ramp.advance(PERIOD_S, hold_rise=False) == pytest.approx(0.4002)
    ramp.ramp_down_normally()
    assert ramp.advance(PERIOD_S, hold_rise=True) == pytest.approx(0.4002 - 0.4002 / 30 * 0.01)


# --- ramp-down at a normal end: >= 30 s at <= 0.05 mA/s -------------------------------------

@pytest.mark.parametrize(("level_ma", "cycles"), [(0.6, 3000), (1.5, 3000), (2.0, 4000)])
@pytest.mark.requirement("SR-021")
def test_normal_ramp_down_rate_and_duration(level_ma: float, cycles: int) -> None:
    """domain.md 6, "Ramp-down (normal end, dose/time cap)": >= 30 s at <= 0.05 mA/s."""
    ramp = SetpointRamp(setpoint_ma=level_ma, target_ma=level_ma)
    ramp.ramp_down_normally()
    assert ramp.rate_ma_per_s == pytest.approx(normal_rate_ma_per_s(level_ma))
    points = steps_until_settled(ramp)
    assert points[0] == pytest.approx(level_ma - normal_rate_ma_per_s(level_ma) * PERIOD_S)
    assert len(points) == pytest.approx(cycles, abs=1)
    assert points[-1] == 0.0


# --- operator STOP / client discomfort: to zero within 2 s (1.5 s, leaving the relay time) --

@pytest.mark.parametrize(("level_ma", "rate", "cycles"), [
    (0.6, 0.4, 150), (2.0, 2.0 / 1.5, 150), (0.075, 0.05, 150), (0.06, 0.05, 120),
    (0.03, 0.05, 60),
])
@pytest.mark.requirement("SR-022")
def test_stop_rate_brings_the_level_to_zero_in_1_5_s_and_never_crawls(
        level_ma: float, rate: float, cycles: int) -> None:
    """domain.md 6, "Operator STOP / client discomfort": to zero within 2 s. The rate is
    level / 1.5 s, never below the normal 0.05 mA/s (a small level ends sooner, not later)."""
    assert stop_rate_ma_per_s(level_ma) == pytest.approx(rate)
    assert stop_rate_ma_per_s(-level_ma) == pytest.approx(rate)
    ramp = SetpointRamp(setpoint_ma=level_ma, target_ma=level_ma)
    ramp.ramp_down_fast()
    points = steps_until_settled(ramp)
    assert len(points) == pytest.approx(cycles, abs=1)
    assert points[0] == pytest.approx(level_ma - rate * PERIOD_S)
    assert len(points) * PERIOD_S <= 2.0


@pytest.mark.requirement("SR-001")
def test_cut_is_zero_at_once_and_stays_there() -> None:
    """domain.md 6, "Emergency stop, watchdog, any fault": immediate zero, no ramp."""
    ramp = SetpointRamp(setpoint_ma=1.2)
    ramp.ramp_up_to(1.5)
    ramp.cut()
    assert (ramp.setpoint_ma, ramp.target_ma, ramp.rate_ma_per_s) == (0.0, 0.0, 0.0)
    assert ramp.advance(PERIOD_S) == 0.0 and ramp.settled
