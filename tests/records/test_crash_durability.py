"""Power-loss stand-in: a process writing through the real writer thread is killed with SIGKILL
at random moments, many times over the same database. Everything it reported committed must be
there afterwards, and the hash chain must verify across all the crashes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.records.store import RecordStore

REPO_ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).parent / "child_processes.py"
ITERATIONS = int(os.environ.get("RECORDS_KILL_ITERATIONS", "30"))


def _run_and_kill(db_path: Path, delay_s: float) -> tuple[int, set[str]]:
    """One child, killed ``delay_s`` after it is ready; returns what it reported committed."""
    child = subprocess.Popen(
        [sys.executable, str(CHILD), "append_until_killed", str(db_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert child.stdout is not None
    first = child.stdout.readline()
    if first != "READY\n":
        child.kill()
        _, err = child.communicate(timeout=10)
        pytest.fail(f"child did not start: {first!r} {err}")
    time.sleep(delay_s)
    child.send_signal(signal.SIGKILL)
    out, _ = child.communicate(timeout=10)
    assert child.returncode == -signal.SIGKILL
    committed_seq = 0
    durable: set[str] = set()
    for line in out.splitlines(keepends=True):
        if not line.endswith("\n"):
            continue  # cut mid-line by the kill: it was never fully reported
        kind, _, value = line.strip().partition(" ")
        if kind == "C":
            committed_seq = max(committed_seq, int(value))
        elif kind == "D":
            durable.add(value)
    return committed_seq, durable


@pytest.mark.requirement("SR-041")
def test_everything_committed_before_a_sigkill_is_present_and_the_chain_verifies(
        db_path: Path) -> None:
    rng = random.Random(20261125)  # reproducible kill points
    reported_seq = 0
    reported_durable: set[str] = set()
    for iteration in range(ITERATIONS):
        # mostly short runs (kills during start-up and early commits), some longer ones
        delay_s = rng.choice([0.0, rng.uniform(0.0, 0.02), rng.uniform(0.0, 0.15)])
        committed_seq, durable = _run_and_kill(db_path, delay_s)
        reported_seq = max(reported_seq, committed_seq)
        reported_durable |= durable
        with RecordStore.open(db_path) as store:  # what the device does at the next power-up
            report = store.verify_chain()
            stored = {f"{d['pid']}:{d['n']}" for (text,) in store.connection.execute(
                "SELECT details FROM events WHERE code = 'test.safety'")
                for d in [json.loads(text)]}
        assert report.ok, f"iteration {iteration}: {report.message}"
        assert report.last_seq >= reported_seq, f"iteration {iteration}: committed rows lost"
        assert reported_durable <= stored, f"iteration {iteration}: durable events lost"
    assert reported_seq > 0 and reported_durable  # the children did write before dying
