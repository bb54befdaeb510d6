"""The service PIN (reached by a long press on the home logo): a keypad, nothing else."""

from __future__ import annotations

import hmac
from typing import Any

from kivy.graphics import Color, Ellipse, InstructionGroup
from kivy.properties import NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

from kiosk.i18n import _
from kiosk.screens import theme
from kiosk.screens.base import KioskScreen
from kiosk.screens.registry import register
from kiosk.screens.widgets import FitLabel, KButton

MAX_PIN_DIGITS = 8
ERASE = "erase"  # the key's id; its face is a translated word (no symbol the font may lack)


class PinDots(Widget):
    """One filled disc per digit typed, drawn (not a glyph the font may not have)."""

    ref = StringProperty("pin_dots")
    count = NumericProperty(0)
    DIAMETER_PX = 22

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._group = InstructionGroup()
        self.canvas.add(self._group)
        self.bind(pos=self._draw, size=self._draw, count=self._draw)

    def _draw(self, *_args: Any) -> None:
        self._group.clear()
        self._group.add(Color(*theme.TEXT))
        y = self.center_y - self.DIAMETER_PX / 2
        for index in range(int(self.count)):
            x = self.x + index * (self.DIAMETER_PX + 12)
            self._group.add(Ellipse(pos=(x, y), size=(self.DIAMETER_PX, self.DIAMETER_PX)))


@register
class ServicePinScreen(KioskScreen):
    name = "service_pin"

    def title(self) -> str:
        return _("Service")

    def build_content(self) -> None:
        self.digits = ""
        body = BoxLayout(orientation="horizontal", padding=(20, 8), spacing=20)
        left = BoxLayout(orientation="vertical", spacing=8)
        left.add_widget(FitLabel(text=_("Enter the service PIN."), size_hint_y=None,
                                 height=40))
        self.dots = PinDots(size_hint_y=None, height=60)
        left.add_widget(self.dots)
        self.message = FitLabel(text="", ref="pin_message", color=theme.ALARM_MEDIUM,
                                size_hint_y=None, height=40)
        left.add_widget(self.message)
        left.add_widget(Widget())
        body.add_widget(left)
        pad = GridLayout(cols=3, spacing=8, size_hint_x=None, width=3 * 88 + 16)
        for key in ("1", "2", "3", "4", "5", "6", "7", "8", "9", ERASE, "0", "OK"):
            pad.add_widget(KButton(text=_("Erase") if key == ERASE else key,
                                   ref=f"pin_{'del' if key == ERASE else key.lower()}",
                                   height=72, font_size=30 if key != ERASE else theme.BODY_PX,
                                   size_hint_y=None,
                                   kind="primary" if key == "OK" else "neutral",
                                   on_tap=lambda k=key: self.press(k)))
        body.add_widget(pad)
        self.add_widget(body)
        self.add_widget(self.action_bar())

    def press(self, key: str) -> None:
        if key == ERASE:
            self.digits = self.digits[:-1]
        elif key == "OK":
            if hmac.compare_digest(self.digits.encode(), self.app.service_pin.encode()):
                self.app.nav.replace("service")
                return
            self.digits = ""
            self.message.text = _("Wrong PIN.")
        elif len(self.digits) < MAX_PIN_DIGITS:
            self.digits += key
            self.message.text = ""
        self.dots.count = len(self.digits)
