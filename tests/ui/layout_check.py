"""What a person would call broken on a rendered screen, found by looking at the widget tree.

For every visible widget: it lies inside its parent (nothing drawn over a title bar or outside
the window). For every visible label and button with text: the font is not under the 18 px floor
of the ui-guide; the text fits its box at the size it is drawn (no line cut off at the bottom or
the side); no word is wider than the box (Kivy would break it mid-word); every character has a
glyph in the font (no "missing glyph" box).

The measurements use Kivy's own text renderer (``kivy.core.text.Label``) with the widget's font,
size and wrapping width, so they see what the screen shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from kivy.core.text import Label as CoreLabel
from kivy.uix.label import Label
from kivy.uix.layout import Layout
from kivy.uix.widget import Widget

FLOOR_PX = 18
TOLERANCE_PX = 1.5
NO_GLYPH = "\ue000"  # a private-use code point: no font here has it, it renders as the box


@dataclass(frozen=True)
class Problem:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def _visible(widget: Widget) -> bool:
    node: Any = widget
    while node is not None:
        if getattr(node, "opacity", 1) <= 0:
            return False
        node = node.parent if node.parent is not node else None
    return True


def _walk(widget: Widget) -> Iterator[Widget]:
    yield widget
    for child in widget.children:
        yield from _walk(child)


def _name(widget: Widget) -> str:
    ref = getattr(widget, "ref", "")
    text = getattr(widget, "text", "")
    label = f"{type(widget).__name__}"
    if ref:
        label += f"[{ref}]"
    if text:
        label += f" {text[:40]!r}"
    return label


def _window_box(widget: Widget) -> tuple[float, float, float, float]:
    x0, y0 = widget.to_window(widget.x, widget.y)
    return x0, y0, x0 + widget.width, y0 + widget.height


def _font(label: Label) -> dict[str, Any]:
    return {"font_size": label.font_size, "bold": label.bold, "italic": label.italic,
            "font_name": label.font_name}


def _measure(text: str, width: float | None, font: dict[str, Any]) -> tuple[int, int]:
    core = CoreLabel(text=text, text_size=(width, None), **font)
    core.refresh()
    return core.content_width, core.content_height


@cache
def _glyph_pixels(char: str, font_name: str) -> bytes:
    core = CoreLabel(text=char, font_size=30, font_name=font_name)
    core.refresh()
    return bytes(core.texture.pixels) if core.texture is not None else b""


def missing_glyphs(text: str, font_name: str) -> list[str]:
    box = _glyph_pixels(NO_GLYPH, font_name)
    return sorted({c for c in text if not c.isspace() and _glyph_pixels(c, font_name) == box})


def label_problems(label: Label) -> list[str]:
    found: list[str] = []
    text = label.text
    if label.font_size < FLOOR_PX - 0.01:
        found.append(f"font {label.font_size:.0f} px is under the {FLOOR_PX} px floor")
    pad_x, pad_y = (label.padding[0] + label.padding[2], label.padding[1] + label.padding[3]) \
        if len(label.padding) == 4 else (2 * label.padding[0], 2 * label.padding[1])
    inner_w = label.width - pad_x
    inner_h = label.height - pad_y
    font = _font(label)
    wraps = label.text_size[0] is not None
    wrap_w = label.text_size[0] if wraps else None
    width_px, height_px = _measure(text, wrap_w, font)
    if wraps:
        longest = max(text.split(), key=lambda w: _measure(w, None, font)[0])
        word_w = _measure(longest, None, font)[0]
        if word_w > wrap_w + TOLERANCE_PX:
            found.append(f"the word {longest!r} ({word_w} px) is wider than its box "
                         f"({wrap_w:.0f} px): broken mid-word")
    if width_px > inner_w + TOLERANCE_PX and not wraps:
        found.append(f"text {width_px} px wide in a box {inner_w:.0f} px wide: clipped")
    if height_px > inner_h + TOLERANCE_PX:
        found.append(f"text {height_px} px high in a box {inner_h:.0f} px high: clipped")
    missing = missing_glyphs(text, label.font_name)
    if missing:
        found.append(f"no glyph for {', '.join(f'U+{ord(c):04X}' for c in missing)}")
    return found


def layout_problems(root: Widget, window_size: tuple[int, int]) -> list[Problem]:
    """Everything visibly wrong under ``root`` (empty: the screen is fine)."""
    problems: list[Problem] = []
    win_w, win_h = window_size
    for widget in _walk(root):
        if not _visible(widget) or widget.width <= 0 or widget.height <= 0:
            continue
        x0, y0, x1, y1 = _window_box(widget)
        if x0 < -TOLERANCE_PX or y0 < -TOLERANCE_PX or x1 > win_w + TOLERANCE_PX \
                or y1 > win_h + TOLERANCE_PX:
            problems.append(Problem(_name(widget), f"outside the window ({x0:.0f}, {y0:.0f}, "
                                                   f"{x1:.0f}, {y1:.0f})"))
        parent = widget.parent
        if isinstance(parent, Layout) and parent.width > 0 and parent.height > 0:
            px0, py0, px1, py1 = _window_box(parent)
            if x0 < px0 - TOLERANCE_PX or y0 < py0 - TOLERANCE_PX or x1 > px1 + TOLERANCE_PX \
                    or y1 > py1 + TOLERANCE_PX:
                problems.append(Problem(_name(widget), f"overflows its parent {_name(parent)} "
                                        f"({x0:.0f}..{x1:.0f} x {y0:.0f}..{y1:.0f} in "
                                        f"{px0:.0f}..{px1:.0f} x {py0:.0f}..{py1:.0f})"))
        if isinstance(widget, Label) and widget.text.strip() and not widget.markup:
            problems += [Problem(_name(widget), what) for what in label_problems(widget)]
    return problems
