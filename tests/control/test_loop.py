"""The control loop on the simulated board: its schedule, self-test, GPIO-edge trips, bus errors,
exceptions, overruns, heartbeat, stop, the records, and the wall-clock thread."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.control.catalogue import load_catalogue
from kiosk.control.commands import Acknowledge, Heartbeat, ProgramRequest, StartTreatment
from kiosk.control.core import ControlCore
from kiosk.control.limits import SafetyConfig
from kiosk.control.loop import ControlLoop, CycleRecord
from kiosk.control.service import Controller, build_controller
from kiosk.control.snapshot import TreatmentState
from kiosk.control.watchdog import SystemdWatchdog
from kiosk.hal.config import load_board_config
from kiosk.hal.factory import build_board
from kiosk.hal.sim.clock import SimulationEnded, VirtualClock
from kiosk.hal.sim.skin import SkinParams
from tests.consent_version import CONSENT

S = TreatmentState
PROGRAM = ProgramRequest("face", "pigmentation", current_ma=0.6, current_stage_s=120)


@pytest.fixture
def controller() -> Iterator[Controller]:
    built = build_controller(sim=True, clock=VirtualClock(), notifier=SystemdWatchdog(env={}))
    yield built
    built.close()


def start(controller: Controller, program: ProgramRequest = PROGRAM) -> None:
    controller.submit(StartTreatment(program, "session-1", screening_cleared=True,
                                     consent_version=CONSENT))


def run_with_ui(controller: Controller, duration_s: float, until: S | None = None) -> None:
    """Advance like the kiosk does: a heartbeat with every 15 Hz poll."""
    end_s = controller.clock.now_s() + duration_s
    while controller.clock.now_s() < end_s - 1e-9:
        controller.submit(Heartbeat())
        controller.run_for(min(1 / 15, end_s - controller.clock.now_s()))
        if until is not None and controller.snapshot.state is until:
            return


def sim(controller: Controller):  # type: ignore[no-untyped-def]
    assert controller.board.sim is not None
    return controller.board.sim


def test_cycles_run_on_a_drift_free_10_ms_grid(controller: Controller) -> None:
    records: list[CycleRecord] = []
    controller.loop.add_observer(records.append)
    start(controller)
    run_with_ui(controller, 5.0)
    t0_s = records[0].deadline_s
    assert len(records) == 500
    assert [round((r.deadline_s - t0_s) / 0.010, 9) for r in records] == list(range(500))
    assert all(r.started_s == r.deadline_s for r in records)  # virtual clock: exactly on time
    assert controller.stats.summary()["overruns"] == 0
    assert all(r.healthy for r in records)


@pytest.mark.requirement("SR-008")
def test_self_test_runs_on_the_first_cycle_and_ready_is_sent_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "notify.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(path))
    server.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    built = build_controller(sim=True, clock=VirtualClock(), notifier=SystemdWatchdog())
    try:
        assert built.selftest is None
        built.run_for(1.2)
        assert built.selftest is not None and built.selftest.passed
        assert built.snapshot.healthy
        messages = []
        with pytest.raises(BlockingIOError):
            while True:
                messages.append(server.recv(4096).decode())
        assert messages[0].startswith("READY=1\n")
        assert messages[1:] == ["WATCHDOG=1"] * 3  # 0, 0.5 and 1.0 s: healthy cycles
    finally:
        built.close()
        server.close()


@pytest.mark.requirement("SR-008")
def test_a_factory_fresh_dac_fails_the_self_test_and_nothing_can_start() -> None:
    clock = VirtualClock()
    board = build_board(load_board_config(), sim=True, clock=clock, fresh_dac=True)
    loop = ControlLoop(board, ControlCore(load_catalogue(), SafetyConfig()))
    try:
        loop.run_for(0.05)
        assert loop.selftest is not None and not loop.selftest.passed
        assert "dac_eeprom_not_safe" in loop.selftest.failed_checks
        assert loop.snapshot.state is S.FAULT
        assert loop.snapshot.fault is not None
        assert loop.snapshot.fault.code == "selftest_failed"
        loop.submit(StartTreatment(PROGRAM, "s", True, consent_version=CONSENT))
        loop.run_for(1.0)
        assert loop.snapshot.last_refusal is not None
        assert loop.snapshot.last_refusal.code == "fault_latched"
        assert not board.output_relay.is_closed
    finally:
        loop.close()
        board.close()


@pytest.mark.requirement("SR-039", "SR-003")
def test_the_estop_edge_cuts_from_the_gpio_callback_before_the_next_cycle(
        controller: Controller) -> None:
    start(controller)
    run_with_ui(controller, 3.0)
    assert controller.snapshot.state is S.RAMP_UP
    assert controller.board.output_relay.is_closed
    cycles = controller.stats.cycles

    controller.inject("estop_press")  # the callback runs now, on the injecting thread

    assert controller.stats.cycles == cycles  # no cycle ran in between
    assert not controller.board.output_relay.is_closed
    assert not controller.board.boost.is_enabled
    assert sim(controller).dac_output_v() == 0.0
    assert controller.loop.shutdown.pending
    controller.run_for(0.01)
    assert controller.snapshot.fault is not None
    assert controller.snapshot.fault.code == "estop"


@pytest.mark.requirement("SR-007")
def test_the_hardware_trip_edge_latches_hw_trip() -> None:
    low_load = SkinParams(rs_ohm=300.0, rp_ohm=5_000.0)  # 28 V / 5.4 kOhm: far above 2.7 mA
    built = build_controller(sim=True, clock=VirtualClock(), load=low_load,
                             notifier=SystemdWatchdog(env={}))
    try:
        start(built)
        run_with_ui(built, 3.0)
        built.inject("stage_runaway")
        built.run_for(0.002)  # the comparator needs > 1 ms above 2.7 mA
        assert sim(built).hw_tripped()
        assert [t.source for t in built.loop.shutdown.history][:1] == ["hw_trip_gpio"]
        run_with_ui(built, 0.1)
        assert built.snapshot.fault is not None
        assert built.snapshot.fault.code == "hw_trip"
        assert abs(sim(built).true_current_ma()) < 0.02
    finally:
        built.close()


@pytest.mark.requirement("SR-027")
def test_a_dead_dac_trips_once_per_episode(controller: Controller) -> None:
    start(controller)
    run_with_ui(controller, 3.0)
    controller.inject("i2c_nack", device="dac")
    run_with_ui(controller, 1.0)
    assert controller.snapshot.fault is not None
    assert controller.snapshot.fault.code == "i2c_error"
    assert [t.reason.code for t in controller.loop.shutdown.history] == ["i2c_error"]
    assert controller.stats.i2c_errors >= 99  # every cycle's write failed; one trip
    assert not controller.snapshot.healthy


def test_an_exception_in_a_cycle_latches_internal_error_and_cuts(
        controller: Controller) -> None:
    start(controller)
    run_with_ui(controller, 3.0)
    controller.board.buzzer.release()  # the buzzer's GPIO is gone: the next write raises
    run_with_ui(controller, 0.05)
    assert controller.snapshot.fault is not None
    assert controller.snapshot.fault.code == "internal_error"
    assert controller.stats.exceptions >= 1
    assert not controller.board.output_relay.is_closed
    assert sim(controller).dac_output_v() == 0.0


def test_a_late_cycle_while_idle_is_counted_but_latches_nothing(
        controller: Controller) -> None:
    run_with_ui(controller, 0.5)
    controller.inject("loop_stall", ms=35)
    run_with_ui(controller, 0.5)
    assert controller.stats.overruns == 1
    assert controller.snapshot.fault is None
    assert controller.snapshot.state is S.IDLE


@pytest.mark.requirement("SR-033")
def test_the_heartbeat_stops_in_a_fault_and_returns_after_acknowledgement(
        controller: Controller) -> None:
    start(controller)
    run_with_ui(controller, 3.0)
    assert sim(controller).heartbeat_alive()
    controller.inject("contact_loss")
    run_with_ui(controller, 0.5)
    assert controller.snapshot.state is S.FAULT
    assert not sim(controller).heartbeat_alive()  # the monostable dropped: second line
    controller.inject("contact_restore")
    controller.submit(Acknowledge("contact_lost"))
    run_with_ui(controller, 0.5)
    assert controller.snapshot.state is S.IDLE
    assert sim(controller).heartbeat_alive()
    assert not sim(controller).k1_closed()  # nothing resumes by itself


def test_stop_ends_the_current_within_2_s_and_leaves_the_board_safe(
        controller: Controller) -> None:
    start(controller)
    run_with_ui(controller, 40.0, until=S.HOLD)
    run_with_ui(controller, 1.0)
    assert controller.snapshot.state is S.HOLD
    stopped_at_s = controller.clock.now_s()
    controller.stop()
    assert controller.clock.now_s() - stopped_at_s <= 2.5
    assert controller.snapshot.state is S.DONE
    assert not sim(controller).k1_closed()
    assert sim(controller).dac_output_v() == 0.0
    assert not controller.board.boost.is_enabled


@pytest.mark.requirement("SR-028")
def test_a_stuck_loop_shows_the_supervisors_fault_in_the_snapshot(
        controller: Controller) -> None:
    start(controller)
    run_with_ui(controller, 3.0)
    assert controller.snapshot.state is S.RAMP_UP
    controller.inject("adc_never_ready")
    clock = controller.clock
    assert isinstance(clock, VirtualClock)
    clock.end_s = clock.now_s() + 0.3
    with pytest.raises(SimulationEnded):
        controller.run_for(1.0)  # the driver's busy-poll never returns
    clock.end_s = None
    snapshot = controller.snapshot
    assert snapshot.state is S.FAULT
    assert snapshot.fault is not None and snapshot.fault.code == "loop_stall"
    assert not snapshot.output_enabled and not snapshot.healthy
    controller.clear("adc_never_ready")


def test_cycle_events_reach_the_records(tmp_path: Path) -> None:
    from kiosk.records.events import read_events
    from kiosk.records.store import RecordStore, records_path

    built = build_controller(sim=True, clock=VirtualClock(), state_dir=tmp_path,
                             notifier=SystemdWatchdog(env={}))
    try:
        start(built)
        run_with_ui(built, 3.0)
        built.inject("contact_loss")
        run_with_ui(built, 0.3)
        assert built.writer is not None and built.writer.flush()
    finally:
        built.close()
    store = RecordStore.open(records_path(tmp_path), read_only=True)
    try:
        codes = [row.code for row in read_events(store.connection)]
    finally:
        store.close()
    assert "selftest_passed" in codes
    assert "treatment_started" in codes
    assert "contact_check_passed" in codes
    assert codes.count("contact_lost") == 1


def test_the_wall_clock_thread_runs_and_stops_safe() -> None:
    built = build_controller(sim=True, notifier=SystemdWatchdog(env={}))
    try:
        built.start()
        for _ in range(200):
            if built.stats.cycles >= 20:
                break
            built.clock.sleep_s(0.01)
        assert built.loop.running
        assert built.selftest is not None and built.selftest.passed
        built.stop()
        assert not built.loop.running
        assert not built.board.output_relay.is_closed
    finally:
        built.close()
