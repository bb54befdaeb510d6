"""Every screen in both languages, driven into its states, without clipped, overflowing or tiny
text and without missing glyphs (issue 11 item 8; ``tests/ui/layout_check.py`` says how); on its
first visit, each screen's help opens with its step's text and fits too (item 7,
``tests/ui/help_check.py``).

The walk goes through the screen registry: a screen added later and not visited here fails the
test, so no screen escapes the check.
"""

from __future__ import annotations

from typing import Any

import pytest
from kivy.core.window import Window

from kiosk.control.snapshot import TreatmentState
from kiosk.screens import registry
from tests.ui.help_check import help_problems
from tests.ui.layout_check import layout_problems

pytestmark = [pytest.mark.ui, pytest.mark.slow]


class Inspector:
    def __init__(self, k: Any, language: str) -> None:
        self.k = k
        self.language = language
        self.seen: set[str] = set()
        self.help_seen: set[str] = set()
        self.problems: list[str] = []

    def check(self, state: str) -> None:
        k = self.k
        k.frames(2)
        self.seen.add(k.screen)
        found = layout_problems(k.app.root_widget, (Window.width, Window.height))
        self.problems += [f"[{self.language}] {k.screen}/{state}: {p}" for p in found]
        if k.screen not in self.help_seen and k.app.snapshot.fault is None:
            # the first visit of each screen: its step's help opens, fits, and leaves STOP
            self.help_seen.add(k.screen)
            self.problems += [f"[{self.language}] {k.screen}/{state} help: {p}"
                              for p in help_problems(k)]


def walk_every_screen(k: Any, look: Inspector) -> None:
    app = k.app
    look.check("idle")
    # the service entry (device information, or a long press on the logo), the PIN pad with
    # dots, a wrong PIN, the forced change of the factory PIN, the menu and its pages
    from tests.ui.service_helpers import FACTORY_PIN, TECHNICIAN_PIN, provision, type_pin

    provision(k)
    k.tap("device_info")
    look.check("versions")
    k.tap("service_entry")
    look.check("empty")
    for digit in "13":
        k.tap(f"pin_{digit}")
    look.check("two digits")
    k.tap("pin_del")
    k.tap("pin_ok")
    look.check("wrong pin")
    type_pin(k, FACTORY_PIN)
    look.check("forced change")
    type_pin(k, "111111")
    look.check("weak pin")
    type_pin(k, TECHNICIAN_PIN)
    type_pin(k, TECHNICIAN_PIN)
    assert k.screen == "service"
    look.check("open")
    k.tap("menu_service_operators")
    look.check("no operators")
    for name in ("Anna Petrova", "Ольга Константинова-Щедрина", "W" * 40):
        k.find("operator_name").text = name
        k.tap("operator_save")
    k.tap("op_rename_op2")
    look.check("three, renaming")
    app.nav.back()
    k.tap("menu_service_pin_change")
    look.check("technician")
    walk_usb_export(k, look)
    # the event log, the device record and the self-test (issue 13)
    from kiosk.access.pins import Role
    from kiosk.screens.service_base import ServiceUser

    app.service_user = ServiceUser("tech", Role.TECHNICIAN)
    app.nav.go("service_calibration")
    look.check("intro")
    k.controller.board.sim.meter.connect_reference()
    k.tap("cal_primary")
    k.advance_until(lambda _s: k.app.controller.query("calibration")["run"]["step"] == "hold",
                    timeout_s=5.0)
    k.tap("cal_field_current")
    for key in ("0", "point", "5"):
        k.tap(f"cal_key_{key}")
    look.check("point typed")
    k.tap("cal_end")
    k.controller.board.sim.meter.disconnect_reference()
    app.nav.go("service_limits")
    k.tap("lim_face_cap_ma")
    for key in ("9", "9"):
        k.tap(f"lim_key_{key}")
    look.check("refused value")
    app.nav.go("service_selftest")
    look.check("not run")
    k.tap("selftest_step_boost")
    k.tap("selftest_run_step")
    k.advance(1.0)
    look.check("boost passed")
    app.nav.go("service_events")
    look.check("list")
    k.tap("event_row_0")
    look.check("detail")
    app.nav.go("service_device")
    look.check("technician")
    app.service_user = ServiceUser("manager", Role.MANAGER)
    app.nav.redisplay()
    look.check("manager")
    app.service_user = None
    app.nav.reset("home")
    k.advance(0.2)
    look.check("nobody chosen")
    k.tap("operator_choice")
    look.check("three")
    k.tap("choose_op2")
    look.check("chosen")

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
    assert k.screen == "area"
    look.check("choice")
    cautions_seen = False
    for area in app.catalogue.areas:
        k.tap(f"area_{area.id}")
        page = 1
        while k.screen == "screening":  # the items "in the area", asked for this area
            look.check(f"{area.id} page {page}")
            for item in app.screen.page_items:
                k.tap(f"no_{item.id}")
            k.tap("next")
            page += 1
        if k.screen == "caution" and not cautions_seen:
            cautions_seen = True
            look.check("unanswered")
            for index, item in enumerate(app.catalogue.caution_items):
                k.tap(f"{'yes' if index == 0 else 'no'}_{item.id}")
            look.check("one applies")
            if k.has("acknowledge_caution"):
                k.tap("acknowledge_caution")
                look.check("acknowledged")
        k.answer_cautions_no()
        assert k.screen == "indication"
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
    k.choose_area("face")
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
    app.nav.go("second_phase")  # the offer after a main phase that ended normally, as it looks
    look.check("offer")
    app.nav.back()
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


def walk_usb_export(k: Any, look: Inspector) -> None:
    """The USB export page (issue 13): no stick, a stick found, an export done."""
    import tempfile
    from pathlib import Path

    from kiosk.access.pins import Role
    from kiosk.screens.service_base import ServiceUser
    from kiosk.usb.sources import FolderSource
    from tests.ui.test_service_export import wait_idle

    stick = Path(tempfile.mkdtemp(prefix="kiosk-walk-usb-")) / "STICK"
    k.app.service_user = ServiceUser("walk", Role.TECHNICIAN)
    k.app.usb_source = FolderSource(stick)
    k.app.nav.go("service_export")
    wait_idle(k)
    look.check("no stick")
    stick.mkdir()
    k.tap("usb_refresh")
    wait_idle(k)
    look.check("stick found")
    k.tap("usb_personal")
    k.tap("usb_export")
    wait_idle(k)
    look.check("exported")
    k.app.service_user = None


def _refs(app: Any) -> list[str]:
    from kiosk.screens.widgets import walk

    return [w.ref for w in walk(app.root_widget) if getattr(w, "ref", "")]


@pytest.mark.timeout(900)
@pytest.mark.requirement("SR-086")
@pytest.mark.requirement("SR-125")
@pytest.mark.parametrize("language", ["en", "ru"])
def test_every_screen_fits_in_both_languages(kiosk: Any, language: str) -> None:
    k = kiosk
    k.app.set_language(language)
    look = Inspector(k, language)
    walk_every_screen(k, look)
    assert set(registry.SCREENS) - look.seen == set(), "screens the walk did not visit"
    assert look.help_seen == look.seen  # SR-125: every screen's help (or its absence) checked
    assert look.problems == [], "\n" + "\n".join(look.problems)
