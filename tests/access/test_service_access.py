"""Service entry rules without a window (issue 13): attempts, refusal while current flows, idle
time, the forced change, events without PINs, missing and damaged vaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from kiosk.access.pins import AccessCode, PinVault, PinWeakness, Role
from kiosk.access.service_access import IDLE_TIMEOUT_S, ExitCode, ServiceAccess, pin_file
from kiosk.records.events import LogEvent

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
WALL = 1_800_000_000.0
FACTORY = "905183"
TECH = "482917"
MANAGER = "730415"


def access_in(tmp_path: Path, *, provision: bool = True) -> tuple[ServiceAccess, list[LogEvent]]:
    events: list[LogEvent] = []
    if provision:
        PinVault.provision(pin_file(tmp_path), WALL, hasher=FAST, pin=FACTORY)
    return ServiceAccess(pin_file(tmp_path), record=events.append, hasher=FAST), events


def signed_in_technician(tmp_path: Path) -> tuple[ServiceAccess, list[LogEvent]]:
    access, events = access_in(tmp_path)
    access.attempt(FACTORY, wall_now_s=WALL, mono_now_s=0.0, current_flowing=False)
    assert access.change_pin(Role.TECHNICIAN, TECH, wall_now_s=WALL, mono_now_s=0.0).code \
        is AccessCode.CHANGED
    return access, events


@pytest.mark.requirement("SR-141")
def test_the_factory_pin_opens_only_its_change(tmp_path: Path) -> None:
    access, events = access_in(tmp_path)
    decision = access.attempt(FACTORY, wall_now_s=WALL, mono_now_s=1.0, current_flowing=False)
    assert decision.code is AccessCode.MUST_CHANGE
    assert access.role is None and access.pending_change is Role.TECHNICIAN and access.active
    # the forced change is for the factory PIN's own role only
    refused = access.change_pin(Role.MANAGER, MANAGER, wall_now_s=WALL, mono_now_s=2.0)
    assert refused.code is AccessCode.NOT_ALLOWED and access.role is None
    done = access.change_pin(Role.TECHNICIAN, TECH, wall_now_s=WALL, mono_now_s=3.0)
    assert done.code is AccessCode.CHANGED
    assert access.role is Role.TECHNICIAN and access.pending_change is None
    assert [e.code for e in events] == ["pin_must_change", "pin_not_allowed", "pin_changed"]


@pytest.mark.requirement("SR-141")
def test_no_vault_and_a_damaged_vault_refuse_with_their_codes(tmp_path: Path) -> None:
    access, events = access_in(tmp_path, provision=False)
    decision = access.attempt(FACTORY, wall_now_s=WALL, mono_now_s=0.0, current_flowing=False)
    assert decision.code is AccessCode.NOT_PROVISIONED and not access.active
    assert access.lock_status(WALL) is not None
    pin_file(tmp_path).write_text("{not json")
    damaged = ServiceAccess(pin_file(tmp_path), record=events.append, hasher=FAST)
    assert damaged.attempt(FACTORY, wall_now_s=WALL, mono_now_s=0.0,
                           current_flowing=False).code is AccessCode.STORE_DAMAGED
    assert ServiceAccess(None, record=events.append).attempt(
        FACTORY, wall_now_s=WALL, mono_now_s=0.0,
        current_flowing=False).code is AccessCode.NOT_PROVISIONED
    assert [e.code for e in events] == ["pin_not_provisioned", "pin_store_damaged",
                                        "pin_not_provisioned"]


@pytest.mark.requirement("SR-146")
def test_current_flowing_refuses_even_the_right_pin_and_counts_nothing(tmp_path: Path) -> None:
    access, events = signed_in_technician(tmp_path)
    access.sign_out()
    for _ in range(7):  # more than the lock-out needs: these are not wrong PINs
        decision = access.attempt(TECH, wall_now_s=WALL, mono_now_s=5.0, current_flowing=True)
        assert decision.code is AccessCode.CURRENT_FLOWING
    assert not access.active
    assert access.attempt(TECH, wall_now_s=WALL, mono_now_s=6.0,
                          current_flowing=False).code is AccessCode.GRANTED
    assert events[-2].code == "service_refused_current"


@pytest.mark.requirement("SR-146")
def test_current_that_starts_ends_service_mode_at_once(tmp_path: Path) -> None:
    access, events = signed_in_technician(tmp_path)
    assert access.tick(mono_now_s=1.0, current_flowing=False) is None
    assert access.tick(mono_now_s=1.1, current_flowing=True) is ExitCode.CURRENT_FLOWING
    assert not access.active
    assert events[-1].code == "service_left_current" and events[-1].severity == "medium"
    assert access.tick(mono_now_s=1.2, current_flowing=True) is None  # once


@pytest.mark.requirement("SR-145")
def test_idle_time_both_sides_of_three_minutes_and_a_touch_restarts_it(tmp_path: Path) -> None:
    access, events = signed_in_technician(tmp_path)  # last activity at 0.0
    assert access.tick(mono_now_s=IDLE_TIMEOUT_S - 0.001, current_flowing=False) is None
    access.touched(100.0)
    access.touched(50.0)  # an older touch never moves the time back
    assert access.idle_left_s(100.0) == IDLE_TIMEOUT_S
    assert access.tick(mono_now_s=100.0 + IDLE_TIMEOUT_S - 0.001, current_flowing=False) is None
    assert access.tick(mono_now_s=100.0 + IDLE_TIMEOUT_S,
                       current_flowing=False) is ExitCode.IDLE_TIMEOUT
    assert not access.active and events[-1].code == "service_idle_timeout"


@pytest.mark.requirement("SR-145")
def test_the_forced_change_times_out_too(tmp_path: Path) -> None:
    access, _events = access_in(tmp_path)
    access.attempt(FACTORY, wall_now_s=WALL, mono_now_s=10.0, current_flowing=False)
    assert access.tick(mono_now_s=10.0 + IDLE_TIMEOUT_S,
                       current_flowing=False) is ExitCode.IDLE_TIMEOUT
    assert access.pending_change is None
    assert access.change_pin(Role.TECHNICIAN, TECH, wall_now_s=WALL,
                             mono_now_s=11.0).code is AccessCode.NOT_ALLOWED


@pytest.mark.requirement("SR-143", "SR-142")
def test_events_never_carry_a_pin_and_a_lock_out_is_durable(tmp_path: Path) -> None:
    access, events = signed_in_technician(tmp_path)
    access.sign_out()
    wrong = ["100001", "100002", "100003", "100004", "100005"]
    for pin in wrong:
        access.attempt(pin, wall_now_s=WALL + 1, mono_now_s=1.0, current_flowing=False)
    weak = access.change_pin(Role.TECHNICIAN, "111111", wall_now_s=WALL, mono_now_s=2.0)
    assert weak.code is AccessCode.NOT_ALLOWED  # nobody is in
    locked = [e for e in events if e.code == "pin_locked"]
    assert len(locked) == 1 and locked[0].is_safety_event
    assert locked[0].details["locked_until_s"] == pytest.approx(WALL + 1 + 300.0)
    dumped = json.dumps([[e.code, e.reason, dict(e.details)] for e in events])
    for pin in [FACTORY, TECH, *wrong]:
        assert pin not in dumped


@pytest.mark.requirement("SR-148", "SR-144")
def test_a_manager_sets_only_the_managers_pin_and_weak_pins_carry_their_code(
        tmp_path: Path) -> None:
    access, events = signed_in_technician(tmp_path)
    assert access.change_pin(Role.MANAGER, MANAGER, wall_now_s=WALL,
                             mono_now_s=1.0).code is AccessCode.CHANGED
    access.sign_out()
    assert access.attempt(MANAGER, wall_now_s=WALL, mono_now_s=2.0,
                          current_flowing=False).role is Role.MANAGER
    refused = access.change_pin(Role.TECHNICIAN, "615243", wall_now_s=WALL, mono_now_s=3.0)
    assert refused.code is AccessCode.NOT_ALLOWED
    for pin, code in (("222222", PinWeakness.REPEATED), ("654321", PinWeakness.CONSECUTIVE),
                      ("12345", PinWeakness.LENGTH), ("1234567", PinWeakness.LENGTH),
                      ("12a456", PinWeakness.LENGTH), ("", PinWeakness.LENGTH),
                      (TECH, PinWeakness.REUSED), (MANAGER, PinWeakness.REUSED)):
        decision = access.change_pin(Role.MANAGER, pin, wall_now_s=WALL, mono_now_s=4.0)
        assert (decision.code, decision.weakness) == (AccessCode.WEAK, code), pin
    assert events[-1].details["weakness"] == "pin_reused"
    assert "target" in events[-1].details


def test_page_refusals_are_events_with_the_page_and_the_role(tmp_path: Path) -> None:
    access, events = signed_in_technician(tmp_path)
    access.page_refused("service_calibration" * 10)
    assert events[-1].code == "service_page_refused"
    assert events[-1].details == {"page": ("service_calibration" * 10)[:64],
                                  "role": "technician"}
