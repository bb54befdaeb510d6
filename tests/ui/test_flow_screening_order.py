"""The flow's pure state for issue 11 items 3 and 4: screening in the order of domain.md 5 (general
items, then the items about the chosen area), and the optional second phase offered only after a
main phase that ended normally. No window: the rules, both sides of each."""

from __future__ import annotations

import pytest

from kiosk.control.catalogue import load_catalogue
from kiosk.control.commands import Polarity
from kiosk.control.snapshot import TreatmentState
from kiosk.screens.flow import SessionEvent, TreatmentFlow


def _answer_all_no(flow: TreatmentFlow, scope: str) -> None:
    for item in load_catalogue().screening_for(scope):
        flow.answer(item.id, False, about_area=scope == "area")


def test_the_catalogue_splits_the_screening_into_general_and_area_items() -> None:
    catalogue = load_catalogue()
    general = {i.id for i in catalogue.screening_for("general")}
    area = {i.id for i in catalogue.screening_for("area")}
    assert general and area and not general & area
    assert general | area == {i.id for i in catalogue.screening_items}
    assert all("in the area" in i.question or "where the current will flow" in i.question
               for i in catalogue.screening_for("area"))
    assert not any("in the area" in i.question for i in catalogue.screening_for("general"))


@pytest.mark.requirement("SR-120")
def test_the_screening_is_not_cleared_until_the_chosen_areas_own_items_were_asked() -> None:
    flow = TreatmentFlow()
    _answer_all_no(flow, "general")
    assert flow.screening_cleared  # no area yet: nothing about an area can be asked
    flow.choose_area("face")
    assert not flow.screening_cleared  # the area is known, its items are not answered
    _answer_all_no(flow, "area")
    assert not flow.screening_cleared  # answered, but not yet confirmed for this area
    flow.area_screened("face")
    assert flow.screening_cleared
    flow.choose_indication("disincrustation")
    assert flow.start_command().screening_cleared


@pytest.mark.requirement("SR-120")
def test_another_area_forgets_the_answers_about_the_old_one_and_asks_again() -> None:
    flow = TreatmentFlow()
    _answer_all_no(flow, "general")
    flow.choose_area("face")
    flow.answer("chronic_skin_condition", True, about_area=True)
    flow.answer("damaged_skin", False, about_area=True)
    assert flow.blocking_answers() == ["chronic_skin_condition"]
    assert flow.choose_area("face") == []  # the same area: the answers stand
    assert flow.screening_answers["chronic_skin_condition"] is True
    forgotten = flow.choose_area("neck")
    assert forgotten == ["chronic_skin_condition"]
    assert "chronic_skin_condition" not in flow.screening_answers
    assert "damaged_skin" not in flow.screening_answers
    assert flow.screened_area is None and not flow.screening_cleared
    # the general answers are about the client, not the area: they stay
    assert all(i.id in flow.screening_answers for i in load_catalogue().screening_for("general"))


@pytest.mark.requirement("SR-121")
def test_a_yes_about_the_area_blocks_like_a_general_one() -> None:
    flow = TreatmentFlow()
    _answer_all_no(flow, "general")
    flow.choose_area("face")
    _answer_all_no(flow, "area")
    flow.answer("metal_implant", True, about_area=True)
    flow.area_screened("face")
    flow.choose_indication("disincrustation")
    assert not flow.screening_cleared
    assert flow.start_command().screening_cleared is False


def _after_main_phase(state: TreatmentState, *events: str) -> TreatmentFlow:
    flow = TreatmentFlow()
    flow.choose_area("face")
    flow.choose_indication("disincrustation")
    flow.current_started = flow.phase_started = True
    flow.stats.last_state = state
    flow.events += [SessionEvent(1.0, code) for code in events]
    return flow


@pytest.mark.requirement("SR-122")
@pytest.mark.parametrize(("state", "events", "has_one", "offered"), [
    (TreatmentState.DONE, (), True, True),
    (TreatmentState.DONE, (), False, False),  # a program without a second phase
    (TreatmentState.PAUSED, ("stop_operator",), True, False),  # ended early
    (TreatmentState.IDLE, (), True, False),
    (TreatmentState.DONE, ("client_discomfort",), True, False),  # burning
    (TreatmentState.DONE, ("fault:contact_lost", "acknowledged:contact_lost"), True, False),
], ids=["done", "no-second-phase", "stopped", "idle", "burning", "fault"])
def test_the_second_phase_is_offered_only_after_a_main_phase_that_ended_normally(
        state: TreatmentState, events: tuple[str, ...], has_one: bool, offered: bool) -> None:
    assert _after_main_phase(state, *events).second_phase_offered(has_one) is offered


@pytest.mark.requirement("SR-122")
def test_the_second_phase_is_offered_once_and_starts_with_its_own_product_and_defaults() -> None:
    flow = _after_main_phase(TreatmentState.DONE)
    flow.current_ma = 0.6
    flow.current_stage_s = 120.0
    not_started = TreatmentFlow()
    not_started.stats.last_state = TreatmentState.DONE
    assert not not_started.second_phase_offered(True)  # no current stage was started at all
    flow.choose_second_phase("Acidic toner", Polarity.POSITIVE)
    assert not flow.second_phase_offered(True)  # chosen: never offered again
    request = flow.start_command().program
    assert request.second_phase is True and request.polarity is Polarity.POSITIVE
    assert request.current_ma is None and request.current_stage_s is None  # its own defaults
    assert not flow.phase_started and flow.current_started  # a new phase, the same session


@pytest.mark.requirement("SR-127")
@pytest.mark.parametrize(("yes", "allowed"), [
    ((), False),  # nothing blocks: nothing to offer
    (("implanted_device",), True),
    (("implanted_device", "epilepsy"), True),
    (("metal_implant",), True),
    (("implanted_device", "current_intolerance_or_allergy"), False),  # the product itself
    (("pregnancy",), False),  # kept out until confirmed
    (("damaged_skin",), False),  # the peel goes on that skin too
    (("cannot_report_sensations",), False),
], ids=lambda v: "+".join(v) if isinstance(v, tuple) else str(v))
def test_a_session_without_current_only_when_every_yes_is_about_the_current(
        yes: tuple[str, ...], allowed: bool) -> None:
    flow = TreatmentFlow()
    _answer_all_no(flow, "general")
    for item_id in yes:
        flow.answer(item_id, True)
    assert flow.without_current_allowed() is allowed
    assert flow.screen_after_product() == "program"
    flow.without_current = True
    assert flow.screen_after_product() == "peel"
    assert not flow.screening_cleared or not yes  # a yes never clears the current


def test_every_current_only_item_is_a_catalogue_item() -> None:
    from kiosk.screens.flow import CURRENT_ONLY_ITEMS

    assert CURRENT_ONLY_ITEMS - {i.id for i in load_catalogue().screening_items} == set()
