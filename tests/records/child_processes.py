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


def durable_faults_then_wait(db_path: Path) -> None:
    """Commit 20 high-severity events through ``post_durable``, say ``DONE``, wait to be
    killed (issue 12 item 4: the WAL is damaged after the kill)."""
    from kiosk.records.events import LogEvent
    from kiosk.records.writer import RecordWriter

    writer = RecordWriter(db_path)
    if not writer.start():
        print(f"FAULT {writer.fault}", flush=True)
        return
    for n in range(20):
        if not writer.post_durable(LogEvent("test.fault", "a fault", "high", details={"n": n}),
                                   timeout_s=10.0):
            print(f"NOT DURABLE {n}", flush=True)
            return
    print("DONE", flush=True)
    time.sleep(600)


def progress_until_killed(db_path: Path) -> None:
    """A treatment in progress: the UI's session record is open, the control side logs
    ``dose_progress`` through the writer's non-blocking ``post()`` (as the control loop does).
    Prints ``S <session_id> <client_id> <control_id>`` once, then ``P <dose>`` each time a
    progress event is committed, until SIGKILLed."""
    from kiosk.records.clients import ClientRegistry
    from kiosk.records.events import LogEvent
    from kiosk.records.sessions import ProgramChoice, SessionBook
    from kiosk.records.store import RecordStore
    from kiosk.records.writer import RecordWriter

    store = RecordStore.open(db_path)
    client = ClientRegistry(store).create_client("Kill Test")
    control_id = f"ctl{os.getpid()}"
    book = SessionBook(store)
    session_id = book.start_session(client.client_id, "Eva", control_session_id=control_id)
    book.record_screening(session_id, {"pacemaker": False})
    book.record_program(session_id, ProgramChoice(
        "face", "pigmentation", "face.pigmentation", "1", "vitamin C (-)", "negative",
        "face.roller", 0.6))
    writer = RecordWriter(db_path, batch_interval_s=60.0, batch_max_events=1000)
    if not writer.start():
        print(f"FAULT {writer.fault}", flush=True)
        return
    print(f"S {session_id} {client.client_id} {control_id}", flush=True)
    dose = 0.0
    while True:
        dose = round(dose + 0.1, 3)
        before = writer.last_committed_seq
        writer.post(LogEvent("state.tick", "routine", details={"dose": dose},
                             session_id=control_id))
        writer.post(LogEvent("dose_progress", "Dose so far.", "info",
                             details={"session_id": control_id, "program_id": "face.pigmentation",
                                      "area": "face", "dose_ma_min": dose,
                                      "total_dose_ma_min": dose, "peak_ma": 0.61,
                                      "elapsed_s": dose * 100.0, "state": "hold",
                                      "why": "interval"},
                             session_id=control_id))
        deadline = time.monotonic() + 5.0
        while writer.last_committed_seq < before + 2 and time.monotonic() < deadline:
            time.sleep(0.0005)
        if writer.last_committed_seq >= before + 2:
            print(f"P {dose}", flush=True)
        time.sleep(0.003)


if __name__ == "__main__":
    mode, path = sys.argv[1], Path(sys.argv[2])
    {"disk_refuses": write_until_the_disk_refuses, "append_until_killed": append_until_killed,
     "durable_faults_then_wait": durable_faults_then_wait,
     "progress_until_killed": progress_until_killed}[mode](path)
