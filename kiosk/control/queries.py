"""Service queries by name: one registry, answered in-process and by the daemon alike.

A module that can answer a question registers a handler::

    @register_query("calibration")
    def calibration(controller: Controller, args: Mapping[str, Param]) -> dict[str, Any]:
        ...

The handler gets the in-process :class:`kiosk.control.service.Controller` (board, core, loop,
writer, catalogue) and the query's arguments, and returns a dict of plain values (str, int,
float, bool, None, lists and dicts of them: what the socket can carry). It raises
:class:`QueryRefused` for arguments it cannot take, never anything else. Handlers run on the
caller's thread (the UI thread in-process, the daemon's socket thread), so they must be quick
and must not touch the I2C bus: what they report comes from the snapshot, the records or
state that the control thread already published.

Handler modules are imported by :func:`load_handlers` (the list below), so the registry is the
same in every process without import-order surprises.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from kiosk.control.query_types import INVALID_QUERY, UNKNOWN_QUERY, Param, QueryRefused

if TYPE_CHECKING:
    from kiosk.control.service import Controller

Handler = Callable[["Controller", Mapping[str, Param]], dict[str, Any]]

HANDLERS: dict[str, Handler] = {}

HANDLER_MODULES: tuple[str, ...] = (
    "kiosk.control.info_queries",
    "kiosk.control.log_queries",
    "kiosk.control.device_record",
    "kiosk.control.selftest.queries",
    "kiosk.control.settings_queries",
    "kiosk.control.progress_queries",
)
"""Modules that register query handlers (imported once by :func:`load_handlers`)."""

__all__ = ["HANDLERS", "INVALID_QUERY", "QueryRefused", "answer", "load_handlers",
           "register_query"]


def register_query(name: str) -> Callable[[Handler], Handler]:
    """Decorator: ``handler`` answers the query ``name`` (one handler per name)."""

    def decorate(handler: Handler) -> Handler:
        existing = HANDLERS.get(name)
        if existing is not None and existing is not handler:
            raise ValueError(f"two handlers for the query {name!r}")
        HANDLERS[name] = handler
        return handler

    return decorate


def load_handlers() -> None:
    for module in HANDLER_MODULES:
        importlib.import_module(module)


def names() -> tuple[str, ...]:
    load_handlers()
    return tuple(sorted(HANDLERS))


def answer(controller: Controller, what: str, args: Mapping[str, Param]) -> dict[str, Any]:
    """The answer of the query ``what``; :class:`QueryRefused` when nobody answers it."""
    load_handlers()
    handler = HANDLERS.get(what)
    if handler is None:
        raise QueryRefused(UNKNOWN_QUERY,
                           f"no query {what!r}; queries: {', '.join(sorted(HANDLERS)) or '-'}")
    return handler(controller, args)
