"""Entry to service mode: the PIN vault of the UI's state folder, who is in, and when they leave.

Rules (issue 13, SR-140..SR-146):
- The vault file (``service-pins.json``) lives in the UI's state folder (``--state-dir``). It is
  opened when someone first tries a PIN, so a file provisioned after start-up (the first-boot
  unit, a test) is found; a missing or damaged file refuses entry with its code, never a crash.
- Service mode is refused while current may flow (``service_refused_current``); if current
  starts while it is open (it cannot be started from a service page, but the daemon has other
  clients), it is left at once (``service_left_current``).
- It is left after :data:`IDLE_TIMEOUT_S` without a touch (``service_idle_timeout``).
- A factory PIN grants nothing but the PIN change (``pending_change``).
- Every attempt, refusal, change and exit is a :class:`LogEvent` handed to ``record`` (the app
  appends it to the records' event log). Events never carry a PIN, right or wrong.

Pure of the clocks: ``wall_now_s`` (lock-outs outlive a restart, so they are wall-clock
times) and ``mono_now_s`` (the idle timer) are passed to every call.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

from argon2 import PasswordHasher

from kiosk.access.pins import AccessCode, AccessDecision, PinStoreError, PinVault, Role
from kiosk.records.events import LogEvent

PIN_FILE_NAME = "service-pins.json"
IDLE_TIMEOUT_S = 180.0


class ExitCode(StrEnum):
    """Why service mode ended (stable codes of the events)."""

    SIGNED_OUT = "service_signed_out"
    IDLE_TIMEOUT = "service_idle_timeout"
    CURRENT_FLOWING = "service_left_current"


PAGE_REFUSED = "service_page_refused"

_SEVERITY = {
    AccessCode.GRANTED: "info",
    AccessCode.MUST_CHANGE: "info",
    AccessCode.CHANGED: "info",
    AccessCode.WRONG: "medium",
    AccessCode.LOCKED: "medium",
    AccessCode.MALFORMED: "medium",
    AccessCode.WEAK: "info",
    AccessCode.NOT_ALLOWED: "medium",
    AccessCode.STORE_DAMAGED: "medium",
    AccessCode.NOT_PROVISIONED: "medium",
    AccessCode.CURRENT_FLOWING: "medium",
}


def pin_file(state_dir: Path) -> Path:
    return Path(state_dir) / PIN_FILE_NAME


class ServiceAccess:
    """Who is in service mode on this kiosk, and the PIN decisions that got them there."""

    def __init__(self, vault_path: Path | None, *, record: Callable[[LogEvent], object],
                 hasher: PasswordHasher | None = None,
                 idle_timeout_s: float = IDLE_TIMEOUT_S) -> None:
        self.vault_path = None if vault_path is None else Path(vault_path)
        self._record = record
        self._hasher = hasher
        self.idle_timeout_s = idle_timeout_s
        self._vault: PinVault | None = None
        self.role: Role | None = None
        self.pending_change: Role | None = None
        self._last_activity_s = 0.0

    # ------------------------------------------------------------------ state
    @property
    def active(self) -> bool:
        """Someone is in service mode, or in the factory PIN's forced change."""
        return self.role is not None or self.pending_change is not None

    def vault(self) -> PinVault | AccessDecision:
        """The vault, or the refusal that says why there is none."""
        if self._vault is not None:
            return self._vault
        if self.vault_path is None or not self.vault_path.exists():
            return AccessDecision(AccessCode.NOT_PROVISIONED, "No service PIN is set on this "
                                  "device: the first-boot step did not run.")
        try:
            self._vault = PinVault(self.vault_path, hasher=self._hasher)
        except (PinStoreError, OSError) as exc:
            return AccessDecision(AccessCode.STORE_DAMAGED, str(exc))
        return self._vault

    def lock_status(self, wall_now_s: float) -> AccessDecision | None:
        """Why the pad cannot be used now (a lock-out, no vault), or None."""
        vault = self.vault()
        if isinstance(vault, AccessDecision):
            return vault
        return vault.lock_status(wall_now_s)

    # ------------------------------------------------------------------ entry
    def attempt(self, pin: str, *, wall_now_s: float, mono_now_s: float,
                current_flowing: bool) -> AccessDecision:
        """One press of OK on the PIN pad."""
        if current_flowing:
            decision = AccessDecision(AccessCode.CURRENT_FLOWING, "Service mode cannot open "
                                      "while current may flow.")
        else:
            vault = self.vault()
            decision = vault if isinstance(vault, AccessDecision) else vault.verify(
                pin, wall_now_s)
        if decision.code is AccessCode.GRANTED and decision.role is not None:
            self.role, self.pending_change = decision.role, None
            self._last_activity_s = mono_now_s
        elif decision.code is AccessCode.MUST_CHANGE and decision.role is not None:
            self.role, self.pending_change = None, decision.role
            self._last_activity_s = mono_now_s
        self._log(decision, "attempt")
        return decision

    def change_pin(self, role: Role, new_pin: str, *, wall_now_s: float,
                   mono_now_s: float) -> AccessDecision:
        """Set ``role``'s PIN, by whoever is in (or the forced change of the factory PIN)."""
        actor = self.role or self.pending_change
        vault = self.vault()
        if actor is None:
            decision = AccessDecision(AccessCode.NOT_ALLOWED, "Nobody is signed in.")
        elif isinstance(vault, AccessDecision):
            decision = vault
        elif self.pending_change is not None and role is not self.pending_change:
            decision = AccessDecision(AccessCode.NOT_ALLOWED, "Change the factory PIN first.",
                                      role=actor)
        else:
            decision = vault.change(role, new_pin, wall_now_s, by=actor)
        if decision.code is AccessCode.CHANGED and self.pending_change is not None:
            self.role, self.pending_change = self.pending_change, None
        self._last_activity_s = mono_now_s
        self._log(decision, "change", target=role.value)
        return decision

    # ------------------------------------------------------------------ staying and leaving
    def adopt(self, role: Role, mono_now_s: float) -> None:
        """Take ``role`` as signed in without a PIN: the UI's tests of service pages set the
        app's user directly; from then on the idle time and the current rule apply."""
        self.role, self.pending_change = role, None
        self._last_activity_s = mono_now_s

    def touched(self, mono_now_s: float) -> None:
        self._last_activity_s = max(self._last_activity_s, mono_now_s)

    def idle_left_s(self, mono_now_s: float) -> float:
        return max(0.0, self._last_activity_s + self.idle_timeout_s - mono_now_s)

    def tick(self, *, mono_now_s: float, current_flowing: bool) -> ExitCode | None:
        """Called at the poll rate: leave service mode when current may flow or when idle."""
        if not self.active:
            return None
        if current_flowing:
            self.sign_out(ExitCode.CURRENT_FLOWING)
            return ExitCode.CURRENT_FLOWING
        if mono_now_s - self._last_activity_s >= self.idle_timeout_s:
            self.sign_out(ExitCode.IDLE_TIMEOUT)
            return ExitCode.IDLE_TIMEOUT
        return None

    def sign_out(self, code: ExitCode = ExitCode.SIGNED_OUT) -> None:
        if not self.active:
            return
        role = self.role or self.pending_change
        self.role = self.pending_change = None
        texts = {ExitCode.SIGNED_OUT: "Service mode was left.",
                 ExitCode.IDLE_TIMEOUT: "Service mode was left after 3 minutes without a touch.",
                 ExitCode.CURRENT_FLOWING: "Service mode was left: current may flow."}
        self._record(LogEvent(code.value, texts[code],
                              "medium" if code is ExitCode.CURRENT_FLOWING else "info",
                              {"role": None if role is None else role.value}))

    def page_refused(self, page: str) -> None:
        """A page was opened by someone its role does not admit (sent to the PIN pad)."""
        self._record(LogEvent(PAGE_REFUSED, "A service page needs another role's PIN.",
                              "info", {"page": page[:64],
                                       "role": None if self.role is None else self.role.value}))

    # ------------------------------------------------------------------ internals
    def _log(self, decision: AccessDecision, what: str, **details: str) -> None:
        facts: dict[str, object] = {"action": what, **details,
                                    "role": None if decision.role is None
                                    else decision.role.value}
        if decision.code is AccessCode.WRONG:
            facts["wrong_in_row"] = decision.wrong_in_row
        if decision.locked_until_s is not None:
            facts["locked_until_s"] = round(decision.locked_until_s, 3)
        if decision.weakness is not None:
            facts["weakness"] = decision.weakness.value
        durable = decision.code in (AccessCode.LOCKED, AccessCode.CHANGED)
        self._record(LogEvent(decision.code.value, decision.reason,
                              _SEVERITY.get(decision.code, "info"), facts, durable=durable))
