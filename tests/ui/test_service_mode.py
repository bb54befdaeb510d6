"""Service mode in a real Kivy window (issue 13, entry and accounts): the PIN pad, lock-outs on
the virtual clock and across a restart, the forced change, roles, the gate, the idle timeout,
the refusal while current flows, operators recorded on the session. Screenshots in both
languages (``KIOSK_UPDATE_SCREENSHOTS=1`` copies them to docs/screenshots)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from kiosk.access.pins import AccessCode, Role
from kiosk.control.snapshot import TreatmentState
from kiosk.screens import registry
from kiosk.screens.service_base import ServicePage, ServiceUser
from tests.ui.conftest import build_kiosk, close_kiosk
from tests.ui.service_helpers import (
    FACTORY_PIN,
    MANAGER_PIN,
    TECHNICIAN_PIN,
    enter_as_technician,
    provision,
    set_manager_pin,
    type_pin,
)

pytestmark = pytest.mark.ui


def event_codes(k: Any, count: int = 40) -> list[str]:
    return [e.code for e in k.app.records_view.last_events(count)]


def lock_out(k: Any) -> None:
    for _ in range(5):
        type_pin(k, "000001")


# -- entry ---------------------------------------------------------------------------------------
@pytest.mark.requirement("SR-140")
def test_device_information_has_a_quiet_service_entry_besides_the_long_press(kiosk: Any) -> None:
    k = kiosk
    k.tap("device_info")
    assert k.screen == "device_info"
    assert k.text("info_software")
    assert k.text("info_board") == "simulated"
    k.tap("service_entry")
    assert k.screen == "service_pin"
    assert [k.text(f"pin_{key}") for key in "1234567890"] == list("1234567890")
    assert k.text("pin_del") == "Erase" and k.text("pin_ok") == "OK"
    k.tap("back")
    k.tap("back")
    assert k.screen == "home"


@pytest.mark.requirement("SR-141", "SR-148")
def test_the_factory_pin_opens_only_the_forced_change(kiosk: Any) -> None:
    k = kiosk
    provision(k)
    k.app.nav.go("service_pin")
    type_pin(k, FACTORY_PIN)
    assert k.screen == "service_pin_change" and k.app.service_user is None
    k.app.nav.go("service_operators")  # nothing else is open: the gate sends it back
    assert k.screen == "service_pin"
    type_pin(k, FACTORY_PIN)
    assert k.screen == "service_pin_change"
    for weak, text in (("111111", "One digit repeated is too easy to guess."),
                       ("234567", "Consecutive digits are too easy to guess."),
                       ("876543", "Consecutive digits are too easy to guess."),
                       ("4829", "A PIN is exactly six digits."),
                       (FACTORY_PIN, None)):
        type_pin(k, weak)
        if text is not None:  # refused before the second entry
            assert k.text("pin_message") == text
            continue
        type_pin(k, weak)  # the factory PIN again: refused by the vault as in use
        assert k.text("pin_message") == "That PIN is already in use. Choose another."
    type_pin(k, TECHNICIAN_PIN)
    type_pin(k, "482918")  # the repeat differs
    assert k.text("pin_message").startswith("The two PINs differ")
    assert k.screen == "service_pin_change"
    type_pin(k, TECHNICIAN_PIN)
    type_pin(k, TECHNICIAN_PIN)
    assert k.screen == "service"
    assert k.app.service_user == ServiceUser("technician", Role.TECHNICIAN)
    k.tap("service_leave")
    assert k.screen == "home" and k.app.service_user is None
    k.app.nav.go("service_pin")
    type_pin(k, FACTORY_PIN)  # the factory PIN is dead now
    assert k.text("pin_message").startswith("Wrong PIN.")
    type_pin(k, TECHNICIAN_PIN)
    assert k.screen == "service"


@pytest.mark.requirement("SR-141")
def test_back_from_the_forced_change_leaves_service_mode(kiosk: Any) -> None:
    k = kiosk
    provision(k)
    k.app.nav.go("service_pin")
    type_pin(k, FACTORY_PIN)
    k.tap("back")
    assert k.screen == "home"
    assert not k.app.service_access.active
    assert "service_signed_out" in event_codes(k)


@pytest.mark.requirement("SR-141")
def test_without_a_provisioned_pin_the_pad_refuses_and_says_why(kiosk: Any) -> None:
    k = kiosk
    k.app.nav.go("service_pin")
    assert k.text("pin_message").startswith("No service PIN is set on this device")
    assert not k.enabled("pin_1")


# -- lock-out ------------------------------------------------------------------------------------
@pytest.mark.requirement("SR-142", "SR-143")
@pytest.mark.slow  # minutes of the control loop on the virtual clock
def test_five_wrong_pins_lock_for_five_minutes_then_ten_counted_down(kiosk: Any) -> None:
    k = kiosk
    provision(k)
    k.app.nav.go("service_pin")
    for tries_left in (4, 3, 2, 1):
        type_pin(k, "000001")
        assert k.text("pin_message") == \
            f"Wrong PIN. Tries left before the entry locks: {tries_left}"
    type_pin(k, "000001")
    assert k.text("pin_message") == \
        "Too many wrong PINs. Service entry is locked for 5:00 min."
    assert not k.enabled("pin_1") and not k.enabled("pin_ok")
    k.advance(61.0)
    assert k.text("pin_message") == \
        "Too many wrong PINs. Service entry is locked for 3:59 min."
    k.advance(238.5)  # 0.5 s before the end of the five minutes
    assert not k.enabled("pin_1")
    assert k.text("pin_message").endswith("locked for 0:01 min.")
    k.advance(0.6)
    assert k.enabled("pin_1") and k.text("pin_message") == ""
    lock_out(k)  # the second lock-out doubles
    assert k.text("pin_message") == \
        "Too many wrong PINs. Service entry is locked for 10:00 min."
    codes = event_codes(k)
    assert codes.count("pin_wrong") == 8 and codes.count("pin_locked") == 2


@pytest.mark.requirement("SR-142")
@pytest.mark.slow  # minutes of the control loop on the virtual clock
def test_a_lock_out_survives_a_restart_of_the_kiosk(kivy_window: Any, tmp_path: Path,
                                                    shots_dir: Path) -> None:
    k = build_kiosk(tmp_path, shots_dir)
    state_dir = k.app.service_access.vault_path.parent
    try:
        provision(k)
        k.app.nav.go("service_pin")
        lock_out(k)
        locked_at_s = k.app.wall_now_s()
        k.advance(100.0)
        assert k.text("pin_message").endswith("locked for 3:20 min.")
    finally:
        close_kiosk(k)
    # a new kiosk on the same state folder, its wall clock going on 10 s later
    k = build_kiosk(tmp_path, shots_dir, state_dir=state_dir,
                    wall_start_s=locked_at_s + 110.0)
    try:
        k.app.nav.go("service_pin")
        assert not k.enabled("pin_1")
        assert k.text("pin_message").endswith("locked for 3:10 min.")
        k.advance(190.0)
        assert k.enabled("pin_1")
        type_pin(k, FACTORY_PIN)
        assert k.screen == "service_pin_change"
    finally:
        close_kiosk(k)


@pytest.mark.requirement("SR-143")
def test_every_attempt_is_an_event_and_no_event_holds_a_pin(kiosk: Any) -> None:
    k = kiosk
    enter_as_technician(k)
    k.tap("service_leave")
    k.app.nav.go("service_pin")
    type_pin(k, "123")  # too short: refused without counting
    type_pin(k, "555123")
    type_pin(k, TECHNICIAN_PIN)
    k.tap("service_leave")
    events = k.app.records_view.last_events(30)
    codes = [e.code for e in events]
    for code in ("pin_must_change", "pin_changed", "pin_granted", "pin_wrong",
                 "pin_malformed", "service_signed_out"):
        assert code in codes, code
    for event in events:
        text = f"{event.reason} {event.details_json}"
        for pin in (FACTORY_PIN, TECHNICIAN_PIN, "555123"):
            assert pin not in text, (event.code, text)
    assert k.app.records_view.verify_chain().ok


# -- roles and the gate --------------------------------------------------------------------------
@pytest.mark.requirement("SR-144")
def test_the_gate_inside_a_screen_switch_shows_only_the_pin_pad(kiosk: Any) -> None:
    k = kiosk
    k.tap("device_info")
    k.app.nav.go("service_operators")  # nobody signed in
    assert k.screen == "service_pin"
    assert type(k.app.screen).__name__ == "ServicePinScreen"
    assert k.app.screen_host.children == [k.app.screen]  # the refused page is not on screen
    assert k.app.nav.stack == ("home", "device_info", "service_pin")
    k.tap("back")
    assert k.screen == "device_info"
    assert "service_page_refused" in event_codes(k)


@pytest.mark.requirement("SR-144")
def test_a_manager_sees_manager_pages_and_is_refused_a_technician_page(kiosk: Any) -> None:
    k = kiosk
    enter_as_technician(k)
    set_manager_pin(k)
    k.tap("service_leave")
    k.app.nav.go("service_pin")
    type_pin(k, MANAGER_PIN)
    assert k.app.service_user == ServiceUser("manager", Role.MANAGER)
    assert k.has("menu_service_operators") and k.has("menu_service_pin_change")
    k.tap("menu_service_pin_change")
    assert not k.has("pin_role_technician")  # a manager sets the manager's PIN only
    assert k.text("pin_prompt") == "New PIN for: Salon manager"
    k.app.nav.back()
    assert k.screen == "service"


class _TechnicianPage(ServicePage):
    name = "tests_technician_page"
    service_order = 50
    working: ClassVar[bool] = False

    def busy(self) -> bool:
        return self.working

    def title(self) -> str:
        return "Technician only (test)"

    def build_content(self) -> None:
        self.add_widget(self.action_bar())


class _SharedPage(ServicePage):
    name = "tests_shared_page"
    service_roles = (Role.TECHNICIAN, Role.MANAGER)
    service_order = 5

    def title(self) -> str:
        return "Shared (test)"

    def build_content(self) -> None:
        self.add_widget(self.action_bar())


class _LastPage(_TechnicianPage):
    name = "tests_last_page"
    service_order = 999
    in_menu: ClassVar[bool] = True

    def title(self) -> str:
        return "Last (test)"


@pytest.fixture
def test_pages() -> Iterator[None]:
    """Pages of this test only, in the registry while it runs (the layout walk must not see
    them)."""
    for cls in (_TechnicianPage, _SharedPage, _LastPage):
        registry.register(cls)
    try:
        yield
    finally:
        for cls in (_TechnicianPage, _SharedPage, _LastPage):
            registry.SCREENS.pop(cls.name, None)


def menu_refs(k: Any) -> list[str]:
    from kiosk.screens.widgets import walk

    refs = [w for w in walk(k.app.root_widget) if getattr(w, "ref", "").startswith("menu_")]
    # the grid lists its children last first; the menu's order is top left to bottom right
    return [w.ref for w in sorted(refs, key=lambda w: (-w.y, w.x))]


@pytest.mark.requirement("SR-144")
def test_the_menu_lists_every_registered_page_the_role_admits_in_order(
        kiosk: Any, test_pages: None) -> None:
    k = kiosk
    enter_as_technician(k)
    technician = menu_refs(k)
    assert technician.index("menu_tests_shared_page") < technician.index(
        "menu_service_operators") < technician.index("menu_tests_technician_page") < \
        technician.index("menu_service_pin_change") < technician.index("menu_tests_last_page")
    assert "menu_service" not in technician
    k.tap("menu_tests_technician_page")
    assert k.screen == "tests_technician_page"
    k.app.nav.back()
    set_manager_pin(k)
    k.tap("service_leave")
    k.app.nav.go("service_pin")
    type_pin(k, MANAGER_PIN)
    manager = menu_refs(k)
    assert "menu_tests_technician_page" not in manager
    assert "menu_tests_last_page" not in manager
    assert manager.index("menu_tests_shared_page") < manager.index("menu_service_operators")
    k.app.nav.go("tests_technician_page")  # by hand: the gate, not the menu, refuses it
    assert k.screen == "service_pin"
    assert k.text("pin_hint") == "That page needs the technician's PIN."
    type_pin(k, TECHNICIAN_PIN)
    assert k.screen == "service"


# -- leaving -------------------------------------------------------------------------------------
@pytest.mark.requirement("SR-145")
@pytest.mark.slow  # minutes of the control loop on the virtual clock
def test_service_mode_times_out_to_home_after_three_idle_minutes(kiosk: Any) -> None:
    k = kiosk
    enter_as_technician(k)
    k.tap("menu_service_operators")
    k.advance(179.0)
    assert k.screen == "service_operators" and k.app.service_user is not None
    k.tap("operator_name")  # a touch starts the three minutes again
    k.advance(179.0)
    assert k.screen == "service_operators"
    k.advance(1.2)
    assert k.screen == "home"
    assert k.app.service_user is None and not k.app.service_access.active
    assert "service_idle_timeout" in event_codes(k)
    k.app.nav.go("service_operators")
    assert k.screen == "service_pin"


@pytest.mark.requirement("SR-145")
def test_a_busy_page_holds_the_idle_time_and_reaching_home_ends_service_mode(
        kiosk: Any, test_pages: None) -> None:
    k = kiosk
    k.app.service_user = ServiceUser("technician", Role.TECHNICIAN)  # as a page's test does
    k.advance(0.5)  # set while home is shown: it stays
    k.app.service_access.idle_timeout_s = 5.0  # the rule, shortened (the 180 s: test above)
    k.app.nav.go("tests_technician_page")
    assert k.screen == "tests_technician_page"
    _TechnicianPage.working = True
    try:
        k.advance(8.0)
        assert k.screen == "tests_technician_page"
    finally:
        _TechnicianPage.working = False
    k.advance(4.9)
    assert k.screen == "tests_technician_page"
    k.advance(0.3)
    assert k.screen == "home" and k.app.service_user is None
    k.app.service_user = ServiceUser("technician", Role.TECHNICIAN)
    k.app.nav.go("tests_technician_page")
    k.app.nav.reset("home")  # any way home ends it
    k.advance(0.2)
    assert k.app.service_user is None
    assert event_codes(k).count("service_signed_out") == 1


@pytest.mark.requirement("SR-146")
def test_service_mode_is_refused_while_current_flows(kiosk: Any) -> None:
    from tests.ui.test_treatment_flow import walk_to_current_screen

    k = kiosk
    provision(k)
    walk_to_current_screen(k, shots=False)
    k.tap("slot_a")
    k.advance_until(lambda s: s.state is TreatmentState.RAMP_UP, timeout_s=30.0)
    k.app.nav.go("service_pin")
    assert k.text("pin_message") == "Service mode cannot open while current may flow."
    assert not k.enabled("pin_1")
    from kiosk.screens.service_base import sign_in

    decision = sign_in(k.app, FACTORY_PIN)  # even past the disabled keys
    assert decision.code is AccessCode.CURRENT_FLOWING
    assert k.app.service_user is None and not k.app.service_access.active
    assert "service_refused_current" in event_codes(k)
    k.app.nav.back()
    k.app.service_user = ServiceUser("technician", Role.TECHNICIAN)  # as if it were open
    k.advance(0.2)
    assert k.app.service_user is None
    assert "service_left_current" in event_codes(k)
    assert k.screen == "current"  # the treatment screen stays


# -- operators -----------------------------------------------------------------------------------
@pytest.mark.requirement("SR-147")
def test_an_operator_chosen_on_home_is_recorded_on_the_session(kiosk: Any) -> None:
    k = kiosk
    enter_as_technician(k)
    k.tap("menu_service_operators")
    for name in ("Anna", "Olga", "anna", "   "):
        k.find("operator_name").text = name
        k.tap("operator_save")
    assert k.text("operator_message") == "Type a name first."
    names = [o.name for o in k.app.operators.active()]
    assert names == ["Anna", "Olga"]  # "anna" is taken (letter case ignored)
    k.tap("op_rename_op2")
    k.find("operator_name").text = "Olga K."
    k.tap("operator_save")
    k.find("operator_name").text = "Marta"
    k.tap("operator_save")
    k.tap("op_retire_op3")
    assert [o.name for o in k.app.operators.active()] == ["Anna", "Olga K."]
    k.tap("service_leave") if k.has("service_leave") else k.app.nav.back()
    k.app.nav.reset("home")
    k.advance(0.2)
    assert k.text("operator_choice") == "Choose who treats"
    assert not k.enabled("start_treatment")  # nobody chosen: no treatment yet
    k.tap("operator_choice")
    k.tap("choose_op2")
    assert k.screen == "home"
    k.advance(0.2)
    assert k.text("operator_choice") == "Who treats: Olga K."
    assert k.enabled("start_treatment")
    k.new_client_to_screening()
    session = k.app.records_view.sessions.get_session(str(k.app.flow.record_session))
    assert session.operator == "Olga K."
    codes = event_codes(k)
    assert {"operator_added", "operator_renamed", "operator_retired",
            "operator_chosen"} <= set(codes)


# -- screenshots ---------------------------------------------------------------------------------
@pytest.mark.parametrize("language", ["en", "ru"])
def test_screenshots_of_the_service_screens(kiosk: Any, language: str) -> None:
    k = kiosk
    k.app.set_language(language)
    provision(k)
    k.app.operators.add("Anna")
    k.app.operators.add("Olga")
    k.app.nav.reset("home")
    k.advance(0.2)
    k.screenshot(f"30_home_operator_{language}")
    k.tap("operator_choice")
    k.screenshot(f"31_operator_choice_{language}")
    k.tap("choose_op1")
    k.tap("device_info")
    k.screenshot(f"32_device_info_{language}")
    k.tap("service_entry")
    for digit in "12":
        k.tap(f"pin_{digit}")
    k.screenshot(f"33_service_pin_{language}")
    k.tap("pin_ok")
    type_pin(k, FACTORY_PIN)
    k.screenshot(f"34_service_pin_forced_{language}")
    type_pin(k, TECHNICIAN_PIN)
    type_pin(k, TECHNICIAN_PIN)
    k.advance(0.3)
    k.screenshot(f"35_service_menu_{language}")
    k.tap("menu_service_operators")
    k.screenshot(f"36_service_operators_{language}")
    k.app.nav.back()
    k.tap("menu_service_pin_change")
    k.screenshot(f"37_service_pin_change_{language}")
    k.tap("service_leave") if k.has("service_leave") else None
    k.app.nav.reset("home")
    k.app.nav.go("service_pin")
    lock_out(k)
    k.screenshot(f"38_service_pin_locked_{language}")
