"""The service PIN pad (from the device information page, or a long press on the home logo).

A 12-key pad of our own: ten digits, "Erase" and "OK", faces in Roboto's own glyphs (digits and
words, nothing the font may lack), the typed digits shown as drawn discs. What the pad decides is
:mod:`kiosk.access.service_access`'s: this screen says it in the person's language (a lock-out with
the time left, counted down), and opens the menu, or the forced change of a factory PIN.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from kivy.graphics import Color, Ellipse, InstructionGroup, Line
from kivy.properties import NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

from kiosk.access.pins import MAX_WRONG_IN_ROW, PIN_LENGTH, AccessCode, AccessDecision
from kiosk.control.snapshot import Snapshot
from kiosk.i18n import _
from kiosk.screens import theme
from kiosk.screens.base import KioskScreen
from kiosk.screens.registry import SCREENS, register
from kiosk.screens.service_base import sign_in
from kiosk.screens.widgets import FitLabel, KButton, format_min_s

ERASE = "erase"  # the key's id; its face is a translated word (no symbol the font may lack)
OK = "ok"
KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", ERASE, "0", OK)
KEY_HEIGHT_PX = 70


class PinDots(Widget):
    """One filled disc per digit typed, drawn (not a glyph the font may not have), with a ring
    for each digit still to come."""

    ref = StringProperty("pin_dots")
    count = NumericProperty(0)
    DIAMETER_PX = 22

    def __init__(self, slots: int = PIN_LENGTH, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.slots = slots
        self._group = InstructionGroup()
        self.canvas.add(self._group)
        self.bind(pos=self._draw, size=self._draw, count=self._draw)

    def _draw(self, *_args: Any) -> None:
        self._group.clear()
        y = self.center_y - self.DIAMETER_PX / 2
        for index in range(self.slots):
            x = self.x + index * (self.DIAMETER_PX + 14)
            if index < int(self.count):
                self._group.add(Color(*theme.TEXT))
                self._group.add(Ellipse(pos=(x, y), size=(self.DIAMETER_PX, self.DIAMETER_PX)))
            else:
                self._group.add(Color(*theme.TEXT_DIM))
                self._group.add(Line(circle=(x + self.DIAMETER_PX / 2, self.center_y,
                                             self.DIAMETER_PX / 2 - 1), width=1.4))


class PinPad(GridLayout):
    """1-9, Erase, 0, OK (refs ``pin_1`` ... ``pin_del``, ``pin_ok``); calls ``on_ok(digits)``."""

    def __init__(self, dots: PinDots, on_ok: Callable[[str], None], **kwargs: Any) -> None:
        kwargs.setdefault("size_hint_x", None)
        kwargs.setdefault("width", 3 * 92 + 16)
        super().__init__(cols=3, spacing=8, **kwargs)
        self.digits = ""
        self.dots = dots
        self._on_ok = on_ok
        self.keys: list[KButton] = []
        for key in KEYS:
            face = _("Erase") if key == ERASE else _("OK") if key == OK else key
            button = KButton(text=face, ref="pin_del" if key == ERASE else f"pin_{key}",
                             height=KEY_HEIGHT_PX, size_hint_y=None,
                             font_size=30 if key not in (ERASE, OK) else theme.BODY_PX,
                             kind="primary" if key == OK else "neutral",
                             on_tap=lambda k=key: self.press(k))
            self.keys.append(button)
            self.add_widget(button)

    def press(self, key: str) -> None:
        if key == ERASE:
            self.digits = self.digits[:-1]
        elif key == OK:
            digits, self.digits = self.digits, ""
            self.dots.count = 0
            self._on_ok(digits)
            return
        elif len(self.digits) < self.dots.slots:
            self.digits += key
        self.dots.count = len(self.digits)

    def clear(self) -> None:
        self.digits = ""
        self.dots.count = 0

    def set_enabled(self, enabled: bool) -> None:
        for key in self.keys:
            key.disabled = not enabled


def decision_text(decision: AccessDecision, wall_now_s: float) -> str:
    """The person's words for a refusal of the pad (the codes are the vault's)."""
    code = decision.code
    if code is AccessCode.WRONG:
        return _("Wrong PIN. Tries left before the entry locks: {left}").format(
            left=max(0, MAX_WRONG_IN_ROW - decision.wrong_in_row))
    if code is AccessCode.LOCKED:
        left_s = math.ceil(max(0.0, (decision.locked_until_s or wall_now_s) - wall_now_s))
        return _("Too many wrong PINs. Service entry is locked for {time}.").format(
            time=format_min_s(left_s))
    if code is AccessCode.MALFORMED:
        return _("Type the PIN's six digits, then OK.")
    if code is AccessCode.NOT_PROVISIONED:
        return _("No service PIN is set on this device. Call the manufacturer's service.")
    if code is AccessCode.STORE_DAMAGED:
        return _("The service PIN file is damaged: entry is refused. Call the manufacturer's "
                 "service.")
    if code is AccessCode.CURRENT_FLOWING:
        return _("Service mode cannot open while current may flow.")
    if code is AccessCode.NOT_ALLOWED:
        return _("This PIN may not do that.")
    return ""


@register
class ServicePinScreen(KioskScreen):
    name = "service_pin"

    def title(self) -> str:
        return _("Service")

    def build_content(self) -> None:
        body = BoxLayout(orientation="horizontal", padding=(20, 10), spacing=20)
        left = BoxLayout(orientation="vertical", spacing=8)
        left.add_widget(FitLabel(text=_("Enter the service PIN."), size_hint_y=None,
                                 height=44, max_font_px=theme.BODY_PX + 3))
        self.dots = PinDots(size_hint_y=None, height=56)
        left.add_widget(self.dots)
        self.message = FitLabel(text="", ref="pin_message", color=theme.ALARM_MEDIUM,
                                size_hint_y=None, height=120)
        left.add_widget(self.message)
        refused = str(self.params.get("refused_page", ""))
        self.hint = FitLabel(text=self._refused_text(refused), ref="pin_hint",
                             color=theme.TEXT_DIM, max_font_px=theme.SMALL_PX)
        left.add_widget(self.hint)
        body.add_widget(left)
        self.pad = PinPad(self.dots, self.submit)
        body.add_widget(self.pad)
        self.add_widget(body)
        self._blocked_by: AccessDecision | None = None
        self._refresh()

    def _refused_text(self, page: str) -> str:
        if not page:
            return ""
        screen: Any = SCREENS.get(page)
        roles = getattr(screen, "service_roles", ())
        if [r.value for r in roles] == ["technician"]:
            return _("That page needs the technician's PIN.")
        return _("That page needs a service PIN.")

    def submit(self, digits: str) -> None:
        decision = sign_in(self.app, digits)
        if decision.code is AccessCode.GRANTED:
            self.app.nav.replace("service")
            return
        if decision.code is AccessCode.MUST_CHANGE:
            self.app.nav.replace("service_pin_change", forced=True)
            return
        self.message.text = decision_text(decision, self.app.wall_now_s())
        self._refresh()

    def _refresh(self) -> None:
        """Keys off while the entry is locked, has no vault, or current may flow; the time
        left of a lock-out counts down on the screen."""
        if self.app.current_may_flow():
            blocked: AccessDecision | None = AccessDecision(AccessCode.CURRENT_FLOWING, "")
        else:
            blocked = self.app.service_access.lock_status(self.app.wall_now_s())
        if blocked is not None:
            text = decision_text(blocked, self.app.wall_now_s())
            if self.message.text != text:  # the countdown: a new text once a second
                self.message.text = text
            if self._blocked_by is None:
                self.pad.clear()
        elif self._blocked_by is not None:
            self.message.text = ""  # the lock has run out
        self.pad.set_enabled(blocked is None)  # Kivy dispatches only a change
        self._blocked_by = blocked

    def on_snapshot(self, snapshot: Snapshot) -> None:
        self._refresh()
