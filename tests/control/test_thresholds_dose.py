"""The delivered dose (mA·min) of ``kiosk.control.dose`` against figures computed by hand.

domain.md section 6, row "Dose (charge) per client, area and day": dose integrated from the
MEASURED current; dose = mA x min. The trapezoid rule between samples, on the samples' own
times (a timeline that starts far from zero, so no figure can lean on t = 0).
"""

from __future__ import annotations

import pytest

from kiosk.control.dose import DoseIntegrator

pytestmark = pytest.mark.requirement("SR-018")

T0_S = 1000.0


def test_one_trapezoid_is_the_mean_of_its_ends_times_the_interval() -> None:
    """domain.md 6, "Dose": 0.2 mA rising to 1.0 mA over 30 s is 0.6 mA x 0.5 min = 0.3."""
    dose = DoseIntegrator()
    assert dose.add_sample(T0_S, 0.2) == 0.0
    assert dose.add_sample(T0_S + 30.0, 1.0) == pytest.approx(0.3, abs=1e-12)
    assert dose.dose_ma_min == pytest.approx(0.3, abs=1e-12)
    assert dose.add_sample(T0_S + 90.0, 1.0) == pytest.approx(1.3, abs=1e-12)


def test_the_measured_magnitude_counts_whatever_its_sign() -> None:
    """domain.md 6, "Dose": from the measured current; charge moved the wrong way still moved.
    -0.4 then +0.8 mA over 60 s: mean of the magnitudes 0.6 mA x 1 min."""
    dose = DoseIntegrator()
    dose.add_sample(T0_S, -0.4)
    assert dose.add_sample(T0_S + 60.0, 0.8) == pytest.approx(0.6, abs=1e-12)
    assert dose.add_sample(T0_S + 120.0, -0.8) == pytest.approx(1.4, abs=1e-12)


def test_a_sample_at_the_same_time_is_neither_counted_nor_remembered() -> None:
    """domain.md 6, "Dose": a repeated reading (same sample time) adds nothing and does not
    replace the current the next interval starts from. 1.0 mA, then a repeat reading 3.0 mA at
    the same time, then 3.0 mA 60 s later: (1.0 + 3.0) / 2 x 1 min = 2.0, not 3.0."""
    dose = DoseIntegrator()
    dose.add_sample(T0_S, 1.0)
    assert dose.add_sample(T0_S, 3.0) == 0.0
    assert dose.add_sample(T0_S - 5.0, 3.0) == 0.0  # an older sample: ignored too
    assert dose.add_sample(T0_S + 60.0, 3.0) == pytest.approx(2.0, abs=1e-12)


def test_break_chain_starts_a_new_segment_from_the_next_sample() -> None:
    """domain.md 6, "Dose": output off in between counts nothing; the next sample is the start
    of a new segment (its own current, not the one before the break)."""
    dose = DoseIntegrator()
    dose.add_sample(T0_S, 1.0)
    dose.add_sample(T0_S + 60.0, 1.0)
    dose.break_chain()
    assert dose.add_sample(T0_S + 600.0, 0.5) == pytest.approx(1.0, abs=1e-12)
    assert dose.add_sample(T0_S + 660.0, 0.5) == pytest.approx(1.5, abs=1e-12)


def test_reset_carries_a_dose_over_and_starts_a_new_segment() -> None:
    """domain.md 6, "Dose" (summed over every program the same client had on that area that
    day): a new program starts from the dose already delivered."""
    dose = DoseIntegrator()
    dose.add_sample(T0_S, 2.0)
    dose.reset(4.25)
    assert dose.dose_ma_min == 4.25
    assert dose.add_sample(T0_S + 30.0, 1.0) == 4.25
    assert dose.add_sample(T0_S + 90.0, 1.0) == pytest.approx(5.25, abs=1e-12)
    dose.reset()
    assert dose.dose_ma_min == 0.0


def test_a_long_gap_is_bridged_not_dropped() -> None:
    """domain.md 6, "Dose": over- beats under-counting. A 2 s gap at 1.2 mA counts 2 s."""
    dose = DoseIntegrator()
    dose.add_sample(T0_S, 1.2)
    assert dose.add_sample(T0_S + 2.0, 1.2) == pytest.approx(1.2 * 2.0 / 60.0, abs=1e-12)
