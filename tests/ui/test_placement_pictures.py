"""The placement pictures of the instructions for use are what the device draws (issue 11 item 7,
SR-126): rendered again from the kiosk's placement widget, they match the committed ones, one per
area of the catalogue, each printed in the document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops

from kiosk.control.catalogue import load_catalogue
from tools.ifu.build import MARKDOWN_PATH
from tools.ifu.placement_pictures import picture_path, render

pytestmark = pytest.mark.ui

MAX_DIFFERENT_PIXELS = 0.002  # anti-aliasing noise of another GL driver; a moved zone is far more


def different_fraction(a: Path, b: Path) -> float:
    first, second = Image.open(a).convert("RGB"), Image.open(b).convert("RGB")
    if first.size != second.size:
        return 1.0
    diff = ImageChops.difference(first, second).convert("L").point(lambda v: 255 if v > 24 else 0)
    histogram = diff.histogram()
    return (sum(histogram) - histogram[0]) / (first.size[0] * first.size[1])


@pytest.mark.requirement("SR-126")
@pytest.mark.parametrize("area", [a.id for a in load_catalogue().areas])
def test_the_committed_placement_picture_is_what_the_device_draws(
        kivy_window: Any, tmp_path: Path, area: str) -> None:
    committed = picture_path(area)
    assert committed.exists(), f"{committed} is missing: run python -m tools.ifu.placement_pictures"
    fresh = render(area, tmp_path / committed.name)
    assert different_fraction(committed, fresh) <= MAX_DIFFERENT_PIXELS
    assert f"![Placement on the screen: {load_catalogue().area(area).name}]" \
           f"(screenshots/{committed.name})" in MARKDOWN_PATH.read_text(encoding="utf-8")


def test_the_comparison_sees_a_changed_drawing(kivy_window: Any, tmp_path: Path) -> None:
    face = render("face", tmp_path / "face.png")
    neck = render("neck", tmp_path / "neck.png")
    assert different_fraction(face, face) == 0.0
    assert different_fraction(face, neck) > MAX_DIFFERENT_PIXELS
