"""The unit files of systemd/ as systemd reads them (sections, repeated keys), for the tests."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SYSTEMD_DIR = REPO / "systemd"


def read_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """Sections -> key -> every value in order (systemd allows keys to repeat)."""
    sections: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        sections[section][key.strip()].append(value.strip())
    return sections


def seconds(value: str) -> float:
    units = {"ms": 0.001, "s": 1, "sec": 1, "min": 60, "h": 3600}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ms|s|sec|min|h)?", value)
    assert match, f"not a simple time span: {value}"
    return float(match.group(1)) * units[match.group(2) or "s"]


CONTROL = read_unit(SYSTEMD_DIR / "kiosk-control.service")
UI = read_unit(SYSTEMD_DIR / "kiosk-ui.service")
FAULT = read_unit(SYSTEMD_DIR / "kiosk-fault.service")
SOCKET_PATH = "/run/kiosk/control.sock"
LOOP_CORE = 3
PI4_CORES = frozenset(range(4))
