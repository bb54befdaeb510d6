"""Service PINs (issue 13): factory PIN, change, roles, lock-out across restarts, damaged files."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.access.pins import (
    FIRST_LOCK_S,
    MAX_LOCK_S,
    AccessCode,
    PinStoreError,
    PinVault,
    Role,
    weak_reason,
)

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # tests only: same algorithm
T0 = 1_800_000_000.0
NEW = "482917"
MANAGER_PIN = "730415"


def fresh(tmp_path: Path, pin: str = "905183") -> tuple[PinVault, str]:
    return PinVault.provision(tmp_path / "pins.json", T0, hasher=FAST, pin=pin)


def reopen(vault: PinVault) -> PinVault:
    return PinVault(vault.path, hasher=FAST)


def wrong_times(vault: PinVault, n: int, now_s: float) -> list[AccessCode]:
    return [vault.verify("000001", now_s).code for _ in range(n)]


# --- first boot and change -----------------------------------------------------------------------

def test_first_boot_draws_a_six_digit_factory_pin_that_must_be_changed(tmp_path: Path) -> None:
    vault, factory = PinVault.provision(tmp_path / "pins.json", T0, hasher=FAST)
    assert len(factory) == 6 and factory.isdigit() and weak_reason(factory) is None
    assert stat.S_IMODE(os.stat(vault.path).st_mode) == 0o600
    assert factory not in vault.path.read_text()  # only the hash is stored
    decision = vault.verify(factory, T0)
    assert decision.code is AccessCode.MUST_CHANGE and decision.role is Role.TECHNICIAN
    assert decision.granted


def test_two_devices_get_different_factory_pins(tmp_path: Path) -> None:
    pins = {PinVault.provision(tmp_path / f"{n}.json", T0, hasher=FAST)[1] for n in range(8)}
    assert len(pins) > 1


def test_after_the_change_the_new_pin_grants_and_the_factory_pin_is_wrong(
        tmp_path: Path) -> None:
    vault, factory = fresh(tmp_path)
    assert vault.change(Role.TECHNICIAN, NEW, T0).code is AccessCode.CHANGED
    assert not vault.must_change(Role.TECHNICIAN)
    assert reopen(vault).verify(NEW, T0 + 1).code is AccessCode.GRANTED
    assert reopen(vault).verify(factory, T0 + 2).code is AccessCode.WRONG


def test_provisioning_never_overwrites_an_existing_file(tmp_path: Path) -> None:
    vault, _ = fresh(tmp_path)
    before = vault.path.read_bytes()
    with pytest.raises(PinStoreError, match="exists already"):
        PinVault.provision(vault.path, T0, hasher=FAST)
    assert vault.path.read_bytes() == before


@pytest.mark.parametrize("pin", ["111111", "123456", "654321", "12345", "1234567", "12a456",
                                 "", "١٢٣٤٥٦"])
def test_weak_or_malformed_new_pins_are_refused_with_the_reason(tmp_path: Path,
                                                                 pin: str) -> None:
    vault, factory = fresh(tmp_path)
    decision = vault.change(Role.TECHNICIAN, pin, T0)
    assert decision.code is AccessCode.WEAK and decision.reason
    assert vault.verify(factory, T0).code is AccessCode.MUST_CHANGE  # nothing changed


def test_a_new_pin_may_not_be_the_current_one_or_another_roles(tmp_path: Path) -> None:
    vault, factory = fresh(tmp_path)
    assert vault.change(Role.TECHNICIAN, factory, T0).code is AccessCode.WEAK
    vault.change(Role.TECHNICIAN, NEW, T0)
    assert vault.change(Role.MANAGER, NEW, T0, by=Role.TECHNICIAN).code is AccessCode.WEAK


def test_roles_a_manager_pin_set_by_the_technician_grants_the_manager_role(
        tmp_path: Path) -> None:
    vault, _ = fresh(tmp_path)
    vault.change(Role.TECHNICIAN, NEW, T0)
    assert vault.change(Role.MANAGER, MANAGER_PIN, T0, by=Role.TECHNICIAN).code \
        is AccessCode.CHANGED
    decision = reopen(vault).verify(MANAGER_PIN, T0 + 1)
    assert decision.code is AccessCode.GRANTED and decision.role is Role.MANAGER


def test_a_manager_cannot_set_the_technicians_pin(tmp_path: Path) -> None:
    vault, _ = fresh(tmp_path)
    vault.change(Role.TECHNICIAN, NEW, T0)
    vault.change(Role.MANAGER, MANAGER_PIN, T0, by=Role.TECHNICIAN)
    decision = vault.change(Role.TECHNICIAN, "290384", T0, by=Role.MANAGER)
    assert decision.code is AccessCode.NOT_ALLOWED
    assert vault.verify(NEW, T0).code is AccessCode.GRANTED


# --- lock-out ------------------------------------------------------------------------------------

def test_four_wrong_pins_warn_and_the_fifth_locks_for_five_minutes(tmp_path: Path) -> None:
    vault, _ = fresh(tmp_path)
    vault.change(Role.TECHNICIAN, NEW, T0)
    assert wrong_times(vault, 3, T0) == [AccessCode.WRONG] * 3
    fourth = vault.verify("000002", T0)
    assert fourth.code is AccessCode.WRONG and fourth.wrong_in_row == 4
    assert "1 more wrong try lock" in fourth.reason
    assert vault.lock_status(T0) is None
    fifth = vault.verify("000003", T0)
    assert fifth.code is AccessCode.LOCKED and "5 more minutes" in fifth.reason
    locked = reopen(vault).lock_status(T0)
    assert locked is not None and locked.locked_until_s == pytest.approx(T0 + FIRST_LOCK_S)


def test_the_lock_refuses_even_the_right_pin_until_its_last_second(tmp_path: Path) -> None:
    vault, _ = fresh(tmp_path)
    vault.change(Role.TECHNICIAN, NEW, T0)
    wrong_times(vault, 5, T0)
    assert vault.verify(NEW, T0 + FIRST_LOCK_S - 0.001).code is AccessCode.LOCKED
    assert vault.verify(NEW, T0 + FIRST_LOCK_S).code is AccessCode.GRANTED


def test_each_further_lock_out_doubles_up_to_a_day(tmp_path: Path) -> None:
    vault, _ = fresh(tmp_path)
    vault.change(Role.TECHNICIAN, NEW, T0)
    now_s = T0
    lengths = []
    for _ in range(10):
        codes = wrong_times(vault, 5, now_s)
        assert codes == [AccessCode.WRONG] * 4 + [AccessCode.LOCKED]
        status = vault.lock_status(now_s)
        assert status is not None and status.locked_until_s is not None
        lengths.append(status.locked_until_s - now_s)
        now_s = status.locked_until_s
    assert lengths[:4] == [300.0, 600.0, 1200.0, 2400.0]
    assert max(lengths) == MAX_LOCK_S


def test_the_lock_holds_across_a_restart(tmp_path: Path) -> None:
    vault, _ = fresh(tmp_path)
    vault.change(Role.TECHNICIAN, NEW, T0)
    wrong_times(vault, 5, T0)
    restarted = reopen(vault)
    assert restarted.verify(NEW, T0 + 60).code is AccessCode.LOCKED
    assert restarted.verify(NEW, T0 + FIRST_LOCK_S).code is AccessCode.GRANTED


def test_wrong_tries_before_a_restart_still_count_after_it(tmp_path: Path) -> None:
    vault, _ = fresh(tmp_path)
    vault.change(Role.TECHNICIAN, NEW, T0)
    wrong_times(vault, 3, T0)
    assert wrong_times(reopen(vault), 2, T0 + 1) == [AccessCode.WRONG, AccessCode.LOCKED]


def test_a_clock_set_back_never_shortens_a_lock(tmp_path: Path) -> None:
    vault, _ = fresh(tmp_path)
    vault.change(Role.TECHNICIAN, NEW, T0)
    wrong_times(vault, 5, T0)
    assert vault.verify(NEW, T0 - 86_400).code is AccessCode.LOCKED
    assert reopen(vault).verify(NEW, T0 + FIRST_LOCK_S - 1).code is AccessCode.LOCKED


def test_a_right_pin_resets_the_count_of_wrong_ones(tmp_path: Path) -> None:
    vault, _ = fresh(tmp_path)
    vault.change(Role.TECHNICIAN, NEW, T0)
    wrong_times(vault, 4, T0)
    assert vault.verify(NEW, T0).code is AccessCode.GRANTED
    assert wrong_times(vault, 4, T0) == [AccessCode.WRONG] * 4
    assert vault.lock_status(T0) is None


@pytest.mark.parametrize("junk", [None, 123456, "12 456", "abcdef", "", "1" * 13, "١٢٣٤٥٦",
                                  b"482917"])
def test_junk_at_the_pad_is_refused_as_malformed_and_grants_nothing(tmp_path: Path,
                                                                    junk: object) -> None:
    vault, _ = fresh(tmp_path)
    vault.change(Role.TECHNICIAN, NEW, T0)
    decision = vault.verify(junk, T0)
    assert decision.code is AccessCode.MALFORMED and not decision.granted


@settings(max_examples=60, deadline=None)
@given(attempts=st.lists(st.tuples(st.text(alphabet="0123456789", min_size=4, max_size=8),
                                   st.floats(0, 3600)), max_size=30))
def test_no_sequence_of_wrong_pins_ever_grants_or_shortens_a_lock(
        tmp_path_factory: pytest.TempPathFactory, attempts: list[tuple[str, float]]) -> None:
    vault, _ = fresh(tmp_path_factory.mktemp("pins"))
    vault.change(Role.TECHNICIAN, NEW, T0)
    now_s = T0
    longest_until = 0.0
    for pin, dt in attempts:
        now_s += dt
        decision = vault.verify(pin, now_s)
        if pin == NEW:
            assert decision.code in (AccessCode.GRANTED, AccessCode.LOCKED)
        else:
            assert not decision.granted
        if decision.locked_until_s is not None:
            assert decision.locked_until_s >= longest_until
            longest_until = decision.locked_until_s
            assert decision.locked_until_s - now_s <= MAX_LOCK_S


# --- damaged files -------------------------------------------------------------------------------

def _damage(vault: PinVault, edit: object) -> None:
    raw = json.loads(vault.path.read_text())
    if callable(edit):
        edit(raw)
        vault.path.write_text(json.dumps(raw))
    else:
        vault.path.write_bytes(edit)  # type: ignore[arg-type]


@pytest.mark.parametrize("edit", [
    b"", b"\xff\xfe\x00garbage", b"{\"version\": 1, \"hashes\":", b"[]",
    b"x" * 20_000,
    lambda r: r.update(version=2),
    lambda r: r["hashes"].update(technician="$2b$12$notargon"),
    lambda r: r["hashes"].pop("technician"),
    lambda r: r.update(wrong_in_row=-1),
    lambda r: r.update(locked_until_s=float("nan")),
    lambda r: r.update(lockouts="many"),
    lambda r: r["hashes"].update(root="$argon2id$x"),
], ids=["empty", "binary", "cut", "not-an-object", "huge", "version", "bcrypt", "no-technician",
        "negative", "nan", "string-count", "unknown-role"])
def test_a_damaged_pin_file_is_refused_naming_the_file(tmp_path: Path, edit: object) -> None:
    vault, _ = fresh(tmp_path)
    _damage(vault, edit)
    with pytest.raises(PinStoreError, match=str(vault.path)):
        PinVault(vault.path, hasher=FAST)


def test_a_missing_pin_file_says_first_boot_provisions_one(tmp_path: Path) -> None:
    with pytest.raises(PinStoreError, match="first boot provisions one"):
        PinVault(tmp_path / "absent.json", hasher=FAST)


def test_a_write_leaves_no_temporary_file_behind(tmp_path: Path) -> None:
    vault, _ = fresh(tmp_path)
    wrong_times(vault, 3, T0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pins.json"]
