"""The base of every screen: title bar, content, action bar; snapshot updates; rebuild on demand.

A screen builds its widgets in :meth:`KioskScreen.build_content` from the app's flow state and the
current language; it is rebuilt whole after a language switch (cheaper to reason about than
re-binding every label). Screens on which current can flow set ``current_can_flow`` and put the
STOP button bottom right through :meth:`KioskScreen.action_bar`.

Every screen of a treatment step (``step`` set) has a help button in its title bar that opens that
step's help (:mod:`kiosk.screens.help`); on a screen where current can flow the help leaves the
bottom row, and STOP in it, uncovered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.control.commands import Stop, StopReason
from kiosk.control.snapshot import Snapshot
from kiosk.screens import theme
from kiosk.screens.flow import STEP_COUNT, Step
from kiosk.screens.widgets import KButton, StopButton, TitleBar

if TYPE_CHECKING:
    from kiosk.app import KioskApp


class KioskScreen(BoxLayout):
    """One screen: ``name`` for the registry, ``step`` of the treatment flow (or None)."""

    name: ClassVar[str] = ""
    step: ClassVar[int | None] = None
    current_can_flow: ClassVar[bool] = False

    def __init__(self, app: KioskApp, **params: Any) -> None:
        super().__init__(orientation="vertical")
        self.app = app
        self.params = params
        self.help_view: Widget | None = None
        self.bottom_bar: Widget | None = None

    # -- to override -------------------------------------------------------------------------
    def title(self) -> str:
        raise NotImplementedError

    def back_allowed(self) -> bool:
        return True

    def build_content(self) -> None:
        raise NotImplementedError

    def on_snapshot(self, snapshot: Snapshot) -> None:
        """Called at the poll rate with the newest control snapshot."""

    def on_leave(self) -> None:
        """Called when another screen replaces this one (an override calls this one too: it
        closes the help)."""
        self.close_help()

    def help_step(self) -> str | None:
        """The id of this screen's help (``kiosk/guide/help.toml``): its step's, lower case."""
        return Step(self.step).name.lower() if self.step is not None else None

    # -- shared -------------------------------------------------------------------------------
    def build(self) -> None:
        self.clear_widgets()
        step = (self.step, STEP_COUNT) if self.step is not None else None
        on_back = self.app.nav.back if self.back_allowed() else None
        on_help = self.open_help if self.help_step() is not None else None
        self.close_help()  # a rebuild starts without it
        self.title_bar = TitleBar(self.title(), step=step, on_back=on_back, on_help=on_help)
        for extra in self.app.title_extras():
            self.title_bar.add_widget(extra)
        self.add_widget(self.title_bar)
        self.build_content()

    def action_bar(self, *secondary: Widget, primary: Widget | None = None) -> BoxLayout:
        """The bottom row: secondary actions on the left, the primary (or STOP) on the right."""
        bar = BoxLayout(orientation="horizontal", size_hint_y=None, spacing=theme.PADDING_PX,
                        padding=(theme.PADDING_PX, 6, theme.PADDING_PX, theme.PADDING_PX))
        tallest = max([theme.PRIMARY_HEIGHT_PX]
                      + [int(w.height) for w in (*secondary, primary) if w is not None])
        bar.height = tallest + 16
        for widget in secondary:
            bar.add_widget(widget)
        if not secondary:
            bar.add_widget(Widget())
        if self.current_can_flow:
            bar.add_widget(StopButton(on_tap=self.stop_current))
        elif primary is not None:
            bar.add_widget(primary)
        self.bottom_bar = bar
        return bar

    def open_help(self) -> None:
        """This step's help over the screen; where current can flow, the bottom row (STOP)
        stays uncovered and working."""
        from kiosk.screens.help import open_help

        step_id = self.help_step()
        if step_id is None or self.help_view is not None:
            return
        keep = self.bottom_bar.height if self.current_can_flow and self.bottom_bar else 0.0
        self.help_view = open_help(self.app, step_id, keep_bottom_px=keep)
        self.help_view.bind(parent=self._help_closed)

    def _help_closed(self, view: Widget, parent: Widget | None) -> None:
        if parent is None and view is self.help_view:
            self.help_view = None

    def close_help(self) -> None:
        view = getattr(self, "help_view", None)
        if view is not None:
            view.close()  # type: ignore[attr-defined]
            self.help_view = None

    def primary_button(self, text: str, ref: str, on_tap: Any, *, enabled: bool = True) -> KButton:
        return KButton(text=text, ref=ref, kind="primary", on_tap=on_tap, disabled=not enabled,
                       size_hint=(None, None), width=theme.STOP_WIDTH_PX,
                       height=theme.PRIMARY_HEIGHT_PX, bold=True)

    def stop_current(self) -> None:
        """STOP never asks: to zero within 2 s (the control layer does it)."""
        self.app.submit(Stop(StopReason.OPERATOR))
        self.app.flow.note_event(self.app.now_s(), "stop_operator")
