"""Stage 1 (step 4): the enzymatic AHA peel, cleansing before the current. Timer and steps only."""

from __future__ import annotations

from kiosk.i18n import _
from kiosk.screens.flow import Step
from kiosk.screens.registry import register
from kiosk.screens.timed_stage import TimedStageScreen


@register
class PeelScreen(TimedStageScreen):
    name = "peel"
    step = Step.PEEL
    default_duration_s = 300.0
    timer_attr = "peel"

    def title(self) -> str:
        return _("Stage 1: enzymatic peel")

    def instructions(self) -> list[str]:
        return [_("Cleanse the skin and pat it dry."),
                _("Apply the enzymatic AHA peel evenly; avoid the eyes and lips."),
                _("Leave it on for the time of the product; start the timer."),
                _("Remove the peel completely with water and pat the skin dry.")]

    def next_text(self) -> str:
        return _("Next: apply the active")

    def go_next(self) -> None:
        self.note_stage_end("peel")
        self.app.nav.go("active")
