"""Issue 12 item 4: safety events survive a damaged WAL, and a log cut short inside the database
is found through the chain anchor outside it (SR-041, SR-058).

Reproduced on the code before the fix: 20 durable faults, SIGKILL, one bit flipped near the
start of ``records.sqlite3-wal``, and the reopened file held one event and "verified"; deleting
the newest rows and setting ``chain_head`` back (or emptying the log) also "verified".
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.records import anchor as chain_anchor
from kiosk.records.errors import StorageAnchorError, StorageEventsLostError
from kiosk.records.events import ChainProblem, LogEvent, head
from kiosk.records.store import RecordStore
from kiosk.records.writer import RecordWriter
from tests.records.helpers import raw_connection, snapshot_files
from tests.records.test_writer import wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).parent / "child_processes.py"
WAL_HEADER_BYTES = 32
FRAME_HEADER_BYTES = 24


def _kill_after_durable_faults(db_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, str(CHILD), "durable_faults_then_wait", str(db_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert child.stdout is not None
    line = child.stdout.readline()
    child.send_signal(signal.SIGKILL)
    _, err = child.communicate(timeout=10)
    assert line == "DONE\n", f"child: {line!r} {err}"
    assert child.returncode == -signal.SIGKILL


def _flip_bit(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _faults(store: RecordStore) -> list[int]:
    return [int(n) for (n,) in store.connection.execute(
        "SELECT json_extract(details, '$.n') FROM events WHERE code = 'test.fault' ORDER BY seq")]


@pytest.fixture
def writers() -> Iterator[list[RecordWriter]]:
    started: list[RecordWriter] = []
    yield started
    for writer in started:
        writer.stop()


def _start(db_path: Path, writers: list[RecordWriter], **options: object) -> RecordWriter:
    writer = RecordWriter(db_path, **options)  # type: ignore[arg-type]
    writer.start()
    writers.append(writer)
    return writer


@pytest.mark.requirement("SR-041", "SR-058")
@pytest.mark.parametrize("where", ["wal header", "first frame header", "first frame page"])
def test_a_bit_flipped_in_the_wal_after_a_sigkill_loses_no_durable_fault(
        db_path: Path, where: str) -> None:
    _kill_after_durable_faults(db_path)
    wal = Path(f"{db_path}-wal")
    offset = {"wal header": 8, "first frame header": WAL_HEADER_BYTES + 4,
              "first frame page": WAL_HEADER_BYTES + FRAME_HEADER_BYTES + 100}[where]
    if wal.exists() and wal.stat().st_size > offset:
        _flip_bit(wal, offset)
    with RecordStore.open(db_path) as store:
        assert _faults(store) == list(range(20))  # checkpointed into the main file at once
        report = store.verify_chain()  # against the anchor file
        assert report.ok, report.message


@pytest.mark.requirement("SR-058")
def test_every_durable_commit_moves_the_anchor_to_the_head(
        db_path: Path, writers: list[RecordWriter]) -> None:
    writer = _start(db_path, writers, batch_interval_s=3600.0)
    for n in range(3):
        assert writer.post_durable(LogEvent("test.fault", "a fault", "high", details={"n": n}))
        with RecordStore.open(db_path) as store:
            seq, hash_ = head(store.connection)
        assert chain_anchor.read(chain_anchor.anchor_path(db_path)) == \
            chain_anchor.Anchor(seq, hash_)
    assert oct(chain_anchor.anchor_path(db_path).stat().st_mode & 0o777) == "0o600"
    assert not chain_anchor.anchor_path(db_path).with_suffix(".anchor.tmp").exists()


def _writer_with_faults(db_path: Path, writers: list[RecordWriter], count: int) -> int:
    writer = _start(db_path, writers)
    for n in range(count):
        assert writer.post_durable(LogEvent("test.fault", "a fault", "high", details={"n": n}))
    writer.stop()
    with RecordStore.open(db_path) as store:
        return head(store.connection)[0]


@pytest.mark.requirement("SR-058")
@pytest.mark.parametrize("cut", ["newest rows", "every row"])
def test_a_log_cut_short_with_its_head_set_back_is_found_and_kept(
        db_path: Path, writers: list[RecordWriter], cut: str) -> None:
    last = _writer_with_faults(db_path, writers, 10)
    conn = raw_connection(db_path)
    keep = last - 4 if cut == "newest rows" else 0
    conn.execute("DELETE FROM events WHERE seq > ?", (keep,))
    if keep:
        kept_hash = conn.execute("SELECT hash FROM events WHERE seq = ?", (keep,)).fetchone()[0]
    else:
        kept_hash = "0" * 64
    conn.execute("UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1", (keep, kept_hash))
    conn.close()
    # the chain alone still "verifies": this is what the anchor is for
    with RecordStore.open(db_path) as store:
        assert store.verify_chain(use_anchor_file=False).ok
        report = store.verify_chain()
    assert not report.ok and report.problem is ChainProblem.TRUNCATED
    writer = _start(db_path, writers)
    assert not writer.healthy
    assert writer.fault_code == "storage.events_lost"
    assert f"ends at event {keep}, but event {last} was written" in str(writer.fault_reason)
    assert writer.flush()
    with RecordStore.open(db_path) as store:  # what was left is kept; the finding is logged
        rows = store.connection.execute(
            "SELECT seq, code, details FROM events ORDER BY seq").fetchall()
    assert [seq for seq, _, _ in rows][:keep] == list(range(1, keep + 1))
    lost = [details for _, code, details in rows if code == "records.events_lost"]
    assert len(lost) == 1 and f'"anchor_seq":{last}' in lost[0]
    assert f'"found_seq":{keep}' in lost[0]


@pytest.mark.requirement("SR-058")
def test_the_loss_is_found_again_at_every_start_until_a_person_acknowledges_it(
        db_path: Path, writers: list[RecordWriter]) -> None:
    last = _writer_with_faults(db_path, writers, 6)
    conn = raw_connection(db_path)
    conn.execute("DELETE FROM events WHERE seq > 2")
    conn.execute("UPDATE chain_head SET seq = 2, hash = (SELECT hash FROM events WHERE seq = 2)")
    conn.close()
    first = _start(db_path, writers)
    assert first.fault_code == "storage.events_lost"
    assert first.post_durable(LogEvent("test.after", "written after the finding", "high"))
    first.stop()
    assert chain_anchor.read(chain_anchor.anchor_path(db_path)).seq == last  # evidence kept
    second = _start(db_path, writers)  # a restart does not make the loss go away
    assert second.fault_code == "storage.events_lost"
    assert second.acknowledge_fault()
    assert second.healthy
    assert second.flush()
    second.stop()
    third = _start(db_path, writers)
    assert third.healthy and third.fault is None
    with RecordStore.open(db_path) as store:
        codes = [code for (code,) in store.connection.execute("SELECT code FROM events")]
    assert codes.count("records.events_lost") == 2
    assert "records.fault_acknowledged" in codes


@pytest.mark.requirement("SR-058")
def test_a_database_deleted_with_its_wal_is_not_replaced_by_a_fresh_one(
        db_path: Path, writers: list[RecordWriter]) -> None:
    _writer_with_faults(db_path, writers, 3)
    for side in chain_anchor.side_files(db_path):
        side.unlink(missing_ok=True)
    with pytest.raises(StorageEventsLostError, match="missing, but its chain anchor says"):
        RecordStore.open(db_path)
    writer = _start(db_path, writers)
    assert writer.fault_code == "storage.events_lost"
    assert not db_path.exists()


@pytest.mark.requirement("SR-058")
def test_a_rewritten_anchored_event_is_found(db_path: Path,
                                             writers: list[RecordWriter]) -> None:
    last = _writer_with_faults(db_path, writers, 3)
    conn = raw_connection(db_path)
    conn.execute("UPDATE events SET hash = ? WHERE seq = ?", ("f" * 64, last))
    conn.execute("UPDATE chain_head SET hash = ?", ("f" * 64,))
    conn.close()
    writer = _start(db_path, writers)
    assert writer.fault_code == "storage.events_lost"
    assert "the log was rewritten" in str(writer.fault_reason)


@pytest.mark.requirement("SR-058")
def test_a_deleted_anchor_file_is_a_finding_not_a_fresh_start(
        db_path: Path, writers: list[RecordWriter]) -> None:
    _writer_with_faults(db_path, writers, 2)
    chain_anchor.anchor_path(db_path).unlink()
    writer = _start(db_path, writers)
    assert writer.fault_code == "storage.anchor_unreadable"
    assert "is missing, although the log says it was written" in str(writer.fault_reason)


@pytest.mark.requirement("SR-058", "SR-061")
@pytest.mark.parametrize("content", [b"", b"kiosk-records-anchor 1\nseq=x hash=y\n",
                                     b"\xff\xfe binary", b"kiosk-records-anchor 1\n" * 100])
def test_a_junk_anchor_file_is_refused_with_its_name_and_left_untouched(
        db_path: Path, writers: list[RecordWriter], content: bytes) -> None:
    _writer_with_faults(db_path, writers, 1)
    path = chain_anchor.anchor_path(db_path)
    path.write_bytes(content)
    before = snapshot_files(db_path.parent)
    with pytest.raises(StorageAnchorError, match=str(path)) as caught:
        chain_anchor.read(path)
    assert caught.value.code == "storage.anchor_unreadable"
    writer = _start(db_path, writers)
    assert writer.fault_code == "storage.anchor_unreadable"
    writer.stop()
    assert path.read_bytes() == before[path.name]


@pytest.mark.requirement("SR-058")
def test_the_anchor_goes_to_the_journal_socket_with_its_own_fields(tmp_path: Path) -> None:
    journal = tmp_path / "journal.socket"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(journal))
        server.settimeout(5.0)
        assert chain_anchor.to_journal(chain_anchor.Anchor(42, "a" * 64), tmp_path / "r.db",
                                       socket_path=journal)
        fields = dict(line.split("=", 1) for line in
                      server.recv(4096).decode("utf-8").splitlines())
    assert fields["KIOSK_RECORDS_ANCHOR_SEQ"] == "42"
    assert fields["KIOSK_RECORDS_ANCHOR_HASH"] == "a" * 64
    assert fields["SYSLOG_IDENTIFIER"] == "kiosk-records"
    assert "seq=42" in fields["MESSAGE"]


def test_without_a_journal_the_anchor_goes_to_the_log(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="kiosk.records.anchor")
    assert not chain_anchor.to_journal(chain_anchor.Anchor(7, "b" * 64), tmp_path / "r.db",
                                       socket_path=tmp_path / "no-journal")
    assert f"seq=7 hash={'b' * 64}" in caplog.text


def test_an_export_carries_the_anchor_that_a_later_check_uses(
        db_path: Path, writers: list[RecordWriter], tmp_path: Path) -> None:
    from kiosk.records.export import export_anchor, export_to, verify_export

    last = _writer_with_faults(db_path, writers, 4)
    with RecordStore.open(db_path) as store:
        result = export_to(store, tmp_path / "usb")
    assert verify_export(result.directory) == []
    anchored = export_anchor(result.directory)
    assert anchored is not None and anchored.seq == last
    chain_anchor.anchor_path(db_path).unlink()  # even with the device's anchor gone
    conn = raw_connection(db_path)
    conn.execute("DELETE FROM events WHERE seq >= ?", (last - 1,))
    conn.execute("UPDATE chain_head SET seq = ?, hash = (SELECT hash FROM events WHERE seq = ?)",
                 (last - 2, last - 2))
    conn.close()
    with RecordStore.open(db_path) as store:
        report = store.verify_chain(anchor=(anchored.seq, anchored.hash))
    assert not report.ok and report.problem is ChainProblem.TRUNCATED


def test_a_reader_holding_a_snapshot_delays_the_checkpoint_not_the_writer(
        db_path: Path, writers: list[RecordWriter]) -> None:
    writer = _start(db_path, writers)
    reader = RecordStore.open(db_path)
    try:
        with reader.snapshot() as conn:
            conn.execute("SELECT count(*) FROM events").fetchone()
            assert writer.post_durable(LogEvent("test.fault", "during a read", "high"),
                                       timeout_s=5.0)
        assert wait_for(lambda: writer.healthy)
    finally:
        reader.close()
