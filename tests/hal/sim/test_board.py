"""The simulated board through the HAL and the real Adafruit drivers, on a virtual clock.

Each test drives the board the way the control layer will (``build_board(sim=True)``: the same
``SetpointDac``/``FrontEndAdc``/GPIO classes as on the Pi) and checks the truth the board
reports (current that really flowed, when the relay contacts really moved).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from kiosk.hal.board import Board
from kiosk.hal.config import load_board_config
from kiosk.hal.factory import build_board
from kiosk.hal.sim.board import SimBoard
from kiosk.hal.sim.clock import VirtualClock
from kiosk.hal.sim.skin import SkinParams

UA_PER_LSB = 0.6197
LSB_MA = UA_PER_LSB / 1000.0
LOW_IMPEDANCE = SkinParams(rs_ohm=50.0, rp_ohm=50.0)  # node < 0.5 V: divider current < 1 LSB
LOW_RP = SkinParams(rs_ohm=1_000.0, rp_ohm=5_000.0)  # a failed stage pushes ~5 mA through it
RELEASE_S = 0.005
OPERATE_S = 0.004


class Session:
    """A board with a running heartbeat and the output enabled as hardware.md 8 says."""

    def __init__(self, board: Board) -> None:
        self.board = board
        assert isinstance(board.clock, VirtualClock)
        self.clock: VirtualClock = board.clock
        self._heartbeat = self.clock.call_every(0.01, lambda _t: board.heartbeat.toggle(),
                                                "heartbeat")

    @property
    def sim(self) -> SimBoard:
        assert self.board.sim is not None
        return self.board.sim

    def enable_output(self, *, reversed_polarity: bool = False) -> None:
        b = self.board
        b.boost.enable()
        self.clock.sleep_s(0.05)
        b.dac.set_code(0)
        b.polarity_relay.set_reversed(reversed_polarity)
        self.clock.sleep_s(0.01)
        b.output_relay.close()
        self.clock.sleep_s(0.01)

    def stop_heartbeat(self) -> None:
        self._heartbeat.cancel()

    def last_heartbeat_edge_s(self) -> float:
        bcm = self.board.config.gpio.wdt_heartbeat
        return max(e.time_s for e in self.sim.pin_factory.history if e.bcm == bcm)

    def k1_contacts_at(self, since_s: float, closed: bool) -> list[float]:
        return [e.time_s for e in self.sim.relay_history
                if e.relay == "k1" and e.part == "contacts" and e.state == closed
                and e.time_s >= since_s]


@pytest.fixture
def session() -> Iterator[Callable[..., Session]]:
    boards: list[Board] = []

    def make(load: SkinParams | None = None, seed: int = 0) -> Session:
        board = build_board(load_board_config(), sim=True, clock=VirtualClock(), seed=seed,
                            load=load)
        boards.append(board)
        return Session(board)

    yield make
    for board in boards:
        board.close()


def test_power_up_lands_in_the_safe_state(session: Callable[..., Session]) -> None:
    s = session()
    s.clock.sleep_s(0.2)
    assert not s.sim.k1_closed()
    assert s.sim.dac_output_v() == 0.0
    assert s.board.dac.eeprom_is_safe()
    assert s.sim.boost_rail_v() == 0.0
    assert not s.board.hw_trip.is_tripped
    assert s.board.estop.is_intact
    assert abs(s.board.adc.read_current_ma()) < 0.010


@pytest.mark.parametrize("code", [242, 1614, 3227, 4000])
def test_dac_code_sets_the_load_current_within_one_lsb(session: Callable[..., Session],
                                                       code: int) -> None:
    s = session(LOW_IMPEDANCE)
    s.enable_output()
    s.board.dac.set_code(code)
    s.clock.sleep_s(0.02)
    expected_ma = code * LSB_MA
    assert s.sim.true_current_ma() == pytest.approx(expected_ma, abs=LSB_MA)
    assert s.board.adc.read_current_ma() == pytest.approx(expected_ma, abs=2 * LSB_MA)


def test_set_current_in_milliampere_lands_within_one_lsb(
        session: Callable[..., Session]) -> None:
    s = session(LOW_IMPEDANCE)
    s.enable_output()
    code = s.board.dac.set_current_ma(1.0)
    s.clock.sleep_s(0.02)
    assert code == 1614
    assert s.sim.true_current_ma() == pytest.approx(1.0, abs=LSB_MA)
    assert s.board.adc.read_setpoint_readback_ma() == pytest.approx(1.0, abs=2 * LSB_MA)


def test_analog_clamp_limits_the_output_to_2_5_ma(session: Callable[..., Session]) -> None:
    s = session(LOW_IMPEDANCE)
    s.enable_output()
    s.board.dac.set_code(4095)  # would be 2.537 mA
    s.clock.sleep_s(0.02)
    assert 2.49 < s.sim.true_current_ma() <= 2.5
    assert s.board.adc.read_setpoint_readback_ma() == pytest.approx(2.5, abs=0.002)


def test_compliance_saturation_follows_the_hardware_md_formula(
        session: Callable[..., Session]) -> None:
    s = session()  # nominal skin: Rs + Rp = 21 kOhm allows only ~1.3 mA at 28 V
    s.enable_output()
    s.board.dac.set_current_ma(2.0)
    s.clock.sleep_s(0.1)
    current_ma = s.sim.true_current_ma()  # brings the model to "now"
    node_v, skin = s.sim.node_v(), s.sim.skin
    assert node_v == pytest.approx(28.0, abs=1e-3)
    expected_ma = (node_v - skin.vcp_ab_v - skin.e_pol_ab_v()) / (1_000.0 + 100.0) * 1e3
    assert current_ma == pytest.approx(expected_ma, rel=1e-9)
    assert current_ma == pytest.approx(1.33, abs=0.01)
    # AIN1 reads ~1 % low: the ADS1115's 3 MOhm input loads the 33.2 k (calibrate or buffer)
    assert s.board.adc.read_electrode_v() == pytest.approx(28.0 * 0.989, abs=0.05)


def test_contact_loss_drives_v_out_to_compliance_within_0_1_ms(
        session: Callable[..., Session]) -> None:
    s = session()
    s.enable_output()
    s.board.dac.set_current_ma(1.0)
    s.clock.sleep_s(0.1)
    assert s.sim.node_v() < 22.0
    s.sim.inject("contact_loss")
    s.clock.sleep_s(0.0001)
    assert s.sim.node_v() == pytest.approx(28.0, abs=0.01)
    assert abs(s.sim.true_current_ma()) < 0.002
    s.clock.sleep_s(0.02)
    assert abs(s.board.adc.read_current_ma()) < 0.005
    assert s.board.adc.read_electrode_v() > 0.9 * 28.0 * 0.989


def test_short_circuit_keeps_current_regulated_with_load_voltage_below_half_a_volt(
        session: Callable[..., Session]) -> None:
    s = session()
    s.enable_output()
    s.board.dac.set_current_ma(1.0)
    s.clock.sleep_s(0.1)
    s.sim.inject("short_circuit", ohm=47.0)
    s.clock.sleep_s(0.05)
    current_ma = s.board.adc.read_current_ma()
    load_v = s.board.adc.read_electrode_v() - current_ma * 1e-3 * 100.0
    assert current_ma == pytest.approx(1.0, abs=0.005)
    assert load_v < 0.5
    assert s.sim.true_load_voltage_v() < 0.5


def test_partial_contact_raises_the_measured_impedance(
        session: Callable[..., Session]) -> None:
    s = session()
    s.enable_output()
    s.board.dac.set_current_ma(0.3)
    s.clock.sleep_s(0.2)

    def measured_load_ohm() -> float:
        current_ma = s.board.adc.read_current_ma()
        return s.board.adc.read_electrode_v() / (current_ma * 1e-3) - 100.0

    baseline_ohm = measured_load_ohm()
    s.sim.inject("partial_contact", factor=3.0, transition_s=1.0)
    s.clock.sleep_s(2.0)
    assert measured_load_ohm() > 2.0 * baseline_ohm


def test_heartbeat_monostable_opens_k1_100_ms_after_toggles_stop(
        session: Callable[..., Session]) -> None:
    s = session()
    s.enable_output()
    s.board.dac.set_current_ma(0.5)
    s.clock.sleep_s(0.1)
    s.stop_heartbeat()
    last_edge_s = s.last_heartbeat_edge_s()
    s.clock.sleep_s(0.3)
    assert s.k1_contacts_at(last_edge_s, closed=False) == [
        pytest.approx(last_edge_s + 0.100 + RELEASE_S, abs=1e-9)]
    assert s.board.output_relay.is_closed  # software still asks for K1: hardware overrules
    assert s.sim.boost_rail_v() < 30.0 * 0.9  # BOOST_EN dropped too: the rail bleeds down


def test_k1_cannot_close_without_the_heartbeat(session: Callable[..., Session]) -> None:
    s = session()
    s.stop_heartbeat()
    s.board.boost.enable()
    s.board.output_relay.close()
    s.clock.sleep_s(0.1)
    assert not s.sim.k1_closed()
    assert s.sim.boost_rail_v() == 0.0


def test_stage_runaway_trips_the_hw_latch_after_1_ms_above_2_7_ma(
        session: Callable[..., Session]) -> None:
    s = session(LOW_RP)
    trips: list[float] = []
    s.board.hw_trip.on_trip(lambda: trips.append(s.clock.now_s()))
    s.enable_output()
    s.board.dac.set_current_ma(0.5)
    s.clock.sleep_s(0.05)
    start_s = s.clock.now_s()
    s.sim.inject("stage_runaway")
    assert s.sim.true_current_ma() > 2.7
    s.clock.sleep_s(0.02)
    assert trips == [pytest.approx(start_s + 0.001, abs=1e-9)]
    assert s.board.hw_trip.is_tripped
    assert s.k1_contacts_at(start_s, closed=False) == [
        pytest.approx(start_s + 0.001 + RELEASE_S, abs=1e-9)]
    assert abs(s.sim.true_current_ma()) < 0.2  # only the skin discharging into the bleeder


def _tripped_session(session: Callable[..., Session]) -> Session:
    s = session(LOW_RP)
    s.enable_output()
    s.board.dac.set_current_ma(0.5)
    s.clock.sleep_s(0.05)
    s.sim.inject("stage_runaway")
    s.clock.sleep_s(0.02)
    s.sim.clear("stage_runaway")
    s.board.output_relay.open()
    assert s.board.hw_trip.is_tripped
    return s


def test_hw_trip_reset_is_refused_while_the_dac_is_not_zero(
        session: Callable[..., Session]) -> None:
    s = _tripped_session(session)
    assert not s.board.hw_trip.reset_pulse(s.clock)
    assert s.board.hw_trip.is_tripped


def test_hw_trip_reset_is_refused_while_the_estop_is_pressed(
        session: Callable[..., Session]) -> None:
    s = _tripped_session(session)
    s.board.dac.zero()
    s.sim.inject("estop_press")
    assert not s.board.hw_trip.reset_pulse(s.clock)
    assert s.board.hw_trip.is_tripped


def test_hw_trip_reset_clears_the_latch_with_dac_zero_and_estop_intact(
        session: Callable[..., Session]) -> None:
    s = _tripped_session(session)
    s.board.dac.zero()
    assert s.board.hw_trip.reset_pulse(s.clock)
    assert not s.board.hw_trip.is_tripped
    s.board.output_relay.close()
    s.clock.sleep_s(0.01)
    assert s.sim.k1_closed()  # the coil supply is back


def test_estop_drops_k1_in_hardware_while_software_still_drives_it(
        session: Callable[..., Session]) -> None:
    s = session()
    presses: list[float] = []
    s.board.estop.on_pressed(lambda: presses.append(s.clock.now_s()))
    s.enable_output()
    s.board.dac.set_current_ma(1.0)
    s.clock.sleep_s(0.1)
    start_s = s.clock.now_s()
    s.sim.inject("estop_press")
    s.clock.sleep_s(0.02)
    assert presses == [start_s]
    assert not s.board.estop.is_intact
    assert s.board.output_relay.is_closed
    assert s.k1_contacts_at(start_s, closed=False) == [pytest.approx(start_s + RELEASE_S)]


def test_estop_release_reconnects_k1_if_software_still_drives_it(
        session: Callable[..., Session]) -> None:
    """Why the E-stop callback must open K1 and latch: the button's pole alone restores the
    coil supply on release."""
    s = session()
    s.enable_output()
    s.sim.inject("estop_press")
    s.clock.sleep_s(0.02)
    s.sim.inject("estop_release")
    s.clock.sleep_s(0.02)
    assert s.sim.k1_closed()


def test_relays_settle_within_the_10_ms_allowance(session: Callable[..., Session]) -> None:
    s = session()
    s.enable_output(reversed_polarity=True)
    s.board.output_relay.open()
    s.clock.sleep_s(0.02)
    s.board.polarity_relay.set_reversed(False)
    s.clock.sleep_s(0.02)
    coil: dict[tuple[str, bool], float] = {}
    delays: list[float] = []
    for event in s.sim.relay_history:
        key = (event.relay, event.state)
        if event.part == "coil":
            coil[key] = event.time_s
        else:
            delays.append(event.time_s - coil[key])
    assert sorted(round(d, 9) for d in delays) == [OPERATE_S, OPERATE_S, RELEASE_S, RELEASE_S]
    assert max(delays) <= 0.010


def test_polarity_reversal_keeps_the_measured_current_positive(
        session: Callable[..., Session]) -> None:
    """The shunt sits below K2: it reads the current the stage drives, whatever the polarity;
    the skin sees it the other way round (electrode frame)."""
    s = session()
    s.enable_output(reversed_polarity=True)
    s.board.dac.set_current_ma(0.5)
    s.clock.sleep_s(2.0)
    assert s.board.adc.read_current_ma() == pytest.approx(0.49, abs=0.01)
    assert s.sim.true_current_ma() > 0.48
    assert s.sim.skin.e_pol_ab_v() < 0.0  # built up from B to A


def test_bleeder_discharges_the_skin_after_k1_opens(session: Callable[..., Session]) -> None:
    s = session()
    s.enable_output()
    s.board.dac.set_current_ma(1.0)
    s.clock.sleep_s(30.0)
    assert s.sim.true_load_voltage_v() > 15.0
    s.board.dac.zero()
    s.board.output_relay.open()
    s.clock.sleep_s(0.01)  # relay settle allowance
    assert abs(s.sim.true_load_voltage_v()) < 1.0
    assert abs(s.sim.true_current_ma()) < 0.2  # polarisation back-current through 10 k


def test_safe_state_time_of_a_software_stop_is_the_relay_release(
        session: Callable[..., Session]) -> None:
    s = session()
    s.enable_output()
    s.board.dac.set_current_ma(1.0)
    s.clock.sleep_s(0.1)
    start_s = s.clock.now_s()
    s.board.output_relay.open()  # shutdown path: K1 first, then DAC
    s.board.dac.zero()
    s.clock.sleep_s(0.05)
    reached = s.sim.safe_state_reached_at_s(start_s)
    assert reached == pytest.approx(start_s + RELEASE_S, abs=1e-9)


def test_safe_state_is_not_reached_while_the_dac_still_commands_current(
        session: Callable[..., Session]) -> None:
    s = session()
    s.enable_output()
    s.board.dac.set_current_ma(1.0)
    start_s = s.clock.now_s()
    s.board.output_relay.open()
    s.clock.sleep_s(0.05)
    assert s.sim.safe_state_reached_at_s(start_s) is None
    s.board.dac.zero()
    zeroed_s = s.clock.now_s()
    assert s.sim.safe_state_reached_at_s(start_s) == pytest.approx(zeroed_s, abs=1e-4)


def test_same_seed_reproduces_the_same_adc_readings(session: Callable[..., Session]) -> None:
    readings = []
    for seed in (7, 7, 8):
        s = session(seed=seed)
        s.enable_output()
        s.board.dac.set_current_ma(0.8)
        s.clock.sleep_s(0.05)
        readings.append([s.board.adc.read_current_ma() for _ in range(5)])
    assert readings[0] == readings[1]
    assert readings[0] != readings[2]


def test_alert_rdy_line_follows_the_adc_conversion_ready_signal(
        session: Callable[..., Session]) -> None:
    """GPIO25 is reserved (the driver polls OS), but the line is wired: in conversion-ready
    mode it is released while converting and pulled low when the result is ready."""
    s = session()
    i2c, address, bcm = s.board.i2c, s.board.config.i2c.adc_address, 25
    assert s.sim.pin_factory.level(bcm)  # comparator off: open drain released, pulled up
    i2c.writeto(address, bytes([0x02, 0x00, 0x00]))  # Lo_thresh MSB 0
    i2c.writeto(address, bytes([0x03, 0x80, 0x00]))  # Hi_thresh MSB 1: ready mode
    i2c.writeto(address, bytes([0x01, 0x45, 0xE0]))  # AIN0, single-shot idle, COMP_QUE 00
    assert not s.sim.pin_factory.level(bcm)  # idle: result "ready"
    start_s = s.clock.now_s()
    i2c.writeto(address, bytes([0x01, 0xC5, 0xE0]))  # OS = 1: convert
    s.clock.sleep_s(0.005)
    i2c.writeto(address, bytes([0x01]))  # the chip model catches up at its next transaction
    edges = [(e.time_s - start_s, e.level) for e in s.sim.pin_factory.history
             if e.bcm == bcm and e.time_s > start_s]
    assert [level for _, level in edges] == [True, False]
    assert edges[1][0] - edges[0][0] == pytest.approx(1 / 860, rel=0.1)  # stamped when due
