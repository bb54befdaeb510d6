"""First-boot provisioning of the factory service PIN (issue 13): once, printed once, never in
the source; the image's first-boot unit and the --sim start-up."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.access.pins import AccessCode, PinVault, weak_reason
from kiosk.access.provision import main, provision_for_sim
from kiosk.access.service_access import pin_file

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "image_build" / "service-pin" / "kiosk-service-pin.service"

pytestmark = pytest.mark.requirement("SR-141")


def printed_pin(text: str) -> str:
    found = re.search(r"^\s+((?:\d ){5}\d)\s*$", text, re.MULTILINE)
    assert found, text
    return found.group(1).replace(" ", "")


def test_first_boot_prints_a_pin_that_opens_only_its_change(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main([str(tmp_path)], out=out, err=err) == 0
    pin = printed_pin(out.getvalue())
    assert weak_reason(pin) is None
    assert pin not in pin_file(tmp_path).read_text()
    decision = PinVault(pin_file(tmp_path)).verify(pin, 1_800_000_000.0)
    assert decision.code is AccessCode.MUST_CHANGE


def test_a_second_boot_prints_nothing_and_keeps_the_file(tmp_path: Path) -> None:
    assert main([str(tmp_path)], out=io.StringIO(), err=io.StringIO()) == 0
    before = pin_file(tmp_path).read_bytes()
    out, err = io.StringIO(), io.StringIO()
    assert main([str(tmp_path)], out=out, err=err) == 0
    assert out.getvalue() == "" and "exists; nothing changed" in err.getvalue()
    assert pin_file(tmp_path).read_bytes() == before


def test_a_missing_or_read_only_folder_is_refused_with_code_2(tmp_path: Path) -> None:
    err = io.StringIO()
    assert main([str(tmp_path / "nope")], out=io.StringIO(), err=err) == 2
    assert "no such folder" in err.getvalue()
    if os.geteuid() != 0:  # root writes anyway
        locked = tmp_path / "ro"
        locked.mkdir(mode=0o500)
        assert main([str(locked)], out=io.StringIO(), err=io.StringIO()) == 2


def test_sim_start_up_prints_a_pin_per_fresh_folder_and_none_after(tmp_path: Path) -> None:
    out = io.StringIO()
    first = provision_for_sim(tmp_path, out)
    assert first is not None and printed_pin(out.getvalue()) == first
    again = io.StringIO()
    assert provision_for_sim(tmp_path, again) is None and again.getvalue() == ""


def test_no_service_pin_is_left_in_the_source() -> None:
    sources = [p for p in (REPO / "kiosk").rglob("*.py")]
    offenders = [str(p) for p in sources
                 if re.search(r"service_pin\s*[:=]\s*[\"']\d{4,}", p.read_text("utf-8"))
                 or "2468" in p.read_text("utf-8")]
    assert offenders == []


def test_the_first_boot_unit_prints_on_the_console_only_and_runs_once() -> None:
    text = UNIT.read_text()
    settings = dict(line.split("=", 1) for line in text.splitlines()
                    if "=" in line and not line.startswith("#"))
    assert settings["StandardOutput"] == "tty" and settings["TTYPath"] == "/dev/console"
    assert "ConditionPathExists=!/var/lib/kiosk-ui/service-pins.json" in text
    assert "User=kiosk-ui" in text and "Before=kiosk-ui.service" in text
    assert "-m kiosk.access.provision /var/lib/kiosk-ui" in text


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_the_first_boot_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/opt/kiosk/venv/bin/python", sys.executable))
    run = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                         capture_output=True, text=True, timeout=60)
    problems = [line for line in (run.stdout + run.stderr).splitlines()
                if UNIT.name in line and "kiosk-ui.service" not in line]
    assert problems == []
