"""Galvanic-current salon kiosk: touchscreen UI, constant-current control, simulated board.

Layers (arrows point down only): ``screens`` -> ``app`` -> ``control`` -> ``hal``;
``records`` is used by ``app`` and ``control`` and uses nothing above it.
"""

__version__ = "0.1.0"
