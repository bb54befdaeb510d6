"""The developer menu (``kiosk --sim`` only): inject a fault into the simulated board and watch it.

A side panel rather than a screen, so that the current screen (and its STOP) stays in view while a
fault is injected. The app only builds it when it was given the simulated board's ``inject``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout

from kiosk.i18n import _
from kiosk.screens import theme
from kiosk.screens.widgets import FitLabel, KButton, Panel

if TYPE_CHECKING:
    from kiosk.app import KioskApp

# The simulated board's fault names (architecture.md); the app may be given its own list.
DEFAULT_FAULTS = ("contact_loss", "contact_restore", "partial_contact", "estop_press",
                  "estop_release", "short_circuit", "load_step", "i2c_nack", "adc_never_ready",
                  "adc_stuck", "dac_ignores_writes", "stage_runaway", "loop_stall")


class DevPanel(Panel):
    """Fault buttons on the left; the screen's right side (STOP) stays visible and usable."""

    def __init__(self, app: KioskApp) -> None:
        super().__init__(orientation="vertical", size_hint=(None, None), width=530,
                         height=480 - theme.TITLE_BAR_HEIGHT_PX, pos=(0, 0), padding=8,
                         spacing=6)
        self.app = app
        self.background = theme.rgba("#263238")
        self.add_widget(FitLabel(text=_("Simulated board: inject a fault"), bold=True,
                                 size_hint_y=None, height=44))
        self.last = FitLabel(text="", ref="dev_last", color=theme.TEXT_DIM,
                             max_font_px=theme.SMALL_PX, size_hint_y=None, height=30)
        self.add_widget(self.last)
        grid = GridLayout(cols=3, spacing=6)  # every fault in view: no scrolling, no swipe
        for name in app.fault_names or DEFAULT_FAULTS:
            grid.add_widget(KButton(text=name, ref=f"inject_{name}", height=50,
                                    font_size=theme.SMALL_PX,
                                    on_tap=lambda name=name: self.inject(name)))
        self.add_widget(grid)
        close_row = BoxLayout(size_hint_y=None, height=56)
        close_row.add_widget(KButton(text=_("Close"), ref="dev_close", height=54,
                                     on_tap=app.toggle_dev_panel))
        self.add_widget(close_row)

    def inject(self, name: str) -> None:
        assert self.app.inject is not None
        self.app.inject(name)
        self.last.text = _("Injected: {name}").format(name=name)
