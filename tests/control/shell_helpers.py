"""Shared set-up for the control shell's tests: the real simulated board on a virtual clock."""

from __future__ import annotations

from kiosk.hal.board import Board
from kiosk.hal.config import load_board_config
from kiosk.hal.factory import build_board
from kiosk.hal.sim.board import SimBoard
from kiosk.hal.sim.clock import VirtualClock


def sim_board(clock: VirtualClock | None = None, *, seed: int = 0) -> Board:
    return build_board(load_board_config(), sim=True, clock=clock or VirtualClock(), seed=seed)


def sim_of(board: Board) -> SimBoard:
    assert board.sim is not None
    return board.sim


def drive_current(board: Board, current_ma: float, *, settle_s: float = 0.1) -> None:
    """Bring the output stage up by hand (hardware.md 8 order) and drive ``current_ma`` open
    loop, toggling the heartbeat every 10 ms as a control loop would."""
    clock = board.clock
    board.dac.zero()
    board.heartbeat.toggle()
    board.boost.enable()
    board.polarity_relay.set_reversed(False)
    _toggle_for(board, 0.06)
    board.output_relay.close()
    _toggle_for(board, 0.02)
    board.dac.set_current_ma(current_ma)
    _toggle_for(board, settle_s)
    assert clock.now_s() > 0


def _toggle_for(board: Board, duration_s: float) -> None:
    end_s = board.clock.now_s() + duration_s
    while board.clock.now_s() < end_s:
        board.heartbeat.toggle()
        board.clock.sleep_s(0.01)
