"""Issue 12 item 5 (records half): the dose delivered before a crash is known (H-16, SR-059).

Before the fix a SIGKILL mid-treatment left the interrupted session with ``dose_ma_min`` NULL.
The control core logs ``dose_progress`` (details ``session_id``, ``dose_ma_min``) every 10 s and
at every state change; the records commit it durably at once and take the interrupted
session's dose from the last one, in ``mark_interrupted`` and in the history queries.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.records.clients import ClientRegistry
from kiosk.records.events import LogEvent, stamp
from kiosk.records.sessions import (
    ProgramChoice,
    SessionBook,
    SessionStatus,
    SessionSummary,
    last_progress,
)
from kiosk.records.store import RecordStore
from tests.records.helpers import raw_connection

REPO_ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).parent / "child_processes.py"
PROGRAM = ProgramChoice("face", "pigmentation", "face.pigmentation", "1", "vitamin C (-)",
                        "negative", "face.roller", 0.6)


def _progress(store: RecordStore, control_id: str | None, dose: object,
              details_id: object = None, elapsed_s: object = None, wall_s: float = 1.79e9,
              code: str = "dose_progress", peak_ma: object = None) -> None:
    details: dict[str, object] = {"dose_ma_min": dose}
    if peak_ma is not None:
        details["peak_ma"] = peak_ma
    if details_id is not None:
        details["session_id"] = details_id
    if elapsed_s is not None:
        details["elapsed_s"] = elapsed_s
    event = LogEvent(code, "Dose so far.", details=details, session_id=control_id)
    store.append_events([stamp(event, 1.0, wall_s)], durable=True)


def _open_session(store: RecordStore, control_id: str | None) -> tuple[str, str]:
    client = ClientRegistry(store).create_client("Dose Test")
    book = SessionBook(store)
    session_id = book.start_session(client.client_id, "Eva", control_session_id=control_id)
    book.record_screening(session_id, {"pacemaker": False})
    book.record_program(session_id, PROGRAM)
    return session_id, client.client_id


@pytest.mark.requirement("SR-059")
def test_a_sigkill_mid_treatment_leaves_the_dose_of_the_last_progress_event(
        db_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, str(CHILD), "progress_until_killed", str(db_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert child.stdout is not None
    first = child.stdout.readline()
    if not first.startswith("S "):
        child.kill()
        pytest.fail(f"child did not start: {first!r} {child.communicate(timeout=10)[1]}")
    _, session_id, client_id, _control_id = first.split()
    reported: list[float] = []
    deadline = time.monotonic() + 20.0
    while len(reported) < 15 and time.monotonic() < deadline:  # mid-progress
        line = child.stdout.readline()
        if line.startswith("P "):
            reported.append(float(line.split()[1]))
    child.send_signal(signal.SIGKILL)
    out, err = child.communicate(timeout=10)
    assert child.returncode == -signal.SIGKILL
    reported += [float(line.split()[1]) for line in out.splitlines(keepends=True)
                 if line.startswith("P ") and line.endswith("\n")]
    assert len(reported) >= 15, err
    with RecordStore.open(db_path) as store:  # the next start
        book = SessionBook(store)
        assert book.mark_interrupted() == 1
        record = book.get_session(session_id)
        history = book.last_sessions(client_id, 3)
    assert record.status is SessionStatus.INTERRUPTED
    assert record.summary is not None and record.summary.stop_reason == "interrupted"
    # every reported progress is on disk; at most the one posted at the kill is beyond it
    dose = record.summary.dose_ma_min
    assert dose is not None and reported[-1] <= dose <= round(reported[-1] + 0.1, 3)
    assert record.summary.current_stage_s == pytest.approx(dose * 100.0)
    assert record.summary.peak_current_ma == 0.61
    assert record.summary.dose_recorded_wall_s is not None
    assert abs(record.summary.dose_recorded_wall_s - time.time()) < 60.0
    assert history[0].session_id == session_id  # what the client's history shows
    assert history[0].summary is not None and history[0].summary.dose_ma_min == dose


@pytest.mark.requirement("SR-059")
def test_progress_is_a_safety_event_whatever_its_severity() -> None:
    event = LogEvent("dose_progress", "Dose so far.", "info", {"dose_ma_min": 1.0})
    assert event.is_safety_event
    assert stamp(event, 0.0, 0.0).durable


@pytest.mark.requirement("SR-059")
def test_the_last_valid_progress_of_that_session_is_taken_and_junk_is_skipped(
        store: RecordStore) -> None:
    session_id, _ = _open_session(store, "ctl-a")
    _progress(store, "ctl-a", 0.5, elapsed_s=30.0)
    _progress(store, "ctl-a", 1.25, elapsed_s=75.0, wall_s=1.79e9 + 75, peak_ma=0.61)
    _progress(store, "ctl-b", 9.0)  # another session
    _progress(store, "ctl-a", 7.0, code="dose_cap")  # another code
    for junk in ("1.9", float("nan"), float("inf"), -0.1, 1e6, True, None, [1.0]):
        _progress(store, "ctl-a", junk)  # newer, but not a dose: never used
    _progress(store, "ctl-a", 3.0, details_id="ctl-other")  # the details disagree: skipped
    book = SessionBook(store)
    assert book.mark_interrupted() == 1
    summary = book.get_session(session_id).summary
    assert summary is not None
    assert summary.dose_ma_min == 1.25
    assert summary.current_stage_s == 75.0
    assert summary.peak_current_ma == 0.61
    assert summary.dose_recorded_wall_s == pytest.approx(1.79e9 + 75)


@pytest.mark.requirement("SR-059")
def test_progress_logged_without_an_event_session_id_is_matched_by_its_details(
        store: RecordStore) -> None:
    session_id, _ = _open_session(store, "ctl-d")
    _progress(store, None, 0.8, details_id="ctl-d")
    _progress(store, None, 5.0, details_id="ctl-dd")  # a prefix of another id is not it
    book = SessionBook(store)
    book.mark_interrupted()
    summary = book.get_session(session_id).summary
    assert summary is not None and summary.dose_ma_min == 0.8


def test_an_interrupted_session_with_no_progress_has_an_unknown_dose_not_zero(
        store: RecordStore) -> None:
    session_id, _ = _open_session(store, "ctl-none")
    book = SessionBook(store)
    book.mark_interrupted()
    summary = book.get_session(session_id).summary
    assert summary is not None
    assert summary.dose_ma_min is None and summary.dose_recorded_wall_s is None


def test_a_closed_session_keeps_the_dose_the_ui_measured(store: RecordStore) -> None:
    session_id, _ = _open_session(store, "ctl-c")
    _progress(store, "ctl-c", 2.0)
    book = SessionBook(store)
    book.close_session(session_id, SessionSummary("completed", 0.6, 0.61, 2.4, 240.0))
    assert book.mark_interrupted() == 0
    summary = book.get_session(session_id).summary
    assert summary is not None and summary.dose_ma_min == 2.4
    assert summary.dose_recorded_wall_s is None


def test_the_history_finds_progress_for_a_session_interrupted_before_this_software(
        db_path: Path) -> None:
    with RecordStore.open(db_path) as store:
        session_id, client_id = _open_session(store, None)  # no control id: its own id
    conn = raw_connection(db_path)  # interrupted the old way: status only, no dose
    conn.execute("UPDATE sessions SET status = 'interrupted', stop_reason = 'interrupted'")
    conn.close()
    with RecordStore.open(db_path) as store:
        _progress(store, session_id, 0.9)
        history = SessionBook(store).last_sessions(client_id)
    assert history[0].summary is not None and history[0].summary.dose_ma_min == 0.9


@pytest.mark.parametrize("bad", ["", " x", "x" * 65, "a\nb"])
def test_a_malformed_control_session_id_is_refused(store: RecordStore, bad: str) -> None:
    client = ClientRegistry(store).create_client(None)
    with pytest.raises(ValueError, match="control_session_id"):
        SessionBook(store).start_session(client.client_id, "Eva", control_session_id=bad)


def test_last_progress_reads_details_as_stored(store: RecordStore) -> None:
    _progress(store, "ctl-x", 0.25)
    found = last_progress(store.connection, "ctl-x")
    assert found is not None and found.dose_ma_min == 0.25 and found.elapsed_s is None
    assert math.isfinite(found.wall_us)
    row = store.connection.execute(
        "SELECT details FROM events WHERE code = 'dose_progress'").fetchone()
    assert json.loads(row[0]) == {"dose_ma_min": 0.25}
