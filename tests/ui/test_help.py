"""The help of every step on screen (issue 11 item 7) and the eye area's "flashes of light mean
stop" where the client is told what to feel (item 4). Every screen's help is opened by the walk
over every screen (``test_layout_every_screen.py`` with ``help_check.py``); here: the texts in both
languages, STOP and the fault overlay while the help is open, and the eye area."""

from __future__ import annotations

from typing import Any

import pytest

from kiosk import i18n
from kiosk.control.catalogue import load_catalogue
from kiosk.control.snapshot import TreatmentState
from kiosk.guide import STEP_IDS, load_guide
from kiosk.screens.flow import Step
from kiosk.screens.help import paginate, section_texts

FLASHES = "Flashes of light or a flickering in the eye mean stop: press STOP at once."


@pytest.mark.requirement("SR-125")
def test_every_step_of_the_flow_has_help_and_every_help_text_has_its_russian() -> None:
    assert tuple(step.name.lower() for step in Step) == STEP_IDS
    russian = i18n.load_translations("ru")
    guide = load_guide()
    untranslated = [text for text in guide.step_texts()
                    if russian.gettext(text) == text or not russian.gettext(text).strip()]
    assert untranslated == []
    for step in guide.steps:
        assert step.do and step.watch_for, step.step


@pytest.mark.requirement("SR-125")
@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_help_sections_are_the_guides_texts_translated(language: str) -> None:
    i18n.set_language(language)
    try:
        catalogue = load_catalogue()
        sections = section_texts("peel", None, catalogue)
        step = load_guide().step("peel")
        assert sections["do"] == [i18n._(t) for t in step.do]
        assert sections["watch"] == [i18n._(t) for t in step.watch_for]
        assert "alarms" not in sections  # no current can flow during the peel
        current = section_texts("current", None, catalogue)
        assert len(current["alarms"]) >= 20  # every alarm the fault overlay can show
        assert "feels" not in section_texts("client", None, catalogue)  # empty: left out
    finally:
        i18n.set_language("en")


def test_pages_never_split_a_text_and_a_text_taller_than_a_page_gets_its_own(
        kivy_window: Any) -> None:
    short, long = "A short line.", " ".join(["A very long line of help text."] * 40)
    pages = paginate([short, short, long, short], 400.0, 120.0)
    assert [[text for text, _h in page] for page in pages] == [[short, short], [long], [short]]
    assert all(height <= 120.0 for page in pages for _t, height in page)
    assert paginate([short], 400.0, 120.0) == [[(short, pages[0][0][1])]]


def _to_current_screen(k: Any, area: str = "face", indication: str = "disincrustation") -> None:
    k.new_client_to_screening()
    k.answer_all_screening_no()
    k.choose_area(area)
    k.tap(f"indication_{indication}")
    if k.screen == "active_choice":
        k.tap("active_0")
    k.tap("start_program")
    k.tap("next")
    k.tap("confirm_active")
    assert k.screen == "placement"


@pytest.mark.requirement("SR-125")
def test_stop_works_while_the_help_is_open_and_a_fault_comes_above_it(kiosk: Any) -> None:
    k = kiosk
    _to_current_screen(k)
    k.tap("placed")
    k.tap("slot_a")
    k.advance_until(lambda s: s.state is TreatmentState.HOLD, timeout_s=120.0)
    k.tap("help")
    assert k.text("help_title") == "Help: Stage 3: galvanic current"
    k.tap("help_tab_alarms")
    alarms = [k.text("help_item_0")]
    while k.enabled("help_next"):
        k.tap("help_next")
        alarms.append(k.text("help_item_0"))
    assert any("Contact lost: the current was cut." in text for text in alarms)
    k.screenshot("help_current_alarms")
    k.tap("stop")  # in its place under the help, and working
    k.advance_until(lambda s: s.state is TreatmentState.PAUSED, timeout_s=5.0)
    assert k.app.snapshot.measured_ma < 0.01
    assert k.app.find("help_view") is not None  # STOP does not close what she reads
    k.tap("help_close")
    k.tap("slot_a")  # resume: a new contact check and a fresh ramp
    k.advance_until(lambda s: s.state is TreatmentState.HOLD, timeout_s=120.0)
    k.tap("help")
    k.app.inject("contact_loss")
    k.advance_until(lambda s: s.fault is not None, timeout_s=5.0)
    children = list(k.app.root_widget.children)  # Kivy: the first child is drawn on top
    view = k.app.find("help_view")
    assert view is not None and k.app.overlay in children
    assert children.index(k.app.overlay) < children.index(view)  # the alarm comes first


@pytest.mark.requirement("SR-125")
def test_the_help_opens_in_russian_and_closes_with_its_screen(kiosk: Any) -> None:
    k = kiosk
    k.app.set_language("ru")
    k.new_client_to_screening()
    k.tap("help")
    assert k.text("help_title") == "Справка: Противопоказания"
    assert k.text("help_item_0") == "• Прочитайте клиенту каждый вопрос и нажмите его ответ."
    k.screenshot("help_screening_ru")
    k.tap("help_close")
    assert k.app.find("help_view") is None
    k.tap("help")
    k.app.set_language("en")  # the screen is rebuilt: the help of the old one goes with it
    assert k.app.find("help_view") is None
    k.tap("help")
    k.app.nav.back()
    # Back from the screening: the consent just given (shown as given, issue 11 item 6)
    assert k.app.find("help_view") is None and k.screen == "consent"


@pytest.mark.requirement("SR-124")
@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_eye_area_says_flashes_of_light_mean_stop_where_the_client_is_told(
        kiosk: Any, language: str) -> None:
    k = kiosk
    k.app.set_language(language)
    flashes = i18n._(FLASHES)
    assert language == "en" or flashes != FLASHES
    _to_current_screen(k, "eye_area", "puffiness")
    assert k.text("sensation_0") == "• " + flashes
    k.tap("placed")
    assert k.screen == "current"
    assert k.text("banner_text") == flashes and k.find("banner").opacity > 0
    k.screenshot(f"current_eye_note_{language}")
    k.tap("help")
    k.tap("help_tab_feels")
    assert k.text("help_item_0") == "• " + flashes
    k.tap("help_close")


def test_the_face_has_no_area_note_in_the_band(kiosk: Any) -> None:
    k = kiosk
    _to_current_screen(k)
    k.tap("placed")
    assert k.find("banner").opacity == 0
