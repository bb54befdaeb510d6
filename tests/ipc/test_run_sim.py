"""``./run-sim``, README's first command, as a newcomer runs it: no display (it starts Xvfb), the
daemon on the simulated board and the UI connected to it; a second ``./run-sim`` on the same
state folder does not fight the first; closing the window (the UI ends) ends both."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from kiosk.ipc.client import ConnectionClosed, ControlClient
from tests.ipc.daemon_rig import REPO

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("xvfb-run") is None,
                                 reason="xvfb-run is not installed (scripts/setup.sh installs it)")]

UP_WITHIN_S = 90.0


def _env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER",
                          "KIOSK_CONTROL_SOCKET", "KIOSK_SIM_DAEMON_ARGS")}
    runtime = tmp_path / "xdg"
    runtime.mkdir()
    env.update(KIOSK_SIM_STATE_DIR=str(tmp_path / "state"), XDG_RUNTIME_DIR=str(runtime),
               KIVY_HOME=str(tmp_path / "kivy"), GPIOZERO_PIN_FACTORY="mock")
    return env


def _controlled_status(runtime: Path, deadline_s: float) -> tuple[str, dict[str, object]]:
    """(socket, status) once the daemon answers and a UI controls it."""
    while time.monotonic() < deadline_s:
        for sock in runtime.glob("kiosk-sim.*/control.sock"):
            try:
                with ControlClient(sock, timeout_s=1.0) as client:
                    status = client.query("status")
            except (OSError, ConnectionClosed, TimeoutError):
                continue
            if status.get("controlling_client"):
                return str(sock), status
        time.sleep(0.2)
    raise AssertionError(f"no daemon with a UI in {runtime} within {UP_WITHIN_S} s")


def _ui_pid(status: dict[str, object]) -> int:
    described = str(status["controlling_client"])  # "#1 pid 4242 uid 0 control 'kiosk-ui 4242'"
    return int(described.split(" pid ", 1)[1].split()[0])


def test_run_sim_starts_both_refuses_a_second_on_its_folder_and_ends_both_with_the_window(
        tmp_path: Path) -> None:
    env = _env(tmp_path)
    runtime = Path(env["XDG_RUNTIME_DIR"])
    first = subprocess.Popen([str(REPO / "run-sim")], cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
    try:
        sock, status = _controlled_status(runtime, time.monotonic() + UP_WITHIN_S)
        assert status["sim"] is True and status["state"] == "idle"
        daemon_pid = int(str(status["daemon_pid"]))
        ui_pid = _ui_pid(status)
        # A second ./run-sim on the same state folder: the daemon's refusal, its exit code 3,
        # and no window; the first goes on as it was.
        second = subprocess.run([str(REPO / "run-sim")], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 3, second.stderr
        assert "is in use by another running kiosk" in second.stderr
        assert "no window" in second.stderr
        with ControlClient(sock, timeout_s=2.0) as client:
            again = client.query("status")
        assert again["daemon_pid"] == daemon_pid and _ui_pid(again) == ui_pid
        assert len(list(runtime.glob("kiosk-sim.*"))) == 1  # the second left nothing behind
        # The window closes (the app stops, as on its close button): both end.
        os.kill(ui_pid, signal.SIGTERM)
        output, _ = first.communicate(timeout=60)
        assert first.returncode == 0, output[-3000:]
        assert not Path(f"/proc/{daemon_pid}").exists()
        assert list(runtime.glob("kiosk-sim.*")) == []  # the socket's folder is removed
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
