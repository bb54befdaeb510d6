"""The "control unit not answering" cover: shown over everything while the UI has no live link
to the control daemon (no connection, or the newest snapshot older than the client's limit).

Opaque: no figure of the screen below (a current, a time, a dose) can be read as live while the
UI does not know it. It goes by itself when fresh snapshots arrive again; a fault latched
meanwhile then shows on the fault overlay.
"""

from __future__ import annotations

from typing import Any

from kivy.graphics import Color, Rectangle
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout

from kiosk.i18n import _
from kiosk.screens import theme
from kiosk.screens.widgets import FitLabel


class LinkOverlay(FloatLayout):
    """Full-screen, opaque; ``show()`` / ``hide()`` on the root widget."""

    def __init__(self, root: FloatLayout) -> None:
        super().__init__(size_hint=(1, 1))
        self.root_widget = root
        self.visible = False
        with self.canvas.before:
            Color(*theme.BACKGROUND)
            self._shade = Rectangle()
            Color(*theme.ALARM_MEDIUM)
            self._band = Rectangle()
        self.bind(pos=self._sync, size=self._sync)

    def _sync(self, *_args: Any) -> None:
        self._shade.pos = self.pos
        self._shade.size = self.size
        self._band.pos = (self.x, self.top - 24)
        self._band.size = (self.width, 24)

    def _build(self) -> None:
        self.clear_widgets()
        column = BoxLayout(orientation="vertical", padding=(32, 48, 32, 48), spacing=16)
        column.add_widget(FitLabel(text=_("Control unit not answering"), ref="link_heading",
                                   max_font_px=theme.HEADING_PX, bold=True,
                                   color=theme.ALARM_MEDIUM))
        column.add_widget(FitLabel(
            text=_("The figures of the treatment cannot be shown. The device cuts the current "
                   "by itself when its control stops. Reconnecting..."),
            ref="link_detail", max_font_px=theme.BODY_PX, color=theme.TEXT))
        column.add_widget(FitLabel(
            text=_("If this stays for more than a minute, switch the device off and call "
                   "service."), ref="link_todo", max_font_px=theme.BODY_PX,
            color=theme.TEXT_DIM))
        self.add_widget(column)

    def show(self) -> None:
        if self.visible:
            return
        self.visible = True
        self._build()
        self.raise_to_top()

    def hide(self) -> None:
        if not self.visible:
            return
        self.visible = False
        self.clear_widgets()
        if self.parent is not None:
            self.parent.remove_widget(self)

    def raise_to_top(self) -> None:
        if not self.visible:
            return
        if self.parent is not None:
            self.parent.remove_widget(self)
        self.root_widget.add_widget(self)
