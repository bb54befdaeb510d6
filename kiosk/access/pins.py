"""Service PINs: who may enter maintenance mode, stored only as salted slow hashes.

Why argon2id (argon2-cffi) and not a hash of our own: a 6-digit PIN has a million values, so only
a deliberately slow, memory-hard hash makes an offline guess from a copied file expensive; the
library's ``verify`` compares in constant time and its encoded hash carries salt and parameters.

Rules (issue 13):
- No PIN in the source. At first boot :meth:`PinVault.provision` draws a per-device factory PIN
  (returned once in clear: the daemon prints it on the serial console, ``--sim`` in the
  terminal, for the service label); it must be changed at first entry.
- Roles: ``technician`` (everything in service mode) and ``manager`` (operators, salon limits,
  export). Each role has its own PIN; a manager PIN is set by a technician.
- After 5 wrong PINs in a row entry locks for 5 minutes, doubling with every further lock-out
  (10, 20, ... capped at 24 h), across restarts: the counters live in the same file. A wall clock
  that moves backwards never shortens a lock (the last time seen is kept).
- Every attempt returns an :class:`AccessDecision` with a stable code; the caller records it as
  an event (the vault does no logging of its own).

Pure of the clock: every call takes ``now_s`` (wall-clock seconds).
"""

from __future__ import annotations

import itertools
import json
import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from kiosk.access.atomic import write_atomically

FILE_VERSION = 1
MAX_FILE_BYTES = 16 * 1024
PIN_LENGTH = 6
MAX_WRONG_IN_ROW = 5
FIRST_LOCK_S = 5 * 60.0
MAX_LOCK_S = 24 * 3600.0


class Role(StrEnum):
    TECHNICIAN = "technician"
    MANAGER = "manager"


class AccessCode(StrEnum):
    """Stable codes of every PIN decision (events and tests assert these)."""

    GRANTED = "pin_granted"
    MUST_CHANGE = "pin_must_change"  # granted, but only to change the factory PIN
    WRONG = "pin_wrong"
    LOCKED = "pin_locked"
    MALFORMED = "pin_malformed"
    CHANGED = "pin_changed"
    WEAK = "pin_weak"
    NOT_ALLOWED = "pin_not_allowed"
    STORE_DAMAGED = "pin_store_damaged"
    NOT_PROVISIONED = "pin_not_provisioned"
    CURRENT_FLOWING = "service_refused_current"  # no service mode while current may flow


class PinWeakness(StrEnum):
    """Why a new PIN is refused (stable codes: the screens translate them)."""

    LENGTH = "pin_length"
    REPEATED = "pin_repeated_digit"
    CONSECUTIVE = "pin_consecutive_digits"
    REUSED = "pin_reused"


@dataclass(frozen=True)
class AccessDecision:
    code: AccessCode
    reason: str
    role: Role | None = None
    locked_until_s: float | None = None
    wrong_in_row: int = 0
    weakness: PinWeakness | None = None

    @property
    def granted(self) -> bool:
        return self.code in (AccessCode.GRANTED, AccessCode.MUST_CHANGE, AccessCode.CHANGED)


class PinStoreError(Exception):
    """The PIN file is missing, damaged or not ours; the message names the file."""


@dataclass
class _State:
    hashes: dict[Role, str] = field(default_factory=dict)
    must_change: set[Role] = field(default_factory=set)
    wrong_in_row: int = 0
    lockouts: int = 0
    locked_until_s: float = 0.0
    last_seen_s: float = 0.0


def default_hasher() -> PasswordHasher:
    """argon2id at the RFC 9106 / OWASP second recommendation (19 MiB, t=2, p=1)."""
    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def weakness(pin: str) -> PinWeakness | None:
    """Why ``pin`` may not be chosen, as a stable code (None: acceptable)."""
    if len(pin) != PIN_LENGTH or not pin.isascii() or not pin.isdigit():
        return PinWeakness.LENGTH
    if len(set(pin)) == 1:
        return PinWeakness.REPEATED
    digits = [int(c) for c in pin]
    steps = {b - a for a, b in itertools.pairwise(digits)}
    if steps in ({1}, {-1}):
        return PinWeakness.CONSECUTIVE
    return None


_WEAK_TEXTS = {
    PinWeakness.LENGTH: f"A PIN is exactly {PIN_LENGTH} digits.",
    PinWeakness.REPEATED: "A PIN of one repeated digit is too easy to guess.",
    PinWeakness.CONSECUTIVE: "A PIN of consecutive digits is too easy to guess.",
}


def weak_reason(pin: str) -> str | None:
    """Why ``pin`` may not be chosen, in plain words (None: acceptable)."""
    code = weakness(pin)
    return None if code is None else _WEAK_TEXTS[code]


class PinVault:
    """The service PINs of one device, in one small JSON file (mode 0600) in the state folder."""

    def __init__(self, path: Path, *, hasher: PasswordHasher | None = None) -> None:
        self.path = Path(path)
        self._hasher = hasher or default_hasher()
        self._state = self._load()

    # ------------------------------------------------------------------ first boot
    @classmethod
    def provision(cls, path: Path, now_s: float, *, hasher: PasswordHasher | None = None,
                  pin: str | None = None) -> tuple[PinVault, str]:
        """Create the file with a fresh factory technician PIN; returns it once, in clear.

        Refuses to overwrite an existing file (re-provisioning is deleting the file as root,
        on the device's console: physical access)."""
        if Path(path).exists():
            raise PinStoreError(f"{path}: PIN file exists already; not overwritten")
        factory = pin if pin is not None else _draw_pin()
        if weak_reason(factory) is not None:
            factory = _draw_pin()
        h = hasher or default_hasher()
        state = _State(hashes={Role.TECHNICIAN: h.hash(factory)},
                       must_change={Role.TECHNICIAN}, last_seen_s=now_s)
        _write(Path(path), state)
        return cls(Path(path), hasher=h), factory

    # ------------------------------------------------------------------ entry
    def verify(self, pin: object, now_s: float) -> AccessDecision:
        """One attempt at the PIN pad. Wrong attempts count even while the pad is shown again;
        a locked vault refuses without looking at the PIN."""
        st = self._state
        now_s = max(now_s, st.last_seen_s)
        st.last_seen_s = now_s
        if now_s < st.locked_until_s:
            return self._locked(now_s)
        if not isinstance(pin, str) or not pin.isascii() or not pin.isdigit() or not (
                4 <= len(pin) <= 12):
            self._save()
            return AccessDecision(AccessCode.MALFORMED, "A PIN is digits only.",
                                  wrong_in_row=st.wrong_in_row)
        matched: Role | None = None
        for role, encoded in st.hashes.items():  # every hash is checked: no early exit by role
            if self._matches(encoded, pin) and matched is None:
                matched = role
        if matched is None:
            return self._wrong(now_s)
        st.wrong_in_row = 0
        self._save()
        if matched in st.must_change:
            return AccessDecision(AccessCode.MUST_CHANGE, "The factory PIN must be changed "
                                  "before anything else.", role=matched)
        return AccessDecision(AccessCode.GRANTED, f"Service mode: {matched.value}.",
                              role=matched)

    def change(self, role: Role, new_pin: str, now_s: float, *,
               by: Role | None = None) -> AccessDecision:
        """Set ``role``'s PIN. ``by`` is the role of whoever is signed in (None: the holder of
        ``role`` itself, right after :meth:`verify`). A manager cannot set a technician PIN."""
        actor = by or role
        if actor is Role.MANAGER and role is Role.TECHNICIAN:
            return AccessDecision(AccessCode.NOT_ALLOWED, "A manager cannot set the "
                                  "technician's PIN.", role=actor)
        if not isinstance(new_pin, str):
            new_pin = ""
        weak = weakness(new_pin)
        if weak is not None:
            return AccessDecision(AccessCode.WEAK, _WEAK_TEXTS[weak], role=actor, weakness=weak)
        for other, encoded in self._state.hashes.items():
            if self._matches(encoded, new_pin):
                same = "the current PIN" if other is role else "another role's PIN"
                return AccessDecision(AccessCode.WEAK, f"The new PIN may not be {same}.",
                                      role=actor, weakness=PinWeakness.REUSED)
        self._state.hashes[role] = self._hasher.hash(new_pin)
        self._state.must_change.discard(role)
        self._state.last_seen_s = max(now_s, self._state.last_seen_s)
        self._save()
        return AccessDecision(AccessCode.CHANGED, f"The {role.value} PIN was changed.",
                              role=actor)

    def has_role(self, role: Role) -> bool:
        return role in self._state.hashes

    def must_change(self, role: Role) -> bool:
        return role in self._state.must_change

    def lock_status(self, now_s: float) -> AccessDecision | None:
        """The lock in force at ``now_s`` (None: the pad may be used)."""
        now_s = max(now_s, self._state.last_seen_s)
        return self._locked(now_s) if now_s < self._state.locked_until_s else None

    # ------------------------------------------------------------------ internals
    def _matches(self, encoded: str, pin: str) -> bool:
        try:
            return bool(self._hasher.verify(encoded, pin))
        except VerifyMismatchError:
            return False
        except (VerificationError, InvalidHashError):
            return False

    def _wrong(self, now_s: float) -> AccessDecision:
        st = self._state
        st.wrong_in_row += 1
        if st.wrong_in_row >= MAX_WRONG_IN_ROW:
            lock_s = min(FIRST_LOCK_S * (2 ** st.lockouts), MAX_LOCK_S)
            st.lockouts += 1
            st.wrong_in_row = 0
            st.locked_until_s = now_s + lock_s
            self._save()
            return self._locked(now_s)
        self._save()
        left = MAX_WRONG_IN_ROW - st.wrong_in_row
        return AccessDecision(AccessCode.WRONG, f"Wrong PIN. {left} more wrong "
                              f"{'try' if left == 1 else 'tries'} lock the service entry.",
                              wrong_in_row=st.wrong_in_row)

    def _locked(self, now_s: float) -> AccessDecision:
        until = self._state.locked_until_s
        minutes = max(1, round((until - now_s) / 60.0))
        return AccessDecision(AccessCode.LOCKED, f"Too many wrong PINs: service entry is locked "
                              f"for {minutes} more minute{'s' if minutes != 1 else ''}.",
                              locked_until_s=until)

    def _save(self) -> None:
        _write(self.path, self._state)

    def _load(self) -> _State:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            raise PinStoreError(f"{self.path}: no PIN file (first boot provisions one)") from None
        if size > MAX_FILE_BYTES:
            raise PinStoreError(f"{self.path}: {size} bytes, more than a PIN file can be "
                                f"({MAX_FILE_BYTES}); refused")
        try:
            raw = json.loads(self.path.read_bytes().decode("utf-8"))
            return _parse(raw)
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError,
                ValueError) as exc:
            raise PinStoreError(f"{self.path}: damaged PIN file ({exc.__class__.__name__}); "
                                f"service entry refused until it is re-provisioned") from None


def _draw_pin() -> str:
    while True:
        pin = f"{secrets.randbelow(10 ** PIN_LENGTH):0{PIN_LENGTH}d}"
        if weak_reason(pin) is None:
            return pin


def _parse(raw: Any) -> _State:
    if not isinstance(raw, dict) or raw.get("version") != FILE_VERSION:
        raise ValueError("unknown version")
    hashes = {Role(k): v for k, v in raw["hashes"].items()}
    if Role.TECHNICIAN not in hashes or not all(
            isinstance(v, str) and v.startswith("$argon2id$") for v in hashes.values()):
        raise ValueError("hashes")
    numbers = [raw["wrong_in_row"], raw["lockouts"], raw["locked_until_s"], raw["last_seen_s"]]
    if not all(isinstance(n, int | float) and not isinstance(n, bool) and n >= 0
               and n == n and n != float("inf") for n in numbers):
        raise ValueError("counters")
    return _State(hashes=hashes, must_change={Role(r) for r in raw["must_change"]},
                  wrong_in_row=int(raw["wrong_in_row"]), lockouts=int(raw["lockouts"]),
                  locked_until_s=float(raw["locked_until_s"]),
                  last_seen_s=float(raw["last_seen_s"]))


def _write(path: Path, state: _State) -> None:
    body = json.dumps({
        "version": FILE_VERSION,
        "hashes": {role.value: h for role, h in state.hashes.items()},
        "must_change": sorted(r.value for r in state.must_change),
        "wrong_in_row": state.wrong_in_row,
        "lockouts": state.lockouts,
        "locked_until_s": state.locked_until_s,
        "last_seen_s": state.last_seen_s,
    }, indent=1).encode("utf-8")
    write_atomically(path, body, mode=0o600)
