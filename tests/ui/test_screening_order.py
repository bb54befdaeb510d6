"""Screening in the order of domain.md 5, tapped through the real kiosk (issue 11 item 3): the
general items before the area, the items "in the area" once it is known and about it, asked
again for another area; a "yes" about the area blocks like any other, the block screen promises
nothing the flow does not offer, and the control core still refuses the current."""

from __future__ import annotations

from typing import Any

import pytest

from kiosk.control.snapshot import TreatmentState
from kiosk.records import SessionBook
from kiosk.screens.widgets import walk

pytestmark = pytest.mark.ui


def _record(k: Any) -> Any:
    return SessionBook(k.app.records_view.store).get_session(str(k.app.flow.record_session))


def _texts(k: Any) -> list[str]:
    return [str(w.text) for w in walk(k.app.root_widget) if getattr(w, "text", "")]


@pytest.mark.requirement("SR-120")
def test_general_items_come_first_and_the_areas_own_items_once_it_is_chosen(kiosk: Any) -> None:
    k = kiosk
    catalogue = k.app.catalogue
    k.new_client_to_screening()
    asked_before_area: list[str] = []
    while k.screen == "screening":
        assert k.text("title") == "Contraindications"
        asked_before_area += [item.id for item in k.app.screen.page_items]
        for item in k.app.screen.page_items:
            k.tap(f"no_{item.id}")
        k.tap("next")
    assert asked_before_area == [i.id for i in catalogue.screening_for("general")]
    assert k.screen == "area"  # the cautions are about the treated area: after it

    k.tap("area_neck")
    assert k.screen == "screening"
    assert k.text("title") == "Contraindications: Neck"
    assert k.text("screening_page").startswith("Ask about the treated area.")
    asked_in_area: list[str] = []
    while k.screen == "screening":
        asked_in_area += [item.id for item in k.app.screen.page_items]
        for item in k.app.screen.page_items:
            k.tap(f"no_{item.id}")
        k.tap("next")
    assert asked_in_area == [i.id for i in catalogue.screening_for("area")]
    assert k.screen == "caution"
    k.answer_cautions_no()
    assert k.screen == "indication"
    record = _record(k)
    assert record.screening_result.value == "clear"
    assert set(record.screening_answers) == {i.id for i in catalogue.screening_items}
    assert k.app.flow.screening_cleared


@pytest.mark.requirement("SR-121")
@pytest.mark.requirement("SR-120")
def test_a_yes_about_the_area_blocks_and_the_core_refuses_the_current(kiosk: Any) -> None:
    k = kiosk
    k.new_client_to_screening()
    k.answer_all_screening_no()
    k.tap("area_face")
    first = k.app.screen.page_items[0]
    assert first.scope == "area"
    k.tap(f"yes_{first.id}")
    for item in k.app.screen.page_items[1:]:
        k.tap(f"no_{item.id}")
    k.tap("next")
    assert k.screen == "screening_blocked"
    assert k.has(f"blocked_reason_{first.id}")
    assert not any("without current" in text for text in _texts(k))  # nothing promised
    refs = {getattr(w, "ref", "") for w in walk(k.app.root_widget)}
    assert {"back", "end_session"} <= refs  # the only ways on
    record = _record(k)
    assert record.screening_result.value == "blocked"
    assert record.screening_answers[first.id] is True

    # a flow forced past the block screen: the control core refuses the start all the same
    flow = k.app.flow
    flow.choose_indication("disincrustation")
    flow.choose_active("Sodium chloride solution 5-10 %", flow.polarity or _negative())
    k.app.nav.go("current")
    k.tap("slot_a")
    k.advance(1.0)
    snap = k.app.snapshot
    assert snap.last_refusal is not None and snap.last_refusal.code == "screening_not_cleared"
    assert snap.state is TreatmentState.IDLE and not snap.output_enabled


def _negative() -> Any:
    from kiosk.control.commands import Polarity

    return Polarity.NEGATIVE


@pytest.mark.requirement("SR-120")
def test_another_area_asks_its_own_items_again_and_notes_the_forgotten_yes(kiosk: Any) -> None:
    k = kiosk
    k.new_client_to_screening()
    k.answer_all_screening_no()
    k.tap("area_face")
    k.tap("yes_chronic_skin_condition")
    assert k.app.flow.screening_answers.get("chronic_skin_condition") is True
    for item in k.app.screen.page_items:
        if item.id != "chronic_skin_condition":
            k.tap(f"no_{item.id}")
    k.tap("next")
    assert k.screen == "screening_blocked"
    k.tap("back")
    k.tap("back")
    assert k.screen == "area"
    k.tap("area_neck")
    assert k.screen == "screening" and k.text("title") == "Contraindications: Neck"
    row = k.app.screen.rows["chronic_skin_condition"]
    assert all(button.kind == "neutral" for button in row.buttons.values())  # asked afresh
    k.answer_all_screening_no()
    k.answer_cautions_no()
    assert k.screen == "indication"
    reset = [e for e in k.app.flow.events if e.code == "area_screening_reset"]
    assert [e.detail for e in reset] == ["face: chronic_skin_condition"]
    record = _record(k)
    assert record.screening_result.value == "clear"
    assert record.screening_answers["chronic_skin_condition"] is False

    # the same area again (Back, then the same button): not asked a third time
    k.tap("back")
    k.tap("back")
    k.tap("back")
    k.tap("back")
    assert k.screen == "area"
    k.tap("area_neck")
    assert k.screen == "caution"


def test_the_peel_caution_excludes_the_devices_own_peel_in_both_languages(kiosk: Any) -> None:
    k = kiosk
    caution = next(c for c in k.app.catalogue.caution_items if "peel" in c.text)
    assert "not this device's own enzymatic peel" in caution.text
    k.app.set_language("ru")
    k.new_client_to_screening()
    k.answer_all_screening_no()
    k.tap("area_face")
    k.answer_all_screening_no()
    assert k.screen == "caution"
    assert "не энзимный пилинг этого аппарата" in k.text(f"question_{caution.id}")
    k.screenshot("04_cautions_ru")


def _no_except(k: Any, yes_id: str | None = None) -> None:
    for item in k.app.screen.page_items:
        k.tap(f"{'yes' if item.id == yes_id else 'no'}_{item.id}")
    k.tap("next")


@pytest.mark.requirement("SR-127")
@pytest.mark.requirement("SR-121")
def test_a_yes_about_the_current_alone_offers_peel_product_and_tonic_recorded_as_such(
        kiosk: Any) -> None:
    k = kiosk
    k.new_client_to_screening()
    _no_except(k, "implanted_device")
    assert k.screen == "screening_blocked"
    assert k.has("without_current") and k.has("end_session")
    k.screenshot("03c_blocked_without_current")
    k.tap("without_current")
    # the rest of the screening is still asked: the general items, the area's, the cautions
    assert k.screen == "screening" and k.app.nav.current.params["page"] == 1
    k.answer_all_screening_no()
    k.tap("area_face")
    k.answer_all_screening_no()
    k.answer_cautions_no()
    k.tap("indication_pigmentation")
    if k.screen == "active_choice":
        k.tap("active_0")
    assert k.screen == "peel"  # no program summary: no current in this session
    k.tap("next")
    assert k.screen == "active" and k.has("no_current_note") and not k.has("polarity_words")
    k.tap("confirm_active")
    assert k.screen == "tonic"
    k.tap("next")
    assert k.screen == "summary"
    k.tap("sensation_none")
    k.tap("save")
    assert "current" not in k.app.nav.stack and "placement" not in k.app.nav.stack
    snap = k.app.snapshot
    assert snap.session_id is None and not snap.output_enabled  # the core never started
    record = _record(k)
    assert record.screening_result.value == "blocked"
    assert record.screening_answers["implanted_device"] is True
    assert record.program is None
    assert record.summary.stop_reason == "screening_blocked_without_current"
    assert record.summary.dose_ma_min is None
    events = [(e["event"], e.get("detail")) for e in record.summary.ramp_events]
    assert ("without_current_chosen", "implanted_device") in events
    assert any(code == "active_applied" and detail for code, detail in events)


@pytest.mark.requirement("SR-127")
def test_a_yes_about_the_product_or_the_skin_ends_the_session_without_an_offer(
        kiosk: Any) -> None:
    k = kiosk
    k.new_client_to_screening()
    _no_except(k, "implanted_device")
    k.tap("without_current")
    k.answer_all_screening_no()
    k.tap("area_face")
    _no_except(k, "damaged_skin")  # the peel would go on that skin
    assert k.screen == "screening_blocked"
    assert not k.has("without_current") and k.has("end_session")
    k.app.set_language("ru")
    assert not k.has("without_current")
    k.screenshot("03d_blocked_ru")
    k.tap("end_session")
    assert k.screen == "home"

    k.app.set_language("en")
    k.new_client_to_screening()
    page_items = [i.id for i in k.app.screen.page_items]
    allergy = "current_intolerance_or_allergy"
    while allergy not in page_items:
        _no_except(k)
        page_items = [i.id for i in k.app.screen.page_items]
    _no_except(k, allergy)
    assert k.screen == "screening_blocked" and not k.has("without_current")
