"""Issue 12 item 0: one client's control session never reaches the next client.

The defect, as found in ``kiosk --sim``: STOP at the plateau left client A's session ``paused``;
leaving the treatment never ended it, so client B's current screen offered "Resume", and the
``Resume`` (which named no session) brought back A's program, polarity and 0.60 mA while B's
screen showed B's program, and B's record showed no dose. On main, the first test below fails:
``Resume`` resumes whatever is open.

The rules now: ``EndSession(id)`` closes a session (never while current may flow);
``Resume(id)`` resumes only the open session of that id; a ``StartTreatment`` with another id
while a session is open is refused (``session_still_open``: the screen must end the old one, so
a screen that forgot to is found out instead of silently covered), and a new session starts
from nothing.
"""

from __future__ import annotations

import pytest

from kiosk.control.codes import Reason
from kiosk.control.commands import (
    Acknowledge,
    EndSession,
    Pause,
    Polarity,
    ProgramRequest,
    Resume,
    StartTreatment,
    Stop,
    StopReason,
)
from kiosk.control.cycle import CycleResult
from kiosk.control.snapshot import TreatmentState as S
from tests.consent_version import CONSENT
from tests.control.core_rig import Rig

CLIENT_A = ProgramRequest("face", "pigmentation", current_ma=0.6, current_stage_s=600)
CLIENT_B = ProgramRequest("face", "disincrustation", current_ma=0.3, current_stage_s=300,
                          polarity=Polarity.NEGATIVE)


def refusals(result: CycleResult) -> list[Reason]:
    return [e for e in result.events if e.code in {
        "resume_wrong_session", "session_still_open", "session_not_open",
        "session_current_flowing", "nothing_to_resume", "not_in_this_state"}]


def only_refusal(result: CycleResult) -> str:
    found = refusals(result)
    assert len(found) == 1, result.events
    return found[0].code


def a_paused_by_stop_at_the_plateau() -> Rig:
    rig = Rig.ready()
    rig.plant_substeps = 2
    rig.tick([StartTreatment(CLIENT_A, "A", True, consent_version=CONSENT)])
    rig.run_until_state(S.HOLD, 60.0)
    rig.run(10.0)
    rig.tick([Stop(StopReason.OPERATOR)])
    rig.run_until_state(S.PAUSED, 5.0)
    return rig


@pytest.mark.requirement("SR-050")
def test_the_next_clients_resume_never_brings_back_the_previous_clients_current() -> None:
    rig = a_paused_by_stop_at_the_plateau()
    paused = rig.results[-1].snapshot
    assert paused.session_id == "A" and paused.resumable
    result = rig.tick([Resume("B")])
    assert only_refusal(result) == "resume_wrong_session"
    assert "resumed" not in [e.code for e in result.events]
    rig.run(2.0)
    assert rig.core.state is S.PAUSED
    assert not rig.actuation.output_relay_closed and rig.actuation.dac_ma == 0.0
    assert rig.plant.current_ma == 0.0


@pytest.mark.requirement("SR-049", "SR-050")
def test_a_new_client_starts_from_idle_with_its_own_program_and_dose() -> None:
    rig = a_paused_by_stop_at_the_plateau()
    a_dose = rig.results[-1].snapshot.dose_ma_min
    assert a_dose > 0.1
    # B's start while A is still open: refused, A untouched
    assert only_refusal(rig.tick([StartTreatment(CLIENT_B, "B", True,
                                                 consent_version=CONSENT)])) == \
        "session_still_open"
    assert rig.core.state is S.PAUSED and rig.results[-1].snapshot.session_id == "A"
    # leaving A's treatment ends A
    ended = rig.tick([EndSession("A")])
    codes = [e.code for e in ended.events]
    assert "session_ended" in codes
    snap = ended.snapshot
    assert snap.state is S.IDLE and snap.session_id is None and snap.program_id is None
    assert snap.polarity is None and snap.target_ma == 0.0 and snap.current_cap_ma == 0.0
    assert snap.dose_ma_min == 0.0 and not snap.resumable
    assert only_refusal(rig.tick([Resume("A")])) == "nothing_to_resume"
    # B starts fresh: its program, its polarity, its caps, its dose from zero
    started = rig.tick([StartTreatment(CLIENT_B, "B", True, consent_version=CONSENT)])
    snap = started.snapshot
    assert snap.session_id == "B" and snap.program_id == "face.disincrustation"
    assert snap.target_ma == pytest.approx(0.3) and snap.polarity is Polarity.NEGATIVE
    assert snap.dose_ma_min == 0.0 and snap.elapsed_s == 0.0
    hold = rig.run_until_state(S.HOLD, 60.0)
    rig.run(10.0)
    b = rig.results[-1].snapshot
    assert b.measured_ma == pytest.approx(0.3, abs=0.02)
    # B's dose is B's current only: its ramp (~0.3 mA x 15 s / 2) plus 10 s at 0.3 mA
    expected = (0.3 * hold.snapshot.elapsed_s / 2 + 0.3 * 10.0) / 60.0
    assert b.dose_ma_min == pytest.approx(expected, rel=0.1)
    assert b.dose_ma_min < a_dose


@pytest.mark.requirement("SR-049")
@pytest.mark.parametrize("state", [S.CONTACT_CHECK, S.RAMP_UP, S.HOLD, S.RAMP_DOWN])
def test_a_session_cannot_end_while_current_may_flow(state: S) -> None:
    rig = Rig.ready()
    rig.plant_substeps = 2
    rig.tick([StartTreatment(CLIENT_A, "A", True, consent_version=CONSENT)])
    if state is not S.CONTACT_CHECK:
        rig.run_until_state(S.RAMP_UP, 5.0)
    if state in (S.HOLD, S.RAMP_DOWN):
        rig.run_until_state(S.HOLD, 60.0)
    if state is S.RAMP_DOWN:
        rig.tick([Pause()])
    assert rig.core.state is state
    before = rig.results[-1]
    result = rig.tick([EndSession("A")])
    assert only_refusal(result) == "session_current_flowing"
    assert result.events[0].detail("state") == str(state)
    assert result.snapshot.session_id == "A" and result.snapshot.program_id is not None
    assert result.actuation.output_relay_closed == before.actuation.output_relay_closed
    assert rig.core.state is state


@pytest.mark.requirement("SR-049")
def test_ending_another_or_no_session_is_refused_and_changes_nothing() -> None:
    rig = Rig.ready()
    assert only_refusal(rig.tick([EndSession("A")])) == "session_not_open"
    rig = a_paused_by_stop_at_the_plateau()
    result = rig.tick([EndSession("B")])
    assert only_refusal(result) == "session_not_open"
    assert result.snapshot.session_id == "A" and rig.core.state is S.PAUSED
    assert result.snapshot.resumable


@pytest.mark.requirement("SR-049")
def test_a_done_session_ends_to_idle_and_the_same_client_may_not_resume_it() -> None:
    rig = a_paused_by_stop_at_the_plateau()
    rig.tick([Stop()])  # a Stop while paused finishes the stage
    assert rig.core.state is S.DONE
    assert rig.tick([EndSession("A")]).snapshot.state is S.IDLE
    assert only_refusal(rig.tick([Resume("A")])) == "nothing_to_resume"


@pytest.mark.requirement("SR-049", "SR-050")
def test_a_session_ended_with_a_fault_latched_keeps_the_fault_and_leaves_nothing() -> None:
    rig = Rig.ready()
    rig.plant_substeps = 2
    rig.tick([StartTreatment(CLIENT_A, "A", True, consent_version=CONSENT)])
    rig.run_until_state(S.HOLD, 60.0)
    rig.plant.open_circuit = True
    rig.run_until_state(S.FAULT, 1.0)
    rig.plant.open_circuit = False
    ended = rig.tick([EndSession("A")])
    assert "session_ended" in [e.code for e in ended.events]
    assert ended.snapshot.state is S.FAULT and ended.snapshot.fault is not None
    assert not ended.actuation.output_relay_closed
    rig.tick()
    acked = rig.tick([Acknowledge("contact_lost")])
    assert acked.snapshot.state is S.IDLE and acked.snapshot.session_id is None
    assert not acked.snapshot.resumable
    assert only_refusal(rig.tick([Resume("A")])) == "nothing_to_resume"
    fresh = rig.tick([StartTreatment(CLIENT_B, "B", True, consent_version=CONSENT)])
    assert fresh.snapshot.session_id == "B" and fresh.snapshot.dose_ma_min == 0.0


@pytest.mark.requirement("SR-050")
def test_the_same_session_still_continues_its_dose_after_an_acknowledged_fault() -> None:
    rig = Rig.ready()
    rig.plant_substeps = 2
    rig.tick([StartTreatment(CLIENT_A, "A", True, consent_version=CONSENT)])
    rig.run_until_state(S.HOLD, 60.0)
    rig.plant.open_circuit = True
    faulted = rig.run_until_state(S.FAULT, 1.0)
    rig.plant.open_circuit = False
    rig.tick()
    rig.tick([Acknowledge("contact_lost")])
    assert only_refusal(rig.tick([Resume("B")])) == "resume_wrong_session"
    resumed = rig.tick([Resume("A")])
    assert "resumed" in [e.code for e in resumed.events]
    assert resumed.snapshot.dose_ma_min == pytest.approx(faulted.snapshot.dose_ma_min)
