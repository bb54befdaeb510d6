"""Before the current (step 6): the placement drawing and rules of the area, what the client may
feel, then on to the current screen."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout

from kiosk.i18n import _
from kiosk.screens import catalogue_view as cv
from kiosk.screens import theme
from kiosk.screens.base import KioskScreen
from kiosk.screens.flow import Step
from kiosk.screens.placement import ACTIVE_COLOUR, FORBIDDEN_COLOUR, RETURN_COLOUR, PlacementDrawing
from kiosk.screens.registry import register
from kiosk.screens.widgets import TextColumn


@register
class PlacementScreen(KioskScreen):
    name = "placement"
    step = Step.CURRENT

    def title(self) -> str:
        area = self.app.catalogue.area(self.app.flow.area)
        return _("Placement: {area}").format(area=cv.tr(area.name))

    def build_content(self) -> None:
        flow = self.app.flow
        area = self.app.catalogue.area(flow.area)
        program = self.app.catalogue.program(flow.area, flow.indication)
        body = BoxLayout(orientation="horizontal", padding=(8, 6), spacing=10)
        drawing_column = BoxLayout(orientation="vertical", size_hint_x=None, width=250,
                                   spacing=2)
        drawing_column.add_widget(PlacementDrawing(flow.area))
        legend = TextColumn(size_hint_y=None, height=132, spacing=2)
        for role, colour, text in (("active", ACTIVE_COLOUR, _("green: active electrode here")),
                                   ("return", RETURN_COLOUR, _("grey: return electrode")),
                                   ("forbidden", FORBIDDEN_COLOUR,
                                    _("red, hatched: never here"))):
            legend.add_text(text, ref=f"legend_{role}", color=colour,
                            max_font_px=theme.SMALL_PX)
        drawing_column.add_widget(legend)
        body.add_widget(drawing_column)
        rules = TextColumn(spacing=2)
        texts = [*area.placement_rules, *program.placement_rules]
        for index, rule in enumerate(texts):
            rules.add_text("• " + cv.tr(rule), ref=f"rule_{index}",
                           max_font_px=theme.SMALL_PX + 2)
        for index, sensation in enumerate(self.app.catalogue.sensations_for(area.id)[:2]):
            rules.add_text("• " + cv.tr(sensation), ref=f"sensation_{index}",
                           color=theme.PLOT_TARGET, max_font_px=theme.SMALL_PX + 1)
        body.add_widget(rules)
        self.add_widget(body)
        self.add_widget(self.action_bar(primary=self.primary_button(
            _("Electrodes placed"), "placed", lambda: self.app.nav.go("current"))))
