"""Caution items (domain.md 5): not blocking, but a warning to acknowledge that halves the caps.

Asked after the area and its own screening items: "near the treated area" then means the chosen
one. The peel item is about a peel done elsewhere or earlier today, never this device's own
stage-1 peel (which every session has, after this screen).
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
from kiosk.screens.screening import YesNoRow
from kiosk.screens.widgets import FitLabel, KButton, Panel


@register
class CautionScreen(KioskScreen):
    name = "caution"
    step = Step.SCREENING

    def title(self) -> str:
        return _("Cautions")

    def build_content(self) -> None:
        flow = self.app.flow
        items = list(self.app.catalogue.caution_items)
        body = BoxLayout(orientation="vertical", padding=(10, 6), spacing=6)
        body.add_widget(FitLabel(text=_("Does any of this apply to the client?"),
                                 size_hint_y=None, height=32, color=theme.TEXT_DIM))
        for item in items:
            body.add_widget(YesNoRow(item.id, cv.tr(item.text), flow.caution_answers.get(item.id),
                                     self.answer))
        applying = [item for item in items if flow.caution_answers.get(item.id)]
        if applying:
            advice = Panel(orientation="vertical", padding=(10, 4), spacing=4,
                           background=theme.ALARM_MEDIUM, size_hint_y=None,
                           height=10 + 50 * len(applying) + 64)
            for item in applying:
                advice.add_widget(FitLabel(text=cv.tr(item.advice), ref=f"advice_{item.id}",
                                           color=theme.TEXT_DARK, size_hint_y=None, height=48,
                                           max_font_px=theme.SMALL_PX + 1))
            advice.add_widget(KButton(
                text=_("Acknowledged") if flow.caution_acknowledged
                else _("I have read this: continue with lower caps"),
                ref="acknowledge_caution", kind="selected" if flow.caution_acknowledged
                else "neutral", height=58, on_tap=self.acknowledge))
            body.add_widget(advice)
        body.add_widget(Widget())
        self.add_widget(body)
        complete = not [i for i in items if i.id not in flow.caution_answers]
        ready = complete and (not applying or flow.caution_acknowledged)
        self.add_widget(self.action_bar(primary=self.primary_button(
            _("Next"), "next", lambda: self.app.nav.go("indication"), enabled=ready)))

    def answer(self, item_id: str, applies: bool) -> None:
        self.app.flow.answer_caution(item_id, applies)
        self.build()

    def acknowledge(self) -> None:
        self.app.flow.caution_acknowledged = True
        self.app.flow.note_event(self.app.now_s(), "caution_acknowledged")
        self.build()
