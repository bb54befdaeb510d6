"""The real headless entry point talks to systemd the way ``kiosk.service`` expects.

``python -m kiosk.control.service --headless --sim`` runs the control service on the simulated
board against a temporary ``NOTIFY_SOCKET`` (a datagram socket this test owns, as systemd's is)
with ``WATCHDOG_USEC`` = 1 s, the unit's ``WatchdogSec=1s``. Expected: ``READY=1`` first (after
the self-test), then ``WATCHDOG=1`` pings; when the control loop is stalled by the injected fault
``loop_stall`` (the next bus transaction blocks for 4 s), the pings stop for longer than the
watchdog period, which is exactly when systemd would abort the process; SIGTERM then ends it
cleanly with ``STOPPING=1``.

This is a real process on the wall clock. The assertions are about order and about a silence
far longer than any scheduling hiccup (4 s stall against a 1 s watchdog), never about how fast
something happened.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WATCHDOG_S = 1.0  # kiosk.service: WatchdogSec=1s
STALL_AT_S = 3.0
STALL_MS = 4000
DEADLINE_S = 30.0

pytestmark = pytest.mark.slow


def _messages(sock: socket.socket, until_s: float) -> list[tuple[float, str]]:
    received: list[tuple[float, str]] = []
    sock.settimeout(0.1)
    while time.monotonic() < until_s:
        try:
            data = sock.recv(4096)
        except TimeoutError:
            continue
        received.append((time.monotonic(), data.decode()))
    return received


def _longest_silence_s(pings: list[float]) -> float:
    return max((later - earlier for earlier, later in itertools.pairwise(pings)),
               default=0.0)


@pytest.mark.requirement("SR-034")
def test_ready_then_watchdog_pings_which_stop_while_the_loop_is_stalled(tmp_path):
    notify_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify_path))
    env = dict(os.environ, NOTIFY_SOCKET=str(notify_path), WATCHDOG_USEC=str(int(WATCHDOG_S * 1e6)),
               PYTHONPATH=str(REPO))
    env.pop("WATCHDOG_PID", None)
    child = subprocess.Popen(
        [sys.executable, "-m", "kiosk.control.service", "--headless", "--sim",
         "--inject", f"loop_stall:ms={STALL_MS}@{STALL_AT_S}"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        started_s = time.monotonic()
        received = _messages(sock, started_s + STALL_AT_S + STALL_MS / 1000.0 + 1.0)
        listened_until_s = time.monotonic()
        child.send_signal(signal.SIGTERM)
        received += _messages(sock, time.monotonic() + 3.0)
        output, _ = child.communicate(timeout=DEADLINE_S)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
        sock.close()

    texts = [text for _, text in received]
    ready_index = next((i for i, text in enumerate(texts) if "READY=1" in text), None)
    assert ready_index is not None, f"no READY=1; got {texts}\n{output}"
    assert not any("WATCHDOG=1" in text for text in texts[:ready_index]), "ping before READY"

    pings = [at_s for at_s, text in received if "WATCHDOG=1" in text]
    stall_from_s = started_s + STALL_AT_S
    before_stall = [at_s for at_s in pings if at_s < stall_from_s]
    assert len(before_stall) >= 2, f"healthy loop did not ping: {texts}\n{output}"

    # systemd aborts the process once no ping came for WatchdogSec: the stall must produce that
    # (the silence may last until we stop listening: a stalled loop need not come back).
    observed = [p for p in pings if p < listened_until_s] + [listened_until_s]
    assert _longest_silence_s(observed) > 2 * WATCHDOG_S, \
        f"pings went on through the stall: {pings}"

    assert child.returncode == 0, output
    assert any("STOPPING=1" in text for text in texts), texts
