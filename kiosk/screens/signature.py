"""A signature pad: the client signs the consent with a finger (issue 11 item 6).

Strokes are kept as points in the pad's own coordinates (origin bottom left, whole pixels when
stored) and drawn as lines; :meth:`SignaturePad.signature` gives the records' ``Signature``
(small integer vectors, a few hundred bytes, not an image), or None while there is too little
ink for a signature (a tap or a dot is not one). Touches that start outside the pad are not
taken, so a tap on a button next to it never draws.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.graphics import Color, InstructionGroup, Line, Rectangle
from kivy.properties import StringProperty
from kivy.uix.widget import Widget

from kiosk.records.consents import MAX_SIGNATURE_POINTS, Signature
from kiosk.screens import theme

INK_WIDTH_PX = 2.0
MIN_STEP_PX = 2.0  # points closer than this to the last one add nothing but bytes


class SignaturePad(Widget):
    """Draw with a finger; ``on_change`` is called after every stroke and after ``clear``."""

    ref = StringProperty("signature_pad")

    def __init__(self, on_change: Callable[[], None] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_change = on_change
        self.strokes: list[list[tuple[float, float]]] = []
        self._lines: list[Line] = []
        with self.canvas.before:
            Color(*theme.TEXT)
            self._paper = Rectangle(pos=self.pos, size=self.size)
            Color(*theme.TEXT_DIM)
            self._baseline = Line(points=[], width=1)
        self._ink = InstructionGroup()
        self.canvas.add(self._ink)
        self.bind(pos=self._redraw, size=self._redraw)
        self._redraw()

    # -- what was drawn -------------------------------------------------------------------
    @property
    def points(self) -> int:
        return sum(len(stroke) for stroke in self.strokes)

    def signature(self) -> Signature | None:
        """The drawn signature, or None while it is not enough of one."""
        if not self.strokes:
            return None
        try:
            return Signature.from_points(self.width, self.height, self.strokes)
        except ValueError:
            return None

    def clear(self) -> None:
        self.strokes.clear()
        self._redraw()
        self._changed()

    # -- touches --------------------------------------------------------------------------
    def on_touch_down(self, touch: Any) -> bool:
        if not self.collide_point(*touch.pos) or self.disabled:
            return False
        touch.grab(self)
        self.strokes.append([self._local(touch.pos)])
        line = Line(points=list(touch.pos), width=INK_WIDTH_PX)
        self._ink.add(line)
        self._lines.append(line)
        return True

    def on_touch_move(self, touch: Any) -> bool:
        if touch.grab_current is not self or not self.strokes:
            return False
        point = self._local(touch.pos)
        last = self.strokes[-1][-1]
        if self.points < MAX_SIGNATURE_POINTS and (
                abs(point[0] - last[0]) + abs(point[1] - last[1]) >= MIN_STEP_PX):
            self.strokes[-1].append(point)
            self._lines[-1].points += [self.x + point[0], self.y + point[1]]
        return True

    def on_touch_up(self, touch: Any) -> bool:
        if touch.grab_current is not self:
            return False
        touch.ungrab(self)
        self._changed()
        return True

    # -- drawing --------------------------------------------------------------------------
    def _local(self, pos: tuple[float, float]) -> tuple[float, float]:
        x = min(max(pos[0] - self.x, 0.0), self.width)
        y = min(max(pos[1] - self.y, 0.0), self.height)
        return (x, y)

    def _redraw(self, *_args: Any) -> None:
        self._paper.pos = self.pos
        self._paper.size = self.size
        base_y = self.y + self.height * 0.25
        self._baseline.points = [self.x + 16, base_y, self.right - 16, base_y]
        self._ink.clear()
        self._lines.clear()
        self._ink.add(Color(*theme.TEXT_DARK))
        for stroke in self.strokes:
            flat = [v for x, y in stroke for v in (self.x + x, self.y + y)]
            line = Line(points=flat, width=INK_WIDTH_PX)
            self._ink.add(line)
            self._lines.append(line)

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()
