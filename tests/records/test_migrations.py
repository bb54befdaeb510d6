"""Schema migrations: every earlier version reaches the newest, with every record kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kiosk.records.errors import StorageError
from kiosk.records.events import read_events
from kiosk.records.migrations import LATEST_VERSION, MIGRATIONS, migrate, schema_version
from kiosk.records.sessions import SessionBook, SessionStatus
from kiosk.records.store import RecordStore
from tests.records.helpers import append

V1_FIXTURE = Path(__file__).parent / "data" / "records_v1.sql"


def _schema(path: Path) -> list[tuple[str, str, str]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
            " ORDER BY type, name").fetchall()
    finally:
        conn.close()


def _load_v1(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(V1_FIXTURE.read_text(encoding="utf-8"))
    conn.close()


def test_the_versions_are_consecutive_from_one() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, LATEST_VERSION + 1))


# Version 0 (an SQLite file no migration touched) is not a records database: it is refused
# (test_store_faults), never built up, since a new database is only made where none exists.
@pytest.mark.parametrize("start_version", range(1, LATEST_VERSION))
def test_every_earlier_version_migrates_to_the_schema_of_a_fresh_database(
        tmp_path: Path, start_version: int) -> None:
    fresh = tmp_path / "fresh" / "records.sqlite3"
    fresh.parent.mkdir()
    RecordStore.open(fresh).close()
    old = tmp_path / "old" / "records.sqlite3"
    old.parent.mkdir()
    conn = sqlite3.connect(old, isolation_level=None)
    migrate(conn, target=start_version)
    assert schema_version(conn) == start_version
    conn.close()
    with RecordStore.open(old) as store:
        assert store.schema_version == LATEST_VERSION
        append(store, 3)
        assert store.verify_chain().ok
    assert _schema(old) == _schema(fresh)


def test_a_v1_file_opens_migrated_with_every_record_kept(db_path: Path) -> None:
    _load_v1(db_path)
    with RecordStore.open(db_path) as store:
        assert store.migrated_from == 1
        assert store.schema_version == LATEST_VERSION
        rows = read_events(store.connection)
        book = SessionBook(store)
        closed = book.get_session("5f1c0e7a9b2d4c3e8a6f1b0c9d8e7f60")
        names = dict(store.connection.execute("SELECT client_id, display_name FROM clients"))
        report = store.verify_chain()
    # the v1 rows are unchanged and still verify without a boot id; the migration is logged
    assert [row.code for row in rows[:5]] == [
        "records.database_created", "state.ramp_up", "state.hold", "fault.contact_lost",
        "fault.acknowledged"]
    assert all(row.boot_id is None for row in rows[:5])
    assert rows[5].code == "records.schema_migrated"
    assert rows[5].details == {"from_version": 1, "to_version": LATEST_VERSION}
    assert rows[5].boot_id
    assert report.ok and report.last_seq == 6
    assert names == {"K7QM-3XPA": "Anna Beispiel", "9D2R-TB0W": None}
    assert closed.status is SessionStatus.CLOSED
    assert closed.screening_answers == {"epilepsy": False, "pacemaker": False,
                                        "pregnancy": False}
    assert closed.summary is not None and closed.summary.dose_ma_min == 3.1
    assert [c.new_value for c in closed.operator_changes] == [0.7]
    assert [s.sensation.value for s in closed.sensations] == ["tingling"]


def test_events_appended_after_the_migration_carry_the_boot_and_chain_on(db_path: Path) -> None:
    _load_v1(db_path)
    with RecordStore.open(db_path) as store:
        append(store, 4)
        rows = read_events(store.connection, after_seq=6)
        assert store.verify_chain().ok
    assert [row.seq for row in rows] == [7, 8, 9, 10]
    assert {row.boot_id for row in rows} == {store.boot_id}


def test_opening_an_up_to_date_file_migrates_nothing_and_logs_nothing(db_path: Path) -> None:
    RecordStore.open(db_path).close()
    with RecordStore.open(db_path) as store:
        assert store.migrated_from is None
        assert not store.created
        assert [row.code for row in read_events(store.connection)] == [
            "records.database_created"]


def test_a_failing_migration_leaves_the_file_at_its_old_version(db_path: Path) -> None:
    _load_v1(db_path)
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("ALTER TABLE events ADD COLUMN boot_id TEXT")  # a hand-made change in the way
    before = list(conn.iterdump())
    conn.close()
    with pytest.raises(StorageError, match="duplicate column"):
        RecordStore.open(db_path)
    conn = sqlite3.connect(db_path)
    assert schema_version(conn) == 1
    assert list(conn.iterdump()) == before
    conn.close()


def test_migrating_to_an_unknown_version_is_refused() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    with pytest.raises(ValueError, match="no migration"):
        migrate(conn, target=LATEST_VERSION + 1)
