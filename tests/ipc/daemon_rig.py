"""A real ``kiosk-control --sim`` process and clients of it, for the tests of tests/ipc.

The daemon runs on the wall clock in its own process, as on the device; tests talk to it only
through the socket (``ControlClient``, ``RemoteController``) and judge the safe state from the
simulated board's truth carried in the ``status`` answer.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kiosk.control.commands import Heartbeat, ProgramRequest, StartTreatment
from kiosk.control.snapshot import Snapshot, TreatmentState
from kiosk.ipc.client import ConnectionClosed, ControlClient, RemoteController
from tests.consent_version import CONSENT

REPO = Path(__file__).resolve().parents[2]
PROGRAM = ProgramRequest("face", "pigmentation", current_ma=0.6, current_stage_s=600)
PLATEAU_TIMEOUT_S = 60.0


@dataclass
class Daemon:
    proc: subprocess.Popen[bytes]
    socket: str
    log: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def monitor(self, **kwargs: object) -> ControlClient:
        return ControlClient(self.socket, role="monitor", name="test-monitor", **kwargs)  # type: ignore[arg-type]

    def status(self, **args: float) -> dict[str, object]:
        with self.monitor() as client:
            return client.query("status", **args)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def start_daemon(*extra: str, ready_timeout_s: float = 30.0, socket: str | None = None,
                 state_dir: Path | None = None) -> Daemon:
    """``kiosk-control --sim`` on a socket in a fresh directory that any user may traverse (so
    that only SO_PEERCRED decides who may connect), mode 0666 for the same reason; ``socket``
    reuses a path (a daemon restarted where the UI expects it); ``state_dir`` a state folder
    (a restart on the same one, as systemd does; default: a fresh one per run)."""
    if state_dir is not None:
        extra = (*extra, "--state-dir", str(state_dir))
    if socket is None:
        folder = tempfile.mkdtemp(prefix="kiosk-ipc-")
        os.chmod(folder, 0o755)
        path = os.path.join(folder, "control.sock")
    else:
        folder, path = os.path.dirname(socket), socket
    log = Path(folder) / f"daemon-{time.monotonic_ns()}.log"
    env = dict(os.environ, PYTHONUNBUFFERED="1", GPIOZERO_PIN_FACTORY="mock")
    env.pop("NOTIFY_SOCKET", None)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kiosk.control.daemon", "--sim", "--socket", path,
             "--socket-mode", "0666", "--ui-user", "", *extra],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    daemon = Daemon(proc, path, log)
    deadline_s = time.monotonic() + ready_timeout_s
    while time.monotonic() < deadline_s:
        if not daemon.alive():
            raise RuntimeError(f"daemon exited {proc.returncode}:\n{daemon.log_text()}")
        with contextlib.suppress(OSError, ConnectionClosed, TimeoutError), \
                daemon.monitor(timeout_s=1.0) as client:
            if client.query("selftest").get("passed"):
                return daemon
        time.sleep(0.1)
    stop_daemon(daemon)
    raise RuntimeError(f"daemon not ready in {ready_timeout_s} s:\n{daemon.log_text()}")


def stop_daemon(daemon: Daemon) -> int | None:
    if daemon.alive():
        daemon.proc.send_signal(signal.SIGTERM)
        try:
            daemon.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            daemon.proc.kill()
            daemon.proc.wait()
    return daemon.proc.returncode


class Heartbeats:
    """What the kiosk does at 15 Hz: a heartbeat on the controlling connection, from a thread."""

    def __init__(self, remote: RemoteController, period_s: float = 1 / 15) -> None:
        self.remote = remote
        self.period_s = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            self.remote.submit(Heartbeat())

    def __enter__(self) -> Heartbeats:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def wait_for(remote: RemoteController, predicate, timeout_s: float) -> Snapshot:  # type: ignore[no-untyped-def]
    deadline_s = time.monotonic() + timeout_s
    while time.monotonic() < deadline_s:
        snapshot = remote.snapshot
        if remote.live and predicate(snapshot):
            return snapshot
        time.sleep(0.02)
    raise TimeoutError(f"not reached in {timeout_s} s; last {remote.snapshot.state} "
                       f"fault {remote.snapshot.fault}")


def start_treatment(remote: RemoteController, session_id: str = "ipc-1") -> None:
    remote.submit(StartTreatment(PROGRAM, session_id, screening_cleared=True,
                                 consent_version=CONSENT))


def at_plateau(snapshot: Snapshot) -> bool:
    return snapshot.state is TreatmentState.HOLD


@contextlib.contextmanager
def controlling(daemon: Daemon, name: str = "test-ui") -> Iterator[RemoteController]:
    remote = RemoteController(daemon.socket, name=name)
    remote.start()
    try:
        if not remote.wait_connected(10.0):
            raise RuntimeError(f"no connection: {remote.last_error}")
        yield remote
    finally:
        remote.stop()
