"""The help of a step (issue 11 item 7): what to do, what the client should feel, what to watch
for and, where current can flow, what each alarm means and what to do.

The texts are the step help of ``kiosk/guide/help.toml``, the same the instructions for use print
(``tools/ifu``), translated by message id like every other text (the catalogue tool extracts them;
``tests/ui/test_help.py`` proves each has its Russian). The alarms are the fault overlay's own
texts (``kiosk.screens.texts.FAULT_TEXTS``); what the client should feel on the current stage adds
the chosen area's own notes (the eye area: flashes of light mean stop).

A view over the screen, not a screen of its own: the back stack, the stage timers and the screen
below stay as they are, and closing it lands where the beautician was. Where current can flow it
leaves the screen's bottom row uncovered, so STOP (and "client feels burning") stay in their place
and work while the help is open; the fault overlay still comes above it. Sections are tabs and
long sections are pages with buttons (no scrolling, no swipe: wet gloves).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kivy.core.text import Label as CoreLabel
from kivy.graphics import Color, Rectangle
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.guide import load_guide
from kiosk.i18n import N_, _
from kiosk.screens import catalogue_view as cv
from kiosk.screens import theme
from kiosk.screens.texts import FAULT_TEXTS
from kiosk.screens.widgets import FitLabel, KButton, Panel

if TYPE_CHECKING:
    from kiosk.app import KioskApp

ITEM_PX = theme.BODY_PX - 3  # help text: 20 px, above the 18 px floor
HEADER_PX = 64
TABS_PX = 58
PAGER_PX = 58
PAD_PX = 10
ITEM_GAP_PX = 6

SECTION_TITLES = {
    "do": N_("What to do"),
    "feels": N_("Client feels"),
    "watch": N_("Watch for"),
    "alarms": N_("Alarms"),
}
ALARM_STEPS = ("current",)
"""Steps on which current can flow: their help explains every alarm."""


def section_texts(step_id: str, area_id: str | None, catalogue: Any) -> dict[str, list[str]]:
    """The translated bullets of each section of ``step_id``'s help, in order; empty sections
    are left out."""
    step = load_guide().step(step_id)
    feels = [_(text) for text in step.client_feels]
    if step_id == "current" and area_id is not None:
        # the area's own notes first: they may say stop (the eye area: flashes of light)
        own = [cv.tr(t) for t in catalogue.area(area_id).expected_sensations]
        feels = own + feels + [cv.tr(t) for t in catalogue.expected_sensations]
    sections = {"do": [_(t) for t in step.do], "feels": list(dict.fromkeys(feels)),
                "watch": [_(t) for t in step.watch_for]}
    if step_id in ALARM_STEPS:
        sections["alarms"] = [f"{_(happened)} {_(todo)}"
                              for happened, todo in FAULT_TEXTS.values()]
    return {name: items for name, items in sections.items() if items}


def text_height_px(text: str, width_px: float, font_px: float) -> float:
    """The height ``text`` takes wrapped at words in ``width_px`` (Kivy's own renderer)."""
    core = CoreLabel(text=text, text_size=(width_px, None), font_size=font_px)
    core.refresh()
    return float(core.content_height)


def paginate(texts: list[str], width_px: float, height_px: float,
             font_px: float = ITEM_PX) -> list[list[tuple[str, float]]]:
    """Texts in pages that fit ``height_px``: (text, label height) in order; a text taller than
    a page gets a page of its own (its label then shrinks, never under the floor)."""
    pages: list[list[tuple[str, float]]] = [[]]
    used = 0.0
    for text in texts:
        height = min(text_height_px(text, width_px, font_px) + 4, height_px)
        if pages[-1] and used + ITEM_GAP_PX + height > height_px:
            pages.append([])
            used = 0.0
        used += (ITEM_GAP_PX if pages[-1] else 0) + height
        pages[-1].append((text, height))
    return pages


class HelpView(Panel):
    """The help of one step over the screen (see the module's docstring)."""

    def __init__(self, app: KioskApp, step_id: str, *, keep_bottom_px: float = 0.0) -> None:
        width, height = theme.SCREEN_SIZE_PX
        super().__init__(orientation="vertical", size_hint=(None, None),
                         size=(width, height - keep_bottom_px), pos=(0, keep_bottom_px),
                         padding=(PAD_PX, 0, PAD_PX, 4), spacing=4, background=theme.BACKGROUND)
        self.ref = "help_view"
        self.app = app
        self.step_id = step_id
        self.sections = section_texts(step_id, app.flow.area, app.catalogue)
        self.section = next(iter(self.sections))
        self.page = 0
        with self.canvas.after:  # a line under the view: where the uncovered bottom row begins
            Color(*theme.ALARM_INFO)
            self._edge = Rectangle(pos=(0, keep_bottom_px), size=(width, 2))
        self.build()

    # -- layout ---------------------------------------------------------------------------------
    def _body_size(self) -> tuple[float, float]:
        width = self.width - 2 * PAD_PX
        # the header, tabs and pager rows, the view's spacing and bottom padding, and the gap
        # before the filler that ends the body's column
        height = self.height - HEADER_PX - TABS_PX - PAGER_PX - 3 * 4 - 4 - ITEM_GAP_PX
        return width, height

    def pages(self) -> list[list[tuple[str, float]]]:
        width, height = self._body_size()
        bullets = ["• " + text for text in self.sections[self.section]]
        return paginate(bullets, width, height)

    def build(self) -> None:
        self.clear_widgets()
        guide_step = load_guide().step(self.step_id)
        header = BoxLayout(orientation="horizontal", size_hint_y=None, height=HEADER_PX,
                           padding=(0, 4), spacing=8)
        header.add_widget(KButton(text="‹ " + _("Close help"), ref="help_close",
                                  size_hint=(None, None), width=190, height=56,
                                  on_tap=self.close))
        header.add_widget(FitLabel(text=_("Help: {step}").format(step=_(guide_step.title)),
                                   ref="help_title", bold=True, max_font_px=theme.BODY_PX + 3))
        self.add_widget(header)

        tabs = BoxLayout(orientation="horizontal", size_hint_y=None, height=TABS_PX, spacing=8)
        for name in self.sections:
            tabs.add_widget(KButton(text=_(SECTION_TITLES[name]), ref=f"help_tab_{name}",
                                    kind="selected" if name == self.section else "neutral",
                                    height=54, font_size=theme.SMALL_PX + 1,
                                    on_tap=lambda name=name: self.show_section(name)))
        self.add_widget(tabs)

        pages = self.pages()
        self.page = min(self.page, len(pages) - 1)
        body = BoxLayout(orientation="vertical", spacing=ITEM_GAP_PX)
        for index, (text, height) in enumerate(pages[self.page]):
            body.add_widget(FitLabel(text=text, ref=f"help_item_{index}", size_hint_y=None,
                                     height=height, max_font_px=ITEM_PX))
        body.add_widget(Widget())
        self.add_widget(body)

        pager = BoxLayout(orientation="horizontal", size_hint_y=None, height=PAGER_PX,
                          spacing=8)
        if len(pages) > 1:
            pager.add_widget(KButton(text="‹ " + _("Previous"), ref="help_previous",
                                     size_hint=(None, None), width=200, height=54,
                                     disabled=self.page == 0,
                                     on_tap=lambda: self.turn(-1)))
            pager.add_widget(FitLabel(text=_("Page {n} of {total}").format(
                n=self.page + 1, total=len(pages)), ref="help_page", halign="center",
                color=theme.TEXT_DIM, max_font_px=theme.SMALL_PX + 1))
            pager.add_widget(KButton(text=_("Next") + " ›", ref="help_next",
                                     size_hint=(None, None), width=200, height=54,
                                     disabled=self.page == len(pages) - 1,
                                     on_tap=lambda: self.turn(+1)))
        self.add_widget(pager)

    # -- actions --------------------------------------------------------------------------------
    def show_section(self, name: str) -> None:
        self.section = name
        self.page = 0
        self.build()

    def turn(self, delta: int) -> None:
        self.page = max(0, min(self.page + delta, len(self.pages()) - 1))
        self.build()

    def close(self) -> None:
        if self.parent is not None:
            self.parent.remove_widget(self)

    # -- a modal view: nothing under it takes a touch ---------------------------------------------
    def on_touch_down(self, touch: Any) -> bool:
        if self.collide_point(*touch.pos):
            super().on_touch_down(touch)
            return True
        return False

    def on_touch_move(self, touch: Any) -> bool:
        if self.collide_point(*touch.pos):
            super().on_touch_move(touch)
            return True
        return False

    def on_touch_up(self, touch: Any) -> bool:
        if self.collide_point(*touch.pos):
            super().on_touch_up(touch)
            return True
        return False


def open_help(app: KioskApp, step_id: str, *, keep_bottom_px: float = 0.0) -> HelpView:
    """Show ``step_id``'s help over the screen (the fault and link overlays stay above it)."""
    view = HelpView(app, step_id, keep_bottom_px=keep_bottom_px)
    app.root_widget.add_widget(view)
    app.overlay.raise_to_top()
    app.link_overlay.raise_to_top()
    return view
