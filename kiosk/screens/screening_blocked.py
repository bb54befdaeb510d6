"""Screening answered "yes": treatment with current is not possible in this session.

It names every reason; the answers are already on the client's record (the screening screen
stored them before opening this one). The ways on: back to correct a mistaken tap (the new answers
are stored again), end the session, and, only when every "yes" is about the current alone
(``flow.CURRENT_ONLY_ITEMS``), a session without current: the rest of the screening is asked, then
the peel, the product and the tonic, recorded as such (issue 11 item 3). The screen offers nothing
the flow does not do.
"""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.i18n import _
from kiosk.screens import catalogue_view as cv
from kiosk.screens import theme
from kiosk.screens.base import KioskScreen
from kiosk.screens.flow import Step
from kiosk.screens.registry import register
from kiosk.screens.screening import continue_screening
from kiosk.screens.widgets import FitLabel, KButton, Panel


@register
class ScreeningBlockedScreen(KioskScreen):
    name = "screening_blocked"
    step = Step.SCREENING

    def title(self) -> str:
        return _("Treatment not possible")

    def build_content(self) -> None:
        flow = self.app.flow
        questions = {item.id: item.question for item in self.app.catalogue.screening_items}
        body = BoxLayout(orientation="vertical", padding=(16, 8), spacing=6)
        band = Panel(orientation="vertical", padding=(12, 6), size_hint_y=None, height=64,
                     background=theme.ALARM_MEDIUM)
        band.add_widget(FitLabel(text=_("Treatment with current is not possible today."),
                                 ref="blocked_heading", bold=True, color=theme.TEXT_DARK,
                                 max_font_px=theme.BODY_PX + 3))
        body.add_widget(band)
        body.add_widget(FitLabel(text=_("Reason (the client answered yes):"),
                                 size_hint_y=None, height=34, color=theme.TEXT_DIM))
        for item_id in flow.blocking_answers()[:4]:
            body.add_widget(FitLabel(text="• " + cv.tr(questions.get(item_id, item_id)),
                                     ref=f"blocked_reason_{item_id}", size_hint_y=None,
                                     height=56, max_font_px=theme.SMALL_PX + 2))
        more = len(flow.blocking_answers()) - 4
        if more > 0:
            body.add_widget(FitLabel(text=_("and {count} more").format(count=more),
                                     size_hint_y=None, height=30))
        offer = flow.without_current_allowed() and not flow.without_current
        body.add_widget(FitLabel(
            text=_("The answers are saved. The reason concerns the current only: a session "
                   "without current (peel, product, tonic) is possible.") if offer
            else _("The answers are saved with the client's record. End the session; Back "
                   "corrects a mistaken answer."),
            ref="blocked_saved", color=theme.TEXT_DIM, size_hint_y=None, height=56))
        body.add_widget(Widget())
        self.add_widget(body)
        secondary = [KButton(text=_("Without current: peel, product, tonic"),
                             ref="without_current", size_hint=(None, None), width=330,
                             height=theme.PRIMARY_HEIGHT_PX, on_tap=self.go_without_current),
                     Widget()] if offer else []
        self.add_widget(self.action_bar(*secondary, primary=self.primary_button(
            _("End session"), "end_session", self.end_session)))

    def go_without_current(self) -> None:
        """No current in this session; the rest of the screening is still asked."""
        flow = self.app.flow
        flow.without_current = True
        flow.note_event(self.app.now_s(), "without_current_chosen",
                        ", ".join(flow.blocking_answers()))
        continue_screening(self.app, str(self.params.get("scope", "general")),
                           int(self.params.get("page", 0)))

    def end_session(self) -> None:
        self.app.records_view.close_blocked(self.app.flow)
        self.app.finish_treatment()
