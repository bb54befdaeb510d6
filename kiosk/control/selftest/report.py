"""What the self-test found, as immutable values the control thread publishes by reference swap.

A step's result carries its figure (the one number that shows how it went, with its unit), a
stable ``cause`` code when it failed (the screen translates by it; the event log keys on it) and
the secondary values in ``details``. The report holds the latest result of every step, the step
running now and the operator prompt it waits on.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

DetailValue = str | float | int | bool


class StepStatus(StrEnum):
    NOT_RUN = "not_run"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"  # not run because an earlier step showed it could not be done safely
    ABORTED = "aborted"  # STOP, E-stop or a fault ended it before it could judge


class Prompt(StrEnum):
    """What the technician must do now for the running step (the screen translates it)."""

    PRESS_ESTOP = "press_estop"
    RELEASE_ESTOP = "release_estop"


@dataclass(frozen=True, slots=True)
class StepResult:
    step: str
    status: StepStatus
    figure: float | None = None
    unit: str = ""
    cause: str = ""  # stable code of what failed ("" when passed)
    details: tuple[tuple[str, DetailValue], ...] = ()
    finished_s: float | None = None  # board clock

    @property
    def passed(self) -> bool:
        return self.status is StepStatus.PASSED

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "status": str(self.status), "figure": self.figure,
                "unit": self.unit, "cause": self.cause, "details": dict(self.details),
                "finished_s": self.finished_s}


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One run (all steps, or one): when, what, how it ended."""

    steps: tuple[str, ...]
    started_s: float
    finished_s: float | None = None
    passed: bool | None = None  # None while running
    aborted: str = ""  # why it was cut short ("stop", "estop", a fault code)
    finished_wall_s: float | None = None  # Unix time, for the device record's "last self-test"

    def to_dict(self) -> dict[str, Any]:
        return {"steps": list(self.steps), "started_s": self.started_s,
                "finished_s": self.finished_s, "passed": self.passed, "aborted": self.aborted,
                "finished_wall_s": self.finished_wall_s}


@dataclass(frozen=True, slots=True)
class SelfTestReport:
    steps: tuple[StepResult, ...]
    running: str | None = None
    prompt: Prompt | None = None
    last_run: RunSummary | None = None

    def result(self, step: str) -> StepResult:
        for result in self.steps:
            if result.step == step:
                return result
        raise KeyError(step)

    def to_dict(self) -> dict[str, Any]:
        return {"steps": [r.to_dict() for r in self.steps], "running": self.running,
                "prompt": str(self.prompt) if self.prompt is not None else None,
                "last_run": self.last_run.to_dict() if self.last_run is not None else None}
