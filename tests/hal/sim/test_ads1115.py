"""ADS1115 model at register level, driven by the real adafruit_ads1x15 3.0.5 driver where it
has a call (raw transactions only for what the driver cannot do: ALERT/RDY set-ups, starting a
conversion without its busy-poll)."""

from __future__ import annotations

import statistics

import pytest
from adafruit_ads1x15 import ADS1115, AnalogIn
from adafruit_ads1x15.ads1x15 import Mode

from kiosk.hal.clock import RealClock
from kiosk.hal.sim.ads1115 import WAKE_UP_S, Ads1115Model
from kiosk.hal.sim.clock import SimulationEnded, VirtualClock
from kiosk.hal.sim.i2c_bus import EmulatedI2C

ADDRESS = 0x48
CONFIG, LO, HI, CONVERSION = 0x01, 0x02, 0x03, 0x00
OS = 0x8000
SINGLE = 0x0100
COMPARATOR_OFF = 0x0003
DR_860 = 0x00E0
PGA_2V048 = 0x0400


class Inputs:
    """The analog front end as the ADC sees it: four pin voltages, and when they were asked."""

    def __init__(self, *volts: float) -> None:
        self.volts = list(volts) + [0.0] * (4 - len(volts))
        self.asked_s: list[float] = []

    def __call__(self, time_s: float) -> tuple[float, float, float, float]:
        self.asked_s.append(time_s)
        return (self.volts[0], self.volts[1], self.volts[2], self.volts[3])


def make_adc(inputs: Inputs, clock: VirtualClock | RealClock | None = None,
             **model_args: object) -> tuple[VirtualClock, EmulatedI2C, Ads1115Model]:
    clock = clock if clock is not None else VirtualClock()
    bus = EmulatedI2C(clock)
    model_args.setdefault("noise_lsb", 0.0)
    model = Ads1115Model(clock, inputs, **model_args)  # type: ignore[arg-type]
    bus.attach(ADDRESS, model)
    return clock, bus, model  # type: ignore[return-value]


def write_register(bus: EmulatedI2C, pointer: int, value: int) -> None:
    bus.writeto(ADDRESS, bytes((pointer, value >> 8, value & 0xFF)))


def read_register(bus: EmulatedI2C, pointer: int | None = None) -> int:
    buffer = bytearray(2)
    if pointer is None:
        bus.readfrom_into(ADDRESS, buffer)
    else:
        bus.writeto_then_readfrom(ADDRESS, bytes((pointer,)), buffer)
    return buffer[0] << 8 | buffer[1]


def single_shot_config(mux: int, *, dr: int = DR_860, pga: int = PGA_2V048,
                       comparator: int = COMPARATOR_OFF) -> int:
    return OS | mux << 12 | pga | SINGLE | dr | comparator


def signed(value: int) -> int:
    return value - 0x10000 if value & 0x8000 else value


# ---------------------------------------------------------------------- registers


def test_power_on_registers_read_their_reset_values() -> None:
    _, bus, _ = make_adc(Inputs())
    assert read_register(bus, CONFIG) == 0x8583
    assert read_register(bus, LO) == 0x8000
    assert read_register(bus, HI) == 0x7FFF
    assert read_register(bus, CONVERSION) == 0x0000


def test_a_one_byte_write_sets_only_the_pointer_and_it_persists() -> None:
    _, bus, model = make_adc(Inputs())
    bus.writeto(ADDRESS, b"\x02")
    assert read_register(bus) == 0x8000
    assert read_register(bus) == 0x8000
    assert model.pointer == LO


def test_an_incomplete_register_write_latches_nothing() -> None:
    _, bus, _ = make_adc(Inputs())
    bus.writeto(ADDRESS, b"\x03\x12")
    assert read_register(bus) == 0x7FFF


def test_the_conversion_register_is_read_only() -> None:
    _, bus, _ = make_adc(Inputs())
    write_register(bus, CONVERSION, 0x1234)
    assert read_register(bus, CONVERSION) == 0


def test_conversion_register_stays_zero_until_the_first_conversion_ends() -> None:
    clock, bus, _ = make_adc(Inputs(1.0))
    write_register(bus, CONFIG, single_shot_config(0b100))
    assert read_register(bus, CONVERSION) == 0
    clock.sleep_s(0.002)
    assert read_register(bus, CONVERSION) == 16000  # 1.0 V / 62.5 uV


def test_os_reads_zero_while_converting_and_one_when_idle() -> None:
    clock, bus, model = make_adc(Inputs(1.0), rate_error=0.0)
    config = single_shot_config(0b100)
    write_register(bus, CONFIG, config)
    assert read_register(bus, CONFIG) == config & ~OS
    clock.sleep_s(1 / 860 + WAKE_UP_S)
    assert read_register(bus, CONFIG) == config
    assert not model.is_converting()


def test_writing_os_while_converting_neither_restarts_nor_queues_a_conversion() -> None:
    inputs = Inputs(0.5, 1.0)
    clock, bus, _ = make_adc(inputs, rate_error=0.0)
    write_register(bus, CONFIG, single_shot_config(0b100))
    started_s = clock.now_s()
    clock.sleep_s(0.0005)
    write_register(bus, CONFIG, single_shot_config(0b101))  # AIN1, OS = 1, while busy
    clock.sleep_s(0.010)
    assert read_register(bus, CONVERSION) == 8000  # AIN0: the running conversion kept its MUX
    assert inputs.asked_s == [pytest.approx(started_s + WAKE_UP_S + 1 / 860)]  # only one
    assert read_register(bus, CONFIG) == single_shot_config(0b101)  # new MUX kept, OS idle


def test_general_call_reset_restores_every_register() -> None:
    clock, bus, _ = make_adc(Inputs(1.0))
    write_register(bus, LO, 0x0100)
    write_register(bus, HI, 0x0200)
    write_register(bus, CONFIG, single_shot_config(0b111))
    clock.sleep_s(0.01)
    bus.general_call(0x06)
    assert read_register(bus, CONFIG) == 0x8583
    assert read_register(bus, LO) == 0x8000
    assert read_register(bus, HI) == 0x7FFF
    assert read_register(bus, CONVERSION) == 0


def test_the_driver_constructor_leaves_the_reset_thresholds_and_starts_nothing() -> None:
    inputs = Inputs()
    clock, bus, model = make_adc(inputs)
    ADS1115(bus, gain=8, data_rate=860)
    clock.sleep_s(0.01)
    assert (model.lo_thresh, model.hi_thresh) == (0x8000, 0x7FFF)
    assert model.config == 0x89E3  # single-shot, 860 SPS, +-0.512 V, MUX kept, idle
    assert inputs.asked_s == []  # 3.0.5 writes the config with OS = 0: no conversion


# ---------------------------------------------------------------------- results via the driver


def test_single_shot_reads_the_channel_asked_for() -> None:
    _, bus, _ = make_adc(Inputs(0.10, 0.30, 0.50, 0.70))
    ads = ADS1115(bus, gain=2, data_rate=860)
    volts = [AnalogIn(ads, pin).voltage for pin in (0, 1, 2, 3)]
    assert volts == pytest.approx([0.10, 0.30, 0.50, 0.70], abs=2 * 62.5e-6)


@pytest.mark.parametrize(("positive", "negative", "expected_v"), [
    (0, 1, -0.20), (0, 3, -0.90), (1, 3, -0.70), (2, 3, -0.40)])
def test_differential_mux_settings_subtract_the_right_inputs(
        positive: int, negative: int, expected_v: float) -> None:
    _, bus, _ = make_adc(Inputs(0.10, 0.30, 0.60, 1.00))
    ads = ADS1115(bus, gain=2, data_rate=860)
    assert AnalogIn(ads, positive, negative).voltage == pytest.approx(expected_v, abs=1e-4)


@pytest.mark.parametrize(("gain", "fsr_v"), [(2 / 3, 6.144), (1, 4.096), (2, 2.048), (4, 1.024),
                                             (8, 0.512), (16, 0.256)])
def test_result_is_twos_complement_with_fsr_over_32768_per_count(gain: float,
                                                                  fsr_v: float) -> None:
    _, bus, _ = make_adc(Inputs(0.0, 0.1))
    ads = ADS1115(bus, gain=gain, data_rate=860)
    assert AnalogIn(ads, 0, 1).value == round(-0.1 / (fsr_v / 32768))


@pytest.mark.parametrize("gain", [2, 4, 8, 16])
def test_inputs_beyond_full_scale_clip_at_0x7fff_and_0x8000(gain: int) -> None:
    _, bus, _ = make_adc(Inputs(3.3, 0.0))
    ads = ADS1115(bus, gain=gain, data_rate=860)
    assert AnalogIn(ads, 0).value == 0x7FFF
    assert AnalogIn(ads, 1, 3).value == 0  # sanity: the same part reads a zero input as 0
    _, bus_reverse, _ = make_adc(Inputs(0.0, 3.3))
    ads_reverse = ADS1115(bus_reverse, gain=gain, data_rate=860)
    assert AnalogIn(ads_reverse, 0, 1).value == -0x8000


@pytest.mark.parametrize(("gain", "lsb_v"), [(2 / 3, 187.5e-6), (1, 125e-6)])
def test_wide_ranges_never_reach_full_scale_on_a_3v3_supply(gain: float, lsb_v: float) -> None:
    _, bus, _ = make_adc(Inputs(12.0))  # the pin clamps at VDD + 0.3 V
    ads = ADS1115(bus, gain=gain, data_rate=860)
    assert AnalogIn(ads, 0).value == round(3.6 / lsb_v)


def test_the_4v096_range_clips_on_a_5v_supply() -> None:
    _, bus, _ = make_adc(Inputs(5.0, 0.0), vdd_v=5.0)
    ads = ADS1115(bus, gain=1, data_rate=860)
    assert AnalogIn(ads, 0).value == 0x7FFF


def test_noise_is_gaussian_with_sigma_noise_lsb_and_seeded() -> None:
    def codes(seed: int) -> list[int]:
        _, bus, _ = make_adc(Inputs(1.0), seed=seed, noise_lsb=1.0)
        ads = ADS1115(bus, gain=2, data_rate=860)
        channel = AnalogIn(ads, 0)
        return [channel.value for _ in range(400)]

    first = codes(1)
    assert statistics.mean(first) == pytest.approx(16000, abs=0.2)
    assert statistics.stdev(first) == pytest.approx(1.0, abs=0.15)
    assert codes(1) == first
    assert codes(2) != first


# ---------------------------------------------------------------------- timing


def test_rate_error_is_drawn_from_the_seed_within_3_percent_by_default() -> None:
    errors = [Ads1115Model(VirtualClock(), Inputs(), seed=seed).rate_error for seed in range(40)]
    assert all(abs(error) <= 0.03 for error in errors)
    assert len(set(errors)) == 40
    assert Ads1115Model(VirtualClock(), Inputs(), seed=7).rate_error == errors[7]
    with pytest.raises(ValueError, match="rate_error"):
        Ads1115Model(VirtualClock(), Inputs(), rate_error=0.11)


def conversion_time_on_the_rdy_pin(model: Ads1115Model, clock: VirtualClock, bus: EmulatedI2C,
                                   dr_bits: int, sps: int) -> float:
    """Start a single-shot conversion with ALERT/RDY as conversion-ready; time the pin."""
    write_register(bus, LO, 0x0000)
    write_register(bus, HI, 0x8000)
    write_register(bus, CONFIG, single_shot_config(0b100, dr=dr_bits, comparator=0b00))
    started_s = clock.now_s()
    assert not model.alert_pin_low()
    step_s = 1 / sps / 2000
    while not model.alert_pin_low():
        clock.sleep_s(step_s)
    return clock.now_s() - started_s


@pytest.mark.parametrize(("sps", "dr_bits"), [(8, 0x0000), (860, 0x00E0)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_single_shot_conversion_lasts_one_data_rate_period_within_10_percent(
        sps: int, dr_bits: int, seed: int) -> None:
    clock, bus, model = make_adc(Inputs(1.0), seed=seed)
    measured_s = conversion_time_on_the_rdy_pin(model, clock, bus, dr_bits, sps)
    assert measured_s == pytest.approx(1 / sps, rel=0.10)


@pytest.mark.parametrize("rate_error", [-0.10, 0.10])
@pytest.mark.parametrize(("sps", "dr_bits"), [(8, 0x0000), (860, 0x00E0)])
def test_conversion_time_scales_with_the_oscillator_error_plus_the_wake_up(
        rate_error: float, sps: int, dr_bits: int) -> None:
    clock, bus, model = make_adc(Inputs(1.0), rate_error=rate_error)
    measured_s = conversion_time_on_the_rdy_pin(model, clock, bus, dr_bits, sps)
    assert measured_s == pytest.approx((1 + rate_error) / sps + WAKE_UP_S, abs=1 / sps / 1000)


def test_a_driver_read_at_8_sps_takes_one_conversion_period() -> None:
    clock, bus, _ = make_adc(Inputs(1.0))
    channel = AnalogIn(ADS1115(bus, gain=2, data_rate=8), 0)
    started_s = clock.now_s()
    channel.value  # noqa: B018 - the read itself is the point
    assert clock.now_s() - started_s == pytest.approx(1 / 8, rel=0.10)


def test_inputs_are_sampled_lazily_at_the_end_of_the_conversion() -> None:
    inputs = Inputs(1.0)
    clock, bus, model = make_adc(inputs)
    write_register(bus, CONFIG, single_shot_config(0b100))
    started_s = clock.now_s()
    clock.sleep_s(0.5)
    assert inputs.asked_s == []  # nobody looked yet
    read_register(bus, CONVERSION)
    assert inputs.asked_s == [pytest.approx(
        started_s + WAKE_UP_S + (1 + model.rate_error) / 860)]


def test_continuous_mode_converts_back_to_back_and_applies_a_new_mux_from_the_next_one() -> None:
    inputs = Inputs(0.5, 1.0)
    clock, bus, model = make_adc(inputs, rate_error=0.0)
    period_s = 1 / 860
    write_register(bus, CONFIG, 0b100 << 12 | PGA_2V048 | DR_860 | COMPARATOR_OFF)  # MODE 0
    started_s = clock.now_s()
    assert model.is_converting()
    clock.sleep_until_s(started_s + WAKE_UP_S + 1.5 * period_s)
    write_register(bus, CONFIG, 0b101 << 12 | PGA_2V048 | DR_860 | COMPARATOR_OFF)
    clock.sleep_until_s(started_s + WAKE_UP_S + 2.5 * period_s)
    assert read_register(bus, CONVERSION) == 8000  # second conversion: still AIN0
    clock.sleep_until_s(started_s + WAKE_UP_S + 3.5 * period_s)
    assert read_register(bus, CONVERSION) == 16000  # third: AIN1
    ends = [t - started_s - WAKE_UP_S for t in inputs.asked_s]
    assert ends == pytest.approx([period_s, 2 * period_s, 3 * period_s])
    assert read_register(bus, CONFIG) & OS == 0  # always converting


def test_continuous_mode_through_the_3_0_5_driver_returns_the_wrong_channel() -> None:
    """Documents the trap: in continuous mode the driver keeps the chip's MUX (AIN0-AIN1 after
    reset) whatever channel is asked for. Wall clock: the driver waits with time.sleep."""
    _, bus, _ = make_adc(Inputs(0.10, 0.30, 0.50, 0.70), clock=RealClock())
    ads = ADS1115(bus, gain=2, data_rate=860, mode=Mode.CONTINUOUS)
    wrong_v = -0.20  # AIN0 - AIN1
    assert AnalogIn(ads, 0).voltage == pytest.approx(wrong_v, abs=1e-4)
    assert AnalogIn(ads, 2).voltage == pytest.approx(wrong_v, abs=1e-4)
    assert AnalogIn(ads, 3).voltage == pytest.approx(wrong_v, abs=1e-4)


# ---------------------------------------------------------------------- ALERT/RDY


def test_alert_pin_is_high_z_while_the_comparator_is_off() -> None:
    clock, bus, model = make_adc(Inputs(1.0))
    write_register(bus, LO, 0x0000)
    write_register(bus, HI, 0x8000)
    write_register(bus, CONFIG, single_shot_config(0b100))  # COMP_QUE = 11
    clock.sleep_s(0.01)
    assert not model.alert_pin_low()


def test_conversion_ready_in_single_shot_follows_os_and_reports_edges() -> None:
    edges: list[tuple[bool, float]] = []
    clock, bus, model = make_adc(Inputs(1.0), rate_error=0.0,
                                 on_alert_change=lambda low, t: edges.append((low, t)))
    write_register(bus, LO, 0x0000)
    write_register(bus, HI, 0x8000)
    write_register(bus, CONFIG, single_shot_config(0b100, comparator=0b00))
    started_s = clock.now_s()
    assert not model.alert_pin_low()
    clock.sleep_s(0.01)
    assert model.alert_pin_low()
    assert edges == [(True, pytest.approx(started_s + WAKE_UP_S + 1 / 860))]


def test_conversion_ready_in_continuous_mode_pulses_about_8_us_per_conversion() -> None:
    edges: list[tuple[bool, float]] = []
    clock, bus, _ = make_adc(Inputs(1.0), rate_error=0.0,
                             on_alert_change=lambda low, t: edges.append((low, t)))
    write_register(bus, LO, 0x0000)
    write_register(bus, HI, 0x8000)
    write_register(bus, CONFIG, 0b100 << 12 | PGA_2V048 | DR_860 | 0b00)
    started_s = clock.now_s()
    clock.sleep_s(2.5 / 860)
    read_register(bus, CONVERSION)
    first_end_s = started_s + WAKE_UP_S + 1 / 860
    assert edges == [
        (True, pytest.approx(first_end_s)), (False, pytest.approx(first_end_s + 8e-6)),
        (True, pytest.approx(first_end_s + 1 / 860)),
        (False, pytest.approx(first_end_s + 1 / 860 + 8e-6))]


def run_conversions(clock: VirtualClock, bus: EmulatedI2C, model: Ads1115Model, inputs: Inputs,
                    volts: list[float], comparator_bits: int) -> list[bool]:
    """One single-shot conversion per voltage; the ALERT pin level after each."""
    levels = []
    for v in volts:
        inputs.volts[0] = v
        write_register(bus, CONFIG, single_shot_config(0b100, comparator=comparator_bits))
        clock.sleep_s(0.002)
        levels.append(model.alert_pin_low())
    return levels


def test_traditional_comparator_asserts_above_hi_and_releases_below_lo() -> None:
    inputs = Inputs()
    clock, bus, model = make_adc(inputs)
    write_register(bus, HI, 16000)  # 1.0 V at +-2.048 V
    write_register(bus, LO, 8000)  # 0.5 V
    levels = run_conversions(clock, bus, model, inputs, [0.9, 1.1, 0.7, 0.4, 0.7], 0b00)
    assert levels == [False, True, True, False, False]  # hysteresis between Lo and Hi


def test_window_comparator_asserts_outside_the_window() -> None:
    inputs = Inputs()
    clock, bus, model = make_adc(inputs)
    write_register(bus, HI, 16000)
    write_register(bus, LO, 8000)
    levels = run_conversions(clock, bus, model, inputs, [0.7, 1.1, 0.7, 0.4, 0.7], 0x10)
    assert levels == [False, True, False, True, False]


def test_latching_comparator_holds_until_the_conversion_register_is_read() -> None:
    inputs = Inputs()
    clock, bus, model = make_adc(inputs)
    write_register(bus, HI, 16000)
    write_register(bus, LO, 8000)
    levels = run_conversions(clock, bus, model, inputs, [1.1, 0.2, 0.2], 0x04)
    assert levels == [True, True, True]
    read_register(bus, CONVERSION)
    assert not model.alert_pin_low()


def test_comparator_queue_of_two_needs_two_conversions_beyond_the_threshold() -> None:
    inputs = Inputs()
    clock, bus, model = make_adc(inputs)
    write_register(bus, HI, 16000)
    write_register(bus, LO, 8000)
    levels = run_conversions(clock, bus, model, inputs, [1.1, 0.9, 1.1, 1.1], 0b01)
    assert levels == [False, False, False, True]


def test_active_high_polarity_drives_the_pin_low_while_not_asserted() -> None:
    inputs = Inputs()
    clock, bus, model = make_adc(inputs)
    write_register(bus, HI, 16000)
    write_register(bus, LO, 8000)
    levels = run_conversions(clock, bus, model, inputs, [0.9, 1.1], 0x08)
    assert levels == [True, False]


# ---------------------------------------------------------------------- faults


def test_never_ready_makes_the_driver_read_spin_until_the_simulation_ends() -> None:
    clock = VirtualClock(end_s=0.2)
    _, bus, model = make_adc(Inputs(1.0), clock=clock)
    channel = AnalogIn(ADS1115(bus, gain=2, data_rate=860), 0)
    model.never_ready = True
    polls_before = len(bus.log)
    with pytest.raises(SimulationEnded):
        channel.value  # noqa: B018 - the read never returns; only the end of time unwinds it
    assert clock.now_s() == 0.2
    assert len(bus.log) - polls_before > 1000  # it kept busy-polling OS the whole time


def test_clearing_never_ready_restarts_the_stuck_conversion() -> None:
    inputs = Inputs(1.0)
    clock, bus, model = make_adc(inputs)
    model.never_ready = True
    write_register(bus, CONFIG, single_shot_config(0b100))
    clock.sleep_s(1.0)
    assert read_register(bus, CONFIG) & OS == 0
    model.never_ready = False
    cleared_s = clock.now_s()
    clock.sleep_s(0.002)
    assert read_register(bus, CONVERSION) == 16000
    assert inputs.asked_s[0] > cleared_s


def test_stuck_value_makes_every_channel_read_that_voltage() -> None:
    _, bus, model = make_adc(Inputs(0.1, 0.2, 0.3, 0.4), noise_lsb=1.0)
    model.stuck_value_v = 0.25
    for gain in (4, 8):
        ads = ADS1115(bus, gain=gain, data_rate=860)
        for pin in (0, 1, 3):
            assert AnalogIn(ads, pin).voltage == pytest.approx(0.25, abs=1e-9)


def test_nack_raises_oserror_through_the_driver() -> None:
    _, bus, _ = make_adc(Inputs(1.0))
    channel = AnalogIn(ADS1115(bus, gain=2, data_rate=860), 0)
    bus.set_nack(ADDRESS, True)
    with pytest.raises(OSError):
        channel.value  # noqa: B018
