"""How long the program screen's day-budget count holds the UI thread when the UI is a client of
the daemon (SR-180): ``RecordsView.delivered_today`` for a client with ``--sessions`` sessions
today asks the daemon's ``session_progress`` once per session through the socket.

A real ``kiosk-control --sim`` process on a state folder whose records hold, besides
``--events`` routine events, the ``dose_progress`` events of those sessions (written before the
daemon starts: the query reads durable rows, it does not care who wrote them); the UI's records
are another database with the client and the sessions (left open: marked interrupted and healed
from the daemon when the view opens, as after a crash). Prints the median and max of
``--repeat`` counts, with the daemon as source and without (the UI's records alone), and of one
``session_progress`` query.

Usage: .venv/bin/python bench/bench_delivered_today.py [--sessions 5] [--repeat 50]
       [--events 20000]
Real time, on this machine (shared, not a Pi): run it on the device for the figures that count.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.control.catalogue import load_catalogue
from kiosk.ipc.client import ConnectionClosed, ControlClient, RemoteController
from kiosk.records.clients import ClientRegistry
from kiosk.records.events import LogEvent, stamp
from kiosk.records.sessions import ProgramChoice, SessionBook
from kiosk.records.store import RecordStore, records_path
from kiosk.screens.flow import TreatmentFlow
from kiosk.screens.records_view import ControlProgress, RecordsView

REPO = Path(__file__).resolve().parents[1]
FACE_PAD = ProgramChoice("face", "pigmentation", "face.pigmentation", "1", "vitamin C",
                         "negative", "pad_15", 0.6)


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times), max(times)


def daemon_records(folder: Path, sessions: int, events: int) -> None:
    wall_s = time.time()
    with RecordStore.open(records_path(folder)) as store:
        batch = []
        for i in range(events):
            batch.append(stamp(LogEvent(f"service.bench_{i % 7}", f"bench event {i}",
                                        details={"i": i}, session_id=f"other-{i // 50}"),
                               i * 0.01, wall_s - events + i))
            if len(batch) == 1000:
                store.append_events(batch, durable=False)
                batch = []
        for n in range(sessions):
            for k in range(6):  # a session's progress: every 10 s and at its state changes
                batch.append(stamp(LogEvent("dose_progress", "Dose so far.", details={
                    "session_id": f"ctl-{n}", "dose_ma_min": 0.5 * n + 0.1 * k,
                    "elapsed_s": 10.0 * k, "peak_ma": 0.6}, session_id=f"ctl-{n}"),
                    events * 0.01 + n + k * 0.01, wall_s + n + k * 0.01))
        store.append_events(batch, durable=True)


def ui_records(folder: Path, sessions: int) -> str:
    with RecordStore.open(records_path(folder)) as store:
        client = ClientRegistry(store).create_client("Anna K").client_id
        book = SessionBook(store)
        for n in range(sessions):
            sid = book.start_session(client, "Eva", control_session_id=f"ctl-{n}")
            book.record_screening(sid, {"pacemaker": False})
            book.record_program(sid, FACE_PAD)
    return client


def start_daemon(state: Path, socket_path: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", GPIOZERO_PIN_FACTORY="mock")
    env.pop("NOTIFY_SOCKET", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk.control.daemon", "--sim", "--socket", socket_path,
         "--socket-mode", "0666", "--ui-user", "", "--state-dir", str(state)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline_s = time.monotonic() + 60.0
    while time.monotonic() < deadline_s:
        if proc.poll() is not None:
            raise RuntimeError(f"the daemon exited {proc.returncode}")
        with contextlib.suppress(OSError, ConnectionClosed, TimeoutError), \
                ControlClient(socket_path, timeout_s=1.0) as client:
            if client.query("selftest").get("passed"):
                return proc
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the daemon was not ready in 60 s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    catalogue = load_catalogue()
    with tempfile.TemporaryDirectory() as folder:
        control, ui = Path(folder) / "control", Path(folder) / "ui"
        control.mkdir()
        ui.mkdir()
        daemon_records(control, args.sessions, args.events)
        client_id = ui_records(ui, args.sessions)
        socket_path = str(Path(folder) / "control.sock")
        proc = start_daemon(control, socket_path)
        remote = RemoteController(socket_path, name="bench")
        try:
            remote.start()
            assert remote.wait_connected(10.0)
            view = RecordsView.open(records_path(ui), progress_source=ControlProgress(remote))
            alone = RecordsView.open(records_path(ui))
            assert isinstance(view, RecordsView) and isinstance(alone, RecordsView)
            flow = TreatmentFlow(client_id=client_id, area="face")
            today = datetime.date.today()
            got = view.delivered_today(flow, catalogue, today)
            assert got is not None, "the daemon did not answer"
            expected = sum(0.5 * n + 0.5 for n in range(args.sessions))
            assert abs(got[0] - expected) < 1e-6, (got, expected)
            print(f"{args.sessions} sessions today, {args.events} other events in the daemon's"
                  f" log; day's dose {got[0]:.2f} mA·min; {args.repeat} runs each")
            for name, call in (
                    ("delivered_today through the daemon",
                     lambda: view.delivered_today(flow, catalogue, today)),
                    ("delivered_today, UI records alone",
                     lambda: alone.delivered_today(flow, catalogue, today)),
                    ("one session_progress query",
                     lambda: remote.query("session_progress", session_id="ctl-0"))):
                p50, worst = timed(call, args.repeat)
                print(f"  {name:38s} p50 {p50:7.2f} ms  max {worst:7.2f} ms")
            view.close_store()
            alone.close_store()
        finally:
            remote.stop()
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
