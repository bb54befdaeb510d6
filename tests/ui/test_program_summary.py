"""SR-044: before the current stage, the program screen shows what will be applied (area,
indication, active, polarity in symbol, colour and words, target current, time and the caps)
with start as its only primary action, and the placement screen shows the area's drawing with
its forbidden zones and the placement rules, all while no current flows."""

from __future__ import annotations

from typing import Any

import pytest

from kiosk.control.snapshot import TreatmentState
from kiosk.screens.placement import PlacementDrawing
from kiosk.screens.widgets import KButton, PolarityBadge

pytestmark = pytest.mark.ui


def widgets_of(root: Any, kind: type) -> list[Any]:
    return [w for w in root.walk(restrict=True) if isinstance(w, kind)]


def assert_no_current(k: Any) -> None:
    snap = k.app.snapshot
    assert snap.state is TreatmentState.IDLE and not snap.output_enabled


@pytest.mark.requirement("SR-044")
def test_the_program_summary_and_the_placement_rules_come_before_any_current(kiosk: Any) -> None:
    k = kiosk
    k.new_client_to_screening()
    k.answer_all_screening_no()
    k.answer_cautions_no()
    k.choose_area("face")
    k.tap("indication_disincrustation")
    if k.screen == "active_choice":
        k.tap("active_0")
    assert k.screen == "program"
    assert_no_current(k)
    assert k.text("program_title") == "Face · Deep cleansing"  # area and indication
    assert k.text("product").startswith("Product: Sodium chloride")  # the active
    assert k.text("polarity_words") == "Active electrode: negative (−, cathode)"
    [badge] = widgets_of(k.app.screen, PolarityBadge)  # symbol and colour next to the words
    assert badge.polarity.value == "negative"
    assert k.text("current_value") == "0.80 mA"
    assert k.text("current_cap") == "cap 1.50 mA"  # the face area cap (domain.md 6)
    assert k.text("time_value") == "4 min" and k.text("time_cap") == "cap 7 min"
    assert k.text("dose_cap") == "Left today: 15.0 of 15.0 mA·min"  # SR-053: nothing yet today
    primaries = [b.ref for b in widgets_of(k.app.screen, KButton) if b.kind == "primary"]
    assert primaries == ["start_program"]

    k.tap("start_program")
    k.tap("next")  # the peel timer
    k.tap("confirm_active")
    assert k.screen == "placement"
    assert_no_current(k)
    [drawing] = widgets_of(k.app.screen, PlacementDrawing)
    assert drawing.area == "face" and drawing._roles["forbidden"]  # the forbidden zones drawn
    assert k.text("rule_0").startswith("• Never place the electrodes")
    k.tap("placed")
    assert k.screen == "current"
    assert_no_current(k)  # current only after "check contact and start" on this screen
