"""Stage 4 (step 7): the isotonic tonic lotion after the current. Timer and steps only."""

from __future__ import annotations

from kiosk.i18n import _
from kiosk.screens.flow import Step
from kiosk.screens.registry import register
from kiosk.screens.timed_stage import TimedStageScreen


@register
class TonicScreen(TimedStageScreen):
    name = "tonic"
    step = Step.TONIC
    default_duration_s = 120.0
    timer_attr = "tonic"

    def title(self) -> str:
        return _("Stage 4: tonic lotion")

    def back_allowed(self) -> bool:
        return True  # back to the current screen (its STOP stays there)

    def instructions(self) -> list[str]:
        return [_("Remove the electrodes and wipe off the product."),
                _("Apply the isotonic tonic lotion to the treated area."),
                _("Let it work for the time on the timer."),
                _("Look at the skin: mild redness is normal and fades within hours.")]

    def next_text(self) -> str:
        return _("Finish: summary")

    def go_next(self) -> None:
        self.note_stage_end("tonic")
        self.app.nav.go("summary")
