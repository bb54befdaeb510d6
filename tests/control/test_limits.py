"""Every cap of domain.md 6 as the core resolves it: refusals name the cap and its source."""

from __future__ import annotations

import dataclasses
import math

import pytest

from kiosk.control.catalogue import Catalogue, load_catalogue
from kiosk.control.codes import Reason
from kiosk.control.commands import Polarity, ProgramRequest
from kiosk.control.limits import (
    ResolvedProgram,
    SafetyConfig,
    SafetyConfigError,
    dac_readback_tolerance_ma,
    load_kohm,
    over_current_limit_ma,
    regulation_tolerance_ma,
    resolve_adjustment,
    resolve_program,
)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def resolved(catalogue: Catalogue, **kwargs: object) -> ResolvedProgram:
    result = resolve_program(ProgramRequest(**kwargs), catalogue)  # type: ignore[arg-type]
    assert isinstance(result, ResolvedProgram), result
    return result


def refused(catalogue: Catalogue, **kwargs: object) -> Reason:
    result = resolve_program(ProgramRequest(**kwargs), catalogue)  # type: ignore[arg-type]
    assert isinstance(result, Reason), result
    return result


# --- current caps: which one limits, and refusals at the edge ---------------------------------

def test_defaults_resolve_to_the_catalogue_program(catalogue: Catalogue) -> None:
    program = resolved(catalogue, area="face", indication="pigmentation")
    assert program.program_id == "face.pigmentation"
    assert program.electrode_id == "pad_15"
    assert program.polarity is Polarity.NEGATIVE
    assert (program.target_ma, program.stage_time_s) == (0.6, 720.0)
    assert (program.current_cap_ma, program.current_limit) == (0.8, "program")


@pytest.mark.requirement("SR-005")
def test_the_program_cap_is_accepted_at_the_edge_and_refused_above(catalogue: Catalogue) -> None:
    assert resolved(catalogue, area="face", indication="pigmentation",
                    current_ma=0.8).target_ma == 0.8
    reason = refused(catalogue, area="face", indication="pigmentation", current_ma=0.81)
    assert reason.code == "current_above_cap"
    assert reason.detail("limit") == "program" and reason.detail("cap_ma") == 0.8
    assert "0.80 mA" in reason.text


@pytest.mark.requirement("SR-005")
def test_the_area_cap_limits_face_disincrustation_at_1_5_ma(catalogue: Catalogue) -> None:
    program = resolved(catalogue, area="face", indication="disincrustation", current_ma=1.5)
    assert program.current_cap_ma == 1.5
    reason = refused(catalogue, area="face", indication="disincrustation", current_ma=1.55)
    assert reason.code == "current_above_cap" and reason.detail("cap_ma") == 1.5


@pytest.mark.requirement("SR-004")
def test_the_firmware_maximum_limits_the_decollete_at_2_ma(catalogue: Catalogue) -> None:
    program = resolved(catalogue, area="decollete", indication="ageing", current_ma=2.0)
    assert program.current_cap_ma == 2.0
    assert {t.limit: t.value for t in program.cap_terms}["density"] == 4.0
    reason = refused(catalogue, area="decollete", indication="ageing", current_ma=2.01)
    assert reason.code == "current_above_cap"
    assert reason.detail("limit") == "firmware" and reason.detail("cap_ma") == 2.0


@pytest.mark.requirement("SR-017")
def test_the_density_cap_follows_the_electrode_actually_chosen(catalogue: Catalogue) -> None:
    # Ageing on the 5 cm² roller: 0.1 mA/cm² x 5 cm² = 0.5 mA, below the 1.0 mA program cap.
    program = resolved(catalogue, area="face", indication="ageing", electrode_id="face_roller",
                       current_ma=0.5)
    assert (program.current_cap_ma, program.current_limit) == (0.5, "density")
    reason = refused(catalogue, area="face", indication="ageing", electrode_id="face_roller",
                     current_ma=0.55)
    assert reason.detail("limit") == "density" and reason.detail("cap_ma") == 0.5


def test_a_default_above_the_chosen_electrodes_cap_is_lowered_with_a_decision(
        catalogue: Catalogue) -> None:
    program = resolved(catalogue, area="face", indication="ageing", electrode_id="face_roller")
    assert program.target_ma == 0.5 and program.default_lowered_from_ma == 0.6
    assert [d.code for d in program.decisions] == ["default_current_lowered"]
    assert program.decisions[0].detail("limit") == "density"


@pytest.mark.requirement("SR-017")
def test_the_roller_gets_0_3_ma_per_cm2_in_disincrustation_only(catalogue: Catalogue) -> None:
    roller = resolved(catalogue, area="face", indication="disincrustation",
                      electrode_id="face_roller")
    assert {t.limit: t.value for t in roller.cap_terms}["density"] == 1.5  # 0.3 x 5
    pigmentation = resolved(catalogue, area="face", indication="pigmentation",
                            electrode_id="face_roller", current_ma=0.5)
    assert {t.limit: t.value for t in pigmentation.cap_terms}["density"] == 0.5  # 0.1 x 5


@pytest.mark.requirement("SR-005", "SR-043")
def test_the_eye_area_is_capped_at_0_3_ma(catalogue: Catalogue) -> None:
    program = resolved(catalogue, area="eye_area", indication="puffiness", current_ma=0.3)
    assert program.current_cap_ma == 0.3
    assert {t.limit: t.value for t in program.cap_terms}["density"] == 0.3  # 0.2 x 1.5
    reason = refused(catalogue, area="eye_area", indication="puffiness", current_ma=0.35)
    assert reason.code == "current_above_cap" and reason.detail("cap_ma") == 0.3


@pytest.mark.requirement("SR-005")
def test_the_electrode_maximum_caps_when_it_is_the_lowest(catalogue: Catalogue) -> None:
    weak_pad = dataclasses.replace(catalogue.electrode("pad_15"), max_current_ma=0.7)
    modified = dataclasses.replace(catalogue, electrodes=tuple(
        weak_pad if e.id == "pad_15" else e for e in catalogue.electrodes))
    program = resolved(modified, area="face", indication="pigmentation", current_ma=0.7)
    assert (program.current_cap_ma, program.current_limit) == (0.7, "electrode")
    reason = refused(modified, area="face", indication="pigmentation", current_ma=0.75)
    assert reason.detail("limit") == "electrode"


@pytest.mark.requirement("SR-047", "SR-005")
def test_a_caution_item_halves_the_caps_and_needs_acknowledgement(catalogue: Catalogue) -> None:
    reason = refused(catalogue, area="face", indication="disincrustation", reduced_caps=True)
    assert reason.code == "caution_not_acknowledged"
    program = resolved(catalogue, area="face", indication="disincrustation", reduced_caps=True,
                       caution_acknowledged=True)
    assert (program.current_cap_ma, program.current_limit) == (0.75, "caution")
    assert program.target_ma == 0.75  # the 0.8 mA default is lowered to the halved cap
    assert program.dose_cap_ma_min == 7.5  # half of 15 (3 mA·min/cm² x 5 cm²)
    over = refused(catalogue, area="face", indication="disincrustation", reduced_caps=True,
                   caution_acknowledged=True, current_ma=0.8)
    assert over.detail("limit") == "caution" and over.detail("cap_ma") == 0.75


def test_requests_below_the_minimum_or_not_numbers_are_refused(catalogue: Catalogue) -> None:
    assert resolved(catalogue, area="face", indication="dry_skin", current_ma=0.05).target_ma \
        == 0.05
    low = refused(catalogue, area="face", indication="dry_skin", current_ma=0.049)
    assert low.code == "current_below_minimum" and low.detail("minimum_ma") == 0.05
    for bad in (math.nan, math.inf, -math.inf):
        assert refused(catalogue, area="face", indication="dry_skin",
                       current_ma=bad).code in {"invalid_value", "current_below_minimum"}
    assert refused(catalogue, area="face", indication="dry_skin",
                   current_ma=math.nan).detail("field") == "current_ma"


# --- dose caps ----------------------------------------------------------------------------

@pytest.mark.parametrize(("area", "indication", "electrode", "cap", "limit"), [
    ("face", "disincrustation", "face_roller", 15.0, "charge_density"),  # 3 x 5 cm²
    ("face", "pigmentation", "pad_15", 20.0, "area"),
    ("neck", "ageing", "pad_15", 15.0, "area"),
    ("decollete", "ageing", "decollete_pair", 30.0, "area"),
    ("eye_area", "puffiness", "eye_ball", 2.5, "area"),
])
@pytest.mark.requirement("SR-018")
def test_the_dose_cap_is_the_lowest_of_area_charge_density_and_device(
        catalogue: Catalogue, area: str, indication: str, electrode: str, cap: float,
        limit: str) -> None:
    program = resolved(catalogue, area=area, indication=indication, electrode_id=electrode)
    assert (program.dose_cap_ma_min, program.dose_limit) == (cap, limit)


# --- time -----------------------------------------------------------------------------------

@pytest.mark.requirement("SR-019")
def test_the_time_cap_is_accepted_at_the_edge_and_refused_above(catalogue: Catalogue) -> None:
    assert resolved(catalogue, area="face", indication="pigmentation",
                    current_stage_s=900.0).stage_time_s == 900.0
    reason = refused(catalogue, area="face", indication="pigmentation", current_stage_s=900.5)
    assert reason.code == "time_above_cap" and reason.detail("cap_min") == 15.0
    short = refused(catalogue, area="face", indication="pigmentation", current_stage_s=59.0)
    assert short.code == "time_too_short"
    nan = refused(catalogue, area="face", indication="pigmentation", current_stage_s=math.nan)
    assert nan.code == "invalid_value" and nan.detail("field") == "current_stage_s"


@pytest.mark.requirement("SR-019")
def test_no_program_allows_more_than_20_minutes(catalogue: Catalogue) -> None:
    for program in catalogue.programs:
        for second in (False, True):
            phase = program.phase(second)
            if phase is None:
                continue
            result = resolve_program(ProgramRequest(program.area, program.indication,
                                                    second_phase=second), catalogue)
            assert isinstance(result, ResolvedProgram)
            assert result.stage_time_cap_s <= 1200.0
            assert result.current_cap_ma <= 2.0
            assert result.dose_cap_ma_min <= 30.0


# --- what the request names -----------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "code", "named"), [
    ({"area": "scalp", "indication": "ageing"}, "unknown_area", "scalp"),
    ({"area": "eye_area", "indication": "pigmentation"}, "unknown_program", "pigmentation"),
    ({"area": "face", "indication": "ageing", "electrode_id": "spoon"}, "unknown_electrode",
     "spoon"),
    ({"area": "face", "indication": "ageing", "electrode_id": "eye_ball"},
     "electrode_not_allowed", "eye_ball"),
    ({"area": "decollete", "indication": "ageing", "electrode_id": "pad_15"},
     "electrode_not_allowed", "pad_15"),
    ({"area": "face", "indication": "pigmentation", "polarity": Polarity.POSITIVE},
     "polarity_not_allowed", "positive"),
    ({"area": "face", "indication": "pigmentation", "second_phase": True}, "no_second_phase",
     "face.pigmentation"),
])
@pytest.mark.requirement("SR-043")
def test_requests_the_catalogue_does_not_allow_are_refused_by_name(
        catalogue: Catalogue, kwargs: dict[str, object], code: str, named: str) -> None:
    reason = refused(catalogue, **kwargs)
    assert reason.code == code
    assert named in reason.text


def test_maker_marked_products_may_take_the_other_pole(catalogue: Catalogue) -> None:
    program = resolved(catalogue, area="face", indication="ageing", polarity=Polarity.POSITIVE)
    assert program.polarity is Polarity.POSITIVE


def test_the_acidic_toner_phase_is_positive_with_its_own_caps(catalogue: Catalogue) -> None:
    program = resolved(catalogue, area="face", indication="disincrustation", second_phase=True)
    assert program.program_id == "face.disincrustation.second_phase"
    assert program.polarity is Polarity.POSITIVE
    assert (program.target_ma, program.current_cap_ma) == (0.5, 1.0)
    assert (program.stage_time_s, program.stage_time_cap_s) == (120.0, 180.0)


# --- operator +/- -----------------------------------------------------------------------------

@pytest.mark.requirement("SR-020")
def test_adjustments_step_by_0_05_ma_within_the_cap(catalogue: Catalogue) -> None:
    program = resolved(catalogue, area="face", indication="pigmentation")  # cap 0.8
    step = resolve_adjustment(0.6, 0.05, program)
    assert step.accepted and step.target_ma == pytest.approx(0.65)
    assert step.reason.code == "target_adjusted"
    assert resolve_adjustment(0.6, 0.15, program).target_ma == pytest.approx(0.75)
    bad = resolve_adjustment(0.6, 0.03, program)
    assert not bad.accepted and bad.reason.code == "adjust_step_invalid"
    assert bad.target_ma == 0.6


@pytest.mark.requirement("SR-005")
def test_a_rise_past_the_cap_stops_at_the_cap_and_one_at_the_cap_is_refused(
        catalogue: Catalogue) -> None:
    program = resolved(catalogue, area="face", indication="pigmentation")
    capped = resolve_adjustment(0.78, 0.05, program)
    assert capped.accepted and capped.target_ma == 0.8
    assert capped.reason.code == "adjust_capped" and capped.reason.detail("limit") == "program"
    at_cap = resolve_adjustment(0.8, 0.05, program)
    assert not at_cap.accepted and at_cap.reason.code == "current_at_cap"
    assert at_cap.target_ma == 0.8 and "0.80 mA" in at_cap.reason.text


def test_a_fall_below_the_minimum_is_refused(catalogue: Catalogue) -> None:
    program = resolved(catalogue, area="face", indication="pigmentation")
    assert resolve_adjustment(0.1, -0.05, program).target_ma == pytest.approx(0.05)
    below = resolve_adjustment(0.05, -0.05, program)
    assert not below.accepted and below.reason.code == "current_at_minimum"


# --- thresholds -------------------------------------------------------------------------------

def test_threshold_functions_follow_domain_section_6() -> None:
    assert over_current_limit_ma(1.5) == pytest.approx(1.55)
    assert over_current_limit_ma(2.4) == pytest.approx(2.05)  # never above firmware + 0.05
    assert regulation_tolerance_ma(0.3) == 0.05
    assert regulation_tolerance_ma(1.0) == pytest.approx(0.1)
    assert dac_readback_tolerance_ma(1.0, 0.0006197) == pytest.approx(0.05 + 0.0012394)
    assert load_kohm(21.1, 1.0) == pytest.approx(21.0)
    assert load_kohm(5.0, 0.009) is None


# --- safety configuration -----------------------------------------------------------------------

def test_the_default_safety_config_is_domain_decision_3() -> None:
    config = SafetyConfig()
    assert (config.contact_start_max_kohm, config.contact_loss_kohm) == (50.0, 100.0)


@pytest.mark.parametrize(("kwargs", "named"), [
    ({"contact_start_max_kohm": 9.99}, "contact_start_max_kohm"),
    ({"contact_start_max_kohm": 100.5, "contact_loss_kohm": 150.0}, "contact_start_max_kohm"),
    ({"contact_loss_kohm": 49.0}, "contact_loss_kohm"),
    ({"contact_loss_kohm": 200.1}, "contact_loss_kohm"),
    ({"ui_heartbeat_timeout_s": 10.0}, "ui_heartbeat_timeout_s"),
    ({"contact_start_max_kohm": math.nan}, "contact_start_max_kohm"),
])
def test_safety_config_refuses_values_outside_the_hard_bounds(kwargs: dict[str, float],
                                                              named: str) -> None:
    with pytest.raises(SafetyConfigError, match=named):
        SafetyConfig(**kwargs)


def test_safety_config_accepts_the_bounds_themselves_and_needs_loss_above_start() -> None:
    SafetyConfig(contact_start_max_kohm=10.0, contact_loss_kohm=50.0)
    SafetyConfig(contact_start_max_kohm=100.0, contact_loss_kohm=200.0)
    with pytest.raises(SafetyConfigError, match="must be above"):
        SafetyConfig(contact_start_max_kohm=80.0, contact_loss_kohm=80.0)
