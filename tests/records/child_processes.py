"""Programs the records tests run in a child process (``python child_processes.py MODE DB``).

A child is needed where the fault would harm the test runner itself: a file size limit
(``RLIMIT_FSIZE``, which makes the disk refuse writes), or being killed with SIGKILL.
"""

from __future__ import annotations

import os
import resource
import signal
import sys
import time
from pathlib import Path


def write_until_the_disk_refuses(db_path: Path) -> None:
    """Cap the file size just above what exists, then write: prints the error class and code."""
    from kiosk.records.clients import ClientRegistry
    from kiosk.records.errors import StorageError
    from kiosk.records.events import LogEvent
    from kiosk.records.store import RecordStore
    from kiosk.records.writer import RecordWriter

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG from write(), not a dead process
    store = RecordStore.open(db_path)
    sizes = [p.stat().st_size for p in db_path.parent.iterdir() if p.is_file()]
    resource.setrlimit(resource.RLIMIT_FSIZE, (max(sizes) + 64 * 1024, resource.RLIM_INFINITY))
    registry = ClientRegistry(store)
    try:
        for _ in range(100_000):
            registry.create_client("x" * 80)
    except StorageError as exc:
        print(f"store {type(exc).__name__} {exc.code}", flush=True)
    store.close()
    # a queue too large to fill: the one fault here is the disk refusing writes
    writer = RecordWriter(db_path, retry_interval_s=0.05, queue_capacity=200_000)
    writer.start()
    for i in range(100_000):
        writer.post(LogEvent("test.fill", "filling the disk", details={"i": i, "pad": "y" * 200}))
        if not writer.storage_working:
            break
        if i % 100 == 0:
            time.sleep(0.001)
    fault = writer.fault
    print(f"writer {fault.code if fault else None}", flush=True)
    writer.stop(timeout_s=2.0)


def append_until_killed(db_path: Path) -> None:
    """Append through the real writer; report on stdout what is committed, until SIGKILLed.

    ``C <seq>``: every event up to ``seq`` is committed. ``D <n>``: the safety event with
    details n was committed durably (post_durable returned True).
    """
    from kiosk.records.events import LogEvent
    from kiosk.records.writer import RecordWriter

    out = sys.stdout

    def committed(last_seq: int) -> None:
        out.write(f"C {last_seq}\n")
        out.flush()

    writer = RecordWriter(db_path, batch_max_events=64, batch_interval_s=0.01,
                          on_commit=committed)
    if not writer.start():
        print(f"FAULT {writer.fault}", flush=True)
        return
    print("READY", flush=True)
    n = 0
    pid = os.getpid()
    while True:
        for i in range(20):
            writer.post(LogEvent("test.tick", "routine event", details={"pid": pid, "i": i}))
        n += 1
        if writer.post_durable(LogEvent("test.safety", "safety event", "high",
                                        details={"pid": pid, "n": n}), timeout_s=5.0):
            print(f"D {pid}:{n}", flush=True)
        time.sleep(0.002)


if __name__ == "__main__":
    mode, path = sys.argv[1], Path(sys.argv[2])
    {"disk_refuses": write_until_the_disk_refuses, "append_until_killed": append_until_killed}[
        mode](path)
