"""Issue 12 item 3: a malformed command is refused with ``invalid_command`` before the cycle
acts on it; it never latches ``internal_error`` and never changes a running session's output.

On main, ``AdjustCurrent(1e308)``, a dict in place of a program or an object that is no command
raised inside the cycle and cut the treatment as an internal error.
"""

from __future__ import annotations

import copy
import math

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from kiosk.control.codes import Reason
from kiosk.control.commands import (
    Acknowledge,
    AdjustCurrent,
    EndSession,
    Heartbeat,
    Pause,
    Polarity,
    ProgramRequest,
    Resume,
    StartTreatment,
    Stop,
    StopReason,
)
from kiosk.control.snapshot import TreatmentState as S
from kiosk.control.validation import validate_command
from tests.consent_version import CONSENT
from tests.control.core_rig import Rig
from tests.control.junk import BAD_NUMBERS, BAD_TEXT, junk_strategy

PROGRAM = ProgramRequest("face", "pigmentation", current_ma=0.6, current_stage_s=600)
WELL_FORMED = [
    StartTreatment(PROGRAM, "s1", True, consent_version=CONSENT),
    StartTreatment(ProgramRequest("face", "ageing"), "x", False, consent_version=CONSENT),
    StartTreatment(ProgramRequest("neck", "ageing", "pad_15", 0.5, 300.0, True, True,
                                  Polarity.POSITIVE, False), "s1", True, consent_version=CONSENT),
    Pause(), Resume("s1"), EndSession("s1"), Stop(), Stop(StopReason.SHUTDOWN),
    AdjustCurrent(0.05), AdjustCurrent(-0.1), AdjustCurrent(0), AdjustCurrent(2.0),
    Acknowledge("contact_lost"), Heartbeat(),
    # well-formed but not allowed: the limits refuse these with their own codes
    StartTreatment(ProgramRequest("face", "pigmentation", current_ma=15.0), "s1", True,
                   consent_version=CONSENT),
    AdjustCurrent(0.03),
]


@pytest.mark.requirement("SR-051")
@pytest.mark.parametrize("command", WELL_FORMED, ids=repr)
def test_a_well_formed_command_passes_unchanged(command: object) -> None:
    assert validate_command(command) is command


def refused(obj: object) -> Reason:
    result = validate_command(obj)
    assert isinstance(result, Reason), f"{obj!r} passed"
    assert result.code == "invalid_command"
    return result


@pytest.mark.requirement("SR-051")
@pytest.mark.parametrize("value", BAD_NUMBERS, ids=repr)
def test_adjust_current_refuses_every_non_finite_huge_or_non_numeric_value(value: object) -> None:
    reason = refused(AdjustCurrent(value))  # type: ignore[arg-type]
    assert reason.detail("command") == "AdjustCurrent"
    assert reason.detail("field") == "delta_ma"


@pytest.mark.requirement("SR-051")
def test_the_adjustment_bound_is_the_firmware_range_on_both_sides() -> None:
    assert validate_command(AdjustCurrent(2.0)) == AdjustCurrent(2.0)
    assert validate_command(AdjustCurrent(-2.0)) == AdjustCurrent(-2.0)
    refused(AdjustCurrent(2.0000001))
    refused(AdjustCurrent(-2.0000001))


@pytest.mark.requirement("SR-051")
@pytest.mark.parametrize("obj", [None, 0, 1.5, "StartTreatment", b"\x00", {"kind": "Stop"},
                                 [Stop()], PROGRAM, Polarity.NEGATIVE, object(), Stop,
                                 math.nan], ids=repr)
def test_an_object_that_is_no_command_is_refused(obj: object) -> None:
    assert refused(obj).detail("problem") == "is not a command"


@pytest.mark.requirement("SR-051")
def test_a_subclass_of_a_command_is_refused() -> None:
    class Sneaky(Heartbeat):
        __slots__ = ()

    refused(Sneaky())


@pytest.mark.requirement("SR-051")
@pytest.mark.parametrize("program", [
    {"area": "face", "indication": "pigmentation"}, "face", None, ("face", "pigmentation"),
    ProgramRequest("face", "pigmentation", current_ma=math.nan),
    ProgramRequest("face", "pigmentation", current_ma=math.inf),
    ProgramRequest("face", "pigmentation", current_ma="0.6"),  # type: ignore[arg-type]
    ProgramRequest("face", "pigmentation", current_stage_s=-math.inf),
    ProgramRequest("face", "pigmentation", current_stage_s=1e308),
    ProgramRequest(1, "pigmentation"),  # type: ignore[arg-type]
    ProgramRequest("face", "pigmentation", polarity="positive"),  # type: ignore[arg-type]
    ProgramRequest("face", "pigmentation", caution_acknowledged=1),  # type: ignore[arg-type]
    ProgramRequest("face", "pigmentation", electrode_id=3),  # type: ignore[arg-type]
], ids=repr)
def test_a_malformed_program_is_refused(program: object) -> None:
    refused(StartTreatment(program, "s1", True, consent_version=CONSENT))  # type: ignore[arg-type]


@pytest.mark.requirement("SR-051")
@pytest.mark.parametrize("text", BAD_TEXT, ids=repr)
def test_identifiers_must_be_short_printable_text(text: object) -> None:
    for make in (Resume, EndSession, Acknowledge,
                 lambda t: StartTreatment(PROGRAM, t, True, consent_version=CONSENT)):
        refused(make(text))


@pytest.mark.requirement("SR-051")
def test_flags_and_stop_reasons_must_be_their_own_types() -> None:
    refused(StartTreatment(PROGRAM, "s1", "yes", consent_version=CONSENT))  # type: ignore[arg-type]
    refused(StartTreatment(PROGRAM, "s1", 1, consent_version=CONSENT))  # type: ignore[arg-type]
    refused(Stop("operator"))  # type: ignore[arg-type]


@pytest.mark.requirement("SR-051")
def test_an_object_whose_fields_cannot_be_read_is_refused() -> None:
    broken = object.__new__(AdjustCurrent)  # no __init__: the slot was never set
    assert refused(broken).detail("problem") == "is missing"


# --- the core itself refuses, whoever calls it -------------------------------------------------

def running_rig() -> Rig:
    rig = Rig.ready()
    rig.plant_substeps = 2
    rig.tick([StartTreatment(PROGRAM, "s1", True, consent_version=CONSENT)])
    rig.run_until_state(S.HOLD, 60.0)
    return rig


@pytest.mark.requirement("SR-051")
@pytest.mark.parametrize("junk", [AdjustCurrent(1e308), AdjustCurrent(math.nan),
                                  AdjustCurrent(math.inf), AdjustCurrent("0.05"),  # type: ignore[arg-type]
                                  object(), {"delta_ma": 0.05},
                                  StartTreatment({"area": "face"}, "s1", True,
                                                 consent_version=CONSENT)],  # type: ignore[arg-type]
                         ids=repr)
def test_the_issue_examples_no_longer_cut_the_treatment(junk: object) -> None:
    rig = running_rig()
    result = rig.tick([junk, Heartbeat()])  # type: ignore[list-item]
    codes = [e.code for e in result.events]
    assert codes == ["invalid_command"]
    assert rig.core.fault is None and rig.core.state is S.HOLD
    assert result.actuation.output_relay_closed
    rig.run(1.0)
    assert rig.core.fault is None


@pytest.mark.requirement("SR-051")
def test_junk_is_no_heartbeat() -> None:
    """A screen that sends only junk is as silent as a frozen one: the current is cut."""
    rig = running_rig()
    rig.auto_heartbeat = False
    for _ in range(300):
        rig.tick([AdjustCurrent(math.nan)])
        if rig.core.fault is not None:
            break
    assert rig.core.fault is not None and rig.core.fault.code == "ui_heartbeat_lost"


_RUNNING: list[Rig] = []


def lockstep(junk: list[tuple[int, object]], cycles: int) -> None:
    """Two identical rigs; one also gets ``junk`` at the given cycles. Every cycle's outputs
    and the published state must be identical, and only the junk rig sees refusals."""
    if not _RUNNING:
        _RUNNING.append(running_rig())  # ramped up once; each example runs on copies
    clean, dirty = copy.deepcopy(_RUNNING[0]), copy.deepcopy(_RUNNING[0])
    at = dict(junk)
    for n in range(cycles):
        extra = [at[n]] if n in at else []
        a = clean.tick([Heartbeat()])
        b = dirty.tick([*extra, Heartbeat()])  # type: ignore[list-item]
        assert a.actuation == b.actuation, (n, extra)
        sa, sb = a.snapshot, b.snapshot
        assert (sa.state, sa.setpoint_ma, sa.target_ma, sa.dose_ma_min, sa.session_id) == \
            (sb.state, sb.setpoint_ma, sb.target_ma, sb.dose_ma_min, sb.session_id)
        assert "internal_error" not in [e.code for e in b.events]
        if extra:
            assert [e.code for e in b.events] == ["invalid_command"]


@pytest.mark.requirement("SR-051")
@settings(max_examples=40, deadline=None, derandomize=True,
          phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow])
@given(junk=st.lists(st.tuples(st.integers(0, 199), junk_strategy()), max_size=12))
def test_random_junk_never_changes_a_running_sessions_output(
        junk: list[tuple[int, object]]) -> None:
    lockstep(junk, 200)


@pytest.mark.requirement("SR-051")
def test_junk_submitted_to_the_loop_on_the_board_leaves_the_plateau_running() -> None:
    """The issue's examples through ``submit()`` of the real loop on the simulated board."""
    from kiosk.control.service import build_controller
    from kiosk.control.watchdog import SystemdWatchdog
    from kiosk.hal.sim.clock import VirtualClock

    built = build_controller(sim=True, clock=VirtualClock(), seed=4,
                             notifier=SystemdWatchdog(env={}))
    try:
        built.submit(StartTreatment(PROGRAM, "s1", True, consent_version=CONSENT))
        while built.snapshot.state is not S.HOLD:
            built.submit(Heartbeat())
            built.run_for(0.1)
            assert built.clock.now_s() < 60.0
        for junk in (AdjustCurrent(1e308), AdjustCurrent(math.nan), object(),
                     StartTreatment({"area": "face"}, "s1", True,
                                    consent_version=CONSENT),  # type: ignore[arg-type]
                     {"kind": "Stop"}, "Stop", None):
            built.submit(junk)  # type: ignore[arg-type]  # junk on purpose
            built.submit(Heartbeat())
            built.run_for(0.05)
            snapshot = built.snapshot
            assert snapshot.fault is None and snapshot.state is S.HOLD, snapshot.fault
            assert snapshot.last_refusal is not None
            assert snapshot.last_refusal.code == "invalid_command"
        built.submit(Heartbeat())
        built.run_for(1.0)
        assert built.snapshot.state is S.HOLD
        assert built.snapshot.measured_ma == pytest.approx(0.6, abs=0.03)
    finally:
        built.close()
