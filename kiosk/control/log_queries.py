"""Service queries on the event log: a filtered page, one event with its session, the chain
check in steps. The service mode's event log viewer asks these through the control layer,
because on the device the UI process cannot read the daemon's records.

Each handler opens its own read-only connection to the records the control layer writes
(``controller.writer.path``; never the writer's connection, which belongs to its thread), does
one bounded read (a page is ``LIMIT``-ed, a verification step recomputes at most
:data:`VERIFY_ROWS_PER_STEP` rows) and closes it. Every argument is checked; anything else is
refused with ``invalid_query``. Without records (no state folder) or with a database that cannot
be read, the refusal is ``records_unavailable`` with the reason.

Arguments (all optional):

- ``events_page``: ``page`` (0 = newest), ``page_size`` (1-50, default 8), ``kind`` (one of
  :data:`KINDS`), ``severity`` (high, medium, info), ``date_from`` / ``date_to`` (``YYYY-MM-DD``,
  local days, both included), ``session`` (a session id from an event).
- ``event_detail``: ``seq`` (required).
- ``verify_log``: ``next_seq`` and ``previous_hash`` from the previous step's answer (none for
  the first step).
"""

from __future__ import annotations

import contextlib
import datetime
import math
import re
import sqlite3
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from kiosk.control.queries import register_query
from kiosk.control.query_types import INVALID_QUERY, Param, QueryRefused
from kiosk.control.reasons import spec_of
from kiosk.records import reader
from kiosk.records.errors import StorageError
from kiosk.records.events import GENESIS_HASH, EventRow

if TYPE_CHECKING:
    from pathlib import Path

    from kiosk.control.service import Controller

RECORDS_UNAVAILABLE = "records_unavailable"
KINDS = ("fault", "refusal", "decision", "storage", "service", "other")
"""How the viewer groups codes: the control core's own kinds, then the records' and the service
mode's dotted codes (``records.*``, ``storage.*``; ``calibration.*``, ``selftest.*``, ...)."""
SEVERITIES = ("high", "medium", "info")
DEFAULT_PAGE_SIZE = 8
VERIFY_ROWS_PER_STEP = 2000
"""Rows one ``verify_log`` step recomputes (bench/log_queries.py measures a step)."""
MAX_TEXT_ARG = 64
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_STORAGE_PREFIXES = ("records.", "storage.")
_CODE_COUNTS = reader.CodeCounts()  # per database file, brought up to date on each page


def kind_of(code: str, severity: str) -> str:
    """The viewer's kind of an event code (see :data:`KINDS`)."""
    try:
        return str(spec_of(code).kind)
    except (KeyError, ValueError):
        pass
    if code.startswith(_STORAGE_PREFIXES):
        return "storage"
    if code.startswith("shutdown_step_failed."):
        return "fault"
    if "." in code:
        return "service"
    return "fault" if severity == "high" else "other"


# ------------------------------------------------------------------------------- handlers


@register_query("events_page")
def events_page(controller: Controller, args: Mapping[str, Param]) -> dict[str, Any]:
    """One page of the log, newest first, with the filter's total and the kinds present."""
    _only(args, "page", "page_size", "kind", "severity", "date_from", "date_to", "session")
    page = _int(args, "page", 0, 0, 10_000_000)
    page_size = _int(args, "page_size", DEFAULT_PAGE_SIZE, 1, reader.MAX_PAGE_SIZE)
    kind = _choice(args, "kind", KINDS)
    severity = _choice(args, "severity", SEVERITIES)
    wall_from_us = _day_start_us(args, "date_from", 0)
    wall_to_us = _day_start_us(args, "date_to", 1)
    if wall_from_us is not None and wall_to_us is not None and wall_from_us >= wall_to_us:
        raise QueryRefused(INVALID_QUERY, "date_from must not be after date_to")
    session = _text(args, "session")
    with _reading(controller) as (conn, path):
        counts = _CODE_COUNTS.of(conn, path)
        kinds: dict[str, int] = dict.fromkeys(KINDS, 0)
        codes_of: dict[str, list[str]] = {k: [] for k in KINDS}
        for code, count in counts.items():
            grouped = _kind_of_code(code)
            kinds[grouped] += count
            codes_of[grouped].append(code)
        flt = reader.EventFilter(
            codes=None if kind is None else tuple(sorted(codes_of[kind])),
            severities=None if severity is None else (severity,),
            wall_from_us=wall_from_us, wall_to_us=wall_to_us, session_id=session)
        got = reader.page_events(conn, flt, page, page_size)
    return {"rows": [_row_summary(row) for row in got.rows], "total": got.total,
            "page": got.page, "pages": got.pages, "page_size": got.page_size,
            "kinds": kinds, "events_in_log": sum(counts.values())}


@register_query("event_detail")
def event_detail(controller: Controller, args: Mapping[str, Param]) -> dict[str, Any]:
    """One event in full, with the session it belongs to (technical part only)."""
    _only(args, "seq")
    if "seq" not in args:
        raise QueryRefused(INVALID_QUERY, "event_detail needs seq")
    seq = _int(args, "seq", 0, 1, 2**62)
    with _reading(controller) as (conn, _path):
        row = reader.event_at(conn, seq)
        if row is None:
            raise QueryRefused(INVALID_QUERY, f"there is no event {seq}")
        session: dict[str, Any] | None = None
        session_events: dict[str, Any] | None = None
        if row.session_id is not None:
            session = reader.session_for(conn, row.session_id)
            count, first, last, faults = reader.session_events(conn, row.session_id)
            session_events = {"count": count, "first_seq": first, "last_seq": last,
                              "faults": faults}
    detail = _row_summary(row)
    detail.update({"details": _plain(row.details), "mono_s": row.mono_us / 1e6,
                   "boot_id": row.boot_id, "hash": row.hash, "session": session,
                   "session_events": session_events})
    return detail


@register_query("verify_log")
def verify_log(controller: Controller, args: Mapping[str, Param]) -> dict[str, Any]:
    """One step of the chain check; ``done`` with the verdict, else where to continue."""
    _only(args, "next_seq", "previous_hash")
    next_seq = _int(args, "next_seq", 1, 1, 2**62)
    previous_hash = args.get("previous_hash", GENESIS_HASH)
    if not isinstance(previous_hash, str) or not _HEX64.match(previous_hash):
        raise QueryRefused(INVALID_QUERY, "previous_hash must be 64 lower-case hex digits")
    if next_seq == 1 and previous_hash != GENESIS_HASH:
        raise QueryRefused(INVALID_QUERY, "the first step starts from the genesis hash")
    with _reading(controller) as (conn, path):
        step = reader.verify_step(conn, path, reader.ChainCursor(next_seq, previous_hash),
                                  VERIFY_ROWS_PER_STEP)
    answer: dict[str, Any] = {"done": step.done, "next_seq": step.cursor.next_seq,
                              "previous_hash": step.cursor.previous_hash,
                              "rows_checked": step.cursor.rows_checked,
                              "anchor_seq": None if step.anchor is None else step.anchor.seq}
    report = step.report
    if report is not None:
        answer.update({"ok": report.ok, "rows_checked": report.rows_checked,
                       "last_seq": report.last_seq, "first_bad_seq": report.first_bad_seq,
                       "problem": None if report.problem is None else str(report.problem),
                       "message": report.message})
    return answer


# ------------------------------------------------------------------------------- helpers


def _kind_of_code(code: str) -> str:
    # the kind of a code does not depend on the row except for unknown undotted codes, whose
    # rows are grouped as "other" here (a filter by code list cannot split one code)
    return kind_of(code, "info")


def _row_summary(row: EventRow) -> dict[str, Any]:
    return {"seq": row.seq, "wall_s": row.wall_us / 1e6, "code": row.code,
            "severity": row.severity, "kind": _kind_of_code(row.code), "reason": row.reason,
            "session_id": row.session_id}


def _plain(value: Any) -> Any:
    """Details as the socket carries them (they are JSON already: only non-finite floats and
    oversized integers are left to turn into text)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        return str(value)
    return value


@contextlib.contextmanager
def _reading(controller: Controller) -> Iterator[tuple[sqlite3.Connection, Path]]:
    writer = controller.writer
    if writer is None:
        raise QueryRefused(RECORDS_UNAVAILABLE,
                           "this control unit runs without records (no state folder)")
    path = writer.path
    try:
        conn = reader.open_read_only(path)
    except StorageError as error:
        raise QueryRefused(RECORDS_UNAVAILABLE, str(error)) from error
    try:
        yield conn, path
    except (StorageError, sqlite3.Error) as error:
        raise QueryRefused(RECORDS_UNAVAILABLE,
                           f"the records cannot be read: {error}") from error
    finally:
        conn.close()


def _only(args: Mapping[str, Param], *names: str) -> None:
    unknown = sorted(set(args) - set(names))
    if unknown:
        shown = ", ".join(repr(name[:MAX_TEXT_ARG]) for name in unknown[:5])
        raise QueryRefused(INVALID_QUERY, f"unknown argument(s) {shown}; this query takes"
                                          f" {', '.join(names)}")


def _int(args: Mapping[str, Param], name: str, default: int, low: int, high: int) -> int:
    value = args.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or value != int(value):
        raise QueryRefused(INVALID_QUERY, f"{name} must be a whole number")
    number = int(value)
    if not low <= number <= high:
        raise QueryRefused(INVALID_QUERY, f"{name} must be {low} to {high}")
    return number


def _text(args: Mapping[str, Param], name: str) -> str | None:
    value = args.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT_ARG or not value.isprintable():
        raise QueryRefused(INVALID_QUERY,
                           f"{name} must be printable text of at most {MAX_TEXT_ARG} characters")
    return value


def _choice(args: Mapping[str, Param], name: str, allowed: tuple[str, ...]) -> str | None:
    value = _text(args, name)
    if value is not None and value not in allowed:
        raise QueryRefused(INVALID_QUERY, f"{name} must be one of {', '.join(allowed)}")
    return value


def _day_start_us(args: Mapping[str, Param], name: str, plus_days: int) -> int | None:
    """Local midnight of the day ``name`` (plus ``plus_days``) in wall-clock microseconds."""
    value = _text(args, name)
    if value is None:
        return None
    if not _DATE.match(value):
        raise QueryRefused(INVALID_QUERY, f"{name} must be a date YYYY-MM-DD")
    try:
        day = datetime.date.fromisoformat(value) + datetime.timedelta(days=plus_days)
        midnight = datetime.datetime.combine(day, datetime.time())
        return round(midnight.timestamp() * 1_000_000)
    except (ValueError, OverflowError, OSError) as error:
        raise QueryRefused(INVALID_QUERY, f"{name} is not a date: {value}") from error
