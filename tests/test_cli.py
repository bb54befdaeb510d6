"""``kiosk --headless --sim``: the one entry point routes to the control service, which starts
(self-test, READY=1 to systemd), and stops cleanly on SIGTERM (STOPPING=1, exit 0)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from kiosk.cli import wants_headless

REPO_ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 30.0


def kiosk_command() -> list[str]:
    """The installed console script; without an installed project, the same ``main``."""
    script = Path(sys.executable).with_name("kiosk")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "kiosk.cli"]


def receive_until(sock: socket.socket, wanted: str, timeout_s: float) -> list[str]:
    """Datagrams from the service until one contains ``wanted`` (or the time runs out)."""
    messages: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            message = sock.recv(4096).decode()
        except TimeoutError:
            break
        messages.append(message)
        if wanted in message:
            break
    return messages


def test_only_the_headless_flag_routes_to_the_service() -> None:
    assert wants_headless(["--headless", "--sim"])
    assert not wants_headless(["--sim", "--fullscreen"])


def test_kiosk_headless_sim_starts_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    notify_path = tmp_path / "notify.sock"
    (tmp_path / "state").mkdir()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(notify_path))
        env = dict(os.environ, NOTIFY_SOCKET=str(notify_path), WATCHDOG_USEC="2000000",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                            os.environ.get("PYTHONPATH")])))
        env.pop("WATCHDOG_PID", None)
        process = subprocess.Popen(
            [*kiosk_command(), "--headless", "--sim", "--state-dir", str(tmp_path / "state")],
            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            started = receive_until(sock, "READY=1", START_TIMEOUT_S)
            assert any("READY=1" in m for m in started), (started, process.poll())
            pinged = receive_until(sock, "WATCHDOG=1", 5.0)
            assert any("WATCHDOG=1" in m for m in pinged), pinged
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=20)
            stopping = receive_until(sock, "STOPPING=1", 1.0)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0, stderr
    assert "self-test passed" in stderr
    assert any("STOPPING=1" in m for m in stopping), stopping
    assert (tmp_path / "state" / "records.sqlite3").is_file()  # where --state-dir said
