"""The day's dose budget and an interrupted session's dose when the UI and the control daemon are
separate processes with separate records (SR-180, SR-053, SR-059, H-07, H-16).

One day, played once for the module on a real ``kiosk-control --sim`` process with a state
folder of its own: client Anna's treatment runs in a UI process (tests/ipc/ui_stand_in.py) to
the plateau and holds longer than one progress interval; the UI is SIGKILLed (the daemon cuts
the current and latches ``ui_connection_lost``). The next UI acknowledges, ends Anna's control
session and treats client Bella briefly. The UI's records are a database in ANOTHER folder, in
which both session records were left open and which holds no ``dose_progress`` event at all:
before SR-180 the next RecordsView found no dose for Anna and gave her a second budget.

Each test opens a fresh copy of that UI database with a new RecordsView, as a restarted UI does.
The board's truth (the charge the simulated skin received, from the daemon's ``status``) says
what was really delivered.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.control.catalogue import load_catalogue
from kiosk.control.commands import Acknowledge, EndSession, Stop
from kiosk.control.session import PROGRESS_INTERVAL_S
from kiosk.control.snapshot import TreatmentState
from kiosk.ipc.client import RemoteController
from kiosk.records.clients import ClientRegistry
from kiosk.records.sessions import ProgramChoice, SessionBook, SessionStatus
from kiosk.records.store import RecordStore, records_path
from kiosk.screens.flow import TreatmentFlow
from kiosk.screens.records_view import PROGRESS_QUERY_TIMEOUT_S, ControlProgress, RecordsView
from tests.ipc.daemon_rig import (
    PLATEAU_TIMEOUT_S,
    PROGRAM,
    REPO,
    Daemon,
    Heartbeats,
    controlling,
    start_daemon,
    start_treatment,
    stop_daemon,
    wait_for,
)

pytestmark = pytest.mark.slow

STAND_IN = str(REPO / "tests" / "ipc" / "ui_stand_in.py")
FACE_PAD = ProgramChoice("face", "pigmentation", "face.pigmentation", "1", "vitamin C",
                         "negative", "pad_15", PROGRAM.current_ma)
ONE_INTERVAL_MA_MIN = PROGRAM.current_ma * PROGRESS_INTERVAL_S / 60.0
"""What one progress interval at the plateau delivers: the most a last progress may miss."""
CATALOGUE = load_catalogue()


@dataclasses.dataclass
class Day:
    daemon: Daemon
    control_state: Path
    ui_db: Path  # the UI's records as the killed UI left them (copied by each test)
    anna: str
    bella: str
    anna_session: str
    bella_session: str
    anna_truth_ma_min: float  # charge through the skin during Anna's treatment / 60
    anna_daemon: dict[str, Any]  # the daemon's last progress of Anna's control session (final)
    bella_daemon: dict[str, Any]
    day: datetime.date


def _progress(daemon: Daemon, session_id: str) -> dict[str, Any] | None:
    with daemon.monitor() as monitor:
        answer = monitor.query("session_progress", session_id=session_id)
    assert answer["session_id"] == session_id
    return answer["progress"]


def _progress_after(daemon: Daemon, session_id: str, wall_s: float,
                    timeout_s: float = 5.0) -> dict[str, Any]:
    """The daemon's last progress of the session once one logged after ``wall_s`` is there."""
    deadline_s = time.monotonic() + timeout_s
    while True:
        got = _progress(daemon, session_id)
        if got is not None and got["wall_s"] >= wall_s:
            return got
        assert time.monotonic() < deadline_s, f"no progress after {wall_s}: {got}"
        time.sleep(0.05)


def _charge_mc(daemon: Daemon) -> float:
    truth = daemon.status()["board_truth"]
    assert isinstance(truth, dict)
    return float(truth["true_charge_mc"])


def _first_line(proc: subprocess.Popen[str], timeout_s: float) -> str:
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()),  # type: ignore[union-attr]
                              daemon=True)
    reader.start()
    reader.join(timeout_s)
    return lines[0] if lines else f"(nothing in {timeout_s} s)"


def _ui_records(folder: Path) -> tuple[Path, str, str, str, str]:
    """The UI's own database: two clients, one session each, both left open."""
    path = records_path(folder)
    with RecordStore.open(path) as store:
        registry = ClientRegistry(store)
        anna = registry.create_client("Anna K").client_id
        bella = registry.create_client("Bella M").client_id
        book = SessionBook(store)
        ids = []
        for client, control_id in ((anna, "ctl-anna"), (bella, "ctl-bella")):
            sid = book.start_session(client, "Eva", control_session_id=control_id)
            book.record_screening(sid, {"pacemaker": False})
            book.record_program(sid, FACE_PAD)
            ids.append(sid)
    return path, anna, bella, ids[0], ids[1]


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    root = tmp_path_factory.mktemp("dose-day")
    control_state, ui_state = root / "control", root / "ui"
    control_state.mkdir()
    ui_state.mkdir()
    ui_db, anna, bella, anna_session, bella_session = _ui_records(ui_state)
    daemon = start_daemon(state_dir=control_state)
    holder = Day(daemon, control_state, ui_db, anna, bella, anna_session, bella_session, 0.0,
                 {}, {}, datetime.date.today())
    try:
        # Anna: a UI process treats her to the plateau, holds > one interval, and is killed
        before_mc = _charge_mc(daemon)
        ui = subprocess.Popen([sys.executable, STAND_IN, daemon.socket, "ctl-anna"], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            line = _first_line(ui, PLATEAU_TIMEOUT_S)
            assert line.startswith("plateau"), f"{line!r}; daemon: {daemon.status()}"
            time.sleep(PROGRESS_INTERVAL_S + 2.0)  # at least one interval event at the plateau
            killed_wall_s = time.time()
            os.kill(ui.pid, signal.SIGKILL)
            ui.wait(timeout=5)
        finally:
            if ui.poll() is None:
                ui.kill()
        deadline_s = time.monotonic() + 5.0
        while daemon.status()["fault"] is None:
            assert time.monotonic() < deadline_s, "the daemon did not see the UI go"
            time.sleep(0.02)
        time.sleep(0.2)  # K1 open: nothing more is driven
        holder.anna_truth_ma_min = (_charge_mc(daemon) - before_mc) / 60.0
        holder.anna_daemon = _progress_after(daemon, "ctl-anna", killed_wall_s)
        # the next UI: acknowledges, ends Anna's control session, treats Bella briefly
        with controlling(daemon, name="next-ui") as remote, Heartbeats(remote):
            wait_for(remote, lambda s: s.fault is not None, 5.0)
            remote.submit(Acknowledge("ui_connection_lost"))
            wait_for(remote, lambda s: s.fault is None, 5.0)
            remote.submit(EndSession("ctl-anna"))
            wait_for(remote, lambda s: s.session_id is None, 5.0)
            start_treatment(remote, "ctl-bella")
            wait_for(remote, lambda s: s.state is TreatmentState.RAMP_UP, 20.0)
            time.sleep(6.0)
            stopped_wall_s = time.time()
            remote.submit(Stop())
            wait_for(remote, lambda s: s.state is TreatmentState.PAUSED, 10.0)
            holder.bella_daemon = _progress_after(daemon, "ctl-bella", stopped_wall_s)
            remote.submit(EndSession("ctl-bella"))
            wait_for(remote, lambda s: s.session_id is None, 5.0)
        # the acknowledgement and the session's end are state changes of Anna's session: logged
        # again (long committed by now), with the dose of the cut
        at_fault = holder.anna_daemon
        holder.anna_daemon = _progress(daemon, "ctl-anna") or {}
        assert holder.anna_daemon["seq"] > at_fault["seq"]
        assert holder.anna_daemon["dose_ma_min"] == at_fault["dose_ma_min"]
        holder.day = datetime.date.fromtimestamp(killed_wall_s)
        yield holder
    finally:
        stop_daemon(holder.daemon)


def _copy(day: Day, tmp_path: Path) -> Path:
    """A fresh copy of the UI's database as the killed UI left it (SQLite's own backup)."""
    target = records_path(tmp_path)
    source = sqlite3.connect(day.ui_db)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    return target


def _flow(client_id: str) -> TreatmentFlow:
    return TreatmentFlow(client_id=client_id, area="face")


def _history_dose(view: RecordsView, session_id: str) -> float | None:
    record = view.sessions.get_session(session_id)
    assert record.status is SessionStatus.INTERRUPTED
    assert record.summary is not None
    return record.summary.dose_ma_min


@contextlib.contextmanager
def _view(path: Path, source: Any) -> Iterator[RecordsView]:
    view = RecordsView.open(path, progress_source=source)
    assert isinstance(view, RecordsView)
    try:
        yield view
    finally:
        view.close_store()


@pytest.mark.requirement("SR-180")
@pytest.mark.requirement("SR-059")
@pytest.mark.requirement("SR-053")
def test_a_ui_killed_mid_treatment_leaves_the_day_count_and_the_history_with_the_dose(
        day: Day, tmp_path: Path, safety_figure) -> None:  # type: ignore[no-untyped-def]
    """The UI starts before the daemon answers (its link down): no dose can be had, the day
    counts as used up, the store stays healthy. Then the link comes up: the count is the
    daemon's last progress (within one interval of the board's truth), the history shows it,
    and it stays in the UI's record (the next count needs no daemon)."""
    daemon_ma_min = day.anna_daemon["dose_ma_min"]
    gap_ma_min = day.anna_truth_ma_min - daemon_ma_min
    safety_figure("dose_gap_board_truth_minus_daemon_progress_ma_min", gap_ma_min, "mA·min",
                  limit=ONE_INTERVAL_MA_MIN)
    print(f"Anna: board truth {day.anna_truth_ma_min:.5f} mA·min, daemon's last progress"
          f" {daemon_ma_min:.5f} mA·min, gap {gap_ma_min:+.5f} mA·min")
    assert daemon_ma_min > ONE_INTERVAL_MA_MIN  # more than one interval was delivered
    assert abs(gap_ma_min) <= ONE_INTERVAL_MA_MIN, (day.anna_truth_ma_min, daemon_ma_min)

    remote = RemoteController(day.daemon.socket, name="restarted-ui")  # not yet connected
    try:
        with _view(_copy(day, tmp_path), ControlProgress(remote)) as view:
            assert view.interrupted_at_start == 2
            assert _history_dose(view, day.anna_session) is None  # the link was down
            assert view.delivered_today(_flow(day.anna), CATALOGUE, day.day) is None
            assert view.healthy and view.problem is None and view.fault_reason is None
            remote.start()
            assert remote.wait_connected(10.0)
            got = view.delivered_today(_flow(day.anna), CATALOGUE, day.day)
            assert got is not None
            dose, density = got
            assert dose >= daemon_ma_min
            assert abs(dose - day.anna_truth_ma_min) <= ONE_INTERVAL_MA_MIN
            assert density == pytest.approx(dose / 15.0, abs=1e-6)  # the 15 cm² pad
            assert _history_dose(view, day.anna_session) == daemon_ma_min  # healed
            record = view.sessions.get_session(day.anna_session)
            assert record.summary is not None
            assert record.summary.dose_recorded_wall_s == pytest.approx(
                day.anna_daemon["wall_s"], abs=1e-6)
            assert view.healthy
    finally:
        remote.stop()
    # the healed record counts without any daemon (a source that never connects)
    never = RemoteController(str(tmp_path / "nobody.sock"))
    with _view(records_path(tmp_path), ControlProgress(never)) as view:
        assert _history_dose(view, day.anna_session) == daemon_ma_min
        got = view.delivered_today(_flow(day.anna), CATALOGUE, day.day)
        assert got is not None and got[0] == pytest.approx(daemon_ma_min, abs=1e-6)


@pytest.mark.requirement("SR-180")
def test_two_clients_in_a_row_each_count_only_their_own_sessions(
        day: Day, tmp_path: Path) -> None:
    bella_ma_min = day.bella_daemon["dose_ma_min"]
    assert 0.0 < bella_ma_min < day.anna_daemon["dose_ma_min"]
    with controlling(day.daemon, name="restarted-ui") as remote:
        control = ControlProgress(remote)
        asked: list[str] = []

        def source(control_id: str) -> Any:
            asked.append(control_id)
            return control(control_id)

        with _view(_copy(day, tmp_path), source) as view:
            assert sorted(asked) == ["ctl-anna", "ctl-bella"]  # the start-up heal, both
            asked.clear()
            anna = view.delivered_today(_flow(day.anna), CATALOGUE, day.day)
            assert asked == ["ctl-anna"]
            asked.clear()
            bella = view.delivered_today(_flow(day.bella), CATALOGUE, day.day)
            assert asked == ["ctl-bella"]
            assert anna is not None and bella is not None
            assert anna[0] == pytest.approx(day.anna_daemon["dose_ma_min"], abs=1e-6)
            assert bella[0] == pytest.approx(bella_ma_min, abs=1e-6)
            assert _history_dose(view, day.bella_session) == bella_ma_min


@pytest.mark.requirement("SR-180")
def test_a_daemon_that_does_not_answer_in_time_means_the_day_is_used_up_not_a_storage_fault(
        day: Day, tmp_path: Path) -> None:
    """The daemon hangs (SIGSTOP) with the UI's link up: the start-up heal and the count each
    wait one query timeout, then the count says "cannot say"; the store stays healthy. Once
    the daemon answers again, the same view counts the dose."""
    with controlling(day.daemon, name="restarted-ui") as remote:
        os.kill(day.daemon.proc.pid, signal.SIGSTOP)
        try:
            opened_s = time.monotonic()
            view = RecordsView.open(_copy(day, tmp_path), progress_source=ControlProgress(remote))
            assert isinstance(view, RecordsView)
            open_took_s = time.monotonic() - opened_s
            counted_s = time.monotonic()
            got = view.delivered_today(_flow(day.anna), CATALOGUE, day.day)
            count_took_s = time.monotonic() - counted_s
        finally:
            os.kill(day.daemon.proc.pid, signal.SIGCONT)
        try:
            assert got is None
            for took_s in (open_took_s, count_took_s):  # one timeout each, not one per session
                assert PROGRESS_QUERY_TIMEOUT_S <= took_s < PROGRESS_QUERY_TIMEOUT_S + 0.5
            assert view.healthy and view.problem is None and view.fault_reason is None
            assert _history_dose(view, day.anna_session) is None
            deadline_s = time.monotonic() + 10.0
            while (got := view.delivered_today(_flow(day.anna), CATALOGUE, day.day)) is None:
                assert time.monotonic() < deadline_s, "the daemon never answered again"
                time.sleep(0.1)
            assert got[0] == pytest.approx(day.anna_daemon["dose_ma_min"], abs=1e-6)
            assert _history_dose(view, day.anna_session) == day.anna_daemon["dose_ma_min"]
        finally:
            view.close_store()


@pytest.mark.requirement("SR-180")
def test_a_daemon_restarted_between_the_sessions_still_answers_the_first_sessions_dose(
        day: Day, tmp_path: Path) -> None:
    """systemd restarts the daemon on the same state folder (here: SIGTERM, then a new process)
    before the UI asked: the new process answers from the same records."""
    assert stop_daemon(day.daemon) == 0, day.daemon.log_text()[-3000:]
    day.daemon = start_daemon(state_dir=day.control_state, socket=day.daemon.socket)
    with controlling(day.daemon, name="restarted-ui") as remote, \
            _view(_copy(day, tmp_path), ControlProgress(remote)) as view:
        assert _history_dose(view, day.anna_session) == day.anna_daemon["dose_ma_min"]
        got = view.delivered_today(_flow(day.anna), CATALOGUE, day.day)
        assert got is not None
        assert got[0] == pytest.approx(day.anna_daemon["dose_ma_min"], abs=1e-6)
        assert view.healthy


def test_the_ui_database_of_this_module_is_not_the_daemons(day: Day) -> None:
    """The premise of every test above: the UI's records hold no progress of the control core."""
    assert day.ui_db != records_path(day.control_state)
    conn = sqlite3.connect(day.ui_db)
    try:
        assert conn.execute("SELECT count(*) FROM events WHERE code = 'dose_progress'"
                            ).fetchone()[0] == 0
    finally:
        conn.close()
