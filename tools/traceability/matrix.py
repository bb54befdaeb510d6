"""The trace matrix: requirement -> tests -> outcome and figures, hazard -> requirements.

Pure: it takes the safety file, what the run collected and how each test ended, and returns the
statuses and the problems. The plugin decides when to write it and when a problem fails the run.

Statuses of a requirement (worst first):
- ``failed``: a selected test tagged with it failed or errored;
- ``unproven``: selected tests are tagged with it but none passed (skipped, xfail, not run);
- ``untested``: the whole suite was collected and no test names it;
- ``collected``: tagged tests were collected but not executed (``--collect-only``);
- ``not selected``: tagged tests exist but ``-k`` / ``-m`` / ``--deselect`` left them out;
- ``outside run``: only part of the suite was collected and none of it names the requirement;
- ``proven``: at least one selected tagged test passed and none failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from tools.traceability.figures import Figure
from tools.traceability.outcomes import Outcome
from tools.traceability.safety_file import Hazard, Requirement, SafetyFile


class Status(StrEnum):
    FAILED = "failed"
    UNPROVEN = "unproven"
    UNTESTED = "untested"
    COLLECTED = "collected"
    NOT_SELECTED = "not selected"
    OUTSIDE_RUN = "outside run"
    PROVEN = "proven"


_WORST_FIRST = list(Status)


class ProblemKind(StrEnum):
    UNKNOWN_ID = "unknown_id"  # a tag names an ID the safety file does not have
    MALFORMED_TAG = "malformed_tag"  # @requirement() without IDs, or not strings
    UNTESTED = "untested"
    FAILED = "failed"
    UNPROVEN = "unproven"


# Tag mistakes fail every run, enforced or not: they are typos, never "work in progress", and a
# test tagged with a wrong ID silently proves the wrong thing.
ALWAYS_BLOCKING = frozenset({ProblemKind.UNKNOWN_ID, ProblemKind.MALFORMED_TAG})


@dataclass(frozen=True, slots=True)
class TestRecord:
    """One collected test: its tags, whether it was selected, how it ended, what it measured."""

    __test__ = False  # not a pytest test class despite its name

    nodeid: str
    requirement_ids: tuple[str, ...]
    selected: bool
    outcome: Outcome
    figures: tuple[Figure, ...] = ()


@dataclass(frozen=True, slots=True)
class TagProblem:
    nodeid: str
    kind: ProblemKind
    message: str


@dataclass(frozen=True, slots=True)
class RunScope:
    collection_complete: bool  # every test file of the suite was collected
    tests_executed: bool  # False for --collect-only


@dataclass(frozen=True, slots=True)
class Problem:
    kind: ProblemKind
    subject: str  # a requirement id or a test node id
    message: str

    @property
    def always_blocking(self) -> bool:
        return self.kind in ALWAYS_BLOCKING


@dataclass(frozen=True, slots=True)
class RequirementRow:
    requirement: Requirement
    status: Status
    tests: tuple[TestRecord, ...]  # selected tests tagged with it
    deselected_count: int


@dataclass(frozen=True, slots=True)
class HazardRow:
    hazard: Hazard
    requirement_ids: tuple[str, ...]
    status: Status  # proven only when all its requirements are proven


@dataclass(frozen=True, slots=True)
class Matrix:
    rows: tuple[RequirementRow, ...]
    hazard_rows: tuple[HazardRow, ...]
    problems: tuple[Problem, ...]
    scope: RunScope

    def blocking_problems(self, *, enforce: bool) -> tuple[Problem, ...]:
        """Problems that fail the run: tag mistakes always, the rest only when enforcing."""
        return tuple(p for p in self.problems if enforce or p.always_blocking)

    def count(self, status: Status) -> int:
        return sum(1 for row in self.rows if row.status is status)

    def summary_text(self) -> str:
        """E.g. "3 failed, 40 proven of 43 requirements"."""
        counts = ", ".join(f"{self.count(s)} {s}" for s in Status if self.count(s))
        return f"{counts} of {len(self.rows)} requirements"


def build_matrix(safety: SafetyFile, tests: Sequence[TestRecord],
                 tag_problems: Iterable[TagProblem], scope: RunScope) -> Matrix:
    problems = [Problem(t.kind, t.nodeid, t.message) for t in tag_problems]
    rows: list[RequirementRow] = []
    for requirement in safety.requirements:
        tagged = [t for t in tests if requirement.id in t.requirement_ids]
        selected = tuple(t for t in tagged if t.selected)
        status = _status(selected, deselected=len(tagged) - len(selected), scope=scope)
        rows.append(RequirementRow(requirement, status, selected, len(tagged) - len(selected)))
        problem = _problem_for(requirement.id, status, selected)
        if problem is not None:
            problems.append(problem)
    status_by_id = {row.requirement.id: row.status for row in rows}
    hazard_rows = tuple(
        HazardRow(hazard, ids, _hazard_status([status_by_id[i] for i in ids]))
        for hazard in safety.hazards
        for ids in [safety.requirements_for_hazard(hazard.id)]
    )
    return Matrix(tuple(rows), hazard_rows, tuple(problems), scope)


def _status(selected: Sequence[TestRecord], *, deselected: int, scope: RunScope) -> Status:
    if not selected:
        if deselected:
            return Status.NOT_SELECTED
        return Status.UNTESTED if scope.collection_complete else Status.OUTSIDE_RUN
    if not scope.tests_executed:
        return Status.COLLECTED
    if any(t.outcome.refutes for t in selected):
        return Status.FAILED
    if any(t.outcome.proves for t in selected):
        return Status.PROVEN
    return Status.UNPROVEN


def _problem_for(requirement_id: str, status: Status,
                 selected: Sequence[TestRecord]) -> Problem | None:
    if status is Status.UNTESTED:
        return Problem(ProblemKind.UNTESTED, requirement_id,
                       f"{requirement_id} has no test: tag one with "
                       f'@pytest.mark.requirement("{requirement_id}")')
    if status is Status.FAILED:
        failing = ", ".join(t.nodeid for t in selected if t.outcome.refutes)
        return Problem(ProblemKind.FAILED, requirement_id,
                       f"{requirement_id} is not met: failing test(s) {failing}")
    if status is Status.UNPROVEN:
        outcomes = ", ".join(f"{t.nodeid} ({t.outcome})" for t in selected)
        return Problem(ProblemKind.UNPROVEN, requirement_id,
                       f"{requirement_id} has no passing test in this run: {outcomes}")
    return None


def _hazard_status(statuses: Sequence[Status]) -> Status:
    if all(s is Status.PROVEN for s in statuses):
        return Status.PROVEN
    return min((s for s in statuses if s is not Status.PROVEN), key=_WORST_FIRST.index)
