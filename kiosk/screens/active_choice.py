"""Step 3c: which product; the sign its maker prints on it decides the active electrode's pole."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout

from kiosk.i18n import _
from kiosk.screens import catalogue_view as cv
from kiosk.screens import theme
from kiosk.screens.base import KioskScreen
from kiosk.screens.flow import Step
from kiosk.screens.registry import register
from kiosk.screens.widgets import FitLabel, KButton, PolaritySign, polarity_words


@register
class ActiveChoiceScreen(KioskScreen):
    name = "active_choice"
    step = Step.PROGRAM

    def title(self) -> str:
        return _("Which product?")

    def build_content(self) -> None:
        flow = self.app.flow
        program = self.app.catalogue.program(flow.area, flow.indication)
        body = BoxLayout(orientation="vertical", padding=(16, 8), spacing=8)
        if program.main.polarity_note:
            body.add_widget(FitLabel(text=cv.tr(program.main.polarity_note),
                                     color=theme.TEXT_DIM, size_hint_y=None, height=52,
                                     max_font_px=theme.SMALL_PX + 1))
        for index, active in enumerate(program.actives):
            row = BoxLayout(orientation="horizontal", spacing=12, size_hint_y=None, height=70)
            row.add_widget(PolaritySign(active.charge, diameter_px=52))
            row.add_widget(KButton(text=cv.tr(active.name), ref=f"active_{index}",
                                   size_hint=(None, None), width=360, height=66,
                                   kind="selected" if active.name == flow.active_name
                                   else "neutral",
                                   on_tap=lambda a=active: self.choose(a)))
            row.add_widget(FitLabel(text=polarity_words(active.charge),
                                    max_font_px=theme.SMALL_PX, color=theme.TEXT_DIM))
            body.add_widget(row)
        body.add_widget(BoxLayout())
        self.add_widget(body)
        self.add_widget(self.action_bar())

    def choose(self, active: object) -> None:
        self.app.flow.choose_active(active.name, active.charge)  # type: ignore[attr-defined]
        self.app.nav.go(self.app.flow.screen_after_product())
