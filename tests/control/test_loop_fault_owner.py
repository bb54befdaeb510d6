"""One owner of the fault state: trips reach the core as inputs, only the core writes fault
snapshots, and yet the screen sees a trip at once (before the next cycle, while the loop is
stuck) and without a gap until the core shows it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kiosk.control.commands import Acknowledge, Heartbeat, ProgramRequest, StartTreatment
from kiosk.control.service import Controller, build_controller
from kiosk.control.snapshot import FaultInfo, TreatmentState
from kiosk.control.supervisor import CHECK_PERIOD_S, STALL_TIMEOUT_S
from kiosk.control.watchdog import SystemdWatchdog
from kiosk.hal.sim.clock import VirtualClock
from tests.consent_version import CONSENT

S = TreatmentState
PROGRAM = ProgramRequest("face", "pigmentation", current_ma=0.6, current_stage_s=120)
SCREEN_POLL_S = 0.002


@pytest.fixture
def controller() -> Iterator[Controller]:
    built = build_controller(sim=True, clock=VirtualClock(), notifier=SystemdWatchdog(env={}))
    built.run_for(0.05)
    built.submit(StartTreatment(PROGRAM, "session-1", screening_cleared=True,
                                consent_version=CONSENT))
    run_with_ui(built, 3.0)
    assert built.snapshot.state is S.RAMP_UP
    yield built
    built.close()


def run_with_ui(controller: Controller, duration_s: float) -> None:
    end_s = controller.clock.now_s() + duration_s
    while controller.clock.now_s() < end_s - 1e-9:
        controller.submit(Heartbeat())
        controller.run_for(min(1 / 15, end_s - controller.clock.now_s()))


@pytest.mark.requirement("SR-073", "SR-039")
def test_an_estop_edge_shows_on_the_snapshot_before_the_next_cycle(
        controller: Controller) -> None:
    published = controller.loop.core.snapshot
    cycles = controller.stats.cycles

    controller.inject("estop_press")  # gpiozero's callback: between two cycles

    assert controller.stats.cycles == cycles
    assert controller.core.fault is None  # the core has not been told yet ...
    seen = controller.snapshot  # ... but the screen sees the trip already
    assert seen.state is S.FAULT and not seen.output_enabled and seen.setpoint_ma == 0.0
    assert seen.fault is not None and seen.fault.code == "estop"
    assert controller.loop.core.snapshot is published  # nobody wrote a snapshot for it
    controller.run_for(0.01)
    assert controller.core.fault == seen.fault  # the core latched exactly that trip
    assert controller.snapshot.fault == seen.fault


@pytest.mark.requirement("SR-073", "SR-032")
def test_a_stuck_loop_shows_loop_stall_at_once_and_without_a_gap_until_the_core_has_it(
        controller: Controller) -> None:
    """A screen polls every 2 ms (a clock timer, so it runs while the control thread is stuck
    in a bus transaction); what it sees goes to fault once and stays there."""
    clock = controller.clock
    assert isinstance(clock, VirtualClock)
    seen: list[tuple[float, S, FaultInfo | None, bool]] = []
    timer = clock.call_every(SCREEN_POLL_S, lambda now_s: seen.append(
        (now_s, controller.snapshot.state, controller.snapshot.fault,
         controller.core.fault is not None)), "screen")
    try:
        run_with_ui(controller, 0.1)
        stalled_at_s = clock.now_s()
        controller.inject("loop_stall", ms=200)  # the next bus transaction blocks 200 ms
        run_with_ui(controller, 0.5)
    finally:
        timer.cancel()
    faults = [entry for entry in seen if entry[1] is S.FAULT]
    assert faults, "the screen never saw the fault"
    first_s = faults[0][0]
    assert first_s - stalled_at_s <= 0.010 + STALL_TIMEOUT_S + CHECK_PERIOD_S + SCREEN_POLL_S
    after = [entry for entry in seen if entry[0] >= first_s]
    assert all(state is S.FAULT for _, state, _, _ in after)  # no gap, no flicker
    assert {fault for _, _, fault, _ in after} == {faults[0][2]}  # one fault, one time
    assert faults[0][2] is not None and faults[0][2].code == "loop_stall"
    stuck = [entry for entry in after if entry[0] < stalled_at_s + 0.2]
    assert stuck and not any(core_has_it for *_, core_has_it in stuck)  # shown, not written
    assert after[-1][3]  # and after the stall the core holds it: its own snapshot shows it
    assert controller.loop.core.snapshot.fault == faults[0][2]


@pytest.mark.requirement("SR-073")
def test_after_an_acknowledgement_the_old_trip_is_not_shown_again(
        controller: Controller) -> None:
    controller.inject("estop_press")
    controller.inject("estop_release")
    run_with_ui(controller, 0.5)
    controller.submit(Acknowledge("estop"))
    run_with_ui(controller, 0.2)
    assert controller.snapshot.state is S.IDLE
    assert controller.snapshot.fault is None
    assert controller.loop.shutdown.first_trip_after(0) is not None  # the trip is history
