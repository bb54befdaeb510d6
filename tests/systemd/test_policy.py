"""What the units promise the manufacturer, read from the files that go into the image.

systemd-analyze (test_units.py) says the files are valid; these tests say they still encode the
safety shape of systemd/README.md: notify + watchdog, stop helper after any exit, bounded restarts
ending in the fault screen, the SoC watchdog, a capped persistent journal, the fixed accounts; the
touchscreen unprivileged and unable to stop the control daemon; the loop's core kept for it.
"""

from __future__ import annotations

import re

import pytest

from tests.systemd.unit_files import (
    CONTROL,
    FAULT,
    LOOP_CORE,
    PI4_CORES,
    SOCKET_PATH,
    SYSTEMD_DIR,
    UI,
    read_unit,
    seconds,
)


@pytest.mark.requirement("SR-034")
def test_kiosk_is_a_notify_service_with_a_short_watchdog():
    service = CONTROL["Service"]
    assert service["Type"] == ["notify"]
    assert service["NotifyAccess"] == ["main"]
    assert 0 < seconds(service["WatchdogSec"][0]) <= 2


@pytest.mark.requirement("SR-036")
def test_stop_helper_runs_after_every_exit_as_the_kiosk_user():
    stop_post = CONTROL["Service"]["ExecStopPost"]
    assert len(stop_post) == 1
    # No "-" prefix (a failing stop helper must show as a failure) and no "+" (it runs with the
    # kiosk's groups, which is all it needs).
    assert stop_post[0].startswith("/opt/kiosk/venv/bin/python -m kiosk.safe_stop")


def test_restarts_are_bounded_and_end_in_the_fault_screen():
    unit, service = CONTROL["Unit"], CONTROL["Service"]
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
    # It takes the panel from the UI (the text on tty1 is what a person must read) and holds the
    # control daemon down; it is ordered after both have stopped.
    assert sorted(FAULT["Unit"]["Conflicts"][0].split()) == [
        "kiosk-control.service", "kiosk-ui.service"]
    assert sorted(FAULT["Unit"]["After"][0].split()) == [
        "kiosk-control.service", "kiosk-ui.service"]


def test_control_runs_as_the_fixed_user_with_only_the_hardware_groups():
    service = CONTROL["Service"]
    assert service["User"] == ["kiosk"] and service["Group"] == ["kiosk"]
    # kiosk-ui only to hand the socket to the UI's group; no display, touch or GPU groups.
    assert sorted(service["SupplementaryGroups"][0].split()) == ["gpio", "i2c", "kiosk-ui"]
    assert sorted(service["DeviceAllow"]) == ["char-gpiochip rw", "char-i2c rw"]


@pytest.mark.requirement("SR-082")
def test_ui_runs_as_its_own_user_without_any_way_to_the_output_stage():
    service = UI["Service"]
    assert service["User"] == ["kiosk-ui"] and service["Group"] == ["kiosk-ui"]
    assert sorted(service["SupplementaryGroups"][0].split()) == ["input", "render", "video"]
    assert service["DevicePolicy"] == ["closed"]
    assert sorted(service["DeviceAllow"]) == ["char-drm rw", "char-input r"]
    assert service["NoNewPrivileges"] == ["yes"] and service["CapabilityBoundingSet"] == [""]
    # Its only way to the daemon is the socket; the daemon's files are not its own.
    assert service["ExecStart"] == [
        "/opt/kiosk/venv/bin/kiosk --fullscreen --socket %t/kiosk/control.sock "
        "--state-dir %S/kiosk-ui"]
    assert service["StateDirectory"] == ["kiosk-ui"]  # never the daemon's: systemd would chown it
    assert "RuntimeDirectory" not in service


def test_the_socket_directory_is_the_daemons_and_the_ui_may_pass_through_it():
    service = CONTROL["Service"]
    assert "--socket %t/kiosk/control.sock" in service["ExecStart"][0]  # %t = /run
    assert service["RuntimeDirectory"] == [SOCKET_PATH.split("/")[2]]
    mode = int(service["RuntimeDirectoryMode"][0], 8)
    assert mode & 0o001, "the UI's user (other) must be able to reach the socket"
    assert not mode & 0o006, "nobody but the daemon lists or writes the directory"


def test_records_live_in_the_state_directory_and_the_system_stays_read_only():
    service = CONTROL["Service"]
    assert service["StateDirectory"] == ["kiosk"]
    assert int(service["StateDirectoryMode"][0], 8) & 0o007 == 0  # not the UI's to read
    for unit in (CONTROL, UI):
        assert unit["Service"]["ProtectSystem"] == ["strict"]
        assert unit["Service"]["NoNewPrivileges"] == ["yes"]
        assert unit["Service"]["CapabilityBoundingSet"] == [""]


# Dependencies through which one unit's stop, failure or restart reaches another (systemd.unit(5)):
# on the depending side Requires/Requisite/BindsTo/PartOf/Upholds/Conflicts, and the explicit
# propagations. Wants= is on this list as well: a UI that restarts after the control daemon hit
# its start limit would pull a fresh start of the daemon (and end the fault screen).
COUPLINGS = ("Wants", "Requires", "Requisite", "BindsTo", "PartOf", "Upholds", "Conflicts",
             "PropagatesStopTo", "StopPropagatedFrom", "PropagatesReloadTo", "ReloadPropagatedFrom",
             "OnFailure", "OnSuccess", "JoinsNamespaceOf")


def _named(unit: dict[str, dict[str, list[str]]], key: str) -> set[str]:
    return {name for value in unit["Unit"].get(key, []) for name in value.split()}


@pytest.mark.requirement("SR-083")
def test_the_ui_is_ordered_after_the_control_daemon_and_nothing_more():
    assert "kiosk-control.service" in _named(UI, "After")
    for key in COUPLINGS:
        assert "kiosk-control.service" not in _named(UI, key), f"kiosk-ui.service {key}="
    assert "PartOf" not in CONTROL["Unit"]


@pytest.mark.requirement("SR-083")
def test_no_unit_lets_the_ui_reach_the_control_daemon():
    """The control unit names the UI nowhere, and no unit couples the two (the fault screen's
    Conflicts= is the control unit's own failure path, started only by its OnFailure=)."""
    assert not any("kiosk-ui.service" in value
                   for section in CONTROL.values() for values in section.values()
                   for value in values), "kiosk-control.service names the UI's unit"
    for path in SYSTEMD_DIR.glob("*.service"):
        unit = read_unit(path)
        if path.name in ("kiosk-fault.service", "kiosk-control.service"):
            continue
        for key in ("PropagatesStopTo", "StopPropagatedFrom", "BindsTo", "PartOf", "Requires"):
            assert "kiosk-control.service" not in _named(unit, key), f"{path.name} {key}="


def test_both_units_start_at_boot_each_on_its_own():
    # No Wants= between them (see above): each is pulled in by multi-user.target.
    for unit in (CONTROL, UI):
        assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_a_crashed_or_killed_ui_comes_back_on_its_own():
    service, unit = UI["Service"], UI["Unit"]
    assert service["Restart"] == ["always"]
    assert 0 < seconds(service["RestartSec"][0]) <= 5
    assert unit["StartLimitIntervalSec"] == ["0"]  # the screen never gives up
    assert "OnFailure" not in unit  # the fault screen stops the control daemon: not the UI's


def _cpus(value: str) -> set[int]:
    cpus: set[int] = set()
    for part in value.replace(",", " ").split():
        first, _, last = part.partition("-")
        cpus |= set(range(int(first), int(last or first) + 1))
    return cpus


@pytest.mark.requirement("SR-084")
def test_the_control_loop_has_a_core_of_its_own_and_may_run_real_time():
    control = CONTROL["Service"]
    assert _cpus(control["CPUAffinity"][0]) == {LOOP_CORE}
    assert control["RestrictRealtime"] == ["no"]
    assert 1 <= int(control["LimitRTPRIO"][0]) <= 99
    assert "CPUSchedulingPolicy" not in control  # FIFO for the loop thread only, set by it
    manager = read_unit(SYSTEMD_DIR / "system.conf.d/50-kiosk-cpus.conf")["Manager"]
    everything_else = _cpus(manager["CPUAffinity"][0])
    assert everything_else == PI4_CORES - {LOOP_CORE}
    ui = UI["Service"]
    assert LOOP_CORE not in _cpus(ui["CPUAffinity"][0])
    assert ui["RestrictRealtime"] == ["yes"]
    assert "LimitRTPRIO" not in ui


def test_the_units_that_touch_the_panel_agree_on_who_owns_tty1():
    assert _named(UI, "Conflicts") == {"getty@tty1.service"}
    assert "Conflicts" not in CONTROL["Unit"]
    assert FAULT["Service"]["TTYPath"] == ["/dev/tty1"]


def test_accounts_and_groups_are_fixed_and_the_ui_has_no_hardware_group():
    sysusers = (SYSTEMD_DIR / "sysusers.d/kiosk.conf").read_text()
    assert re.search(r"^u kiosk +990 ", sysusers, flags=re.MULTILINE)
    assert re.search(r"^u kiosk-ui +989:kiosk-ui ", sysusers, flags=re.MULTILINE)
    assert re.search(r"^g kiosk-ui +989$", sysusers, flags=re.MULTILINE)
    members = re.findall(r"^m +(\S+) +(\S+)$", sysusers, flags=re.MULTILINE)
    assert sorted(g for user, g in members if user == "kiosk") == ["gpio", "i2c", "kiosk-ui"]
    assert sorted(g for user, g in members if user == "kiosk-ui") == ["input", "render", "video"]


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


@pytest.mark.requirement("SR-110")
def test_a_bad_configuration_or_a_held_state_folder_is_not_restarted():
    """Exit 2 and 3 (docs/exit-codes.md) say the input is wrong or the folder is taken: the same
    start would say it again. The unit fails at once (the fault screen), not after three tries;
    a crash, a failed self-test or a bug (1, 70, a signal) still restarts, within the limit."""
    from kiosk.entry import exit_codes

    prevented = {int(code) for value in CONTROL["Service"]["RestartPreventExitStatus"]
                 for code in value.split()}
    assert prevented == {exit_codes.BAD_INPUT, exit_codes.BUSY}
    assert exit_codes.FAILED not in prevented and exit_codes.INTERNAL_ERROR not in prevented
    assert CONTROL["Service"]["Restart"] == ["on-failure"]
    assert CONTROL["Unit"]["OnFailure"] == ["kiosk-fault.service"]
    # The UI restarts whatever it said (the screen never gives up); it never claims the folder.
    assert "RestartPreventExitStatus" not in UI["Service"]
