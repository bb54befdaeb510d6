"""The daemon's flow marker (SR-111) on its own: what a start finds, what ``update`` writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kiosk.control.daemon import FLOW_MARKER_NAME, FlowMarker


@pytest.mark.requirement("SR-111")
def test_the_marker_exists_exactly_while_current_may_flow(tmp_path: Path) -> None:
    marker = FlowMarker(tmp_path)
    assert marker.left_by_previous_run is None and not marker.present
    marker.update(False)
    assert not (tmp_path / FLOW_MARKER_NAME).exists()
    marker.update(True)
    note = json.loads((tmp_path / FLOW_MARKER_NAME).read_text())
    assert note["pid"] == os.getpid()
    marker.update(True)  # no change: nothing rewritten
    marker.update(False)
    assert not (tmp_path / FLOW_MARKER_NAME).exists()
    assert FlowMarker(tmp_path).left_by_previous_run is None  # the next start finds nothing


@pytest.mark.requirement("SR-111")
def test_a_next_start_finds_what_a_dead_run_left_even_damaged(tmp_path: Path) -> None:
    FlowMarker(tmp_path).update(True)  # a run that died here
    found = FlowMarker(tmp_path)
    assert found.present and found.left_by_previous_run is not None
    assert '"pid"' in found.left_by_previous_run
    (tmp_path / FLOW_MARKER_NAME).write_bytes(b"")  # cut by a power loss mid-write
    assert FlowMarker(tmp_path).left_by_previous_run == "(empty)"
    (tmp_path / FLOW_MARKER_NAME).write_bytes(b"\xff\x00junk")
    assert FlowMarker(tmp_path).left_by_previous_run is not None
    (tmp_path / FLOW_MARKER_NAME).unlink()
    (tmp_path / FLOW_MARKER_NAME).mkdir()  # not even a file: still there, still counts
    found = FlowMarker(tmp_path)
    assert found.left_by_previous_run is not None and "unreadable" in found.left_by_previous_run


def test_a_write_that_fails_is_tried_again(tmp_path: Path, caplog: pytest.LogCaptureFixture
                                           ) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    marker = FlowMarker(folder)
    folder.rmdir()  # the folder is gone (an unmounted partition)
    marker.update(True)
    assert not marker.present and "not updated" in caplog.text
    folder.mkdir()
    marker.update(True)  # the next call of the main thread's 20 ms round
    assert marker.present and (folder / FLOW_MARKER_NAME).exists()
