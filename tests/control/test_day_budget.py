"""Issue 11 item 1 (control half): one dose budget per client, area and day (SR-053).

Before: the dose caps restarted with every control session, so disincrustation then
iontophoresis on the same client's face got two full budgets. Now ``StartTreatment`` carries
what the records say this client already had on this area today; the core subtracts it from the
area, device and charge-density caps, refuses a start with nothing left
(``dose_cap_already_reached``, budget "day") and plans the ramp-down so the rest is never
overrun (the dose measured, not the set-point).
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from kiosk.control import domain_limits as lim
from kiosk.control.catalogue import Catalogue
from kiosk.control.codes import Reason
from kiosk.control.commands import EndSession, Polarity, ProgramRequest, StartTreatment, Stop
from kiosk.control.core import MIN_REMAINING_DOSE_MA_MIN, ControlCore, SelfTestReadings
from kiosk.control.cycle import CycleResult
from kiosk.control.limits import resolve_program
from kiosk.control.snapshot import TreatmentState as S
from kiosk.control.validation import validate_command
from tests.consent_version import CONSENT
from tests.control.core_rig import Rig, catalogue

DISINCRUSTATION = ProgramRequest("face", "disincrustation", current_ma=0.8,
                                 polarity=Polarity.NEGATIVE)
IONTOPHORESIS = ProgramRequest("face", "pigmentation", current_ma=0.6)
ROLLER_CM2 = 5.0  # face_roller, the disincrustation electrode
SMALL_CAP = 2.0  # a face dose cap small enough to reach in a few virtual minutes


def small_cap_catalogue(cap_ma_min: float = SMALL_CAP) -> Catalogue:
    base = catalogue()
    face = dataclasses.replace(base.area("face"), dose_cap_ma_min=cap_ma_min)
    return dataclasses.replace(base, areas=tuple(face if a.id == "face" else a
                                                 for a in base.areas))


def rig_with(catalogue_: Catalogue | None = None) -> Rig:
    rig = Rig(ControlCore(catalogue_ or catalogue()))
    rig.plant_substeps = 2
    assert rig.core.self_test(SelfTestReadings(True, True, 1, 0, True, True, 0.0, 0.0),
                              0.0).passed
    return rig


def start(rig: Rig, request: ProgramRequest, session_id: str, dose: float = 0.0,
          density: float = 0.0) -> CycleResult:
    return rig.tick([StartTreatment(request, session_id, True, delivered_today_ma_min=dose,
                                    delivered_today_charge_density_ma_min_per_cm2=density,
                                    consent_version=CONSENT)])


def event(result: CycleResult, code: str) -> Reason:
    found = [e for e in result.events if e.code == code]
    assert found, [e.code for e in result.events]
    return found[0]


def no_current_follows(rig: Rig) -> None:
    for _ in range(50):
        rig.tick()
        assert not rig.actuation.output_relay_closed and rig.actuation.dac_ma == 0.0
    assert rig.core.state in (S.IDLE, S.DONE)


def run_to_done(rig: Rig, limit_s: float = 900.0) -> float:
    """Run the started program to its end; the measured dose of this session."""
    return rig.run_until_state(S.DONE, limit_s).snapshot.dose_ma_min


@pytest.mark.requirement("SR-053")
def test_disincrustation_then_iontophoresis_cannot_get_two_budgets() -> None:
    rig = rig_with(small_cap_catalogue())
    start(rig, DISINCRUSTATION, "A")
    first = run_to_done(rig)
    assert "dose_cap_reached" in rig.codes()
    assert SMALL_CAP - 0.05 <= first <= SMALL_CAP
    rig.tick([EndSession("A")])
    # what the records give the next program: the first one's dose and its roller's density
    refused = start(rig, IONTOPHORESIS, "B", first, first / ROLLER_CM2)
    reason = event(refused, "dose_cap_already_reached")
    assert reason.detail("budget") == "day" and reason.detail("cap_ma_min") == SMALL_CAP
    assert reason.detail("dose_ma_min") == pytest.approx(first)
    assert "treatment_started" not in [e.code for e in refused.events]
    no_current_follows(rig)


@pytest.mark.requirement("SR-053")
def test_the_second_program_gets_only_what_the_first_left_and_ends_under_it() -> None:
    rig = rig_with(small_cap_catalogue())
    start(rig, DISINCRUSTATION, "A")
    rig.run_until_state(S.HOLD, 120.0)
    rig.run(30.0)
    rig.tick([Stop()])
    rig.run_until_state(S.PAUSED, 5.0)
    rig.tick([Stop()])  # finish the stage
    first = rig.run_until_state(S.DONE, 5.0).snapshot.dose_ma_min
    assert 0.5 < first < SMALL_CAP - 0.5
    rig.tick([EndSession("A")])
    started = start(rig, IONTOPHORESIS, "B", first, first / ROLLER_CM2)
    told = event(started, "treatment_started")
    assert told.detail("dose_cap_ma_min") == pytest.approx(SMALL_CAP - first, abs=1e-6)
    assert started.snapshot.dose_cap_ma_min == pytest.approx(SMALL_CAP - first, abs=1e-6)
    second = run_to_done(rig)
    codes = rig.codes()
    assert "dose_cap_reached" in codes and "dose_cap_hard_stop" not in codes
    # the measured dose of both programs together: at, never over, the day's cap
    assert SMALL_CAP - 0.05 <= first + second <= SMALL_CAP


@pytest.mark.requirement("SR-053")
def test_a_start_with_exactly_the_days_cap_delivered_is_refused() -> None:
    rig = rig_with()
    result = start(rig, IONTOPHORESIS, "B", 20.0, 20.0 / 15.0)  # face: 20 mA·min
    reason = event(result, "dose_cap_already_reached")
    assert reason.detail("cap_ma_min") == 20.0 and reason.detail("left_ma_min") == 0.0
    no_current_follows(rig)


@pytest.mark.requirement("SR-053")
def test_a_start_with_the_charge_density_cap_used_up_by_another_electrode_is_refused() -> None:
    """The roller's 3 mA·min/cm² (15 mA·min on 5 cm²) used the day's charge density of the face
    skin; the pad (15 cm², whose own cap would be 45) gets nothing more, though the area's
    20 mA·min would leave 5."""
    rig = rig_with()
    result = start(rig, IONTOPHORESIS, "B", 15.0, lim.CHARGE_DENSITY_CAP_MA_MIN_PER_CM2)
    event(result, "dose_cap_already_reached")
    no_current_follows(rig)


@pytest.mark.requirement("SR-053")
@pytest.mark.parametrize("short_by", [0.0, 0.001, 0.01])
def test_too_little_left_for_one_smallest_ramp_is_refused(short_by: float) -> None:
    """Below one 30 s ramp at 0.05 mA (0.025 mA·min) left there is no treatment to give."""
    rig = rig_with()
    delivered = 20.0 - MIN_REMAINING_DOSE_MA_MIN + 1e-6 + short_by
    event(start(rig, IONTOPHORESIS, "B", delivered), "dose_cap_already_reached")
    no_current_follows(rig)


@pytest.mark.requirement("SR-053")
@pytest.mark.parametrize("left", [MIN_REMAINING_DOSE_MA_MIN + 0.005, 0.3, 1.0])
def test_a_start_just_under_the_cap_runs_and_its_ramp_down_ends_at_or_under_it(
        left: float) -> None:
    rig = rig_with()
    delivered = 20.0 - left
    started = start(rig, IONTOPHORESIS, "B", delivered)
    assert "treatment_started" in [e.code for e in started.events]
    dose = run_to_done(rig)
    codes = rig.codes()
    assert "dose_cap_reached" in codes and "dose_cap_hard_stop" not in codes
    assert max(r.snapshot.measured_ma for r in rig.results) > 0.0  # current did flow
    assert 0.0 < dose <= left  # measured dose: the day's total ends at or under 20
    assert delivered + dose <= 20.0


@pytest.mark.requirement("SR-053")
def test_the_same_session_continued_counts_its_own_dose_and_the_days() -> None:
    """A restart of the same session (after a pause) keeps counting both."""
    rig = rig_with(small_cap_catalogue())
    start(rig, IONTOPHORESIS, "B", 1.0)
    rig.run_until_state(S.HOLD, 120.0)
    rig.tick([Stop()])
    rig.run_until_state(S.PAUSED, 5.0)
    before = rig.results[-1].snapshot.dose_ma_min
    start(rig, IONTOPHORESIS, "B", 1.0)
    dose = run_to_done(rig)
    assert dose >= before and 1.0 + dose <= SMALL_CAP


JUNK = [math.nan, math.inf, -math.inf, -0.01, -1e-9, 300.01, 1e308, True, "5", None, 10**400]


@pytest.mark.requirement("SR-053")
@pytest.mark.parametrize("field", ["delivered_today_ma_min",
                                   "delivered_today_charge_density_ma_min_per_cm2"])
@pytest.mark.parametrize("value", JUNK, ids=repr)
def test_junk_delivered_figures_are_refused_before_anything_acts(field: str,
                                                                 value: object) -> None:
    if field.endswith("cm2") and value == 300.01:
        value = 30.01  # its bound is 10 x the 3 mA·min/cm² cap
    command = StartTreatment(IONTOPHORESIS, "B", True, **{field: value},
                             consent_version=CONSENT)  # type: ignore[arg-type]
    reason = validate_command(command)
    assert isinstance(reason, Reason) and reason.code == "invalid_command"
    assert reason.detail("field") == field
    rig = rig_with()
    result = rig.tick([command])
    assert [e.code for e in result.events if e.code != "selftest_passed"] == \
        ["invalid_command"]
    no_current_follows(rig)


@pytest.mark.requirement("SR-053")
@pytest.mark.parametrize(("dose", "density"), [(0.0, 0.0), (300.0, 30.0), (0, 0)])
def test_the_edges_of_the_plausible_range_are_well_formed(dose: float, density: float) -> None:
    command = StartTreatment(IONTOPHORESIS, "B", True, delivered_today_ma_min=dose,
                             delivered_today_charge_density_ma_min_per_cm2=density,
                             consent_version=CONSENT)
    assert validate_command(command) is command


@pytest.mark.requirement("SR-053")
def test_resolve_program_shows_what_is_left_of_the_day() -> None:
    cat = catalogue()
    fresh = resolve_program(IONTOPHORESIS, cat)
    assert not isinstance(fresh, Reason)
    assert fresh.dose_cap_ma_min == fresh.day_dose_cap_ma_min == 20.0
    after = resolve_program(IONTOPHORESIS, cat, delivered_today_ma_min=3.2,
                            delivered_today_charge_density_ma_min_per_cm2=3.2 / ROLLER_CM2)
    assert not isinstance(after, Reason)
    assert after.dose_cap_ma_min == pytest.approx(16.8) and after.day_dose_cap_ma_min == 20.0
    assert after.dose_limit == "area" and after.delivered_today_ma_min == 3.2
    # on the roller the charge density binds: 15 mA·min day cap, 3.2 of it gone
    roller = resolve_program(DISINCRUSTATION, cat, delivered_today_ma_min=3.2,
                             delivered_today_charge_density_ma_min_per_cm2=3.2 / ROLLER_CM2)
    assert not isinstance(roller, Reason)
    assert roller.dose_cap_ma_min == pytest.approx(11.8) and roller.dose_limit == \
        "charge_density"
    over = resolve_program(IONTOPHORESIS, cat, delivered_today_ma_min=25.0)
    assert not isinstance(over, Reason) and over.dose_cap_ma_min == 0.0
    # a caution item halves the day's cap; what was delivered comes off the half
    halved = resolve_program(dataclasses.replace(IONTOPHORESIS, reduced_caps=True, current_ma=0.4,
                                                 caution_acknowledged=True), cat,
                             delivered_today_ma_min=4.0)
    assert not isinstance(halved, Reason)
    assert halved.day_dose_cap_ma_min == 10.0 and halved.dose_cap_ma_min == 6.0
    for bad in (math.nan, -1.0, math.inf):
        refused = resolve_program(IONTOPHORESIS, cat, delivered_today_ma_min=bad)
        assert isinstance(refused, Reason) and refused.code == "invalid_value"


@pytest.mark.requirement("SR-053")
def test_the_snapshot_dose_cap_is_what_is_left() -> None:
    rig = rig_with()
    result = start(rig, IONTOPHORESIS, "B", 12.5)
    assert result.snapshot.dose_cap_ma_min == pytest.approx(7.5)
