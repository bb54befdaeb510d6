"""Disincrustation as domain.md 2 and 4 have it, tapped through the real kiosk (issue 11 item 4):
its current-stage time capped at 7 min on the program screen, and the optional acidic-toner second
phase offered when the main phase ended normally, run in the same control session with the active
electrode positive (declining it is in test_treatment_flow's happy path)."""

from __future__ import annotations

from typing import Any

import pytest

from kiosk.control.commands import Polarity
from kiosk.control.snapshot import TreatmentState
from tests.ui.test_treatment_flow import session_record, walk_to_current_screen

pytestmark = pytest.mark.ui


@pytest.mark.requirement("SR-123")
def test_the_program_screen_caps_deep_cleansing_at_seven_minutes(kiosk: Any) -> None:
    k = kiosk
    k.new_client_to_screening()
    k.answer_all_screening_no()
    k.choose_area("face")
    k.tap("indication_disincrustation")
    if k.screen == "active_choice":
        k.tap("active_0")
    assert k.text("time_value") == "4 min" and k.text("time_cap") == "cap 7 min"
    taps = 0
    while k.enabled("time_plus"):
        k.tap("time_plus")
        taps += 1
    assert (taps, k.text("time_value")) == (3, "7 min")
    assert k.app.flow.current_stage_s == 420.0
    k.app.set_language("ru")
    assert k.text("time_cap") == "предел 7 мин"


@pytest.mark.requirement("SR-122")
def test_the_acidic_toner_phase_follows_a_normal_end_in_the_same_session(kiosk: Any) -> None:
    k = kiosk
    walk_to_current_screen(k, time_taps=3)  # 4 min lowered to 1 min
    k.tap("slot_a")
    k.advance_until(lambda s: s.state is TreatmentState.DONE, timeout_s=200.0)
    first = k.app.snapshot
    assert first.polarity is Polarity.NEGATIVE
    assert k.text("slot_a") == "Next: optional second phase"
    k.tap("slot_a")
    assert k.screen == "second_phase"
    assert "positive" in k.text("polarity_words")
    assert k.text("second_phase_figures") == \
        "Target 0.50 mA (cap 1.00 mA), time 2 min (cap 3 min)"
    assert not k.has("back")  # a choice: the second phase or the tonic
    k.screenshot("25_second_phase")
    k.tap("start_second_phase")
    assert k.screen == "current"
    assert k.text("program_title") == "Face · Acidic toner (optional second phase)"
    assert k.text("slot_a") == "Check contact and start"
    assert k.text("slot_b") == "Skip: tonic lotion"
    k.tap("slot_a")
    k.advance_until(lambda s: s.state is TreatmentState.HOLD, timeout_s=120.0)
    held = k.app.snapshot
    assert held.program_id == "face.disincrustation.second_phase"
    assert held.polarity is Polarity.POSITIVE
    assert held.session_id == first.session_id == k.app.flow.session_id
    assert held.dose_ma_min > first.dose_ma_min  # one dose budget: it goes on counting
    k.tap("stop")
    k.advance_until(lambda s: s.state is TreatmentState.PAUSED, timeout_s=5.0)
    assert k.text("slot_b") == "End current stage"
    k.tap("slot_b")
    assert k.screen == "tonic"  # offered once: never a third phase
    k.tap("next")
    k.tap("sensation_tingling")
    k.tap("save")
    record = session_record(k)
    events = [e["event"] for e in record.summary.ramp_events]
    assert "second_phase_chosen" in events
    assert record.summary.dose_ma_min == pytest.approx(k.app.flow.stats.dose_ma_min, abs=0.01)


@pytest.mark.requirement("SR-122")
def test_no_second_phase_after_the_client_felt_burning(kiosk: Any) -> None:
    k = kiosk
    walk_to_current_screen(k, time_taps=2)  # 2 min: a plateau between the two 30 s ramps
    k.tap("slot_a")
    k.advance_until(lambda s: s.state is TreatmentState.HOLD, timeout_s=120.0)
    k.tap("burning")
    k.advance_until(lambda s: s.state in (TreatmentState.PAUSED, TreatmentState.IDLE),
                    timeout_s=5.0)
    k.tap("slot_a")  # end current stage
    assert k.screen == "tonic"
