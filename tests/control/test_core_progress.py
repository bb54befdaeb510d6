"""Issue 12 item 5 (core half): the delivered dose survives a crash.

While a session is open the core emits ``dose_progress`` at every state change and at least
every 10 s of control time while current may flow; the loop logs it durably. The records rebuild
an interrupted session's dose from the last one (docs/architecture.md, Control, has the keys).
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from pathlib import Path

import pytest

from kiosk.control.codes import Reason
from kiosk.control.commands import (
    EndSession,
    Heartbeat,
    ProgramRequest,
    StartTreatment,
    Stop,
    StopReason,
)
from kiosk.control.limits import resolve_program
from kiosk.control.loop import _log_event
from kiosk.control.reasons import Code, make
from kiosk.control.service import build_controller
from kiosk.control.session import PROGRESS_INTERVAL_S, PROGRESS_KEYS
from kiosk.control.snapshot import TreatmentState as S
from kiosk.control.watchdog import SystemdWatchdog
from kiosk.hal.sim.clock import VirtualClock
from kiosk.records import records_path
from tests.consent_version import CONSENT
from tests.control.core_rig import Rig

PROGRAM = ProgramRequest("face", "pigmentation", current_ma=0.6, current_stage_s=600)
FLOWING = {"contact_check", "ramp_up", "hold", "ramp_down"}


def progress_events(rig: Rig) -> list[tuple[float, dict[str, object]]]:
    return [(r.snapshot.time_s, dict(e.details)) for r in rig.results for e in r.events
            if e.code == "dose_progress"]


@pytest.fixture(scope="module")
def session_run() -> Rig:
    rig = Rig.ready()
    rig.plant_substeps = 2
    rig.run(0.5)
    rig.tick([StartTreatment(PROGRAM, "s1", True, consent_version=CONSENT)])
    rig.run_until_state(S.HOLD, 60.0)
    rig.run(25.0)
    rig.tick([Stop(StopReason.OPERATOR)])
    rig.run_until_state(S.PAUSED, 5.0)
    rig.run(30.0)  # paused: nothing flows, nothing more is due
    rig.tick([EndSession("s1")])
    rig.run(15.0)  # no session: no progress
    return rig


@pytest.mark.requirement("SR-052")
def test_progress_comes_at_every_state_change_with_the_new_state(session_run: Rig) -> None:
    events = progress_events(session_run)
    changes = [d["state"] for _, d in events if d["why"] == "state_change"]
    assert changes == ["contact_check", "ramp_up", "hold", "ramp_down", "paused", "idle"]
    for time_s, details in events:
        snapshot = next(r.snapshot for r in session_run.results if r.snapshot.time_s == time_s)
        if details["why"] == "state_change" and details["state"] != "idle":
            assert details["state"] == str(snapshot.state)


@pytest.mark.requirement("SR-052")
def test_progress_comes_at_least_every_10_s_while_current_may_flow(session_run: Rig) -> None:
    events = progress_events(session_run)
    times = [t for t, _ in events]
    flowing_until = next(t for t, d in events if d["state"] == "paused")
    gaps = [b - a for a, b in itertools.pairwise(times) if b <= flowing_until]
    assert max(gaps) <= PROGRESS_INTERVAL_S + 1e-6
    intervals = [t for t, d in events if d["why"] == "interval"]
    assert len(intervals) >= 4  # ~30 s ramp + 25 s hold
    assert all(d["state"] in FLOWING for _, d in events if d["why"] == "interval")
    # paused 30 s and 15 s without a session: no interval events then
    assert not [t for t, d in events if d["why"] == "interval" and t > flowing_until]


@pytest.mark.requirement("SR-052")
def test_progress_carries_the_contract_keys_and_the_true_figures(session_run: Rig) -> None:
    events = progress_events(session_run)
    for time_s, details in events:
        assert tuple(details) == PROGRESS_KEYS
        assert details["session_id"] == "s1" and details["area"] == "face"
        assert details["program_id"] == "face.pigmentation"
        snapshot = next(r.snapshot for r in session_run.results if r.snapshot.time_s == time_s)
        if details["state"] != "idle":
            assert details["dose_ma_min"] == pytest.approx(snapshot.dose_ma_min, abs=1e-6)
    last = events[-1][1]
    dose = float(last["dose_ma_min"])  # type: ignore[arg-type]
    assert dose > 0.3  # ~0.15 mA·min of ramp + 0.25 of plateau + the STOP ramp
    density = float(last["charge_density_ma_min_per_cm2"])  # type: ignore[arg-type]
    resolved = resolve_program(PROGRAM, session_run.core.catalogue)
    assert not isinstance(resolved, Reason)
    assert density > 0 and dose / density == pytest.approx(resolved.electrode_area_cm2, rel=1e-3)
    assert float(last["peak_ma"]) == pytest.approx(0.6, abs=0.02)  # type: ignore[arg-type]
    assert float(last["total_dose_ma_min"]) == pytest.approx(dose)  # type: ignore[arg-type]


@pytest.mark.requirement("SR-052")
def test_progress_is_logged_durably_under_its_own_session() -> None:
    rig = Rig.ready()
    snapshot = rig.tick().snapshot  # idle: the snapshot names no session any more
    reason = make(Code.DOSE_PROGRESS, session_id="s9", program_id="face.ageing", area="face",
                  dose_ma_min=0.5, total_dose_ma_min=0.5, charge_density_ma_min_per_cm2=0.03,
                  peak_ma=0.6, elapsed_s=60.0, state="idle", why="state_change")
    event = _log_event(reason, snapshot)
    assert event.durable and event.session_id == "s9"
    ended = _log_event(make(Code.SESSION_ENDED, dose_ma_min=0.5, session_id="s9"), snapshot)
    assert ended.durable and ended.session_id == "s9"
    decision = _log_event(make(Code.PAUSED), snapshot)
    assert not decision.durable


@pytest.mark.requirement("SR-052")
def test_the_progress_reaches_the_records_file_on_the_board(tmp_path: Path) -> None:
    built = build_controller(sim=True, clock=VirtualClock(), seed=5, state_dir=tmp_path,
                             notifier=SystemdWatchdog(env={}))
    try:
        built.submit(StartTreatment(PROGRAM, "board-1", True, consent_version=CONSENT))
        end_s = built.clock.now_s() + 25.0
        while built.clock.now_s() < end_s:
            built.submit(Heartbeat())
            built.run_for(0.1)
        dose_now = built.snapshot.dose_ma_min
        assert built.writer is not None and built.writer.flush(5.0)
    finally:
        built.close()
    with sqlite3.connect(records_path(tmp_path)) as conn:
        rows = conn.execute("SELECT details, session_id FROM events WHERE code = ?"
                            " ORDER BY seq", ("dose_progress",)).fetchall()
    assert len(rows) >= 4  # contact_check, ramp_up, two intervals (and the shutdown's)
    assert {session for _, session in rows} == {"board-1"}
    doses = [json.loads(details)["dose_ma_min"] for details, _ in rows]
    assert doses == sorted(doses)
    assert max(doses) >= dose_now - 0.6 * PROGRESS_INTERVAL_S / 60.0
