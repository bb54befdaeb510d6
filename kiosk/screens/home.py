"""Home: device status (ready / fault / service needed), who treats, start treatment, language,
device information.

Who treats: once the salon has operators, one of them is chosen here before a treatment starts
("Start treatment" waits for it), and every session records that name.

The service entry is discreet on purpose: a two-second press on the logo, and a quiet "Service"
button on the device information page, so the long press is not the only way in (ui-guide).
"""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.graphics import Color, Ellipse, Line
from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk import i18n
from kiosk.control.snapshot import Snapshot, TreatmentState
from kiosk.i18n import _
from kiosk.screens import theme
from kiosk.screens.base import KioskScreen
from kiosk.screens.registry import register
from kiosk.screens.texts import fault_texts
from kiosk.screens.widgets import FitLabel, KButton, Panel

LONG_PRESS_S = 2.0


class Logo(Widget):
    """The device's mark; a long press opens the service PIN screen."""

    ref = StringProperty("logo")

    def __init__(self, on_long_press: Any, **kwargs: Any) -> None:
        super().__init__(size_hint=(None, None), size=(96, 96), **kwargs)
        self._on_long_press = on_long_press
        self._pending: Any = None
        with self.canvas:
            Color(*theme.NEGATIVE)
            self._left = Ellipse()
            Color(*theme.POSITIVE)
            self._right = Ellipse()
            Color(*theme.TEXT)
            self._wave = Line(width=3)
        self.bind(pos=self._sync, size=self._sync)

    def _sync(self, *_args: Any) -> None:
        d = self.width * 0.42
        self._left.pos = (self.x, self.center_y - d / 2)
        self._left.size = (d, d)
        self._right.pos = (self.right - d, self.center_y - d / 2)
        self._right.size = (d, d)
        self._wave.points = [self.x + d / 2, self.center_y, self.center_x - 8, self.center_y + 14,
                             self.center_x + 8, self.center_y - 14, self.right - d / 2,
                             self.center_y]

    def on_touch_down(self, touch: Any) -> bool:
        if self.collide_point(*touch.pos):
            self._cancel()
            self._pending = Clock.schedule_once(lambda _dt: self._on_long_press(),
                                                LONG_PRESS_S)
            touch.grab(self)
            return True
        return False

    def on_touch_up(self, touch: Any) -> bool:
        if touch.grab_current is self:
            touch.ungrab(self)
            self._cancel()
            return True
        return False

    def _cancel(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None


def device_status(app: Any, snapshot: Snapshot) -> tuple[str, str, str]:
    """(status code, headline, detail): "ready", "fault" or "service"."""
    if snapshot.fault is not None or snapshot.state is TreatmentState.FAULT:
        what, todo = fault_texts(snapshot.fault.reason) if snapshot.fault else ("", "")
        return "fault", _("Fault"), f"{what} {todo}".strip()
    if not snapshot.healthy:
        return "service", _("Service needed"), _("The device self-test did not pass. Do not "
                                                  "treat; call service.")
    if not app.records_view.healthy:
        return "service", _("Service needed"), _("Records cannot be saved. Call service.")
    return "ready", _("Ready"), _("The device passed its self-test.")


STATUS_COLOURS = {"ready": theme.CONTACT_GOOD, "fault": theme.ALARM_HIGH,
                  "service": theme.ALARM_MEDIUM}


@register
class HomeScreen(KioskScreen):
    name = "home"

    def title(self) -> str:
        return _("Galvanic treatment")

    def back_allowed(self) -> bool:
        return False

    def build_content(self) -> None:
        body = BoxLayout(orientation="horizontal", padding=theme.PADDING_PX * 2, spacing=20)
        left = BoxLayout(orientation="vertical", spacing=12, size_hint_x=0.62)
        self.status_panel = Panel(orientation="vertical", padding=14, spacing=4,
                                  size_hint_y=None, height=140)
        self.status_label = FitLabel(text="", ref="device_status", bold=True,
                                     max_font_px=theme.HEADING_PX, size_hint_y=None, height=48)
        self.status_detail = FitLabel(text="", ref="device_status_detail")
        self.status_panel.add_widget(self.status_label)
        self.status_panel.add_widget(self.status_detail)
        left.add_widget(self.status_panel)
        left.add_widget(FitLabel(text=_("Language"), size_hint_y=None, height=34,
                                 color=theme.TEXT_DIM))
        languages = BoxLayout(orientation="horizontal", spacing=10, size_hint_y=None,
                              height=theme.PRIMARY_HEIGHT_PX)
        for code, language_name in i18n.LANGUAGES.items():
            languages.add_widget(KButton(
                text=language_name, ref=f"language_{code}",
                kind="selected" if code == i18n.current_language() else "neutral",
                on_tap=lambda code=code: self.app.set_language(code)))
        left.add_widget(languages)
        left.add_widget(Widget())
        body.add_widget(left)
        right = BoxLayout(orientation="vertical", spacing=12)
        self.operator_button = self._operator_button()
        right.add_widget(self.operator_button or Widget())
        logo_row = BoxLayout(size_hint_y=None, height=110)
        logo_row.add_widget(Widget())
        logo_row.add_widget(Logo(on_long_press=lambda: self.app.nav.go("service_pin")))
        logo_row.add_widget(Widget())
        right.add_widget(logo_row)
        right.add_widget(Widget())
        right.add_widget(KButton(text=_("Device information"), ref="device_info",
                                 height=56, font_size=theme.SMALL_PX,
                                 on_tap=lambda: self.app.nav.go("device_info")))
        body.add_widget(right)
        self.add_widget(body)
        self.start_button = self.primary_button(_("Start treatment"), "start_treatment",
                                                self.app.start_new_treatment)
        self.start_button.height = 80
        self.add_widget(self.action_bar(primary=self.start_button))

    def _operator_button(self) -> KButton | None:
        """"Who treats: Anna" (or, with nobody chosen, a yellow "Choose who treats")."""
        book = self.app.operators
        if not book.active():
            return None
        chosen = book.on_duty
        from kiosk.screens.service_operators import elided

        return KButton(text=_("Who treats: {name}").format(name=elided(chosen.name, 230))
                       if chosen
                       else _("Choose who treats"), ref="operator_choice",
                       kind="neutral" if chosen else "warning", height=theme.PRIMARY_HEIGHT_PX,
                       font_size=theme.SMALL_PX + 1,
                       on_tap=lambda: self.app.nav.go("operator_choice"))

    def on_snapshot(self, snapshot: Snapshot) -> None:
        status, headline, detail = device_status(self.app, snapshot)
        self.status_label.text = headline
        self.status_detail.text = detail
        self.status_panel.background = STATUS_COLOURS[status] if status != "ready" \
            else theme.SURFACE
        # One assignment per colour: setting TEXT and then CONTACT_GOOD on every poll changed
        # the label twice, and Kivy redrew the whole window 15 times a second on an idle screen.
        text_colour = theme.TEXT_DARK if status == "service" else theme.TEXT
        self.status_label.color = theme.CONTACT_GOOD if status == "ready" else text_colour
        self.status_detail.color = text_colour
        self.start_button.disabled = status != "ready" or self.app.operators.needs_choice()
