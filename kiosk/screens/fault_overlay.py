"""The fault overlay: latched, plain cause and what to do, flashing red, acknowledge required.

It sits above every screen as long as the control snapshot carries a latched fault (the control
layer sounds the buzzer meanwhile). Acknowledging sends ``Acknowledge(code)``; the overlay goes
only when the control layer has cleared the latch. It never hides STOP: when the screen below is
one where current can flow, the overlay repeats STOP at the very same place.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from kivy.graphics import Color, Rectangle
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.widget import Widget

from kiosk.control.commands import Acknowledge, Stop, StopReason
from kiosk.control.snapshot import FaultInfo, Snapshot
from kiosk.i18n import _
from kiosk.screens import theme
from kiosk.screens.texts import fault_texts, reason_text
from kiosk.screens.widgets import FitLabel, KButton, StopButton, ValueLabel, format_ma

if TYPE_CHECKING:
    from kiosk.app import KioskApp

FLASH_PERIOD_S = 1.0
ACK_REFUSALS = {"ack_condition_present", "ack_too_early", "ack_code_mismatch",
                "nothing_to_acknowledge"}


class FaultOverlay(FloatLayout):
    """Shown over everything while ``snapshot.fault`` is set."""

    def __init__(self, app: KioskApp) -> None:
        super().__init__(size_hint=(1, 1))
        self.app = app
        self.fault: FaultInfo | None = None
        self.acknowledged_code: str | None = None
        self.refusal_text = ""
        self.noticed_at = ""
        self.seen_refusal: Any = None
        self.visible = False
        with self.canvas.before:
            Color(0.07, 0.03, 0.03, 1.0)  # opaque: nothing of the screen below competes
            self._shade = Rectangle()
            self._band_colour = Color(*theme.ALARM_HIGH)
            self._band = Rectangle()
        self.bind(pos=self._sync, size=self._sync)

    def _sync(self, *_args: Any) -> None:
        self._shade.pos = self.pos
        self._shade.size = self.size
        self._band.pos = (self.x, self.top - 110)
        self._band.size = (self.width, 110)
        for child in self.children:
            if getattr(child, "ref", "") == "stop":
                child.pos = (self.right - theme.PADDING_PX - child.width,
                             self.y + theme.PADDING_PX)

    def update(self, snapshot: Snapshot) -> None:
        fault = snapshot.fault
        if fault is None:
            if self.visible:
                self._hide()
            return
        if not self.visible or self.fault is None or self.fault.at_s != fault.at_s:
            self.fault = fault
            self.acknowledged_code = None
            self.refusal_text = ""
            self.seen_refusal = snapshot.last_refusal
            self.noticed_at = time.strftime("%H:%M:%S")  # the salon's clock, for the service log
            self._show()
        refusal = snapshot.last_refusal
        if (self.acknowledged_code is not None and refusal is not None
                and refusal.code in ACK_REFUSALS and refusal is not self.seen_refusal):
            # the control layer did not accept the acknowledgement: say why, allow it again
            self.seen_refusal = refusal
            self.refusal_text = reason_text(refusal)
            self.acknowledged_code = None
            self.rebuild()
        self.show_current(snapshot.measured_ma)
        flash_on = int(snapshot.time_s / (FLASH_PERIOD_S / 2)) % 2 == 0
        colour = list(theme.ALARM_HIGH if flash_on else theme.ALARM_HIGH_DIM)
        if list(self._band_colour.rgba) != colour:  # an assignment redraws the window, even
            self._band_colour.rgba = colour  # of the same colour: only when the flash changes

    def show_current(self, measured_ma: float) -> None:
        """The measured current now: the beautician sees that it really is (near) zero."""
        label = getattr(self, "current_label", None)
        if label is not None:
            label.text = _("Current now: {value}").format(value=format_ma(max(measured_ma,
                                                                              0.0)))

    def _show(self) -> None:
        self.visible = True
        self.rebuild()
        self.raise_to_top()

    def _hide(self) -> None:
        self.visible = False
        self.fault = None
        self.acknowledged_code = None
        if self.parent is not None:
            self.parent.remove_widget(self)

    def raise_to_top(self) -> None:
        root = self.app.root_widget
        if not self.visible:
            return
        if self.parent is not None:
            self.parent.remove_widget(self)
        root.add_widget(self)

    def rebuild(self) -> None:
        self.clear_widgets()
        if self.fault is None:
            return
        what, todo = fault_texts(self.fault.reason)
        # the red band (110 px) holds the heading and what happened; everything sized to fit
        # 480 px with the action row (the layout test renders it in every language)
        column = BoxLayout(orientation="vertical", padding=(24, 8, 24, theme.PADDING_PX),
                           spacing=4, size_hint=(1, 1))
        head = BoxLayout(orientation="horizontal", size_hint_y=None, height=44, spacing=12)
        head.add_widget(FitLabel(text=_("CURRENT STOPPED"), ref="fault_heading",
                                 max_font_px=theme.HEADING_PX, bold=True))
        self.current_label = ValueLabel(text="", ref="fault_current", bold=True,
                                        font_size=theme.BODY_PX + 3, halign="right",
                                        size_hint_x=None, width=300)
        head.add_widget(self.current_label)
        column.add_widget(head)
        column.add_widget(FitLabel(text=what, ref="fault_what", max_font_px=theme.BODY_PX + 3,
                                   bold=True, size_hint_y=None, height=52))
        column.add_widget(FitLabel(text=_("What to do: {todo}").format(todo=todo),
                                   ref="fault_todo", size_hint_y=None, height=80))
        column.add_widget(FitLabel(
            text=_("The alarm sounds until a person acknowledges it. Current cannot flow again "
                   "before a new contact check and a fresh ramp from zero."),
            ref="fault_note", color=theme.TEXT_DIM, max_font_px=theme.SMALL_PX + 1,
            size_hint_y=None, height=52))
        column.add_widget(FitLabel(
            text=_("Code for service: {code} at {time}").format(
                code=self.fault.code, time=self.noticed_at),
            ref="fault_code", color=theme.TEXT_DIM, max_font_px=theme.SMALL_PX,
            size_hint_y=None, height=26))
        column.add_widget(FitLabel(text=self.refusal_text, ref="fault_refusal",
                                   color=theme.ALARM_MEDIUM, size_hint_y=None, height=46,
                                   max_font_px=theme.SMALL_PX + 2))
        column.add_widget(Widget())
        actions = BoxLayout(orientation="horizontal", size_hint_y=None,
                            height=theme.STOP_HEIGHT_PX, spacing=theme.PADDING_PX)
        waiting = self.acknowledged_code == self.fault.code
        actions.add_widget(KButton(
            text=_("Waiting for the device…") if waiting else _("Acknowledge"),
            ref="acknowledge", kind="warning", on_tap=self.acknowledge, disabled=waiting,
            size_hint=(None, None), width=330, height=theme.PRIMARY_HEIGHT_PX + 8, bold=True))
        actions.add_widget(Widget())
        column.add_widget(actions)
        self.add_widget(column)
        screen = self.app.screen
        if screen is not None and screen.current_can_flow:
            # the very place of the screen's own STOP (action bar: right and bottom padding)
            self.add_widget(StopButton(on_tap=self._stop))
            self._sync()
        self.show_current(self.app.snapshot.measured_ma)

    def acknowledge(self) -> None:
        if self.fault is None:
            return
        self.app.submit(Acknowledge(self.fault.code))
        self.app.flow.note_event(self.app.now_s(), f"acknowledged:{self.fault.code}")
        self.acknowledged_code = self.fault.code
        self.rebuild()

    def _stop(self) -> None:
        self.app.submit(Stop(StopReason.OPERATOR))
