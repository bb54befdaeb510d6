"""One control session: what one client has received, from ``StartTreatment`` to ``EndSession``.

Why its own object: the dose and time caps count across a session (a resume or a second phase
continues them), and nothing of one session may leak into the next client's (issue 12 item 0).
The core holds at most one; a new one starts only after the old one was ended.

Progress (issue 12 item 5): the session says when a ``dose_progress`` event is due (every
:data:`PROGRESS_INTERVAL_S` of control time while current may flow, and at every state change)
and builds it; the loop logs it durably, so the dose of a session cut by a crash is known to
within that interval. The detail keys are the contract with the records (docs/architecture.md,
Control).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.control.codes import Reason
from kiosk.control.limits import ResolvedProgram
from kiosk.control.reasons import Code, make
from kiosk.control.snapshot import TreatmentState

PROGRESS_INTERVAL_S = 10.0
"""A ``dose_progress`` event at least this often while current may flow (issue 12 item 5)."""

PROGRESS_KEYS = ("session_id", "program_id", "area", "dose_ma_min", "total_dose_ma_min",
                 "charge_density_ma_min_per_cm2", "peak_ma", "elapsed_s", "state", "why")
"""The detail keys every ``dose_progress`` event carries (the records read these)."""


@dataclass(slots=True)
class Session:
    """Dose and time already delivered in one session (continued by the same session id)."""

    session_id: str
    total_dose_ma_min: float = 0.0
    area_dose_ma_min: dict[str, float] = field(default_factory=dict)
    elapsed_s: dict[str, float] = field(default_factory=dict)  # per program (phase) id
    peak_ma: float = 0.0  # highest |measured current| with the output relay closed
    last_progress_s: float | None = None
    last_progress_state: TreatmentState | None = None

    def add_dose(self, area: str, added_ma_min: float) -> None:
        self.total_dose_ma_min += added_ma_min
        self.area_dose_ma_min[area] = self.area_dose_ma_min.get(area, 0.0) + added_ma_min

    def note_current(self, current_ma: float) -> None:
        self.peak_ma = max(self.peak_ma, abs(current_ma))

    def progress_due(self, now_s: float, state: TreatmentState, flowing: bool) -> str | None:
        """``"state_change"``, ``"interval"`` or None: whether a progress event is due now."""
        if state is not self.last_progress_state:
            return "state_change"
        if flowing and (self.last_progress_s is None
                        or now_s - self.last_progress_s >= PROGRESS_INTERVAL_S - 1e-9):
            return "interval"
        return None

    def progress(self, now_s: float, state: TreatmentState, program: ResolvedProgram | None,
                 why: str) -> Reason:
        """The ``dose_progress`` event (and remember when it was made)."""
        self.last_progress_s = now_s
        self.last_progress_state = state
        area = program.area if program is not None else ""
        dose = self.area_dose_ma_min.get(area, 0.0)
        area_cm2 = program.electrode_area_cm2 if program is not None else 0.0
        return make(
            Code.DOSE_PROGRESS,
            session_id=self.session_id,
            program_id=program.program_id if program is not None else "",
            area=area,
            dose_ma_min=round(dose, 6),
            total_dose_ma_min=round(self.total_dose_ma_min, 6),
            charge_density_ma_min_per_cm2=round(dose / area_cm2, 6) if area_cm2 > 0 else 0.0,
            peak_ma=round(self.peak_ma, 4),
            elapsed_s=round(self.elapsed_s.get(program.program_id, 0.0), 3)
            if program is not None else 0.0,
            state=str(state),
            why=why,
        )
