"""Issue 12 item 8: records health must not lie. Files deleted or replaced under a running
writer (and the UI's connection) latch ``storage.file_replaced`` within the check interval,
and a write through a connection whose files are gone is refused instead of "saved" (SR-060).

Reproduced before the fix: with the kiosk running, ``records.sqlite3-wal`` and ``-shm`` were
deleted; nothing reached the database from then on, yet the writer stayed healthy.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.control.catalogue import load_catalogue
from kiosk.control.commands import ProgramRequest, StartTreatment
from kiosk.control.core import ControlCore
from kiosk.control.loop import ControlLoop
from kiosk.control.snapshot import TreatmentState
from kiosk.hal.config import load_board_config
from kiosk.hal.factory import build_board
from kiosk.hal.sim.clock import VirtualClock
from kiosk.records.clients import ClientRegistry
from kiosk.records.errors import StorageReplacedError
from kiosk.records.events import LogEvent
from kiosk.records.store import RecordStore
from kiosk.records.writer import RecordWriter
from tests.consent_version import CONSENT
from tests.records.test_writer import wait_for

CHECK_S = 0.05

pytestmark = pytest.mark.requirement("SR-060")


@pytest.fixture
def writer(db_path: Path) -> Iterator[RecordWriter]:
    started = RecordWriter(db_path, check_interval_s=CHECK_S, retry_interval_s=0.05,
                           batch_interval_s=0.01)
    assert started.start()
    yield started
    started.stop()


def _committed_faults(db_path: Path) -> list[int]:
    conn = sqlite3.connect(db_path)
    try:
        return [int(n) for (n,) in conn.execute(
            "SELECT json_extract(details, '$.n') FROM events WHERE code = 'test.fault'"
            " ORDER BY seq")]
    finally:
        conn.close()


def test_deleting_the_wal_and_shm_under_a_live_writer_latches_the_fault(
        db_path: Path, writer: RecordWriter) -> None:
    for n in range(3):
        assert writer.post_durable(LogEvent("test.fault", "before", "high", details={"n": n}))
    writer.post(LogEvent("test.routine", "only in the WAL"))
    assert writer.healthy
    Path(f"{db_path}-wal").unlink()
    Path(f"{db_path}-shm").unlink()
    assert wait_for(lambda: not writer.healthy, timeout_s=5.0)
    assert writer.fault_code == "storage.file_replaced"
    assert "-wal was deleted while the kiosk was running" in str(writer.fault_reason) or \
        "-shm was deleted while the kiosk was running" in str(writer.fault_reason)
    # the writer reopens the database (never a new one) and goes on writing into the file
    assert writer.post_durable(LogEvent("test.fault", "after", "high", details={"n": 3}),
                               timeout_s=5.0)
    assert _committed_faults(db_path) == [0, 1, 2, 3]
    assert not writer.healthy  # stays latched until a person acknowledges it
    with RecordStore.open(db_path) as store:
        replaced = [code for (code,) in store.connection.execute(
            "SELECT code FROM events WHERE code = 'records.file_replaced'")]
        assert store.verify_chain().ok
    assert replaced == ["records.file_replaced"]
    assert writer.acknowledge_fault() and writer.healthy


def test_a_database_replaced_by_another_file_latches_the_fault(
        db_path: Path, writer: RecordWriter, tmp_path: Path) -> None:
    assert writer.post_durable(LogEvent("test.fault", "before", "high", details={"n": 0}))
    other = tmp_path / "other"
    other.mkdir()
    with RecordStore.open(other / "records.sqlite3"):
        pass
    shutil.copy(other / "records.sqlite3", tmp_path / "swap.sqlite3")
    (tmp_path / "swap.sqlite3").replace(db_path)
    assert wait_for(lambda: not writer.healthy, timeout_s=5.0)
    assert writer.fault_code == "storage.file_replaced"
    assert f"{db_path} was replaced while the kiosk was running" in str(writer.fault_reason)


def test_a_database_deleted_under_the_writer_is_not_recreated(
        db_path: Path, writer: RecordWriter) -> None:
    assert writer.post_durable(LogEvent("test.fault", "before", "high", details={"n": 0}))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink()
    assert wait_for(lambda: not writer.healthy, timeout_s=5.0)
    assert writer.fault_code == "storage.file_replaced"
    assert not writer.post_durable(LogEvent("test.fault", "lost", "high"), timeout_s=0.5)
    assert not db_path.exists()


def test_a_file_copied_over_in_place_is_found_by_the_read_back(
        db_path: Path, writer: RecordWriter, tmp_path: Path) -> None:
    assert writer.post_durable(LogEvent("test.fault", "first", "high", details={"n": 0}))
    old_copy = tmp_path / "old.sqlite3"
    shutil.copy(db_path, old_copy)  # checkpointed: the main file holds event n=0
    for n in (1, 2):
        assert writer.post_durable(LogEvent("test.fault", "later", "high", details={"n": n}))
    # same inode, older content (a restore over the live file), WAL reset with it
    db_path.write_bytes(old_copy.read_bytes())
    Path(f"{db_path}-wal").write_bytes(b"")
    assert wait_for(lambda: not writer.healthy, timeout_s=5.0)
    assert writer.fault_code == "storage.file_replaced"


def test_the_ui_connection_refuses_to_save_into_a_deleted_wal(db_path: Path) -> None:
    with RecordStore.open(db_path) as store:
        registry = ClientRegistry(store)
        registry.create_client("Before")
        Path(f"{db_path}-wal").unlink()
        with pytest.raises(StorageReplacedError, match="-wal was deleted") as caught:
            registry.create_client("Would be lost")
        assert caught.value.code == "storage.file_replaced"


@pytest.mark.requirement("SR-042")
def test_a_start_is_refused_once_the_files_went_away_under_the_kiosk(
        db_path: Path) -> None:
    clock = VirtualClock()
    board = build_board(load_board_config(), sim=True, clock=clock)
    writer = RecordWriter(db_path, check_interval_s=CHECK_S)
    assert writer.start()
    loop = ControlLoop(board, ControlCore(load_catalogue()), records=writer)
    try:
        loop.run_for(0.1)  # self-test
        assert loop.snapshot.storage_ok
        Path(f"{db_path}-wal").unlink()
        Path(f"{db_path}-shm").unlink()
        assert wait_for(lambda: not writer.healthy, timeout_s=5.0)
        loop.submit(StartTreatment(ProgramRequest("face", "pigmentation", current_ma=0.6,
                                                  current_stage_s=120), "s1",
                                   screening_cleared=True, consent_version=CONSENT))
        loop.run_for(0.5)
        snapshot = loop.snapshot
        assert not snapshot.storage_ok
        assert snapshot.last_refusal is not None
        assert snapshot.last_refusal.code == "storage_fault"
        assert snapshot.state is TreatmentState.IDLE
        assert board.sim is not None and not board.sim.k1_closed()
    finally:
        loop.close()
        writer.stop()
        board.close()
