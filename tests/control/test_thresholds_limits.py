"""Both sides of every bound and threshold function of ``kiosk.control.limits``.

Rows cited are the rows of domain.md section 6 ("Electrical safety limits"), and decision 3 of
domain.md for the service-adjustable contact and heartbeat settings. Just inside a bound is
accepted (no refusal), just outside is refused with the setting or cap named.
"""

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
    boost_window_v,
    dac_readback_tolerance_ma,
    dose_cap_terms,
    load_kohm,
    over_current_limit_ma,
    regulation_tolerance_ma,
    resolve_adjustment,
    resolve_program,
)

MA_PER_CODE = 0.0006197


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def resolve(catalogue: Catalogue, **kwargs: object) -> ResolvedProgram | Reason:
    return resolve_program(ProgramRequest(**kwargs), catalogue)  # type: ignore[arg-type]


def code_of(result: ResolvedProgram | Reason) -> str:
    return result.code if isinstance(result, Reason) else "accepted"


# --- service-adjustable thresholds: each inside its hard bounds -----------------------------

BOUND_EDGES = [
    # (setting, accepted at the bound, refused just beyond it, other settings needed)
    ("contact_start_max_kohm", 10.0, 9.999, {}),
    ("contact_start_max_kohm", 100.0, 100.001, {"contact_loss_kohm": 150.0}),
    ("contact_loss_kohm", 50.0, 49.999, {"contact_start_max_kohm": 10.0}),
    ("contact_loss_kohm", 200.0, 200.001, {}),
    ("ui_heartbeat_timeout_s", 0.5, 0.499, {}),
    ("ui_heartbeat_timeout_s", 5.0, 5.001, {}),
]


@pytest.mark.parametrize(("name", "inside", "outside", "others"), BOUND_EDGES)
@pytest.mark.requirement("SR-009", "SR-010", "SR-035")
def test_each_safety_setting_is_accepted_at_its_bound_and_refused_beyond(
        name: str, inside: float, outside: float, others: dict[str, float]) -> None:
    """domain.md 6, "Contact check before ramp" (start if load <= 50 kΩ, tunable) and "Contact
    loss during current" (100 kΩ), with decision 3: start 10-100 kΩ, loss 50-200 kΩ; the UI
    heartbeat timeout 0.5-5 s (SR-035: a frozen screen must not leave current flowing)."""
    config = SafetyConfig(**{name: inside, **others})
    assert getattr(config, name) == inside
    with pytest.raises(SafetyConfigError) as refused:
        SafetyConfig(**{name: outside, **others})
    low, high = SafetyConfig.BOUNDS[name]
    assert str(refused.value) == (f"{name} = {outside!r} is out of its hard bounds "
                                  f"{low:g}..{high:g}")


@pytest.mark.parametrize("junk", [True, "2.0", None, math.inf, -math.inf, math.nan])
@pytest.mark.requirement("SR-035")
def test_a_safety_setting_that_is_not_a_finite_number_is_refused(junk: object) -> None:
    """domain.md 6, decision 3: settings are numbers inside their bounds; a bool (an int in
    Python) or a string is refused by name, never taken as 1.0 or parsed."""
    with pytest.raises(SafetyConfigError, match="ui_heartbeat_timeout_s"):
        SafetyConfig(ui_heartbeat_timeout_s=junk)  # type: ignore[arg-type]


def test_an_integer_setting_is_a_number() -> None:
    """decision 3: 2 s written as 2 is as good as 2.0."""
    assert SafetyConfig(ui_heartbeat_timeout_s=2).ui_heartbeat_timeout_s == 2


@pytest.mark.requirement("SR-009", "SR-010")
def test_the_loss_threshold_must_be_above_the_start_threshold() -> None:
    """domain.md 6, "Contact check" / "Contact loss": a contact that just passed (<= start)
    must not count as lost (> loss), so loss > start, strictly."""
    SafetyConfig(contact_start_max_kohm=80.0, contact_loss_kohm=80.001)
    with pytest.raises(SafetyConfigError) as refused:
        SafetyConfig(contact_start_max_kohm=80.0, contact_loss_kohm=80.0)
    assert str(refused.value) == ("contact_loss_kohm = 80 must be above "
                                  "contact_start_max_kohm = 80")


# --- threshold functions the monitors share -------------------------------------------------

@pytest.mark.parametrize(("cap_ma", "limit_ma"), [(0.3, 0.35), (1.5, 1.55), (1.99, 2.04),
                                                  (2.0, 2.05), (2.01, 2.05), (3.0, 2.05)])
@pytest.mark.requirement("SR-006", "SR-004")
def test_over_current_limit_is_cap_plus_0_05_never_above_firmware_plus_0_05(
        cap_ma: float, limit_ma: float) -> None:
    """domain.md 6, "Max output current" (2.0 mA firmware; > cap + 0.05 mA -> over-current)
    and "Per-area cap" (measured > cap + 0.05 mA -> safe state)."""
    assert over_current_limit_ma(cap_ma) == pytest.approx(limit_ma, abs=1e-12)


@pytest.mark.parametrize(("setpoint_ma", "tolerance_ma"), [
    (0.3, 0.05), (0.5, 0.05), (0.49, 0.05), (0.51, 0.051), (1.0, 0.1), (2.0, 0.2),
    (-1.0, 0.1), (0.0, 0.05),
])
@pytest.mark.requirement("SR-023")
def test_regulation_tolerance_is_the_larger_of_0_05_ma_and_10_percent(
        setpoint_ma: float, tolerance_ma: float) -> None:
    """domain.md 6, "Current regulation error": |I_meas - I_set| > max(0.05 mA, 10 %)."""
    assert regulation_tolerance_ma(setpoint_ma) == pytest.approx(tolerance_ma, abs=1e-12)


@pytest.mark.parametrize(("commanded_ma", "tolerance_ma"), [
    (0.0, 0.02), (0.4, 0.02), (0.41, 0.0205), (1.0, 0.05), (-1.0, 0.05),
])
@pytest.mark.requirement("SR-029")
def test_dac_readback_tolerance_is_20_ua_or_5_percent_plus_two_codes(
        commanded_ma: float, tolerance_ma: float) -> None:
    """hardware.md 5 (AIN3 reads VSET; 0.6197 uA per code), SR-029: max(0.02 mA, 5 %) + 2
    codes."""
    assert dac_readback_tolerance_ma(commanded_ma, MA_PER_CODE) == pytest.approx(
        tolerance_ma + 2 * MA_PER_CODE, abs=1e-12)


@pytest.mark.requirement("SR-016")
def test_the_boost_window_is_30_v_plus_minus_5_percent() -> None:
    """hardware.md 8 step 2 (AIN2 = 30 V +- 5 %), domain.md 6 "Max compliance voltage"."""
    low_v, high_v = boost_window_v()
    assert (low_v, high_v) == pytest.approx((28.5, 31.5))


@pytest.mark.requirement("SR-010")
def test_load_is_v_minus_the_shunt_drop_over_i_and_none_below_10_ua() -> None:
    """domain.md 6, "Contact loss during current" (load V/I), "Off-state current" (10 uA):
    V_OUT includes the 100 Ω shunt (hardware.md 5). 0.3 mA at 6.03 V: (6.03 - 0.03) / 0.3 =
    20 kΩ (a product or a sum would give 1.8 or 6.3)."""
    assert load_kohm(6.03, 0.3) == pytest.approx(20.0)
    assert load_kohm(0.6, 0.010) == pytest.approx((0.6 - 0.001) / 0.010)
    assert load_kohm(0.6, 0.0099) is None
    assert load_kohm(0.6, -0.5) is None


# --- program caps at both edges ----------------------------------------------------------------

@pytest.mark.requirement("SR-005")
def test_a_request_at_the_cap_is_accepted_and_1_ua_above_is_refused(
        catalogue: Catalogue) -> None:
    """domain.md 6, "Per-area cap" (eye area 0.3 mA): the beautician may lower, never raise."""
    accepted = resolve(catalogue, area="eye_area", indication="puffiness", current_ma=0.3)
    assert isinstance(accepted, ResolvedProgram) and accepted.target_ma == 0.3
    refused = resolve(catalogue, area="eye_area", indication="puffiness", current_ma=0.301)
    assert isinstance(refused, Reason) and refused.code == "current_above_cap"
    assert refused.detail("requested_ma") == 0.301


@pytest.mark.requirement("SR-005")
def test_the_minimum_target_is_0_05_ma(catalogue: Catalogue) -> None:
    """domain.md 6, "Contact loss during current" (I_set >= 0.05 mA): below 0.05 mA the sag
    rule would be blind, so no target below it."""
    assert code_of(resolve(catalogue, area="face", indication="pigmentation",
                           current_ma=0.05)) == "accepted"
    below = resolve(catalogue, area="face", indication="pigmentation", current_ma=0.0499)
    assert code_of(below) == "current_below_minimum"
    assert isinstance(below, Reason) and below.detail("requested_ma") == 0.0499


@pytest.mark.requirement("SR-019")
def test_stage_time_edges_one_minute_and_the_program_cap(catalogue: Catalogue) -> None:
    """domain.md 6, "Current-stage time" (program cap <= 20 min), with the ramps' 30 s each
    way: 60 s is the shortest stage. Face pigmentation caps at 15 min."""
    for stage_s, code in ((60.0, "accepted"), (59.99, "time_too_short"), (900.0, "accepted"),
                          (900.01, "time_above_cap")):
        result = resolve(catalogue, area="face", indication="pigmentation",
                         current_stage_s=stage_s)
        assert code_of(result) == code, stage_s
    short = resolve(catalogue, area="face", indication="pigmentation", current_stage_s=30.0)
    assert isinstance(short, Reason)
    assert short.detail("requested_min") == 0.5 and short.detail("minimum_min") == 1.0
    long = resolve(catalogue, area="face", indication="pigmentation", current_stage_s=960.0)
    assert isinstance(long, Reason) and long.detail("requested_min") == 16.0


@pytest.mark.requirement("SR-005", "SR-047")
def test_the_caution_factor_halves_the_lowest_cap_and_the_dose(catalogue: Catalogue) -> None:
    """domain.md 5 (caution items) on domain.md 6, "Per-area cap" and "Dose": half of the
    lowest cap. Face pigmentation: program cap 0.8 -> 0.4 mA; dose 20 -> 10 mA·min."""
    program = resolve(catalogue, area="face", indication="pigmentation", reduced_caps=True,
                      caution_acknowledged=True)
    assert isinstance(program, ResolvedProgram)
    assert (program.current_cap_ma, program.current_limit) == (0.4, "caution")
    assert (program.dose_cap_ma_min, program.dose_limit) == (10.0, "caution")
    plain = resolve(catalogue, area="face", indication="pigmentation")
    assert isinstance(plain, ResolvedProgram)
    assert [t.limit for t in plain.cap_terms] == ["firmware", "area", "program", "density",
                                                  "electrode"]
    assert plain.over_current_limit_ma == pytest.approx(0.85)


# --- operator +/- steps ----------------------------------------------------------------------

@pytest.mark.parametrize(("delta_ma", "accepted"), [
    (0.05, True), (0.1, True), (-0.05, True), (0.05000001, True), (0.0500001, False), (0.04, False),
    (0.0, False), (math.nan, False), (math.inf, False),
])
@pytest.mark.requirement("SR-020")
def test_adjustment_steps_are_multiples_of_0_05_ma(catalogue: Catalogue, delta_ma: float,
                                                    accepted: bool) -> None:
    """domain.md 6, "Ramp-up": operator "+" steps 0.05 mA (a float off by 1e-8 mA is
    still the step; 1e-7 mA off is not)."""
    program = resolve(catalogue, area="face", indication="pigmentation")
    assert isinstance(program, ResolvedProgram)
    result = resolve_adjustment(0.3, delta_ma, program)
    assert result.accepted is accepted
    if not accepted:
        assert result.reason.code == "adjust_step_invalid" and result.target_ma == 0.3


@pytest.mark.requirement("SR-005")
def test_a_rise_just_below_the_cap_and_a_fall_to_the_minimum(catalogue: Catalogue) -> None:
    """domain.md 6, "Per-area cap" / "Ramp-up": a rise that lands on the cap is an ordinary
    step; one that would pass it stops at the cap; a fall to exactly 0.05 mA is allowed."""
    program = resolve(catalogue, area="face", indication="pigmentation")  # cap 0.8
    assert isinstance(program, ResolvedProgram)
    onto = resolve_adjustment(0.75, 0.05, program)
    assert onto.accepted and onto.target_ma == 0.8 and onto.reason.code == "target_adjusted"
    past = resolve_adjustment(0.7999, 0.05, program)
    assert past.accepted and past.target_ma == 0.8 and past.reason.code == "adjust_capped"
    assert past.reason.detail("cap_ma") == 0.8
    at_cap = resolve_adjustment(0.7999999999, 0.05, program)
    assert not at_cap.accepted and at_cap.reason.code == "current_at_cap"
    to_min = resolve_adjustment(0.1, -0.05, program)
    assert to_min.accepted and to_min.target_ma == 0.05
    assert to_min.reason.detail("old_ma") == 0.1 and to_min.reason.detail("new_ma") == 0.05


@pytest.mark.parametrize("delta_ma", [0.04, 0.0, math.nan])
@pytest.mark.requirement("SR-020")
def test_a_refused_step_names_the_step_it_was_given(catalogue: Catalogue, delta_ma: float
                                                    ) -> None:
    """domain.md 6, "Ramp-up" (operator steps 0.05 mA): the refusal says what was asked."""
    program = resolve(catalogue, area="face", indication="pigmentation")
    assert isinstance(program, ResolvedProgram)
    result = resolve_adjustment(0.3, delta_ma, program)
    assert result.accepted is False and result.target_ma == 0.3
    assert result.reason.detail("delta_ma") == str(delta_ma)
    assert result.reason.detail("step_ma") == 0.05
    assert f"({delta_ma} asked)" in result.reason.text


@pytest.mark.requirement("SR-005")
def test_adjustment_refusals_keep_the_target_and_name_the_cap_or_minimum(
        catalogue: Catalogue) -> None:
    """domain.md 6, "Per-area cap": a rise at the cap is refused naming the cap that limits; a
    fall below 0.05 mA is refused naming the minimum; neither changes the target."""
    program = resolve(catalogue, area="face", indication="pigmentation")  # cap 0.8 (program)
    assert isinstance(program, ResolvedProgram)
    at_cap = resolve_adjustment(0.8, 0.05, program)
    assert at_cap.accepted is False and at_cap.target_ma == 0.8
    assert at_cap.reason.detail("limit") == "program" and at_cap.reason.detail("cap_ma") == 0.8
    at_min = resolve_adjustment(0.05, -0.05, program)
    assert at_min.accepted is False and at_min.target_ma == 0.05
    assert at_min.reason.detail("minimum_ma") == 0.05
    capped = resolve_adjustment(0.78, 0.05, program)
    assert capped.accepted is True and capped.reason.detail("limit") == "program"


@pytest.mark.requirement("SR-005")
def test_adjustment_edges_sit_exactly_one_epsilon_from_cap_and_minimum(
        catalogue: Catalogue) -> None:
    """domain.md 6, "Per-area cap" / "Contact loss" (I_set >= 0.05 mA): the comparisons carry
    a 1e-9 mA float tolerance; a value exactly on it is on the accepting side (at the cap, a
    rise is refused; at the minimum, a fall is allowed)."""
    eps = 1e-9
    program = resolve(catalogue, area="face", indication="pigmentation")
    assert isinstance(program, ResolvedProgram)
    assert resolve_adjustment(0.8 - eps, 0.05, program).reason.code == "current_at_cap"
    assert resolve_adjustment(0.8 - 2 * eps, 0.05, program).reason.code == "adjust_capped"
    lands = resolve_adjustment(0.75 + eps, 0.05, program)  # wanted rounds to 0.8 = cap
    assert lands.reason.code == "target_adjusted" and lands.target_ma == 0.8
    assert resolve_adjustment(0.1, -0.05, program).accepted is True


def with_phase(catalogue: Catalogue, program_id: str, default_current_ma: float) -> Catalogue:
    """The catalogue with the main phase of ``program_id`` changed (a manufacturer's edit)."""
    programs = []
    for program in catalogue.programs:
        if program.id == program_id:
            main = dataclasses.replace(program.main, default_current_ma=default_current_ma)
            program = dataclasses.replace(program, main=main)
        programs.append(program)
    return dataclasses.replace(catalogue, programs=tuple(programs))


def with_electrode(catalogue: Catalogue, electrode_id: str, max_current_ma: float) -> Catalogue:
    electrodes = tuple(dataclasses.replace(e, max_current_ma=max_current_ma)
                       if e.id == electrode_id else e
                       for e in catalogue.electrodes)
    return dataclasses.replace(catalogue, electrodes=electrodes)


@pytest.mark.requirement("SR-005")
def test_request_edges_exactly_one_tolerance_from_the_cap_and_the_minimum(
        catalogue: Catalogue) -> None:
    """domain.md 6, "Per-area cap" and "Contact loss" (I_set >= 0.05 mA): the 1e-9 mA float
    tolerance of each comparison is the last accepted value."""
    eps = 1e-9
    cases = [  # (current_ma, outcome): face pigmentation, cap 0.8 mA
        (0.8 + eps, "accepted"), (0.8 + 2 * eps, "current_above_cap"),
        (0.05 - eps, "accepted"), (0.05 - 2 * eps, "current_below_minimum"),
    ]
    for current_ma, outcome in cases:
        result = resolve(catalogue, area="face", indication="pigmentation",
                         current_ma=current_ma)
        assert code_of(result) == outcome, current_ma
        if isinstance(result, ResolvedProgram):
            assert result.target_ma in (0.8, 0.05)


@pytest.mark.requirement("SR-019")
def test_stage_time_edges_exactly_one_tolerance_out(catalogue: Catalogue) -> None:
    """domain.md 6, "Current-stage time": 900 s (+1e-9) and 60 s (-1e-9) are still accepted."""
    eps = 1e-9
    for stage_s, outcome in ((900.0 + eps, "accepted"), (900.0 + 1e-6, "time_above_cap"),
                             (60.0 - eps, "accepted"), (60.0 - 1e-6, "time_too_short")):
        assert code_of(resolve(catalogue, area="face", indication="pigmentation",
                               current_stage_s=stage_s)) == outcome, stage_s


@pytest.mark.requirement("SR-005")
def test_a_catalogue_default_is_lowered_only_when_above_the_cap(catalogue: Catalogue) -> None:
    """domain.md 6, "Per-area cap": a default at the cap (or within 1e-9 of it) is delivered as
    it is, without a decision; one above it is lowered to the cap with the decision."""
    for default_ma, lowered in ((0.8, False), (0.8 + 1e-9, False), (0.8 + 2e-9, True),
                                (0.85, True)):
        edited = with_phase(catalogue, "face.pigmentation", default_current_ma=default_ma)
        program = resolve(edited, area="face", indication="pigmentation")
        assert isinstance(program, ResolvedProgram)
        assert bool(program.decisions) is lowered, default_ma
        assert program.default_lowered_from_ma == (default_ma if lowered else None)
        assert program.target_ma == 0.8
    requested = resolve(catalogue, area="face", indication="pigmentation", current_ma=0.7)
    assert isinstance(requested, ResolvedProgram) and requested.default_lowered_from_ma is None


@pytest.mark.requirement("SR-005")
def test_a_cap_below_the_minimum_target_refuses_the_program(catalogue: Catalogue) -> None:
    """domain.md 6, "Contact loss during current" (blind below I_set 0.05 mA): an electrode
    whose maximum is below 0.05 mA cannot run the program at all; one at 0.05 mA can."""
    for max_ma, outcome in ((0.05, "accepted"), (0.05 - 1e-9, "accepted"),
                            (0.05 - 2e-9, "current_below_minimum"),
                            (0.04, "current_below_minimum")):
        edited = with_electrode(catalogue, "pad_15", max_current_ma=max_ma)
        result = resolve(edited, area="face", indication="pigmentation")
        assert code_of(result) == outcome, max_ma
        if isinstance(result, Reason):
            assert result.detail("requested_ma") == max_ma
            assert result.detail("minimum_ma") == 0.05


def test_a_resolved_program_carries_what_was_asked(catalogue: Catalogue) -> None:
    """domain.md 6, "Dose" (per client, area and day) and "Current density" (catalogue area):
    the core books the dose by area and judges density by the electrode's area."""
    program = resolve(catalogue, area="face", indication="pigmentation", reduced_caps=True,
                      caution_acknowledged=True)
    assert isinstance(program, ResolvedProgram)
    assert (program.area, program.indication, program.electrode_id) == (
        "face", "pigmentation", "pad_15")
    assert program.electrode_area_cm2 == 15.0
    assert program.second_phase is False and program.reduced_caps is True
    second = resolve(catalogue, area="face", indication="disincrustation", second_phase=True)
    assert isinstance(second, ResolvedProgram) and second.second_phase is True
    assert second.reduced_caps is False


@pytest.mark.requirement("SR-043")
def test_refusals_of_the_request_name_the_program_and_area(catalogue: Catalogue) -> None:
    """domain.md 4 (the catalogue's programs): a refusal names what it refused."""
    unknown = resolve(catalogue, area="eye_area", indication="pigmentation")
    assert isinstance(unknown, Reason) and unknown.detail("area") == "eye area"
    wrong_pad = resolve(catalogue, area="face", indication="ageing", electrode_id="eye_ball")
    assert isinstance(wrong_pad, Reason) and wrong_pad.detail("program_id") == "face.ageing"
    wrong_pole = resolve(catalogue, area="face", indication="pigmentation",
                         polarity=Polarity.POSITIVE)
    assert isinstance(wrong_pole, Reason)
    assert wrong_pole.detail("program_id") == "face.pigmentation"
    for field, kwargs in (("current_ma", {"current_ma": math.nan}),
                          ("current_stage_s", {"current_stage_s": math.inf})):
        bad = resolve(catalogue, area="face", indication="pigmentation", **kwargs)
        assert isinstance(bad, Reason) and bad.code == "invalid_value"
        assert bad.detail("field") == field
        assert bad.detail("value") == str(next(iter(kwargs.values())))


@pytest.mark.requirement("SR-018")
def test_the_dose_cap_terms_are_named(catalogue: Catalogue) -> None:
    """domain.md 6, "Dose" (device absolute 30 mA·min) and "Charge density" (3 mA·min/cm²)."""
    terms = dose_cap_terms(20.0, "face", catalogue.electrode("pad_15"), False)
    assert [(t.limit, t.value) for t in terms] == [("area", 20.0), ("charge_density", 45.0),
                                                   ("device", 30.0)]


def test_an_adjusted_target_lands_on_the_micro_ampere_grid(catalogue: Catalogue) -> None:
    """Float noise never reaches a target: 0.6000004 + 0.05 is 0.65 mA (6 decimals, 1 nA)."""
    program = resolve(catalogue, area="face", indication="pigmentation")
    assert isinstance(program, ResolvedProgram)
    assert resolve_adjustment(0.6000004, 0.05, program).target_ma == 0.65
