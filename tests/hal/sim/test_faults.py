"""Fault injection by name: each test injects one fault and checks one outcome on the board."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from kiosk.hal.board import Board
from kiosk.hal.config import load_board_config
from kiosk.hal.errors import BusError
from kiosk.hal.factory import build_board
from kiosk.hal.sim.board import SimBoard
from kiosk.hal.sim.clock import SimulationEnded, VirtualClock
from kiosk.hal.sim.faults import FAULT_NAMES

RELEASE_S = 0.005


class Rig:
    def __init__(self, board: Board) -> None:
        self.board = board
        assert isinstance(board.clock, VirtualClock) and board.sim is not None
        self.clock: VirtualClock = board.clock
        self.sim: SimBoard = board.sim

    def enable_output(self, current_ma: float = 1.0) -> None:
        """Heartbeat on a timer, boost, K1, set-point: output flowing."""
        self.clock.call_every(0.01, lambda _t: self.board.heartbeat.toggle(), "heartbeat")
        self.board.boost.enable()
        self.clock.sleep_s(0.05)
        self.board.output_relay.close()
        self.clock.sleep_s(0.01)
        self.board.dac.set_current_ma(current_ma)
        self.clock.sleep_s(0.1)


@pytest.fixture
def rig() -> Iterator[Rig]:
    board = build_board(load_board_config(), sim=True, clock=VirtualClock())
    yield Rig(board)
    board.close()


def test_fault_names_are_the_documented_set() -> None:
    assert set(FAULT_NAMES) == {
        "i2c_nack", "adc_never_ready", "adc_stuck", "dac_ignores_writes", "stage_runaway",
        "estop_press", "estop_release", "contact_loss", "contact_restore", "partial_contact",
        "short_circuit", "load_step", "loop_stall", "relay_stuck", "adc_channel_dead",
        "trip_fails", "monostable_stuck", "reference_load"}


def test_unknown_fault_name_lists_the_valid_ones(rig: Rig) -> None:
    with pytest.raises(ValueError, match="unknown fault 'meteor'") as error:
        rig.sim.inject("meteor")
    for name in FAULT_NAMES:
        assert name in str(error.value)


def test_unknown_parameter_lists_the_valid_ones(rig: Rig) -> None:
    with pytest.raises(ValueError, match=r"does not take ohms.*ohm=10\.\.100"):
        rig.sim.inject("short_circuit", ohms=20)


def test_missing_required_parameter_is_named(rig: Rig) -> None:
    with pytest.raises(ValueError, match=re.escape("needs device='dac' | 'adc'")):
        rig.sim.inject("i2c_nack")


def test_out_of_range_parameter_is_refused_with_its_range(rig: Rig) -> None:
    with pytest.raises(ValueError, match=r"factor=20 is out of range.*1\.\.10"):
        rig.sim.inject("partial_contact", factor=20)


def test_one_shot_actions_have_nothing_to_clear(rig: Rig) -> None:
    with pytest.raises(ValueError, match="nothing to clear"):
        rig.sim.clear("estop_release")


def test_i2c_nack_on_the_dac_makes_dac_writes_fail(rig: Rig) -> None:
    rig.sim.inject("i2c_nack", device="dac")
    with pytest.raises(BusError):
        rig.board.dac.set_code(100)
    rig.sim.clear("i2c_nack")
    rig.board.dac.set_code(100)
    assert rig.sim.dac_model.dac_code == 100


def test_i2c_nack_on_the_adc_makes_adc_reads_fail(rig: Rig) -> None:
    rig.sim.inject("i2c_nack", device="adc")
    with pytest.raises(BusError):
        rig.board.adc.read_current_ma()


def test_adc_never_ready_hangs_the_read_until_something_else_stops_it(rig: Rig) -> None:
    rig.sim.inject("adc_never_ready")
    rig.clock.end_s = rig.clock.now_s() + 0.5  # stands in for the supervisor
    with pytest.raises(SimulationEnded):
        rig.board.adc.read_current_ma()
    rig.clock.end_s = None


def test_adc_stuck_returns_the_same_voltage_whatever_flows(rig: Rig) -> None:
    rig.sim.inject("adc_stuck", value_v=0.1)
    rig.enable_output(0.5)
    assert rig.board.adc.read_current_ma() == pytest.approx(1.0, abs=0.001)  # 0.1 V / 100 R


def test_dac_ignoring_writes_keeps_the_output_where_it_was(rig: Rig) -> None:
    rig.enable_output(0.5)
    before_v = rig.sim.dac_output_v()
    rig.sim.inject("dac_ignores_writes")
    rig.board.dac.zero()
    assert rig.sim.dac_output_v() == before_v > 0.0


def test_stage_runaway_lets_the_load_alone_limit_the_current(rig: Rig) -> None:
    rig.enable_output(0.2)
    rig.sim.inject("stage_runaway")
    rig.clock.sleep_s(0.05)
    assert rig.sim.true_current_ma() == pytest.approx(30.0 / 21.1, rel=0.02)  # 30 V, 21 kOhm


def test_estop_press_opens_the_loop_and_release_closes_it(rig: Rig) -> None:
    rig.sim.inject("estop_press")
    assert not rig.board.estop.is_intact
    rig.sim.clear("estop_press")
    assert rig.board.estop.is_intact


def test_estop_press_reaches_the_safe_state_by_relay_release_once_the_dac_is_zero(
        rig: Rig) -> None:
    rig.enable_output(1.0)
    rig.board.estop.on_pressed(rig.board.dac.zero)  # what the shutdown path does after K1
    start_s = rig.clock.now_s()
    rig.sim.inject("estop_press")
    rig.clock.sleep_s(0.05)
    assert rig.sim.safe_state_reached_at_s(start_s) == pytest.approx(start_s + RELEASE_S)


def test_contact_loss_stops_the_current_and_restore_lets_it_flow(rig: Rig) -> None:
    rig.enable_output(1.0)
    rig.sim.inject("contact_loss")
    rig.clock.sleep_s(0.02)
    assert abs(rig.sim.true_current_ma()) < 0.002
    rig.sim.inject("contact_restore")
    rig.clock.sleep_s(0.02)
    assert rig.sim.true_current_ma() == pytest.approx(0.98, abs=0.01)


def test_partial_contact_multiplies_rp_by_its_factor(rig: Rig) -> None:
    rig.sim.inject("partial_contact", factor=5.0, transition_s=0.5)
    rig.clock.sleep_s(0.5)
    assert rig.sim.skin.rp_ohm(rig.clock.now_s()) == pytest.approx(100_000.0, rel=1e-3)
    rig.sim.clear("partial_contact")
    rig.clock.sleep_s(0.5)
    assert rig.sim.skin.rp_ohm(rig.clock.now_s()) == pytest.approx(20_000.0, rel=1e-3)


def test_short_circuit_bridges_the_electrodes(rig: Rig) -> None:
    rig.enable_output(1.0)
    rig.sim.inject("short_circuit")
    rig.clock.sleep_s(0.02)
    assert rig.sim.true_load_voltage_v() == pytest.approx(1e-3 * 47.0, rel=0.05)


def test_load_step_scales_the_impedance_at_once(rig: Rig) -> None:
    rig.enable_output(0.5)
    before_v = rig.sim.true_load_voltage_v()
    rig.sim.inject("load_step", factor=0.5)
    rig.clock.sleep_s(0.05)
    assert rig.sim.true_load_voltage_v() < 0.6 * before_v


def test_loop_stall_blocks_the_next_bus_transaction_for_its_duration(rig: Rig) -> None:
    rig.sim.inject("loop_stall", ms=150)
    start_s = rig.clock.now_s()
    rig.board.dac.set_code(0)
    assert rig.clock.now_s() - start_s == pytest.approx(0.150, abs=0.001)


def test_loop_stall_in_the_control_thread_lets_the_heartbeat_drop_k1(rig: Rig) -> None:
    """The heartbeat is toggled by the control cycle itself; a stuck bus stops it, and the
    monostable opens K1 ~100 ms after the last toggle without any software."""
    board = rig.board
    board.boost.enable()

    def cycle() -> None:
        board.heartbeat.toggle()
        board.adc.read_current_ma()
        rig.clock.sleep_until_s(rig.clock.now_s() + 0.008)

    for _ in range(6):
        cycle()
    board.output_relay.close()
    for _ in range(10):
        cycle()
    assert rig.sim.k1_closed()
    rig.sim.inject("loop_stall", ms=300)
    stalled_s = rig.clock.now_s()
    cycle()  # toggles once, then blocks 300 ms on the bus
    k1_open = [e.time_s for e in rig.sim.relay_history
               if e.relay == "k1" and e.part == "contacts" and not e.state]
    assert k1_open == [pytest.approx(stalled_s + 0.100 + RELEASE_S, abs=1e-9)]
