"""Session records as domain.md section 7 lists them, written step by step as the session runs.

The UI calls these on its own :class:`~kiosk.records.store.RecordStore` (UI thread; each call is
one short ``synchronous=FULL`` transaction, so a session record survives a power cut at any
step). The order the workflow imposes is kept here too, so the record can never claim something
that did not happen: a program only after a clear screening, nothing after the session closed.

A session left open by a power cut or crash is found at the next start
(:meth:`SessionBook.mark_interrupted`) and marked ``interrupted``, never silently completed.
Its delivered dose is taken from the last durable ``dose_progress`` event the control core
logged under the session's control id (every 10 s and at every state change, so at most one
interval is missing); the record says when that dose was recorded (H-16, SR-059).

Those events are written by the control layer into its records. When the UI keeps records of its
own (the UI as a client of ``kiosk-control`` with another database), the book is given a
*progress source*: the control layer's figure for a control session id, asked over the socket
(SR-180). The day's sum then takes each session's largest figure, says "cannot say" (None) when
a session without a recorded dose cannot be asked, and writes the control layer's figure into an
interrupted session's record as soon as it has it (:meth:`SessionBook.heal_interrupted`).
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import sqlite3
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from kiosk.records.clients import normalise_pseudonymous_id
from kiosk.records.errors import RecordNotFoundError, SessionStateError
from kiosk.records.events import DOSE_PROGRESS_CODE, json_safe
from kiosk.records.store import RecordStore

AREAS = frozenset({"face", "neck", "decollete", "eye_area"})
INDICATIONS = frozenset({"disincrustation", "pigmentation", "ageing", "puffiness", "dry_skin"})
POLARITIES = frozenset({"negative", "positive"})  # of the active electrode
INTERRUPTED_STOP_REASON = "interrupted"  # power loss or crash while the session was open
MAX_PROGRESS_DOSE_MA_MIN = 1000.0  # far above any cap: a larger logged figure is junk
MAX_PROGRESS_PEAK_MA = 10.0  # above the 2.7 mA hardware trip: a larger figure is junk
_PROGRESS_ROWS_SCANNED = 50  # newest progress events looked at for a valid figure
MAX_WALL_S = 1e11  # seconds since 1970 (year ~5100): a later "recorded at" is junk
HEAL_LIMIT = 20  # interrupted sessions without a dose asked about at start-up, newest first

_log = logging.getLogger(__name__)


class ProgressUnavailable(Exception):
    """The control layer cannot say what a session delivered: no link, no answer in time, a
    refusal, or an answer that is junk. Never a storage fault of the UI's records."""


class SessionStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    INTERRUPTED = "interrupted"


class ScreeningResult(StrEnum):
    CLEAR = "clear"  # every answer "no"
    BLOCKED = "blocked"  # at least one "yes": no current stage in this session


class Sensation(StrEnum):
    """What the client reports (domain.md section 7)."""

    TINGLING = "tingling"
    WARM = "warm"
    BURNING = "burning"


@dataclass(frozen=True, slots=True)
class ProgramChoice:
    """What was chosen in step 1 (area -> indication -> active) and the resolved program."""

    area: str
    indication: str
    program_id: str
    program_version: str
    active: str  # the cosmetic active, by name
    polarity: str  # of the active electrode: negative (cathode) | positive (anode)
    electrode_id: str  # electrode catalogue id
    target_current_ma: float

    def __post_init__(self) -> None:
        if self.area not in AREAS:
            raise ValueError(f"unknown area {self.area!r}")
        if self.indication not in INDICATIONS:
            raise ValueError(f"unknown indication {self.indication!r}")
        if self.polarity not in POLARITIES:
            raise ValueError(f"unknown polarity {self.polarity!r}")
        for name in ("program_id", "program_version", "active", "electrode_id"):
            if not str(getattr(self, name)).strip():
                raise ValueError(f"{name} is empty")
        if not (math.isfinite(self.target_current_ma) and 0.0 < self.target_current_ma <= 2.5):
            raise ValueError("target_current_ma must be in (0, 2.5] mA")


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """What the control core measured over the current stage, given when the session closes.

    Values that could not be measured (None, NaN) are stored as unknown, never as zero.
    """

    stop_reason: str  # "completed", "operator", "client_discomfort", a fault code, ...
    mean_current_ma: float | None = None
    peak_current_ma: float | None = None
    dose_ma_min: float | None = None
    current_stage_s: float | None = None
    faults: tuple[str, ...] = ()  # fault codes, in order
    ramp_events: tuple[Mapping[str, Any], ...] = ()  # e.g. {"t_s": 31.0, "event": "hold"}
    # interrupted sessions: when the dose above was last durably recorded (the dose delivered
    # is at least that; what flowed after it, at most one progress interval, is not known)
    dose_recorded_wall_s: float | None = None


@dataclass(frozen=True, slots=True)
class OperatorChange:
    wall_s: float
    what: str  # e.g. "current_ma", "current_stage_s"
    old_value: float | None
    new_value: float | None


@dataclass(frozen=True, slots=True)
class SensationReport:
    wall_s: float
    sensation: Sensation


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One session as stored; ``client_id`` is None once the client was erased."""

    session_id: str
    client_id: str | None
    operator: str
    status: SessionStatus
    started_wall_s: float
    ended_wall_s: float | None
    screening_result: ScreeningResult | None
    screening_answers: Mapping[str, bool]
    program: ProgramChoice | None
    summary: SessionSummary | None
    operator_changes: tuple[OperatorChange, ...]
    sensations: tuple[SensationReport, ...]
    anonymised: bool
    consent_version: str | None = None  # the signed consent the session ran under (v4)


class SessionBook:
    """The session API for the UI (one instance per UI :class:`RecordStore`).

    ``progress_source``: when the control layer's ``dose_progress`` events are not in this
    store (the UI as a client of the daemon), a callable giving the control layer's last
    durable :class:`Progress` of a control session id, None when it has none, and raising
    (:class:`ProgressUnavailable`, or anything else) when it cannot say (SR-180).
    """

    def __init__(self, store: RecordStore,
                 wall_now_s: Callable[[], float] = time.time, *,
                 progress_source: ProgressSource | None = None) -> None:
        self._store = store
        self._wall_now_s = wall_now_s
        self._progress_source = progress_source

    def start_session(self, client_id: str, operator: str,
                      control_session_id: str | None = None) -> str:
        """Open a session for an existing client; returns the new (opaque) session id.

        ``control_session_id``: the id the control core runs (and logs) this treatment under
        (``StartTreatment.session_id``); the interrupted session's dose is found by it.
        """
        operator = operator.strip()
        if not operator:
            raise ValueError("operator is required")
        control_id = None if control_session_id is None else _control_id(control_session_id)
        session_id = uuid.uuid4().hex
        client_id = normalise_pseudonymous_id(client_id)
        with self._store.transaction() as conn:
            if conn.execute("SELECT 1 FROM clients WHERE client_id = ?",
                            (client_id,)).fetchone() is None:
                raise RecordNotFoundError(f"no client {client_id!r}")
            conn.execute(
                "INSERT INTO sessions (session_id, client_id, operator, status, started_wall_us,"
                " control_session_id) VALUES (?, ?, ?, 'open', ?, ?)",
                (session_id, client_id, operator[:80], _us(self._wall_now_s()), control_id))
        return session_id

    def set_control_session(self, session_id: str, control_session_id: str) -> None:
        """Name the control core's id of an open session (if it was not known at the start)."""
        control_id = _control_id(control_session_id)
        with self._store.transaction() as conn:
            self._open_session(conn, session_id)
            conn.execute("UPDATE sessions SET control_session_id = ? WHERE session_id = ?",
                         (control_id, session_id))

    def set_consent(self, session_id: str, consent_version: str) -> None:
        """Name the signed consent an open session runs under (issue 11 item 6)."""
        version = str(consent_version).strip()
        if not version or len(version) > 64 or not version.isprintable():
            raise ValueError("consent_version must be 1 to 64 printable characters")
        with self._store.transaction() as conn:
            self._open_session(conn, session_id)
            conn.execute("UPDATE sessions SET consent_version = ? WHERE session_id = ?",
                         (version, session_id))

    def record_screening(self, session_id: str, answers: Mapping[str, bool]) -> ScreeningResult:
        """Store the yes/no answers (item id -> yes); any "yes" blocks the session's current.

        May be repeated to correct a mis-tap until a program is recorded, never after.
        """
        if not answers:
            raise ValueError("screening needs at least one answer")
        result = ScreeningResult.BLOCKED if any(answers.values()) else ScreeningResult.CLEAR
        with self._store.transaction() as conn:
            row = self._open_session(conn, session_id)
            if row["program_id"] is not None:
                raise SessionStateError("screening cannot change after the program was chosen")
            conn.execute("DELETE FROM screening_answers WHERE session_id = ?", (session_id,))
            conn.executemany(
                "INSERT INTO screening_answers (session_id, item_id, answer_yes) VALUES (?,?,?)",
                [(session_id, str(item), int(bool(yes))) for item, yes in answers.items()])
            conn.execute("UPDATE sessions SET screening_result = ? WHERE session_id = ?",
                         (result.value, session_id))
        return result

    def record_program(self, session_id: str, program: ProgramChoice) -> None:
        """Store the chosen program; refused unless the screening was recorded and clear."""
        with self._store.transaction() as conn:
            row = self._open_session(conn, session_id)
            if row["screening_result"] != ScreeningResult.CLEAR:
                raise SessionStateError(
                    "a program can only be chosen after a screening with every answer 'no'")
            conn.execute(
                "UPDATE sessions SET area = ?, indication = ?, program_id = ?,"
                " program_version = ?, active = ?, polarity = ?, electrode_id = ?,"
                " target_current_ma = ? WHERE session_id = ?",
                (program.area, program.indication, program.program_id, program.program_version,
                 program.active, program.polarity, program.electrode_id,
                 program.target_current_ma, session_id))

    def add_operator_change(self, session_id: str, what: str, old_value: float | None,
                            new_value: float | None) -> None:
        """The operator changed a setting during the session (e.g. lowered the current)."""
        if not what.strip():
            raise ValueError("what changed must be named")
        with self._store.transaction() as conn:
            self._open_session(conn, session_id)
            conn.execute(
                "INSERT INTO operator_changes (session_id, wall_us, what, old_value, new_value)"
                " VALUES (?, ?, ?, ?, ?)",
                (session_id, _us(self._wall_now_s()), what.strip()[:40], _finite(old_value),
                 _finite(new_value)))

    def add_sensation(self, session_id: str, sensation: Sensation | str) -> None:
        """What the client reported feeling (health data: erased with the client)."""
        value = Sensation(sensation)
        with self._store.transaction() as conn:
            self._open_session(conn, session_id)
            conn.execute("INSERT INTO sensations (session_id, wall_us, sensation) VALUES (?,?,?)",
                         (session_id, _us(self._wall_now_s()), value.value))

    def close_session(self, session_id: str, summary: SessionSummary) -> SessionRecord:
        """Close with the summary fields of domain.md section 7; the record is final after.

        The target stays the program's; changes the operator made are in the operator changes.
        """
        with self._store.transaction() as conn:
            self._open_session(conn, session_id)
            conn.execute(
                "UPDATE sessions SET status = 'closed', ended_wall_us = ?, mean_current_ma = ?,"
                " peak_current_ma = ?, dose_ma_min = ?, current_stage_s = ?, ramp_events = ?,"
                " faults = ?, stop_reason = ? WHERE session_id = ?",
                (_us(self._wall_now_s()), _finite(summary.mean_current_ma),
                 _finite(summary.peak_current_ma), _finite(summary.dose_ma_min),
                 _finite(summary.current_stage_s), _json_list(summary.ramp_events),
                 _json_list(list(summary.faults)), summary.stop_reason[:64], session_id))
        return self.get_session(session_id)

    def mark_interrupted(self) -> int:
        """At start-up: sessions still open were cut by power loss or a crash; say so, with
        the dose of the last durable progress event (SR-059)."""
        with self._store.transaction() as conn:
            open_rows = conn.execute(
                "SELECT session_id, coalesce(control_session_id, session_id) FROM sessions"
                " WHERE status = 'open'").fetchall()
            for session_id, control_id in open_rows:
                progress = last_progress(conn, control_id)
                conn.execute(
                    "UPDATE sessions SET status = 'interrupted', stop_reason = ?,"
                    " dose_ma_min = coalesce(dose_ma_min, ?),"
                    " current_stage_s = coalesce(current_stage_s, ?),"
                    " peak_current_ma = coalesce(peak_current_ma, ?),"
                    " dose_recorded_wall_us = ? WHERE session_id = ?",
                    (INTERRUPTED_STOP_REASON,
                     None if progress is None else progress.dose_ma_min,
                     None if progress is None else progress.elapsed_s,
                     None if progress is None else progress.peak_ma,
                     None if progress is None else progress.wall_us, session_id))
            return len(open_rows)

    def get_session(self, session_id: str) -> SessionRecord:
        conn = self._store.connection
        row = _fetch_row(conn, "SELECT * FROM sessions WHERE session_id = ?", (session_id,))
        if row is None:
            raise RecordNotFoundError(f"no session {session_id!r}")
        return _session(conn, row)

    def last_sessions(self, client_id: str, limit: int = 5) -> list[SessionRecord]:
        """The client's newest sessions first (the UI shows what was done last time)."""
        conn = self._store.connection
        cursor = conn.execute(
            "SELECT * FROM sessions WHERE client_id = ?"
            " ORDER BY started_wall_us DESC, rowid DESC LIMIT ?",
            (normalise_pseudonymous_id(client_id), limit))
        names = [column[0] for column in cursor.description]
        return [_session(conn, dict(zip(names, values, strict=True))) for values in cursor]

    def client_sessions(self, client_id: str, limit: int = 4,
                        offset: int = 0) -> list[SessionRecord]:
        """One page of the client's whole history, newest first (issue 11 item 5)."""
        if limit < 1 or offset < 0:
            raise ValueError("limit must be positive and offset not negative")
        conn = self._store.connection
        cursor = conn.execute(
            "SELECT * FROM sessions WHERE client_id = ?"
            " ORDER BY started_wall_us DESC, rowid DESC LIMIT ? OFFSET ?",
            (normalise_pseudonymous_id(client_id), limit, offset))
        names = [column[0] for column in cursor.description]
        return [_session(conn, dict(zip(names, values, strict=True))) for values in cursor]

    def count_sessions(self, client_id: str) -> int:
        row = self._store.connection.execute(
            "SELECT count(*) FROM sessions WHERE client_id = ?",
            (normalise_pseudonymous_id(client_id),)).fetchone()
        return int(row[0])

    def delivered_today(self, client_id: str, area: str, day: datetime.date, *,
                        electrode_area_cm2: Mapping[str, float],
                        exclude_session_id: str | None = None) -> DeliveredToday | None:
        """SR-053: the dose and charge density this client already had on ``area`` on ``day``
        (a local calendar day, by the session's start), summed over every session of it:
        closed, interrupted and still open ones, except ``exclude_session_id`` (the caller's
        own session: the control core counts that one itself).

        Each session counts with the largest of its recorded dose, its last durable
        ``dose_progress`` figure in this store and, with a progress source, the control
        layer's figure (an interrupted session has only the latter two; a summary that lost
        something is not believed over the control core's own log). A session with none of
        them never ran current. Charge density is each session's dose over its electrode's
        contact area; an electrode missing from ``electrode_area_cm2`` counts with the smallest
        area given (the highest density it could have had).

        With a progress source (SR-180): every counted session is asked; when the source
        cannot say (not answering, refused, junk) for a session with neither a recorded dose
        nor a progress event in this store, the answer is None, "the records cannot say" (the
        caller counts the day as used up); after the first failure it is not asked again in
        this call (one timeout at most). An interrupted session the source gave a figure for
        gets it written into its record here (as :meth:`heal_interrupted` does), so its
        history shows it and the next count does not need the control layer. Never a storage
        fault because of the source.
        """
        if area not in AREAS:
            raise ValueError(f"unknown area {area!r}")
        areas = {str(k): float(v) for k, v in electrode_area_cm2.items()
                 if math.isfinite(float(v)) and float(v) > 0.0}
        if not areas:
            raise ValueError("electrode_area_cm2 must name at least one positive area")
        smallest_cm2 = min(areas.values())
        start = datetime.datetime.combine(day, datetime.time.min).astimezone()
        end = datetime.datetime.combine(day + datetime.timedelta(days=1),
                                        datetime.time.min).astimezone()
        conn = self._store.connection
        rows = conn.execute(
            "SELECT session_id, coalesce(control_session_id, session_id), electrode_id,"
            " dose_ma_min, status FROM sessions WHERE client_id = ? AND area = ?"
            " AND started_wall_us >= ? AND started_wall_us < ? ORDER BY started_wall_us",
            (normalise_pseudonymous_id(client_id), area, _us(start.timestamp()),
             _us(end.timestamp()))).fetchall()
        control = _ControlFigures(self._progress_source)
        dose_total = density_total = 0.0
        counted = 0
        cannot_say = False
        to_heal: list[tuple[str, Progress]] = []
        for session_id, control_id, electrode_id, recorded, status in rows:
            if session_id == exclude_session_id:
                continue
            progress = last_progress(conn, control_id)
            dose = max(_figure(recorded, MAX_PROGRESS_DOSE_MA_MIN) or 0.0,
                       0.0 if progress is None else progress.dose_ma_min)
            if recorded is not None and _figure(recorded, MAX_PROGRESS_DOSE_MA_MIN) is None:
                dose = max(dose, MAX_PROGRESS_DOSE_MA_MIN)  # a junk figure blocks, never frees
            if control.has_source:
                answered, figure = control.ask(control_id)
                if not answered and recorded is None and progress is None:
                    cannot_say = True
                if figure is not None:
                    dose = max(dose, figure.dose_ma_min)
                    if status == SessionStatus.INTERRUPTED:
                        to_heal.append((session_id, figure))
            dose_total += dose
            density_total += dose / areas.get(str(electrode_id), smallest_cm2)
            counted += 1
        if to_heal:
            self._heal(to_heal)
        if cannot_say:
            return None
        return DeliveredToday(round(dose_total, 6), round(density_total, 6), counted)

    def heal_interrupted(self, limit: int = HEAL_LIMIT) -> int:
        """Write the control layer's last durable dose into interrupted sessions that have none
        (SR-180): the newest ``limit`` of them, until the progress source first fails. Returns
        how many records got a dose. The UI calls it once the link is up after start-up (and
        :meth:`delivered_today` heals the sessions it counts); without a source it does
        nothing. A session the control layer knows no progress of stays without a dose
        (unknown, never zero: SR-059)."""
        if self._progress_source is None:
            return 0
        rows = self._store.connection.execute(
            "SELECT session_id, coalesce(control_session_id, session_id) FROM sessions"
            " WHERE status = 'interrupted' AND dose_ma_min IS NULL"
            " ORDER BY started_wall_us DESC, rowid DESC LIMIT ?", (max(0, limit),)).fetchall()
        control = _ControlFigures(self._progress_source)
        to_heal: list[tuple[str, Progress]] = []
        for session_id, control_id in rows:
            answered, figure = control.ask(control_id)
            if not answered:
                break
            if figure is not None:
                to_heal.append((session_id, figure))
        return self._heal(to_heal)

    def _heal(self, figures: Sequence[tuple[str, Progress]]) -> int:
        """Raise each interrupted session's dose to the control layer's figure (never lower)."""
        healed = 0
        with self._store.transaction() as conn:
            for session_id, progress in figures:
                healed += conn.execute(
                    "UPDATE sessions SET dose_ma_min = ?, dose_recorded_wall_us = ?,"
                    " current_stage_s = coalesce(current_stage_s, ?),"
                    " peak_current_ma = coalesce(peak_current_ma, ?)"
                    " WHERE session_id = ? AND status = 'interrupted'"
                    " AND (dose_ma_min IS NULL OR dose_ma_min < ?)",
                    (progress.dose_ma_min, progress.wall_us, progress.elapsed_s,
                     progress.peak_ma, session_id, progress.dose_ma_min)).rowcount
        return healed

    def _open_session(self, conn: sqlite3.Connection, session_id: str) -> dict[str, Any]:
        row = _fetch_row(conn, "SELECT * FROM sessions WHERE session_id = ?", (session_id,))
        if row is None:
            raise RecordNotFoundError(f"no session {session_id!r}")
        if row["status"] != SessionStatus.OPEN:
            raise SessionStateError(f"session {session_id} is {row['status']}, not open")
        return row


@dataclass(frozen=True, slots=True)
class DeliveredToday:
    """What one client had on one area on one day (SR-053), for ``StartTreatment``."""

    dose_ma_min: float
    charge_density_ma_min_per_cm2: float
    sessions: int  # how many sessions were summed


@dataclass(frozen=True, slots=True)
class Progress:
    """The last valid durable progress figure of a control session."""

    seq: int
    wall_us: int
    dose_ma_min: float
    elapsed_s: float | None
    peak_ma: float | None


ProgressSource = Callable[[str], "Progress | None"]
"""The control layer's last durable progress of a control session id (None: it has none);
raises when it cannot say (:class:`ProgressUnavailable`)."""


class _ControlFigures:
    """One pass of questions to a progress source: after its first failure it is not asked
    again (a source that timed out once would time out for every session)."""

    def __init__(self, source: ProgressSource | None) -> None:
        self._source = source
        self.has_source = source is not None
        self._down = source is None

    def ask(self, control_session_id: str) -> tuple[bool, Progress | None]:
        """(answered, figure): figure None with answered True means "no progress there"."""
        if self._down or self._source is None:
            return False, None
        try:
            got = self._source(control_session_id)
        except Exception as error:  # junk from outside is "cannot say", never a crash
            self._down = True
            _log.warning("the control layer cannot say the dose of session %s: %s",
                         control_session_id[:64], error)
            return False, None
        if got is None:
            return True, None
        if not _believable(got):
            self._down = True
            _log.warning("the control layer's dose of session %s is junk: %r",
                         control_session_id[:64], got)
            return False, None
        return True, got


def _believable(progress: object) -> bool:
    return (isinstance(progress, Progress)
            and _figure(progress.dose_ma_min, MAX_PROGRESS_DOSE_MA_MIN) is not None
            and type(progress.wall_us) is int and 0 <= progress.wall_us <= _us(MAX_WALL_S)
            and (progress.elapsed_s is None or _figure(progress.elapsed_s, 24 * 3600.0)
                 is not None)
            and (progress.peak_ma is None or _figure(progress.peak_ma, MAX_PROGRESS_PEAK_MA)
                 is not None))


def progress_from_answer(data: Any, control_session_id: str) -> Progress | None:
    """The control layer's ``session_progress`` answer as a :class:`Progress` (None: it has no
    progress of that session); :class:`ProgressUnavailable` for anything else: an answer about
    another session, a dose that is not a finite number in [0, 1000] mA·min, a time or
    sequence number that is not one, a missing key."""
    if not isinstance(data, Mapping) or "progress" not in data:
        raise ProgressUnavailable("the answer carries no progress")
    if data.get("session_id") != control_session_id:
        raise ProgressUnavailable("the answer is about another session")
    figure = data["progress"]
    if figure is None:
        return None
    if not isinstance(figure, Mapping):
        raise ProgressUnavailable("the progress is not a set of figures")
    dose = _figure(figure.get("dose_ma_min"), MAX_PROGRESS_DOSE_MA_MIN)
    wall_s = _figure(figure.get("wall_s"), MAX_WALL_S)
    seq = figure.get("seq")
    if dose is None:
        raise ProgressUnavailable(f"dose_ma_min {figure.get('dose_ma_min')!r} is not a dose")
    if wall_s is None:
        raise ProgressUnavailable(f"wall_s {figure.get('wall_s')!r} is not a time")
    if type(seq) is not int or seq < 1:
        raise ProgressUnavailable(f"seq {seq!r} is not an event number")
    return Progress(seq, _us(wall_s), dose, _figure(figure.get("elapsed_s"), 24 * 3600.0),
                    _figure(figure.get("peak_ma"), MAX_PROGRESS_PEAK_MA))


def last_progress(conn: sqlite3.Connection, control_session_id: str) -> Progress | None:
    """The newest ``dose_progress`` event of ``control_session_id`` with a valid dose.

    Matched by the event's session id (or, when that is empty, by ``session_id`` in its
    details); a figure that is not a finite number in [0, 1000] mA·min is skipped, never used.
    """
    pattern = '%"session_id":' + json.dumps(control_session_id) + "%"
    rows = conn.execute(
        "SELECT seq, wall_us, details FROM events WHERE code = ? AND (session_id = ?"
        " OR (session_id IS NULL AND details LIKE ?)) ORDER BY seq DESC LIMIT ?",
        (DOSE_PROGRESS_CODE, control_session_id, pattern, _PROGRESS_ROWS_SCANNED)).fetchall()
    for seq, wall_us, details_text in rows:
        try:
            details = json.loads(details_text)
        except (TypeError, ValueError):
            continue
        if not isinstance(details, dict):
            continue
        named = details.get("session_id", control_session_id)
        if named != control_session_id:
            continue
        dose = _figure(details.get("dose_ma_min"), MAX_PROGRESS_DOSE_MA_MIN)
        if dose is None:
            continue
        elapsed = _figure(details.get("elapsed_s"), 24 * 3600.0)
        peak = _figure(details.get("peak_ma"), MAX_PROGRESS_PEAK_MA)
        return Progress(int(seq), int(wall_us), dose, elapsed, peak)
    return None


def _figure(value: Any, upper: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and 0.0 <= number <= upper else None


def _control_id(value: str) -> str:
    text = str(value)
    if not 1 <= len(text) <= 64 or not text.isprintable() or text.strip() != text:
        raise ValueError("control_session_id must be 1 to 64 printable characters")
    return text


def _fetch_row(conn: sqlite3.Connection, sql: str,
               params: Sequence[Any]) -> dict[str, Any] | None:
    cursor = conn.execute(sql, params)
    values = cursor.fetchone()
    if values is None:
        return None
    return dict(zip([column[0] for column in cursor.description], values, strict=True))


def _session(conn: sqlite3.Connection, row: Mapping[str, Any]) -> SessionRecord:
    session_id = row["session_id"]
    answers = {str(item): bool(yes) for item, yes in conn.execute(
        "SELECT item_id, answer_yes FROM screening_answers WHERE session_id = ?"
        " ORDER BY item_id", (session_id,))}
    changes = tuple(OperatorChange(wall_us / 1e6, what, old, new)
                    for wall_us, what, old, new in conn.execute(
                        "SELECT wall_us, what, old_value, new_value FROM operator_changes"
                        " WHERE session_id = ? ORDER BY id", (session_id,)))
    sensations = tuple(SensationReport(wall_us / 1e6, Sensation(value))
                       for wall_us, value in conn.execute(
                           "SELECT wall_us, sensation FROM sensations WHERE session_id = ?"
                           " ORDER BY id", (session_id,)))
    program = None
    if row["program_id"] is not None:
        program = ProgramChoice(row["area"], row["indication"], row["program_id"],
                                row["program_version"], row["active"], row["polarity"],
                                row["electrode_id"], row["target_current_ma"])
    summary = None
    if row["status"] != SessionStatus.OPEN and row["stop_reason"] is not None:
        dose, stage_s, peak = row["dose_ma_min"], row["current_stage_s"], row["peak_current_ma"]
        recorded_us = row.get("dose_recorded_wall_us")
        if row["status"] == SessionStatus.INTERRUPTED and dose is None:
            # interrupted before this software, or its progress arrived later: look now
            progress = last_progress(conn, row.get("control_session_id") or session_id)
            if progress is not None:
                dose, recorded_us = progress.dose_ma_min, progress.wall_us
                stage_s = stage_s if stage_s is not None else progress.elapsed_s
                peak = peak if peak is not None else progress.peak_ma
        summary = SessionSummary(
            stop_reason=row["stop_reason"], mean_current_ma=row["mean_current_ma"],
            peak_current_ma=peak, dose_ma_min=dose,
            current_stage_s=stage_s,
            faults=tuple(json.loads(row["faults"])),
            ramp_events=tuple(json.loads(row["ramp_events"])),
            dose_recorded_wall_s=None if recorded_us is None else recorded_us / 1e6)
    screening = row["screening_result"]
    return SessionRecord(
        session_id=session_id, client_id=row["client_id"], operator=row["operator"],
        status=SessionStatus(row["status"]), started_wall_s=row["started_wall_us"] / 1e6,
        ended_wall_s=None if row["ended_wall_us"] is None else row["ended_wall_us"] / 1e6,
        screening_result=None if screening is None else ScreeningResult(screening),
        screening_answers=answers, program=program, summary=summary,
        operator_changes=changes, sensations=sensations, anonymised=bool(row["anonymised"]),
        consent_version=row.get("consent_version"))


def _us(seconds: float) -> int:
    return round(seconds * 1_000_000)


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _json_list(items: Sequence[Any]) -> str:
    return json.dumps([json_safe(item) for item in items], separators=(",", ":"),
                      ensure_ascii=False)
