"""The whole current stage on the pure core and a plant model, on the virtual time line."""

from __future__ import annotations

import pytest

from kiosk.control.commands import AdjustCurrent, Pause, Resume, Stop, StopReason
from kiosk.control.snapshot import TreatmentState as S
from tests.control.core_rig import PERIOD_S, Rig


def states_seen(rig: Rig) -> list[S]:
    seen: list[S] = []
    for result in rig.results:
        if not seen or seen[-1] is not result.snapshot.state:
            seen.append(result.snapshot.state)
    return seen


@pytest.mark.requirement("SR-021")
def test_a_treatment_runs_contact_check_ramp_hold_ramp_down_done() -> None:
    rig = Rig.ready()
    rig.start(area="face", indication="pigmentation", current_stage_s=120.0)
    final = rig.run_until_state(S.DONE, 200.0)
    assert states_seen(rig) == [S.CONTACT_CHECK, S.RAMP_UP, S.HOLD, S.RAMP_DOWN, S.DONE]
    snap = final.snapshot
    assert snap.elapsed_s == pytest.approx(120.0, abs=0.05)
    # 30 s up, 60 s at 0.6 mA, 30 s down: 0.15 + 0.6 + 0.15 mA·min
    assert snap.dose_ma_min == pytest.approx(0.9, rel=0.01)
    assert not final.actuation.output_relay_closed and final.actuation.dac_ma == 0.0
    assert not final.actuation.boost_on and not final.actuation.polarity_reversed
    assert "treatment_done" in rig.codes()


def test_hold_regulates_the_measured_current_to_the_target() -> None:
    rig = Rig.ready()
    rig.plant.gain = 0.93  # the DAC path delivers 7 % too little; the PI trims it
    held = rig.start_and_hold(area="face", indication="pigmentation")
    rig.run(1.0)
    snap = rig.results[-1].snapshot
    assert held.snapshot.setpoint_ma == 0.6
    assert snap.measured_ma == pytest.approx(0.6, abs=0.002)
    assert snap.contact_ok and snap.load_kohm is not None
    assert snap.load_kohm == pytest.approx(21.0 + 0.8 / 0.6, rel=0.05)  # Rs + Rp + E_pol / I


@pytest.mark.requirement("SR-009")
def test_contact_check_follows_the_hardware_sequence_step_by_step() -> None:
    rig = Rig.ready()
    rig.run(1.5)  # the output has been quiet for over a second
    rig.start(area="eye_area", indication="puffiness")  # positive: K2 reversed
    rig.run_until_state(S.RAMP_UP, 2.0)
    steps: list[tuple[str, float]] = []
    for result in rig.results:
        snap = result.snapshot
        if snap.state is S.CONTACT_CHECK and (not steps or steps[-1][0] != snap.step):
            steps.append((snap.step, snap.time_s))
    # Quiet for over a second already: the quiet step passes in the cycle it starts.
    assert [s for s, _ in steps] == ["boost", "polarity", "output", "test"]
    at = dict(steps)
    assert at["polarity"] - at["boost"] >= 0.050  # boost on, 50 ms, AIN2 checked
    assert at["output"] - at["polarity"] >= 0.010  # K2 set, 10 ms
    assert at["test"] - at["output"] >= 0.010  # K1 on, 10 ms, I < 10 uA
    check = [r for r in rig.results if r.snapshot.state is S.CONTACT_CHECK]
    by_step = {r.snapshot.step: r.actuation for r in check}
    assert by_step["boost"].boost_on and not by_step["boost"].output_relay_closed
    assert by_step["polarity"].polarity_reversed and by_step["polarity"].heartbeat_ok
    assert by_step["polarity"].dac_ma == 0.0 and not by_step["polarity"].output_relay_closed
    assert by_step["output"].output_relay_closed and by_step["output"].dac_ma == 0.0
    assert by_step["test"].dac_ma == pytest.approx(0.05)
    assert "contact_check_passed" in rig.codes()


@pytest.mark.requirement("SR-021", "SR-020")
def test_pause_ramps_down_normally_and_resume_checks_contact_and_ramps_from_zero() -> None:
    rig = Rig.ready()
    rig.start_and_hold(area="face", indication="pigmentation")
    rig.tick([Pause()])
    paused = rig.run_until_state(S.PAUSED, 60.0)
    ramp_down = [r for r in rig.results if r.snapshot.state is S.RAMP_DOWN]
    assert len(ramp_down) * PERIOD_S >= 30.0
    assert paused.snapshot.resumable and not paused.actuation.output_relay_closed
    rig.tick([Resume("s1")])
    assert rig.core.state is S.CONTACT_CHECK
    ramping = rig.run_until_state(S.RAMP_UP, 5.0)
    assert ramping.snapshot.setpoint_ma < 0.001
    rig.run_until_state(S.HOLD, 60.0)


@pytest.mark.requirement("SR-022")
def test_stop_reaches_zero_within_2_s_and_leaves_the_session_paused() -> None:
    rig = Rig.ready()
    rig.plant.rp_kohm = 10.0  # 1.5 mA x 11 kΩ stays below the 24 V compliance warning
    rig.start_and_hold(area="face", indication="disincrustation", current_ma=1.5)
    stop_at = rig.now_s
    rig.tick([Stop(StopReason.CLIENT_DISCOMFORT)])
    opened = rig.run_until(lambda r: not r.actuation.output_relay_closed, 5.0)
    assert opened.snapshot.time_s - stop_at <= 2.0
    zero_at = next(r.snapshot.time_s for r in rig.results
                   if r.snapshot.time_s > stop_at and r.snapshot.setpoint_ma == 0.0)
    assert zero_at - stop_at <= 1.5 + PERIOD_S
    assert rig.run_until_state(S.PAUSED, 1.0).snapshot.resumable
    assert "stopped" in rig.codes()


def test_stop_while_paused_finishes_the_stage() -> None:
    rig = Rig.ready()
    rig.start_and_hold(area="face", indication="pigmentation")
    rig.tick([Stop()])
    rig.run_until_state(S.PAUSED, 5.0)
    done = rig.tick([Stop()])
    assert done.snapshot.state is S.DONE and not done.snapshot.resumable


@pytest.mark.requirement("SR-005", "SR-020")
def test_adjust_raises_the_target_slewed_and_capped() -> None:
    rig = Rig.ready()
    rig.start_and_hold(area="face", indication="pigmentation")  # 0.6 of 0.8 mA
    rig.tick([AdjustCurrent(0.05)])
    assert rig.core.state is S.RAMP_UP
    rig.run_until_state(S.HOLD, 10.0)
    assert rig.results[-1].snapshot.setpoint_ma == pytest.approx(0.65)
    rig.tick([AdjustCurrent(0.25)])  # past the 0.8 mA cap: stops at the cap
    assert rig.results[-1].snapshot.target_ma == 0.8
    assert "adjust_capped" in [e.code for e in rig.results[-1].events]
    refused = rig.tick([AdjustCurrent(0.05)])
    assert refused.snapshot.last_refusal is not None
    assert refused.snapshot.last_refusal.code == "current_at_cap"


@pytest.mark.requirement("SR-025")
def test_a_resume_right_after_a_pause_waits_until_the_output_was_quiet_for_a_second() -> None:
    """domain.md 6: K2 may only switch after |I| < 10 uA for >= 1 s."""
    rig = Rig.ready()
    rig.start_and_hold(area="face", indication="pigmentation")
    rig.tick([Stop()])
    rig.run_until_state(S.PAUSED, 5.0)
    last_current = max(r.snapshot.time_s for r in rig.results if r.snapshot.measured_ma >= 0.01)
    rig.tick([Resume("s1")])
    boost = rig.run_until(lambda r: r.snapshot.step == "boost", 3.0)
    assert boost.snapshot.time_s - last_current >= 1.0
