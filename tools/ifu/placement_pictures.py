"""The placement pictures of the instructions for use, drawn by the kiosk's own placement widget.

``docs/screenshots/placement_<area>.png`` for every area of the treatment catalogue, rendered by
:class:`kiosk.screens.placement.PlacementDrawing` (the drawing the placement screen shows, from
``kiosk/assets/placement.toml``) on the kiosk's background, no text in them (the ui-guide: no text
baked into images; the document's caption and the rules beside it say what the colours mean).
``python -m tools.ifu.build`` picks them up. Needs a window (Kivy's GL context):

    xvfb-run -a -s "-screen 0 800x480x24" python -m tools.ifu.placement_pictures
    xvfb-run -a -s "-screen 0 800x480x24" python -m tools.ifu.placement_pictures --out /tmp/p

A test (``tests/ui/test_placement_pictures.py``) renders them again and fails when a committed
picture differs from what the device draws.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PICTURE_DIR = REPO / "docs" / "screenshots"
SIZE_PX = 360


def picture_path(area: str, folder: Path = PICTURE_DIR) -> Path:
    return folder / f"placement_{area}.png"


def render(area: str, path: Path, size_px: int = SIZE_PX) -> Path:
    """Draw ``area``'s placement drawing, ``size_px`` square, into the PNG ``path``."""
    from kivy.base import EventLoop

    from kiosk.screens import theme
    from kiosk.screens.placement import PlacementDrawing
    from kiosk.screens.widgets import Panel

    EventLoop.ensure_window()
    frame = Panel(size_hint=(None, None), size=(size_px, size_px), pos=(0, 0), padding=8,
                  background=theme.BACKGROUND)
    frame.add_widget(PlacementDrawing(area))
    frame.do_layout()
    for child in frame.children:
        child.redraw()
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.export_to_png(str(path))
    return path


def render_all(folder: Path = PICTURE_DIR) -> list[Path]:
    from kiosk.control.catalogue import load_catalogue

    return [render(area.id, picture_path(area.id, folder)) for area in load_catalogue().areas]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=PICTURE_DIR, help="where to write them")
    args = parser.parse_args(argv)
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    for path in render_all(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
