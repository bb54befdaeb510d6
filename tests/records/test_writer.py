"""The writer thread: posting never waits on the disk, safety events go to disk at once, and a
full queue or a failing disk becomes a latched storage fault instead of a blocked control loop."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kiosk.hal.sim.clock import VirtualClock
from kiosk.records.events import LogEvent, read_events
from kiosk.records.store import RecordStore
from kiosk.records.writer import QUEUE_FULL_CODE, WRITER_STOPPED_CODE, RecordWriter
from tests.records.helpers import fill_disk, snapshot_files

HOUR_S = 3600.0


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    """Poll until ``condition()`` holds; a liveness bound, not a speed claim."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


def committed_rows(path: Path) -> list[tuple[int, str, str]]:
    """What another process would find on disk: (seq, code, details)."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT seq, code, details FROM events ORDER BY seq").fetchall()
    finally:
        conn.close()


@pytest.fixture
def running() -> Iterator[Callable[..., RecordWriter]]:
    writers: list[RecordWriter] = []

    def start(path: Path, **options: object) -> RecordWriter:
        writer = RecordWriter(path, **options)  # type: ignore[arg-type]
        writer.start()
        writers.append(writer)
        return writer

    yield start
    for writer in writers:
        writer.stop()


def test_posted_events_are_committed_in_order_with_the_control_clock_time(
        db_path: Path, running: Callable[..., RecordWriter]) -> None:
    clock = VirtualClock(start_s=100.0)
    writer = running(db_path, mono_now_s=clock.now_s, wall_now_s=lambda: 1_790_000_000.0)
    assert writer.healthy
    for i in range(50):
        assert writer.post(LogEvent("state.tick", "tick", details={"i": i}))
        clock.sleep_s(0.01)
    assert writer.flush()
    with RecordStore.open(db_path) as store:
        rows = read_events(store.connection, after_seq=1)
        assert store.verify_chain().ok
    assert [row.details["i"] for row in rows] == list(range(50))
    assert rows[0].mono_us == 100_000_000
    assert rows[-1].mono_us == 100_490_000
    assert {row.wall_us for row in rows} == {1_790_000_000_000_000}


def test_a_safety_event_commits_itself_and_everything_queued_before_it(
        db_path: Path, running: Callable[..., RecordWriter]) -> None:
    commits: list[int] = []
    writer = running(db_path, batch_interval_s=HOUR_S, batch_max_events=1000,
                     on_commit=commits.append)
    for i in range(3):
        writer.post(LogEvent("state.ramp", "routine", details={"i": i}))
    writer.post(LogEvent("fault.over_current", "Over-current.", "high"))
    assert wait_for(lambda: writer.last_committed_seq == 5)
    assert commits == [5]  # one transaction: three routine events and the fault
    assert [code for _, code, _ in committed_rows(db_path)][1:] == [
        "state.ramp", "state.ramp", "state.ramp", "fault.over_current"]


@pytest.mark.parametrize("code", ["fault.acknowledged", "service.calibration_saved",
                                  "service.limits_changed"])
def test_events_marked_durable_are_committed_without_waiting_for_the_batch(
        db_path: Path, running: Callable[..., RecordWriter], code: str) -> None:
    writer = running(db_path, batch_interval_s=HOUR_S, batch_max_events=1000)
    writer.post(LogEvent(code, "safety-relevant change", "info", durable=True))
    assert wait_for(lambda: writer.last_committed_seq == 2)
    assert committed_rows(db_path)[-1][1] == code


def test_post_durable_returns_true_once_the_event_is_on_disk(
        db_path: Path, running: Callable[..., RecordWriter]) -> None:
    writer = running(db_path, batch_interval_s=HOUR_S)
    assert writer.post_durable(LogEvent("service.calibration_saved", "Calibration saved.",
                                        details={"gain": 1.002}), timeout_s=10.0)
    assert committed_rows(db_path)[-1][1:] == ("service.calibration_saved", '{"gain":1.002}')


def test_a_full_queue_refuses_at_once_latches_a_fault_and_keeps_room_for_safety_events(
        db_path: Path, running: Callable[..., RecordWriter]) -> None:
    writer = running(db_path, queue_capacity=8, safety_reserve=2, batch_max_events=4,
                     batch_interval_s=0.0)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock: commits wait
    results = [writer.post(LogEvent("state.tick", "tick", details={"i": i}))
               for i in range(40)]
    refused = results.count(False)
    assert refused > 0
    assert not writer.healthy
    assert writer.fault is not None and writer.fault.code == QUEUE_FULL_CODE
    assert writer.post(LogEvent("fault.contact_lost", "Contact lost.", "high"))
    blocker.execute("COMMIT")
    blocker.close()
    assert writer.flush()
    rows = committed_rows(db_path)
    codes = [code for _, code, _ in rows]
    assert codes.count("state.tick") == results.count(True)
    assert "fault.contact_lost" in codes
    dropped_notes = [json.loads(details)["dropped"] for _, code, details in rows
                     if code == "records.events_dropped"]
    assert sum(dropped_notes) == refused  # every lost event is accounted for in the log
    assert "records.storage_recovered" in codes
    assert writer.dropped_events == refused
    assert writer.acknowledge_fault()
    assert writer.healthy


def test_a_full_disk_latches_a_fault_that_clears_only_after_recovery_and_acknowledgement(
        mount_tmpfs: Callable[[int], Path], running: Callable[..., RecordWriter]) -> None:
    disk = mount_tmpfs(512)
    # a queue too large to fill here: the one fault this test injects is the full disk
    writer = running(disk / "records.sqlite3", retry_interval_s=0.02, batch_interval_s=0.01,
                     queue_capacity=100_000)
    filler = fill_disk(disk)
    for i in range(20_000):
        writer.post(LogEvent("state.tick", "tick", details={"i": i, "pad": "z" * 100}))
        if not writer.storage_working:
            break
        if i % 50 == 0:
            time.sleep(0.001)  # let the writer run into the full disk
    assert wait_for(lambda: writer.fault is not None and not writer.storage_working)
    assert writer.fault is not None and writer.fault.code == "storage.disk_full"
    assert not writer.acknowledge_fault()  # nobody can clear it while the disk is full
    assert not writer.post_durable(LogEvent("fault.acknowledged", "ack", durable=True),
                                   timeout_s=0.5)
    filler.unlink()
    assert wait_for(lambda: writer.storage_working)
    assert writer.flush()
    assert writer.acknowledge_fault()
    assert writer.healthy
    codes = [code for _, code, _ in committed_rows(disk / "records.sqlite3")]
    assert "records.storage_recovered" in codes
    assert "fault.acknowledged" in codes  # kept and written once the disk had room
    with RecordStore.open(disk / "records.sqlite3") as store:
        assert store.verify_chain().ok


def test_stop_commits_everything_still_queued(db_path: Path) -> None:
    writer = RecordWriter(db_path, batch_interval_s=HOUR_S, batch_max_events=10_000)
    writer.start()
    for i in range(100):
        writer.post(LogEvent("state.tick", "tick", details={"i": i}))
    assert writer.stop()
    assert len(committed_rows(db_path)) == 101


def test_a_post_after_stop_is_refused_and_reported(db_path: Path) -> None:
    writer = RecordWriter(db_path)
    writer.start()
    writer.stop()
    assert not writer.post(LogEvent("state.tick", "tick"))
    assert writer.fault is not None and writer.fault.code == WRITER_STOPPED_CODE


def test_a_database_that_cannot_be_opened_is_a_fault_at_start_not_a_new_file(
        db_path: Path) -> None:
    db_path.write_bytes(b"\x00garbage" * 512)
    before = snapshot_files(db_path.parent)
    writer = RecordWriter(db_path, retry_interval_s=0.05)
    try:
        assert not writer.start()
        assert writer.fault is not None and writer.fault.code == "storage.corrupt"
        assert not writer.post_durable(LogEvent("fault.x", "x", "high"), timeout_s=0.2)
    finally:
        writer.stop()
    assert snapshot_files(db_path.parent) == before


def test_odd_event_values_never_raise_into_the_posting_thread(
        db_path: Path, running: Callable[..., RecordWriter]) -> None:
    writer = running(db_path)
    assert writer.post(LogEvent("", "", "loud", details={"x": float("nan"), 1: object()}))
    assert writer.flush()
    assert committed_rows(db_path)[-1][1] == "unknown"
