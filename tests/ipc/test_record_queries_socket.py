"""The log and device-record queries through the daemon (a real ``kiosk-control --sim`` process):
the UI's RemoteController gets pages, the stepwise verification and the device record; junk
arguments come back as ``invalid_query`` and the daemon answers on; a SIGTERM saves the
counters."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kiosk.control import device_record as dr
from kiosk.control.query_types import INVALID_QUERY, QueryRefused
from tests.ipc.daemon_rig import controlling, start_daemon, stop_daemon

pytestmark = pytest.mark.slow


@pytest.mark.requirement("SR-172")
def test_the_ui_reads_the_log_and_the_record_through_the_daemon(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    daemon = start_daemon("--state-dir", str(state))
    try:
        with controlling(daemon) as remote:
            deadline_s = time.monotonic() + 5.0  # routine events are committed in batches
            while remote.query("events_page")["kinds"]["decision"] == 0:
                assert time.monotonic() < deadline_s, "the self-test's event never came"
                time.sleep(0.05)
            page = remote.query("events_page", page_size=5)
            assert page["total"] >= 1 and page["rows"][0]["seq"] == page["total"]
            decisions = remote.query("events_page", kind="decision", page_size=50)
            assert decisions["total"] >= 1
            assert {row["kind"] for row in decisions["rows"]} == {"decision"}
            detail = remote.query("event_detail", seq=1)
            assert detail["seq"] == 1 and isinstance(detail["details"], dict)
            verdict = remote.query("verify_log")
            assert verdict["done"] and verdict["ok"] and verdict["anchor_seq"] >= 1
            for what, args in (("events_page", {"page": -3}), ("events_page", {"kind": "x"}),
                               ("event_detail", {"seq": "1"}),
                               ("verify_log", {"previous_hash": "zz"}),
                               ("device_record", {"x": 1}),
                               ("set_maintenance_intervals", {"calibration_days": 10})):
                with pytest.raises(QueryRefused) as refused:
                    remote.query(what, **args)
                assert refused.value.code == INVALID_QUERY, (what, refused.value)
            record = remote.query("device_record")
            assert record["serial"] == dr.SIM_SERIAL and record["counters"]["operating_h"] > 0
            changed = remote.query("set_maintenance_intervals", calibration_days=90,
                                   selftest_days=14, technician="Ivan")
            assert changed["calibration_days"] == 90
    finally:
        assert stop_daemon(daemon) == 0, daemon.log_text()[-3000:]
    saved = dr.read_checked(state / dr.COUNTERS_FILE, dr.COUNTERS_FORMAT)
    assert saved is not None and saved["operating_s"] > 0  # the SIGTERM stop saved them
    intervals = dr.read_checked(state / dr.INTERVALS_FILE, dr.INTERVALS_FORMAT)
    assert intervals is not None and intervals["selftest_days"] == 14
