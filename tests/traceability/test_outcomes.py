"""Only a test that really passed proves a requirement."""

from __future__ import annotations

import pytest

from tools.traceability.outcomes import Outcome, PhaseResult, combine_phases


def phases(setup: str = "passed", call: str | None = "passed", teardown: str = "passed", *,
           xfail_call: bool = False, xfail_setup: bool = False) -> list[PhaseResult]:
    results = [PhaseResult("setup", setup, xfail_setup)]
    if call is not None:
        results.append(PhaseResult("call", call, xfail_call))
    results.append(PhaseResult("teardown", teardown))
    return results


@pytest.mark.parametrize(("reports", "expected"), [
    (phases(), Outcome.PASSED),
    (phases(call="failed"), Outcome.FAILED),
    (phases(setup="failed", call=None), Outcome.ERROR),
    (phases(teardown="failed"), Outcome.ERROR),  # a passing body does not hide its teardown
    (phases(setup="skipped", call=None), Outcome.SKIPPED),
    (phases(call="skipped"), Outcome.SKIPPED),
    (phases(call="skipped", xfail_call=True), Outcome.XFAILED),
    (phases(call="passed", xfail_call=True), Outcome.XPASSED),
    (phases(setup="skipped", call=None, xfail_setup=True), Outcome.XFAILED),  # xfail(run=False)
    ([], Outcome.NOT_RUN),
])
def test_phases_combine_into_one_outcome(reports: list[PhaseResult], expected: Outcome) -> None:
    assert combine_phases(reports) is expected


def test_only_passed_proves_and_only_failures_refute() -> None:
    assert [o for o in Outcome if o.proves] == [Outcome.PASSED]
    assert {o for o in Outcome if o.refutes} == {Outcome.FAILED, Outcome.ERROR}
