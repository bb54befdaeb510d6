"""Getting into service mode in the UI tests: a provisioned PIN vault and real taps on the pad."""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher

from kiosk.access.pins import PinVault, Role

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # tests only: same algorithm
FACTORY_PIN = "905183"
TECHNICIAN_PIN = "482917"
MANAGER_PIN = "730415"


def provision(k: Any, pin: str = FACTORY_PIN) -> PinVault:
    """What the first boot does, into the kiosk's own state folder (a known PIN)."""
    vault, _pin = PinVault.provision(k.app.service_access.vault_path, k.app.wall_now_s(),
                                     hasher=FAST, pin=pin)
    return vault


def type_pin(k: Any, pin: str) -> None:
    for digit in pin:
        k.tap(f"pin_{digit}")
    k.tap("pin_ok")


def enter_as_technician(k: Any, *, screenshots: str | None = None) -> None:
    """Provision, type the factory PIN, choose the technician PIN: the service menu."""
    provision(k)
    k.app.nav.go("service_pin")
    type_pin(k, FACTORY_PIN)
    assert k.screen == "service_pin_change", k.text("pin_message")
    if screenshots:
        k.screenshot(f"{screenshots}_forced_change")
    type_pin(k, TECHNICIAN_PIN)
    type_pin(k, TECHNICIAN_PIN)
    assert k.screen == "service", k.text("pin_message")
    assert k.app.service_user.role is Role.TECHNICIAN


def set_manager_pin(k: Any) -> None:
    """As the technician: the manager's PIN, through the PIN change page."""
    k.tap("menu_service_pin_change")
    k.tap("pin_role_manager")
    type_pin(k, MANAGER_PIN)
    type_pin(k, MANAGER_PIN)
    assert k.text("pin_message") == "The PIN was changed: Salon manager."
    k.app.nav.back()
