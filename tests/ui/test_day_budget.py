"""Issue 11 item 1, walked as a beautician does: one client, disincrustation then iontophoresis
on the face the same day (SR-053).

Before, the second program's summary showed the full 20 mA·min again and the control core gave
it a fresh budget. Now the summary says what is left of the day ("Left today: X of 20.0 mA·min")
and the start carries the first program's dose to the control core, which allows only that.
"""

from __future__ import annotations

from typing import Any

import pytest

from kiosk.control.snapshot import TreatmentState
from tests.ui.test_treatment_flow import walk_to_current_screen
from tests.ui.test_two_clients import stop_at_the_plateau_and_finish

pytestmark = pytest.mark.ui


def left_today(text: str) -> tuple[float, float]:
    """``Left today: 19.6 of 20.0 mA·min`` -> (19.6, 20.0)."""
    words = text.split()
    assert words[:2] == ["Left", "today:"] and words[3] == "of", text
    return float(words[2]), float(words[4])


@pytest.mark.requirement("SR-053")
def test_the_second_program_of_the_day_gets_only_what_the_first_left(kiosk: Any) -> None:
    k = kiosk
    # program 1: disincrustation on the face (roller), STOP at the plateau, finished and saved
    walk_to_current_screen(k, indication="disincrustation")
    client_id = k.app.flow.client_id
    k.tap("slot_a")
    first_paused, first_record = stop_at_the_plateau_and_finish(k)
    first_dose = first_record.summary.dose_ma_min
    assert first_dose == pytest.approx(first_paused.dose_ma_min, abs=0.01) and first_dose > 0.1

    k.advance(1.0)  # as between two clients (test_two_clients): the session's end is polled

    # program 2: the same client, the same area, iontophoresis
    k.tap("start_treatment")
    assert k.screen == "client"
    k.tap(f"client_{client_id}")
    k.tap("continue_client")
    assert k.screen == "screening"
    k.answer_all_screening_no()
    k.answer_cautions_no()
    k.choose_area("face")
    k.tap("indication_pigmentation")
    if k.screen == "active_choice":
        k.tap("active_0")
    assert k.screen == "program"
    left, cap = left_today(k.text("dose_cap"))
    assert cap == 20.0  # the face's day budget (pad: the area cap binds, not the density)
    assert left == pytest.approx(20.0 - first_dose, abs=0.051)  # one decimal shown
    assert left < cap
    flow = k.app.flow
    assert flow.delivered_today_ma_min == pytest.approx(first_dose, abs=1e-6)
    assert flow.delivered_today_charge_density_ma_min_per_cm2 == pytest.approx(first_dose / 5.0,
                                                                               abs=1e-6)

    k.tap("start_program")
    k.tap("next")  # peel
    k.tap("confirm_active")
    k.tap("placed")
    assert k.screen == "current"
    assert k.text("slot_a") == "Check contact and start"
    k.tap("slot_a")
    k.advance_until(lambda s: s.state is TreatmentState.RAMP_UP, timeout_s=5.0)
    started = k.app.snapshot
    assert started.program_id == "face.pigmentation"
    # the control core enforces what the summary showed: the day's budget less program 1
    assert started.dose_cap_ma_min == pytest.approx(20.0 - first_dose, abs=1e-6)
    assert started.dose_ma_min < 0.01
