"""FrontEndAdc over the real adafruit_ads1x15 3.0.5 driver, with a resistive stand-in for the
analog front end: VSET = VDAC x 0.076923 (AIN3), I = VSET / 100 Ohm through the 100 Ohm shunt
(AIN0), V_OUT = I x (R_load + R_shunt) through the 1M/33.2k divider (AIN1), VBOOST likewise
(AIN2)."""

from __future__ import annotations

import pytest

from kiosk.hal.adc import ELECTRODE_DIVIDER_RATIO, AdcCalibration, AdcChannel, FrontEndAdc
from kiosk.hal.dac import SetpointDac
from kiosk.hal.errors import BusError
from kiosk.hal.sim.ads1115 import Ads1115Model
from kiosk.hal.sim.clock import SimulationEnded, VirtualClock
from kiosk.hal.sim.i2c_bus import EmulatedI2C
from kiosk.hal.sim.mcp4725 import Mcp4725Model

DAC_DIVIDER = 10.0 / 130.0  # 0.076923
SHUNT_OHM = 100.0
RSET_OHM = 100.0
UA_PER_LSB = 0.6197


class ResistiveFrontEnd:
    """Ideal V-to-I stage into a resistor: the simplest honest stand-in for frontend.py."""

    def __init__(self, dac_chip: Mcp4725Model, load_ohm: float = 10_000.0,
                 boost_v: float = 30.0) -> None:
        self.dac_chip = dac_chip
        self.load_ohm = load_ohm
        self.boost_v = boost_v

    def current_a(self) -> float:
        return self.dac_chip.output_v() * DAC_DIVIDER / RSET_OHM

    def __call__(self, _time_s: float) -> tuple[float, float, float, float]:
        current_a = self.current_a()
        v_out = current_a * (self.load_ohm + SHUNT_OHM)
        return (current_a * SHUNT_OHM, v_out * ELECTRODE_DIVIDER_RATIO,
                self.boost_v * ELECTRODE_DIVIDER_RATIO, self.dac_chip.output_v() * DAC_DIVIDER)


class Board:
    def __init__(self, clock: VirtualClock | None = None, seed: int = 0,
                 cal: AdcCalibration | None = None) -> None:
        self.clock = clock if clock is not None else VirtualClock()
        self.bus = EmulatedI2C(self.clock)
        self.dac_chip = Mcp4725Model(self.clock, eeprom_code=0, eeprom_pd=1)
        self.front_end = ResistiveFrontEnd(self.dac_chip)
        self.adc_chip = Ads1115Model(self.clock, self.front_end, seed=seed)
        self.bus.attach(0x62, self.dac_chip)
        self.bus.attach(0x48, self.adc_chip)
        self.dac = SetpointDac(self.bus, clock=self.clock)
        self.adc = FrontEndAdc(self.bus, cal=cal or AdcCalibration(), clock=self.clock)


def config_words_written(bus: EmulatedI2C) -> list[int]:
    return [r.data[1] << 8 | r.data[2] for r in bus.log
            if r.address == 0x48 and r.kind == "write" and len(r.data) == 3 and r.data[0] == 1]


def test_each_channel_is_read_single_shot_at_860_sps_with_its_own_config_word() -> None:
    board = Board()
    expected = {"read_current_ma": 0xC9E3, "read_electrode_v": 0xD7E3,
                "read_boost_v": 0xE7E3, "read_setpoint_readback_ma": 0xF9E3}
    for method, word in expected.items():
        board.bus.log.clear()
        getattr(board.adc, method)()
        assert config_words_written(board.bus) == [word]  # no gain-change traffic either


@pytest.mark.parametrize("code", [1, 242, 1614, 2500, 3227, 4095])
def test_dac_code_to_measured_current_is_within_one_lsb_of_0_6197_ua(code: int) -> None:
    board = Board(seed=code)
    board.dac.set_code(code)
    measured_ua = board.adc.read_current_ma() * 1000.0
    assert measured_ua == pytest.approx(code * UA_PER_LSB, abs=UA_PER_LSB)
    readback_ua = board.adc.read_setpoint_readback_ma() * 1000.0
    assert readback_ua == pytest.approx(code * UA_PER_LSB, abs=UA_PER_LSB)


def test_set_current_then_measure_closes_the_loop_within_one_lsb() -> None:
    board = Board()
    board.dac.set_current_ma(1.25)
    assert board.adc.read_current_ma() == pytest.approx(1.25, abs=UA_PER_LSB / 1000)


def test_electrode_and_boost_voltages_are_scaled_back_through_the_divider() -> None:
    board = Board()
    board.dac.set_current_ma(2.0)
    expected_v = board.front_end.current_a() * (10_000.0 + SHUNT_OHM)
    count_at_node_v = 1.024 / 32768 / ELECTRODE_DIVIDER_RATIO  # ~0.97 mV
    assert board.adc.read_electrode_v() == pytest.approx(expected_v, abs=4 * count_at_node_v)
    assert board.adc.read_boost_v() == pytest.approx(30.0, abs=4 * count_at_node_v)


def test_two_channels_with_different_voltages_read_different_values_in_single_shot() -> None:
    """Keep this: it fails if someone switches the driver to continuous mode (3.0.5 then keeps
    the chip's MUX and every channel reads the same signal)."""
    board = Board()
    board.dac.set_current_ma(1.0)
    shunt_v = board.adc.read_volts(AdcChannel.I_SHUNT)
    divided_v = board.adc.read_volts(AdcChannel.V_OUT)
    assert shunt_v == pytest.approx(0.1, abs=0.001)
    assert divided_v == pytest.approx(0.1 * 101 * ELECTRODE_DIVIDER_RATIO, abs=0.001)
    assert abs(shunt_v - divided_v) > 0.2


def test_calibration_gain_and_offset_apply_per_channel() -> None:
    cal = AdcCalibration(current_gain=1.01, current_offset_ma=-0.002, electrode_gain=0.99,
                         electrode_offset_v=0.5, setpoint_offset_ma=0.01)
    plain, calibrated = Board(seed=3), Board(seed=3, cal=cal)
    for board in (plain, calibrated):
        board.dac.set_current_ma(1.0)
    assert calibrated.adc.read_current_ma() == pytest.approx(
        1.01 * plain.adc.read_current_ma() - 0.002, abs=1e-9)
    assert calibrated.adc.read_electrode_v() == pytest.approx(
        0.99 * plain.adc.read_electrode_v() + 0.5, abs=1e-9)
    assert calibrated.adc.read_setpoint_readback_ma() == pytest.approx(
        plain.adc.read_setpoint_readback_ma() + 0.01, abs=1e-9)


def test_a_read_takes_about_one_conversion_plus_bus_time() -> None:
    board = Board()
    board.adc.read_current_ma()
    assert 1 / 860 * 0.9 < board.adc.last_read_s < 2.0e-3


def test_a_nacking_adc_raises_bus_error() -> None:
    board = Board()
    board.bus.set_nack(0x48, True)
    for read in (board.adc.read_current_ma, board.adc.read_electrode_v,
                 board.adc.read_boost_v, board.adc.read_setpoint_readback_ma):
        with pytest.raises(BusError, match="ADC read"):
            read()


def test_an_absent_adc_is_a_bus_error_at_construction() -> None:
    clock = VirtualClock()
    with pytest.raises(BusError, match="0x48"):
        FrontEndAdc(EmulatedI2C(clock), clock=clock)


def test_adc_never_ready_hangs_the_read_until_someone_else_intervenes() -> None:
    """No timeout by design: the control layer's supervisor must catch the stuck thread."""
    clock = VirtualClock(end_s=0.5)
    board = Board(clock=clock)
    board.adc_chip.never_ready = True
    with pytest.raises(SimulationEnded):
        board.adc.read_current_ma()
    assert clock.now_s() == 0.5


def test_calibration_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="shunt_ohm"):
        AdcCalibration(shunt_ohm=0.0)
    with pytest.raises(ValueError, match="current_offset_ma"):
        AdcCalibration(current_offset_ma=float("nan"))
