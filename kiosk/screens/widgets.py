"""Shared widgets of the kiosk: buttons, labels that fit, title bar, STOP, polarity, bars.

Every widget a test or a person taps carries a ``ref`` (a stable name, not a translated text), so
tests resolve the widget and tap its centre instead of guessing coordinates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from kivy.core.text import Label as CoreLabel
from kivy.graphics import Color, Ellipse, Rectangle
from kivy.properties import ListProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk.control.commands import Polarity
from kiosk.i18n import _, numbers
from kiosk.screens import theme

_BUTTON_KINDS = {
    "primary": (theme.PRIMARY, theme.PRIMARY_PRESSED, theme.TEXT),
    "neutral": (theme.NEUTRAL, theme.NEUTRAL_PRESSED, theme.TEXT),
    "stop": (theme.STOP, theme.STOP_PRESSED, theme.TEXT),
    "discomfort": (theme.DISCOMFORT, theme.DISCOMFORT_PRESSED, theme.TEXT),
    "selected": (theme.ALARM_INFO, theme.NEUTRAL_PRESSED, theme.TEXT_DARK),
    "warning": (theme.ALARM_MEDIUM, theme.NEUTRAL_PRESSED, theme.TEXT_DARK),
}


def walk(widget: Widget) -> Iterator[Widget]:
    """Every widget under ``widget`` (itself first)."""
    yield widget
    for child in list(widget.children):
        yield from walk(child)


def find_ref(root: Widget, ref: str) -> Widget | None:
    """The first widget under ``root`` whose ``ref`` is ``ref``, or None."""
    for widget in walk(root):
        if getattr(widget, "ref", None) == ref:
            return widget
    return None


class _ShrinkingLabel(Label):
    """Shared set-up of the labels that shrink to fit: theme colour, left/middle alignment, and a
    font size that starts at ``max_font_px`` and never goes under ``min_font_px``."""

    ref = StringProperty("")
    max_font_px = NumericProperty(theme.BODY_PX)
    min_font_px = NumericProperty(theme.FLOOR_PX)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("color", theme.TEXT)
        kwargs.setdefault("halign", "left")
        kwargs.setdefault("valign", "middle")
        if "font_size" in kwargs and "max_font_px" not in kwargs:
            kwargs["max_font_px"] = kwargs["font_size"]
        kwargs.setdefault("font_size", kwargs.get("max_font_px", theme.BODY_PX))
        super().__init__(**kwargs)
        self.bind(size=self._fit, text=self._fit)

    def _fit(self, *_args: Any) -> None:
        raise NotImplementedError


def longest_word_px(label: Label) -> float:
    """The width of the widest word of ``label`` at its current font: a line can never be narrower
    (Kivy breaks a word in the middle when it must, and a beautician reads that as garbage)."""
    words = label.text.split()
    if not words:
        return 0.0
    widest = max(words, key=len)
    probe = CoreLabel(text=widest, font_size=label.font_size, bold=label.bold,
                      font_name=label.font_name)
    probe.refresh()
    return float(probe.content_width)


def fit_wrapped(label: Label, width: float, height: float, max_px: float, min_px: float) -> None:
    """Wrap ``label`` at words in ``width`` and shrink it from ``max_px`` (never under ``min_px``)
    until the text fits ``height`` and no word is wider than a line. The rule of every label and
    button with static text, so no screen has to get it right on its own."""
    size_px = max_px
    label.font_size = size_px
    label.text_size = (width, None)
    label.texture_update()
    while (label.texture_size[1] > height or label.texture_size[0] > width + 1
           or longest_word_px(label) > width) and size_px > min_px:
        size_px -= 1
        label.font_size = size_px
        label.texture_update()


class FitLabel(_ShrinkingLabel):
    """A label that wraps at words inside its box and shrinks (never under the 18 px floor) until
    the text fits and no word is broken.

    Russian runs about 30 % longer than English: instead of a layout per language, every static
    text shrinks a little when it must (the layout test fails a screen where that is not enough).
    """

    def _fit(self, *_args: Any) -> None:
        if self.width <= 1 or self.height <= 1:
            return
        pad_x = self.padding[0] + self.padding[2] if len(self.padding) == 4 \
            else 2 * self.padding[0]
        pad_y = self.padding[1] + self.padding[3] if len(self.padding) == 4 \
            else 2 * self.padding[1]
        fit_wrapped(self, self.width - pad_x, self.height - pad_y, self.max_font_px,
                    self.min_font_px)
        self.text_size = (self.width - pad_x, self.height - pad_y)


class ValueLabel(_ShrinkingLabel):
    """A one-line label for a value that changes at the poll rate (a number with its unit).

    It never wraps; when the text would not fit it shrinks, but it only measures again when the
    text's length or the box changes, so updating a figure 15 times a second costs one texture.
    """

    _measured_for: tuple[int, float, float] | None = None

    def _fit(self, *_args: Any) -> None:
        key = (len(self.text), self.width, self.height)
        if key == self._measured_for or self.width <= 1:
            return
        self._measured_for = key
        self.text_size = (None, None)
        size_px = self.max_font_px
        self.font_size = size_px
        self.texture_update()
        while (self.texture_size[0] > self.width or self.texture_size[1] > self.height) \
                and size_px > self.min_font_px:
            size_px -= 2
            self.font_size = size_px
            self.texture_update()
        self.text_size = (self.width, self.height)


class KButton(Button):
    """A flat, high-contrast button whose pressed state shows at once (ui-guide: within 100 ms)."""

    ref = StringProperty("")
    kind = StringProperty("neutral")

    def __init__(self, *, on_tap: Callable[[], None] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("font_size", theme.BODY_PX)
        kwargs.setdefault("size_hint_y", None)
        kwargs.setdefault("height", theme.PRIMARY_HEIGHT_PX)
        kwargs.setdefault("halign", "center")
        kwargs.setdefault("valign", "middle")
        super().__init__(background_normal="", background_down="", **kwargs)
        self._on_tap = on_tap
        self._max_font_px: float | None = None
        self.bind(state=self._paint, kind=self._paint, disabled=self._paint)
        self.bind(size=self._wrap, text=self._wrap)
        self._paint()
        self._wrap()

    def _wrap(self, *_args: Any) -> None:
        """Wrap at words with 8 px each side; shrink to the floor when a word or the lines would
        not fit (a button text is never broken mid-word nor cut at the edge)."""
        if self.width <= 16 or self.height <= 8:
            return
        if self._max_font_px is None:
            self._max_font_px = float(self.font_size)
        fit_wrapped(self, self.width - 16, self.height - 8, self._max_font_px, theme.FLOOR_PX)
        self.text_size = (self.width - 16, None)

    def _paint(self, *_args: Any) -> None:
        normal, pressed, text = _BUTTON_KINDS[self.kind]
        if self.disabled:
            normal = pressed = theme.DISABLED
        self.background_color = pressed if self.state == "down" else normal
        self.background_disabled_normal = ""
        self.color = text
        self.disabled_color = theme.TEXT_DISABLED

    def on_release(self) -> None:
        if self._on_tap is not None:
            self._on_tap()


class StopButton(KButton):
    """STOP: bottom right, red, with the word, >= 96 px; the same place on every current screen."""

    def __init__(self, on_tap: Callable[[], None]) -> None:
        super().__init__(text=_("STOP"), kind="stop", ref="stop", on_tap=on_tap,
                         font_size=40, bold=True, size_hint=(None, None),
                         width=theme.STOP_WIDTH_PX, height=theme.STOP_HEIGHT_PX)


class Panel(BoxLayout):
    """A box with the surface colour behind it."""

    background = ListProperty(theme.SURFACE)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        with self.canvas.before:
            self._colour = Color(*self.background)
            self._rect = Rectangle(pos=self.pos, size=self.size)
        self.bind(pos=self._sync, size=self._sync, background=self._sync)

    def _sync(self, *_args: Any) -> None:
        self._colour.rgba = self.background
        self._rect.pos = self.pos
        self._rect.size = self.size


class TitleBar(Panel):
    """Back at top left, the title, the step ("Step 3 of 8") and the step's help at the right."""

    def __init__(self, title: str, *, step: tuple[int, int] | None,
                 on_back: Callable[[], None] | None,
                 on_help: Callable[[], None] | None = None) -> None:
        super().__init__(orientation="horizontal", size_hint_y=None,
                         height=theme.TITLE_BAR_HEIGHT_PX, padding=(4, 4), spacing=8)
        if on_back is not None:
            self.add_widget(KButton(text="‹ " + _("Back"), ref="back", on_tap=on_back,
                                    size_hint=(None, None), width=130, height=56))
        else:
            self.add_widget(Widget(size_hint_x=None, width=8))
        self.add_widget(FitLabel(text=title, ref="title", max_font_px=theme.HEADING_PX,
                                 bold=True))
        if step is not None:
            self.add_widget(FitLabel(text=_("Step {n} of {total}").format(n=step[0],
                                                                       total=step[1]),
                                     ref="step", size_hint_x=None, width=150,
                                     color=theme.TEXT_DIM, halign="right",
                                     max_font_px=theme.SMALL_PX + 1))
        if on_help is not None:  # last: a banner over the title and step leaves it reachable
            self.add_widget(KButton(text="? " + _("Help"), ref="help", on_tap=on_help,
                                    size_hint=(None, None), width=120, height=56,
                                    font_size=theme.SMALL_PX + 2))


def polarity_symbol(polarity: Polarity) -> str:
    return "+" if polarity is Polarity.POSITIVE else "−"


def polarity_colour(polarity: Polarity) -> list[float]:
    return theme.POSITIVE if polarity is Polarity.POSITIVE else theme.NEGATIVE


def polarity_words(polarity: Polarity, *, compact: bool = False) -> str:
    if compact:
        return _("Active electrode: positive (+)") if polarity is Polarity.POSITIVE \
            else _("Active electrode: negative (−)")
    if polarity is Polarity.POSITIVE:
        return _("Active electrode: positive (+, anode)")
    return _("Active electrode: negative (−, cathode)")


class PolaritySign(Widget):
    """A coloured disc with the polarity symbol in it: colour plus symbol, never colour alone."""

    def __init__(self, polarity: Polarity, diameter_px: int = 56, **kwargs: Any) -> None:
        super().__init__(size_hint=(None, None), size=(diameter_px, diameter_px), **kwargs)
        with self.canvas:
            Color(*polarity_colour(polarity))
            self._disc = Ellipse(pos=self.pos, size=self.size)
        self._symbol = Label(text=polarity_symbol(polarity), font_size=int(diameter_px * 0.8),
                             bold=True, color=theme.TEXT)
        self.add_widget(self._symbol)
        self.bind(pos=self._sync, size=self._sync)
        self._sync()

    def _sync(self, *_args: Any) -> None:
        self._disc.pos = self.pos
        self._disc.size = self.size
        self._symbol.pos = self.pos
        self._symbol.size = self.size


class PolarityBadge(BoxLayout):
    """Symbol, colour and words: "Active electrode: negative (−, cathode)"."""

    ref = StringProperty("polarity")

    def __init__(self, polarity: Polarity, *, diameter_px: int = 56, compact: bool = False,
                 **kwargs: Any) -> None:
        kwargs.setdefault("size_hint_y", None)
        kwargs.setdefault("height", diameter_px + 8)
        super().__init__(orientation="horizontal", spacing=10, **kwargs)
        self.polarity = polarity
        self.add_widget(PolaritySign(polarity, diameter_px=diameter_px))
        self.words = FitLabel(text=polarity_words(polarity, compact=compact),
                              ref="polarity_words",
                              color=polarity_colour(polarity), bold=True)
        self.add_widget(self.words)


class Bar(Widget):
    """A horizontal fill bar (dose against its cap, contact quality, timer progress)."""

    fraction = NumericProperty(0.0)
    fill = ListProperty(theme.PRIMARY)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("size_hint_y", None)
        kwargs.setdefault("height", 18)
        super().__init__(**kwargs)
        with self.canvas:
            Color(*theme.NEUTRAL)
            self._track = Rectangle()
            self._fill_colour = Color(*self.fill)
            self._fill = Rectangle()
        self.bind(pos=self._sync, size=self._sync, fraction=self._sync, fill=self._sync)
        self._sync()

    def _sync(self, *_args: Any) -> None:
        fraction = min(max(self.fraction, 0.0), 1.0)
        self._track.pos = self.pos
        self._track.size = self.size
        self._fill_colour.rgba = self.fill
        self._fill.pos = self.pos
        self._fill.size = (self.width * fraction, self.height)


class Banner(Panel):
    """A one-line message band: medium alarms yellow with dark text, information cyan."""

    ref = StringProperty("banner")

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("size_hint_y", None)
        kwargs.setdefault("height", 52)
        super().__init__(orientation="horizontal", padding=(10, 2), **kwargs)
        self.label = FitLabel(text="", ref="banner_text", color=theme.TEXT_DARK,
                              max_font_px=theme.BODY_PX - 1)
        self.add_widget(self.label)
        self.show(None)

    def show(self, text: str | None, *, level: str = "medium") -> None:
        """Show ``text`` at ``level`` ("medium" or "info"); None hides the band."""
        if text is None:
            self.opacity = 0
            self.label.text = ""
            return
        self.opacity = 1
        self.background = theme.ALARM_MEDIUM if level == "medium" else theme.ALARM_INFO
        self.label.text = text


def format_ma(value_ma: float) -> str:
    return _("{value} mA").format(value=numbers.decimal(value_ma, 2))


def format_dose(value_ma_min: float) -> str:
    return _("{value} mA·min").format(value=numbers.decimal(value_ma_min, 1))


def format_volts(value_v: float) -> str:
    return _("{value} V").format(value=numbers.decimal(value_v, 1))


def format_min_s(seconds: float) -> str:
    """``12:30 min`` (minutes and seconds), never negative."""
    total_s = max(0, round(seconds))
    return _("{mm}:{ss} min").format(mm=total_s // 60, ss=f"{total_s % 60:02d}")


def format_minutes(seconds: float) -> str:
    return _("{value} min").format(value=numbers.minutes(seconds / 60.0))



class TextColumn(BoxLayout):
    """A column of wrapped texts that shares its height by how much each text has to say.

    Fixed heights per line are what clipped the longer Russian texts; here every text gets a
    share in proportion to its length (a rule, not a number per screen), and each label shrinks
    to the floor inside its share when it must.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("orientation", "vertical")
        kwargs.setdefault("spacing", 4)
        super().__init__(**kwargs)

    def add_text(self, text: str, **label_kwargs: Any) -> FitLabel:
        label = FitLabel(text=text, size_hint_y=max(1.0, len(text) / 45.0), **label_kwargs)
        self.add_widget(label)
        return label
