"""Measured figures a test records for the matrix (e.g. the time to the safe state).

Why through ``user_properties``: pytest copies a test's user properties into every phase report,
so the figure travels with the outcome (also to JUnit XML) and needs no side channel. The
recorder checks its input because a NaN or a missing unit in an audit matrix is worse than none.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

USER_PROPERTY_KEY = "safety_figure"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Figure:
    """A measured value, its unit and, when the requirement has one, the limit it must meet."""

    name: str  # e.g. "safe_after_ms"
    value: float
    unit: str  # e.g. "ms"
    limit: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "unit": self.unit, "limit": self.limit}

    def describe(self) -> str:
        text = f"{self.name} = {self.value:g} {self.unit}"
        if self.limit is not None:
            text += f" (limit {self.limit:g} {self.unit})"
        return text


class _HasUserProperties(Protocol):
    user_properties: list[tuple[str, object]]


class FigureRecorder:
    """The ``safety_figure`` fixture: ``safety_figure(name, value, unit, limit=None)``."""

    def __init__(self, node: _HasUserProperties) -> None:
        self._node = node

    def __call__(self, name: str, value: float, unit: str, *, limit: float | None = None) -> None:
        figure = make_figure(name, value, unit, limit)
        self._node.user_properties.append((USER_PROPERTY_KEY, figure.as_dict()))


def make_figure(name: str, value: float, unit: str, limit: float | None = None) -> Figure:
    """Validate and build a :class:`Figure`; ``ValueError`` names what is wrong."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"figure name must be snake_case with its unit, e.g. safe_after_ms: "
                         f"{name!r}")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"figure {name}: value must be a finite number, got {value!r}")
    if not isinstance(unit, str) or not unit.strip():
        raise ValueError(f"figure {name}: unit must be a non-empty string")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int | float)
                              or not math.isfinite(limit)):
        raise ValueError(f"figure {name}: limit must be a finite number or None, got {limit!r}")
    return Figure(name=name, value=float(value), unit=unit.strip(),
                  limit=None if limit is None else float(limit))


def figures_from_user_properties(properties: Iterable[tuple[str, object]]) -> tuple[Figure, ...]:
    """The figures among a report's user properties, in the order they were recorded."""
    figures: list[Figure] = []
    for key, value in properties:
        if key != USER_PROPERTY_KEY or not isinstance(value, dict):
            continue
        figures.append(make_figure(value["name"], value["value"], value["unit"],
                                   value.get("limit")))
    return tuple(figures)
