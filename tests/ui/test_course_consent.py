"""Consent and course, tapped through in a real window (issue 11 items 5 and 6).

Consent gating (no consent: no current; consent given: stored with version and time; catalogue
text changed: asked again), two clients in a row, a restart, a course warning (too soon), and a
history that shows a STOP, a fault, an E-stop, a screening block with its reason and an
interrupted session with its durable dose. Screenshots in both languages.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from kiosk.control.snapshot import TreatmentState
from kiosk.records.clients import ClientRegistry
from kiosk.records.consents import ConsentBook, Signature
from kiosk.records.events import LogEvent, stamp
from kiosk.records.sessions import ProgramChoice, SessionBook, SessionSummary
from tests.ui.conftest import build_kiosk, close_kiosk
from tests.ui.test_treatment_flow import session_record

pytestmark = pytest.mark.ui

DAY_S = 86_400.0
DISINCRUSTATION = ProgramChoice("face", "disincrustation", "face.disincrustation", "1.0.0",
                                "Sodium chloride solution 5-10 %", "negative", "face_roller",
                                0.8)
SIGNATURE = Signature(300, 120, (((10, 10), (90, 60), (200, 20)),))


def from_screening_to_current(k: Any) -> None:
    k.answer_all_screening_no()
    k.choose_area("face")
    k.tap("indication_disincrustation")
    if k.screen == "active_choice":
        k.tap("active_0")
    k.tap("start_program")
    k.tap("next")
    k.tap("confirm_active")
    k.tap("placed")
    assert k.screen == "current"


def returning(k: Any, client_id: str) -> None:
    """Home -> client -> the returning client's button -> her history."""
    k.tap("start_treatment")
    k.find("search").text = client_id
    k.frames(2)
    k.tap(f"client_{client_id}")
    assert k.screen == "client_history"


@pytest.mark.requirement("SR-130", "SR-133")
def test_no_current_without_consent_and_the_consent_is_stored_with_version_and_time(
        kiosk: Any) -> None:
    k = kiosk
    app = k.app
    k.tap("start_treatment")
    before_s = time.time()
    k.tap("new_client")
    assert k.screen == "consent"  # a new client: the consent comes before the screening
    assert not k.has("consent_agree")
    k.screenshot("25_consent")
    pages = 0
    while k.has("consent_next"):
        k.tap("consent_next")
        pages += 1
    assert pages == len(app.catalogue.consent.text("en").pages)
    assert not k.enabled("consent_agree")  # no signature, no agreement
    k.tap("signature_pad")  # a tap is a dot, not a signature
    assert not k.enabled("consent_agree")
    k.sign()
    assert k.enabled("consent_agree")
    k.screenshot("26_signature")
    k.tap("signature_clear")
    assert not k.enabled("consent_agree")
    k.sign()
    k.tap("consent_agree")
    assert k.screen == "screening"
    client_id = app.flow.client_id
    given = ConsentBook(app.records_view.store).consent_in_force(
        client_id, app.catalogue.consent_version)
    assert given is not None
    assert given.consent_version == app.catalogue.consent_version == app.flow.consent_version
    assert given.catalogue_version == app.catalogue.version and given.language == "en"
    assert before_s - 1 <= given.given_wall_s <= time.time() + 1
    assert given.text == app.catalogue.consent.text("en").full_text
    assert given.signature.ink_px > 100

    from_screening_to_current(k)
    # a screen that lost the consent: the control core refuses, nothing flows
    app.flow.consent_version = None
    k.tap("slot_a")
    k.advance(1.0)
    assert app.snapshot.last_refusal is not None
    assert app.snapshot.last_refusal.code == "consent_missing"
    assert app.snapshot.state is TreatmentState.IDLE and not app.snapshot.output_enabled
    assert "consent" in k.text("banner_text")
    # one signed under another text: stale, nothing flows
    app.flow.consent_version = "1+000000000000"
    k.tap("slot_a")
    k.advance(1.0)
    assert app.snapshot.last_refusal.code == "consent_stale"
    assert app.snapshot.state is TreatmentState.IDLE and app.snapshot.measured_ma < 0.01
    # the consent from the records: the current starts, the session names its consent
    app.flow.consent_version = given.consent_version
    k.tap("slot_a")
    k.advance_until(lambda s: s.state is TreatmentState.RAMP_UP, timeout_s=10.0)
    assert session_record(k).consent_version == given.consent_version


@pytest.mark.requirement("SR-133", "SR-131")
def test_a_consent_to_an_earlier_text_is_asked_again(kiosk: Any) -> None:
    k = kiosk
    app = k.app
    store = app.records_view.store
    client = ClientRegistry(store).create_client("Vera").client_id
    ConsentBook(store, wall_now_s=lambda: time.time() - 30 * DAY_S).record_consent(
        client, consent_version="0+5f3a1c2b9d8e", catalogue_version="0.9.0", language="en",
        text="The consent of the catalogue before.", signature=SIGNATURE, operator="Eva")
    returning(k, client)
    assert "to be signed" in k.text("consent_status")
    k.tap("continue_client")
    assert k.screen == "consent"
    assert "has changed" in k.text("consent_changed")
    k.give_consent()
    assert k.screen == "screening"
    assert app.flow.consent_version == app.catalogue.consent_version
    # Back from the screening: the consent stands, it is not asked twice
    k.tap("back")
    assert k.screen == "consent" and k.has("consent_given")
    k.tap("consent_continue")
    assert k.screen == "screening"
    k.app.set_language("ru")
    k.tap("back")
    k.screenshot("25_consent_given_ru")


@pytest.mark.requirement("SR-133")
def test_two_clients_in_a_row_each_sign_and_a_restart_keeps_the_consent(
        kivy_window: Any, tmp_path: Path, shots_dir: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    k = build_kiosk(tmp_path, shots_dir, state_dir=state_dir)
    try:
        k.new_client_to_screening()  # client A signs
        first = k.app.flow.client_id
        k.app.finish_treatment()
        k.tap("start_treatment")
        k.tap("new_client")  # client B: A's consent is not hers
        assert k.screen == "consent"
        assert k.app.flow.consent_version is None
        k.app.set_language("ru")
        k.screenshot("25_consent_ru")
        while k.has("consent_next"):
            k.tap("consent_next")
        k.sign()
        k.screenshot("26_signature_ru")
        k.tap("consent_agree")
        second = k.app.flow.client_id
        assert second != first and k.screen == "screening"
        ru = ConsentBook(k.app.records_view.store).consent_in_force(
            second, k.app.catalogue.consent_version)
        assert ru is not None and ru.language == "ru"
        assert ru.text == k.app.catalogue.consent.text("ru").full_text
    finally:
        close_kiosk(k)
    # the device restarts: A is a returning client whose consent is in force
    k = build_kiosk(tmp_path / "after", shots_dir, state_dir=state_dir)
    try:
        returning(k, first)
        assert "signed on" in k.text("consent_status")
        k.tap("continue_client")
        assert k.screen == "screening"  # not asked again
        assert k.app.flow.consent_version == k.app.catalogue.consent_version
    finally:
        close_kiosk(k)


def _history(store: Any) -> str:
    """A client with a course and every way a session can end; returns her id."""
    client = ClientRegistry(store).create_client("Olga").client_id
    ConsentBook(store).record_consent(
        client, consent_version="0+5f3a1c2b9d8e", catalogue_version="0.9.0", language="en",
        text="An earlier consent.", signature=SIGNATURE, operator="Eva")
    now = time.time()

    def session(days_ago: float, program: ProgramChoice | None, summary: SessionSummary | None,
                answers: dict[str, bool] | None = None, operator: str = "Eva",
                control_id: str | None = None) -> str:
        book = SessionBook(store, wall_now_s=lambda: now - days_ago * DAY_S)
        session_id = book.start_session(client, operator, control_id)
        book.record_screening(session_id, answers or {"pregnancy": False})
        if program is not None:
            book.record_program(session_id, program)
        if summary is not None:
            book.close_session(session_id, summary)
        return session_id

    session(40, DISINCRUSTATION, SessionSummary("completed", 0.79, 0.8, 3.2, 240.0))
    session(33, None, SessionSummary("screening_blocked"), {"pregnancy": True})
    session(19, DISINCRUSTATION, SessionSummary("completed", 0.78, 0.8, 3.1, 240.0),
            operator="Ola")
    session(12, DISINCRUSTATION, SessionSummary("contact_lost", 0.7, 0.8, 0.6, 70.0,
                                                ("contact_lost",)))
    session(9, DISINCRUSTATION, SessionSummary("estop", 0.5, 0.8, 0.2, 40.0, ("estop",)))
    # interrupted: the last durable dose_progress is what counts
    session(7, DISINCRUSTATION, None, control_id="ctl-cut")
    store.append_events([stamp(LogEvent(
        "dose_progress", "Dose so far", details={"session_id": "ctl-cut", "dose_ma_min": 0.9,
                                                 "elapsed_s": 100.0, "peak_ma": 0.8},
        session_id="ctl-cut"), 1.0, now - 7 * DAY_S + 100)], durable=True)
    SessionBook(store).mark_interrupted()
    session(5, DISINCRUSTATION, SessionSummary("operator", 0.6, 0.8, 1.1, 90.0))
    return client


@pytest.mark.requirement("SR-135", "SR-136")
@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_course_warns_too_soon_and_the_history_shows_how_every_session_ended(
        kiosk: Any, language: str) -> None:
    k = kiosk
    app = k.app
    client = _history(app.records_view.store)
    app.set_language(language)
    returning(k, client)
    heading = k.text("course_face.disincrustation")
    warning = k.text("course_warning_face.disincrustation")
    earlier = k.text("course_earlier_face.disincrustation")
    if language == "en":
        # 40, 19, 12, 9, 7 (interrupted, 0.9 mA·min) and 5 days ago: six sessions with current
        assert "next is session 7 of 4-6" in heading and "5 days since the last" in heading
        assert "Too soon" in warning and "14 days" in warning
        assert "Sodium chloride" in earlier and "1.1 mA·min" in earlier
    else:
        assert "7" in heading and "5" in heading and "14" in warning
        assert "1,1" in earlier  # the Russian decimal comma
    k.screenshot(f"27_client_course_{language}")
    # a note, typed and kept
    note = "Sensitive chin" if language == "en" else "Чувствительный подбородок"
    k.find("note_input").text = note
    k.tap("add_note")
    assert "chin" in k.text("note_0") or "подбородок" in k.text("note_0")
    k.tap("all_sessions")
    assert k.screen == "client_sessions"
    rows = []
    for _page in range(2):
        rows += [(k.text(f"session_{i}"), k.text(f"session_{i}_how"))
                 for i in range(4) if k.has(f"session_{i}")]
        if k.enabled("older"):
            if _page == 0:
                k.screenshot(f"28_client_sessions_{language}")
            k.tap("older")
    assert len(rows) == 7  # every session, not the last three
    hows = [how for _what, how in rows]
    if language == "en":
        assert "ended with STOP" in hows[0] and "1.1 mA·min" in hows[0] and "Eva" in hows[0]
        assert "interrupted" in hows[1] and "at least 0.9 mA·min (recorded" in hows[1]
        assert "Fault: Emergency stop" in hows[2]
        assert "Fault: Contact lost" in hows[3]
        assert "finished normally" in hows[4] and "Ola" in hows[4] and "4:00 min" in hows[4]
        assert "screening: not possible: Is the client pregnant" in hows[5]
        assert "0.79 mA" in hows[6]
        assert "Sodium chloride" in rows[0][0] and "Deep cleansing" in rows[0][0]
    else:
        assert all("ended with STOP" not in how for how in hows)  # translated
        assert "беремен" in hows[5].lower()
    assert not k.enabled("older") and k.enabled("newer")
