"""The placement drawing of an area: where the active electrode goes, where never, the return.

Shapes come from ``kiosk/assets/placement.toml`` (vector data, no text, nothing fetched at run
time); this widget only draws them: a clean outline of the client, the active electrode's zones
filled green, the return electrode grey, forbidden zones hatched red (pattern as well as colour,
so colour is never the only cue; no crosses piled over the eyes).
"""

from __future__ import annotations

import math
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from kivy.graphics import Color, Ellipse, InstructionGroup, Line, Rectangle
from kivy.properties import StringProperty
from kivy.uix.widget import Widget

from kiosk.screens import theme

ASSET_PATH = Path(__file__).resolve().parent.parent / "assets" / "placement.toml"
ROLES = ("active", "forbidden", "return")
ACTIVE_COLOUR = theme.rgba("#43a047")
FORBIDDEN_COLOUR = theme.rgba("#ef5350")
RETURN_COLOUR = theme.rgba("#b0bec5")
FIGURE_COLOUR = theme.rgba("#90a4ae")


@cache
def load_drawings(path: Path = ASSET_PATH) -> dict[str, Any]:
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    for area, roles in data["areas"].items():
        unknown = set(roles) - set(ROLES)
        if unknown:
            raise ValueError(f"{path}: area {area!r} has unknown roles {sorted(unknown)}")
    return data


class PlacementDrawing(Widget):
    """The client's outline with the area's electrode positions and forbidden zones."""

    ref = StringProperty("placement_drawing")

    def __init__(self, area: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        drawings = load_drawings()
        if area not in drawings["areas"]:
            raise KeyError(f"no placement drawing for area {area!r}")
        self.area = area
        self._figure = drawings["figure"]
        self._roles = drawings["areas"][area]
        self._group = InstructionGroup()
        self.canvas.add(self._group)
        self.bind(pos=self.redraw, size=self.redraw)

    def _box(self) -> tuple[float, float, float]:
        side = min(self.width, self.height)
        return self.center_x - side / 2, self.center_y - side / 2, side

    def _draw_shape(self, shape: dict[str, Any], *, fill: bool, width: float) -> None:
        x0, y0, side = self._box()
        kind = shape["kind"]
        if kind in ("ellipse", "rect", "arc"):
            w, h = shape["w"] * side, shape["h"] * side
            x, y = x0 + shape["x"] * side - w / 2, y0 + shape["y"] * side - h / 2
            if kind == "arc":
                self._group.add(Line(ellipse=(x, y, w, h, shape["angle_start"],
                                              shape["angle_end"]), width=width))
            elif fill:
                self._group.add((Ellipse if kind == "ellipse" else Rectangle)(pos=(x, y),
                                                                              size=(w, h)))
            elif kind == "ellipse":
                self._group.add(Line(ellipse=(x, y, w, h), width=width))
            else:
                self._group.add(Line(rectangle=(x, y, w, h), width=width))
        elif kind == "line":
            points = [x0 + v * side if i % 2 == 0 else y0 + v * side
                      for i, v in enumerate(shape["points"])]
            self._group.add(Line(points=points, width=width))
        else:
            raise ValueError(f"unknown shape kind {kind!r}")

    def _hatch(self, shape: dict[str, Any]) -> None:
        """Horizontal hatching inside a forbidden zone and its outline: "never here" as a
        pattern as well as a colour, without piling marks over the face."""
        x0, y0, side = self._box()
        kind = shape["kind"]
        if kind == "line":  # a path the current must never take: a thin dashed line
            points = [x0 + v * side if i % 2 == 0 else y0 + v * side
                      for i, v in enumerate(shape["points"])]
            self._group.add(Line(points=points, width=1, dash_length=5, dash_offset=4))
            return
        cx, cy = x0 + shape["x"] * side, y0 + shape["y"] * side
        half_w, half_h = shape["w"] * side / 2, shape["h"] * side / 2
        step = 3.0
        y = cy - half_h + step / 2
        while y < cy + half_h:
            if kind == "ellipse":
                ratio = max(0.0, 1 - ((y - cy) / half_h) ** 2)
                half = half_w * math.sqrt(ratio)
            else:
                half = half_w
            if half > 0.5:
                self._group.add(Line(points=[cx - half, y, cx + half, y], width=1))
            y += step
        self._draw_shape(shape, fill=False, width=1.5)

    def redraw(self, *_args: Any) -> None:
        self._group.clear()
        self._group.add(Color(*FIGURE_COLOUR))
        for shape in self._figure:
            self._draw_shape(shape, fill=False, width=2)
        self._group.add(Color(*ACTIVE_COLOUR[:3], 0.75))
        for shape in self._roles.get("active", []):
            self._draw_shape(shape, fill=True, width=5)
        self._group.add(Color(*RETURN_COLOUR))
        for shape in self._roles.get("return", []):
            self._draw_shape(shape, fill=True, width=4)
        self._group.add(Color(*FORBIDDEN_COLOUR))
        for shape in self._roles.get("forbidden", []):
            self._hatch(shape)
