"""The one shutdown path on the simulated board: order, independence of steps, the latch."""

from __future__ import annotations

import threading

import pytest

from kiosk.control.reasons import Code, make
from kiosk.control.shutdown import ShutdownPath
from kiosk.hal.sim.clock import VirtualClock
from tests.control.shell_helpers import drive_current, sim_board, sim_of
from tools.traceability import FigureRecorder


@pytest.mark.requirement("SR-001")
def test_trip_reaches_the_safe_state_and_latches_the_reason(
        safety_figure: FigureRecorder) -> None:
    board = sim_board()
    drive_current(board, 1.0)
    sim = sim_of(board)
    assert sim.true_current_ma() == pytest.approx(1.0, abs=0.03)
    shutdown = ShutdownPath.for_board(board, board.clock)

    tripped_at_s = board.clock.now_s()
    run = shutdown.trip(make(Code.OVER_CURRENT, measured_ma=2.1, limit_ma=1.55), "test")

    assert run.ok
    assert shutdown.pending
    assert not board.output_relay.is_closed
    assert not board.boost.is_enabled
    assert board.buzzer.is_on
    assert sim.dac_output_v() == 0.0
    board.clock.sleep_s(0.02)
    assert abs(sim.true_current_ma()) < 0.01
    safe_at_s = sim.safe_state_reached_at_s(tripped_at_s)
    assert safe_at_s is not None
    safety_figure("safe_after_ms", (safe_at_s - tripped_at_s) * 1000, "ms", limit=6.0)
    assert (safe_at_s - tripped_at_s) * 1000 <= 6.0  # relay release (5 ms) + one DAC write
    [request] = shutdown.take_pending()
    assert request.reason.code == "over_current"
    assert request.source == "test"
    assert request.at_s == tripped_at_s
    assert not shutdown.pending


@pytest.mark.requirement("SR-001")
def test_the_relay_opens_before_the_dac_is_touched() -> None:
    board = sim_board()
    drive_current(board, 1.0)
    sim = sim_of(board)
    shutdown = ShutdownPath.for_board(board, board.clock)
    shutdown.trip(make(Code.I2C_ERROR), "test")
    coil_off_s = next(e.time_s for e in reversed(sim.relay_history)
                      if e.relay == "k1" and e.part == "coil" and not e.state)
    dac_zero_s = sim.frontend.dac_zero_change_times()[-1]
    assert coil_off_s < dac_zero_s


def test_every_step_runs_when_the_dac_does_not_answer() -> None:
    board = sim_board()
    drive_current(board, 1.0)
    sim = sim_of(board)
    sim.inject("i2c_nack", device="dac")
    shutdown = ShutdownPath.for_board(board, board.clock)

    run = shutdown.trip(make(Code.I2C_ERROR), "control_loop")

    assert [f.step for f in run.failures] == ["dac_zero"]
    assert "BusError" in run.failures[0].error
    assert not board.output_relay.is_closed  # before the failing step
    assert not board.boost.is_enabled  # after it
    assert board.buzzer.is_on
    assert [f.step for f in shutdown.take_failures()] == ["dac_zero"]
    board.clock.sleep_s(0.02)
    assert not sim.k1_closed()
    assert abs(sim.true_current_ma()) < 0.01  # the DAC still drives, into the bleeder only


def test_repeated_trips_keep_the_safe_state_and_every_reason_in_order() -> None:
    board = sim_board()
    drive_current(board, 0.5)
    shutdown = ShutdownPath.for_board(board, board.clock)
    shutdown.trip(make(Code.ESTOP), "estop_gpio")
    shutdown.trip(make(Code.LOOP_STALL), "supervisor", stop_heartbeat=True)
    shutdown.trip(make(Code.ESTOP), "estop_gpio")
    assert not board.output_relay.is_closed
    assert sim_of(board).dac_output_v() == 0.0
    assert shutdown.heartbeat_stopped
    assert [t.reason.code for t in shutdown.take_pending()] == ["estop", "loop_stall", "estop"]
    assert not shutdown.heartbeat_stopped  # the core has the fault now
    assert shutdown.trip_count == 3
    assert [t.source for t in shutdown.history] == ["estop_gpio", "supervisor", "estop_gpio"]


@pytest.mark.requirement("SR-003")
def test_a_trip_from_another_thread_does_not_wait_for_a_held_bus() -> None:
    board = sim_board()
    drive_current(board, 1.0)
    shutdown = ShutdownPath.for_board(board, board.clock)
    assert board.i2c.try_lock()  # the control thread is inside a transaction
    try:
        runs = []
        worker = threading.Thread(target=lambda: runs.append(
            shutdown.trip(make(Code.ESTOP), "estop_gpio")))
        worker.start()
        worker.join(timeout=5.0)
        assert not worker.is_alive()
    finally:
        board.i2c.unlock()
    [run] = runs
    assert [f.step for f in run.failures] == ["dac_zero"]  # bounded wait, then given up
    assert not board.output_relay.is_closed
    assert not board.boost.is_enabled


def test_simulation_end_inside_a_step_still_runs_the_rest_then_propagates() -> None:
    board = sim_board()
    drive_current(board, 1.0)

    class EndOfTime(BaseException):
        pass

    def dac_zero_at_the_end_of_time() -> None:
        raise EndOfTime

    shutdown = ShutdownPath(board.clock, open_output_relay=board.output_relay.open,
                            zero_dac=dac_zero_at_the_end_of_time,
                            disable_boost=board.boost.disable,
                            stop_heartbeat=board.heartbeat.stop, sound_alarm=board.buzzer.on)
    with pytest.raises(EndOfTime):
        shutdown.trip(make(Code.INTERNAL_ERROR, what="test"), "test")
    assert not board.output_relay.is_closed
    assert not board.boost.is_enabled
    assert board.buzzer.is_on
    assert shutdown.pending


def test_make_safe_leaves_the_board_safe_without_latching_a_fault() -> None:
    board = sim_board(VirtualClock())
    drive_current(board, 0.8)
    shutdown = ShutdownPath.for_board(board, board.clock)
    run = shutdown.make_safe("exit")
    assert run.ok
    assert not shutdown.pending
    assert not board.output_relay.is_closed
    assert not board.boost.is_enabled
    assert not board.buzzer.is_on
    assert sim_of(board).dac_output_v() == 0.0
