"""Device information (from home): software and catalogue versions, the board, and a quiet
"Service" entry, so the long press on the logo is not the only way in (ui-guide: no gesture is
the only way).

The versions are the control layer's answer to the ``versions`` query (in-process or over the
daemon's socket); a refusal (the control unit not answering) is shown with its code, never a
crash.
"""

from __future__ import annotations

from typing import Any

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.control.query_types import QueryRefused
from kiosk.i18n import _
from kiosk.screens import theme
from kiosk.screens.base import KioskScreen
from kiosk.screens.registry import register
from kiosk.screens.widgets import FitLabel, KButton, Panel


def versions(app: Any) -> dict[str, Any] | str:
    """The ``versions`` answer, or the refusal's code."""
    try:
        answer = app.controller.query("versions")
    except QueryRefused as refused:
        return refused.code
    except (ValueError, OSError, TimeoutError) as error:  # a client that refuses otherwise
        return type(error).__name__
    return answer if isinstance(answer, dict) else "invalid_answer"


@register
class DeviceInfoScreen(KioskScreen):
    name = "device_info"

    def title(self) -> str:
        return _("Device information")

    def build_content(self) -> None:
        body = BoxLayout(orientation="vertical", padding=(16, 10), spacing=8)
        panel = Panel(orientation="vertical", padding=(14, 8), spacing=4, size_hint_y=None,
                      height=170)
        found = versions(self.app)
        if isinstance(found, str):
            panel.add_widget(FitLabel(
                text=_("The control unit did not answer ({code}).").format(code=found),
                ref="info_error", color=theme.ALARM_MEDIUM))
        else:
            board = _("simulated") if found.get("simulated_board") else _("device board")
            for ref, label, value in (
                    ("info_software", _("Software version"), found.get("software_version")),
                    ("info_catalogue", _("Treatment catalogue"),
                     found.get("catalogue_version")),
                    ("info_board", _("Board"), board)):
                row = BoxLayout(orientation="horizontal", spacing=12)
                row.add_widget(FitLabel(text=label, color=theme.TEXT_DIM, size_hint_x=0.45))
                row.add_widget(FitLabel(text=str(value), ref=ref))
                panel.add_widget(row)
        body.add_widget(panel)
        operators = self.app.operators.active()
        body.add_widget(FitLabel(
            text=_("Operators: {count}").format(count=len(operators)), ref="info_operators",
            color=theme.TEXT_DIM, size_hint_y=None, height=34, max_font_px=theme.SMALL_PX))
        body.add_widget(Widget())
        self.add_widget(body)
        self.add_widget(self.action_bar(KButton(
            text=_("Service"), ref="service_entry", size_hint=(None, None), width=160,
            height=56, font_size=theme.SMALL_PX, on_tap=lambda: self.app.nav.go("service_pin"))))
