"""The hardware faults the service self-test must catch (issue 13), injected by name.

Each fault is one physical cause: welded or burnt relay contacts, a dead ADC input, an
over-current comparator that never latches, a heartbeat monostable stuck high. These tests prove
the board model shows exactly that cause (and nothing else), and that clearing it repairs it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kiosk.hal.adc import AdcChannel
from kiosk.hal.board import Board
from kiosk.hal.config import load_board_config
from kiosk.hal.factory import build_board
from kiosk.hal.sim.board import SimBoard
from kiosk.hal.sim.clock import VirtualClock
from kiosk.hal.sim.skin import SkinParams

RELEASE_S = 0.005
LOW_RP = SkinParams(rs_ohm=1_000.0, rp_ohm=5_000.0)  # a failed stage pushes ~5 mA through it


class Rig:
    def __init__(self, board: Board) -> None:
        assert isinstance(board.clock, VirtualClock) and board.sim is not None
        self.board = board
        self.clock: VirtualClock = board.clock
        self.sim: SimBoard = board.sim
        self._heartbeat = True
        self.clock.call_every(0.01, self._beat, "heartbeat")

    def _beat(self, _now_s: float) -> None:
        if self._heartbeat:
            self.board.heartbeat.toggle()

    def stop_heartbeat(self) -> None:
        self._heartbeat = False

    def enable_output(self, current_ma: float = 1.0) -> None:
        self.board.boost.enable()
        self.clock.sleep_s(0.05)
        self.board.output_relay.close()
        self.clock.sleep_s(0.01)
        self.board.dac.set_current_ma(current_ma)
        self.clock.sleep_s(0.1)


def _rig(load: SkinParams | None = None) -> Iterator[Rig]:
    board = build_board(load_board_config(), sim=True, clock=VirtualClock(), load=load)
    yield Rig(board)
    board.close()


@pytest.fixture
def rig() -> Iterator[Rig]:
    yield from _rig()


@pytest.fixture
def low_load_rig() -> Iterator[Rig]:
    yield from _rig(LOW_RP)


# --- relay_stuck ---------------------------------------------------------------------------------

def test_a_k1_welded_closed_keeps_current_flowing_after_the_coil_drops(rig: Rig) -> None:
    rig.enable_output(0.5)
    rig.sim.inject("relay_stuck", relay="k1", position="closed")
    rig.board.output_relay.open()
    rig.clock.sleep_s(0.05)
    assert not rig.sim.frontend.coil("k1")
    assert rig.sim.k1_closed()
    assert rig.sim.true_current_ma() == pytest.approx(0.49, abs=0.02)


def test_a_k1_burnt_open_never_passes_current(rig: Rig) -> None:
    rig.sim.inject("relay_stuck", relay="k1", position="open")
    rig.enable_output(0.5)
    assert rig.sim.frontend.coil("k1")
    assert not rig.sim.k1_closed()
    assert abs(rig.sim.true_current_ma()) < 0.002


def test_a_k2_welded_closed_keeps_the_reversed_polarity(rig: Rig) -> None:
    rig.board.polarity_relay.set_reversed(True)
    rig.clock.sleep_s(0.02)
    rig.sim.inject("relay_stuck", relay="k2", position="closed")
    rig.board.polarity_relay.set_reversed(False)
    rig.clock.sleep_s(0.05)
    assert not rig.sim.frontend.coil("k2")
    assert rig.sim.k2_reversed()  # whatever the coil does


def test_clearing_relay_stuck_lets_the_contacts_follow_the_coil_again(rig: Rig) -> None:
    rig.enable_output(0.5)
    rig.sim.inject("relay_stuck", relay="k1", position="closed")
    rig.board.output_relay.open()
    rig.clock.sleep_s(0.02)
    assert rig.sim.k1_closed()
    cleared_s = rig.clock.now_s()
    rig.sim.clear("relay_stuck")
    rig.clock.sleep_s(0.02)
    assert not rig.sim.k1_closed()
    opened = [e.time_s for e in rig.sim.relay_history
              if e.relay == "k1" and e.part == "contacts" and not e.state]
    assert opened == [pytest.approx(cleared_s, abs=1e-9)]


def test_relay_stuck_refuses_an_unknown_relay_or_position(rig: Rig) -> None:
    with pytest.raises(ValueError, match="relay='k3' is not one of 'k1', 'k2'"):
        rig.sim.inject("relay_stuck", relay="k3", position="closed")
    with pytest.raises(ValueError, match="position='ajar'"):
        rig.sim.inject("relay_stuck", relay="k1", position="ajar")


# --- adc_channel_dead ----------------------------------------------------------------------------

@pytest.mark.parametrize("channel", list(AdcChannel))
def test_a_dead_adc_channel_reads_zero_and_only_that_channel(rig: Rig,
                                                             channel: AdcChannel) -> None:
    rig.enable_output(1.0)
    before = {c: rig.board.adc.read_volts(c) for c in AdcChannel}
    assert all(abs(v) > 0.05 for v in before.values()), before  # every channel sees a signal
    rig.sim.inject("adc_channel_dead", channel=channel.pin)
    after = {c: rig.board.adc.read_volts(c) for c in AdcChannel}
    assert after[channel] == pytest.approx(0.0, abs=0.002)
    for other in AdcChannel:
        if other is not channel:
            assert after[other] == pytest.approx(before[other], rel=0.02)
    rig.sim.clear("adc_channel_dead")
    assert rig.board.adc.read_volts(channel) == pytest.approx(before[channel], rel=0.02)


@pytest.mark.parametrize("bad", [4, -1, 1.5])
def test_adc_channel_dead_refuses_a_channel_that_does_not_exist(rig: Rig, bad: float) -> None:
    with pytest.raises(ValueError, match="channel"):
        rig.sim.inject("adc_channel_dead", channel=bad)
    assert not rig.sim.adc_model.dead_channels


# --- trip_fails ----------------------------------------------------------------------------------

def test_with_trip_fails_a_runaway_above_the_trip_level_never_latches(
        low_load_rig: Rig) -> None:
    rig = low_load_rig
    rig.enable_output(0.5)
    rig.sim.inject("trip_fails")
    rig.sim.inject("stage_runaway")
    assert rig.sim.true_current_ma() > 2.7
    rig.clock.sleep_s(0.05)
    assert not rig.sim.hw_tripped()
    assert not rig.board.hw_trip.is_tripped
    assert rig.sim.k1_closed()


def test_without_trip_fails_the_same_runaway_latches_after_1_ms(low_load_rig: Rig) -> None:
    """The other side of the fault: the same over-current trips a healthy comparator."""
    rig = low_load_rig
    rig.enable_output(0.5)
    start_s = rig.clock.now_s()
    rig.sim.inject("stage_runaway")
    rig.clock.sleep_s(0.02)
    assert rig.sim.hw_tripped()
    assert rig.sim.safe_state_reached_at_s(start_s) is None  # the DAC is still driven
    k1_open = [e.time_s for e in rig.sim.relay_history
               if e.relay == "k1" and e.part == "contacts" and not e.state]
    assert k1_open == [pytest.approx(start_s + 0.001 + RELEASE_S, abs=1e-9)]


# --- monostable_stuck ----------------------------------------------------------------------------

def test_a_stuck_monostable_keeps_k1_closed_after_the_heartbeat_stops(rig: Rig) -> None:
    rig.enable_output(0.5)
    rig.sim.inject("monostable_stuck")
    rig.stop_heartbeat()
    rig.clock.sleep_s(0.5)
    assert rig.sim.k1_closed()
    assert rig.sim.heartbeat_alive()


def test_a_healthy_monostable_drops_k1_100_ms_after_the_last_toggle(rig: Rig) -> None:
    rig.enable_output(0.5)
    rig.stop_heartbeat()
    stopped_s = rig.clock.now_s()
    rig.clock.sleep_s(0.5)
    assert not rig.sim.k1_closed()
    opened = [e.time_s for e in rig.sim.relay_history
              if e.relay == "k1" and e.part == "contacts" and not e.state]
    assert len(opened) == 1 and stopped_s < opened[0] <= stopped_s + 0.010 + 0.100 + RELEASE_S


def test_clearing_monostable_stuck_drops_k1_without_toggles(rig: Rig) -> None:
    rig.enable_output(0.5)
    rig.sim.inject("monostable_stuck")
    rig.stop_heartbeat()
    rig.clock.sleep_s(0.3)
    cleared_s = rig.clock.now_s()
    rig.sim.clear("monostable_stuck")
    rig.clock.sleep_s(0.02)
    assert not rig.sim.k1_closed()
    assert rig.sim.safe_state_reached_at_s(cleared_s) is None  # K1 open, but the DAC still set
