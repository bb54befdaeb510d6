"""Step 3d: the program summary before any current, with "Start treatment" its only primary action.

Area, indication, product, polarity (symbol, colour, words), electrode, target current and time
with their caps, the dose cap. The beautician may lower the current and the time, never raise them
above a cap: the "+" stops at the cap (and the control layer refuses anything above it anyway).
"""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.i18n import _, numbers
from kiosk.screens import catalogue_view as cv
from kiosk.screens import theme
from kiosk.screens.base import KioskScreen
from kiosk.screens.flow import (
    CURRENT_STEP_MA,
    MIN_CURRENT_MA,
    MIN_STAGE_S,
    TIME_STEP_S,
    Step,
    lowered,
)
from kiosk.screens.registry import register
from kiosk.screens.widgets import (
    FitLabel,
    KButton,
    Panel,
    PolarityBadge,
    ValueLabel,
    format_dose,
    format_ma,
    format_minutes,
)


@register
class ProgramScreen(KioskScreen):
    name = "program"
    step = Step.PROGRAM

    def title(self) -> str:
        return _("Program")

    def build_content(self) -> None:
        flow = self.app.flow
        # SR-053: one dose budget per client, area and day: what earlier programs left
        flow.set_delivered_today(self.app.records_view.delivered_today(flow, self.app.catalogue))
        info = cv.program_info(self.app.catalogue, flow)
        self.info = info
        body = BoxLayout(orientation="horizontal", padding=(12, 8), spacing=14)
        left = BoxLayout(orientation="vertical", spacing=4, size_hint_x=None, width=390)
        left.add_widget(FitLabel(text=info.title, ref="program_title", bold=True,
                                 max_font_px=theme.BODY_PX + 2, size_hint_y=None, height=56))
        left.add_widget(FitLabel(text=_("Product: {name}").format(
            name=cv.tr(flow.active_name or info.phase.actives[0].name)), ref="product",
            size_hint_y=None, height=52))
        left.add_widget(PolarityBadge(info.polarity, diameter_px=52))
        electrodes = self.app.catalogue.electrodes_for(info.program)
        self.electrode_refs = [f"electrode_{e.id}" for e in electrodes] \
            if len(electrodes) > 1 else []
        if len(electrodes) > 1:
            # one electrode per row, the whole width: long names wrap at words, never mid-word
            chosen = flow.electrode_id or info.program.default_electrode_id
            for electrode in electrodes:
                left.add_widget(KButton(
                    text=cv.tr(electrode.name), ref=f"electrode_{electrode.id}",
                    kind="selected" if electrode.id == chosen else "neutral", height=56,
                    font_size=theme.SMALL_PX + 1,
                    on_tap=lambda e=electrode.id: self.choose_electrode(e)))
        else:
            left.add_widget(FitLabel(text=_("Electrode: {name}").format(
                name=info.electrode_name), ref="electrode", size_hint_y=None, height=56,
                max_font_px=theme.SMALL_PX + 1))
        left.add_widget(Widget())
        body.add_widget(left)

        right = BoxLayout(orientation="vertical", spacing=6)
        right.add_widget(self._stepper(
            _("Target current"), format_ma(info.target_ma),
            _("cap {value}").format(value=format_ma(info.current_cap_ma)), "current",
            minus_ok=info.target_ma - CURRENT_STEP_MA >= MIN_CURRENT_MA - 1e-9,
            plus_ok=info.target_ma + CURRENT_STEP_MA <= info.current_cap_ma + 1e-9,
            value_px=44))
        right.add_widget(self._stepper(
            _("Time"), format_minutes(info.stage_s),
            _("cap {value}").format(value=format_minutes(info.stage_cap_s)), "time",
            minus_ok=info.stage_s - TIME_STEP_S >= MIN_STAGE_S - 1e-9,
            plus_ok=info.stage_s + TIME_STEP_S <= info.stage_cap_s + 1e-9, value_px=34))
        right.add_widget(FitLabel(text=_("Left today: {left} of {cap}").format(
            left=numbers.decimal(info.dose_cap_ma_min, 1),
            cap=format_dose(info.day_dose_cap_ma_min)),
            ref="dose_cap", size_hint_y=None, height=36))
        if info.reduced:
            right.add_widget(FitLabel(text=_("Caps halved: a caution item applies."),
                                      ref="reduced_caps", color=theme.ALARM_MEDIUM,
                                      size_hint_y=None, height=34))
        right.add_widget(Widget())
        body.add_widget(right)
        self.add_widget(body)
        self.add_widget(self.action_bar(primary=self.primary_button(
            _("Start treatment"), "start_program", self.start)))

    def _stepper(self, label: str, value: str, cap: str, ref: str, *, minus_ok: bool,
                 plus_ok: bool, value_px: int = 40) -> Panel:
        """Name and cap on one line, then − value +: the value is the largest figure there."""
        panel = Panel(orientation="vertical", padding=(10, 4), spacing=2, size_hint_y=None,
                      height=112)
        head = BoxLayout(orientation="horizontal", size_hint_y=None, height=30, spacing=8)
        head.add_widget(FitLabel(text=label, color=theme.TEXT_DIM,
                                 max_font_px=theme.SMALL_PX + 1))
        head.add_widget(ValueLabel(text=cap, ref=f"{ref}_cap", font_size=theme.SMALL_PX,
                                   color=theme.TEXT_DIM, halign="right"))
        panel.add_widget(head)
        row = BoxLayout(orientation="horizontal", spacing=10, size_hint_y=None, height=70)
        row.add_widget(KButton(text="−", ref=f"{ref}_minus", font_size=40,
                               size_hint=(None, None), size=(70, 70), disabled=not minus_ok,
                               on_tap=lambda: self.change(ref, -1)))
        row.add_widget(ValueLabel(text=value, ref=f"{ref}_value", font_size=value_px,
                                  bold=True, halign="center"))
        row.add_widget(KButton(text="+", ref=f"{ref}_plus", font_size=40,
                               size_hint=(None, None), size=(70, 70), disabled=not plus_ok,
                               on_tap=lambda: self.change(ref, +1)))
        panel.add_widget(row)
        return panel

    def change(self, what: str, sign: int) -> None:
        flow = self.app.flow
        info = self.info
        if what == "current":
            flow.current_ma = lowered(info.target_ma, sign * CURRENT_STEP_MA,
                                      minimum=MIN_CURRENT_MA, cap=info.current_cap_ma)
        else:
            flow.current_stage_s = lowered(info.stage_s, sign * TIME_STEP_S,
                                           minimum=MIN_STAGE_S, cap=info.stage_cap_s)
        self.build()

    def choose_electrode(self, electrode_id: str) -> None:
        self.app.flow.electrode_id = electrode_id
        self.app.flow.current_ma = None  # the default may differ with the electrode's caps
        self.build()

    def start(self) -> None:
        flow = self.app.flow
        if flow.current_ma is None:
            flow.current_ma = self.info.target_ma
        if flow.current_stage_s is None:
            flow.current_stage_s = self.info.stage_s
        self.app.records_view.store_program(flow, self.info)
        self.app.nav.go("peel")
