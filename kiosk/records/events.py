"""The technical event log: append-only rows chained by SHA-256, and the check that proves it.

Each row stores ``hash = SHA-256(previous row's hash + canonical content of this row)``, the first
row chaining to :data:`GENESIS_HASH`; ``chain_head`` holds the last sequence number and hash,
updated in the same transaction as the rows. :func:`verify_chain` recomputes everything and names
the first sequence number that is missing, altered or out of place, and notices a cut-off tail.

What it protects against: a row deleted, edited or reordered by hand or by a damaged file. What
it does not: someone who rewrites every later hash too (the key would live on the same device);
the chain head printed in every export is the outside anchor for that (``verify_chain(anchor=)``).

Privacy rule: events are technical and anonymous. They carry an opaque session id at most,
never a client id, a name or a screening answer, so that erasing a client (``clients.py``) never
has to touch a hashed row and the log stays verifiable for the lifetime of the device.

The functions that build rows are pure (times passed in) and never raise on odd details: the
control core logs from its fault paths, where a NaN current is exactly what needs recording.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

GENESIS_HASH = "0" * 64
SEVERITIES = frozenset({"high", "medium", "info"})
MAX_DETAILS_CHARS = 4000  # one event must never be able to fill the disk
MAX_TEXT_CHARS = 500
DOSE_PROGRESS_CODE = "dose_progress"  # the control core's durable progress (session id, dose)
# Codes that are safety events whatever their severity: the interrupted session's dose is read
# from the last durable dose_progress (H-16), so it must be fsynced like a fault.
ALWAYS_DURABLE_CODES = frozenset({DOSE_PROGRESS_CODE})


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One thing the device did or decided, as a plain value (no import of the control core).

    ``code`` and ``reason`` come from the control core's decision codes, ``severity`` is one of
    ``high``/``medium``/``info``. ``durable`` marks safety events (acknowledgements, calibration
    and limit changes); every ``high`` event (a fault) is durable too. Times left as None are
    stamped when the event is posted.
    """

    code: str
    reason: str
    severity: str = "info"
    details: Mapping[str, Any] = field(default_factory=dict)
    session_id: str | None = None
    durable: bool = False
    mono_s: float | None = None
    wall_s: float | None = None

    @property
    def is_safety_event(self) -> bool:
        """Must be on disk before anyone is told it was recorded."""
        return self.durable or self.severity == "high" or self.code in ALWAYS_DURABLE_CODES


@dataclass(frozen=True, slots=True)
class StampedEvent:
    """A :class:`LogEvent` frozen into what will be hashed: integer times, canonical details."""

    wall_us: int
    mono_us: int
    code: str
    severity: str
    reason: str
    details_json: str
    session_id: str | None
    durable: bool


@dataclass(frozen=True, slots=True)
class EventRow:
    """A stored row. ``boot_id`` is None for rows written before schema v2."""

    seq: int
    wall_us: int
    mono_us: int
    code: str
    severity: str
    reason: str
    details_json: str
    session_id: str | None
    boot_id: str | None
    hash: str

    @property
    def details(self) -> dict[str, Any]:
        value = json.loads(self.details_json)
        return value if isinstance(value, dict) else {"value": value}


def stamp(event: LogEvent, mono_now_s: float, wall_now_s: float) -> StampedEvent:
    """Freeze an event (copying its details) with the times it happened; never raises."""
    mono_s = event.mono_s if event.mono_s is not None else mono_now_s
    wall_s = event.wall_s if event.wall_s is not None else wall_now_s
    severity = str(event.severity)
    return StampedEvent(
        wall_us=_to_us(wall_s),
        mono_us=_to_us(mono_s),
        code=_clip(str(event.code) or "unknown", 64),
        severity=severity if severity in SEVERITIES else "info",
        reason=_clip(str(event.reason), MAX_TEXT_CHARS),
        details_json=canonical_details(event.details),
        session_id=None if event.session_id is None else _clip(str(event.session_id), 64),
        durable=event.is_safety_event,
    )


def canonical_details(details: Mapping[str, Any] | None) -> str:
    """Details as canonical JSON (sorted keys, no spaces, UTF-8); never raises.

    Non-finite floats become strings ("nan", "inf"), keys become strings, unknown objects their
    ``str``; an oversized result is replaced by a marked prefix.
    """
    try:
        text = json.dumps(json_safe(details or {}), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        text = json.dumps({"unloggable_details": type(exc).__name__})
    if len(text) > MAX_DETAILS_CHARS:
        text = json.dumps({"truncated": True, "prefix": text[: MAX_DETAILS_CHARS // 2]},
                          sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text


def canonical_row(seq: int, event: StampedEvent | EventRow, boot_id: str | None) -> bytes:
    """The bytes a row's hash covers. A None field is left out, so adding a nullable column in
    a later schema version keeps the hashes of older rows valid."""
    content: dict[str, Any] = {
        "seq": seq,
        "wall_us": event.wall_us,
        "mono_us": event.mono_us,
        "code": event.code,
        "severity": event.severity,
        "reason": event.reason,
        "details": event.details_json,
        "session_id": event.session_id,
        "boot_id": boot_id,
    }
    present = {key: value for key, value in content.items() if value is not None}
    return json.dumps(present, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def chain_hash(previous_hash: str, canonical: bytes) -> str:
    """SHA-256 over the previous row's hash (hex, ASCII) followed by this row's content."""
    return hashlib.sha256(previous_hash.encode("ascii") + canonical).hexdigest()


def append_events(conn: sqlite3.Connection, events: Sequence[StampedEvent],
                  boot_id: str | None, pause: Callable[[], None] | None = None,
                  pause_every: int = 16) -> int:
    """Append ``events`` in order; returns the last sequence number (0 if the log is empty).

    Must run inside a write transaction (``BEGIN IMMEDIATE``) so that reading the head and
    extending it cannot interleave with another connection doing the same. ``pause`` is called
    every ``pause_every`` rows: the writer thread passes ``time.sleep(0)`` there so that hashing
    a large batch never holds the GIL for long against the control thread.
    """
    if not conn.in_transaction:
        raise RuntimeError("append_events needs an open write transaction")
    seq, previous = head(conn)
    rows = []
    for index, event in enumerate(events):
        if pause is not None and index and index % pause_every == 0:
            pause()
        seq += 1
        previous = chain_hash(previous, canonical_row(seq, event, boot_id))
        rows.append((seq, event.wall_us, event.mono_us, event.code, event.severity,
                     event.reason, event.details_json, event.session_id, boot_id, previous))
    if rows:
        conn.executemany(
            "INSERT INTO events (seq, wall_us, mono_us, code, severity, reason, details,"
            " session_id, boot_id, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        conn.execute("UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1", (seq, previous))
    return seq


def head(conn: sqlite3.Connection) -> tuple[int, str]:
    """(last sequence number, its hash) as recorded in ``chain_head``."""
    row = conn.execute("SELECT seq, hash FROM chain_head WHERE id = 1").fetchone()
    if row is None:
        return 0, GENESIS_HASH
    return int(row[0]), str(row[1])


_ROW_COLUMNS = ("seq, wall_us, mono_us, code, severity, reason, details, session_id, boot_id,"
                " hash")


def read_events(conn: sqlite3.Connection, after_seq: int = 0,
                limit: int | None = None) -> list[EventRow]:
    """Rows with ``seq > after_seq`` in order (the service mode's log viewer pages with this)."""
    sql = f"SELECT {_ROW_COLUMNS} FROM events WHERE seq > ? ORDER BY seq"
    params: tuple[int, ...] = (after_seq,)
    if limit is not None:
        sql += " LIMIT ?"
        params = (after_seq, limit)
    return [_row(values) for values in conn.execute(sql, params)]


def last_events(conn: sqlite3.Connection, count: int) -> list[EventRow]:
    """The newest ``count`` rows, oldest first ("what happened before the fault")."""
    rows = conn.execute(
        f"SELECT {_ROW_COLUMNS} FROM events ORDER BY seq DESC LIMIT ?", (count,)).fetchall()
    return [_row(values) for values in reversed(rows)]


def iter_events(conn: sqlite3.Connection) -> Iterator[EventRow]:
    """Every row in sequence order, streamed (the log may be far larger than memory)."""
    for values in conn.execute(f"SELECT {_ROW_COLUMNS} FROM events ORDER BY seq"):
        yield _row(values)


class ChainProblem(StrEnum):
    MISSING = "missing"  # a sequence number is absent: a row was deleted
    ALTERED = "altered"  # a row's content does not match its hash (or the link before it)
    TRUNCATED = "truncated"  # the newest rows are gone: the head names a later row
    ANCHOR_MISMATCH = "anchor_mismatch"  # differs from a head recorded earlier (e.g. an export)


@dataclass(frozen=True, slots=True)
class ChainReport:
    """Outcome of :func:`verify_chain`; ``first_bad_seq`` is None when ``ok``."""

    ok: bool
    rows_checked: int
    last_seq: int
    last_hash: str
    first_bad_seq: int | None = None
    problem: ChainProblem | None = None
    message: str = "the event log is intact"


def verify_chain(conn: sqlite3.Connection,
                 anchor: tuple[int, str] | None = None) -> ChainReport:
    """Recompute the whole chain; report the first sequence number that breaks it.

    ``anchor`` is a (seq, hash) taken earlier (printed in every export): the row with that seq
    must still carry that hash, which catches a log rewritten from that point on.
    """
    expected_seq = 1
    previous = GENESIS_HASH
    checked = 0
    anchor_seen = anchor is None or anchor[0] == 0
    for row in iter_events(conn):
        if row.seq != expected_seq:
            return _bad(checked, expected_seq - 1, previous, expected_seq, ChainProblem.MISSING,
                        f"event {expected_seq} is missing (deleted): the log jumps from"
                        f" {expected_seq - 1} to {row.seq}")
        recomputed = chain_hash(previous, canonical_row(row.seq, row, row.boot_id))
        if recomputed != row.hash:
            return _bad(checked, row.seq - 1, previous, row.seq, ChainProblem.ALTERED,
                        f"event {row.seq} was altered: it does not match its hash or the"
                        " event before it")
        if anchor is not None and row.seq == anchor[0]:
            anchor_seen = True
            if row.hash != anchor[1]:
                return _bad(checked, row.seq - 1, previous, row.seq,
                            ChainProblem.ANCHOR_MISMATCH,
                            f"event {row.seq} differs from the one recorded earlier: the log"
                            " was rewritten from there on")
        previous = row.hash
        checked += 1
        expected_seq += 1
    last_seq = expected_seq - 1
    head_seq, head_hash = head(conn)
    if head_seq > last_seq:
        return _bad(checked, last_seq, previous, last_seq + 1, ChainProblem.TRUNCATED,
                    f"events {last_seq + 1} to {head_seq} are missing (the newest were cut off)")
    if head_seq < last_seq:
        return _bad(checked, last_seq, previous, head_seq + 1, ChainProblem.ALTERED,
                    f"events {head_seq + 1} to {last_seq} were added outside the log writer")
    if head_hash != previous:
        return _bad(checked, last_seq, previous, last_seq, ChainProblem.ALTERED,
                    f"the recorded head does not match event {last_seq}")
    if not anchor_seen and anchor is not None:
        return _bad(checked, last_seq, previous, last_seq + 1, ChainProblem.TRUNCATED,
                    f"event {anchor[0]}, recorded earlier, is no longer in the log")
    return ChainReport(ok=True, rows_checked=checked, last_seq=last_seq, last_hash=previous)


def _bad(checked: int, last_seq: int, last_hash: str, first_bad: int, problem: ChainProblem,
         message: str) -> ChainReport:
    return ChainReport(ok=False, rows_checked=checked, last_seq=last_seq, last_hash=last_hash,
                       first_bad_seq=first_bad, problem=problem, message=message)


def _row(values: tuple[Any, ...]) -> EventRow:
    return EventRow(int(values[0]), int(values[1]), int(values[2]), str(values[3]),
                    str(values[4]), str(values[5]), str(values[6]), values[7], values[8],
                    str(values[9]))


@lru_cache(maxsize=1)
def current_boot_id() -> str:
    """The kernel's id of this power-up; a random id per process where there is none."""
    try:
        text = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        text = ""
    return text or str(uuid.uuid4())


def _to_us(seconds: float) -> int:
    if not math.isfinite(seconds):
        return 0
    return round(seconds * 1_000_000)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def json_safe(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy of ``value`` (bounded depth, no aliasing with the caller's objects,
    non-finite floats as strings); never raises."""
    if depth > 8:
        return str(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(key): json_safe(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [json_safe(item, depth + 1) for item in items]
    return str(value)
