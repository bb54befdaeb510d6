"""Step 3a: the treatment area (face, neck, décolleté, eye area), one big button each.

Choosing it opens the screening items "in the area" (domain.md 5), asked for this area; another
area than before asks them again (the old answers are forgotten, a forgotten "yes" is noted on
the session's events).
"""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout

from kiosk.i18n import _
from kiosk.screens import catalogue_view as cv
from kiosk.screens import theme
from kiosk.screens.base import KioskScreen
from kiosk.screens.flow import Step
from kiosk.screens.registry import register
from kiosk.screens.screening import after_area_screening
from kiosk.screens.widgets import FitLabel, KButton


@register
class AreaScreen(KioskScreen):
    name = "area"
    step = Step.PROGRAM

    def title(self) -> str:
        return _("Treatment area")

    def build_content(self) -> None:
        body = BoxLayout(orientation="vertical", padding=(16, 10), spacing=10)
        reduced = self.app.flow.caution_applies
        body.add_widget(FitLabel(
            text=_("Caps are halved for this client (caution acknowledged).") if reduced
            else _("Choose the area to treat."),
            ref="area_hint", color=theme.ALARM_MEDIUM if reduced else theme.TEXT_DIM,
            size_hint_y=None, height=34))
        grid = GridLayout(cols=2, spacing=12)
        for area in self.app.catalogue.areas:
            grid.add_widget(KButton(text=cv.tr(area.name), ref=f"area_{area.id}",
                                    kind="selected" if area.id == self.app.flow.area
                                    else "neutral", size_hint_y=1, font_size=theme.HEADING_PX,
                                    on_tap=lambda area_id=area.id: self.choose(area_id)))
        body.add_widget(grid)
        self.add_widget(body)
        self.add_widget(self.action_bar())

    def choose(self, area_id: str) -> None:
        flow = self.app.flow
        old_area = flow.area
        forgotten = flow.choose_area(area_id)
        if forgotten:
            flow.note_event(self.app.now_s(), "area_screening_reset",
                            f"{old_area}: {', '.join(forgotten)}")
        if flow.screened_area == area_id:  # asked for this area already (Back, same area)
            self.app.nav.go(after_area_screening(self.app))
        elif self.app.catalogue.screening_for("area"):
            self.app.nav.go("screening", scope="area")
        else:
            flow.area_screened(area_id)
            self.app.nav.go(after_area_screening(self.app))
