"""Figures and tags are checked where they enter, so the matrix never shows a NaN or a typo."""

from __future__ import annotations

import math

import pytest

from tools.traceability.figures import (
    Figure,
    FigureRecorder,
    figures_from_user_properties,
    make_figure,
)
from tools.traceability.matrix import ProblemKind
from tools.traceability.tags import MarkerUse, read_tags


class Node:
    def __init__(self) -> None:
        self.user_properties: list[tuple[str, object]] = [("other", 1)]


def test_a_recorded_figure_round_trips_through_user_properties() -> None:
    node = Node()
    record = FigureRecorder(node)

    record("safe_after_ms", 18, "ms", limit=25)
    record("peak_current_ma", 0.31, "mA")

    assert figures_from_user_properties(node.user_properties) == (
        Figure("safe_after_ms", 18.0, "ms", 25.0), Figure("peak_current_ma", 0.31, "mA"))
    assert Figure("safe_after_ms", 18.0, "ms", 25.0).describe() == (
        "safe_after_ms = 18 ms (limit 25 ms)")


@pytest.mark.parametrize(("name", "value", "unit", "limit", "message"), [
    ("Safe after", 1.0, "ms", None, "snake_case"),
    ("safe_after_ms", math.nan, "ms", None, "finite number"),
    ("safe_after_ms", math.inf, "ms", None, "finite number"),
    ("safe_after_ms", True, "ms", None, "finite number"),
    ("safe_after_ms", "18", "ms", None, "finite number"),
    ("safe_after_ms", 18.0, " ", None, "unit must be a non-empty string"),
    ("safe_after_ms", 18.0, "ms", math.nan, "limit must be a finite number"),
])
def test_a_figure_that_would_mislead_is_refused(name: str, value: object, unit: str,
                                               limit: float | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_figure(name, value, unit, limit)  # type: ignore[arg-type]


KNOWN = {"SR-001", "SR-002", "SR-010"}


def test_ids_from_every_marker_level_are_merged_sorted_and_unique() -> None:
    ids, problems = read_tags("t.py::test", [MarkerUse(("SR-010", "SR-001"), {}),
                                             MarkerUse(("SR-001",), {})], KNOWN)

    assert ids == ("SR-001", "SR-010")
    assert problems == []


def test_each_tag_mistake_is_reported_with_its_kind() -> None:
    ids, problems = read_tags("t.py::test", [
        MarkerUse(("SR-002", "SR-404", "sr-1", 7), {}),
        MarkerUse((), {}),
        MarkerUse(("SR-001",), {"reason": "x"}),
    ], KNOWN)

    assert ids == ("SR-001", "SR-002")
    assert [p.kind for p in problems] == [
        ProblemKind.UNKNOWN_ID, ProblemKind.MALFORMED_TAG, ProblemKind.MALFORMED_TAG,
        ProblemKind.MALFORMED_TAG, ProblemKind.MALFORMED_TAG]
    assert problems[0].message == ("t.py::test: names unknown requirement SR-404; the safety "
                                   "file defines SR-001..SR-010 (3 IDs)")
