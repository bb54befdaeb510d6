"""MCP4725 model at register level, driven by the real Adafruit driver where it has a call."""

from __future__ import annotations

import adafruit_mcp4725
import pytest

from kiosk.hal.clock import RealClock
from kiosk.hal.sim.clock import VirtualClock
from kiosk.hal.sim.i2c_bus import EmulatedI2C
from kiosk.hal.sim.mcp4725 import Mcp4725Model

ADDRESS = 0x62


def make_dac(**model_args: object) -> tuple[VirtualClock, EmulatedI2C, Mcp4725Model]:
    clock = VirtualClock()
    bus = EmulatedI2C(clock)
    model = Mcp4725Model(clock, **model_args)  # type: ignore[arg-type]
    bus.attach(ADDRESS, model)
    return clock, bus, model


def read_record(bus: EmulatedI2C, n: int = 5) -> bytes:
    buffer = bytearray(n)
    bus.readfrom_into(ADDRESS, buffer)
    return bytes(buffer)


def test_power_on_output_equals_the_factory_eeprom_mid_scale() -> None:
    _, bus, model = make_dac()
    driver = adafruit_mcp4725.MCP4725(bus, address=ADDRESS)
    assert driver.raw_value == 0x800
    assert model.output_v() == pytest.approx(1.65)


def test_power_on_loads_a_safe_eeprom_so_the_output_starts_off() -> None:
    _, _, model = make_dac(eeprom_code=0, eeprom_pd=1)
    assert (model.dac_code, model.pd_mode) == (0, 1)
    assert model.output_v() == 0.0
    assert model.output_load_ohm() == 1_000.0


def test_power_on_reset_reloads_the_eeprom_after_the_register_changed() -> None:
    _, bus, model = make_dac(eeprom_code=100)
    adafruit_mcp4725.MCP4725(bus, address=ADDRESS).raw_value = 3000
    model.power_on_reset()
    assert model.dac_code == 100


def test_driver_fast_write_sets_code_and_output() -> None:
    _, bus, model = make_dac()
    driver = adafruit_mcp4725.MCP4725(bus, address=ADDRESS)
    driver.raw_value = 1614
    assert driver.raw_value == 1614
    assert model.output_v() == pytest.approx(3.3 * 1614 / 4096)
    assert bus.log[-2].data == b"\x06\x4e"  # the fast write the driver sent


def test_fast_write_pairs_may_repeat_and_the_last_pair_stays() -> None:
    _, bus, model = make_dac()
    changes: list[float] = []
    model.on_output_change = changes.append
    bus.writeto(ADDRESS, b"\x01\x00\x02\x00\x03\x21")
    assert model.dac_code == 0x321
    assert len(changes) == 3


@pytest.mark.parametrize(("pd", "load_ohm"), [(1, 1_000.0), (2, 100_000.0), (3, 500_000.0)])
def test_power_down_modes_turn_the_output_off_into_their_load(pd: int, load_ohm: float) -> None:
    _, bus, model = make_dac()
    bus.writeto(ADDRESS, bytes((pd << 4 | 0x0A, 0xBC)))
    assert model.pd_mode == pd
    assert model.dac_code == 0xABC
    assert model.output_v() == 0.0
    assert model.output_load_ohm() == load_ohm
    assert read_record(bus, 1)[0] == 0xC0 | pd << 1


def test_any_write_with_pd_00_wakes_the_part() -> None:
    _, bus, model = make_dac()
    bus.writeto(ADDRESS, b"\x10\x00")
    adafruit_mcp4725.MCP4725(bus, address=ADDRESS).raw_value = 500
    assert model.pd_mode == 0
    assert model.output_v() == pytest.approx(3.3 * 500 / 4096)


def test_write_dac_register_command_sets_code_and_pd_without_touching_eeprom() -> None:
    _, bus, model = make_dac()
    bus.writeto(ADDRESS, bytes((0x40 | 2 << 1, 0xAB, 0xC0)))
    assert (model.dac_code, model.pd_mode) == (0xABC, 2)
    assert (model.eeprom_code, model.eeprom_pd) == (0x800, 0)
    assert not model.eeprom_busy()


def test_reserved_and_incomplete_commands_are_ignored() -> None:
    _, bus, model = make_dac()
    for command in (0x80, 0xA0, 0xC0, 0xE0):
        bus.writeto(ADDRESS, bytes((command, 0x12, 0x30)))
    bus.writeto(ADDRESS, b"\x01")  # half a fast write
    bus.writeto(ADDRESS, b"\x40\x12")  # two of three bytes
    assert (model.dac_code, model.pd_mode) == (0x800, 0)


def test_dac_and_eeprom_write_programs_for_25_ms_with_rdy_low() -> None:
    clock, bus, model = make_dac()
    bus.writeto(ADDRESS, b"\x62\x00\x00")
    written_s = clock.now_s()
    assert (model.dac_code, model.pd_mode) == (0, 1)  # VOUT changed at the last byte
    assert read_record(bus, 1)[0] & 0x80 == 0
    assert model.eeprom_busy()
    clock.sleep_until_s(written_s + 0.0249)
    assert model.eeprom_busy()
    clock.sleep_until_s(written_s + 0.0251)
    assert not model.eeprom_busy()
    assert read_record(bus, 1)[0] == 0xC2
    assert (model.eeprom_code, model.eeprom_pd) == (0, 1)


def test_writes_are_ignored_while_eeprom_is_busy() -> None:
    clock, bus, model = make_dac()
    driver = adafruit_mcp4725.MCP4725(bus, address=ADDRESS)
    bus.writeto(ADDRESS, b"\x60\x10\x00")  # DAC + EEPROM: code 0x100, PD 00
    driver.raw_value = 4000  # fast write
    bus.writeto(ADDRESS, b"\x40\xff\xf0")  # write DAC register
    bus.writeto(ADDRESS, b"\x66\xff\xf0\x66\xff\xf0")  # another EEPROM write, repeated
    assert (model.dac_code, model.pd_mode) == (0x100, 0)
    clock.sleep_s(0.030)
    assert (model.eeprom_code, model.eeprom_pd) == (0x100, 0)
    driver.raw_value = 4000
    assert model.dac_code == 4000


def test_eeprom_write_time_above_the_50_ms_maximum_is_refused() -> None:
    with pytest.raises(ValueError, match="50"):
        Mcp4725Model(VirtualClock(), eeprom_write_s=0.051)


def test_the_five_byte_read_repeats_while_the_master_reads_on() -> None:
    _, bus, model = make_dac(eeprom_code=0x3A5, eeprom_pd=0)
    bus.writeto(ADDRESS, b"\x1a\xbc")  # PD 01, code 0xABC
    record = read_record(bus, 12)
    expected = bytes((0xC2, 0xAB, 0xC0, 0x03, 0xA5))
    assert record == expected + expected + expected[:2]
    assert model.dac_code == 0xABC


def test_status_of_an_idle_powered_part_reads_0xc0() -> None:
    _, bus, _ = make_dac()
    assert read_record(bus, 1) == b"\xc0"


def test_eeprom_pd_bits_read_back_in_byte_four() -> None:
    clock, bus, _ = make_dac()
    bus.writeto(ADDRESS, b"\x66\x12\x30")  # PD 11, code 0x123
    clock.sleep_s(0.03)
    assert read_record(bus)[3:] == bytes((0x61, 0x23))


def test_general_call_reset_loads_the_eeprom_into_the_dac_register() -> None:
    clock, bus, model = make_dac()
    bus.writeto(ADDRESS, b"\x62\x00\x00")
    clock.sleep_s(0.03)
    adafruit_mcp4725.MCP4725(bus, address=ADDRESS).raw_value = 2000
    bus.general_call(0x06)
    assert (model.dac_code, model.pd_mode) == (0, 1)
    assert model.output_v() == 0.0


def test_general_call_wake_up_clears_pd_and_keeps_the_code() -> None:
    _, bus, model = make_dac()
    bus.writeto(ADDRESS, b"\x21\x23")  # PD 10, code 0x123
    bus.general_call(0x09)
    assert (model.dac_code, model.pd_mode) == (0x123, 0)
    assert model.output_v() == pytest.approx(3.3 * 0x123 / 4096)


def test_other_general_calls_change_nothing() -> None:
    _, bus, model = make_dac()
    bus.writeto(ADDRESS, b"\x11\x23")
    bus.general_call(0x04)
    assert (model.dac_code, model.pd_mode) == (0x123, 1)


def test_ignore_writes_fault_acks_but_changes_nothing() -> None:
    _, bus, model = make_dac()
    driver = adafruit_mcp4725.MCP4725(bus, address=ADDRESS)
    model.ignore_writes = True
    driver.raw_value = 0
    bus.writeto(ADDRESS, b"\x62\x00\x00")
    bus.general_call(0x06)
    assert (model.dac_code, model.pd_mode) == (0x800, 0)
    assert not model.eeprom_busy()
    assert driver.raw_value == 0x800


def test_output_change_is_reported_with_the_time_of_the_last_byte() -> None:
    clock, bus, model = make_dac()
    changes: list[float] = []
    model.on_output_change = changes.append
    clock.sleep_s(1.0)
    adafruit_mcp4725.MCP4725(bus, address=ADDRESS).raw_value = 10
    bus.writeto(ADDRESS, b"\x00\x0a")  # same code again: no change
    probe_s, fast_write_s = (9 + 2) / 400_000, (3 * 9 + 2) / 400_000
    assert changes == [pytest.approx(1.0 + probe_s + fast_write_s)]


def test_nack_raises_oserror_through_the_driver() -> None:
    _, bus, model = make_dac()
    driver = adafruit_mcp4725.MCP4725(bus, address=ADDRESS)
    bus.set_nack(ADDRESS, True)
    with pytest.raises(OSError):
        driver.raw_value = 1
    with pytest.raises(OSError):
        _ = driver.raw_value
    assert model.dac_code == 0x800


def test_driver_constructor_refuses_an_absent_part() -> None:
    bus = EmulatedI2C(VirtualClock())
    with pytest.raises(ValueError, match="No I2C device"):
        adafruit_mcp4725.MCP4725(bus, address=ADDRESS)


def test_driver_save_to_eeprom_stores_the_code_with_pd_00_on_the_wall_clock() -> None:
    clock = RealClock()  # the driver sleeps 50 ms with time.sleep between RDY polls
    bus = EmulatedI2C(clock)
    model = Mcp4725Model(clock, eeprom_write_s=0.010)
    bus.attach(ADDRESS, model)
    driver = adafruit_mcp4725.MCP4725(bus, address=ADDRESS)
    driver.raw_value = 77
    driver.save_to_eeprom()
    assert (model.eeprom_code, model.eeprom_pd) == (77, 0)
