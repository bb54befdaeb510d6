"""Colours and sizes of the kiosk, in one place (ui-guide.md "Screen and touch", "Text", "Colour").

Sizes are physical pixels of the 800x480 7-inch panel (about 133 ppi): 48 px is about 9 mm, the
smallest touch target. Colours are chosen for contrast on a dark background at arm's length;
polarity and alarm colours never stand alone (a symbol and a word always go with them).
"""

from __future__ import annotations

from kivy.utils import get_color_from_hex

SCREEN_SIZE_PX = (800, 480)

# Touch targets
MIN_TOUCH_PX = 48
PRIMARY_HEIGHT_PX = 64
STOP_HEIGHT_PX = 100  # >= 96 px (ui-guide)
STOP_WIDTH_PX = 250
TITLE_BAR_HEIGHT_PX = 64
PADDING_PX = 10

# Type (Roboto, shipped with Kivy: Latin and Cyrillic)
LIVE_CURRENT_PX = 76  # >= 64 px
HEADING_PX = 32
BODY_PX = 23  # 22-24 px
SMALL_PX = 19
FLOOR_PX = 18  # nothing under it (ui-guide): labels shrink to it, never below


def rgba(hex_colour: str) -> list[float]:
    return list(get_color_from_hex(hex_colour))


BACKGROUND = rgba("#11161c")
SURFACE = rgba("#1e2730")
SURFACE_PRESSED = rgba("#3a4a5a")
TEXT = rgba("#ffffff")
TEXT_DIM = rgba("#c3ccd6")  # still above 7:1 on the background
TEXT_DARK = rgba("#11161c")
PRIMARY = rgba("#1f8a4c")  # green: the forward action
PRIMARY_PRESSED = rgba("#13663a")
NEUTRAL = rgba("#3b4a59")
NEUTRAL_PRESSED = rgba("#26313b")
DISABLED = rgba("#1a2026")  # a button that cannot be used now: hardly above the background,
TEXT_DISABLED = rgba("#66717c")  # with grey text: it reads as "not now", not as another colour
STOP = rgba("#d32f2f")
STOP_PRESSED = rgba("#8e1b1b")
DISCOMFORT = rgba("#7b3fa0")  # "client feels burning": distinct from STOP red and from alarms
DISCOMFORT_PRESSED = rgba("#55276f")

# Polarity of the active electrode: positive red "+", negative blue "−", always with the word
POSITIVE = rgba("#e53935")
NEGATIVE = rgba("#1e88e5")

# Alarm priorities (IEC 60601-1-8 as the ui-guide uses them)
ALARM_HIGH = rgba("#d32f2f")  # current cut, fault latched: red, flashing, buzzer
ALARM_HIGH_DIM = rgba("#7f1d1d")
ALARM_MEDIUM = rgba("#ffc107")  # compliance, contact quality, ramp held: yellow, dark text
ALARM_INFO = rgba("#00acc1")  # stage finished, timer done: cyan

# Treatment state bands: word plus colour, readable from across the room
STATE_COLOURS = {
    "idle": rgba("#3b4a59"),
    "contact_check": rgba("#00838f"),
    "ramp_up": rgba("#1565c0"),
    "hold": rgba("#2e7d32"),
    "paused": rgba("#6d4c41"),
    "ramp_down": rgba("#1565c0"),
    "done": rgba("#00acc1"),
    "fault": ALARM_HIGH,
}

# Contact quality bar
CONTACT_GOOD = rgba("#43a047")
CONTACT_FAIR = ALARM_MEDIUM
CONTACT_POOR = rgba("#e65100")

# Live plot
PLOT_MEASURED = rgba("#ffffff")
PLOT_TARGET = rgba("#4dd0e1")
PLOT_CAP = rgba("#ffc107")
PLOT_GRID = rgba("#33404d")
