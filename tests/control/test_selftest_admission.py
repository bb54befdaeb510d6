"""The admission rule on its own (pure): every state, with and without a session, a fault, a
run on; the read-only steps are exactly those that switch nothing on."""

from __future__ import annotations

import pytest

from kiosk.control.commands import ProgramDacEeprom, RunSelfTest
from kiosk.control.selftest.admission import READ_ONLY_STEPS, STEP_NAMES, admit
from kiosk.control.selftest.io import StepIO
from kiosk.control.selftest.steps import make_step
from kiosk.control.snapshot import TreatmentState as S

pytestmark = pytest.mark.requirement("SR-160")


def code(command: RunSelfTest | ProgramDacEeprom, *, state: S = S.IDLE,
         session_open: bool = False, fault_code: str | None = None,
         running: bool = False) -> str | None:
    reason = admit(command, state=state, session_open=session_open, fault_code=fault_code,
                   running=running)
    return None if reason is None else reason.code


@pytest.mark.parametrize("state", list(S))
def test_only_idle_without_a_session_admits_a_run(state: S) -> None:
    expected = None if state is S.IDLE else "selftest_not_idle"
    if state is S.FAULT:
        expected = "selftest_fault_limits"  # idle in all but the latched fault
    assert code(RunSelfTest(), state=state,
                fault_code="estop" if state is S.FAULT else None) == expected
    assert code(RunSelfTest(), state=state, session_open=True) == "selftest_not_idle"


@pytest.mark.parametrize("step", STEP_NAMES)
def test_a_latched_fault_admits_exactly_the_read_only_steps(step: str) -> None:
    got = code(RunSelfTest(step), state=S.FAULT, fault_code="selftest_failed")
    assert got == (None if step in READ_ONLY_STEPS else "selftest_fault_limits")
    assert code(ProgramDacEeprom(), state=S.FAULT, fault_code="selftest_failed") is None


def test_a_running_test_and_an_unknown_name_are_refused_first() -> None:
    assert code(RunSelfTest("chips"), running=True) == "selftest_running"
    assert code(ProgramDacEeprom(), running=True) == "selftest_running"
    assert code(RunSelfTest("Chips")) == "selftest_unknown_step"  # names are exact
    assert code(RunSelfTest("teleport"), running=True, session_open=True) == \
        "selftest_unknown_step"


def test_the_read_only_steps_really_need_no_output() -> None:
    for name in STEP_NAMES:
        step_class = type(make_step(name, _io_with_config()))
        assert step_class.needs_output == (name not in READ_ONLY_STEPS), name


def _io_with_config() -> StepIO:
    from kiosk.hal.config import load_board_config

    class _Board:
        config = load_board_config()

    return StepIO(_Board(), lambda: None, lambda: False)  # type: ignore[arg-type]
