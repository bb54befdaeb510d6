"""Screens by name and an explicit back stack (KlipperScreen's idea).

A screen is one module in :mod:`kiosk.screens` that decorates its class with :func:`register`;
:func:`discover` imports every module of the package, so adding a screen touches nothing else.
The :class:`Navigator` keeps the stack of (name, params) the beautician walked through: "Back"
pops it, "Home" clears it. Screens are built fresh on every visit from the flow state the app
keeps, so coming back lands where she left (timers live in the flow, not in the widgets).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SCREENS: dict[str, type] = {}

# Modules of the package that are not screens (imported on their own by those that need them).
_NOT_SCREENS = {"registry", "base", "theme", "widgets", "flow", "plot", "placement",
                "fault_overlay", "dev_menu", "texts", "catalogue_view", "service_base"}


def register(cls: type) -> type:
    """Class decorator: make the screen reachable by its ``name``."""
    name = getattr(cls, "name", "")
    if not name:
        raise ValueError(f"{cls.__qualname__} has no screen name")
    if name in SCREENS and SCREENS[name] is not cls:
        raise ValueError(f"two screens are called {name!r}: {SCREENS[name]} and {cls}")
    SCREENS[name] = cls
    return cls


def discover() -> dict[str, type]:
    """Import every screen module of :mod:`kiosk.screens` and return the registry."""
    import kiosk.screens as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in _NOT_SCREENS and not module.name.startswith("_"):
            importlib.import_module(f"{package.__name__}.{module.name}")
    return SCREENS


@dataclass(frozen=True)
class Visit:
    name: str
    params: dict[str, Any] = field(default_factory=dict)


class Navigator:
    """The back stack. ``show(visit)`` builds and shows the screen of a visit (given by the app)."""

    def __init__(self, show: Callable[[Visit], None]) -> None:
        self._show = show
        self._stack: list[Visit] = []

    @property
    def current(self) -> Visit | None:
        return self._stack[-1] if self._stack else None

    @property
    def stack(self) -> tuple[str, ...]:
        return tuple(visit.name for visit in self._stack)

    def go(self, name: str, **params: Any) -> None:
        """Open ``name`` on top of the current screen (Back returns here)."""
        if name not in SCREENS:
            raise KeyError(f"no screen called {name!r}; known: {', '.join(sorted(SCREENS))}")
        self._stack.append(Visit(name, dict(params)))
        self._show(self._stack[-1])

    def replace(self, name: str, **params: Any) -> None:
        """Open ``name`` in place of the current screen (Back skips the current one)."""
        if self._stack:
            self._stack.pop()
        self.go(name, **params)

    def back(self) -> None:
        """Return to the previous screen; at the root, stay."""
        if len(self._stack) > 1:
            self._stack.pop()
        if self._stack:
            self._show(self._stack[-1])

    def back_to(self, name: str) -> None:
        """Pop until ``name`` is on top (it must be on the stack)."""
        if name not in self.stack:
            raise KeyError(f"{name!r} is not on the back stack {self.stack}")
        while self._stack[-1].name != name:
            self._stack.pop()
        self._show(self._stack[-1])

    def reset(self, name: str, **params: Any) -> None:
        """Clear the stack and open ``name`` as its root (the end of a treatment, home)."""
        self._stack.clear()
        self.go(name, **params)

    def redisplay(self) -> None:
        """Build the current screen again (after a language switch)."""
        if self._stack:
            self._show(self._stack[-1])
