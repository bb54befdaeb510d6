"""What every service-mode page shares: who is signed in, and which role a page needs.

The service menu (``service``) lists every registered screen that subclasses
:class:`ServicePage`, in ``service_order``, showing only those the signed-in role may open. A
page opened without a signed-in user, or by a role it does not admit, sends the person to the
PIN pad instead of showing anything (``ServicePage.build`` checks it; the menu is a convenience,
not the gate). The app shows no part of a page that redirected while it was being built
(``KioskApp._show`` checks the back stack after ``build``). ``app.service_user`` is set by the PIN
screen (:func:`sign_in`) and cleared when service mode ends (:func:`leave`: the menu's "Leave
service", the idle timeout, or current that starts to flow, both in :func:`tick`).

The rules themselves (lock-out, refusal while current flows, idle time) are in
:mod:`kiosk.access.service_access`; this module only keeps the app's screens in step with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from kiosk.access.pins import AccessCode, AccessDecision, Role
from kiosk.access.service_access import ExitCode
from kiosk.screens.base import KioskScreen


@dataclass(frozen=True, slots=True)
class ServiceUser:
    """The person in service mode: a name for the logs (who calibrated, who changed a limit)
    and the role the PIN proved."""

    name: str
    role: Role


class ServicePage(KioskScreen):
    """A page of the service mode. Subclasses set ``name`` (``service_...``), ``service_roles``
    (who may open it) and ``service_order`` (its place in the menu)."""

    service_roles: ClassVar[tuple[Role, ...]] = (Role.TECHNICIAN,)
    service_order: ClassVar[int] = 100
    in_menu: ClassVar[bool] = True  # the menu itself says False

    def busy(self) -> bool:
        """True while the page runs something the technician watches without touching (a
        self-test step, an export): the idle timeout waits. Override where it applies."""
        return False

    @classmethod
    def admits(cls, user: ServiceUser | None) -> bool:
        return user is not None and user.role in cls.service_roles

    @property
    def service_user(self) -> ServiceUser | None:
        user: Any = getattr(self.app, "service_user", None)
        return user if isinstance(user, ServiceUser) else None

    def build(self) -> None:
        if not self.admits(self.service_user):
            access = getattr(self.app, "service_access", None)
            if access is not None:
                access.page_refused(self.name)
            self.app.nav.replace("service_pin", refused_page=self.name)
            return
        super().build()


def user_for(role: Role) -> ServiceUser:
    return ServiceUser(name=role.value, role=role)


def sign_in(app: Any, pin: str) -> AccessDecision:
    """One PIN attempt: on success the app's ``service_user`` is set (or, for the factory PIN,
    only the forced change is open)."""
    decision: AccessDecision = app.service_access.attempt(
        pin, wall_now_s=app.wall_now_s(), mono_now_s=app.now_s(),
        current_flowing=app.current_may_flow())
    role = app.service_access.role
    app.service_user = None if role is None else user_for(role)
    return decision


def change_pin(app: Any, role: Role, new_pin: str) -> AccessDecision:
    decision: AccessDecision = app.service_access.change_pin(
        role, new_pin, wall_now_s=app.wall_now_s(), mono_now_s=app.now_s())
    if decision.code is AccessCode.CHANGED and app.service_access.role is not None:
        app.service_user = user_for(app.service_access.role)
    return decision


def leave(app: Any, code: ExitCode = ExitCode.SIGNED_OUT) -> None:
    """End service mode and go home."""
    app.service_access.sign_out(code)
    was_in = app.service_user is not None
    app.service_user = None
    if was_in or _on_service_screen(app):
        app.nav.reset("home")


def tick(app: Any) -> None:
    """At the poll rate: service mode ends at once when current may flow, and after the idle
    time without a touch; either way the screen goes home."""
    access = _synced_access(app)
    screen = getattr(app, "screen", None)
    if isinstance(screen, ServicePage) and screen.busy():
        access.touched(app.now_s())  # a procedure the technician watches is not idleness
    # a treatment that may drive current ends service mode; the calibration or self-test
    # current that the page itself drives with the treatment idle does not
    if access.tick(mono_now_s=app.now_s(), current_flowing=app.treatment_may_drive()) is not None:
        app.service_user = None
        if _on_service_screen(app):
            app.nav.reset("home")


def shown(app: Any, name: str) -> None:
    """Called by the app whenever a screen is shown: home, by whatever way, ends service
    mode."""
    if name == "home" and (app.service_access.active or app.service_user is not None):
        _synced_access(app).sign_out()
        app.service_user = None


def _synced_access(app: Any) -> Any:
    """The app's access, holding the role of ``app.service_user`` when that was set from
    outside (a page's test sets it directly): the same rules apply to it."""
    access = app.service_access
    user = app.service_user
    if isinstance(user, ServiceUser) and access.role is not user.role:
        access.adopt(user.role, app.now_s())
    return access


def _on_service_screen(app: Any) -> bool:
    current = app.nav.current
    return isinstance(getattr(app, "screen", None), ServicePage) or (
        current is not None and current.name.startswith("service"))
