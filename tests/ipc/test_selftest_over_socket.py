"""The technician's self-test through the daemon: the commands travel over the socket unchanged,
the report answers the UI's query, a refusal arrives in the snapshot with its code."""

from __future__ import annotations

import time

import pytest

from kiosk.control.commands import RunSelfTest
from tests.ipc.daemon_rig import controlling, start_daemon, stop_daemon

pytestmark = pytest.mark.slow


def _wait(predicate, timeout_s: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.requirement("SR-169")
@pytest.mark.requirement("SR-160")
def test_a_step_runs_through_the_daemon_and_its_result_is_queried() -> None:
    daemon = start_daemon()
    try:
        with controlling(daemon) as remote:
            assert remote.query("selftest_report")["last_run"] is None
            remote.submit(RunSelfTest("boost"))

            def boost_done() -> bool:
                step = {s["step"]: s for s in remote.query("selftest_report")["steps"]}
                return step["boost"]["status"] == "passed"

            assert _wait(boost_done)
            report = remote.query("selftest_report")
            assert report["last_run"]["steps"] == ["boost"] and report["active"] is False
            remote.submit(RunSelfTest("teleport"))
            assert _wait(lambda: remote.snapshot.last_refusal is not None
                         and remote.snapshot.last_refusal.code == "selftest_unknown_step")
    finally:
        assert stop_daemon(daemon) == 0, daemon.log_text()[-3000:]
