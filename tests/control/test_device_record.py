"""The device record (kiosk.control.device_record): usage counters counted by the real control
loop on the simulated board and checked against the board's own relay history and the core's
dose; saved and found again after a normal stop, a restart and a SIGKILL (a child process);
damaged files; the reminders at their boundaries; the intervals within their bounds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kiosk.control import device_record as dr
from kiosk.control import queries
from kiosk.control.commands import EndSession, Heartbeat, ProgramRequest, StartTreatment, Stop
from kiosk.control.query_types import INVALID_QUERY, UNKNOWN_QUERY, QueryRefused
from kiosk.control.service import Controller, build_controller
from kiosk.control.snapshot import TreatmentState
from kiosk.control.watchdog import SystemdWatchdog
from kiosk.hal.sim.clock import VirtualClock
from kiosk.records.events import read_events
from kiosk.records.store import RecordStore, records_path
from tests.consent_version import CONSENT

S = TreatmentState
PROGRAM = ProgramRequest("face", "pigmentation", current_ma=0.6, current_stage_s=60)
CHILD = Path(__file__).with_name("device_record_child.py")
REPO = Path(__file__).resolve().parents[2]


def build(state_dir: Path) -> Controller:
    return build_controller(sim=True, clock=VirtualClock(), state_dir=state_dir,
                            notifier=SystemdWatchdog(env={}))


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[Controller]:
    built = build(tmp_path)
    yield built
    built.close()


def run_with_ui(controller: Controller, duration_s: float,
                until: Callable[[Any], bool] | None = None) -> None:
    end_s = controller.clock.now_s() + duration_s
    while controller.clock.now_s() < end_s - 1e-9:
        controller.submit(Heartbeat())
        controller.run_for(min(1 / 15, end_s - controller.clock.now_s()))
        if until is not None and until(controller.snapshot):
            return


def treatment(controller: Controller, session_id: str, flow_s: float = 4.0,
              program: ProgramRequest = PROGRAM) -> None:
    """Start, ramp ``flow_s`` with the output closed, STOP (paused), STOP again (done), end
    the session: K1 closes and opens, the dose rises."""
    controller.submit(StartTreatment(program, session_id, screening_cleared=True,
                                     consent_version=CONSENT))
    run_with_ui(controller, 10.0, until=lambda s: s.state is S.RAMP_UP)
    assert controller.snapshot.state is S.RAMP_UP and controller.snapshot.output_enabled
    run_with_ui(controller, flow_s)
    controller.submit(Stop())
    run_with_ui(controller, 5.0, until=lambda s: s.state is S.PAUSED)
    assert controller.snapshot.state is S.PAUSED
    controller.submit(Stop())
    run_with_ui(controller, 0.5)
    controller.submit(EndSession(session_id))
    run_with_ui(controller, 0.3)
    assert controller.snapshot.state is S.IDLE, controller.snapshot


def k1_coil_closures(controller: Controller) -> int:
    sim = controller.board.sim
    assert sim is not None
    return sum(1 for e in sim.relay_history if e.relay == "k1" and e.part == "coil" and e.state)


def k2_coil_changes(controller: Controller) -> int:
    sim = controller.board.sim
    assert sim is not None
    return sum(1 for e in sim.relay_history if e.relay == "k2" and e.part == "coil")


def counters(controller: Controller) -> dr.Counters:
    assert controller.device_record is not None
    return controller.device_record.counter.counters


def saved(state_dir: Path) -> dr.Counters:
    content = dr.read_checked(state_dir / dr.COUNTERS_FILE, dr.COUNTERS_FORMAT)
    assert content is not None
    return dr.Counters.from_json(content)


@pytest.mark.requirement("SR-173")
def test_the_counters_match_the_boards_relays_the_clock_and_the_dose(
        controller: Controller) -> None:
    start_s = controller.clock.now_s()
    current_s = 0.0
    doses = []

    def watch(record: Any) -> None:
        nonlocal current_s
        if record.snapshot.output_enabled:
            current_s += 0.01
    controller.loop.add_observer(watch)
    for session in ("a", "b"):
        treatment(controller, session)
        doses.append(max(0.0, controller.loop.core.snapshot.dose_ma_min))
    positive = ProgramRequest("face", "disincrustation", current_ma=0.5, current_stage_s=60,
                              second_phase=True)  # the other polarity: K2 switches
    controller.submit(StartTreatment(positive, "c", screening_cleared=True,
                                     consent_version=CONSENT))
    run_with_ui(controller, 10.0, until=lambda s: s.state is S.RAMP_UP)
    run_with_ui(controller, 2.0)
    controller.submit(Stop())
    run_with_ui(controller, 5.0, until=lambda s: s.state is S.PAUSED)
    elapsed_s = controller.clock.now_s() - start_s
    got = counters(controller)
    assert got.sessions == 3 and got.last_session_id == "c"
    assert got.k1_closures == k1_coil_closures(controller) >= 3  # contact check + ramp each
    assert got.k2_switches == k2_coil_changes(controller)
    assert abs(got.operating_s - elapsed_s) <= 0.02
    assert abs(got.current_s - current_s) <= 0.02 and got.current_s > 8.0
    assert got.charge_ma_min > 0
    assert got.charge_ma_min >= sum(doses)  # the third session's dose comes on top


@pytest.mark.requirement("SR-173")
def test_a_normal_stop_loses_nothing_and_the_next_start_continues(tmp_path: Path) -> None:
    first = build(tmp_path)
    try:
        treatment(first, "s1")
        before_close = counters(first)
    finally:
        first.close()
    on_disk = saved(tmp_path)
    assert on_disk.sessions == 1 and on_disk.k1_closures == before_close.k1_closures
    assert on_disk.operating_s >= before_close.operating_s  # the closing cycles count too
    assert on_disk.charge_ma_min == pytest.approx(before_close.charge_ma_min)
    second = build(tmp_path)
    try:
        assert counters(second) == on_disk
        treatment(second, "s1")  # the same control session id again: not a new session
        treatment(second, "s2")
        got = counters(second)
        assert got.sessions == 2
        assert got.k1_closures == on_disk.k1_closures + k1_coil_closures(second)
        assert got.since_wall_s == on_disk.since_wall_s
    finally:
        second.close()


@pytest.mark.slow
@pytest.mark.requirement("SR-173")
def test_counters_are_saved_every_interval_and_when_the_output_opens(tmp_path: Path) -> None:
    built = build(tmp_path)
    try:
        record = built.device_record
        assert record is not None
        run_with_ui(built, dr.SAVE_INTERVAL_S - 1.0)
        assert not (tmp_path / dr.COUNTERS_FILE).exists()
        run_with_ui(built, 1.5)  # the interval is reached
        assert saved(tmp_path).operating_s >= dr.SAVE_INTERVAL_S - 0.02
        saves = record.saves
        built.submit(StartTreatment(PROGRAM, "x", screening_cleared=True, consent_version=CONSENT))
        run_with_ui(built, 10.0, until=lambda s: s.state is S.RAMP_UP)
        run_with_ui(built, 3.0)
        assert record.saves == saves  # nothing while the output is closed (under 60 s)
        built.submit(Stop())
        run_with_ui(built, 5.0, until=lambda s: not s.output_enabled)
        run_with_ui(built, 0.05)
        assert record.saves == saves + 1
        assert saved(tmp_path).charge_ma_min == pytest.approx(counters(built).charge_ma_min,
                                                             rel=0.01)
    finally:
        built.close()


def _run_child(state_dir: Path, save_s: float, until: Callable[[dict[str, Any]], bool],
               timeout_s: float = 60.0) -> dict[str, Any]:
    """Run the child until ``until(live counters)``, SIGKILL it; its last live counters."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    child = subprocess.Popen([sys.executable, str(CHILD), str(state_dir), str(save_s)],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             env=env, cwd=REPO)
    assert child.stdout is not None
    live: dict[str, Any] = {}
    deadline = time.monotonic() + timeout_s
    try:
        for line in child.stdout:
            if line.startswith("live "):
                live = json.loads(line[5:])
                if until(live):
                    break
            assert time.monotonic() < deadline, f"child never reached it: {live}"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    return live


@pytest.mark.slow
@pytest.mark.requirement("SR-173")
def test_after_a_sigkill_at_most_one_save_interval_is_lost_and_counting_goes_on(
        tmp_path: Path) -> None:
    save_s = 1.0
    live = _run_child(tmp_path, save_s,
                      lambda c: c["k1_closures"] >= 3 and c["operating_s"] >= 6.0)
    on_disk = saved(tmp_path)
    # the print period (50 ms) and the cycles between print and kill are the slack
    assert live["operating_s"] - save_s - 0.3 <= on_disk.operating_s <= live["operating_s"] + 0.3
    assert on_disk.k1_closures >= 1 and on_disk.sessions >= 1
    assert on_disk.k1_closures <= live["k1_closures"] + 1
    again = build(tmp_path)  # the restart reads what the killed process saved
    try:
        assert counters(again).operating_s == on_disk.operating_s
        run_with_ui(again, 1.0)
        assert counters(again).operating_s == pytest.approx(on_disk.operating_s + 1.0, abs=0.02)
    finally:
        again.close()


@pytest.mark.slow
@pytest.mark.requirement("SR-173")
def test_killed_while_saving_many_times_the_file_is_always_whole_and_never_goes_back(
        tmp_path: Path) -> None:
    previous = 0.0
    for kill_after_s in (0.9, 1.3, 1.7, 2.1, 2.6):
        start = previous

        def enough(c: dict[str, Any], start: float = start, wait: float = kill_after_s) -> bool:
            return c["operating_s"] >= start + wait
        _run_child(tmp_path, 0.02, enough)  # saving 50 times a second
        now = saved(tmp_path)  # never torn, never refused
        assert now.operating_s >= previous
        previous = now.operating_s
    assert not list(tmp_path.glob("*.damaged-*"))


@pytest.mark.requirement("SR-173")
@pytest.mark.parametrize("damage", [
    b"", b"{", b"\xff\xfe", b"[]", b'{"format": "other"}', b"x" * (dr.MAX_FILE_BYTES + 1)])
def test_a_damaged_counters_file_is_kept_aside_and_counting_restarts_said_and_logged(
        tmp_path: Path, damage: bytes) -> None:
    (tmp_path / dr.COUNTERS_FILE).write_bytes(damage)
    built = build(tmp_path)
    try:
        record = built.device_record
        assert record is not None and record.counters_problem is not None
        assert "kept as" in record.counters_problem
        assert counters(built).operating_s == 0.0
        kept = list(tmp_path.glob(f"{dr.COUNTERS_FILE}.damaged-*"))
        assert len(kept) == 1 and kept[0].read_bytes() == damage
        assert built.query("device_record")["counters_problem"] == record.counters_problem
        assert built.writer is not None and built.writer.flush()
    finally:
        built.close()
    with RecordStore.open(records_path(tmp_path), read_only=True) as store:
        codes = [row.code for row in read_events(store.connection)]
    assert dr.COUNTERS_DAMAGED_CODE in codes


@pytest.mark.requirement("SR-173")
@pytest.mark.parametrize(("field", "value"), [
    ("operating_s", -1.0), ("sessions", 1.5), ("sessions", True), ("k1_closures", -3),
    ("charge_ma_min", "nan"), ("last_session_id", "x" * 65), ("extra", 1)])
def test_a_counters_file_with_a_valid_checksum_but_bad_values_is_refused(
        tmp_path: Path, field: str, value: Any) -> None:
    content = dr.Counters(operating_s=10.0).to_json()
    content[field] = value
    dr.write_atomically(tmp_path / dr.COUNTERS_FILE, content, dr.COUNTERS_FORMAT)
    record = dr.DeviceRecord(tmp_path, io=None, virtual=True)
    assert record.counters_problem is not None
    assert record.counter.counters.operating_s == 0.0


def test_a_flipped_byte_fails_the_checksum(tmp_path: Path) -> None:
    path = tmp_path / dr.COUNTERS_FILE
    dr.write_atomically(path, dr.Counters(operating_s=3600.0).to_json(), dr.COUNTERS_FORMAT)
    path.write_bytes(path.read_bytes().replace(b"3600.0", b"9600.0"))
    with pytest.raises(ValueError, match="checksum"):
        dr.read_checked(path, dr.COUNTERS_FORMAT)


# ---------------------------------------------------------------------------- reminders

DAY = dr.DAY_S
NOW = 1_800_000_000.0


@pytest.mark.requirement("SR-174")
@pytest.mark.parametrize(("age_s", "status"), [
    (30 * DAY, "due"),  # exactly the interval: due from that instant
    (30 * DAY - 0.001, "ok"),
    (30 * DAY + 0.001, "due"),
    (0.0, "ok"),
    (400 * DAY, "due"),
    (-dr.FUTURE_TOLERANCE_S, "ok"),  # a clock a little behind is believed
    (-dr.FUTURE_TOLERANCE_S - 1.0, "date_in_future"),
])
def test_a_reminder_is_due_from_the_instant_the_interval_has_passed(age_s: float,
                                                                    status: str) -> None:
    got = dr.reminder(NOW - age_s, 30, NOW)
    assert got.status == status
    assert got.due == (status != "ok")
    if status in ("ok", "due"):
        assert got.days_left == pytest.approx((30 * DAY - age_s) / DAY)


@pytest.mark.requirement("SR-174")
def test_never_done_and_unknown_are_due() -> None:
    assert dr.reminder(None, 30, NOW) == dr.Reminder("never", True, None, None, None)
    assert dr.reminder(NOW, 30, NOW, known=False).status == "unknown"
    assert dr.reminder(NOW, 30, NOW, known=False).due
    assert dr.reminder(float("nan"), 30, NOW).status == "never"


@pytest.fixture
def fake_handlers() -> Iterator[Callable[[str, Any], None]]:
    """Answer ``calibration`` / ``selftest_report`` with the test's own fixture data (the real
    handlers are other engineers' modules; whatever is registered is put back)."""
    queries.load_handlers()
    kept = {name: queries.HANDLERS.get(name) for name in ("calibration", "selftest_report")}

    def install(name: str, answer: Any) -> None:
        def handler(controller: Any, args: Any) -> dict[str, Any]:
            if isinstance(answer, Exception):
                raise answer
            return dict(answer)
        queries.HANDLERS[name] = handler
    yield install
    for name, handler in kept.items():
        if handler is None:
            queries.HANDLERS.pop(name, None)
        else:
            queries.HANDLERS[name] = handler


@pytest.mark.requirement("SR-174")
def test_the_record_reads_the_last_calibration_and_self_test_and_says_when_due(
        controller: Controller, fake_handlers: Callable[[str, Any], None]) -> None:
    record = controller.device_record
    assert record is not None
    now = time.time()
    fake_handlers("calibration", {"wall_s": now - 364.5 * DAY, "technician": "Ivan"})
    fake_handlers("selftest_report", {"date": "2001-01-01T10:00:00", "passed": True})
    answer = controller.query("device_record")
    cal, st = answer["calibration"], answer["selftest"]
    assert cal["status"] == "ok" and not cal["due"] and cal["technician"] == "Ivan"
    assert cal["days_left"] == pytest.approx(0.5, abs=0.01)
    assert st["status"] == "due" and st["passed"] is True
    record.set_intervals(364, 30, "Ivan")
    assert controller.query("device_record")["calibration"]["status"] == "due"
    fake_handlers("calibration", {"technician": None})  # answers, but none was ever done
    assert controller.query("device_record")["calibration"]["status"] == "never"
    fake_handlers("calibration", QueryRefused("calibration_missing", "no calibration file"))
    cal = controller.query("device_record")["calibration"]
    assert cal["status"] == "unknown" and cal["due"] and "no calibration file" in cal["note"]
    assert cal["available"]
    fake_handlers("calibration", RuntimeError("a bug elsewhere"))
    assert controller.query("device_record")["calibration"]["status"] == "unknown"


@pytest.mark.requirement("SR-174")
def test_without_the_other_queries_the_dates_are_unknown(
        controller: Controller, fake_handlers: Callable[[str, Any], None]) -> None:
    queries.HANDLERS.pop("calibration", None)
    queries.HANDLERS.pop("selftest_report", None)
    answer = controller.query("device_record")
    for key, name in (("calibration", "calibration"), ("selftest", "selftest_report")):
        assert answer[key]["status"] == "unknown" and not answer[key]["available"]
        assert name in answer[key]["note"]
    with pytest.raises(QueryRefused) as refused:
        controller.query("calibration")
    assert refused.value.code == UNKNOWN_QUERY


# ---------------------------------------------------------------------------- intervals


@pytest.mark.requirement("SR-174")
@pytest.mark.parametrize(("cal", "st", "ok"), [
    (30, 1, True), (730, 90, True), (365, 30, True), (29, 30, False), (731, 30, False),
    (365, 0, False), (365, 91, False), (365.5, 30, False), (365, True, False),
    (float("nan"), 30, False), (float("inf"), 30, False), ("365", 30, False), (-30, 30, False)])
def test_intervals_are_taken_only_within_their_bounds(
        controller: Controller, cal: Any, st: Any, ok: bool) -> None:
    if ok:
        answer = controller.query("set_maintenance_intervals", calibration_days=cal,
                                  selftest_days=st, technician="Ivan")
        assert (answer["calibration_days"], answer["selftest_days"]) == (cal, st)
    else:
        with pytest.raises(QueryRefused) as refused:
            controller.query("set_maintenance_intervals", calibration_days=cal,
                             selftest_days=st, technician="Ivan")
        assert refused.value.code == INVALID_QUERY
        assert controller.query("device_record")["intervals"]["calibration_days"] == 365


@pytest.mark.requirement("SR-174")
def test_an_interval_change_is_stored_logged_with_old_new_and_who_and_kept(
        tmp_path: Path) -> None:
    built = build(tmp_path)
    try:
        built.query("set_maintenance_intervals", calibration_days=180.0, selftest_days=7.0,
                    technician="Ivan")
        assert built.writer is not None and built.writer.flush()
    finally:
        built.close()
    with RecordStore.open(records_path(tmp_path), read_only=True) as store:
        rows = [r for r in read_events(store.connection) if r.code == dr.INTERVALS_CHANGED_CODE]
    assert len(rows) == 1
    assert rows[0].details == {"by": "Ivan", "old_calibration_days": 365,
                               "new_calibration_days": 180, "old_selftest_days": 30,
                               "new_selftest_days": 7}
    again = build(tmp_path)
    try:
        intervals = again.query("device_record")["intervals"]
        assert (intervals["calibration_days"], intervals["selftest_days"]) == (180, 7)
        assert intervals["changed_by"] == "Ivan"
    finally:
        again.close()


@pytest.mark.requirement("SR-174")
def test_an_intervals_file_outside_the_bounds_is_refused_at_load(tmp_path: Path) -> None:
    dr.write_atomically(tmp_path / dr.INTERVALS_FILE,
                        {"calibration_days": 5000, "selftest_days": 30, "changed_by": "x",
                         "changed_wall_s": 1.0}, dr.INTERVALS_FORMAT)
    record = dr.DeviceRecord(tmp_path, io=None, virtual=True)
    assert record.intervals == dr.Intervals()
    assert record.intervals_problem is not None and "730" in record.intervals_problem


@pytest.mark.requirement("SR-172")
@pytest.mark.parametrize("args", [
    {}, {"calibration_days": 365, "selftest_days": 30},
    {"calibration_days": 365, "selftest_days": 30, "technician": ""},
    {"calibration_days": 365, "selftest_days": 30, "technician": "x" * 65},
    {"calibration_days": 365, "selftest_days": 30, "technician": "a\nb"},
    {"calibration_days": 365, "selftest_days": 30, "technician": 5.0},
    {"calibration_days": 365, "selftest_days": 30, "technician": "Ivan", "more": 1.0}])
def test_junk_to_the_interval_setter_is_refused(controller: Controller,
                                                args: dict[str, Any]) -> None:
    with pytest.raises(QueryRefused) as refused:
        controller.query("set_maintenance_intervals", **args)
    assert refused.value.code == INVALID_QUERY


@pytest.mark.requirement("SR-172")
def test_the_device_record_takes_no_arguments_and_names_the_simulated_serial(
        controller: Controller) -> None:
    with pytest.raises(QueryRefused) as refused:
        controller.query("device_record", page=1.0)
    assert refused.value.code == INVALID_QUERY
    answer = controller.query("device_record")
    assert (answer["serial"], answer["serial_source"]) == (dr.SIM_SERIAL, "simulated")
    assert answer["simulated_board"] and answer["software_version"]
    assert answer["counters"]["sessions"] == 0


def test_without_a_state_folder_the_record_has_no_counters_and_no_setter() -> None:
    built = build_controller(sim=True, clock=VirtualClock(), notifier=SystemdWatchdog(env={}))
    try:
        answer = built.query("device_record")
        assert answer["counters"] is None and not answer["intervals"]["editable"]
        with pytest.raises(QueryRefused) as refused:
            built.query("set_maintenance_intervals", calibration_days=365, selftest_days=30,
                        technician="Ivan")
        assert refused.value.code == "device_record_unavailable"
    finally:
        built.close()


@pytest.mark.parametrize(("name", "text", "serial"), [
    ("serial-number", "10000000abcdef12\x00", "10000000abcdef12"),
    ("cpuinfo", "processor\t: 0\nSerial\t\t: 10000000deadbeef\nModel\t: Pi 4\n",
     "10000000deadbeef"),
    ("cpuinfo", "processor\t: 0\n", "unknown")])
def test_a_real_board_is_named_by_the_pis_serial(tmp_path: Path, name: str, text: str,
                                                 serial: str) -> None:
    source = tmp_path / name
    source.write_text(text)
    got, where = dr.board_serial(SimpleNamespace(sim=None), (tmp_path / "absent", source))  # type: ignore[arg-type]
    assert got == serial
    assert where == (str(source) if serial != "unknown" else "none")
