"""Every screen in both languages, driven into its states, without clipped, overflowing or tiny
text and without missing glyphs (issue 11 item 8; ``tests/ui/layout_check.py`` says how).

The walk goes through the screen registry: a screen added later and not visited here fails the
test, so no screen escapes the check.
"""

from __future__ import annotations

from typing import Any

import pytest
from kivy.core.window import Window

from kiosk.control.snapshot import TreatmentState
from kiosk.screens import registry
from tests.ui.layout_check import layout_problems

pytestmark = [pytest.mark.ui, pytest.mark.slow]


class Inspector:
    def __init__(self, k: Any, language: str) -> None:
        self.k = k
        self.language = language
        self.seen: set[str] = set()
        self.problems: list[str] = []

    def check(self, state: str) -> None:
        k = self.k
        k.frames(2)
        self.seen.add(k.screen)
        found = layout_problems(k.app.root_widget, (Window.width, Window.height))
        self.problems += [f"[{self.language}] {k.screen}/{state}: {p}" for p in found]


def walk_every_screen(k: Any, look: Inspector) -> None:
    app = k.app
    look.check("idle")
    # the service entry (a long press on the logo), the PIN pad with dots, a wrong PIN, service
    app.nav.go("service_pin")
    look.check("empty")
    for digit in "13":
        k.tap(f"pin_{digit}")
    look.check("two digits")
    k.tap("pin_del")
    k.tap("pin_ok")
    look.check("wrong pin")
    for digit in app.service_pin:
        k.tap(f"pin_{digit}")
    k.tap("pin_ok")
    assert k.screen == "service"
    look.check("open")
    app.nav.reset("home")

    # a new client: the consent, page by page, unsigned and signed (issue 11 item 6)
    k.tap("start_treatment")
    k.tap("new_client")
    assert k.screen == "consent"
    page = 1
    while k.has("consent_next"):
        look.check(f"consent page {page}")
        k.tap("consent_next")
        page += 1
    look.check("unsigned")
    k.sign()
    look.check("signed")
    k.tap("consent_agree")
    assert k.screen == "screening"
    k.tap("back")
    look.check("consent given")
    k.tap("consent_continue")
    app.finish_treatment()

    # a client whose screening blocks the treatment
    k.new_client_to_screening()
    look.check("page 1")
    first = app.screen.page_items[0]
    k.tap(f"yes_{first.id}")
    for item in app.screen.page_items[1:]:
        k.tap(f"no_{item.id}")
    look.check("answered")
    k.tap("next")
    assert k.screen == "screening_blocked"
    look.check("blocked")
    app.finish_treatment()

    # every area, indication and product up to the program summary and the placement
    k.new_client_to_screening()
    page = 1
    while k.screen == "screening":
        look.check(f"page {page}")
        for item in app.screen.page_items:
            k.tap(f"no_{item.id}")
        k.tap("next")
        page += 1
    if k.screen == "caution":
        look.check("unanswered")
        for index, item in enumerate(app.catalogue.caution_items):
            k.tap(f"{'yes' if index == 0 else 'no'}_{item.id}")
        look.check("one applies")
        if k.has("acknowledge_caution"):
            k.tap("acknowledge_caution")
            look.check("acknowledged")
        k.answer_cautions_no()
    assert k.screen == "area"
    look.check("choice")
    for area in app.catalogue.areas:
        k.tap(f"area_{area.id}")
        look.check(area.id)
        for indication in app.catalogue.indications_for(area.id):
            k.tap(f"indication_{indication.id}")
            if k.screen == "active_choice":
                look.check(indication.id)
                k.tap("active_0")
            look.check(f"{area.id}.{indication.id}")
            for ref in app.screen.electrode_refs if hasattr(app.screen, "electrode_refs") else ():
                k.tap(ref)
                look.check(f"{area.id}.{indication.id} {ref}")
            k.tap("start_program")
            k.tap("next")
            k.tap("confirm_active")
            assert k.screen == "placement"
            look.check(f"{area.id}.{indication.id}")
            if look.language == "ru" and (area.id, indication.id) == ("face", "disincrustation"):
                k.screenshot("23_placement_ru")
            app.nav.back_to("indication")
        app.nav.back_to("area")

    # one treatment through every state of its screens
    k.tap("area_face")
    k.tap("indication_disincrustation")
    if k.screen == "active_choice":
        k.tap("active_0")
    k.tap("start_program")
    look.check("timer not started")
    k.tap("timer_start")
    k.advance(5.0)
    look.check("timer running")
    app.flow.peel.started_at_s -= app.flow.peel.duration_s  # its end, without minutes of sim
    k.advance(0.2)
    look.check("timer done")
    k.tap("next")
    look.check("before")
    k.tap("confirm_active")
    k.tap("placed")
    look.check("idle")
    k.tap("slot_a")
    k.advance_until(lambda s: s.state is TreatmentState.RAMP_UP, timeout_s=30.0)
    look.check("ramp up")
    k.advance_until(lambda s: s.state is TreatmentState.HOLD, timeout_s=120.0)
    look.check("hold")
    if look.language == "ru":
        k.screenshot("21_current_ru")
    k.tap("slot_a")  # pause
    k.advance_until(lambda s: s.state is TreatmentState.PAUSED, timeout_s=90.0)
    look.check("paused")
    k.tap("slot_a")  # resume
    k.advance_until(lambda s: s.state is TreatmentState.HOLD, timeout_s=120.0)
    k.tap("inject_contact_loss") if k.has("inject_contact_loss") else app.inject("contact_loss")
    k.advance_until(lambda s: s.fault is not None, timeout_s=5.0)
    look.check("fault overlay")
    if look.language == "ru":
        k.screenshot("22_fault_ru")
    app.inject("contact_restore")
    k.advance(2.0)
    k.tap("acknowledge")
    look.check("acknowledging")
    k.advance_until(lambda s: s.fault is None, timeout_s=5.0)
    look.check("after acknowledgement")
    k.tap("slot_a")
    k.advance_until(lambda s: s.state is TreatmentState.HOLD, timeout_s=120.0)
    k.tap("burning")
    k.advance(3.0)
    look.check("after burning")
    k.tap("slot_a")  # after burning the primary action ends the current stage
    look.check("timer not started")
    k.tap("timer_start")
    app.flow.tonic.started_at_s -= app.flow.tonic.duration_s
    k.advance(0.2)
    look.check("timer done")
    k.tap("next")
    look.check("not saved")
    k.tap("sensation_warm")
    k.tap("save")
    look.check("saved")
    if look.language == "ru":
        k.screenshot("24_summary_ru")
    k.tap("done")

    # the same client again: the history of a returning client
    k.tap("start_treatment")
    look.check("with a returning client")
    client_id = app.flow.client_id
    buttons = [w for w in _refs(app) if w.startswith("client_") and w != "client_label"]
    assert buttons, "the client saved a moment ago is not offered"
    k.tap(buttons[0])
    assert k.screen == "client_history", client_id
    look.check("one session")
    k.tap("all_sessions")
    assert k.screen == "client_sessions"
    look.check("one page")
    app.nav.reset("home")


def _refs(app: Any) -> list[str]:
    from kiosk.screens.widgets import walk

    return [w.ref for w in walk(app.root_widget) if getattr(w, "ref", "")]


@pytest.mark.timeout(900)
@pytest.mark.requirement("SR-086")
@pytest.mark.parametrize("language", ["en", "ru"])
def test_every_screen_fits_in_both_languages(kiosk: Any, language: str) -> None:
    k = kiosk
    k.app.set_language(language)
    look = Inspector(k, language)
    walk_every_screen(k, look)
    assert set(registry.SCREENS) - look.seen == set(), "screens the walk did not visit"
    assert look.problems == [], "\n" + "\n".join(look.problems)
