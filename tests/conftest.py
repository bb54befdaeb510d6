"""Shared pytest set-up for the whole suite.

Kivy reads its command line and writes a config under ``~/.kivy`` on import: keep it out of both,
before any test module imports kivy (tests/ui has its own window fixtures).
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="kivy-home-"))
os.environ.setdefault("GPIOZERO_PIN_FACTORY", "mock")
