"""The live plot: the last 60 s of measured current against the target, with the cap as a line.

Drawn with a handful of Kivy ``Line`` instructions whose points are replaced at the poll rate (no
widget per sample), so it costs little at 15 Hz on the Pi. It never hides the numbers: the big
figures sit beside it, the plot only shows the trend.

The frame: an mA scale on the left (0, half and full scale, in the language's notation), the
time span under the frame; every line is clamped into the frame, so nothing is drawn under the
scale or the caption. The set-point the regulator follows is drawn as a cyan dashed line on top
of the measured (white) line, so it stays visible while holding, when the two coincide.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from kivy.graphics import Color, Line, Rectangle
from kivy.properties import StringProperty
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk.i18n import _, numbers
from kiosk.screens import theme
from kiosk.screens.widgets import format_ma

WINDOW_S = 60.0
SCALE_WIDTH_PX = 56
CAPTION_HEIGHT_PX = 22
NICE_STEPS_MA = (0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0)


def nice_full_scale_ma(highest_ma: float) -> float:
    """The smallest round full scale at least 20 % above ``highest_ma`` (0.5, 1, 2, 2.5 ...)."""
    wanted = max(highest_ma * 1.2, 0.1)
    for step in NICE_STEPS_MA:
        if step >= wanted:
            return step
    return float(int(wanted) + 1)


class LivePlot(Widget):
    """Measured (white, thick), set-point (cyan, dashed, on top) and cap (yellow) against time."""

    ref = StringProperty("live_plot")

    def __init__(self, window_s: float = WINDOW_S, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.window_s = window_s
        self.samples: deque[tuple[float, float, float]] = deque()
        self.cap_ma = 0.0
        self.target_ma = 0.0
        with self.canvas:
            Color(*theme.SURFACE)
            self._background = Rectangle()
            Color(*theme.PLOT_GRID)
            self._grid = [Line(points=[], width=1) for _ in range(3)]
            Color(*theme.PLOT_CAP)
            self._cap = Line(points=[], width=1.2)
            Color(*theme.PLOT_MEASURED)
            self._measured = Line(points=[], width=2.2)
            Color(*theme.PLOT_TARGET)
            self._target = Line(points=[], width=1.6, dash_length=6, dash_offset=4)
        self._scale_labels = [Label(font_size=theme.SMALL_PX, color=theme.TEXT_DIM,
                                    halign="right", valign="middle") for _ in range(3)]
        for label in self._scale_labels:
            self.add_widget(label)
        self._span_label = Label(font_size=theme.SMALL_PX, color=theme.TEXT_DIM,
                                 halign="right", valign="middle")
        self._cap_label = Label(font_size=theme.SMALL_PX, color=theme.PLOT_CAP,
                                halign="left", valign="middle")
        self.add_widget(self._span_label)
        self.add_widget(self._cap_label)
        self.bind(pos=self.redraw, size=self.redraw)

    def add_sample(self, time_s: float, measured_ma: float, setpoint_ma: float,
                   cap_ma: float, *, target_ma: float | None = None) -> None:
        if self.samples and time_s < self.samples[-1][0]:
            self.samples.clear()  # the clock went back: a new session
        self.samples.append((time_s, measured_ma, setpoint_ma))
        self.cap_ma = cap_ma
        self.target_ma = setpoint_ma if target_ma is None else target_ma
        while self.samples and self.samples[0][0] < time_s - self.window_s:
            self.samples.popleft()

    def full_scale_ma(self) -> float:
        highest = max([self.cap_ma, self.target_ma] + [max(m, t) for _, m, t in self.samples]
                      + [0.1])
        return nice_full_scale_ma(highest)

    def frame(self) -> tuple[float, float, float, float]:
        """(x, y, width, height) of the plotting area inside the scale and the caption."""
        x0 = self.x + SCALE_WIDTH_PX
        y0 = self.y + CAPTION_HEIGHT_PX
        return x0, y0, max(self.right - 6 - x0, 1), max(self.top - 8 - y0, 1)

    def redraw(self, *_args: Any) -> None:
        x0, y0, width, height = self.frame()
        self._background.pos = (x0, y0)
        self._background.size = (width, height)
        scale_ma = self.full_scale_ma()

        def y_of(value_ma: float) -> float:
            return y0 + height * min(max(value_ma, 0.0), scale_ma) / scale_ma

        for index, line in enumerate(self._grid):
            y = y0 + height * index / 2
            line.points = [x0, y, x0 + width, y]
            label = self._scale_labels[index]
            label.text = numbers.decimal(scale_ma * index / 2,
                                         2 if scale_ma < 1 else 1)
            label.size = (SCALE_WIDTH_PX - 6, 24)
            label.text_size = label.size
            label.pos = (self.x, min(max(y - 12, self.y), self.top - 24))
        cap_y = y_of(self.cap_ma)
        self._cap.points = [x0, cap_y, x0 + width, cap_y] if self.cap_ma > 0 else []
        if self.samples:
            now_s = self.samples[-1][0]
            measured: list[float] = []
            target: list[float] = []
            for time_s, measured_ma, setpoint_ma in self.samples:
                x = max(x0, x0 + width * (1 - (now_s - time_s) / self.window_s))
                measured += [x, y_of(measured_ma)]
                target += [x, y_of(setpoint_ma)]
            self._measured.points = measured
            self._target.points = target
        else:
            self._measured.points = []
            self._target.points = []
        self._cap_label.text = _("cap {value}").format(value=format_ma(self.cap_ma))
        self._cap_label.size = (width / 2, 22)
        self._cap_label.text_size = self._cap_label.size
        self._cap_label.pos = (x0 + 6, max(y0, min(cap_y - 24, y0 + height - 24)))
        self._span_label.text = _("mA · last {seconds} s").format(seconds=int(self.window_s))
        self._span_label.size = (width, CAPTION_HEIGHT_PX)
        self._span_label.text_size = self._span_label.size
        self._span_label.pos = (x0, self.y)
