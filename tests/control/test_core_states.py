"""Every state transition and every refusal of the core, with the reason named."""

from __future__ import annotations

import dataclasses

import pytest

from kiosk.control.catalogue import Catalogue
from kiosk.control.codes import Reason
from kiosk.control.commands import (
    Acknowledge,
    AdjustCurrent,
    Command,
    EndSession,
    Pause,
    Polarity,
    ProgramRequest,
    Resume,
    StartTreatment,
    Stop,
    StopReason,
)
from kiosk.control.core import ControlCore, SelfTestReadings
from kiosk.control.cycle import CycleResult
from kiosk.control.limits import SafetyConfig
from kiosk.control.snapshot import TreatmentState as S
from kiosk.control.state_machine import ALLOWED_TRANSITIONS, StateTracker, Step, TransitionError
from tests.consent_version import CONSENT
from tests.control.core_rig import PERIOD_S, Rig, catalogue


def refusal(result: CycleResult) -> Reason:
    refusals = [e for e in result.events if e.code == (result.snapshot.last_refusal or e).code]
    assert result.snapshot.last_refusal is not None, result.events
    assert refusals
    return result.snapshot.last_refusal


def faulted(rig: Rig, code: str = "estop") -> None:
    rig.estop_intact = False
    rig.tick()
    rig.estop_intact = True
    rig.tick()
    assert rig.core.fault is not None and rig.core.fault.code == code


# --- the transition table ----------------------------------------------------------------------

def test_fault_is_reachable_from_every_state_and_leaves_only_to_idle() -> None:
    for state, targets in ALLOWED_TRANSITIONS.items():
        if state is not S.FAULT:
            assert S.FAULT in targets, state
    assert ALLOWED_TRANSITIONS[S.FAULT] == frozenset({S.IDLE})


def test_current_states_are_entered_only_through_the_contact_check_or_each_other() -> None:
    for state, targets in ALLOWED_TRANSITIONS.items():
        if S.RAMP_UP in targets:
            assert state in (S.CONTACT_CHECK, S.HOLD)
    assert S.HOLD not in ALLOWED_TRANSITIONS[S.CONTACT_CHECK]


def test_a_transition_outside_the_table_raises() -> None:
    tracker = StateTracker()
    with pytest.raises(TransitionError, match="idle -> hold"):
        tracker.go(S.HOLD, Step.RAMP, 0.0)
    with pytest.raises(TransitionError, match="does not belong"):
        tracker.go(S.CONTACT_CHECK, Step.RAMP, 0.0)
    tracker.force_fault(1.0)
    assert tracker.state is S.FAULT


# --- refusals in the wrong state -----------------------------------------------------------------

@pytest.mark.parametrize(("command", "code", "named"), [
    (Pause(), "not_in_this_state", "pause"),
    (Resume("s1"), "nothing_to_resume", "resume"),
    (AdjustCurrent(0.05), "not_in_this_state", "adjust current"),
    (Acknowledge("estop"), "nothing_to_acknowledge", "no fault"),
])
def test_commands_that_make_no_sense_in_idle_are_refused(command: Command, code: str,
                                                         named: str) -> None:
    rig = Rig.ready()
    reason = refusal(rig.tick([command]))
    assert reason.code == code and named in reason.text.lower()
    assert rig.core.state is S.IDLE


def test_a_start_during_a_treatment_is_refused_naming_the_state() -> None:
    rig = Rig.ready()
    rig.start_and_hold()
    reason = refusal(rig.start(session_id="other"))
    assert reason.code == "not_in_this_state"
    assert reason.detail("state") == "hold" and "start" in reason.text
    assert rig.core.state is S.HOLD


def test_adjust_and_pause_are_refused_while_ramping_down() -> None:
    rig = Rig.ready()
    rig.start_and_hold()
    rig.tick([Pause()])
    assert refusal(rig.tick([AdjustCurrent(0.05)])).detail("state") == "ramp_down"
    assert refusal(rig.tick([Pause()])).code == "not_in_this_state"


@pytest.mark.parametrize("command", [Pause(), Resume("s1"), AdjustCurrent(0.05),
                                     StartTreatment(ProgramRequest("face", "pigmentation"), "s",
                                                    True, consent_version=CONSENT)])
@pytest.mark.requirement("SR-002")
def test_with_a_fault_latched_every_command_but_ack_is_refused_naming_the_fault(
        command: Command) -> None:
    rig = Rig.ready()
    faulted(rig)
    reason = refusal(rig.tick([command]))
    assert reason.code == "fault_latched" and reason.detail("fault_code") == "estop"
    assert rig.core.state is S.FAULT


def test_stop_is_never_refused_and_changes_nothing_when_nothing_flows() -> None:
    rig = Rig.ready()
    idle = rig.tick([Stop()])
    assert idle.snapshot.state is S.IDLE and idle.snapshot.last_refusal is None
    faulted(rig)
    assert rig.tick([Stop()]).snapshot.state is S.FAULT


# --- start refusals ----------------------------------------------------------------------------

@pytest.mark.requirement("SR-045")
def test_a_start_without_cleared_screening_is_refused() -> None:
    rig = Rig.ready()
    result = rig.tick([StartTreatment(ProgramRequest("face", "pigmentation"), "s", False,
                                      consent_version=CONSENT)])
    assert refusal(result).code == "screening_not_cleared"
    assert result.snapshot.state is S.IDLE and result.actuation.dac_ma == 0.0


@pytest.mark.requirement("SR-008")
def test_a_start_before_the_self_test_passed_is_refused() -> None:
    rig = Rig(ControlCore(catalogue()))
    result = rig.start()
    assert refusal(result).code == "selftest_required"
    assert not result.snapshot.healthy


@pytest.mark.requirement("SR-005")
def test_a_start_above_a_cap_is_refused_with_the_cap_named() -> None:
    rig = Rig.ready()
    result = rig.start(area="eye_area", indication="puffiness", current_ma=0.35)
    reason = refusal(result)
    assert reason.code == "current_above_cap" and reason.detail("cap_ma") == 0.3
    assert result.snapshot.state is S.IDLE


@pytest.mark.requirement("SR-039")
def test_an_emergency_stop_pressed_in_idle_latches_and_blocks_the_start() -> None:
    rig = Rig.ready()
    rig.estop_intact = False
    result = rig.start()
    assert result.snapshot.fault is not None and result.snapshot.fault.code == "estop"
    assert refusal(result).code == "fault_latched"
    assert not any(r.actuation.boost_on for r in rig.results)


# --- acknowledgement -------------------------------------------------------------------------

@pytest.mark.requirement("SR-002")
def test_an_acknowledgement_must_name_the_latched_fault() -> None:
    rig = Rig.ready()
    faulted(rig)
    reason = refusal(rig.tick([Acknowledge("contact_lost")]))
    assert reason.code == "ack_code_mismatch"
    assert reason.detail("given") == "contact_lost" and reason.detail("fault_code") == "estop"
    assert rig.core.state is S.FAULT


@pytest.mark.requirement("SR-002")
def test_an_acknowledgement_in_the_cycle_the_fault_latched_is_too_early() -> None:
    """Nobody can have seen a fault in the cycle it latched: a stale ack must not clear it."""
    rig = Rig.ready()
    rig.hw_trip_ok = False
    result = rig.tick([Acknowledge("hw_trip")])
    assert refusal(result).code == "ack_too_early"
    assert result.snapshot.state is S.FAULT


@pytest.mark.requirement("SR-002", "SR-039")
def test_an_emergency_stop_cannot_be_acknowledged_while_still_pressed() -> None:
    rig = Rig.ready()
    rig.estop_intact = False
    rig.tick()
    reason = refusal(rig.tick([Acknowledge("estop")]))
    assert reason.code == "ack_condition_present" and "emergency stop" in reason.text
    rig.estop_intact = True
    result = rig.tick([Acknowledge("estop")])
    assert result.snapshot.state is S.IDLE and result.snapshot.fault is None
    assert [e.code for e in result.events][-2:] == ["state_changed", "fault_acknowledged"]


@pytest.mark.requirement("SR-002")
def test_a_fault_never_clears_by_itself() -> None:
    rig = Rig.ready()
    rig.start_and_hold()
    rig.plant.open_circuit = True
    rig.run(0.2)
    rig.plant.open_circuit = False
    rig.run(30.0)
    assert rig.core.state is S.FAULT
    assert rig.results[-1].snapshot.fault is not None
    assert rig.results[-1].actuation.buzzer_on


@pytest.mark.requirement("SR-007")
def test_acknowledging_a_hardware_trip_sends_the_reset_pulse_and_relatches_if_it_stays() -> None:
    rig = Rig.ready()
    rig.hw_trip_ok = False
    rig.tick()
    ack = rig.tick([Acknowledge("hw_trip")])
    assert ack.actuation.hw_trip_reset and not ack.actuation.output_relay_closed
    assert ack.snapshot.state is S.IDLE
    rig.run(0.15)
    assert rig.core.state is S.IDLE  # the reset gets its grace time
    rig.run(0.1)
    assert rig.core.fault is not None and rig.core.fault.code == "hw_trip"


def test_acknowledged_hardware_trip_that_cleared_stays_idle() -> None:
    rig = Rig.ready()
    rig.hw_trip_ok = False
    rig.tick()
    rig.tick([Acknowledge("hw_trip")])
    rig.hw_trip_ok = True
    rig.run(1.0)
    assert rig.core.state is S.IDLE and rig.core.fault is None


# --- after a fault: a new contact check and a fresh ramp ----------------------------------------

@pytest.mark.requirement("SR-002", "SR-012", "SR-019")
def test_after_an_acknowledged_contact_loss_resume_checks_contact_and_ramps_from_zero() -> None:
    rig = Rig.ready()
    rig.start_and_hold()
    rig.run(5.0)
    dose_before = rig.results[-1].snapshot.dose_ma_min
    rig.plant.open_circuit = True
    rig.run(0.2)
    rig.plant.open_circuit = False
    idle = rig.tick([Acknowledge("contact_lost")])
    assert idle.snapshot.state is S.IDLE and idle.snapshot.resumable
    assert not idle.actuation.output_relay_closed
    rig.tick([Resume("s1")])
    assert rig.core.state is S.CONTACT_CHECK
    ramp = rig.run_until_state(S.RAMP_UP, 3.0)
    assert ramp.snapshot.setpoint_ma < 0.001
    assert ramp.snapshot.dose_ma_min == pytest.approx(dose_before, abs=0.01)  # continues


@pytest.mark.requirement("SR-019")
def test_a_new_session_starts_its_dose_from_zero_the_same_session_continues_it() -> None:
    rig = Rig.ready()
    rig.start_and_hold(session_id="a")
    rig.tick([Stop(StopReason.SHUTDOWN)])
    done = rig.run_until_state(S.DONE, 5.0)
    assert done.snapshot.dose_ma_min > 0.1
    again = rig.start(session_id="a")
    assert again.snapshot.dose_ma_min == done.snapshot.dose_ma_min
    rig.run_until_state(S.RAMP_UP, 3.0)
    rig.tick([Stop(StopReason.SHUTDOWN)])
    rig.run_until_state(S.DONE, 5.0)
    rig.tick([EndSession("a")])  # the next client: the screen ends the old session first
    fresh = rig.start(session_id="b")
    assert fresh.snapshot.dose_ma_min == 0.0 and fresh.snapshot.elapsed_s == 0.0


# --- the contact check's refusals ----------------------------------------------------------------

@pytest.mark.requirement("SR-009")
def test_no_circuit_at_the_contact_check_is_refused_and_no_ramp_starts() -> None:
    rig = Rig.ready()
    rig.plant.open_circuit = True
    rig.start()
    result = rig.run_until(lambda r: r.snapshot.last_refusal is not None, 3.0)
    assert result.snapshot.last_refusal is not None
    assert result.snapshot.last_refusal.code == "contact_check_open"
    back = rig.run_until_state(S.IDLE, 1.0)
    assert back.snapshot.fault is None and not back.actuation.output_relay_closed
    assert max(r.actuation.dac_ma for r in rig.results) == pytest.approx(0.05)  # test only


@pytest.mark.requirement("SR-009")
def test_a_poor_contact_is_refused_naming_the_load_and_the_threshold() -> None:
    rig = Rig.ready()
    rig.plant.rp_kohm = 60.0
    rig.start()
    result = rig.run_until(lambda r: r.snapshot.last_refusal is not None, 3.0)
    reason = result.snapshot.last_refusal
    assert reason is not None and reason.code == "contact_check_failed"
    assert float(reason.detail("load_kohm")) > 50.0  # type: ignore[arg-type]
    assert reason.detail("limit_kohm") == 50.0 and "Check electrodes" in reason.text
    rig.run_until_state(S.IDLE, 1.0)


def test_touching_electrodes_at_the_contact_check_are_refused() -> None:
    rig = Rig.ready()
    rig.plant.short_circuit = True
    rig.start()
    result = rig.run_until(lambda r: r.snapshot.last_refusal is not None, 3.0)
    assert result.snapshot.last_refusal is not None
    assert result.snapshot.last_refusal.code == "contact_check_short"


def measured_test_load() -> float:
    rig = Rig.ready()
    rig.start()
    rig.run_until_state(S.RAMP_UP, 3.0)
    passed = next(e for e in rig.events() if e.code == "contact_check_passed")
    return float(passed.detail("load_kohm"))  # type: ignore[arg-type]


@pytest.mark.requirement("SR-009")
def test_the_start_threshold_is_inclusive_at_its_configured_value() -> None:
    load = measured_test_load()
    below = Rig.ready(SafetyConfig(contact_start_max_kohm=load - 0.01))
    below.start()
    refused = below.run_until(lambda r: r.snapshot.last_refusal is not None, 3.0)
    assert refused.snapshot.last_refusal is not None
    assert refused.snapshot.last_refusal.code == "contact_check_failed"
    at = Rig.ready(SafetyConfig(contact_start_max_kohm=load + 0.01))
    at.start()
    at.run_until_state(S.RAMP_UP, 3.0)


def test_a_failed_contact_check_on_resume_returns_to_paused() -> None:
    rig = Rig.ready()
    rig.start_and_hold()
    rig.tick([Stop()])
    rig.run_until_state(S.PAUSED, 5.0)
    rig.plant.open_circuit = True
    rig.tick([Resume("s1")])
    rig.run_until(lambda r: r.snapshot.last_refusal is not None, 3.0)
    paused = rig.run_until_state(S.PAUSED, 1.0)
    assert paused.snapshot.resumable


def test_stop_during_the_test_current_drains_opens_and_returns_to_idle() -> None:
    rig = Rig.ready()
    rig.run(1.1)
    rig.start()
    rig.run_until(lambda r: r.snapshot.step == "test", 2.0)
    rig.tick([Stop()])
    idle = rig.run_until_state(S.IDLE, 1.0)
    assert idle.snapshot.fault is None and not idle.actuation.output_relay_closed
    steps = [r.snapshot.step for r in rig.results if r.snapshot.state is S.CONTACT_CHECK]
    assert "drain" in steps and "relay_open" in steps


# --- ends: time cap, dose cap, shutdown ---------------------------------------------------------

@pytest.mark.requirement("SR-019")
def test_the_stage_ends_at_its_chosen_time_with_a_normal_ramp_down() -> None:
    rig = Rig.ready()
    rig.start(current_stage_s=90.0)
    done = rig.run_until_state(S.DONE, 200.0)
    assert done.snapshot.elapsed_s == pytest.approx(90.0, abs=0.1)
    assert "stage_time_reached" in rig.codes()
    # The stage time counts across the session: 90 s are used, a 2-minute stage has 30 s left.
    again = rig.start(current_stage_s=120.0)
    assert refusal(again).code == "stage_time_used_up"
    assert refusal(again).detail("program_id") == "face.pigmentation"
    assert rig.start(current_stage_s=151.0).snapshot.state is S.CONTACT_CHECK


def small_dose_catalogue(cap_ma_min: float) -> Catalogue:
    base = catalogue()
    face = dataclasses.replace(base.area("face"), dose_cap_ma_min=cap_ma_min)
    return dataclasses.replace(base, areas=tuple(face if a.id == "face" else a
                                                 for a in base.areas))


def rig_with(catalogue_: Catalogue) -> Rig:
    rig = Rig(ControlCore(catalogue_))
    rig.core.self_test(SelfTestReadings(True, True, 1, 0, True, True, 0.0, 0.0), 0.0)
    return rig


@pytest.mark.requirement("SR-018")
def test_the_dose_cap_ends_the_stage_with_a_ramp_down_that_ends_at_the_cap() -> None:
    rig = rig_with(small_dose_catalogue(0.5))
    rig.start(current_ma=0.8)
    done = rig.run_until_state(S.DONE, 200.0)
    assert "dose_cap_reached" in rig.codes()
    assert "dose_cap_hard_stop" not in rig.codes()
    assert done.snapshot.dose_cap_ma_min == 0.5
    assert 0.47 <= done.snapshot.dose_ma_min <= 0.5 + 0.8 * PERIOD_S / 60
    again = rig.start(current_ma=0.8)
    reason = refusal(again)
    assert reason.code == "dose_cap_already_reached" and reason.detail("cap_ma_min") == 0.5


@pytest.mark.requirement("SR-018")
def test_if_the_ramp_down_projection_falls_short_the_dose_is_cut_at_the_cap(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The backstop: a projection that under-estimates (here forced to half) still never lets
    the dose pass the cap by more than one cycle."""
    monkeypatch.setattr("kiosk.control.core.DOSE_PROJECTION_MARGIN", 0.5)
    rig = rig_with(small_dose_catalogue(0.5))
    rig.start(current_ma=0.8)
    cut = rig.run_until(lambda r: "dose_cap_hard_stop" in [e.code for e in r.events], 200.0)
    assert cut.snapshot.setpoint_ma == 0.0 and cut.actuation.dac_ma == 0.0
    done = rig.run_until_state(S.DONE, 2.0)
    assert done.snapshot.dose_ma_min <= 0.5 + 0.8 * PERIOD_S / 60
    assert done.snapshot.fault is None


def test_shutdown_during_hold_ends_the_stage_as_done() -> None:
    rig = Rig.ready()
    rig.start_and_hold()
    rig.tick([Stop(StopReason.SHUTDOWN)])
    done = rig.run_until_state(S.DONE, 3.0)
    assert not done.snapshot.resumable


def test_pause_during_the_contact_check_goes_back_to_idle() -> None:
    rig = Rig.ready()
    rig.start()
    rig.tick([Pause()])
    assert rig.run_until_state(S.IDLE, 1.0).snapshot.fault is None


# --- during the current: compliance, contact quality, heartbeat -----------------------------------

@pytest.mark.requirement("SR-014")
def test_a_high_electrode_voltage_holds_the_ramp_and_refuses_a_raise() -> None:
    rig = Rig.ready()
    rig.plant.rp_kohm = 30.0  # 0.8 mA would need ~26 V
    rig.start(current_ma=0.8)
    rig.run_until(lambda r: r.snapshot.compliance_warning, 60.0)
    rig.run(5.0)
    held = rig.results[-1].snapshot
    assert held.state is S.RAMP_UP and held.setpoint_ma < 0.78
    assert rig.results[-1].snapshot.setpoint_ma == rig.results[-100].snapshot.setpoint_ma
    assert "compliance_warning" in rig.codes()
    assert refusal(rig.tick([AdjustCurrent(0.05)])).code == "compliance_limit"
    assert rig.core.fault is None


def test_a_load_rising_above_twice_its_best_flags_poor_contact() -> None:
    rig = Rig.ready()
    rig.start_and_hold(current_ma=0.3)
    rig.plant.rp_kohm = 50.0
    rig.run(1.0)
    snap = rig.results[-1].snapshot
    assert snap.contact_poor and "contact_poor" in rig.codes()
    assert rig.core.fault is None


def test_no_heartbeat_is_needed_while_no_current_flows() -> None:
    rig = Rig.ready(auto_heartbeat=False)
    rig.run(10.0)
    assert rig.core.fault is None


# --- the second phase: polarity changes only with the output open ---------------------------------

@pytest.mark.requirement("SR-025")
def test_the_acidic_toner_phase_reverses_polarity_with_the_relay_open_and_continues_the_dose(
) -> None:
    rig = Rig.ready()
    rig.plant.rp_kohm = 10.0
    rig.start(area="face", indication="disincrustation", current_stage_s=60.0)
    first = rig.run_until_state(S.DONE, 100.0)
    assert first.snapshot.polarity is Polarity.NEGATIVE
    start_index = len(rig.results)
    rig.start(area="face", indication="disincrustation", second_phase=True)
    held = rig.run_until_state(S.HOLD, 60.0)
    assert held.snapshot.program_id == "face.disincrustation.second_phase"
    assert held.snapshot.polarity is Polarity.POSITIVE and held.actuation.polarity_reversed
    assert held.snapshot.dose_ma_min > first.snapshot.dose_ma_min
    previous = rig.results[start_index - 1].actuation
    for result in rig.results[start_index:]:
        a = result.actuation
        if a.polarity_reversed != previous.polarity_reversed:
            assert not a.output_relay_closed and not previous.output_relay_closed
            assert a.dac_ma == 0.0 and previous.dac_ma == 0.0
        previous = a


# --- any state -> fault, and the remaining edges of the table ---

def drive_to(state: S) -> Rig:
    rig = Rig.ready()
    rig.plant.rp_kohm = 10.0
    rig.tick()
    if state is S.IDLE:
        return rig
    rig.start(current_stage_s=60.0 if state is S.DONE else 300.0)
    if state is S.CONTACT_CHECK:
        return rig
    if state is S.DONE:
        rig.run_until_state(S.DONE, 200.0)
        return rig
    rig.run_until_state(S.RAMP_UP, 3.0)
    if state is S.RAMP_UP:
        rig.run(5.0)
        return rig
    rig.run_until_state(S.HOLD, 60.0)
    if state is S.HOLD:
        return rig
    rig.tick([Pause()])
    if state is S.RAMP_DOWN:
        rig.run(5.0)
        return rig
    rig.run_until_state(S.PAUSED, 60.0)
    return rig


@pytest.mark.parametrize("state", [S.IDLE, S.CONTACT_CHECK, S.RAMP_UP, S.HOLD, S.RAMP_DOWN,
                                   S.PAUSED, S.DONE])
@pytest.mark.requirement("SR-039")
def test_an_emergency_stop_in_any_state_latches_the_safe_state_in_that_cycle(state: S) -> None:
    rig = drive_to(state)
    assert rig.core.state is state
    rig.estop_intact = False
    result = rig.tick()
    assert result.snapshot.state is S.FAULT and result.snapshot.fault is not None
    assert result.snapshot.fault.code == "estop"
    a = result.actuation
    assert not a.output_relay_closed and a.dac_ma == 0.0 and not a.boost_on and a.buzzer_on
    assert [e.code for e in result.events][:2] == ["estop", "state_changed"]
    assert result.events[1].detail("from_state") == str(state)


def test_shutdown_during_a_resumed_contact_check_finishes_the_stage() -> None:
    rig = drive_to(S.PAUSED)
    rig.tick([Resume("s1")])
    rig.run_until(lambda r: r.snapshot.step == "test", 3.0)
    rig.tick([Stop(StopReason.SHUTDOWN)])
    assert rig.core.state is S.CONTACT_CHECK  # draining the test current first
    done = rig.run_until_state(S.DONE, 1.0)
    assert not done.actuation.output_relay_closed and not done.snapshot.resumable


def test_a_new_start_from_paused_replaces_the_paused_stage() -> None:
    rig = drive_to(S.PAUSED)
    result = rig.start(session_id="s1", area="face", indication="dry_skin")
    assert result.snapshot.state is S.CONTACT_CHECK
    assert result.snapshot.program_id == "face.dry_skin"
