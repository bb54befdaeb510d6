"""Client records: a pseudonymous id, an optional display name, and erasure on request.

Data minimisation: the device knows a client by a random id (``K7QM-3XPA``, printed on the
client's card or written in the salon's own book); a display name is optional and is the only
directly identifying field. Screening answers and reported sensations (health data, domain.md
section 5) hang off that client's sessions.

Erasure (:meth:`ClientRegistry.delete_client`) removes the client row, the display name, the
signed consents (with the signature), the course notes, the screening answers and the
sensations of every one of their sessions, and unlinks those sessions
from the id. What stays is anonymous and technical: the session's program, currents, dose,
faults, operator changes, and the event log (which never held a client id, see ``events.py``),
so the log still verifies and the device's history stays complete. ``secure_delete`` and a WAL
checkpoint make sure the erased bytes are overwritten on disk, not just unlinked.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.records.errors import RecordNotFoundError, StorageError
from kiosk.records.events import LogEvent, append_events, stamp
from kiosk.records.store import RecordStore

# Crockford base32 without I, L, O, U: nothing to misread when copied from a card by hand.
PSEUDONYM_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
MAX_DISPLAY_NAME_CHARS = 80
MAX_NOTE_CHARS = 500
_LOOK_ALIKES = str.maketrans("OIL", "011")


def new_pseudonymous_id(choice: Callable[[str], str] = secrets.choice) -> str:
    """A random client id such as ``K7QM-3XPA`` (40 bits: collisions are checked anyway)."""
    chars = "".join(choice(PSEUDONYM_ALPHABET) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


def normalise_pseudonymous_id(text: str) -> str:
    """What a person typed (whole id or its start) to the stored form: upper case, O->0,
    I/L->1, the dash after the fourth character restored."""
    cleaned = text.strip().upper().replace("-", "").replace(" ", "")
    cleaned = cleaned.translate(_LOOK_ALIKES)
    return f"{cleaned[:4]}-{cleaned[4:]}" if len(cleaned) > 4 else cleaned


def clean_display_name(name: str | None) -> str | None:
    """Trimmed, single-spaced, without control characters; empty means no name."""
    if name is None:
        return None
    text = " ".join("".join(ch for ch in name if ch.isprintable()).split())
    if len(text) > MAX_DISPLAY_NAME_CHARS:
        raise ValueError(f"a display name has at most {MAX_DISPLAY_NAME_CHARS} characters")
    return text or None


@dataclass(frozen=True, slots=True)
class ClientRecord:
    client_id: str  # pseudonymous
    display_name: str | None
    created_wall_s: float


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """What :meth:`ClientRegistry.delete_client` removed; ``purged_from_disk`` means the WAL
    checkpoint also overwrote the old copies (False if a reader held it: retried on the next
    erasure or checkpoint)."""

    sessions_anonymised: int
    screening_answers_deleted: int
    sensations_deleted: int
    purged_from_disk: bool
    consents_deleted: int = 0  # with their signatures (v4)
    notes_deleted: int = 0  # course notes (v4)


@dataclass(frozen=True, slots=True)
class CourseNote:
    """A free note on a client's course (issue 11 item 5): personal, erased with the client."""

    wall_s: float
    operator: str
    text: str


class ClientRegistry:
    """Create, find and erase clients (UI thread, on the UI's own :class:`RecordStore`)."""

    def __init__(self, store: RecordStore, wall_now_s: Callable[[], float] = time.time,
                 mono_now_s: Callable[[], float] = time.monotonic,
                 new_id: Callable[[], str] = new_pseudonymous_id) -> None:
        self._store = store
        self._wall_now_s = wall_now_s
        self._mono_now_s = mono_now_s
        self._new_id = new_id

    def create_client(self, display_name: str | None = None) -> ClientRecord:
        """A new client with a fresh pseudonymous id (and the name, if the salon wants one)."""
        name = clean_display_name(display_name)
        wall_s = self._wall_now_s()
        with self._store.transaction() as conn:
            for _ in range(20):
                client_id = self._new_id()
                try:
                    conn.execute(
                        "INSERT INTO clients (client_id, display_name, created_wall_us)"
                        " VALUES (?, ?, ?)", (client_id, name, round(wall_s * 1e6)))
                except sqlite3.IntegrityError:
                    continue  # id taken: draw again
                return ClientRecord(client_id, name, round(wall_s * 1e6) / 1e6)
        raise RuntimeError("could not draw an unused client id in 20 attempts")

    def get_client(self, client_id: str) -> ClientRecord:
        row = self._store.connection.execute(
            "SELECT client_id, display_name, created_wall_us FROM clients WHERE client_id = ?",
            (normalise_pseudonymous_id(client_id),)).fetchone()
        if row is None:
            raise RecordNotFoundError(f"no client {client_id!r}")
        return _client(row)

    def find_clients(self, text: str, limit: int = 20) -> list[ClientRecord]:
        """Clients whose id starts with ``text`` or whose name contains it (any case, any
        script), newest first; an empty ``text`` lists the newest clients.

        Filtered in Python: SQLite folds only ASCII case, and a salon has thousands of clients
        at most.
        """
        query = text.strip()
        id_prefix = normalise_pseudonymous_id(query) if query else ""
        folded = query.casefold()
        matches: list[ClientRecord] = []
        for row in self._store.connection.execute(
                "SELECT client_id, display_name, created_wall_us FROM clients"
                " ORDER BY created_wall_us DESC, client_id"):
            record = _client(row)
            if (record.client_id.startswith(id_prefix)
                    or folded in (record.display_name or "").casefold()):
                matches.append(record)
                if len(matches) >= limit:
                    break
        return matches

    def set_display_name(self, client_id: str, display_name: str | None) -> ClientRecord:
        name = clean_display_name(display_name)
        with self._store.transaction() as conn:
            updated = conn.execute("UPDATE clients SET display_name = ? WHERE client_id = ?",
                                   (name, normalise_pseudonymous_id(client_id))).rowcount
        if not updated:
            raise RecordNotFoundError(f"no client {client_id!r}")
        return self.get_client(client_id)

    def delete_client(self, client_id: str) -> ErasureReport:
        """Erase the client's personal and health data; keep the anonymous technical record.

        One transaction: either all of it is erased (and ``records.client_erased`` is in the
        log, without the id) or nothing is. Then a WAL checkpoint overwrites the old pages.
        """
        pid = normalise_pseudonymous_id(client_id)
        with self._store.transaction(durable=True) as conn:
            if conn.execute("SELECT 1 FROM clients WHERE client_id = ?", (pid,)).fetchone() \
                    is None:
                raise RecordNotFoundError(f"no client {client_id!r}")
            answers = conn.execute(
                "DELETE FROM screening_answers WHERE session_id IN"
                " (SELECT session_id FROM sessions WHERE client_id = ?)", (pid,)).rowcount
            sensations = conn.execute(
                "DELETE FROM sensations WHERE session_id IN"
                " (SELECT session_id FROM sessions WHERE client_id = ?)", (pid,)).rowcount
            consents = conn.execute("DELETE FROM consents WHERE client_id = ?",
                                    (pid,)).rowcount
            notes = conn.execute("DELETE FROM course_notes WHERE client_id = ?",
                                 (pid,)).rowcount
            sessions = conn.execute(
                "UPDATE sessions SET client_id = NULL, anonymised = 1 WHERE client_id = ?",
                (pid,)).rowcount
            conn.execute("DELETE FROM clients WHERE client_id = ?", (pid,))
            note = LogEvent("records.client_erased",
                            "A client's personal data and screening answers were erased.",
                            details={"sessions_anonymised": sessions}, durable=True)
            append_events(conn, [stamp(note, self._mono_now_s(), self._wall_now_s())],
                          self._store.boot_id)
        try:
            purged = self._store.checkpoint()
        except StorageError:
            purged = False  # the erasure itself is committed; old pages go at a later checkpoint
        return ErasureReport(sessions, answers, sensations, purged, consents, notes)

    def add_note(self, client_id: str, text: str, operator: str) -> CourseNote:
        """A dated free note on the client's course (trimmed; 1 to 500 characters)."""
        note = " ".join("".join(ch if ch.isprintable() else " " for ch in str(text)).split())
        if not note or len(note) > MAX_NOTE_CHARS:
            raise ValueError(f"a note has 1 to {MAX_NOTE_CHARS} characters")
        who = str(operator).strip()[:80]
        if not who:
            raise ValueError("operator is required")
        wall_us = round(self._wall_now_s() * 1e6)
        pid = normalise_pseudonymous_id(client_id)
        with self._store.transaction() as conn:
            if conn.execute("SELECT 1 FROM clients WHERE client_id = ?", (pid,)).fetchone() \
                    is None:
                raise RecordNotFoundError(f"no client {client_id!r}")
            conn.execute("INSERT INTO course_notes (client_id, wall_us, operator, text)"
                         " VALUES (?, ?, ?, ?)", (pid, wall_us, who, note))
        return CourseNote(wall_us / 1e6, who, note)

    def notes(self, client_id: str) -> list[CourseNote]:
        """The client's course notes, newest first."""
        return [CourseNote(int(wall_us) / 1e6, str(who), str(text))
                for wall_us, who, text in self._store.connection.execute(
                    "SELECT wall_us, operator, text FROM course_notes WHERE client_id = ?"
                    " ORDER BY wall_us DESC, id DESC", (normalise_pseudonymous_id(client_id),))]


def _client(row: tuple[str, str | None, int]) -> ClientRecord:
    return ClientRecord(str(row[0]), row[1], int(row[2]) / 1e6)

