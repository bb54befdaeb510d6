"""Safety requirements that no other test proved as written: each test injects one fault (or
exercises one behaviour) on the simulated board with the virtual clock and asserts the outcome
the requirement states, with its number."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kiosk.control.commands import Heartbeat, ProgramRequest, StartTreatment
from kiosk.control.service import Controller, build_controller
from kiosk.control.snapshot import TreatmentState
from kiosk.control.watchdog import SystemdWatchdog
from kiosk.hal.sim.board import SimBoard
from kiosk.hal.sim.clock import VirtualClock
from kiosk.hal.sim.skin import SkinParams
from tests.consent_version import CONSENT
from tests.control.shell_helpers import drive_current, sim_board, sim_of
from tools.traceability import FigureRecorder

S = TreatmentState
OFF_STATE_CURRENT_MA = 0.010  # domain.md 6: < 10 uA with the output off
MONOSTABLE_PLUS_RELAY_MS = 110.0  # ~100 ms monostable + 10 ms relay allowance (hardware.md 7, 8)
HW_TRIP_TO_K1_OPEN_MS = 25.0  # SR-007


def k1_contact_opening_times(sim: SimBoard, since_s: float) -> list[float]:
    return [e.time_s for e in sim.relay_history
            if e.relay == "k1" and e.part == "contacts" and not e.state and e.time_s >= since_s]


def k1_coil_cut_times(sim: SimBoard, since_s: float) -> list[float]:
    return [e.time_s for e in sim.relay_history
            if e.relay == "k1" and e.part == "coil" and not e.state and e.time_s >= since_s]


def run_with_ui(controller: Controller, duration_s: float) -> None:
    """Advance like the kiosk does: a heartbeat with every 15 Hz poll."""
    end_s = controller.clock.now_s() + duration_s
    while controller.clock.now_s() < end_s - 1e-9:
        controller.submit(Heartbeat())
        controller.run_for(min(1 / 15, end_s - controller.clock.now_s()))


@pytest.fixture
def controller() -> Iterator[Controller]:
    built = build_controller(sim=True, clock=VirtualClock(), notifier=SystemdWatchdog(env={}))
    yield built
    built.close()


@pytest.mark.requirement("SR-033")
def test_without_heartbeat_toggles_the_monostable_opens_k1_within_110_ms_without_software(
        safety_figure: FigureRecorder) -> None:
    board = sim_board()
    sim = sim_of(board)
    drive_current(board, 1.0)
    assert sim.k1_closed() and sim.true_current_ma() > 0.9
    board.heartbeat.toggle()
    last_toggle_s = board.clock.now_s()

    board.clock.sleep_s(0.3)  # the loop is stalled: no toggles, and no software shutdown either

    assert board.output_relay.is_closed  # software never asked the relay to open
    [opened_s] = k1_contact_opening_times(sim, last_toggle_s)
    open_after_ms = (opened_s - last_toggle_s) * 1000.0
    safety_figure("relay_open_after_ms", open_after_ms, "ms", limit=MONOSTABLE_PLUS_RELAY_MS)
    assert open_after_ms <= MONOSTABLE_PLUS_RELAY_MS
    assert not sim.k1_closed() and not sim.heartbeat_alive()
    assert abs(sim.true_current_ma()) < OFF_STATE_CURRENT_MA * 2  # bleeder back-current only


@pytest.mark.requirement("SR-007")
def test_a_hardware_trip_latches_hw_trip_and_k1_is_open_within_25_ms_of_the_trip(
        safety_figure: FigureRecorder) -> None:
    low_load = SkinParams(rs_ohm=300.0, rp_ohm=5_000.0)  # 28 V / 5.3 kOhm: far above 2.7 mA
    built = build_controller(sim=True, clock=VirtualClock(), load=low_load,
                             notifier=SystemdWatchdog(env={}))
    try:
        built.submit(StartTreatment(ProgramRequest("face", "pigmentation", current_ma=0.6,
                                                   current_stage_s=120), "s", True,
                                    consent_version=CONSENT))
        run_with_ui(built, 3.0)
        assert built.snapshot.state is S.RAMP_UP
        sim = built.board.sim
        assert sim is not None
        injected_s = built.clock.now_s()
        built.inject("stage_runaway")
        run_with_ui(built, 0.2)

        assert sim.hw_tripped()
        tripped_s = k1_coil_cut_times(sim, injected_s)[0]  # the latch cuts K1's coil at the trip
        opened_s = k1_contact_opening_times(sim, injected_s)[0]
        open_after_ms = (opened_s - tripped_s) * 1000.0
        safety_figure("relay_open_after_ms", open_after_ms, "ms", limit=HW_TRIP_TO_K1_OPEN_MS)
        assert open_after_ms <= HW_TRIP_TO_K1_OPEN_MS
        assert built.snapshot.fault is not None and built.snapshot.fault.code == "hw_trip"
        assert [t.source for t in built.loop.shutdown.history][:1] == ["hw_trip_gpio"]
        assert abs(sim.true_current_ma()) < OFF_STATE_CURRENT_MA * 2
    finally:
        built.close()


@pytest.mark.requirement("SR-040")
def test_start_up_is_in_the_safe_state_and_nothing_flows_until_someone_starts(
        controller: Controller) -> None:
    sim = controller.board.sim
    assert sim is not None
    assert not sim.k1_closed() and not sim.k2_reversed()
    assert sim.dac_output_v() == 0.0
    assert not controller.board.boost.is_enabled

    run_with_ui(controller, 10.0)  # a UI polling, a self-test passed: still nothing starts

    snapshot = controller.snapshot
    assert snapshot.state is S.IDLE and snapshot.fault is None and not snapshot.output_enabled
    assert not k1_contact_opening_times(sim, 0.0)  # K1 never closed, so it never opened
    assert not sim.k1_closed() and sim.dac_output_v() == 0.0
    assert not controller.board.boost.is_enabled
    assert abs(sim.true_current_ma()) < OFF_STATE_CURRENT_MA
