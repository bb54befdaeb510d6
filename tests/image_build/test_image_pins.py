"""The image ships what the kiosk runs with: every runtime dependency in ``pyproject.toml`` is
pinned, at the same version, in the image's wheel lists (the USB export's jeepney was missing
from them once: the device would have failed at the first export, not at build time)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
IMAGE_BUILD = REPO / "image_build"
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+?)(?:\s|\\|$)", re.MULTILINE)


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, str]:
    return {_name(name): version for name, version in _PIN.findall(path.read_text())}


def test_every_runtime_dependency_is_pinned_in_the_image_at_the_same_version() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = _pins_of(project["dependencies"])
    hashed = _pins(IMAGE_BUILD / "requirements-aarch64.txt") | \
        _pins(IMAGE_BUILD / "requirements-sdist.txt")
    declared = _pins(IMAGE_BUILD / "requirements-aarch64.in") | \
        _pins(IMAGE_BUILD / "requirements-sdist.in")
    assert wanted, "no pinned runtime dependencies found in pyproject.toml"
    for name, version in wanted.items():
        assert declared.get(name) == version, f"{name}=={version}: not in the image's .in lists"
        assert hashed.get(name) == version, f"{name}=={version}: no hashed pin for the image"


def _pins_of(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for line in requirements:
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^;\s]+)", line)
        assert match is not None, f"runtime dependency not pinned exactly: {line!r}"
        pins[_name(match.group(1))] = match.group(2)
    return pins
