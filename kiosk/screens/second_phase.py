"""The optional second phase of a program, offered when its main phase ended normally (issue 11
item 4, domain.md 2): after deep cleansing, 1-3 min of an acidic toner with the active electrode
positive, to bring the skin back toward its acid pH. It can be declined (on to the tonic).

Chosen, it continues the same control session (one dose budget: the core counts the first phase's
dose); the control core reverses the polarity only with the output open and at zero current
(SR-025). Its product, polarity, current and time with their caps are shown before its start,
resolved by the control layer's own function (``catalogue_view.program_info``).
"""

from __future__ import annotations

from dataclasses import replace

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.i18n import _
from kiosk.screens import catalogue_view as cv
from kiosk.screens import theme
from kiosk.screens.base import KioskScreen
from kiosk.screens.flow import Step
from kiosk.screens.registry import register
from kiosk.screens.widgets import (
    FitLabel,
    KButton,
    Panel,
    PolarityBadge,
    format_ma,
    format_minutes,
)


@register
class SecondPhaseScreen(KioskScreen):
    name = "second_phase"
    step = Step.CURRENT

    def title(self) -> str:
        return _("Optional second phase")

    def back_allowed(self) -> bool:
        return False  # the way on is a choice: the second phase or the tonic

    def build_content(self) -> None:
        flow = self.app.flow
        program = self.app.catalogue.program(flow.area, flow.indication)
        phase = program.second_phase
        assert phase is not None, "offered only for a program with a second phase"
        product = phase.actives[0]
        # what the phase would run with, resolved as the control layer will
        preview = replace(flow, second_phase=True, active_name=product.name,
                          polarity=product.charge, current_ma=None, current_stage_s=None)
        info = cv.program_info(self.app.catalogue, preview)
        body = BoxLayout(orientation="vertical", padding=(14, 6), spacing=6)
        body.add_widget(FitLabel(
            text=_("The main phase is finished. The second phase brings the skin back toward "
                   "its acid pH. It is optional."), ref="second_phase_why",
            color=theme.TEXT_DIM, max_font_px=theme.SMALL_PX + 1, size_hint_y=None, height=52))
        body.add_widget(PolarityBadge(info.polarity, diameter_px=48, height=54))
        figures = Panel(orientation="vertical", padding=(10, 4), spacing=2, size_hint_y=None,
                        height=80)
        figures.add_widget(FitLabel(text=_("Product: {name}").format(name=cv.tr(product.name)),
                                    ref="second_phase_product", max_font_px=theme.SMALL_PX + 2))
        figures.add_widget(FitLabel(
            text=_("Target {current} (cap {cap}), time {time} (cap {time_cap})").format(
                current=format_ma(info.target_ma), cap=format_ma(info.current_cap_ma),
                time=format_minutes(info.stage_s), time_cap=format_minutes(info.stage_cap_s)),
            ref="second_phase_figures", max_font_px=theme.SMALL_PX + 2))
        body.add_widget(figures)
        body.add_widget(FitLabel(
            text=_("Wipe off the cleansing solution and apply the toner under the active "
                   "electrode. The polarity changes only at zero current."),
            ref="second_phase_do", max_font_px=theme.SMALL_PX + 1, size_hint_y=None,
            height=60))
        body.add_widget(Widget())
        self.add_widget(body)
        skip = KButton(text=_("No: tonic lotion"), ref="skip_second_phase",
                       size_hint=(None, None), width=260, height=theme.PRIMARY_HEIGHT_PX,
                       on_tap=self.decline)
        self.add_widget(self.action_bar(skip, Widget(), primary=self.primary_button(
            _("Start the second phase"), "start_second_phase", self.accept)))

    def accept(self) -> None:
        flow = self.app.flow
        product = self.app.catalogue.program(flow.area, flow.indication).second_phase.actives[0]
        flow.choose_second_phase(product.name, product.charge)
        flow.note_event(self.app.now_s(), "second_phase_chosen", product.name)
        self.app.nav.go("current")

    def decline(self) -> None:
        self.app.flow.note_event(self.app.now_s(), "second_phase_declined")
        self.app.nav.go("tonic")
