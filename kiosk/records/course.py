"""A client's course, read from the session records (issue 11 item 5, domain.md 2).

A course is the run of sessions of one program (area + indication) with current: "session 3 of
4-6, 15 days since the last one". The plan (how many sessions, how many days apart) is the
catalogue's (``CoursePlan``), handed in as plain numbers: the records know no catalogue. It is
guidance, never enforced (domain.md 2): a session sooner than the plan's interval is warned
about, the current is not refused (the day's dose budget, SR-053, is what limits a day).

What counts: sessions in which current flowed (a recorded dose above zero, interrupted sessions
with their durable dose included); a screening block or a session without a current stage is
not a course session. A gap longer than ``COURSE_BREAK_FACTOR`` x the interval ends a course:
the next session starts a new one (company choice, C: a client back after months is at the
start of a course, not at "session 9 of 4-6").
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kiosk.records.sessions import SessionRecord

COURSE_BREAK_FACTOR = 3
"""A gap longer than three intervals (six weeks for a two-weekly disincrustation) ends a course."""


@dataclass(frozen=True, slots=True)
class Plan:
    sessions_min: int
    sessions_max: int
    interval_days: int


@dataclass(frozen=True, slots=True)
class Course:
    """One program's course as the client history shows it."""

    program_id: str
    area: str
    indication: str
    sessions: tuple[SessionRecord, ...]  # this course's sessions with current, newest first
    next_number: int  # the number the next session of this program would have
    days_since_last: int  # calendar days from the last session's day to today
    plan: Plan | None

    @property
    def too_soon(self) -> bool:
        """The next session today would come sooner than the plan's interval."""
        return self.plan is not None and self.days_since_last < self.plan.interval_days

    @property
    def past_plan(self) -> bool:
        """The plan's sessions are all done (the next one would be above its maximum)."""
        return self.plan is not None and self.next_number > self.plan.sessions_max


def dose_of(record: SessionRecord) -> float:
    """The session's delivered dose (interrupted: the last durable figure); 0 when unknown."""
    summary = record.summary
    return 0.0 if summary is None or summary.dose_ma_min is None else summary.dose_ma_min


def had_current(record: SessionRecord) -> bool:
    return record.program is not None and dose_of(record) > 0.0


def local_day(wall_s: float) -> datetime.date:
    return datetime.datetime.fromtimestamp(wall_s).date()


def courses(records: Sequence[SessionRecord], plans: Mapping[str, Plan],
            today: datetime.date) -> list[Course]:
    """One course per program the client had current with, the most recent program first.

    ``records``: the client's sessions in any order; ``plans``: program id -> its plan (a
    program without one still shows its sessions and days, never a warning)."""
    treated = sorted((r for r in records if had_current(r)),
                     key=lambda r: r.started_wall_s, reverse=True)
    by_program: dict[str, list[SessionRecord]] = {}
    for record in treated:
        assert record.program is not None
        by_program.setdefault(record.program.program_id, []).append(record)
    found: list[Course] = []
    for program_id, sessions in by_program.items():
        plan = plans.get(program_id)
        current = _current_run(sessions, plan)
        last = current[0]
        assert last.program is not None
        days = (today - local_day(last.started_wall_s)).days
        # a gap past the break since the last session: the next one starts a new course
        number = 1 if days > _break_days(plan) else len(current) + 1
        found.append(Course(program_id=program_id, area=last.program.area,
                            indication=last.program.indication, sessions=tuple(current),
                            next_number=number, days_since_last=days, plan=plan))
    return found


def _break_days(plan: Plan | None) -> float:
    return float("inf") if plan is None else COURSE_BREAK_FACTOR * plan.interval_days


def _current_run(sessions: list[SessionRecord], plan: Plan | None) -> list[SessionRecord]:
    """The newest sessions (newest first) without a gap longer than the break between them."""
    run = [sessions[0]]
    for newer, older in itertools.pairwise(sessions):
        gap = (local_day(newer.started_wall_s) - local_day(older.started_wall_s)).days
        if gap > _break_days(plan):
            break
        run.append(older)
    return run
