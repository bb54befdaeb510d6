"""Analog front end as a model: exact circuit behaviour with the DAC voltage as input.

Board-level behaviour through the HAL and the real chip drivers is in test_board.py; here the
numbers are checked against closed-form circuit results where no driver path exists (node
capacitance, divider loading, shunt filter, regime changes inside one step).
"""

from __future__ import annotations

import math

import pytest

from kiosk.hal.sim.frontend import FrontEnd, FrontEndParams
from kiosk.hal.sim.skin import Skin, SkinParams

VDD_V = 3.3
UA_PER_LSB = 0.6197
LOW_IMPEDANCE = SkinParams(rs_ohm=100.0, rp_ohm=100.0)


def dac_v(code: int) -> float:
    return VDD_V * code / 4096.0


class Bench:
    """A front end with the heartbeat kept alive, as a running control loop would."""

    def __init__(self, skin: SkinParams | None = None,
                 params: FrontEndParams | None = None) -> None:
        self.fe = FrontEnd(params, Skin(skin))
        self.t = 0.0
        self._heartbeat = False
        self.fe.set_drive(0.0, "heartbeat", True)

    def run(self, duration_s: float) -> None:
        end = self.t + duration_s
        while self.t + 0.01 <= end + 1e-12:
            self.t += 0.01
            self._heartbeat = not self._heartbeat
            self.fe.set_drive(self.t, "heartbeat", self._heartbeat)
        self.t = end
        self.fe.advance_to(end)

    def drive(self, signal: str, level: bool) -> None:
        self.fe.set_drive(self.t, signal, level)  # type: ignore[arg-type]

    def set_code(self, code: int) -> None:
        self.fe.set_dac_output_v(self.t, dac_v(code))

    def power_up(self) -> None:
        self.drive("boost_en", True)
        self.run(0.05)
        self.drive("k1", True)
        self.run(0.01)


def test_vset_is_the_divided_dac_voltage_clamped_at_a_quarter_volt() -> None:
    fe = FrontEnd()
    fe.set_dac_output_v(0.0, 1.0)
    assert fe.vset_v == pytest.approx(1.0 * 10 / 130)
    fe.set_dac_output_v(0.0, 3.3)
    assert fe.vset_v == 0.25
    assert fe.commanded_current_a == pytest.approx(2.5e-3)


def test_one_dac_lsb_commands_0_6197_microampere() -> None:
    fe = FrontEnd()
    fe.set_dac_output_v(0.0, dac_v(1000))
    assert fe.commanded_current_a * 1e9 == pytest.approx(1000 * UA_PER_LSB * 1e3, rel=1e-4)


def test_load_current_is_the_stage_current_minus_the_divider_current() -> None:
    bench = Bench()
    bench.power_up()
    bench.set_code(1614)  # 1.0 mA
    bench.run(0.05)  # Cp settled (tau ~ 1 ms)
    fe = bench.fe
    divider_a = fe.node_v / fe.params.node_to_ground_ohm
    assert fe.shunt_current_a() == pytest.approx(fe.commanded_current_a - divider_a, rel=1e-6)
    assert divider_a == pytest.approx(20e-6, rel=0.05)  # ~20 V / 1.03 MOhm: upstream of shunt


def test_saturated_source_follows_the_compliance_formula() -> None:
    bench = Bench()  # nominal skin: 2 mA x 21.1 kOhm would need 42 V
    bench.power_up()
    bench.set_code(3227)  # 2.0 mA
    for _ in range(3):
        bench.run(0.003)
        fe = bench.fe
        assert fe.saturated
        assert fe.node_v == pytest.approx(28.0, abs=2e-3)  # rail still 1 mV short of 30 V
        assert fe.node_v == pytest.approx(fe.rail_v - 2.0, abs=1e-9)
        expected = (fe.node_v - fe.skin.vcp_ab_v - fe.skin.e_pol_ab_v()) / (1_000.0 + 100.0)
        assert fe.skin_current_a() == pytest.approx(expected, rel=1e-9)
    bench.run(0.05)
    assert bench.fe.skin_current_a() == pytest.approx(28.0 / 21_100.0, rel=0.01)  # ~1.33 mA


def test_source_leaves_compliance_when_the_load_accepts_the_command_again() -> None:
    bench = Bench()
    bench.power_up()
    bench.set_code(3227)
    bench.run(0.05)
    assert bench.fe.saturated
    bench.fe.skin.load_factor = 0.2  # wet sponge: Z drops to 4.2 kOhm
    bench.fe.skin_changed(bench.t)
    bench.run(0.05)
    assert not bench.fe.saturated
    assert bench.fe.skin_current_a() == pytest.approx(2.0e-3, rel=0.01)


def test_open_load_charges_the_node_to_compliance_at_the_source_current() -> None:
    bench = Bench()
    bench.power_up()
    bench.set_code(4034)  # 2.5 mA
    bench.fe.skin.contact_lost = True
    bench.fe.skin_changed(bench.t)
    start_v = bench.fe.node_v
    expected_s = 10e-9 * (28.0 - start_v) / 2.5e-3  # C dV / I
    bench.fe.advance_to(bench.t + 0.9 * expected_s)
    assert bench.fe.node_v < 28.0
    bench.fe.advance_to(bench.t + 1.05 * expected_s)
    assert bench.fe.saturated
    assert bench.fe.node_v == pytest.approx(28.0, abs=2e-3)


def test_node_discharges_through_its_divider_in_about_ten_ms() -> None:
    bench = Bench()
    bench.power_up()
    bench.drive("k1", False)
    bench.set_code(2000)
    bench.run(0.02)
    assert bench.fe.node_v == pytest.approx(28.0)  # stage pushes into the divider only
    bench.set_code(0)
    tau_s = 10e-9 * bench.fe.params.node_to_ground_ohm
    bench.fe.advance_to(bench.t + tau_s)
    assert bench.fe.node_v == pytest.approx(28.0 / math.e, rel=1e-6)
    assert tau_s == pytest.approx(0.0103, rel=0.01)


def test_shunt_filter_delays_ain0_by_a_tenth_of_a_millisecond() -> None:
    skin = SkinParams(rs_ohm=10.0, rp_ohm=1.0)  # nearly resistive: the node settles in ~1 us
    step, reference = Bench(skin), Bench(skin)
    for bench in (step, reference):
        bench.power_up()
        bench.set_code(1614)
    start = step.t
    reference.fe.advance_to(start + 2e-3)
    target_v = reference.fe.shunt_current_a() * 100.0
    ain0 = step.fe.analog_inputs(start + 1e-4)[0]
    assert ain0 == pytest.approx(target_v * (1 - math.exp(-1.0)), rel=1e-2)
    assert step.fe.analog_inputs(start + 2e-3)[0] == pytest.approx(target_v, rel=1e-6)


def test_adc_input_impedance_reads_the_divider_about_one_percent_low() -> None:
    loaded = FrontEndParams()
    ideal = FrontEndParams(adc_input_impedance_ohm=None)
    assert ideal.vout_ratio == pytest.approx(0.032133, rel=1e-4)
    assert loaded.vout_ratio / ideal.vout_ratio == pytest.approx(0.989, abs=0.001)


def test_boost_rail_is_up_within_fifty_ms_and_bleeds_down_when_disabled() -> None:
    bench = Bench()
    bench.drive("boost_en", True)
    bench.run(0.05)
    assert bench.fe.rail_v == pytest.approx(30.0, rel=0.05)
    assert bench.fe.analog_inputs(bench.t)[2] == pytest.approx(30.0 * 0.032133, rel=0.05)
    bench.drive("boost_en", False)
    tau_s = bench.fe.params.boost_fall_tau_s
    bench.run(tau_s)
    assert bench.fe.rail_v == pytest.approx(bench.fe.params.boost_v / math.e, rel=0.01)


def test_no_rail_no_current_whatever_the_dac_says() -> None:
    bench = Bench(LOW_IMPEDANCE)
    bench.drive("k1", True)
    bench.run(0.02)
    bench.set_code(4095)
    bench.run(0.02)
    assert abs(bench.fe.skin_current_a()) < 1e-9


def test_reversed_charge_shows_as_a_negative_electrode_voltage() -> None:
    """After a polarity change the stored polarisation drives the node below ground; the
    single-ended ADC sees a small negative code (representable), not a clipped zero."""
    bench = Bench()
    bench.power_up()
    bench.set_code(1614)
    bench.run(20.0)
    bench.set_code(0)
    bench.drive("k2", True)  # wrong on purpose: flipped with K1 still closed
    bench.run(0.02)
    ain0, ain1, _, _ = bench.fe.analog_inputs(bench.t)
    assert bench.fe.node_v < -0.3
    assert ain1 < -0.01
    assert 0 < ain0 < 1e-4  # microamps of back-current through the 1 MOhm divider


def test_released_k1_puts_the_skin_on_the_10k_bleeder_and_off_the_shunt() -> None:
    bench = Bench()
    bench.power_up()
    bench.set_code(1614)
    bench.run(20.0)
    bench.set_code(0)
    bench.drive("k1", False)
    bench.run(0.02)
    fe = bench.fe
    assert fe.shunt_current_a() == 0.0
    back_current_a = -fe.skin_current_a()
    assert 1e-6 < back_current_a < 0.2e-3  # polarisation back-current, limited by 10 k
    assert abs(fe.load_voltage_v()) < 1.0
    assert fe.load_voltage_v() == pytest.approx(back_current_a * 10_000.0, rel=1e-6)


def test_k1_contacts_follow_the_coil_after_operate_and_release_times() -> None:
    bench = Bench()
    bench.drive("k1", True)
    bench.fe.advance_to(0.0039)
    assert not bench.fe.contacts("k1")
    bench.fe.advance_to(0.0040)
    assert bench.fe.contacts("k1")
    bench.fe.set_drive(0.0100, "k1", False)
    bench.fe.advance_to(0.0149)
    assert bench.fe.contacts("k1")
    bench.fe.advance_to(0.0150)
    assert not bench.fe.contacts("k1")


def test_coil_pulse_shorter_than_the_operate_time_never_moves_the_contacts() -> None:
    bench = Bench()
    bench.drive("k1", True)
    bench.fe.set_drive(0.002, "k1", False)
    bench.fe.advance_to(0.05)
    assert [e.part for e in bench.fe.relay_events if e.relay == "k1"] == ["coil", "coil"]


def test_surge_shorter_than_one_ms_does_not_trip() -> None:
    """Stage failed short on the nominal skin: Cp takes ~27 mA for tens of microseconds,
    then the load limits the current to 30 V / 21 kOhm = 1.4 mA. The comparator needs more
    than 1 ms above 2.7 mA, so it stays clear; the software must catch this one."""
    bench = Bench()
    bench.power_up()
    bench.fe.set_stage_runaway(bench.t, True)
    assert bench.fe.shunt_current_a() > 20e-3
    bench.run(0.01)
    assert not bench.fe.tripped
    assert bench.fe.skin_current_a() == pytest.approx(30.0 / 21_100.0, rel=0.01)


def test_trip_reset_pulse_shorter_than_its_minimum_is_ignored() -> None:
    bench = Bench(SkinParams(rs_ohm=1_000.0, rp_ohm=5_000.0))
    bench.power_up()
    bench.fe.set_stage_runaway(bench.t, True)
    bench.run(0.01)
    bench.fe.set_stage_runaway(bench.t, False)
    assert bench.fe.tripped
    bench.drive("trip_reset", True)
    bench.fe.set_drive(bench.t + 0.002, "trip_reset", False)
    assert bench.fe.tripped
    bench.fe.set_drive(bench.t + 0.010, "trip_reset", True)
    bench.fe.set_drive(bench.t + 0.020, "trip_reset", False)
    assert not bench.fe.tripped


def test_one_long_step_equals_many_short_ones() -> None:
    """Lazy evaluation is exact: regime changes inside a step are found, not stepped over."""
    frozen = SkinParams(hydration_tau_s=1e12, polarisation_tau_s=1e12)  # drift off: the slow
    coarse, fine = Bench(frozen), Bench(frozen)  # states are first order per sub-step
    for bench in (coarse, fine):
        bench.power_up()
        bench.run(0.1)  # rail settled: the model's only step-dependent part is the slow drift
        bench.set_code(3227)  # enters compliance ~1.3 ms later
    coarse.fe.advance_to(coarse.t + 0.009)
    for i in range(1, 91):
        fine.fe.advance_to(fine.t + i * 1e-4)
    assert coarse.fe.saturated and fine.fe.saturated
    assert coarse.fe.node_v == pytest.approx(fine.fe.node_v, rel=1e-9)
    assert coarse.fe.skin.vcp_ab_v == pytest.approx(fine.fe.skin.vcp_ab_v, rel=1e-9)
    assert coarse.fe.charge_c() == pytest.approx(fine.fe.charge_c(), rel=1e-9)
