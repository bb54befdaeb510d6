"""Runs the scenario files of ``tests/scenarios/`` through the real ``kiosk-scenario`` command.

Each file runs once per test session, in a subprocess, two at a time (this machine has two cores);
the scenario tests and the fault-on-board tests both read the same results. Asking for one file
runs it first and starts the others in the background, so a single selected test does not wait
for the whole set.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SCENARIO_DIR = REPO_ROOT / "tests" / "scenarios"
WORKERS = 2
TIMEOUT_S = 600


def scenario_files() -> list[Path]:
    return sorted(SCENARIO_DIR.glob("*.toml"))


def scenario_command() -> list[str]:
    """The installed console script (``pip install -e .`` puts it next to the interpreter);
    without an installed project, the same ``main`` through ``python -m``."""
    script = Path(sys.executable).with_name("kiosk-scenario")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "kiosk.scenario"]


@dataclass(frozen=True)
class Outcome:
    path: Path
    returncode: int
    stdout: str
    stderr: str

    @property
    def summary(self) -> dict[str, Any]:
        return dict(json.loads(self.stdout))


def run_command(path: Path, *extra: str) -> Outcome:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                      env.get("PYTHONPATH", "")]))
    process = subprocess.Popen([*scenario_command(), str(path), *extra], cwd=REPO_ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _running.add(process)
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT_S)
    finally:
        _running.discard(process)
    return Outcome(path, process.returncode, stdout, stderr)


class _Runs:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done: dict[Path, Outcome] = {}
        self._events: dict[Path, threading.Event] = {}
        self._queue: queue.Queue[Path] = queue.Queue()
        self._started = False

    def result(self, path: Path) -> Outcome:
        with self._lock:
            if path not in self._events:
                self._events[path] = threading.Event()
                self._queue.put(path)
            if not self._started:
                self._started = True
                for other in scenario_files():
                    if other not in self._events:
                        self._events[other] = threading.Event()
                        self._queue.put(other)
                for index in range(WORKERS):
                    threading.Thread(target=self._work, name=f"scenario-{index}",
                                     daemon=True).start()
            event = self._events[path]
        event.wait(TIMEOUT_S)
        return self._done[path]

    def _work(self) -> None:
        while True:
            path = self._queue.get()
            try:
                outcome = run_command(path)
            except Exception as error:  # reported by the test that asks for this file
                outcome = Outcome(path, -1, "", f"could not run: {error!r}")
            self._done[path] = outcome
            self._events[path].set()


_running: set[subprocess.Popen[str]] = set()
_runs = _Runs()


def scenario_result(name: str) -> Outcome:
    """The outcome of ``tests/scenarios/<name>.toml`` (run once per session)."""
    return _runs.result(SCENARIO_DIR / f"{name}.toml")


@atexit.register
def _kill_leftovers() -> None:
    for process in list(_running):
        process.kill()
