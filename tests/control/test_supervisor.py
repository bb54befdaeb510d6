"""The supervisor on the virtual clock: trips only on a real stall, once, within its timing."""

from __future__ import annotations

import pytest

from kiosk.control.shutdown import ShutdownPath
from kiosk.control.supervisor import CHECK_PERIOD_S, STALL_TIMEOUT_S, Supervisor
from kiosk.hal.sim.clock import VirtualClock
from tests.control.shell_helpers import drive_current, sim_board, sim_of
from tools.traceability import FigureRecorder


def supervised(clock: VirtualClock):
    board = sim_board(clock)
    drive_current(board, 1.0)
    shutdown = ShutdownPath.for_board(board, clock)
    supervisor = Supervisor(clock, shutdown)
    supervisor.start()
    return board, shutdown, supervisor


def run_cycles(board, supervisor: Supervisor, duration_s: float, period_s: float) -> None:
    end_s = board.clock.now_s() + duration_s
    while board.clock.now_s() < end_s:
        board.heartbeat.toggle()
        board.clock.sleep_s(period_s)
        supervisor.cycle_completed(board.clock.now_s())


def test_no_trip_while_cycles_complete_in_time() -> None:
    clock = VirtualClock()
    board, shutdown, supervisor = supervised(clock)
    supervisor.cycle_completed(clock.now_s())
    run_cycles(board, supervisor, 2.0, 0.045)  # slow cycles, still inside 50 ms
    assert supervisor.trips == 0
    assert not shutdown.pending
    assert board.output_relay.is_closed


@pytest.mark.requirement("SR-032")
def test_a_stall_opens_the_relay_and_stops_the_heartbeat_within_its_timing(
        safety_figure: FigureRecorder) -> None:
    clock = VirtualClock()
    board, shutdown, supervisor = supervised(clock)
    sim = sim_of(board)
    last_cycle_s = clock.now_s()
    supervisor.cycle_completed(last_cycle_s)

    clock.sleep_s(0.2)  # the control thread is stuck somewhere: no more cycles

    assert supervisor.trips == 1
    [trip] = shutdown.take_pending()
    assert trip.reason.code == "loop_stall"
    assert trip.source == "supervisor"
    detected_after_s = trip.at_s - last_cycle_s
    assert STALL_TIMEOUT_S < detected_after_s <= STALL_TIMEOUT_S + CHECK_PERIOD_S + 1e-9
    safe_at_s = sim.safe_state_reached_at_s(last_cycle_s)
    assert safe_at_s is not None
    safety_figure("safe_after_ms", (safe_at_s - last_cycle_s) * 1000, "ms", limit=60.0)
    assert (safe_at_s - last_cycle_s) * 1000 < 60.0
    assert not sim.heartbeat_alive()  # the monostable timed out too: a second, hardware line


def test_one_trip_per_stall_and_rearmed_by_the_next_cycle() -> None:
    clock = VirtualClock()
    _board, shutdown, supervisor = supervised(clock)
    supervisor.cycle_completed(clock.now_s())
    clock.sleep_s(0.5)
    assert supervisor.trips == 1
    supervisor.cycle_completed(clock.now_s())  # the loop came back
    clock.sleep_s(0.03)
    assert supervisor.trips == 1
    clock.sleep_s(0.1)
    assert supervisor.trips == 2
    assert [t.reason.code for t in shutdown.take_pending()] == ["loop_stall", "loop_stall"]


def test_a_disarmed_supervisor_never_trips() -> None:
    clock = VirtualClock()
    _board, shutdown, supervisor = supervised(clock)
    supervisor.cycle_completed(clock.now_s())
    supervisor.disarm()
    clock.sleep_s(1.0)
    assert supervisor.trips == 0
    assert not shutdown.pending


@pytest.mark.requirement("SR-028")
def test_a_stuck_adc_conversion_is_caught_inside_the_busy_poll(
        safety_figure: FigureRecorder) -> None:
    """``adc_never_ready``: the driver's poll never returns; the supervisor, fired by the very
    clock the poll advances, opens the relay; the simulation's end unwinds the poll."""
    from kiosk.hal.sim.clock import SimulationEnded

    clock = VirtualClock()
    board, shutdown, supervisor = supervised(clock)
    sim = sim_of(board)
    supervisor.cycle_completed(clock.now_s())
    injected_s = clock.now_s()
    sim.inject("adc_never_ready")
    clock.end_s = injected_s + 0.5
    with pytest.raises(SimulationEnded):
        board.adc.read_current_ma()
    assert [t.reason.code for t in shutdown.take_pending()] == ["loop_stall"]
    safe_at_s = sim.safe_state_reached_at_s(injected_s)
    assert safe_at_s is not None
    safety_figure("safe_after_ms", (safe_at_s - injected_s) * 1000, "ms", limit=60.0)
    assert (safe_at_s - injected_s) * 1000 < 60.0


def test_check_period_must_be_shorter_than_the_timeout() -> None:
    clock = VirtualClock()
    board = sim_board(clock)
    with pytest.raises(ValueError, match="check_period_s"):
        Supervisor(clock, ShutdownPath.for_board(board, clock), stall_timeout_s=0.01,
                   check_period_s=0.02)
