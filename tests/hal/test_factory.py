"""The board factory: the same HAL objects on the Pi and in simulation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.hal.adc import FrontEndAdc
from kiosk.hal.board import Board
from kiosk.hal.config import load_board_config
from kiosk.hal.dac import SetpointDac
from kiosk.hal.errors import BusError
from kiosk.hal.factory import build_board
from kiosk.hal.gpio import (
    Boost,
    Buzzer,
    EStop,
    Heartbeat,
    HwTrip,
    OutputRelay,
    PolarityRelay,
    StatusLed,
)
from kiosk.hal.sim.board import SimBoard
from kiosk.hal.sim.clock import VirtualClock

HAL_TYPES = {
    "dac": SetpointDac, "adc": FrontEndAdc, "output_relay": OutputRelay,
    "polarity_relay": PolarityRelay, "boost": Boost, "heartbeat": Heartbeat, "estop": EStop,
    "hw_trip": HwTrip, "buzzer": Buzzer, "status_led": StatusLed,
}


def test_sim_board_is_built_from_the_hal_classes() -> None:
    board = build_board(load_board_config(), sim=True, clock=VirtualClock())
    try:
        for name, kind in HAL_TYPES.items():
            assert type(getattr(board, name)) is kind, name
        assert isinstance(board.sim, SimBoard)
        assert board.i2c is board.sim.bus
    finally:
        board.close()


def test_sim_dac_eeprom_is_left_as_the_production_step_leaves_it() -> None:
    board = build_board(load_board_config(), sim=True, clock=VirtualClock())
    try:
        status = board.dac.read_status()
        assert (status.eeprom_pd, status.eeprom_code) == (1, 0)
        assert board.dac.eeprom_is_safe()
        assert board.sim is not None and board.sim.dac_output_v() == 0.0
    finally:
        board.close()


def test_factory_fresh_dac_wakes_at_mid_scale_and_fails_the_self_test() -> None:
    board = build_board(load_board_config(), sim=True, clock=VirtualClock(), fresh_dac=True)
    try:
        assert not board.dac.eeprom_is_safe()
        assert board.sim is not None and board.sim.dac_output_v() == pytest.approx(1.65)
    finally:
        board.close()


def test_sim_board_uses_the_configured_addresses_and_pins(tmp_path: Path) -> None:
    site = tmp_path / "board.toml"
    site.write_text("[i2c]\ndac_address = 0x63\nadc_address = 0x49\n[gpio]\nk1_output_en = 26\n")
    board = build_board(load_board_config(site), sim=True, clock=VirtualClock())
    try:
        assert board.sim is not None
        assert board.i2c.scan() == [0x49, 0x63]
        board.heartbeat.toggle()  # the monostable must be running for K1's coil
        board.output_relay.close()
        assert board.sim.pin_factory.level(26)
        assert board.sim.relay_history[0][1:] == ("k1", "coil", True)  # 26 drives K1
    finally:
        board.close()


def test_pi_branch_fails_clearly_when_dev_i2c_is_missing() -> None:
    with pytest.raises(BusError, match=r"cannot open I2C bus /dev/i2c-1: .*dtparam=i2c_arm=on"):
        build_board(load_board_config(), sim=False)


def test_pi_branch_opens_the_configured_bus_number(tmp_path: Path) -> None:
    site = tmp_path / "board.toml"
    site.write_text("[i2c]\nbus = 7\n")
    with pytest.raises(BusError, match="/dev/i2c-7"):
        build_board(load_board_config(site), sim=False)


def test_close_leaves_the_board_safe_and_is_idempotent() -> None:
    board = build_board(load_board_config(), sim=True, clock=VirtualClock())
    board.boost.enable()
    board.output_relay.close()
    board.dac.set_code(500)
    sim = board.sim
    assert sim is not None
    board.close()
    board.close()
    gpio = board.config.gpio
    assert not sim.pin_factory.level(gpio.k1_output_en)
    assert not sim.pin_factory.level(gpio.boost_en)
    assert sim.dac_output_v() == 0.0


def test_only_the_factory_imports_the_simulated_board() -> None:
    code = ("import sys, kiosk.hal.board, kiosk.hal.gpio, kiosk.hal.config, kiosk.hal.dac, "
            "kiosk.hal.adc\n"
            "loaded = [m for m in sys.modules if m.startswith('kiosk.hal.sim')]\n"
            "assert not loaded, loaded\n")
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_board_fields_are_the_documented_contract() -> None:
    fields = set(Board.__dataclass_fields__)
    assert set(HAL_TYPES) | {"clock", "sim", "config", "i2c"} <= fields
