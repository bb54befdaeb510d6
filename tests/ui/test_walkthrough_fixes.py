"""What a walk-through as a beautician found wrong (issue 11 items 9-13), each tapped through on the
real kiosk with the real control loop on the simulated board (virtual clock)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from kiosk.control.codes import Reason, Severity
from kiosk.control.snapshot import TreatmentState
from kiosk.records import SessionBook
from kiosk.screens import theme
from kiosk.screens.current import ShownReason, band_message
from kiosk.screens.flow import TreatmentFlow
from kiosk.screens.widgets import walk
from tests.ui.test_treatment_flow import start_current_and_hold, walk_to_current_screen

pytestmark = pytest.mark.ui
STOPPED = (TreatmentState.IDLE, TreatmentState.PAUSED)


def session_record(k: Any) -> Any:
    return SessionBook(k.app.records_view.store).get_session(str(k.app.flow.record_session))


# -- item 9: every band derives from the latest snapshot --------------------------------------
def _holding(k: Any, **changes: Any) -> Any:
    values: dict[str, Any] = {"state": TreatmentState.HOLD, "output_enabled": True,
                               "measured_ma": 0.8, "electrode_v": 14.0, "load_kohm": 18.0,
                               "compliance_warning": False, "contact_poor": False,
                               "fault": None}
    values.update(changes)
    return dataclasses.replace(k.app.snapshot, **values)


@pytest.mark.requirement("SR-087")
def test_contact_poor_band_goes_with_a_normal_stop(kiosk: Any) -> None:
    flow = TreatmentFlow()
    poor = _holding(kiosk, contact_poor=True)
    assert band_message(poor, flow, None) is not None
    stopped = dataclasses.replace(poor, state=TreatmentState.IDLE, output_enabled=False,
                                  measured_ma=0.0)
    assert band_message(stopped, flow, None) is None  # the flag lingering in idle says nothing
    ramping_down = dataclasses.replace(poor, state=TreatmentState.RAMP_DOWN)
    assert band_message(ramping_down, flow, None) is None


@pytest.mark.requirement("SR-087")
def test_high_voltage_band_never_at_zero_volts_and_only_while_current_flows(
        kiosk: Any) -> None:
    flow = TreatmentFlow()
    high = _holding(kiosk, compliance_warning=True, electrode_v=24.5)
    text, level = band_message(high, flow, None) or ("", "")
    assert "voltage is high" in text and level == "medium"
    assert band_message(dataclasses.replace(high, electrode_v=0.0), flow, None) is None
    assert band_message(dataclasses.replace(high, state=TreatmentState.IDLE,
                                            output_enabled=False), flow, None) is None


@pytest.mark.requirement("SR-087")
def test_no_current_flows_is_gone_once_a_ramp_runs_with_good_contact(kiosk: Any) -> None:
    k = kiosk
    flow = TreatmentFlow()
    open_circuit = Reason("contact_check_open", "no current flows", Severity.MEDIUM)
    idle = dataclasses.replace(k.app.snapshot, state=TreatmentState.IDLE, fault=None)
    shown = ShownReason(open_circuit, TreatmentState.IDLE, idle.time_s)
    text, _level = band_message(idle, flow, shown) or ("", "")
    assert "no current flows" in text
    # the screen drops a reason when the state it came in ends: the real screen, tapped
    walk_to_current_screen(k)
    screen = k.app.screen
    screen._reason_shown = ShownReason(open_circuit, TreatmentState.IDLE, k.app.snapshot.time_s)
    k.advance(0.2)
    assert k.has("banner_text") and "no current flows" in k.text("banner_text")
    k.tap("slot_a")
    k.advance_until(lambda s: s.state is TreatmentState.RAMP_UP, timeout_s=30.0)
    k.advance(1.0)
    assert k.app.snapshot.load_kohm is not None and not k.app.snapshot.contact_poor
    assert not k.has("banner"), k.text("banner_text")


@pytest.mark.requirement("SR-087")
def test_after_a_normal_stop_no_warning_stays(kiosk: Any) -> None:
    k = kiosk
    walk_to_current_screen(k)
    start_current_and_hold(k)
    k.tap("stop")
    k.advance_until(lambda s: s.state in STOPPED, timeout_s=30.0)
    k.advance(1.0)
    text = k.text("banner_text") if k.has("banner") else ""
    assert "poor" not in text and "voltage" not in text


# -- item 10 -----------------------------------------------------------------------------------
def test_after_burning_the_primary_action_ends_the_stage(kiosk: Any) -> None:
    k = kiosk
    walk_to_current_screen(k)
    start_current_and_hold(k)
    k.tap("burning")
    k.advance_until(lambda s: s.state in STOPPED, timeout_s=30.0)
    k.advance(0.5)
    assert k.text("slot_a") == "End current stage" and k.find("slot_a").kind == "primary"
    assert k.find("slot_b").kind == "neutral"  # starting again is possible, not suggested
    assert "Resume" not in k.text("slot_a")


def test_the_target_current_is_the_largest_figure_of_the_program_screen(kiosk: Any) -> None:
    k = kiosk
    k.new_client_to_screening()
    k.answer_all_screening_no()
    k.answer_cautions_no()
    k.choose_area("face")
    k.tap("indication_disincrustation")
    if k.screen == "active_choice":
        k.tap("active_0")
    assert k.screen == "program"
    target = k.find("current_value")
    others = [w for w in walk(k.app.screen) if hasattr(w, "font_size") and w is not target
              and getattr(w, "text", "") and getattr(w, "ref", "") != "title"
              and w.text not in ("−", "+")]
    assert all(target.font_size > w.font_size for w in others), \
        [(w.text, w.font_size) for w in others if w.font_size >= target.font_size]


def test_a_disabled_button_looks_disabled(kiosk: Any) -> None:
    k = kiosk
    k.new_client_to_screening()
    button = k.find("next")
    assert button.disabled  # no answer yet
    assert list(button.background_color) == theme.DISABLED
    assert list(button.disabled_color) == theme.TEXT_DISABLED
    assert theme.DISABLED != theme.NEUTRAL and theme.DISABLED != theme.PRIMARY


# -- item 11 -----------------------------------------------------------------------------------
@pytest.mark.requirement("SR-089")
def test_stages_are_recorded_as_they_ended_and_the_summary_names_the_client(
        kiosk: Any) -> None:
    k = kiosk
    walk_to_current_screen(k)  # the peel's timer never started
    start_current_and_hold(k)
    k.tap("stop")
    k.advance_until(lambda s: s.state in STOPPED, timeout_s=30.0)
    k.tap("slot_b")  # end the current stage
    assert k.screen == "tonic"
    k.tap("timer_start")
    k.advance(20.0)
    k.tap("next")
    codes = {e.code: e.detail for e in k.app.flow.events}
    assert "peel_done" not in codes and "peel_timer_not_used" in codes
    assert "tonic_done" not in codes and codes["tonic_ended_early"] == "1:40 min left"
    assert k.app.flow.client_label and k.app.flow.client_label in k.text("title")
    k.tap("sensation_warm")
    k.tap("save")
    assert k.text("summary_sensation") == "The client felt: warm"
    events = [e["event"] for e in session_record(k).summary.ramp_events]
    assert "tonic_ended_early" in events and "tonic_done" not in events


@pytest.mark.requirement("SR-089")
def test_an_emergency_stopped_session_is_named_so_in_the_history(kiosk: Any) -> None:
    k = kiosk
    walk_to_current_screen(k)
    start_current_and_hold(k)
    k.app.inject("estop_press")
    k.advance_until(lambda s: s.fault is not None, timeout_s=1.0)
    k.app.inject("estop_release")
    k.advance(2.0)
    k.tap("acknowledge")
    k.advance_until(lambda s: s.fault is None, timeout_s=3.0)
    k.tap("slot_b")
    k.tap("next")
    k.tap("sensation_none")
    k.tap("save")
    assert session_record(k).summary.stop_reason == "estop"  # the fault's code
    client_id = k.app.flow.client_id
    k.tap("done")
    k.app.nav.go("client_sessions", client_id=client_id)  # the whole history (issue 11.5)
    line = k.text("session_0_how")
    assert "Fault: Emergency stop pressed" in line and "normally" not in line


# -- item 12 -----------------------------------------------------------------------------------
@pytest.mark.requirement("SR-088")
def test_fault_overlay_shows_the_live_current_and_the_band_the_acknowledgement(
        kiosk: Any) -> None:
    k = kiosk
    walk_to_current_screen(k)
    start_current_and_hold(k)
    k.app.inject("contact_loss")
    k.advance_until(lambda s: s.fault is not None, timeout_s=2.0, poll_s=0.01)
    k.advance(0.3)
    assert k.text("fault_current") == "Current now: 0.00 mA"
    heading = k.find("fault_heading")
    _x, y = heading.to_window(heading.x, heading.y)
    assert y + heading.height <= 480
    k.app.inject("contact_restore")
    k.advance(2.0)
    k.tap("acknowledge")
    k.advance_until(lambda s: s.fault is None, timeout_s=3.0)
    k.advance(0.3)
    assert k.text("banner_text").startswith("Acknowledged: Contact lost")
    k.tap("slot_a")  # a new start: the note has done its job
    k.advance(0.5)
    assert not k.text("banner_text").startswith("Acknowledged")


def test_pin_pad_shows_drawn_dots_and_a_word_to_erase(kiosk: Any) -> None:
    from tests.ui.service_helpers import provision

    k = kiosk
    provision(k)
    k.app.nav.go("service_pin")
    k.tap("pin_1")
    k.tap("pin_2")
    assert k.find("pin_dots").count == 2
    assert k.text("pin_del") == "Erase"
    k.tap("pin_del")
    assert k.find("pin_dots").count == 1


# -- item 13 -----------------------------------------------------------------------------------
def test_a_timer_end_chirps_the_buzzer_once(kiosk: Any) -> None:
    k = kiosk
    walk_to_current_screen(k, shots=False)
    k.app.nav.back_to("placement")
    k.app.nav.go("tonic")
    buzzer = k.controller.board.buzzer
    k.tap("timer_minus")  # 1 min
    k.tap("timer_start")
    k.advance(59.0)
    assert not buzzer.is_on
    rising = 0
    was_on = False
    on_s = 0.0
    for _ in range(300):  # 3 s in 10 ms steps, polling as the app does
        k.controller.run_for(0.01)
        k.app.poll()
        if buzzer.is_on:
            on_s += 0.01
        rising += int(buzzer.is_on and not was_on)
        was_on = buzzer.is_on
    assert rising == 1 and 0.05 <= on_s <= 0.3
    assert k.text("banner_text") == "Time is up."
