"""The live plot: the last 60 s of measured current against the target, with the cap as a line.

Drawn with a handful of Kivy ``Line`` instructions whose points are replaced at the poll rate (no
widget per sample), so it costs little at 15 Hz on the Pi. It never hides the numbers: the big
figures sit beside it, the plot only shows the trend.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from kivy.graphics import Color, Line, Rectangle
from kivy.properties import StringProperty
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk.i18n import _
from kiosk.screens import theme
from kiosk.screens.widgets import format_ma

WINDOW_S = 60.0


class LivePlot(Widget):
    """Measured (white, thick), target (cyan) and cap (yellow, dashed) against time."""

    ref = StringProperty("live_plot")

    def __init__(self, window_s: float = WINDOW_S, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.window_s = window_s
        self.samples: deque[tuple[float, float, float]] = deque()
        self.cap_ma = 0.0
        with self.canvas:
            Color(*theme.SURFACE)
            self._background = Rectangle()
            Color(*theme.PLOT_GRID)
            self._grid = [Line(points=[], width=1) for _ in range(3)]
            Color(*theme.PLOT_CAP)
            self._cap = Line(points=[], width=1.2)
            Color(*theme.PLOT_TARGET)
            self._target = Line(points=[], width=1.5)
            Color(*theme.PLOT_MEASURED)
            self._measured = Line(points=[], width=2.2)
        self._top_label = Label(font_size=theme.SMALL_PX, color=theme.TEXT_DIM,
                                halign="left", valign="top")
        self._span_label = Label(font_size=theme.SMALL_PX, color=theme.TEXT_DIM,
                                 halign="right", valign="bottom")
        self.add_widget(self._top_label)
        self.add_widget(self._span_label)
        self.bind(pos=self.redraw, size=self.redraw)

    def add_sample(self, time_s: float, measured_ma: float, target_ma: float,
                   cap_ma: float) -> None:
        if self.samples and time_s < self.samples[-1][0]:
            self.samples.clear()  # the clock went back: a new session
        self.samples.append((time_s, measured_ma, target_ma))
        self.cap_ma = cap_ma
        while self.samples and self.samples[0][0] < time_s - self.window_s:
            self.samples.popleft()

    def full_scale_ma(self) -> float:
        highest = max([self.cap_ma] + [max(m, t) for _, m, t in self.samples] + [0.1])
        return highest * 1.3

    def redraw(self, *_args: Any) -> None:
        x0, y0 = self.x + 4, self.y + 4
        width, height = max(self.width - 8, 1), max(self.height - 8, 1)
        self._background.pos = self.pos
        self._background.size = self.size
        scale_ma = self.full_scale_ma()
        for index, line in enumerate(self._grid):
            y = y0 + height * (index + 1) / 4
            line.points = [x0, y, x0 + width, y]
        cap_y = y0 + height * self.cap_ma / scale_ma
        self._cap.points = [x0, cap_y, x0 + width, cap_y] if self.cap_ma > 0 else []
        if self.samples:
            now_s = self.samples[-1][0]
            measured: list[float] = []
            target: list[float] = []
            for time_s, measured_ma, target_ma in self.samples:
                x = x0 + width * (1 - (now_s - time_s) / self.window_s)
                measured += [x, y0 + height * max(measured_ma, 0.0) / scale_ma]
                target += [x, y0 + height * target_ma / scale_ma]
            self._measured.points = measured
            self._target.points = target
        else:
            self._measured.points = []
            self._target.points = []
        # The label names the yellow line it sits on: the cap, not the axis' full scale (which
        # read as a second, higher cap next to the "cap" figure of the screen).
        self._top_label.text = _("cap {value}").format(value=format_ma(self.cap_ma))
        self._top_label.pos = (self.x + 8, min(cap_y + 2, self.top - 26))
        self._top_label.size = (width / 2, 26)
        self._top_label.text_size = self._top_label.size
        self._span_label.text = _("last {seconds} s").format(seconds=int(self.window_s))
        self._span_label.pos = (self.right - width / 2 - 8, self.y + 4)
        self._span_label.size = (width / 2, 26)
        self._span_label.text_size = self._span_label.size
