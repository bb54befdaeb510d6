"""Bad files and failing disks: each gives one clear StorageError and a defined behaviour, and
never a fresh database in place of the old one (the old file is left byte for byte)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.records.clients import ClientRegistry
from kiosk.records.errors import (
    StorageCorruptError,
    StorageEmptyFileError,
    StorageFullError,
    StorageMissingError,
    StorageNewerSchemaError,
    StorageReadOnlyError,
)
from kiosk.records.export import export_to, verify_export
from kiosk.records.migrations import LATEST_VERSION, schema_version
from kiosk.records.store import RecordStore, records_path
from tests.records.helpers import append, fill_disk, snapshot_files

REPO_ROOT = Path(__file__).resolve().parents[2]


def _database_with_events(path: Path, count: int = 200) -> None:
    with RecordStore.open(path) as store:
        append(store, count)
        ClientRegistry(store).create_client("Anna Beispiel")


def test_a_missing_state_directory_is_reported_and_not_created(tmp_path: Path) -> None:
    state_dir = tmp_path / "not-mounted"
    with pytest.raises(StorageMissingError, match="does not exist"):
        RecordStore.open(records_path(state_dir))
    assert not state_dir.exists()


def test_a_file_that_is_not_sqlite_is_reported_and_left_untouched(db_path: Path) -> None:
    db_path.write_bytes(b"this is a text file, not a database\n" * 100)
    before = snapshot_files(db_path.parent)
    with pytest.raises(StorageCorruptError, match="not a records database"):
        RecordStore.open(db_path)
    assert snapshot_files(db_path.parent) == before


def test_a_damaged_page_is_reported_and_left_untouched(db_path: Path) -> None:
    _database_with_events(db_path)
    page_size = 4096
    data = bytearray(db_path.read_bytes())
    assert len(data) >= 6 * page_size
    middle = (len(data) // page_size // 2) * page_size
    data[middle:middle + page_size] = b"\xff" * page_size
    db_path.write_bytes(bytes(data))
    before = snapshot_files(db_path.parent)
    with pytest.raises(StorageCorruptError, match="damaged"):
        RecordStore.open(db_path)
    assert snapshot_files(db_path.parent) == before


def test_an_sqlite_file_of_another_program_is_not_taken_over(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()
    before = snapshot_files(db_path.parent)
    with pytest.raises(StorageCorruptError, match="another program"):
        RecordStore.open(db_path)
    assert snapshot_files(db_path.parent) == before


def test_a_file_from_newer_software_is_refused_and_left_untouched(db_path: Path) -> None:
    _database_with_events(db_path, 5)
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    conn.commit()
    conn.close()
    before = snapshot_files(db_path.parent)
    with pytest.raises(StorageNewerSchemaError,
                       match=f"schema version {LATEST_VERSION + 1}.*up to {LATEST_VERSION}"):
        RecordStore.open(db_path)
    assert snapshot_files(db_path.parent) == before
    with pytest.raises(StorageNewerSchemaError):  # nor can it be read for an export
        RecordStore.open(db_path, read_only=True)
    assert db_path.read_bytes() == before[db_path.name]


def test_a_read_only_folder_refuses_writing_but_still_reads_and_exports(
        tmp_path: Path, make_read_only: Callable[[Path], None]) -> None:
    db_path = tmp_path / "state" / "records.sqlite3"
    db_path.parent.mkdir()
    _database_with_events(db_path, 10)
    make_read_only(db_path.parent)
    before = snapshot_files(db_path.parent)
    with pytest.raises(StorageReadOnlyError, match="read-only"):
        RecordStore.open(db_path)
    with RecordStore.open(db_path, read_only=True) as store:
        assert store.verify_chain().ok
        result = export_to(store, tmp_path / "export")
    assert result.counts["events"] == 11
    assert verify_export(tmp_path / "export") == []
    assert snapshot_files(db_path.parent) == before


def test_a_read_only_folder_gets_no_new_database(
        tmp_path: Path, make_read_only: Callable[[Path], None]) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    make_read_only(folder)
    with pytest.raises(StorageReadOnlyError):
        RecordStore.open(folder / "records.sqlite3")
    assert list(folder.iterdir()) == []


def test_a_full_disk_at_creation_is_reported_and_leaves_no_file(
        mount_tmpfs: Callable[[int], Path]) -> None:
    disk = mount_tmpfs(256)
    filler = fill_disk(disk)
    with pytest.raises(StorageFullError, match="disk is full"):
        RecordStore.open(disk / "records.sqlite3")
    assert sorted(p.name for p in disk.iterdir()) == [filler.name]


def test_a_full_disk_during_migration_keeps_the_old_version(
        mount_tmpfs: Callable[[int], Path]) -> None:
    disk = mount_tmpfs(512)
    path = disk / "records.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript((Path(__file__).parent / "data" / "records_v1.sql").read_text("utf-8"))
    conn.close()
    fill_disk(disk)
    with pytest.raises(StorageFullError):
        RecordStore.open(path)
    conn = sqlite3.connect(path)
    assert schema_version(conn) == 1
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 5
    conn.close()


def test_a_full_disk_fails_a_write_clearly_and_writing_resumes_when_space_is_freed(
        mount_tmpfs: Callable[[int], Path]) -> None:
    disk = mount_tmpfs(512)
    with RecordStore.open(disk / "records.sqlite3") as store:
        registry = ClientRegistry(store)
        kept = registry.create_client("Before the disk filled")
        filler = fill_disk(disk)
        with pytest.raises(StorageFullError, match="disk is full"):
            for _ in range(10_000):  # the WAL's free room runs out after a few writes
                registry.create_client("y" * 80)
        filler.unlink()
        later = registry.create_client("After space was freed")
        assert registry.get_client(kept.client_id).display_name == "Before the disk filled"
        assert registry.get_client(later.client_id).display_name == "After space was freed"
        assert store.verify_chain().ok


def test_a_disk_that_refuses_writes_gives_an_io_error_and_a_writer_fault(db_path: Path) -> None:
    RecordStore.open(db_path).close()
    result = subprocess.run(
        [sys.executable, str(Path(__file__).parent / "child_processes.py"), "disk_refuses",
         str(db_path)],
        capture_output=True, text=True, timeout=60, cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["store StorageIOError storage.io_error",
                                          "writer storage.io_error"]
    with RecordStore.open(db_path) as store:  # what was committed before is intact
        assert store.verify_chain().ok


# --- issue 12 item 7: every records file gets a clear refusal, never a silent fresh database


@pytest.mark.requirement("SR-061")
def test_a_zero_byte_records_file_is_refused_not_turned_into_a_fresh_database(
        db_path: Path) -> None:
    db_path.write_bytes(b"")
    db_path.chmod(0o644)
    before = snapshot_files(db_path.parent)
    with pytest.raises(StorageEmptyFileError) as caught:
        RecordStore.open(db_path)
    message = str(caught.value)
    assert caught.value.code == "storage.empty_file"
    assert str(db_path) in message and "empty (0 bytes)" in message
    assert "Only a missing file is created fresh" in message and "\n" not in message
    assert snapshot_files(db_path.parent) == before
    assert oct(db_path.stat().st_mode & 0o777) == "0o644"  # untouched, even its mode
    with pytest.raises(StorageEmptyFileError):
        RecordStore.open(db_path, read_only=True)


@pytest.mark.requirement("SR-061")
def test_an_sqlite_file_without_the_records_schema_is_refused(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA journal_mode = WAL")  # a header page, no schema (a lost WAL)
    conn.close()
    before = snapshot_files(db_path.parent)
    with pytest.raises(StorageCorruptError, match="without the records schema") as caught:
        RecordStore.open(db_path)
    assert caught.value.code == "storage.corrupt"
    assert snapshot_files(db_path.parent) == before


@pytest.mark.requirement("SR-061")
def test_a_new_database_and_its_side_files_are_private(db_path: Path) -> None:
    with RecordStore.open(db_path) as store:
        ClientRegistry(store).create_client("Private")
        for suffix in ("", "-wal", "-shm"):
            path = Path(f"{db_path}{suffix}")
            assert oct(path.stat().st_mode & 0o777) == "0o600", path.name
    assert sorted(p.name for p in db_path.parent.iterdir()) == [
        "records.sqlite3", "records.sqlite3.anchor"]


@pytest.mark.requirement("SR-061")
def test_a_database_found_readable_by_others_is_made_private(db_path: Path) -> None:
    RecordStore.open(db_path).close()
    db_path.chmod(0o644)
    with RecordStore.open(db_path):
        assert oct(db_path.stat().st_mode & 0o777) == "0o600"


@pytest.mark.requirement("SR-061")
def test_a_creation_cut_half_way_leaves_no_records_file_and_the_next_start_creates_it(
        db_path: Path) -> None:
    leftover = db_path.with_name(db_path.name + ".creating")
    leftover.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)  # what a kill leaves
    Path(f"{leftover}-wal").write_bytes(b"junk")
    with RecordStore.open(db_path) as store:
        assert store.created and store.verify_chain().ok
    assert sorted(p.name for p in db_path.parent.iterdir()) == [
        "records.sqlite3", "records.sqlite3.anchor"]


@pytest.mark.requirement("SR-061")
def test_the_writer_never_creates_the_state_directory(tmp_path: Path) -> None:
    from kiosk.records.writer import RecordWriter

    state_dir = tmp_path / "not-mounted"
    writer = RecordWriter(records_path(state_dir), retry_interval_s=0.05)
    assert not writer.start()
    try:
        assert writer.fault_code == "storage.missing"
        assert f"The state directory {state_dir} does not exist" in str(writer.fault_reason)
    finally:
        writer.stop()
    assert not state_dir.exists()
