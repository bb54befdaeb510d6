"""The control thread's published state: one immutable snapshot per cycle.

The control thread replaces the reference each cycle (an atomic swap); readers (UI at 10-20 Hz,
scenario runner, records) never block it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kiosk.control.codes import Reason
from kiosk.control.commands import Polarity


class TreatmentState(StrEnum):
    IDLE = "idle"
    CONTACT_CHECK = "contact_check"
    RAMP_UP = "ramp_up"
    HOLD = "hold"
    PAUSED = "paused"
    RAMP_DOWN = "ramp_down"
    DONE = "done"
    FAULT = "fault"


CURRENT_MAY_FLOW_STATES = frozenset({
    TreatmentState.CONTACT_CHECK, TreatmentState.RAMP_UP, TreatmentState.HOLD,
    TreatmentState.RAMP_DOWN})
"""The one definition of the treatment states in which current may flow (the contact check's
test current too): K1 may be closed only in these or by a service procedure (calibration,
self-test) while idle; a session cannot be ended in them."""


@dataclass(frozen=True, slots=True)
class FaultInfo:
    """A latched fault: what, why, and when (control clock seconds)."""

    reason: Reason
    at_s: float

    @property
    def code(self) -> str:
        return self.reason.code


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a screen or a log needs about the current stage, at one instant."""

    cycle: int
    time_s: float  # control clock
    state: TreatmentState
    session_id: str | None
    program_id: str | None  # catalogue program id, e.g. "face.pigmentation"
    polarity: Polarity | None  # of the active electrode
    target_ma: float  # what the beautician asked (within caps)
    setpoint_ma: float  # ramped set-point the regulator follows now
    measured_ma: float  # shunt reading, calibrated
    electrode_v: float  # V_OUT node
    boost_v: float
    load_kohm: float | None  # load voltage / current; None when no current flows
    contact_ok: bool
    current_cap_ma: float  # the lowest of every applicable cap
    dose_ma_min: float  # integrated from the MEASURED current
    dose_cap_ma_min: float
    elapsed_s: float  # current-stage time so far (this session)
    remaining_s: float
    output_enabled: bool  # K1 commanded closed
    compliance_warning: bool  # electrode voltage >= 24 V: ramp held
    fault: FaultInfo | None  # latched until acknowledged
    last_refusal: Reason | None  # the newest refused command, with its reason
    last_decision: Reason | None  # the newest decision (ramp held, dose cap reached, ...)
    ui_heartbeat_age_s: float
    healthy: bool  # the loop runs on time and the board passed its self-test
    # --- added by the control core (defaults keep older constructors working) ---
    electrode_id: str | None = None  # catalogue electrode the caps were computed for
    step: str = ""  # sub-step of contact check / closing: quiet, boost, polarity, output, test,
    #                 ramp, drain, relay_open ("" when none)
    stage_time_s: float = 0.0  # the chosen current-stage time (elapsed + remaining)
    second_phase: bool = False  # the program's optional second phase is running
    current_limit: str | None = None  # which cap sets current_cap_ma: firmware, area, program,
    #                                   density, electrode or caution
    contact_poor: bool = False  # load above twice its best value this stage: check electrodes
    storage_ok: bool = True  # records can be saved; False: Start / Resume are refused
    #                          (storage_fault), a running stage goes on (SR-042)
    resumable: bool = False  # Resume would bring the current back (paused, or after an
    #                          acknowledged fault of a session with time and dose left)


def treatment_may_drive(snapshot: Snapshot) -> bool:
    """A treatment is in a state that may drive current (whatever K1 is doing right now)."""
    return snapshot.state in CURRENT_MAY_FLOW_STATES


def current_may_flow(snapshot: Snapshot) -> bool:
    """K1 commanded closed (by a treatment or a service procedure), or a treatment state in
    which the loop may close it."""
    return snapshot.output_enabled or treatment_may_drive(snapshot)
