"""A numeric pad for figures typed in service mode (a meter reading, a limit): digits, a decimal
point, erase. Drawn with words and digits only (no symbol the font may lack)."""

from __future__ import annotations

from collections.abc import Callable

from kivy.uix.gridlayout import GridLayout

from kiosk.i18n import _
from kiosk.screens import theme
from kiosk.screens.widgets import KButton

MAX_CHARS = 8
ERASE = "erase"
POINT = "."


def typed_value(text: str) -> float | None:
    """The number a typed text stands for (None when it is not one yet)."""
    try:
        return float(text) if text not in ("", POINT) else None
    except ValueError:
        return None


def next_text(text: str, key: str) -> str:
    """``text`` after ``key``: one decimal point at most, at most :data:`MAX_CHARS`."""
    if key == ERASE:
        return text[:-1]
    if key == POINT and POINT in text:
        return text
    if len(text) >= MAX_CHARS:
        return text
    return ("0" if key == POINT and not text else "") + text + key


class NumPad(GridLayout):
    """12 keys, 3 columns; ``on_key(key)`` for each tap."""

    def __init__(self, on_key: Callable[[str], None], *, prefix: str, key_height_px: int = 64,
                 **kwargs: object) -> None:
        super().__init__(cols=3, spacing=6, **kwargs)  # type: ignore[arg-type]
        for key in ("7", "8", "9", "4", "5", "6", "1", "2", "3", POINT, "0", ERASE):
            face = _("Erase") if key == ERASE else key
            name = "erase" if key == ERASE else "point" if key == POINT else key
            self.add_widget(KButton(
                text=face, ref=f"{prefix}_key_{name}",
                height=key_height_px, size_hint_y=None,
                font_size=28 if key != ERASE else theme.SMALL_PX,
                on_tap=lambda k=key: on_key(k)))
