"""One outcome per test from its setup, call and teardown reports.

Why its own rule: only a test that really passed proves a requirement. A skip (no display, no
hardware), an expected failure, or a passing call followed by a failing teardown proves nothing,
and the matrix must say which of these happened rather than "not failed".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"  # the test body failed
    ERROR = "error"  # setup or teardown failed
    SKIPPED = "skipped"
    XFAILED = "xfailed"
    XPASSED = "xpassed"  # non-strict xfail that passed: not a proof either
    NOT_RUN = "not run"  # selected but never executed (stopped early, collect-only)

    @property
    def proves(self) -> bool:
        return self is Outcome.PASSED

    @property
    def refutes(self) -> bool:
        return self in (Outcome.FAILED, Outcome.ERROR)


@dataclass(frozen=True, slots=True)
class PhaseResult:
    """What pytest reported for one phase: ``when`` is setup, call or teardown."""

    when: str
    outcome: str  # pytest's report.outcome: passed, failed or skipped
    xfail: bool = False  # the report carries ``wasxfail``


def combine_phases(phases: Sequence[PhaseResult]) -> Outcome:
    """The test's single outcome; a failure in any phase wins over everything else."""
    by_when = {phase.when: phase for phase in phases}
    call = by_when.get("call")
    if call is not None and call.outcome == "failed":
        return Outcome.FAILED
    if any(p.outcome == "failed" for p in phases):
        return Outcome.ERROR
    if call is not None and call.xfail:
        return Outcome.XPASSED if call.outcome == "passed" else Outcome.XFAILED
    setup = by_when.get("setup")
    if setup is not None and setup.outcome == "skipped":
        return Outcome.XFAILED if setup.xfail else Outcome.SKIPPED
    if call is None:
        return Outcome.NOT_RUN
    if call.outcome == "skipped":
        return Outcome.SKIPPED
    return Outcome.PASSED
