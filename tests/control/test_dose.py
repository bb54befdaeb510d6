"""Dose in mA·min from the measured current, by the trapezoid rule."""

from __future__ import annotations

import pytest

from kiosk.control.dose import DoseIntegrator


def test_one_milliamp_for_one_minute_is_one_ma_min() -> None:
    dose = DoseIntegrator()
    for n in range(6001):
        dose.add_sample(n * 0.01, 1.0)
    assert dose.dose_ma_min == pytest.approx(1.0)


@pytest.mark.requirement("SR-018")
def test_a_linear_ramp_counts_as_its_exact_area() -> None:
    dose = DoseIntegrator()
    for n in range(6001):
        dose.add_sample(n * 0.01, n / 6000)  # 0 -> 1 mA over 60 s
    assert dose.dose_ma_min == pytest.approx(0.5)


@pytest.mark.requirement("SR-018")
def test_the_integral_follows_the_samples_not_a_nominal_period() -> None:
    dose = DoseIntegrator()
    dose.add_sample(0.0, 1.2)
    dose.add_sample(0.5, 1.2)  # a late sample: the gap still counts
    assert dose.dose_ma_min == pytest.approx(1.2 * 0.5 / 60)


def test_current_the_wrong_way_still_counts() -> None:
    dose = DoseIntegrator()
    dose.add_sample(0.0, -0.6)
    dose.add_sample(60.0, -0.6)
    assert dose.dose_ma_min == pytest.approx(0.6)


def test_a_repeated_or_older_sample_is_not_counted_twice() -> None:
    dose = DoseIntegrator()
    dose.add_sample(0.0, 1.0)
    dose.add_sample(1.0, 1.0)
    dose.add_sample(1.0, 1.0)
    dose.add_sample(0.5, 1.0)
    assert dose.dose_ma_min == pytest.approx(1.0 / 60)


def test_break_chain_does_not_bridge_the_gap_and_reset_starts_over() -> None:
    dose = DoseIntegrator()
    dose.add_sample(0.0, 1.0)
    dose.add_sample(60.0, 1.0)
    dose.break_chain()
    dose.add_sample(600.0, 1.0)
    assert dose.dose_ma_min == pytest.approx(1.0)
    dose.reset(2.5)
    dose.add_sample(700.0, 1.0)
    assert dose.dose_ma_min == 2.5
