"""The units as systemd itself reads them: ``systemd-analyze verify`` and ``security --offline``.

Both run against a throw-away root laid out like the image (units in /usr/lib/systemd/system,
the kiosk's venv executables in /opt/kiosk/venv/bin) with this machine's own systemd units for
the targets they refer to. Skipped, saying so, only where systemd-analyze is not installed.

Security threshold: ``systemd-analyze security`` rates exposure from 0 (locked down) to 10.
Both units score 0.9 today; the test fails above EXPOSURE_THRESHOLD = 1.5, so a hardening option
dropped by mistake (PrivateNetwork, ProtectSystem, DevicePolicy...) turns CI red.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SYSTEMD_DIR = REPO / "systemd"
UNITS = ("kiosk.service", "kiosk-fault.service")
EXPOSURE_THRESHOLD = 1.5
HOST_UNIT_DIRS = (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system"))

systemd_analyze = shutil.which("systemd-analyze")
pytestmark = pytest.mark.skipif(
    systemd_analyze is None,
    reason="systemd-analyze is not installed (apt-get install systemd): unit checks skipped")


def _image_like_root(tmp_path: Path, units: dict[str, str]) -> Path:
    root = tmp_path / "root"
    unit_dir = root / "usr/lib/systemd/system"
    host_units = next((d for d in HOST_UNIT_DIRS if d.is_dir()), None)
    if host_units is None:
        pytest.skip("no systemd unit directory on this machine to resolve targets against")
    shutil.copytree(host_units, unit_dir, symlinks=True)
    for name, text in units.items():
        (unit_dir / name).write_text(text)
    venv_bin = root / "opt/kiosk/venv/bin"
    venv_bin.mkdir(parents=True)
    for program in ("kiosk", "python"):
        path = venv_bin / program
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(0o755)
    return root


def _our_units() -> dict[str, str]:
    return {name: (SYSTEMD_DIR / name).read_text() for name in UNITS}


def _verify(root: Path, *units: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([systemd_analyze, "verify", f"--root={root}", *units],
                          capture_output=True, text=True, timeout=60)


def test_units_verify_without_errors_or_warnings(tmp_path):
    result = _verify(_image_like_root(tmp_path, _our_units()), *UNITS)

    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "" and result.stdout.strip() == "", result.stderr


def test_verify_would_catch_a_misspelt_setting(tmp_path):
    units = _our_units()
    units["kiosk.service"] = units["kiosk.service"].replace(
        "WatchdogSec=1s", "WatchdogSec=one second")

    result = _verify(_image_like_root(tmp_path, units), "kiosk.service")

    assert "Failed to parse" in result.stderr and "one second" in result.stderr


def test_verify_would_catch_a_missing_program(tmp_path):
    root = _image_like_root(tmp_path, _our_units())
    (root / "opt/kiosk/venv/bin/kiosk").unlink()

    result = _verify(root, "kiosk.service")

    assert result.returncode != 0
    assert "/opt/kiosk/venv/bin/kiosk" in result.stderr


def _exposure(root: Path, unit: str) -> float:
    result = subprocess.run(
        [systemd_analyze, "security", "--offline=yes", f"--root={root}", "--no-pager", unit],
        capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", result.stdout)
    assert match, f"no exposure level in:\n{result.stdout}\n{result.stderr}"
    return float(match.group(1))


@pytest.mark.parametrize("unit", UNITS)
def test_exposure_stays_under_the_threshold(tmp_path, unit):
    root = _image_like_root(tmp_path, _our_units())

    assert _exposure(root, unit) <= EXPOSURE_THRESHOLD


def test_dropping_the_sandbox_raises_the_exposure_over_the_threshold(tmp_path):
    text = _our_units()["kiosk.service"]
    for option in ("PrivateNetwork", "ProtectSystem", "ProtectHome", "CapabilityBoundingSet",
                   "SystemCallFilter", "RestrictAddressFamilies", "DevicePolicy"):
        text = re.sub(rf"^{option}=.*\n", "", text, flags=re.MULTILINE)
    root = _image_like_root(tmp_path, {"kiosk.service": text})

    assert _exposure(root, "kiosk.service") > EXPOSURE_THRESHOLD
