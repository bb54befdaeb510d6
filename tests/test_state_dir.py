"""The state folder: fresh per simulator run, never created, one running instance per folder.

The two-instance tests run the real entry points as processes, as two people on one machine
would: the first holds the folder, the second (headless or with a window) is refused with exit
code 3 naming the folder and the holder, and the first keeps running untouched.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from kiosk.entry import exit_codes
from kiosk.entry.exit_codes import Busy
from kiosk.entry.state_dir import LOCK_FILE_NAME, choose_state_dir, claim_state_dir
from kiosk.files import BadInput

REPO_ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 120.0  # two services starting at once on a loaded 2-core machine


def kiosk_command() -> list[str]:
    script = Path(sys.executable).with_name("kiosk")
    return [str(script)] if script.exists() else [sys.executable, "-m", "kiosk.cli"]


def environment(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, TMPDIR=str(tmp_path), KIVY_NO_ARGS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                        os.environ.get("PYTHONPATH")])))
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "KIOSK_BOARD_CONFIG", "KIOSK_STATE_DIR"):
        env.pop(name, None)
    return env


class Service:
    """``kiosk --headless --sim`` in the background; a thread collects its stderr lines, and
    :meth:`wait_running` waits for the self-test's verdict among them."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [*kiosk_command(), "--headless", "--sim", *args], cwd=tmp_path,
            env=environment(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)
        self.lines: list[str] = []
        self._running = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))
            if "self-test passed" in line:
                self._running.set()

    def wait_running(self) -> None:
        if not self._running.wait(START_TIMEOUT_S):
            raise AssertionError(f"service did not start: {self.lines} "
                                 f"(exit {self.process.poll()})")

    def folder(self) -> Path:
        """The folder named in the start-up line."""
        for line in self.lines:
            if "state folder" in line:
                return Path(line.split(": ", 2)[2].split(" (")[0])
        raise AssertionError(f"no state folder line in {self.lines}")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self._reader.join(timeout=10)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        self._reader.join(timeout=10)


def run_kiosk(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*kiosk_command(), *args], cwd=tmp_path, env=environment(tmp_path),
                          capture_output=True, text=True, timeout=60, check=False)


# ---------------------------------------------------------------------------- in-process

@pytest.mark.requirement("SR-067")
def test_a_second_claim_of_a_held_folder_is_refused_naming_the_holder(tmp_path: Path) -> None:
    with claim_state_dir(tmp_path) as first:
        assert first.held
        with pytest.raises(Busy) as caught:
            claim_state_dir(tmp_path)
        message = str(caught.value)
        assert message.startswith(f"state folder {tmp_path} is in use by another running "
                                  f"kiosk (process {os.getpid()})")
        assert "\n" not in message
        assert first.held  # the refused claim did not touch the holder's lock
    with claim_state_dir(tmp_path) as again:  # released: free again
        assert again.held
    assert stat.S_IMODE((tmp_path / LOCK_FILE_NAME).stat().st_mode) == 0o600


@pytest.mark.requirement("SR-067")
def test_a_missing_state_folder_is_refused_and_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "data" / "kiosk"
    with pytest.raises(BadInput) as caught:
        claim_state_dir(missing)
    assert str(caught.value).startswith(f"state folder {missing} does not exist; it is not "
                                        f"created")
    assert not missing.exists() and not missing.parent.exists()
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(BadInput, match="is not a folder"):
        claim_state_dir(a_file)


def test_each_simulator_run_gets_its_own_fresh_private_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    first = choose_state_dir(None, sim=True)
    second = choose_state_dir(None, sim=True)
    assert first.fresh and second.fresh
    assert first.path != second.path
    assert first.path.parent == tmp_path == second.path.parent
    assert stat.S_IMODE(first.path.stat().st_mode) == 0o700
    assert choose_state_dir(tmp_path, sim=True).path == tmp_path  # --state-dir wins
    monkeypatch.setenv("KIOSK_STATE_DIR", str(tmp_path / "device"))
    device = choose_state_dir(None, sim=False)
    assert device.path == tmp_path / "device" and not device.fresh
    assert not device.path.exists()  # chosen, not created


# ---------------------------------------------------------------------------- processes

@pytest.mark.slow
@pytest.mark.requirement("SR-067")
def test_two_instances_on_one_folder_the_second_is_refused_and_the_first_runs_on(
        tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    first = Service(tmp_path, "--state-dir", str(folder))
    try:
        first.wait_running()
        second = run_kiosk(tmp_path, "--headless", "--sim", "--state-dir", str(folder))
        window = run_kiosk(tmp_path, "--sim", "--state-dir", str(folder))
        assert first.process.poll() is None  # the holder is untouched
        assert first.stop() == exit_codes.OK, first.lines
    finally:
        first.kill()
    expected = (f"state folder {folder} is in use by another running kiosk "
                f"(process {first.process.pid}); one folder serves one instance")
    for prog, refused in (("kiosk --headless", second), ("kiosk", window)):
        assert refused.returncode == exit_codes.BUSY, refused.stderr
        assert "Traceback" not in refused.stderr
        assert refused.stderr.strip().splitlines()[-1].startswith(f"{prog}: {expected}")
    assert window.stderr.strip().splitlines()[0] == f"kiosk: state folder: {folder}"
    assert len(window.stderr.strip().splitlines()) == 2  # refused before Kivy said a word
    assert "self-test" not in second.stderr  # the second never touched the board or records
    assert (folder / "records.sqlite3").is_file()


@pytest.mark.slow
@pytest.mark.requirement("SR-067")
def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    first = Service(tmp_path, "--state-dir", str(folder))
    try:
        first.wait_running()
        with pytest.raises(Busy):
            claim_state_dir(folder)
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
    finally:
        first.kill()
    with claim_state_dir(folder) as lock:  # the kernel let go with the process
        assert lock.held
        assert (folder / LOCK_FILE_NAME).read_text().strip() == str(os.getpid())


@pytest.mark.slow
@pytest.mark.requirement("SR-067")
def test_two_simulators_without_state_dir_each_get_a_fresh_folder(tmp_path: Path) -> None:
    services = [Service(tmp_path), Service(tmp_path)]
    try:
        for service in services:
            service.wait_running()
        folders = [service.folder() for service in services]
        codes = [service.stop() for service in services]
    finally:
        for service in services:
            service.kill()
    assert codes == [exit_codes.OK, exit_codes.OK]
    assert folders[0] != folders[1]
    for folder in folders:
        assert folder.parent == tmp_path and folder.name.startswith("kiosk-sim-")
        assert (folder / "records.sqlite3").is_file()  # each run's records in its own folder
    assert "(fresh, kept after exit; --state-dir DIR to choose one)" in services[0].lines[0]


@pytest.mark.requirement("SR-067")
@pytest.mark.requirement("SR-066")
def test_a_missing_state_dir_is_refused_by_both_entry_points(tmp_path: Path) -> None:
    missing = tmp_path / "typo"
    for prog, args in (("kiosk --headless", ("--headless", "--sim")), ("kiosk", ("--sim",))):
        ran = run_kiosk(tmp_path, *args, "--state-dir", str(missing))
        assert ran.returncode == exit_codes.BAD_INPUT, ran.stderr
        assert "Traceback" not in ran.stderr
        assert ran.stderr.strip().splitlines()[-1].startswith(
            f"{prog}: state folder {missing} does not exist; it is not created")
    assert not missing.exists()
