"""The control daemon's whole address space fits the unit's LimitMEMLOCK, with room to spare.

The daemon calls ``mlockall(MCL_CURRENT | MCL_FUTURE)``, which locks every mapping, glibc's
reserved malloc arenas (64 MiB each on 64-bit, one per thread by default) included; with
``MCL_CURRENT`` it is refused outright when the address space exceeds RLIMIT_MEMLOCK, and with
``MCL_FUTURE`` any later mapping over the limit fails (a thread that cannot start). So the real
daemon runs here on the simulated board with the malloc settings of kiosk-control.service, and
its peak address space (``VmPeak``) after READY must be at most half of ``LimitMEMLOCK=``.
Measured on x86_64 (the Pi's aarch64 maps the same libraries): daemon with its socket, 6
threads, 80 MB with MALLOC_ARENA_MAX=1 against 408 MB with glibc's default.

A memory figure, not a time: deterministic enough to assert (threads and libraries, not load).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.systemd.unit_files import CONTROL

REPO = Path(__file__).resolve().parents[2]
READY_WITHIN_S = 30.0
SETTLE_S = 2.0

DAEMON = ["-m", "kiosk.control.daemon", "--sim"]  # what kiosk-control.service runs

pytestmark = pytest.mark.slow


def _bytes(value: str) -> int:
    match = re.fullmatch(r"(\d+)([KMG]?)", value)
    assert match, f"not a simple size: {value}"
    return int(match.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[match.group(2)]


def _unit_malloc_environment() -> dict[str, str]:
    pairs = (entry.split("=", 1) for entry in CONTROL["Service"]["Environment"])
    return {key: value for key, value in pairs if key.startswith("MALLOC_")}


def _vm_peak_bytes(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmPeak:\s+(\d+) kB$", status, flags=re.MULTILINE)
    assert match, status
    return int(match.group(1)) * 1024


@pytest.mark.requirement("SR-084")
def test_the_daemons_address_space_fits_half_the_units_memlock_limit(tmp_path, safety_figure):
    limit_bytes = _bytes(CONTROL["Service"]["LimitMEMLOCK"][0])
    malloc_env = _unit_malloc_environment()
    assert malloc_env, "kiosk-control.service sets no MALLOC_ARENA_MAX: mlockall locks ~400 MB"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(0.2)
    env = dict(os.environ, **malloc_env, NOTIFY_SOCKET=str(tmp_path / "notify.sock"),
               PYTHONPATH=str(REPO), KIOSK_CONTROL_SOCKET=str(tmp_path / "control.sock"))
    env.pop("WATCHDOG_USEC", None)
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o700)  # the unit's StateDirectory= exists before the daemon starts
    child = subprocess.Popen([sys.executable, *DAEMON, "--state-dir", str(state_dir)],
                             cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        ready = False
        deadline_s = time.monotonic() + READY_WITHIN_S
        while not ready and time.monotonic() < deadline_s and child.poll() is None:
            try:
                ready = "READY=1" in notify.recv(4096).decode()
            except TimeoutError:
                continue
        if not ready:
            child.kill()
            pytest.fail(f"the daemon never said READY=1:\n{child.communicate()[0][-3000:]}")
        time.sleep(SETTLE_S)
        peak_bytes = _vm_peak_bytes(child.pid)
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            output, _ = child.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            output, _ = child.communicate()
        notify.close()

    safety_figure("daemon_address_space_mb", peak_bytes / 1e6, "MB", limit=limit_bytes / 2e6)
    assert peak_bytes * 2 <= limit_bytes, (
        f"VmPeak {peak_bytes / 1e6:.1f} MB: LimitMEMLOCK={limit_bytes / 1e6:.0f} MB leaves less "
        f"than a factor 2\n{output}")
