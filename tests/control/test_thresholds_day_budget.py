"""Both sides of the day's dose budget in ``kiosk.control.limits`` (SR-053): ``dose_left_terms``
and the checks ``resolve_program`` makes of what was delivered earlier today.

They came with the merge after the last mutation run; ``test_day_budget.py`` proves them through
the core (fast lane), these pin each rule in the mutation bench's ``rules`` lane. The expected
figures are worked out by hand from domain.md section 6 ("Dose": face 20 mA·min, device 30
mA·min, charge density 3 mA·min/cm²) and the catalogue's electrode areas (pad 15 cm², roller
5 cm²).
"""

from __future__ import annotations

import math

import pytest

from kiosk.control.catalogue import load_catalogue
from kiosk.control.codes import Reason
from kiosk.control.commands import Polarity, ProgramRequest
from kiosk.control.limits import CapTerm, dose_cap_terms, dose_left_terms, resolve_program

pytestmark = pytest.mark.requirement("SR-053")

CATALOGUE = load_catalogue()
PAD = next(e for e in CATALOGUE.electrodes if e.id == "pad_15")  # 15 cm²
ROLLER = next(e for e in CATALOGUE.electrodes if e.id == "face_roller")  # 5 cm²
IONTOPHORESIS = ProgramRequest("face", "pigmentation", current_ma=0.6)
DISINCRUSTATION = ProgramRequest("face", "disincrustation", current_ma=0.8,
                                 polarity=Polarity.NEGATIVE)


def by_name(terms: tuple[CapTerm, ...]) -> dict[str, float]:
    return {term.limit: term.value for term in terms}


def test_nothing_delivered_leaves_the_whole_day() -> None:
    """Face on the pad: area 20, charge density 3 x 15 = 45, device 30 mA·min."""
    day = dose_cap_terms(20.0, "face", PAD, False)
    assert by_name(day) == {"area": 20.0, "charge_density": 45.0, "device": 30.0}
    assert by_name(dose_left_terms(day, PAD, 0.0, 0.0)) == by_name(day)


def test_the_delivered_dose_comes_off_every_dose_term() -> None:
    """3.5 mA·min delivered (density 3.5 / 15 cm² = 0.2333 mA·min/cm²): area 16.5, device
    26.5; charge density (3 - 0.233333) x 15 = 41.5 mA·min."""
    day = dose_cap_terms(20.0, "face", PAD, False)
    left = by_name(dose_left_terms(day, PAD, 3.5, 3.5 / 15.0))
    assert left == {"area": 16.5, "charge_density": 41.5, "device": 26.5}


def test_the_density_term_counts_the_earlier_density_on_this_electrodes_area() -> None:
    """1 mA·min/cm² delivered earlier with another electrode; on the 5 cm² roller: (3 - 1) x 5
    = 10 mA·min left of density, whatever the dose figure was (here 2 mA·min)."""
    day = dose_cap_terms(20.0, "face", ROLLER, False)
    assert by_name(day)["charge_density"] == 15.0
    left = by_name(dose_left_terms(day, ROLLER, 2.0, 1.0))
    assert left == {"area": 18.0, "charge_density": 10.0, "device": 28.0}


def test_a_used_up_term_is_zero_never_negative() -> None:
    """25 mA·min delivered: area 20 - 25 -> 0, device 5; density 4 mA·min/cm² over 3 -> 0."""
    day = dose_cap_terms(20.0, "face", PAD, False)
    left = by_name(dose_left_terms(day, PAD, 25.0, 4.0))
    assert left == {"area": 0.0, "charge_density": 0.0, "device": 5.0}
    exactly = by_name(dose_left_terms(day, PAD, 20.0, 3.0))
    assert exactly["area"] == 0.0 and exactly["charge_density"] == 0.0


def test_the_remainder_lands_on_the_micro_grid() -> None:
    """20 - 0.1 - 0.2 style float noise: 20 - 0.30000000000000004 is 19.7 on the 1e-6 grid."""
    day = dose_cap_terms(20.0, "face", PAD, False)
    assert by_name(dose_left_terms(day, PAD, 0.1 + 0.2, 0.0))["area"] == 19.7


def test_a_caution_term_loses_the_delivered_dose_like_the_others() -> None:
    """Caution: half the lowest day cap (20 -> 10); 4 delivered: caution 6, area 16."""
    day = dose_cap_terms(20.0, "face", PAD, True)
    assert by_name(day)["caution"] == 10.0
    left = by_name(dose_left_terms(day, PAD, 4.0, 4.0 / 15.0))
    assert left["caution"] == 6.0 and left["area"] == 16.0


@pytest.mark.parametrize("field", ["delivered_today_ma_min",
                                   "delivered_today_charge_density_ma_min_per_cm2"])
def test_resolve_program_accepts_zero_and_refuses_below_it_naming_the_field(field: str) -> None:
    accepted = resolve_program(IONTOPHORESIS, CATALOGUE, **{field: 0.0})
    assert not isinstance(accepted, Reason)
    for bad in (-1e-9, -1.0, math.nan, math.inf, -math.inf):
        refused = resolve_program(IONTOPHORESIS, CATALOGUE, **{field: bad})
        assert isinstance(refused, Reason) and refused.code == "invalid_value"
        assert refused.detail("field") == field and refused.detail("value") == str(bad)


def test_resolve_program_names_the_binding_day_term_and_carries_the_figures() -> None:
    """Pigmentation on the pad, 12.5 mA·min already: area 7.5 binds (device 17.5, density
    45 - 12.5 = 32.5); the day's cap stays 20; the delivered figures travel with the result."""
    resolved = resolve_program(IONTOPHORESIS, CATALOGUE, delivered_today_ma_min=12.5,
                               delivered_today_charge_density_ma_min_per_cm2=12.5 / 15.0)
    assert not isinstance(resolved, Reason)
    assert resolved.dose_cap_ma_min == 7.5 and resolved.dose_limit == "area"
    assert resolved.day_dose_cap_ma_min == 20.0
    assert resolved.delivered_today_ma_min == 12.5
    assert resolved.delivered_today_charge_density_ma_min_per_cm2 == pytest.approx(12.5 / 15.0)
    assert isinstance(resolved.delivered_today_ma_min, float)
    # an int from a client is carried as a float
    whole = resolve_program(IONTOPHORESIS, CATALOGUE, delivered_today_ma_min=2)
    assert not isinstance(whole, Reason)
    assert type(whole.delivered_today_ma_min) is float and whole.dose_cap_ma_min == 18.0


def test_on_the_roller_the_density_left_binds() -> None:
    """Disincrustation on the 5 cm² roller after 1.2 mA·min/cm² elsewhere: (3 - 1.2) x 5 = 9.0
    mA·min left of density, under area 20 - 6 = 14."""
    resolved = resolve_program(DISINCRUSTATION, CATALOGUE, delivered_today_ma_min=6.0,
                               delivered_today_charge_density_ma_min_per_cm2=1.2)
    assert not isinstance(resolved, Reason)
    assert resolved.dose_cap_ma_min == 9.0 and resolved.dose_limit == "charge_density"
    assert resolved.day_dose_cap_ma_min == 15.0
