"""SetpointDac over the real adafruit_mcp4725 driver on the emulated bus."""

from __future__ import annotations

import math

import pytest

from kiosk.hal.dac import DacCalibration, DacStatus, SetpointDac
from kiosk.hal.errors import BusError, HalError
from kiosk.hal.sim.clock import VirtualClock
from kiosk.hal.sim.i2c_bus import EmulatedI2C
from kiosk.hal.sim.mcp4725 import Mcp4725Model

ADDRESS = 0x62


def make_dac(**model_args: object) -> tuple[VirtualClock, EmulatedI2C, Mcp4725Model, SetpointDac]:
    clock = VirtualClock()
    bus = EmulatedI2C(clock)
    model = Mcp4725Model(clock, **model_args)  # type: ignore[arg-type]
    bus.attach(ADDRESS, model)
    return clock, bus, model, SetpointDac(bus, clock=clock)


def test_set_current_writes_the_nearest_code_at_0_6197_ua_per_lsb() -> None:
    _, _, model, dac = make_dac()
    assert dac.set_current_ma(1.0) == 1614  # 1000 uA / 0.6197
    assert model.dac_code == 1614
    assert model.pd_mode == 0
    assert dac.read_code() == 1614


def test_calibration_offset_and_scale_move_the_code() -> None:
    cal = DacCalibration(ua_per_lsb=0.6, offset_ua=6.0)
    assert cal.code_for_current_ma(0.606) == 1000
    assert cal.current_ma_for_code(1000) == pytest.approx(0.606)
    assert cal.code_for_current_ma(0.001) == 0  # below the offset: clamped, not negative


def test_set_current_clamps_to_full_scale() -> None:
    _, _, model, dac = make_dac()
    assert dac.set_current_ma(3.0) == 4095
    assert model.dac_code == 4095


@pytest.mark.parametrize("current_ma", [-0.001, math.nan, math.inf])
def test_negative_or_non_finite_current_is_refused(current_ma: float) -> None:
    _, bus, model, dac = make_dac()
    writes_before = len(bus.log)
    with pytest.raises(ValueError, match="current"):
        dac.set_current_ma(current_ma)
    assert len(bus.log) == writes_before
    assert model.dac_code == 0x800


@pytest.mark.parametrize("code", [-1, 4096, 1.5, "12", True, None])
def test_bad_codes_give_value_error_from_the_hal_not_the_driver_assert(code: object) -> None:
    _, _, model, dac = make_dac()
    with pytest.raises(ValueError, match="DAC code"):
        dac.set_code(code)  # type: ignore[arg-type]
    assert model.dac_code == 0x800


def test_set_code_wakes_a_powered_down_part() -> None:
    _, _, model, dac = make_dac()
    dac.power_down()
    dac.set_code(100)
    assert (model.dac_code, model.pd_mode) == (100, 0)


def test_zero_is_one_fast_write_and_no_read() -> None:
    _, bus, model, dac = make_dac()
    dac.set_code(2000)
    bus.log.clear()
    dac.zero()
    assert [(r.kind, r.data) for r in bus.log] == [("write", b"\x00\x00")]
    assert (model.dac_code, model.pd_mode) == (0, 0)
    assert model.output_v() == 0.0


def test_power_down_is_the_raw_fast_write_0x10_0x00() -> None:
    _, bus, model, dac = make_dac()
    bus.log.clear()
    dac.power_down()
    assert [(r.kind, r.data) for r in bus.log] == [("write", b"\x10\x00")]
    assert model.pd_mode == 1
    assert model.output_load_ohm() == 1_000.0


def test_zero_gives_up_with_bus_error_when_the_bus_stays_busy() -> None:
    clock, bus, model, dac = make_dac()
    dac.set_code(2000)
    assert bus.try_lock()  # somebody else holds the bus and does not let go
    started_s = clock.now_s()
    with pytest.raises(BusError, match="busy"):
        dac.zero()
    assert clock.now_s() - started_s == pytest.approx(0.005, abs=1e-4)
    assert model.dac_code == 2000
    bus.unlock()


def test_zero_from_a_supervisor_callback_inside_a_transaction_lands_after_it() -> None:
    clock, _, model, dac = make_dac()
    clock.call_at(clock.now_s() + 30e-6, lambda _t: dac.zero(), "supervisor")
    dac.set_code(3000)  # the supervisor fires during this write's wire time
    assert model.dac_code == 0


def test_read_status_decodes_the_five_byte_read() -> None:
    _, bus, _, dac = make_dac(eeprom_code=0x123, eeprom_pd=3)
    bus.writeto(ADDRESS, b"\x1a\xbc")
    assert dac.read_status() == DacStatus(ready=True, por=True, dac_code=0xABC, dac_pd=1,
                                          eeprom_code=0x123, eeprom_pd=3)


def test_a_factory_part_fails_the_boot_self_test() -> None:
    _, _, _, dac = make_dac()
    assert not dac.eeprom_is_safe()


def test_program_safe_power_on_stores_pd_01_code_0_and_waits_for_ready() -> None:
    clock, bus, model, dac = make_dac()
    started_s = clock.now_s()
    dac.program_safe_power_on()
    assert clock.now_s() - started_s >= 0.025
    assert clock.now_s() - started_s < 0.030
    assert (model.eeprom_code, model.eeprom_pd) == (0, 1)
    assert (model.dac_code, model.pd_mode) == (0, 1)
    assert dac.eeprom_is_safe()
    assert bus.log[1].data == b"\x62\x00\x00"  # after the driver's constructor probe
    model.power_on_reset()
    assert model.output_v() == 0.0


def test_program_safe_power_on_times_out_when_rdy_does_not_return() -> None:
    clock, _, _, dac = make_dac(eeprom_write_s=0.050)
    started_s = clock.now_s()
    with pytest.raises(HalError, match="busy"):
        dac.program_safe_power_on(timeout_s=0.010)
    assert clock.now_s() - started_s == pytest.approx(0.010, abs=0.003)


def test_program_safe_power_on_reports_an_eeprom_that_did_not_take() -> None:
    _, _, model, dac = make_dac()
    model.ignore_writes = True
    with pytest.raises(HalError, match="PD=0 code=2048"):
        dac.program_safe_power_on()


def test_an_absent_dac_is_a_bus_error_at_construction() -> None:
    bus = EmulatedI2C(VirtualClock())
    with pytest.raises(BusError, match="0x62"):
        SetpointDac(bus)


def test_a_nacking_dac_turns_every_call_into_bus_error() -> None:
    _, bus, _, dac = make_dac()
    bus.set_nack(ADDRESS, True)
    with pytest.raises(BusError):
        dac.set_code(1)
    with pytest.raises(BusError):
        dac.zero()
    with pytest.raises(BusError):
        dac.read_status()
    with pytest.raises(BusError):
        dac.program_safe_power_on()
    assert bus.try_lock()  # every failure gave the bus back
    bus.unlock()


def test_calibration_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        DacCalibration(ua_per_lsb=0.0)
    with pytest.raises(ValueError):
        DacCalibration(offset_ua=math.nan)
