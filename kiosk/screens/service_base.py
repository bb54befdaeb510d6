"""What every service-mode page shares: who is signed in, and which role a page needs.

The service menu (``service``) lists every registered screen that subclasses
:class:`ServicePage`, in ``service_order``, showing only those the signed-in role may open. A
page opened without a signed-in user, or by a role it does not admit, sends the person to the
PIN pad instead of showing anything (``ServicePage.build`` checks it; the menu is a convenience,
not the gate). ``app.service_user`` is set by the PIN screen and cleared when service mode ends
(Home, the idle timeout, or current that starts to flow).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from kiosk.access.pins import Role
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

    @classmethod
    def admits(cls, user: ServiceUser | None) -> bool:
        return user is not None and user.role in cls.service_roles

    @property
    def service_user(self) -> ServiceUser | None:
        user: Any = getattr(self.app, "service_user", None)
        return user if isinstance(user, ServiceUser) else None

    def build(self) -> None:
        if not self.admits(self.service_user):
            self.app.nav.replace("service_pin")
            return
        super().build()
