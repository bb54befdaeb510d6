"""Step 3b: only the indications the catalogue offers for the chosen area."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout

from kiosk.i18n import _
from kiosk.screens import catalogue_view as cv
from kiosk.screens import theme
from kiosk.screens.base import KioskScreen
from kiosk.screens.flow import Step
from kiosk.screens.registry import register
from kiosk.screens.widgets import FitLabel, KButton


@register
class IndicationScreen(KioskScreen):
    name = "indication"
    step = Step.PROGRAM

    def title(self) -> str:
        area = self.app.catalogue.area(self.app.flow.area)
        return _("{area}: what to treat").format(area=cv.tr(area.name))

    def build_content(self) -> None:
        body = BoxLayout(orientation="vertical", padding=(16, 8), spacing=8)
        for indication in self.app.catalogue.indications_for(self.app.flow.area):
            row = BoxLayout(orientation="horizontal", spacing=12, size_hint_y=None, height=70)
            row.add_widget(KButton(text=cv.tr(indication.name),
                                   ref=f"indication_{indication.id}", size_hint=(None, None),
                                   width=280, height=70, bold=True,
                                   kind="selected" if indication.id == self.app.flow.indication
                                   else "neutral",
                                   on_tap=lambda ind=indication.id: self.choose(ind)))
            row.add_widget(FitLabel(text=cv.tr(indication.description),
                                    max_font_px=theme.SMALL_PX + 1, color=theme.TEXT_DIM))
            body.add_widget(row)
        body.add_widget(BoxLayout())
        self.add_widget(body)
        self.add_widget(self.action_bar())

    def choose(self, indication_id: str) -> None:
        flow = self.app.flow
        flow.choose_indication(indication_id)
        program = self.app.catalogue.program(flow.area, indication_id)
        if len(program.actives) == 1:
            active = program.actives[0]
            flow.choose_active(active.name, active.charge)
            self.app.nav.go(self.app.flow.screen_after_product())
        else:
            self.app.nav.go("active_choice")
