"""Random sequences of commands, time and injected faults against the REAL control loop and
core on the simulated board (virtual clock), with the safety invariants checked on every cycle
from the board's own truth (the load model's current, the relay contacts, the DAC pin).

Invariants (the issue's "done when"):
- current flows only in ramp_up / hold / ramp_down (the contact check's ~50 uA test current
  aside, one cycle of relay release allowed), and K1 is closed only in those and the check;
- never above any cap: true current <= effective cap + 0.05 mA (measurement tolerance);
- the set-point never rises faster than 0.05 mA/s;
- DAC at zero whenever the output relay is open (unless the DAC itself was made deaf);
- the polarity relay's contacts never move while K1's contacts are closed;
- a latched fault never clears without an acknowledgement naming it;
- the dose never exceeds its cap (plus one cycle).

Faults that make current appear without the control logic (a failed output stage) or that hang
the loop for good are left to ``test_faults_on_board``; everything here must be recoverable.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from kiosk.control.catalogue import load_catalogue
from kiosk.control.commands import (
    Acknowledge,
    AdjustCurrent,
    EndSession,
    Heartbeat,
    Pause,
    ProgramRequest,
    Resume,
    StartTreatment,
    Stop,
    StopReason,
)
from kiosk.control.loop import CycleRecord
from kiosk.control.service import build_controller
from kiosk.control.snapshot import TreatmentState
from kiosk.control.watchdog import SystemdWatchdog
from kiosk.hal.sim.clock import VirtualClock
from tests.consent_version import CONSENT

S = TreatmentState
CATALOGUE = load_catalogue()
PROGRAMS = [(p.area, p.indication, p.cap_current_ma) for p in CATALOGUE.programs]
CURRENT_STATES = {S.RAMP_UP, S.HOLD, S.RAMP_DOWN}
OUTPUT_STATES = CURRENT_STATES | {S.CONTACT_CHECK}  # K1 may be closed only in these
TEST_CURRENT_LIMIT_MA = 0.08  # the contact check's 50 uA test current, with margin
LEAK_MA = 0.02  # polarisation back-current through the 10 k bleeder with K1 open
TOLERANCE_MA = 0.05  # measurement tolerance of domain.md 6 (over-current margin)
RAMP_RATE_MA_PER_S = 0.05
DAC_DEAF_FAULTS = {"i2c_nack", "dac_ignores_writes"}

RECOVERABLE_FAULTS: list[tuple[str, dict[str, Any]]] = [
    ("contact_loss", {}), ("partial_contact", {"factor": 5.0, "transition_s": 0.5}),
    ("short_circuit", {"ohm": 47.0}), ("load_step", {"factor": 3.0}),
    ("load_step", {"factor": 0.3}), ("estop_press", {}), ("i2c_nack", {"device": "dac"}),
    ("i2c_nack", {"device": "adc"}), ("adc_stuck", {"value_v": 0.05}),
    ("dac_ignores_writes", {}), ("loop_stall", {"ms": 80.0}), ("loop_stall", {"ms": 25.0}),
]


class BoardSafetyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = VirtualClock()
        self.controller = build_controller(sim=True, clock=self.clock,
                                           notifier=SystemdWatchdog(env={}))
        sim = self.controller.board.sim
        assert sim is not None
        self.sim = sim
        self.active_faults: set[str] = set()
        self.acknowledged: set[str] = set()  # codes acknowledged since the last cycle
        self.previous: CycleRecord | None = None
        self.violations: list[str] = []
        self.relay_events_seen = 0
        self.controller.loop.add_observer(self.check_cycle)
        self.controller.run_for(0.05)  # self-test

    def teardown(self) -> None:
        self.controller.close()

    # --- per-cycle invariants ---------------------------------------------------------------

    def check_cycle(self, record: CycleRecord) -> None:
        snap = record.snapshot
        previous = self.previous
        true_ma = self.sim.true_current_ma()
        was = previous.snapshot.state if previous is not None else S.IDLE
        if abs(true_ma) > TEST_CURRENT_LIMIT_MA and snap.state not in CURRENT_STATES \
                and was not in CURRENT_STATES:
            self.violations.append(f"{true_ma:.3f} mA in {was}->{snap.state}")
        if abs(true_ma) > LEAK_MA and not self.sim.k1_closed():
            self.violations.append(f"{true_ma:.3f} mA with K1 open")
        cap_ma = snap.current_cap_ma if snap.program_id else 2.0
        if previous is not None and previous.snapshot.program_id:
            cap_ma = max(cap_ma, previous.snapshot.current_cap_ma)
        if true_ma > cap_ma + TOLERANCE_MA:
            self.violations.append(f"{true_ma:.3f} mA above the cap {cap_ma:.2f} mA")
        if previous is not None:
            dt_s = snap.time_s - previous.snapshot.time_s
            rise = snap.setpoint_ma - previous.snapshot.setpoint_ma
            if rise > RAMP_RATE_MA_PER_S * dt_s + 1e-6:
                self.violations.append(f"set-point rose {rise:.4f} mA in {dt_s:.3f} s")
            old_fault = previous.snapshot.fault
            if old_fault is not None and snap.fault != old_fault \
                    and old_fault.code not in self.acknowledged:
                self.violations.append(f"fault {old_fault.code} cleared without acknowledgement")
        self.acknowledged = set()
        relay_open = not self.controller.board.output_relay.is_closed
        if not relay_open and snap.state not in OUTPUT_STATES:
            self.violations.append(f"output relay closed in {snap.state}")
        dac_driving = record.dac_code not in (0, None) or self.sim.dac_output_v() != 0.0
        if relay_open and not (self.active_faults & DAC_DEAF_FAULTS) and dac_driving:
            self.violations.append(f"DAC {record.dac_code} with the relay open")
        if snap.dose_cap_ma_min > 0 and snap.dose_ma_min > snap.dose_cap_ma_min + 0.01:
            self.violations.append(f"dose {snap.dose_ma_min:.3f} above {snap.dose_cap_ma_min}")
        self.previous = record

    @invariant()
    def no_violation_so_far(self) -> None:
        assert not self.violations, self.violations[:5]

    @invariant()
    def polarity_moved_only_with_the_output_open(self) -> None:
        events = self.sim.relay_history
        for relay_event in events[self.relay_events_seen:]:
            if relay_event.relay == "k2" and relay_event.part == "contacts":
                assert not self.sim.frontend.k1_contacts_closed_at(relay_event.time_s), \
                    relay_event
        self.relay_events_seen = len(events)

    # --- time ----------------------------------------------------------------------------------

    @rule(duration_s=st.sampled_from([0.05, 0.3, 1.0, 3.0, 12.0, 35.0]))
    def time_passes(self, duration_s: float) -> None:
        end_s = self.clock.now_s() + duration_s
        while self.clock.now_s() < end_s - 1e-9:
            self.controller.submit(Heartbeat())
            self.controller.run_for(min(1 / 15, end_s - self.clock.now_s()))
        event(f"state after time passes: {self.controller.snapshot.state}")

    # --- operator ------------------------------------------------------------------------------

    @rule(program=st.sampled_from(PROGRAMS), fraction=st.sampled_from([0.3, 0.6, 1.0, 1.3]),
          stage_s=st.sampled_from([60.0, 120.0]), new_session=st.booleans())
    def start(self, program: tuple[str, str, float], fraction: float, stage_s: float,
              new_session: bool) -> None:
        area, indication, cap_ma = program
        current_ma = max(0.05, round(cap_ma * fraction / 0.05) * 0.05)
        request = ProgramRequest(area, indication, current_ma=current_ma,
                                 current_stage_s=stage_s)
        session = f"s{self.clock.now_s():.0f}" if new_session else "s"
        open_id = self.controller.snapshot.session_id
        if open_id is not None and open_id != session:  # the next client: end the old one
            self.controller.submit(EndSession(open_id))
        self.controller.submit(StartTreatment(request, session, screening_cleared=True,
                                              consent_version=CONSENT))

    @rule(reason=st.sampled_from(list(StopReason)))
    def stop(self, reason: StopReason) -> None:
        self.controller.submit(Stop(reason))

    @rule()
    def pause(self) -> None:
        self.controller.submit(Pause())

    @rule()
    def resume(self) -> None:
        self.controller.submit(Resume(self.controller.snapshot.session_id or "s"))

    @rule(steps=st.sampled_from([-2, -1, 1, 2, 10]))
    def adjust(self, steps: int) -> None:
        self.controller.submit(AdjustCurrent(round(steps * 0.05, 2)))

    @rule(right_code=st.booleans())
    def acknowledge(self, right_code: bool) -> None:
        fault = self.controller.snapshot.fault
        code = fault.code if fault is not None and right_code else "contact_lost_or_other"
        if right_code and fault is not None:
            self.acknowledged.add(code)
        self.controller.submit(Acknowledge(code))

    # --- board faults --------------------------------------------------------------------------

    @rule(fault=st.sampled_from(RECOVERABLE_FAULTS))
    def inject(self, fault: tuple[str, dict[str, Any]]) -> None:
        name, params = fault
        self.controller.inject(name, **params)
        if name != "loop_stall":
            self.active_faults.add(name)

    @precondition(lambda self: bool(self.active_faults))
    @rule(data=st.data())
    def clear(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.active_faults)))
        if name == "contact_loss":
            self.controller.inject("contact_restore")
        elif name == "estop_press":
            self.controller.inject("estop_release")
        else:
            self.controller.clear(name)
        self.active_faults.discard(name)


BoardSafetyMachine.TestCase.settings = settings(
    max_examples=12, stateful_step_count=14, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TestBoardSafety = BoardSafetyMachine.TestCase
