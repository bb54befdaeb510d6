"""Reading the event log for the service mode: filtered pages, one event, its session, and a
chain check in bounded steps. Read-only by construction; never the writer's connection.

Who calls it: the control layer's service queries (``kiosk.control.log_queries``), on the
caller's thread (the daemon's socket thread, or the UI thread in-process). Each call opens its
own read-only connection (:func:`open_read_only`, SQLite's ``mode=ro``: WAL readers never block
the writer), does one short read transaction and closes it, so no connection crosses threads.

Bounded work per call, because the daemon answers every client from one socket thread and a
long call would hold back the snapshots the UI lives on:

- a page is one ``LIMIT``/``OFFSET`` query, newest first, at most :data:`MAX_PAGE_SIZE` rows;
- the chain check (:func:`verify_step`) recomputes at most ``max_rows`` rows per call and hands
  back a :class:`ChainCursor` to continue from; the last step compares the head and the anchor
  outside the database (``anchor.py``). Chained steps reach the same verdict as
  :func:`kiosk.records.events.verify_chain` on the same file (a test checks it for every step
  size).

Privacy: the session shown with a fault is the technical part of the session record (program,
times, how it ended); never the client id, the name or a screening answer.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from kiosk.records import anchor as chain_anchor
from kiosk.records.errors import StorageMissingError, storage_error_from
from kiosk.records.events import (
    GENESIS_HASH,
    ChainProblem,
    ChainReport,
    EventRow,
    canonical_row,
    chain_hash,
)

MAX_PAGE_SIZE = 50
DEFAULT_VERIFY_ROWS = 2000
_COLUMNS = ("seq, wall_us, mono_us, code, severity, reason, details, session_id, boot_id,"
            " hash")
SESSION_FIELDS = ("status", "started_wall_us", "ended_wall_us", "area", "indication",
                  "program_id", "program_version", "active", "polarity", "electrode_id",
                  "target_current_ma", "mean_current_ma", "peak_current_ma", "dose_ma_min",
                  "current_stage_s", "faults", "stop_reason", "operator")
"""What the service mode sees of a session next to its faults (no client, no screening)."""


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events a page shows; None means "any". Times are wall-clock microseconds,
    ``wall_from_us`` included, ``wall_to_us`` excluded."""

    codes: tuple[str, ...] | None = None
    severities: tuple[str, ...] | None = None
    wall_from_us: int | None = None
    wall_to_us: int | None = None
    session_id: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.codes is not None:
            if not self.codes:
                clauses.append("0")  # a kind with no codes in this log matches nothing
            else:
                clauses.append(f"code IN ({', '.join('?' * len(self.codes))})")
                params.extend(self.codes)
        if self.severities is not None:
            clauses.append(f"severity IN ({', '.join('?' * len(self.severities))})")
            params.extend(self.severities)
        if self.wall_from_us is not None:
            clauses.append("wall_us >= ?")
            params.append(self.wall_from_us)
        if self.wall_to_us is not None:
            clauses.append("wall_us < ?")
            params.append(self.wall_to_us)
        if self.session_id is not None:
            clauses.append("session_id = ?")
            params.append(self.session_id)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


@dataclass(frozen=True, slots=True)
class EventPage:
    """Rows of one page (newest first), the filter's total and the page's place."""

    rows: tuple[EventRow, ...]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def open_read_only(db_path: Path | str, busy_timeout_s: float = 1.0) -> sqlite3.Connection:
    """A read-only connection to the records database (``query_only``, autocommit); a
    StorageError naming the file when it cannot be opened. Never creates a file."""
    path = Path(db_path)
    if not path.exists():
        raise StorageMissingError(f"There is no records database at {path}.", path)
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout_s, isolation_level=None,
                               check_same_thread=True)
        conn.execute("PRAGMA query_only = ON")
    except sqlite3.Error as exc:
        raise storage_error_from(exc, path, "opening read-only") from exc
    return conn


class CodeCounts:
    """Every code in the log with how often (the kind filter's code lists and counts), kept
    per database file and brought up to date with the rows after the last one counted: the
    log is append-only, so only the new rows are scanned (a range of the primary key). A log
    whose newest row is older than the one counted (a replaced or cut file) is counted again
    from scratch. Thread-safe; one instance serves every query thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[str, tuple[int, dict[str, int]]] = {}

    def of(self, conn: sqlite3.Connection, db_path: Path | str) -> dict[str, int]:
        key = str(Path(db_path).resolve())
        conn.execute("BEGIN")
        try:
            newest = int(conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])
            with self._lock:
                counted, counts = self._known.get(key, (0, {}))
            if newest < counted:
                counted, counts = 0, {}
            counts = dict(counts)
            for code, count in conn.execute(
                    "SELECT code, count(*) FROM events WHERE seq > ? AND seq <= ? GROUP BY code",
                    (counted, newest)):
                counts[str(code)] = counts.get(str(code), 0) + int(count)
        finally:
            conn.execute("COMMIT")
        with self._lock:
            self._known[key] = (newest, counts)
        return dict(counts)


def code_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Every code present in the log with how often, counted now (a full scan)."""
    return {str(code): int(count) for code, count in
            conn.execute("SELECT code, count(*) FROM events GROUP BY code")}


def page_events(conn: sqlite3.Connection, flt: EventFilter, page: int,
                page_size: int) -> EventPage:
    """Page ``page`` (0 = newest) of the events ``flt`` lets through, newest first; a page
    past the end gives the last page."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be 1 to {MAX_PAGE_SIZE}")
    if page < 0:
        raise ValueError("page must be >= 0")
    where, params = flt.where()
    conn.execute("BEGIN")
    try:
        total = int(conn.execute(f"SELECT count(*) FROM events{where}", params).fetchone()[0])
        last_page = max(0, -(-total // page_size) - 1)
        page = min(page, last_page)
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM events{where} ORDER BY seq DESC LIMIT ? OFFSET ?",
            [*params, page_size, page * page_size]).fetchall()
    finally:
        conn.execute("COMMIT")
    return EventPage(tuple(_row(values) for values in rows), total, page, page_size)


def event_at(conn: sqlite3.Connection, seq: int) -> EventRow | None:
    values = conn.execute(f"SELECT {_COLUMNS} FROM events WHERE seq = ?", (seq,)).fetchone()
    return None if values is None else _row(values)


def session_for(conn: sqlite3.Connection, control_session_id: str) -> dict[str, Any] | None:
    """The technical part of the session whose control session id (or own id) this is.

    Events carry the control core's session id; the session record keeps it in
    ``control_session_id`` (schema v3). None when no session record names it (a session run
    without the UI's records, or one from before v3)."""
    columns = ", ".join(("session_id", *SESSION_FIELDS))
    values = conn.execute(
        f"SELECT {columns} FROM sessions WHERE control_session_id = ? OR session_id = ?"
        " ORDER BY started_wall_us DESC LIMIT 1",
        (control_session_id, control_session_id)).fetchone()
    if values is None:
        return None
    return dict(zip(("session_id", *SESSION_FIELDS), values, strict=True))


def session_events(conn: sqlite3.Connection, session_id: str) -> tuple[int, int | None,
                                                                         int | None, int]:
    """(events, first seq, last seq, faults) logged under ``session_id``."""
    count, first, last, faults = conn.execute(
        "SELECT count(*), min(seq), max(seq), sum(severity = 'high') FROM events"
        " WHERE session_id = ?", (session_id,)).fetchone()
    return int(count), first, last, int(faults or 0)


# ------------------------------------------------------------------------- chain in steps


@dataclass(frozen=True, slots=True)
class ChainCursor:
    """Where a stepwise chain check stands: the next sequence number and the hash before it."""

    next_seq: int = 1
    previous_hash: str = GENESIS_HASH

    @property
    def rows_checked(self) -> int:
        return self.next_seq - 1


@dataclass(frozen=True, slots=True)
class VerifyStep:
    """One step: ``report`` when the check is finished (intact or not), else ``cursor`` to
    continue from."""

    cursor: ChainCursor
    report: ChainReport | None
    anchor: chain_anchor.Anchor | None

    @property
    def done(self) -> bool:
        return self.report is not None


def verify_step(conn: sqlite3.Connection, db_path: Path | str, cursor: ChainCursor,
                max_rows: int = DEFAULT_VERIFY_ROWS) -> VerifyStep:
    """Recompute up to ``max_rows`` rows from ``cursor``; at the end, the head and the anchor.

    The anchor file is read before each step's read transaction: the writer records an anchor
    only after its commit, so the anchored row is always in what this step sees. An unreadable
    anchor file raises StorageAnchorError (the caller says so; it is evidence, not an error to
    hide).
    """
    if max_rows < 1:
        raise ValueError("max_rows must be >= 1")
    found = chain_anchor.read(chain_anchor.anchor_path(db_path))
    expected = cursor.next_seq
    previous = cursor.previous_hash
    conn.execute("BEGIN")
    try:
        rows = [_row(values) for values in conn.execute(
            f"SELECT {_COLUMNS} FROM events WHERE seq >= ? ORDER BY seq LIMIT ?",
            (expected, max_rows))]
        if expected > 1 and not _continues(conn, expected - 1, previous):
            return VerifyStep(cursor, _bad(expected - 1, expected - 1, previous, expected - 1,
                                           ChainProblem.ALTERED,
                                           f"event {expected - 1} changed while the log was"
                                           " being checked"), found)
        for row in rows:
            if row.seq != expected:
                return VerifyStep(cursor, _bad(expected - 1, expected - 1, previous, expected,
                                               ChainProblem.MISSING,
                                               f"event {expected} is missing (deleted): the"
                                               f" log jumps from {expected - 1} to {row.seq}"),
                                  found)
            if chain_hash(previous, canonical_row(row.seq, row, row.boot_id)) != row.hash:
                return VerifyStep(cursor, _bad(expected - 1, row.seq - 1, previous, row.seq,
                                               ChainProblem.ALTERED,
                                               f"event {row.seq} was altered: it does not"
                                               " match its hash or the event before it"), found)
            if found is not None and found.seq == row.seq and row.hash != found.hash:
                return VerifyStep(cursor, _bad(expected - 1, row.seq - 1, previous, row.seq,
                                               ChainProblem.ANCHOR_MISMATCH,
                                               f"event {row.seq} differs from the one recorded"
                                               " earlier: the log was rewritten from there on"),
                                  found)
            previous = row.hash
            expected += 1
        cursor = ChainCursor(expected, previous)
        if len(rows) == max_rows:
            return VerifyStep(cursor, None, found)
        head_row = conn.execute("SELECT seq, hash FROM chain_head WHERE id = 1").fetchone()
        anchored_hash = None
        if found is not None and found.seq > 0:
            hit = conn.execute("SELECT hash FROM events WHERE seq = ?", (found.seq,)).fetchone()
            anchored_hash = None if hit is None else str(hit[0])
    finally:
        conn.execute("COMMIT")
    last = expected - 1
    head_seq, head_hash = (0, GENESIS_HASH) if head_row is None else (int(head_row[0]),
                                                                      str(head_row[1]))
    checked = last
    if head_seq > last:
        report = _bad(checked, last, previous, last + 1, ChainProblem.TRUNCATED,
                      f"events {last + 1} to {head_seq} are missing (the newest were cut off)")
    elif head_seq < last:
        report = _bad(checked, last, previous, head_seq + 1, ChainProblem.ALTERED,
                      f"events {head_seq + 1} to {last} were added outside the log writer")
    elif head_hash != previous:
        report = _bad(checked, last, previous, last, ChainProblem.ALTERED,
                      f"the recorded head does not match event {last}")
    elif found is not None and found.seq > last:
        report = _bad(checked, last, previous, last + 1, ChainProblem.TRUNCATED,
                      f"event {found.seq}, recorded earlier, is no longer in the log")
    elif found is not None and found.seq > 0 and anchored_hash != found.hash:
        report = _bad(checked, found.seq - 1, previous, found.seq, ChainProblem.ANCHOR_MISMATCH,
                      f"event {found.seq} differs from the one recorded earlier: the log was"
                      " rewritten from there on")
    else:
        report = ChainReport(ok=True, rows_checked=checked, last_seq=last, last_hash=previous)
    return VerifyStep(cursor, report, found)


def verify_all(conn: sqlite3.Connection, db_path: Path | str,
               max_rows: int = DEFAULT_VERIFY_ROWS) -> tuple[ChainReport,
                                                             chain_anchor.Anchor | None]:
    """Every step in a row (tests, exports); the service screen steps itself."""
    cursor = ChainCursor()
    while True:
        step = verify_step(conn, db_path, cursor, max_rows)
        if step.report is not None:
            return step.report, step.anchor
        cursor = step.cursor


def _continues(conn: sqlite3.Connection, seq: int, expected_hash: str) -> bool:
    """The row a cursor stopped after still carries the hash the cursor saw."""
    hit = conn.execute("SELECT hash FROM events WHERE seq = ?", (seq,)).fetchone()
    return hit is not None and str(hit[0]) == expected_hash


def _bad(checked: int, last_seq: int, last_hash: str, first_bad: int, problem: ChainProblem,
         message: str) -> ChainReport:
    return ChainReport(ok=False, rows_checked=checked, last_seq=last_seq, last_hash=last_hash,
                       first_bad_seq=first_bad, problem=problem, message=message)


def _row(values: Sequence[Any]) -> EventRow:
    return EventRow(int(values[0]), int(values[1]), int(values[2]), str(values[3]),
                    str(values[4]), str(values[5]), str(values[6]), values[7], values[8],
                    str(values[9]))
