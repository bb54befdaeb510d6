"""What the units promise the manufacturer, read from the files that go into the image.

systemd-analyze (test_units.py) says the files are valid; these tests say they still encode the
safety shape of systemd/README.md: notify + watchdog, stop helper after any exit, bounded restarts
ending in the fault screen, the SoC watchdog, a capped persistent journal, the fixed account.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

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


KIOSK = read_unit(SYSTEMD_DIR / "kiosk.service")
FAULT = read_unit(SYSTEMD_DIR / "kiosk-fault.service")


@pytest.mark.requirement("SR-034")
def test_kiosk_is_a_notify_service_with_a_short_watchdog():
    service = KIOSK["Service"]
    assert service["Type"] == ["notify"]
    assert service["NotifyAccess"] == ["main"]
    assert 0 < seconds(service["WatchdogSec"][0]) <= 2


@pytest.mark.requirement("SR-036")
def test_stop_helper_runs_after_every_exit_as_the_kiosk_user():
    stop_post = KIOSK["Service"]["ExecStopPost"]
    assert len(stop_post) == 1
    # No "-" prefix (a failing stop helper must show as a failure) and no "+" (it runs with the
    # kiosk's groups, which is all it needs).
    assert stop_post[0].startswith("/opt/kiosk/venv/bin/python -m kiosk.safe_stop")


def test_restarts_are_bounded_and_end_in_the_fault_screen():
    unit, service = KIOSK["Unit"], KIOSK["Service"]
    assert service["Restart"] == ["on-failure"]
    assert 1 <= int(unit["StartLimitBurst"][0]) <= 5
    interval_s = seconds(unit["StartLimitIntervalSec"][0])
    restart_s = seconds(service["RestartSec"][0])
    # The limit must be reachable: the bursts fit in the interval, or restarts would go forever.
    assert int(unit["StartLimitBurst"][0]) * restart_s < interval_s
    assert unit["OnFailure"] == ["kiosk-fault.service"]
    assert "StartLimitAction" not in unit or unit["StartLimitAction"] == ["none"]


def test_fault_screen_forces_the_safe_state_and_never_restarts_the_kiosk():
    service = FAULT["Service"]
    assert service["Type"] == ["oneshot"]
    assert service["ExecStart"][0].startswith("/opt/kiosk/venv/bin/python -m kiosk.safe_stop")
    assert "--fault-screen" in service["ExecStart"][0]
    assert service["TTYPath"] == ["/dev/tty1"]
    assert "Restart" not in service
    assert FAULT["Unit"]["Conflicts"] == ["kiosk.service"]


def test_kiosk_runs_as_the_fixed_user_with_only_its_device_groups():
    service = KIOSK["Service"]
    assert service["User"] == ["kiosk"]
    assert sorted(service["SupplementaryGroups"][0].split()) == [
        "gpio", "i2c", "input", "render", "video"]
    sysusers = (SYSTEMD_DIR / "sysusers.d/kiosk.conf").read_text()
    assert re.search(r"^u kiosk 990 ", sysusers, flags=re.MULTILINE)
    for group in ("i2c", "gpio", "video", "input", "render"):
        assert re.search(rf"^m kiosk {group}$", sysusers, flags=re.MULTILINE)


def test_records_live_in_the_state_directory_and_the_system_stays_read_only():
    service = KIOSK["Service"]
    assert service["StateDirectory"] == ["kiosk"]
    assert service["ProtectSystem"] == ["strict"]
    assert service["NoNewPrivileges"] == ["yes"]
    assert service["CapabilityBoundingSet"] == [""]


def test_soc_watchdog_is_pet_by_pid1_within_the_bcm2835_limit():
    manager = read_unit(SYSTEMD_DIR / "system.conf.d/50-kiosk-watchdog.conf")["Manager"]
    assert 0 < seconds(manager["RuntimeWatchdogSec"][0]) < 15  # bcm2835_wdt tops out near 15 s


def test_journal_is_persistent_and_capped():
    journal = read_unit(SYSTEMD_DIR / "journald.conf.d/50-kiosk.conf")["Journal"]
    assert journal["Storage"] == ["persistent"]
    assert journal["SystemMaxUse"] == ["48M"]


def test_device_nodes_are_handed_to_the_kiosk_groups():
    rules = (SYSTEMD_DIR / "udev/60-kiosk-devices.rules").read_text()
    assert 'SUBSYSTEM=="i2c-dev", GROUP="i2c", MODE="0660"' in rules
    assert 'KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"' in rules
    modules = (SYSTEMD_DIR / "modules-load.d/kiosk.conf").read_text().split()
    assert {"i2c-dev", "bcm2835_wdt"} <= set(modules)
