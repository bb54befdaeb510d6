"""The real kiosk in a real window, tapped through by a test, with the real control loop on the
simulated board (virtual clock). Assertions are on what the screen shows and on the snapshot.

Each test builds its own app into the process's one window (see conftest.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from kiosk.control.snapshot import TreatmentState
from kiosk.records import SessionBook

pytestmark = pytest.mark.ui

FLOWING = (TreatmentState.RAMP_UP, TreatmentState.HOLD)


def walk_to_current_screen(k: Any, *, area: str = "face",
                           indication: str = "disincrustation", time_taps: int = 0,
                           shots: bool = False) -> None:
    """Client, screening, cautions, area, indication, product, program, peel, active, placement."""
    k.new_client_to_screening()
    if shots:
        k.screenshot("03_screening")
    k.answer_all_screening_no()
    assert k.screen == "area"
    if shots:
        k.screenshot("05_area")
    k.tap(f"area_{area}")
    if shots:
        k.screenshot("05b_screening_area")  # the items "in the area", once it is known
    k.answer_all_screening_no()
    if shots:
        k.screenshot("04_cautions")
    k.answer_cautions_no()
    assert k.screen == "indication"
    if shots:
        k.screenshot("06_indication")
    k.tap(f"indication_{indication}")
    if k.screen == "active_choice":
        if shots:
            k.screenshot("07_product")
        k.tap("active_0")
    assert k.screen == "program"
    for _ in range(time_taps):
        k.tap("time_minus")
    if shots:
        k.screenshot("08_program")
    k.tap("start_program")
    assert k.screen == "peel"
    if shots:
        k.tap("timer_start")
        k.advance(12.0)
        k.screenshot("09_peel")
    k.tap("next")
    assert k.screen == "active"
    if shots:
        k.screenshot("10_active")
    k.tap("confirm_active")
    assert k.screen == "placement"
    if shots:
        k.screenshot("11_placement")
    k.tap("placed")
    assert k.screen == "current"


def start_current_and_hold(k: Any) -> None:
    assert k.text("slot_a") == "Check contact and start"
    k.tap("slot_a")
    k.advance_until(lambda s: s.state is TreatmentState.HOLD, timeout_s=120.0)


def session_record(k: Any) -> Any:
    return SessionBook(k.app.records_view.store).get_session(str(k.app.flow.record_session))


def test_happy_path_reaches_a_saved_summary(kiosk: Any) -> None:
    k = kiosk
    k.screenshot("01_home")
    assert k.text("device_status") == "Ready"
    k.tap("start_treatment")
    k.screenshot("02_client")
    k.tap("back")
    assert k.screen == "home"
    walk_to_current_screen(k, time_taps=2, shots=True)  # 4 min lowered to 2 min
    assert k.text("remaining") == "Remaining 2:00 min"
    k.tap("slot_a")  # check contact and start
    k.advance_until(lambda s: s.state is TreatmentState.RAMP_UP, timeout_s=5.0)
    assert k.text("state_word") == "Ramping up"
    k.advance_until(lambda s: s.state is TreatmentState.HOLD, timeout_s=120.0)
    k.advance(3.0)
    snap = k.app.snapshot
    assert snap.polarity is not None and snap.polarity.value == "negative"
    assert "negative" in k.text("polarity_words")
    assert k.text("state_word") == "Holding"
    assert abs(float(k.text("measured")) - snap.target_ma) <= 0.03
    assert k.text("target") == f"target {snap.target_ma:.2f} mA"
    k.screenshot("12_current")
    k.advance_until(lambda s: s.state is TreatmentState.DONE, timeout_s=150.0)
    done = k.app.snapshot
    assert not done.output_enabled and done.measured_ma < 0.01
    assert done.elapsed_s == pytest.approx(120.0, abs=1.0)
    assert k.text("slot_a") == "Next: optional second phase"  # deep cleansing ended normally
    k.tap("slot_a")
    assert k.screen == "second_phase"
    k.tap("skip_second_phase")  # declined (SR-122): on to the tonic
    assert k.screen == "tonic"
    k.tap("timer_start")
    k.advance(20.0)
    assert k.text("timer_value") == "1:40 min"
    k.screenshot("14_tonic")
    k.tap("next")
    assert k.screen == "summary"
    assert k.text("summary_dose").startswith(f"Delivered dose: {done.dose_ma_min:.1f} mA·min")
    assert k.text("summary_duration") == "Current-stage time: 2:00 min"
    assert not k.enabled("save")  # the client's sensation first
    k.tap("sensation_tingling")
    k.screenshot("15_summary")
    k.tap("save")
    assert k.text("saved") == "Saved to the client's record."
    record = session_record(k)
    assert record.status.value == "closed"
    assert record.summary.stop_reason == "completed"
    assert record.summary.dose_ma_min == pytest.approx(done.dose_ma_min, abs=0.01)
    assert [s.sensation.value for s in record.sensations] == ["tingling"]
    assert record.program is not None and record.program.polarity == "negative"
    k.tap("done")
    assert k.screen == "home"


@pytest.mark.requirement("SR-046")
def test_a_yes_on_the_screening_ends_the_session_without_current(kiosk: Any) -> None:
    k = kiosk
    k.new_client_to_screening()
    for item in k.app.screen.page_items:
        k.tap(f"{'yes' if item.id == 'pregnancy' else 'no'}_{item.id}")
    k.tap("next")
    assert k.screen == "screening_blocked"
    assert k.text("blocked_heading") == "Treatment with current is not possible today."
    assert k.text("blocked_reason_pregnancy") == "• Is the client pregnant, or could she be?"
    k.screenshot("03b_screening_blocked")
    record = session_record(k)
    assert record.screening_result.value == "blocked"
    assert record.screening_answers["pregnancy"] is True
    k.tap("end_session")
    assert k.screen == "home"
    assert session_record_status(k, record.session_id) == "closed"
    snap = k.app.snapshot
    assert snap.state is TreatmentState.IDLE and not snap.output_enabled


def session_record_status(k: Any, session_id: str) -> str:
    return SessionBook(k.app.records_view.store).get_session(session_id).status.value


@pytest.mark.requirement("SR-038", "SR-012", "SR-037")
def test_contact_loss_is_shown_latched_and_only_a_fresh_ramp_brings_current_back(
        kiosk: Any) -> None:
    k = kiosk
    walk_to_current_screen(k)
    start_current_and_hold(k)
    k.tap("dev_menu")
    k.tap("inject_contact_loss")
    k.tap("dev_close")
    to_safe_s = k.advance_until(
        lambda s: s.state is TreatmentState.FAULT and not s.output_enabled, timeout_s=2.0,
        poll_s=0.01)
    assert to_safe_s <= 0.3
    assert k.app.snapshot.fault is not None and k.app.snapshot.fault.code == "contact_lost"
    assert k.text("fault_what") == "Contact lost: the current was cut."
    assert k.text("fault_todo").startswith("What to do: Wet the sponges")
    assert k.has("stop")  # STOP stays reachable over the overlay
    k.screenshot("13_fault_contact_lost")
    k.app.inject("contact_restore")
    k.advance(3.0)
    snap = k.app.snapshot
    assert snap.state is TreatmentState.FAULT and not snap.output_enabled  # never by itself
    assert k.has("acknowledge")
    k.tap("acknowledge")
    k.advance_until(lambda s: s.fault is None, timeout_s=2.0)
    assert not k.has("fault_what")
    k.advance(5.0)
    snap = k.app.snapshot
    assert snap.state is TreatmentState.IDLE
    assert not snap.output_enabled and snap.measured_ma < 0.01
    assert k.text("slot_a") == "Check contact and start again"
    k.tap("slot_a")
    k.advance_until(lambda s: s.state is TreatmentState.RAMP_UP, timeout_s=5.0)
    assert k.app.snapshot.setpoint_ma < 0.1  # from zero, not from where it was
    k.advance_until(lambda s: s.state is TreatmentState.HOLD, timeout_s=120.0)


@pytest.mark.requirement("SR-038", "SR-039")
def test_an_emergency_stop_cuts_at_once_and_is_acknowledged_only_after_release(
        kiosk: Any) -> None:
    k = kiosk
    walk_to_current_screen(k)
    start_current_and_hold(k)
    k.app.inject("estop_press")
    to_safe_s = k.advance_until(
        lambda s: s.state is TreatmentState.FAULT and not s.output_enabled, timeout_s=1.0,
        poll_s=0.01)
    assert to_safe_s <= 0.1
    assert k.text("fault_what") == "Emergency stop pressed: the current was cut."
    k.advance(2.0)
    k.tap("acknowledge")
    k.advance(1.0)
    assert k.app.snapshot.state is TreatmentState.FAULT  # still pressed: not acknowledged
    assert k.text("fault_refusal") != ""
    assert k.enabled("acknowledge")
    k.app.inject("estop_release")
    k.advance(1.0)
    k.tap("acknowledge")
    k.advance_until(lambda s: s.state is TreatmentState.IDLE, timeout_s=2.0)
    k.advance(3.0)
    assert k.app.snapshot.measured_ma < 0.01 and not k.app.snapshot.output_enabled


@pytest.mark.requirement("SR-022")
def test_client_feels_burning_stops_within_two_seconds_and_is_recorded(kiosk: Any) -> None:
    k = kiosk
    walk_to_current_screen(k)
    start_current_and_hold(k)
    k.tap("burning")
    to_zero_s = k.advance_until(lambda s: s.measured_ma < 0.01, timeout_s=3.0, poll_s=0.01)
    assert to_zero_s <= 2.0
    k.advance(1.0)
    assert not k.app.snapshot.output_enabled
    assert k.text("banner_text").startswith("Stopped: the client felt burning.")
    assert [s.sensation.value for s in session_record(k).sensations] == ["burning"]


@pytest.mark.requirement("SR-037", "SR-022")
def test_stop_is_big_bottom_right_and_reaches_zero_within_two_seconds(kiosk: Any) -> None:
    k = kiosk
    walk_to_current_screen(k)
    assert not k.has("back")  # leaving the current screen would hide STOP
    stop = k.find("stop")
    x, y = stop.to_window(stop.x, stop.y)
    assert stop.height >= 96 and x + stop.width >= 780 and y <= 20
    assert stop.text == "STOP"
    start_current_and_hold(k)
    k.tap("stop")
    to_zero_s = k.advance_until(lambda s: s.measured_ma < 0.01, timeout_s=3.0, poll_s=0.01)
    assert to_zero_s <= 2.0
    k.advance(1.0)
    assert k.app.snapshot.state is TreatmentState.PAUSED
    assert k.text("slot_a") == "Resume (new contact check)"


@pytest.mark.requirement("SR-035")
def test_a_frozen_screen_stops_the_current_through_the_heartbeat(kiosk: Any) -> None:
    k = kiosk
    walk_to_current_screen(k)
    start_current_and_hold(k)
    k.advance(5.0)
    assert k.app.snapshot.state is TreatmentState.HOLD  # the polls keep it alive
    k.controller.run_for(5.0)  # the UI thread is stuck: no poll, no heartbeat
    k.app.poll()
    snap = k.app.snapshot
    assert snap.state is TreatmentState.FAULT and not snap.output_enabled
    assert snap.fault is not None and snap.fault.code == "ui_heartbeat_lost"


@pytest.mark.requirement("SR-036")
def test_closing_the_app_leaves_the_board_in_the_safe_state(kiosk: Any) -> None:
    k = kiosk
    walk_to_current_screen(k)
    start_current_and_hold(k)
    k.app.dispatch("on_stop")
    k.controller.run_for(3.0)
    snap = k.controller.snapshot
    assert not snap.output_enabled and snap.measured_ma < 0.01


def test_back_goes_to_each_earlier_step_with_the_choices_kept(kiosk: Any) -> None:
    k = kiosk
    k.new_client_to_screening()
    k.answer_all_screening_no()
    k.choose_area("neck")
    assert {w.ref for w in _buttons(k) if w.ref.startswith("indication_")} == {
        "indication_ageing", "indication_dry_skin"}  # only what the catalogue offers the neck
    k.tap("back")
    assert k.screen == "caution"  # after the area: "near the treated area" means the neck
    k.tap("back")
    assert k.screen == "screening" and k.app.nav.current.params == {"page": 1, "scope": "area"}
    assert k.find(f"no_{k.app.screen.page_items[0].id}").kind == "selected"
    k.tap("back")
    assert k.screen == "screening" and k.app.nav.current.params == {"scope": "area"}
    k.tap("back")
    assert k.screen == "area"
    assert k.find("area_neck").kind == "selected"
    k.tap("back")
    assert k.screen == "screening" and k.app.nav.current.params == {"page": 2,
                                                                   "scope": "general"}
    assert k.find(f"no_{k.app.screen.page_items[0].id}").kind == "selected"
    for _ in range(3):
        k.tap("back")
    assert k.screen == "consent" and k.has("consent_given")  # signed: not asked again
    k.tap("back")
    assert k.screen == "client"
    k.tap("back")
    assert k.screen == "home" and k.app.nav.stack == ("home",)


def _buttons(k: Any) -> list[Any]:
    from kiosk.screens.widgets import KButton, walk

    return [w for w in walk(k.app.root_widget) if isinstance(w, KButton)]


def test_language_switches_at_run_time(kiosk: Any) -> None:
    k = kiosk
    k.tap("language_ru")
    assert k.text("title") == "Гальваническая процедура"
    assert k.text("start_treatment") == "Начать процедуру"
    assert k.text("device_status") == "Готов"
    k.screenshot("16_home_ru")
    k.new_client_to_screening()
    assert k.text("title") == "Противопоказания"
    assert k.text("question_implanted_device").startswith("Есть ли у клиента кардиостимулятор")
    k.screenshot("17_screening_ru")
    k.answer_all_screening_no()
    k.answer_cautions_no()
    k.choose_area("eye_area")
    k.tap("indication_puffiness")
    assert k.text("polarity_words") == "Активный электрод: плюс (+, анод)"
    k.screenshot("18_program_ru")
    k.app.nav.reset("home")
    k.tap("language_en")
    assert k.text("start_treatment") == "Start treatment"


def test_service_mode_is_behind_a_long_press_and_a_pin(kiosk: Any) -> None:
    from tests.ui.service_helpers import FACTORY_PIN, TECHNICIAN_PIN, provision, type_pin

    k = kiosk
    provision(k)
    k.tap("logo")  # a tap is not enough
    assert k.screen == "home"
    k.tap_and_hold("logo", 2.3)
    assert k.screen == "service_pin"
    type_pin(k, "111111")
    assert k.text("pin_message") == "Wrong PIN. Tries left before the entry locks: 4"
    for key in FACTORY_PIN:
        k.tap(f"pin_{key}")
    k.screenshot("19_service_pin")
    k.tap("pin_ok")
    assert k.screen == "service_pin_change"
    type_pin(k, TECHNICIAN_PIN)
    type_pin(k, TECHNICIAN_PIN)
    assert k.screen == "service"
    k.advance(0.5)
    assert k.text("service_selftest") == "Self-test: passed"
    assert k.text("service_chain").startswith("Event log intact")
    k.screenshot("20_service")
    k.tap("back")
    assert k.screen == "home"
    k.advance(0.2)
    assert k.app.service_user is None and not k.app.service_access.active
