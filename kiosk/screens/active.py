"""Stage 2 (step 5): apply the active: which product, its sign, the active electrode's polarity and
which electrode goes where. The beautician confirms before the placement and current."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.i18n import _
from kiosk.screens import catalogue_view as cv
from kiosk.screens import theme
from kiosk.screens.base import KioskScreen
from kiosk.screens.flow import Step
from kiosk.screens.registry import register
from kiosk.screens.widgets import FitLabel, Panel, PolarityBadge, polarity_symbol


@register
class ActiveScreen(KioskScreen):
    name = "active"
    step = Step.ACTIVE

    def title(self) -> str:
        return _("Stage 2: apply the active")

    def build_content(self) -> None:
        flow = self.app.flow
        if flow.without_current:
            self._build_without_current()
            return
        info = cv.program_info(self.app.catalogue, flow)
        area = self.app.catalogue.area(flow.area)
        product = cv.tr(flow.active_name or info.phase.actives[0].name)
        body = BoxLayout(orientation="vertical", padding=(14, 8), spacing=6)
        body.add_widget(FitLabel(text=_("Product: {name}").format(name=product), ref="product",
                                 bold=True, max_font_px=theme.BODY_PX + 2, size_hint_y=None,
                                 height=50))
        body.add_widget(FitLabel(
            text=_("Its maker marks it ({sign}): it goes on under the active electrode.").format(
                sign=polarity_symbol(info.polarity)),
            ref="product_sign", size_hint_y=None, height=36))
        body.add_widget(PolarityBadge(info.polarity, diameter_px=56))
        where = Panel(orientation="vertical", padding=(10, 6), spacing=4, size_hint_y=None,
                      height=150)
        where.add_widget(FitLabel(text=_("Active electrode: {name}, on the treated area, "
                                         "connected to the ACTIVE socket.").format(
                                             name=info.electrode_name),
                                  ref="active_electrode", max_font_px=theme.SMALL_PX + 2))
        where.add_widget(FitLabel(text=_("Return electrode: {text} Connected to the RETURN "
                                         "socket.").format(text=cv.tr(area.return_electrode)),
                                  ref="return_electrode", max_font_px=theme.SMALL_PX + 2))
        body.add_widget(where)
        body.add_widget(Widget())
        self.add_widget(body)
        self.add_widget(self.action_bar(primary=self.primary_button(
            _("Product applied"), "confirm_active", self.confirm)))

    def _build_without_current(self) -> None:
        """A session without current: the product only; no electrodes, no polarity."""
        body = BoxLayout(orientation="vertical", padding=(14, 8), spacing=6)
        body.add_widget(FitLabel(text=_("Product: {name}").format(
            name=cv.tr(self.app.flow.active_name or "")), ref="product", bold=True,
            max_font_px=theme.BODY_PX + 2, size_hint_y=None, height=50))
        band = Panel(orientation="vertical", padding=(10, 4), size_hint_y=None, height=64,
                     background=theme.ALARM_INFO)
        band.add_widget(FitLabel(text=_("Session without current: apply the product by hand; "
                                        "no electrodes."), ref="no_current_note",
                                 color=theme.TEXT_DARK))
        body.add_widget(band)
        body.add_widget(Widget())
        self.add_widget(body)
        self.add_widget(self.action_bar(primary=self.primary_button(
            _("Product applied"), "confirm_active", self.confirm)))

    def confirm(self) -> None:
        flow = self.app.flow
        flow.active_confirmed = True
        flow.note_event(self.app.now_s(), "active_applied", flow.active_name or "")
        self.app.nav.go("tonic" if flow.without_current else "placement")
