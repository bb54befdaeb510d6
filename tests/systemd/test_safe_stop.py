"""The stop helper forces the safe state on its own, step by step, whatever state it finds.

The board here is the simulated one at the level the helper touches: gpiozero pins with the
board's external pull-downs (``SimPinFactory``) and the register-level MCP4725 on the emulated
I2C bus. "What a crashed kiosk left behind" is set up directly on the pins and the chip.
"""

from __future__ import annotations

import pytest

from kiosk.hal.sim.clock import VirtualClock
from kiosk.hal.sim.gpio import SimPinFactory
from kiosk.hal.sim.i2c_bus import EmulatedI2C
from kiosk.hal.sim.mcp4725 import Mcp4725Model
from kiosk.safe_stop import (
    SafeStopReport,
    SafeStopWiring,
    StepResult,
    fault_screen_text,
    force_safe_state,
    wiring_from_config,
)

WIRING = SafeStopWiring()
OUTPUTS = (WIRING.output_relay_pin, WIRING.boost_enable_pin, WIRING.polarity_relay_pin)


class LeftBehind:
    """A board as a crashed kiosk leaves it: K1, boost and K2 driven high, DAC at 1.24 mA."""

    def __init__(self) -> None:
        self.clock = VirtualClock()
        self.pins = SimPinFactory(self.clock, external_pull_downs=OUTPUTS)
        for bcm in OUTPUTS:
            pin = self.pins.pin(bcm)
            pin.function = "output"
            pin.state = True
        self.bus = EmulatedI2C(self.clock)
        self.dac = Mcp4725Model(self.clock, eeprom_code=0, eeprom_pd=1)
        self.bus.attach(WIRING.dac_address, self.dac)
        self.bus.writeto(WIRING.dac_address, bytes((0x07, 0xD0)))  # code 2000, PD 00
        self.opened_buses: list[int] = []

    def open_bus(self, bus_number: int) -> EmulatedI2C:
        self.opened_buses.append(bus_number)
        return self.bus

    def stop(self) -> SafeStopReport:
        return force_safe_state(WIRING, pin_factory=self.pins, open_dac_bus=self.open_bus)

    def close(self) -> None:
        self.pins.close()


@pytest.fixture
def board():
    left = LeftBehind()
    assert all(left.pins.level(bcm) for bcm in OUTPUTS)
    assert left.dac.dac_code == 2000 and left.dac.pd_mode == 0
    yield left
    left.close()


@pytest.mark.requirement("SR-036")
def test_relays_and_boost_end_low_and_dac_at_zero_in_power_down(board):
    report = board.stop()

    assert report.ok, report.lines()
    assert [board.pins.level(bcm) for bcm in OUTPUTS] == [False, False, False]
    assert board.dac.dac_code == 0
    assert board.dac.pd_mode == 1
    assert board.dac.output_v() == 0.0
    assert board.opened_buses == [WIRING.i2c_bus]


@pytest.mark.requirement("SR-036")
def test_output_relay_is_released_before_anything_touches_the_bus(board):
    k1_low_at_bus_time: list[bool] = []
    real_open_bus = board.open_bus

    def open_bus(bus_number: int) -> EmulatedI2C:
        k1_low_at_bus_time.append(not board.pins.level(WIRING.output_relay_pin))
        return real_open_bus(bus_number)

    force_safe_state(WIRING, pin_factory=board.pins, open_dac_bus=open_bus)

    assert k1_low_at_bus_time == [True]


@pytest.mark.requirement("SR-036")
def test_a_dead_dac_still_leaves_the_relays_open_and_reports_failure(board):
    board.bus.set_nack(WIRING.dac_address, True)

    report = board.stop()

    assert not report.ok
    assert [step.ok for step in report.steps] == [True, True, True, False]
    assert [board.pins.level(bcm) for bcm in OUTPUTS] == [False, False, False]
    assert "OSError" in report.steps[-1].detail


def test_a_dac_that_ignores_writes_is_caught_by_the_read_back(board):
    board.dac.ignore_writes = True

    report = board.stop()

    assert not report.ok
    assert "read back code 2000" in report.steps[-1].detail


def test_a_missing_i2c_bus_still_leaves_the_relays_open(board):
    def no_bus(bus_number: int) -> EmulatedI2C:
        raise FileNotFoundError(f"/dev/i2c-{bus_number}")

    report = force_safe_state(WIRING, pin_factory=board.pins, open_dac_bus=no_bus)

    assert [step.ok for step in report.steps] == [True, True, True, False]
    assert not board.pins.level(WIRING.output_relay_pin)


def test_a_gpio_failure_does_not_keep_the_dac_driving(board):
    class BrokenPins:
        def __getattr__(self, name: str) -> object:
            raise RuntimeError("no GPIO chip")

    report = force_safe_state(WIRING, pin_factory=BrokenPins(), open_dac_bus=board.open_bus)

    assert [step.ok for step in report.steps] == [False, False, False, True]
    assert board.dac.dac_code == 0 and board.dac.pd_mode == 1


def test_fault_screen_tells_the_operator_the_output_is_off_only_when_it_is():
    safe = SafeStopReport((StepResult("output relay K1 open", True),))
    unsafe = SafeStopReport((StepResult("output relay K1 open", False, "no GPIO chip"),))

    safe_text = fault_screen_text("kiosk.service-start-limit", safe)
    unsafe_text = fault_screen_text("kiosk.service-start-limit", unsafe)

    assert "The output is switched off" in safe_text
    assert "could NOT be confirmed off" in unsafe_text
    assert "switch the device off at the mains" in unsafe_text
    assert "kiosk.service-start-limit" in safe_text and "SERVICE REQUIRED" in safe_text


def test_wiring_comes_from_the_board_configuration(tmp_path):
    board_toml = tmp_path / "board.toml"
    board_toml.write_text("[gpio]\nk1_output_en = 26\n\n[i2c]\ndac_address = 0x63\n")

    wiring, note = wiring_from_config(board_toml)

    assert wiring.output_relay_pin == 26
    assert wiring.dac_address == 0x63
    assert wiring.boost_enable_pin == SafeStopWiring().boost_enable_pin
    assert str(board_toml) in note


def test_an_unreadable_configuration_falls_back_to_the_hardware_defaults(tmp_path):
    board_toml = tmp_path / "board.toml"
    board_toml.write_text("[gpio]\nk1_output_en = 99\n")  # out of range: ConfigError

    wiring, note = wiring_from_config(board_toml)

    assert wiring == SafeStopWiring()
    assert "hardware.md defaults" in note
