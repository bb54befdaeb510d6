"""Set-point slew limits of domain.md 6: >= 30 s, <= 0.05 mA/s, STOP within 2 s."""

from __future__ import annotations

import pytest

from kiosk.control.ramp import (
    SetpointRamp,
    normal_ramp_duration_s,
    normal_rate_ma_per_s,
    stop_rate_ma_per_s,
)

PERIOD_S = 0.010


def ramp_until_settled(ramp: SetpointRamp, hold_rise: bool = False, limit: int = 100_000
                       ) -> tuple[int, float]:
    """Cycles until the set-point reaches the target, and the largest step seen (mA)."""
    largest = 0.0
    for n in range(limit):
        if ramp.settled:
            return n, largest
        before = ramp.setpoint_ma
        ramp.advance(PERIOD_S, hold_rise)
        largest = max(largest, abs(ramp.setpoint_ma - before))
    return limit, largest


@pytest.mark.parametrize(("target_ma", "expected_s"), [(0.15, 30.0), (1.0, 30.0), (1.5, 30.0),
                                                       (2.0, 40.0)])
@pytest.mark.requirement("SR-020")
def test_ramp_up_lasts_at_least_30_s_and_never_exceeds_50_ua_per_s(
        target_ma: float, expected_s: float) -> None:
    ramp = SetpointRamp()
    ramp.ramp_up_to(target_ma)
    cycles, largest_step = ramp_until_settled(ramp)
    assert expected_s - PERIOD_S / 2 <= cycles * PERIOD_S <= expected_s + 2 * PERIOD_S
    assert largest_step <= 0.05 * PERIOD_S + 1e-12
    assert normal_ramp_duration_s(target_ma) == pytest.approx(expected_s)


@pytest.mark.requirement("SR-020")
def test_the_rate_is_min_of_50_ua_per_s_and_target_over_30_s() -> None:
    assert normal_rate_ma_per_s(0.3) == pytest.approx(0.01)
    assert normal_rate_ma_per_s(1.5) == pytest.approx(0.05)
    assert normal_rate_ma_per_s(2.0) == pytest.approx(0.05)


@pytest.mark.parametrize("level_ma", [0.15, 0.8, 2.0])
@pytest.mark.requirement("SR-021")
def test_a_normal_ramp_down_takes_as_long_as_the_ramp_up(level_ma: float) -> None:
    ramp = SetpointRamp(setpoint_ma=level_ma, target_ma=level_ma)
    ramp.ramp_down_normally()
    cycles, largest_step = ramp_until_settled(ramp)
    assert cycles * PERIOD_S >= 30.0 - PERIOD_S
    assert largest_step <= 0.05 * PERIOD_S + 1e-12
    assert ramp.setpoint_ma == 0.0


@pytest.mark.parametrize("level_ma", [0.05, 0.3, 1.0, 2.0])
@pytest.mark.requirement("SR-022")
def test_stop_reaches_zero_within_2_s_without_a_jump(level_ma: float) -> None:
    ramp = SetpointRamp(setpoint_ma=level_ma, target_ma=level_ma)
    ramp.ramp_down_fast()
    cycles, largest_step = ramp_until_settled(ramp)
    assert cycles * PERIOD_S <= 1.5 + PERIOD_S
    assert largest_step <= stop_rate_ma_per_s(level_ma) * PERIOD_S + 1e-12
    assert largest_step < level_ma  # a ramp, not a step


@pytest.mark.requirement("SR-014")
def test_hold_keeps_the_setpoint_from_rising_but_lets_it_fall() -> None:
    ramp = SetpointRamp(setpoint_ma=0.5)
    ramp.ramp_up_to(1.0)
    for _ in range(100):
        ramp.advance(PERIOD_S, hold_rise=True)
    assert ramp.setpoint_ma == 0.5
    ramp.ramp_down_fast()
    ramp.advance(PERIOD_S, hold_rise=True)
    assert ramp.setpoint_ma < 0.5


def test_a_late_cycle_advances_no_more_than_50_ms_worth() -> None:
    ramp = SetpointRamp()
    ramp.ramp_up_to(1.5)
    ramp.advance(2.0)
    assert ramp.setpoint_ma == pytest.approx(0.05 * 0.05)


@pytest.mark.requirement("SR-020")
def test_an_adjustment_while_holding_slews_at_the_rate_for_the_new_target() -> None:
    ramp = SetpointRamp(setpoint_ma=1.0, target_ma=1.0)
    ramp.ramp_up_to(1.05)
    cycles, largest_step = ramp_until_settled(ramp)
    assert largest_step <= (1.05 / 30.0) * PERIOD_S + 1e-12
    assert cycles * PERIOD_S == pytest.approx(0.05 / (1.05 / 30.0), abs=2 * PERIOD_S)


@pytest.mark.requirement("SR-001")
def test_cut_is_immediate() -> None:
    ramp = SetpointRamp(setpoint_ma=1.2, target_ma=1.2)
    ramp.cut()
    assert (ramp.setpoint_ma, ramp.target_ma) == (0.0, 0.0)
