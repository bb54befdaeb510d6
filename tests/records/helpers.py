"""Helpers shared by the records tests (imported as ``tests.records.helpers``)."""

from __future__ import annotations

import contextlib
import errno
import sqlite3
from pathlib import Path

from kiosk.records.events import LogEvent, stamp
from kiosk.records.store import RecordStore


def append(store: RecordStore, count: int, code: str = "test.event", durable: bool = False,
           start_mono_s: float = 0.0) -> int:
    """Append ``count`` plain events through the store; returns the last sequence number."""
    events = [stamp(LogEvent(code, f"event {i}", details={"i": i}), start_mono_s + i * 0.01,
                    1_790_000_000.0 + i) for i in range(count)]
    return store.append_events(events, durable=durable)


def raw_connection(path: Path) -> sqlite3.Connection:
    """A plain connection as a tamperer would open it: no checks, append-only triggers dropped."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS events_are_append_only_update")
    conn.execute("DROP TRIGGER IF EXISTS events_are_append_only_delete")
    return conn


def fill_disk(folder: Path) -> Path:
    """Write a filler file until the file system is full; delete it to free the space."""
    filler = folder / "filler.bin"
    block = b"\xa5" * 4096
    with filler.open("wb", buffering=0) as handle:
        with contextlib.suppress(OSError):
            while True:
                handle.write(block)
        # top up byte by byte: the last partial block
        with contextlib.suppress(OSError):
            while True:
                if handle.write(b"\xa5") == 0:
                    break
    probe = folder / "probe"
    try:
        probe.write_bytes(b"x" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
        probe.unlink(missing_ok=True)
    else:
        probe.unlink()
        raise AssertionError(f"{folder} is not full")
    return filler


def snapshot_files(folder: Path) -> dict[str, bytes]:
    """Every file's bytes in ``folder``: to show a failed open changed nothing."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
