"""Issue 12 item 0, walked as a beautician does: two clients in a row, a STOP in the first.

On main the first client's STOP left the control session paused; "End current stage", the
summary and "Done" never ended it, so the second client's current screen opened already paused
with "Resume (new contact check)", and tapping it resumed the FIRST client's program and current
while the screen showed the second's; the second record said 0.0 mA·min. This test fails on
main at the second client's current screen (it offers Resume instead of a start).
"""

from __future__ import annotations

from typing import Any

import pytest

from kiosk.control.snapshot import TreatmentState
from tests.ui.test_treatment_flow import session_record, walk_to_current_screen

pytestmark = pytest.mark.ui


def stop_at_the_plateau_and_finish(k: Any) -> Any:
    """STOP in the hold, then "End current stage", the tonic, the summary, save, Done."""
    k.advance_until(lambda s: s.state is TreatmentState.HOLD, timeout_s=120.0)
    k.advance(10.0)
    k.tap("stop")
    k.advance_until(lambda s: s.state is TreatmentState.PAUSED, timeout_s=5.0)
    paused = k.app.snapshot
    assert k.text("slot_a") == "Resume (new contact check)"
    k.tap("slot_b")  # End current stage
    assert k.screen == "tonic"
    k.tap("next")
    assert k.screen == "summary"
    k.tap("sensation_tingling")
    k.tap("save")
    record = session_record(k)
    k.tap("done")
    assert k.screen == "home"
    return paused, record


@pytest.mark.requirement("SR-049", "SR-050")
def test_the_second_client_starts_from_idle_with_its_own_program_and_dose(kiosk: Any) -> None:
    k = kiosk
    # client 1: pigmentation, STOP at the plateau, then the treatment is finished
    walk_to_current_screen(k, indication="pigmentation")
    first_session = k.app.flow.session_id
    k.tap("slot_a")  # check contact and start
    first_paused, first_record = stop_at_the_plateau_and_finish(k)
    assert first_paused.session_id == first_session
    assert first_paused.program_id == "face.pigmentation"
    assert first_record.summary.dose_ma_min == pytest.approx(first_paused.dose_ma_min, abs=0.01)
    k.advance(1.0)
    home = k.app.snapshot
    assert home.state is TreatmentState.IDLE and home.session_id is None
    assert home.program_id is None and not home.resumable and not home.output_enabled

    # client 2: disincrustation, a product of its own: the current screen starts from idle
    walk_to_current_screen(k, indication="disincrustation")
    second_session = k.app.flow.session_id
    assert second_session != first_session
    assert k.app.snapshot.state is TreatmentState.IDLE
    assert k.text("slot_a") == "Check contact and start"
    assert k.text("state_word") != "Paused"
    k.tap("slot_a")
    k.advance_until(lambda s: s.state is TreatmentState.RAMP_UP, timeout_s=5.0)
    started = k.app.snapshot
    assert started.session_id == second_session
    assert started.program_id == "face.disincrustation"
    assert started.target_ma == pytest.approx(
        k.app.flow.current_ma if k.app.flow.current_ma is not None else started.target_ma)
    assert started.dose_ma_min < 0.01  # nothing of client 1's dose
    second_paused, second_record = stop_at_the_plateau_and_finish(k)
    assert second_paused.session_id == second_session
    assert second_paused.program_id == "face.disincrustation"
    # client 2's record shows client 2's own dose, not zero, not client 1's
    assert second_paused.dose_ma_min > 0.05
    assert second_record.summary.dose_ma_min == pytest.approx(second_paused.dose_ma_min,
                                                              abs=0.01)
    assert second_record.program is not None
    assert second_record.program.indication == "disincrustation"
    assert second_record.session_id != first_record.session_id
    k.advance(1.0)
    assert k.app.snapshot.session_id is None
