"""The treatment the beautician is walking through: pure state, free of Kivy, I/O and the clock.

Screens are rebuilt on every visit; what must survive a visit (answers, the chosen program, the
stage timers, what happened during the current stage) lives here. Time is passed in (the control
snapshot's clock), so the stage timers run on the virtual clock in tests and keep running when a
screen is left and opened again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import IntEnum

from kiosk.control.commands import Polarity, ProgramRequest, StartTreatment
from kiosk.control.domain_limits import (
    ADJUST_STEP_MA,
    CHARGE_DENSITY_CAP_MA_MIN_PER_CM2,
    DEVICE_DOSE_CAP_MA_MIN,
    MIN_STAGE_TIME_S,
    MIN_TARGET_MA,
)
from kiosk.control.snapshot import Snapshot, TreatmentState

CURRENT_STEP_MA = ADJUST_STEP_MA  # the control layer's AdjustCurrent step
TIME_STEP_S = 60.0
MIN_CURRENT_MA = MIN_TARGET_MA
MIN_STAGE_S = MIN_STAGE_TIME_S


class Step(IntEnum):
    """Where a screen sits in the flow ("Step 3 of 8" in the title bar)."""

    CLIENT = 1
    SCREENING = 2
    PROGRAM = 3
    PEEL = 4
    ACTIVE = 5
    CURRENT = 6
    TONIC = 7
    SUMMARY = 8


STEP_COUNT = len(Step)

SENSATIONS = ("none", "tingling", "warm", "burning")

CURRENT_ONLY_ITEMS = frozenset({"implanted_device", "metal_implant", "epilepsy",
                                "heart_condition", "ent_condition", "endocrine_disorder"})
"""Screening items whose risk is the current alone (company choice, C: to be confirmed by the
biomedical engineer). After a "yes" on these only, the session may go on without current: the
peel, the product and the tonic, recorded as such (issue 11 item 3). Not on the list, so a "yes"
still ends the session: the skin of the area (lesions, chronic disease, damage, inflammation,
reduced sensation: a peel and a product go on that skin too), an allergy to the product, a client
who cannot report what they feel, fever or acute illness, pregnancy and lactation (kept out until
confirmed), and any item added to the catalogue later."""

NO_CURRENT_OUTCOME = "screening_blocked_without_current"
"""The record's stop reason of a session done without current after a screening "yes"."""


@dataclass
class StageTimer:
    """A countdown for a stage without current (peel, tonic) on the control clock."""

    duration_s: float
    started_at_s: float | None = None
    chirped: bool = False  # the buzzer's one information beep at the end was asked for

    def start(self, now_s: float) -> None:
        if self.started_at_s is None:
            self.started_at_s = now_s

    def elapsed_s(self, now_s: float) -> float:
        return 0.0 if self.started_at_s is None else max(0.0, now_s - self.started_at_s)

    def remaining_s(self, now_s: float) -> float:
        return max(0.0, self.duration_s - self.elapsed_s(now_s))

    def running(self, now_s: float) -> bool:
        return self.started_at_s is not None and self.remaining_s(now_s) > 0

    def finished(self, now_s: float) -> bool:
        return self.started_at_s is not None and self.remaining_s(now_s) <= 0


@dataclass(frozen=True)
class SessionEvent:
    time_s: float
    code: str  # stable: "stop_operator", "client_discomfort", "fault:contact_lost", ...
    detail: str = ""


@dataclass
class CurrentStats:
    """What the summary reports about the current stage, from the snapshots the UI saw."""

    peak_ma: float = 0.0
    charge_ma_s: float = 0.0  # time-integral of the measured current while it flowed
    flowing_s: float = 0.0
    last_time_s: float | None = None
    dose_ma_min: float = 0.0
    elapsed_s: float = 0.0
    last_state: TreatmentState = TreatmentState.IDLE

    def observe(self, snapshot: Snapshot) -> None:
        if self.last_time_s is not None and snapshot.output_enabled and snapshot.state in (
                TreatmentState.RAMP_UP, TreatmentState.HOLD, TreatmentState.RAMP_DOWN):
            dt_s = max(0.0, snapshot.time_s - self.last_time_s)
            self.charge_ma_s += snapshot.measured_ma * dt_s
            self.flowing_s += dt_s
        self.last_time_s = snapshot.time_s
        self.peak_ma = max(self.peak_ma, snapshot.measured_ma)
        self.dose_ma_min = max(self.dose_ma_min, snapshot.dose_ma_min)
        self.elapsed_s = max(self.elapsed_s, snapshot.elapsed_s)
        self.last_state = snapshot.state

    @property
    def mean_ma(self) -> float:
        return self.charge_ma_s / self.flowing_s if self.flowing_s > 0 else 0.0


@dataclass
class TreatmentFlow:
    """One client's treatment from the client screen to the saved summary."""

    client_id: str | None = None
    client_label: str | None = None
    record_session: object | None = None  # the records layer's session handle
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # every screening answer given, general and about the area (the record stores these)
    screening_answers: dict[str, bool] = field(default_factory=dict)
    # which of them are about the area (asked once it is known, domain.md 5) and the area they
    # are about: None until every area item was answered for the chosen area
    area_item_ids: set[str] = field(default_factory=set)
    screened_area: str | None = None
    caution_answers: dict[str, bool] = field(default_factory=dict)
    caution_acknowledged: bool = False
    area: str | None = None
    indication: str | None = None
    electrode_id: str | None = None
    active_name: str | None = None  # the product chosen; its maker's sign sets the polarity
    polarity: Polarity | None = None  # None: the program's default
    current_ma: float | None = None  # None: the program's default
    current_stage_s: float | None = None
    # SR-053: what this client already had on this area today (the records' figure, refreshed
    # by the program summary; the start carries it to the control core)
    delivered_today_ma_min: float = 0.0
    delivered_today_charge_density_ma_min_per_cm2: float = 0.0
    # issue 11 item 6: the catalogue consent this client signed, as the records hold it (set by
    # the consent screen; the start carries it and the control core refuses any other)
    consent_version: str | None = None
    peel: StageTimer | None = None
    tonic: StageTimer | None = None
    active_confirmed: bool = False
    current_started: bool = False
    # the optional second phase of the program (disincrustation: acidic toner, active electrode
    # positive; domain.md 2), chosen after the main phase; the same control session continues
    second_phase: bool = False
    phase_started: bool = False  # the present phase's current was started
    # after a screening "yes" on CURRENT_ONLY_ITEMS only: peel, product and tonic, no current
    without_current: bool = False
    sensation: str | None = None
    stats: CurrentStats = field(default_factory=CurrentStats)
    events: list[SessionEvent] = field(default_factory=list)
    saved: bool = False
    save_failed: bool = False  # a save was tried and the store refused it

    # -- screening -----------------------------------------------------------------------------
    def answer(self, item_id: str, yes: bool, *, about_area: bool = False) -> None:
        self.screening_answers[item_id] = yes
        if about_area:
            self.area_item_ids.add(item_id)

    def area_screened(self, area: str) -> None:
        """Every item "in the area" was answered for ``area`` (or the catalogue has none)."""
        self.screened_area = area

    def forget_area_answers(self) -> list[str]:
        """Another area was chosen: the answers about the old one say nothing about the new one
        (they are asked again). Returns the items that had been answered "yes"."""
        forgotten = sorted(i for i in self.area_item_ids if self.screening_answers.get(i))
        for item_id in self.area_item_ids:
            self.screening_answers.pop(item_id, None)
        self.area_item_ids.clear()
        self.screened_area = None
        return forgotten

    def unanswered(self, item_ids: list[str]) -> list[str]:
        return [item_id for item_id in item_ids if item_id not in self.screening_answers]

    def blocking_answers(self) -> list[str]:
        """Items answered "yes": any one ends the session without current (domain.md 5)."""
        return [item_id for item_id, yes in self.screening_answers.items() if yes]

    @property
    def screening_cleared(self) -> bool:
        """No "yes" anywhere, and once an area is chosen its own items were asked for it."""
        area_asked = self.area is None or self.screened_area == self.area
        return bool(self.screening_answers) and not self.blocking_answers() and area_asked

    def without_current_allowed(self) -> bool:
        """A session without current may be offered: there is a "yes", and every "yes" is
        about the current alone (CURRENT_ONLY_ITEMS)."""
        yes = self.blocking_answers()
        return bool(yes) and all(item_id in CURRENT_ONLY_ITEMS for item_id in yes)

    def screen_after_product(self) -> str:
        """Where the flow goes once the product is chosen: the program summary, or straight to
        the peel in a session without current (no program, no current)."""
        return "peel" if self.without_current else "program"

    def answer_caution(self, item_id: str, applies: bool) -> None:
        self.caution_answers[item_id] = applies
        self.caution_acknowledged = False

    @property
    def caution_applies(self) -> bool:
        return any(self.caution_answers.values())

    # -- program -------------------------------------------------------------------------------
    def choose_area(self, area: str) -> list[str]:
        """Choose the area; another one than before forgets the program chosen for the old one
        and the answers about it. Returns the forgotten "yes" answers (for the record)."""
        forgotten: list[str] = []
        if area != self.area:
            forgotten = self.forget_area_answers()
            self.area = area
            self.indication = None
            self.current_ma = None
            self.current_stage_s = None
            self.electrode_id = None
            self.active_name = None
            self.polarity = None
        return forgotten

    def choose_indication(self, indication: str) -> None:
        if indication != self.indication:
            self.indication = indication
            self.current_ma = None
            self.current_stage_s = None
            self.active_name = None
            self.polarity = None

    def choose_active(self, name: str, charge: Polarity) -> None:
        """The product decides the pole: its maker's sign is the active electrode's polarity."""
        self.active_name = name
        self.polarity = charge

    def program_request(self) -> ProgramRequest:
        if self.area is None or self.indication is None:
            raise ValueError("area and indication must be chosen before the program")
        return ProgramRequest(
            area=self.area, indication=self.indication, electrode_id=self.electrode_id,
            current_ma=self.current_ma, current_stage_s=self.current_stage_s,
            caution_acknowledged=self.caution_applies and self.caution_acknowledged,
            reduced_caps=self.caution_applies, polarity=self.polarity,
            second_phase=self.second_phase)

    def second_phase_offered(self, program_has_one: bool) -> bool:
        """Offer the optional second phase only after a main phase that ended normally (its
        time or dose ran out): not after "burning", a fault, or a stage ended early."""
        codes = [event.code for event in self.events]
        return (program_has_one and not self.second_phase and self.phase_started
                and self.stats.last_state is TreatmentState.DONE
                and "client_discomfort" not in codes
                and not any(code.startswith("fault:") for code in codes))

    def choose_second_phase(self, active_name: str, charge: Polarity) -> None:
        """The second phase: its own product and pole, its catalogue defaults, not started."""
        self.second_phase = True
        self.active_name = active_name
        self.polarity = charge
        self.current_ma = None
        self.current_stage_s = None
        self.phase_started = False

    def set_delivered_today(self, figures: tuple[float, float] | None) -> None:
        """The records' (dose, charge density) of today on this area; None (the records cannot
        say) counts the day as used up: no current rather than a second budget (SR-053)."""
        dose, density = figures if figures is not None else (
            DEVICE_DOSE_CAP_MA_MIN, CHARGE_DENSITY_CAP_MA_MIN_PER_CM2)
        self.delivered_today_ma_min = dose
        self.delivered_today_charge_density_ma_min_per_cm2 = density

    def start_command(self) -> StartTreatment:
        """The control command that starts (or restarts) this flow's current stage."""
        return StartTreatment(
            self.program_request(), self.session_id, self.screening_cleared,
            delivered_today_ma_min=self.delivered_today_ma_min,
            delivered_today_charge_density_ma_min_per_cm2=(
                self.delivered_today_charge_density_ma_min_per_cm2),
            consent_version=self.consent_version)

    def note_event(self, time_s: float, code: str, detail: str = "") -> None:
        self.events.append(SessionEvent(time_s, code, detail))

    def burning_recorded(self) -> bool:
        """The "client feels burning" button already put "burning" on the record."""
        return self.sensation == "burning" and any(
            event.code == "client_discomfort" for event in self.events)


def lowered(value: float, delta: float, *, minimum: float, cap: float) -> float:
    """``value + delta`` kept in [minimum, cap]: the beautician may lower, never raise above a cap.

    Rounded to the step grid so repeated taps do not accumulate float noise.
    """
    stepped = round(round((value + delta) / abs(delta)) * abs(delta), 6) if delta else value
    return min(max(stepped, minimum), cap)  # clamped last: rounding never lifts it over the cap
