"""The ``session_progress`` service query (kiosk.control.progress_queries) on the in-process
controller: a real control loop on the simulated board (virtual clock) logs ``dose_progress``
into the control layer's records, the query reads the last durable figure on a connection of its
own; junk session ids are refused with ``invalid_query`` (SR-180).

The last test joins the two halves without a process boundary: the UI's records in ANOTHER
database count the control layer's figure through ``ControlProgress`` (the UI's source)."""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.control.commands import Heartbeat, ProgramRequest, StartTreatment, Stop, StopReason
from kiosk.control.log_queries import RECORDS_UNAVAILABLE
from kiosk.control.query_types import INVALID_QUERY, QueryRefused
from kiosk.control.service import Controller, build_controller
from kiosk.control.session import PROGRESS_INTERVAL_S
from kiosk.control.snapshot import TreatmentState
from kiosk.control.watchdog import SystemdWatchdog
from kiosk.hal.sim.clock import VirtualClock
from kiosk.records import reader
from kiosk.records.clients import ClientRegistry
from kiosk.records.events import LogEvent
from kiosk.records.sessions import ProgramChoice, SessionStatus
from kiosk.records.store import RecordStore, records_path
from kiosk.screens.records_view import ControlProgress, RecordsView
from tests.consent_version import CONSENT

PROGRAM = ProgramRequest("face", "pigmentation", current_ma=0.6, current_stage_s=120)
FACE_PAD = ProgramChoice("face", "pigmentation", "face.pigmentation", "1", "vitamin C",
                         "negative", "pad_15", 0.6)


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[Controller]:
    folder = tmp_path / "control"
    folder.mkdir()
    built = build_controller(sim=True, clock=VirtualClock(), state_dir=folder,
                             notifier=SystemdWatchdog(env={}))
    yield built
    built.close()


def run_with_ui(controller: Controller, duration_s: float) -> None:
    end_s = controller.clock.now_s() + duration_s
    while controller.clock.now_s() < end_s - 1e-9:
        controller.submit(Heartbeat())
        controller.run_for(min(1 / 15, end_s - controller.clock.now_s()))


def treat(controller: Controller, session_id: str, duration_s: float) -> None:
    controller.submit(StartTreatment(PROGRAM, session_id, screening_cleared=True,
                                     consent_version=CONSENT))
    run_with_ui(controller, duration_s)
    assert controller.writer is not None and controller.writer.flush()


def logged_progress(controller: Controller, session_id: str) -> list[dict[str, Any]]:
    """Every dose_progress row of the session, oldest first, as the control layer logged it."""
    assert controller.writer is not None
    conn = reader.open_read_only(controller.writer.path)
    try:
        rows = conn.execute("SELECT seq, wall_us, details FROM events WHERE code = 'dose_progress'"
                            " AND session_id = ? ORDER BY seq", (session_id,)).fetchall()
    finally:
        conn.close()
    return [{"seq": seq, "wall_us": wall_us, **json.loads(details)}
            for seq, wall_us, details in rows]


@pytest.mark.requirement("SR-180")
def test_the_answer_is_the_last_durable_progress_of_that_session_only(
        controller: Controller) -> None:
    assert controller.query("session_progress", session_id="ctl-7") == {
        "session_id": "ctl-7", "progress": None}  # nothing ran yet
    treat(controller, "ctl-7", 2 * PROGRESS_INTERVAL_S + 3.0)  # two interval events at least
    assert controller.snapshot.state in (TreatmentState.RAMP_UP, TreatmentState.HOLD)
    rows = logged_progress(controller, "ctl-7")
    assert sum(row["why"] == "interval" for row in rows) >= 2
    newest = rows[-1]
    answer = controller.query("session_progress", session_id="ctl-7")
    assert answer == {"session_id": "ctl-7", "progress": {
        "dose_ma_min": newest["dose_ma_min"], "elapsed_s": newest["elapsed_s"],
        "peak_ma": newest["peak_ma"], "wall_s": newest["wall_us"] / 1e6,
        "seq": newest["seq"]}}
    assert answer["progress"]["dose_ma_min"] > 0.0
    # the session's end (a state change) is logged with the final figure, and answered
    controller.submit(Stop(StopReason.OPERATOR))
    run_with_ui(controller, 3.0)
    assert controller.writer is not None and controller.writer.flush()
    final = logged_progress(controller, "ctl-7")[-1]
    later = controller.query("session_progress", session_id="ctl-7")["progress"]
    assert later["seq"] == final["seq"] > newest["seq"]
    assert later["dose_ma_min"] == final["dose_ma_min"] >= newest["dose_ma_min"]
    # another id, one differing by a character, or a prefix: nothing
    for other in ("ctl-8", "ctl-7 ", "ctl-", "CTL-7"):
        assert controller.query("session_progress", session_id=other)["progress"] is None


@pytest.mark.requirement("SR-180")
def test_a_junk_progress_row_is_skipped_and_the_last_valid_figure_answered(
        controller: Controller) -> None:
    treat(controller, "ctl-j", 5.0)
    valid = controller.query("session_progress", session_id="ctl-j")["progress"]
    assert valid is not None
    writer = controller.writer
    assert writer is not None
    for junk in (math.nan, -1.0, 1e9, "12.5", True, None):
        assert writer.post(LogEvent("dose_progress", "junk", details={
            "session_id": "ctl-j", "dose_ma_min": junk}, session_id="ctl-j", durable=True))
    # a row naming another session in its details, under this session's id
    assert writer.post(LogEvent("dose_progress", "junk", details={
        "session_id": "ctl-x", "dose_ma_min": 99.0}, session_id="ctl-j", durable=True))
    assert writer.flush()
    assert controller.query("session_progress", session_id="ctl-j")["progress"] == valid


@pytest.mark.requirement("SR-180")
@pytest.mark.parametrize("args", [
    {}, {"session_id": ""}, {"session_id": "x" * 129}, {"session_id": "ctl\n7"},
    {"session_id": "ctl\x007"}, {"session_id": 7.0}, {"session_id": True},
    {"session_id": "ctl-7", "page": 1.0}, {"sessionid": "ctl-7"},
], ids=["missing", "empty", "too-long", "newline", "nul", "number", "bool", "extra", "misspelt"])
def test_a_junk_session_id_is_refused_with_invalid_query(controller: Controller,
                                                        args: dict[str, Any]) -> None:
    with pytest.raises(QueryRefused) as refused:
        controller.query("session_progress", **args)
    assert refused.value.code == INVALID_QUERY
    assert controller.query("session_progress", session_id="x" * 128)["progress"] is None


@pytest.mark.requirement("SR-180")
def test_without_records_the_query_says_records_unavailable() -> None:
    bare = build_controller(sim=True, clock=VirtualClock())
    try:
        with pytest.raises(QueryRefused) as refused:
            bare.query("session_progress", session_id="ctl-7")
        assert refused.value.code == RECORDS_UNAVAILABLE
    finally:
        bare.close()


@pytest.mark.requirement("SR-180")
@pytest.mark.requirement("SR-053")
def test_the_ui_records_in_another_database_count_the_control_layers_figure(
        controller: Controller, tmp_path: Path) -> None:
    """The UI's record of the session is left open (the UI died); its own database has no
    progress event. Opened again with the control layer as its source, the session is marked
    interrupted WITH the control layer's dose, and the day's count includes it."""
    ui_path = records_path(tmp_path)  # tmp_path itself: not the control layer's folder
    assert ui_path != controller.writer.path  # type: ignore[union-attr]
    with RecordStore.open(ui_path) as store:
        from kiosk.records.sessions import SessionBook
        client = ClientRegistry(store).create_client("Anna K").client_id
        book = SessionBook(store)
        sid = book.start_session(client, "Eva", control_session_id="ctl-ui")
        book.record_screening(sid, {"pacemaker": False})
        book.record_program(sid, FACE_PAD)
    treat(controller, "ctl-ui", PROGRESS_INTERVAL_S + 4.0)
    figure = controller.query("session_progress", session_id="ctl-ui")["progress"]
    assert figure is not None and figure["dose_ma_min"] > 0.0

    without = RecordsView.open(ui_path)  # as before: the UI's own records only
    try:
        record = without.sessions.get_session(sid)
        assert record.status is SessionStatus.INTERRUPTED
        assert record.summary is not None and record.summary.dose_ma_min is None
    finally:
        without.close_store()

    view = RecordsView.open(ui_path, progress_source=ControlProgress(controller, timeout_s=None))
    try:
        record = view.sessions.get_session(sid)  # healed at start-up
        assert record.summary is not None
        assert record.summary.dose_ma_min == figure["dose_ma_min"]
        assert record.summary.dose_recorded_wall_s == pytest.approx(figure["wall_s"], abs=1e-6)
        day = datetime.date.fromtimestamp(record.started_wall_s)
        got = view.sessions.delivered_today(client, "face", day,
                                            electrode_area_cm2={"pad_15": 15.0})
        assert got is not None
        assert got.dose_ma_min == pytest.approx(figure["dose_ma_min"], abs=1e-6)
        assert view.healthy
    finally:
        view.close_store()
