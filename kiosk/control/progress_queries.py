"""The service query ``session_progress``: the last durable dose figure of one control session.

Why: the dose budget is per client, area and day (SR-053), and the dose of a session cut by a
crash is the last durable ``dose_progress`` event of its control session (SR-059). Those events
are written by the control layer into ITS records; when the UI keeps its records elsewhere (the
UI as a client of ``kiosk-control`` with a records database of its own), the UI asks here
instead of finding nothing and counting nothing (SR-180).

Argument: ``session_id``, the control session id (``StartTreatment.session_id``): text of 1 to
128 printable characters, the control core's own rule for it; anything else, a missing one or
another argument is refused with ``invalid_query``. Answer: ``{"session_id": ..., "progress":
None | {"dose_ma_min", "elapsed_s", "peak_ma", "wall_s", "seq"}}``: the newest progress event of
that session with a valid dose (:func:`kiosk.records.sessions.last_progress`: junk figures are
skipped), or None when there is none (the session never ran current, or it is unknown here).
Without records, or with a database that cannot be read, the refusal is
``records_unavailable``. One short read on a read-only connection of its own (never the
writer's), opened and closed per query.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kiosk.control.log_queries import RECORDS_UNAVAILABLE
from kiosk.control.queries import register_query
from kiosk.control.query_types import INVALID_QUERY, Param, QueryRefused
from kiosk.control.validation import MAX_TEXT_CHARS
from kiosk.records import reader
from kiosk.records.errors import StorageError
from kiosk.records.sessions import last_progress

if TYPE_CHECKING:
    from kiosk.control.service import Controller

QUERY = "session_progress"


@register_query(QUERY)
def session_progress(controller: Controller, args: Mapping[str, Param]) -> dict[str, Any]:
    """The last durable progress figure of the control session ``session_id`` (or None)."""
    session_id = _session_id(args)
    writer = controller.writer
    if writer is None:
        raise QueryRefused(RECORDS_UNAVAILABLE,
                           "this control unit runs without records (no state folder)")
    try:
        conn = reader.open_read_only(writer.path)
    except StorageError as error:
        raise QueryRefused(RECORDS_UNAVAILABLE, str(error)) from error
    try:
        found = last_progress(conn, session_id)
    except (StorageError, sqlite3.Error) as error:
        raise QueryRefused(RECORDS_UNAVAILABLE,
                           f"the records cannot be read: {error}") from error
    finally:
        conn.close()
    progress = None if found is None else {
        "dose_ma_min": found.dose_ma_min, "elapsed_s": found.elapsed_s,
        "peak_ma": found.peak_ma, "wall_s": found.wall_us / 1e6, "seq": found.seq}
    return {"session_id": session_id, "progress": progress}


def _session_id(args: Mapping[str, Param]) -> str:
    unknown = sorted(str(name)[:40] for name in args if name != "session_id")
    if unknown:
        shown = ", ".join(map(repr, unknown[:5]))
        raise QueryRefused(INVALID_QUERY,
                           f"unknown argument(s) {shown}; {QUERY} takes session_id")
    if "session_id" not in args:
        raise QueryRefused(INVALID_QUERY, f"{QUERY} needs session_id")
    value = args["session_id"]
    if type(value) is not str:
        raise QueryRefused(INVALID_QUERY,
                           f"session_id must be text, not {type(value).__name__[:40]}")
    if not 1 <= len(value) <= MAX_TEXT_CHARS or not value.isprintable():
        raise QueryRefused(INVALID_QUERY,
                           f"session_id must be 1 to {MAX_TEXT_CHARS} printable characters")
    return value
