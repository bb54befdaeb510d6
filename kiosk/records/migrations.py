"""The records schema, one migration per version (``PRAGMA user_version``).

A device in a salon is updated in place and must keep years of records, so the schema only
moves forward: each migration turns version ``n - 1`` into ``n`` inside one transaction (SQLite
DDL is transactional: a migration that fails or is cut by power loss leaves version ``n - 1``
intact and is simply run again at the next start). A fresh database is built by the very same
steps, so a migrated file and a new one cannot drift apart (a test compares them).

Never edit a shipped migration; add the next one.

- v1: clients (pseudonymous id), sessions (domain.md section 7), screening answers, operator
  changes, sensations, the hash-chained event log and its head, append-only triggers.
- v2: ``events.boot_id``. Monotonic time restarts at every power-up, so without the boot it was
  taken in a monotonic time stamp cannot be ordered against one from another boot; a technician
  reading "what did the device do before the fault" needs both. Rows written before v2 keep
  ``boot_id`` NULL, and a NULL column is left out of the hashed content, so their hashes stay
  valid (see ``events.canonical_row``).
- v3: ``sessions.control_session_id`` (the id the control core logs the session's events
  under, so an interrupted session's dose can be read from its last durable ``dose_progress``
  event) and ``sessions.dose_recorded_wall_us`` (when that dose was recorded); an index on
  ``events(session_id, code)`` for that look-up. No hashed column changes.
- v4: ``consents`` (the client's signed consent: consent version, catalogue version, language,
  the very text shown, the drawn signature as strokes, operator, time; personal data, deleted
  with the client), ``course_notes`` (free, dated notes on a client's course; deleted with the
  client) and ``sessions.consent_version`` (the consent a session ran under). No hashed column
  changes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

APPLICATION_ID = 0x4B494F52  # "KIOR": marks a file as this device's records database


@dataclass(frozen=True, slots=True)
class Migration:
    """Turns schema ``version - 1`` into ``version``."""

    version: int
    summary: str
    apply: Callable[[sqlite3.Connection], None]


_V1_SQL = f"""
PRAGMA application_id = {APPLICATION_ID};

CREATE TABLE clients (
    client_id       TEXT PRIMARY KEY,      -- pseudonymous, printed on the client's card
    display_name    TEXT,                  -- personal data, optional, erased on deletion
    created_wall_us INTEGER NOT NULL
);

CREATE TABLE sessions (
    session_id        TEXT PRIMARY KEY,
    client_id         TEXT REFERENCES clients(client_id) ON DELETE SET NULL,
    operator          TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('open', 'closed', 'interrupted')),
    started_wall_us   INTEGER NOT NULL,
    ended_wall_us     INTEGER,
    screening_result  TEXT CHECK (screening_result IN ('clear', 'blocked')),
    area              TEXT,
    indication        TEXT,
    program_id        TEXT,
    program_version   TEXT,
    active            TEXT,
    polarity          TEXT,
    electrode_id      TEXT,
    target_current_ma REAL,
    mean_current_ma   REAL,
    peak_current_ma   REAL,
    dose_ma_min       REAL,
    current_stage_s   REAL,
    ramp_events       TEXT NOT NULL DEFAULT '[]',  -- JSON list from the control core
    faults            TEXT NOT NULL DEFAULT '[]',  -- JSON list of fault codes
    stop_reason       TEXT,
    anonymised        INTEGER NOT NULL DEFAULT 0 CHECK (anonymised IN (0, 1))
);
CREATE INDEX sessions_by_client ON sessions(client_id, started_wall_us);

-- Health data (domain.md section 5): the minimum, deleted with the client.
CREATE TABLE screening_answers (
    session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
    item_id    TEXT NOT NULL,
    answer_yes INTEGER NOT NULL CHECK (answer_yes IN (0, 1)),
    PRIMARY KEY (session_id, item_id)
) WITHOUT ROWID;

CREATE TABLE sensations (
    id         INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
    wall_us    INTEGER NOT NULL,
    sensation  TEXT NOT NULL CHECK (sensation IN ('tingling', 'warm', 'burning'))
);
CREATE INDEX sensations_by_session ON sensations(session_id);

-- Technical: what the operator changed during the session (kept after client deletion).
CREATE TABLE operator_changes (
    id         INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
    wall_us    INTEGER NOT NULL,
    what       TEXT NOT NULL,
    old_value  REAL,
    new_value  REAL
);
CREATE INDEX operator_changes_by_session ON operator_changes(session_id);

-- The technical event log: anonymous by construction, hash-chained, append-only.
CREATE TABLE events (
    seq        INTEGER PRIMARY KEY,
    wall_us    INTEGER NOT NULL,
    mono_us    INTEGER NOT NULL,
    code       TEXT NOT NULL,
    severity   TEXT NOT NULL,
    reason     TEXT NOT NULL,
    details    TEXT NOT NULL,          -- canonical JSON object
    session_id TEXT,                   -- opaque, never a client id
    hash       TEXT NOT NULL           -- hex SHA-256 over previous hash + canonical row
);
CREATE TABLE chain_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, '{"0" * 64}');

-- Guards against our own bugs; a tamperer can drop them, which the hash chain then catches.
CREATE TRIGGER events_are_append_only_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
CREATE TRIGGER events_are_append_only_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
"""


def _v1(conn: sqlite3.Connection) -> None:
    for statement in _split_sql(_V1_SQL):
        conn.execute(statement)


def _v2(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE events ADD COLUMN boot_id TEXT")


def _v3(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE sessions ADD COLUMN control_session_id TEXT")
    conn.execute("ALTER TABLE sessions ADD COLUMN dose_recorded_wall_us INTEGER")
    conn.execute("CREATE INDEX events_by_session ON events(session_id, code)")


_V4_SQL = """
CREATE TABLE consents (
    id                INTEGER PRIMARY KEY,
    client_id         TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    consent_version   TEXT NOT NULL,     -- Catalogue.consent_version (version + digest)
    catalogue_version TEXT NOT NULL,
    language          TEXT NOT NULL,
    text              TEXT NOT NULL,     -- the consent exactly as shown and signed
    signature         TEXT NOT NULL,     -- JSON: {"w", "h", "strokes": [[x, y, x, y, ...]]}
    operator          TEXT NOT NULL,
    given_wall_us     INTEGER NOT NULL
);
CREATE INDEX consents_by_client ON consents(client_id, consent_version);

CREATE TABLE course_notes (
    id         INTEGER PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    wall_us    INTEGER NOT NULL,
    operator   TEXT NOT NULL,
    text       TEXT NOT NULL
);
CREATE INDEX course_notes_by_client ON course_notes(client_id, wall_us);

ALTER TABLE sessions ADD COLUMN consent_version TEXT;
"""


def _v4(conn: sqlite3.Connection) -> None:
    for statement in _split_sql(_V4_SQL):
        conn.execute(statement)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "clients, sessions, screening, hash-chained event log", _v1),
    Migration(2, "boot id on events (monotonic time is per boot)", _v2),
    Migration(3, "control session id and recorded dose time on sessions", _v3),
    Migration(4, "consents, course notes, the consent a session ran under", _v4),
)
LATEST_VERSION = MIGRATIONS[-1].version


def schema_version(conn: sqlite3.Connection) -> int:
    """The file's ``user_version`` (0 for a database no migration has touched)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = LATEST_VERSION) -> list[int]:
    """Apply every migration above the file's version up to ``target``; returns those applied.

    ``conn`` must be in autocommit mode (``isolation_level=None``): each step is its own
    ``BEGIN IMMEDIATE`` ... ``COMMIT`` so that a crash between steps leaves a valid version.
    """
    if target > LATEST_VERSION:
        raise ValueError(f"no migration to version {target}; latest is {LATEST_VERSION}")
    applied: list[int] = []
    for migration in MIGRATIONS:
        if migration.version > target:
            break
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read inside the write lock: another process may have migrated meanwhile.
            if schema_version(conn) >= migration.version:
                conn.execute("ROLLBACK")
                continue
            migration.apply(conn)
            conn.execute(f"PRAGMA user_version = {migration.version}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        applied.append(migration.version)
    return applied


def _split_sql(script: str) -> list[str]:
    """Statements of a script, keeping trigger bodies (which contain ';') whole.

    ``executescript`` would COMMIT the surrounding transaction, so each statement is run on its
    own inside the migration's transaction instead.
    """
    statements: list[str] = []
    current: list[str] = []
    for line in script.splitlines():
        stripped = line.split("--", 1)[0].rstrip()
        if not stripped and not current:
            continue
        current.append(line)
        text = "\n".join(current)
        if sqlite3.complete_statement(text):
            statements.append(text.strip())
            current = []
    if "".join(current).strip():
        raise ValueError(f"incomplete SQL statement: {' '.join(current)!r}")
    return statements
