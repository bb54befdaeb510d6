"""Commands from the UI (or the scenario runner) to the control thread.

Small frozen dataclasses put on a queue. The control thread validates each one against the limits;
a refusal comes back in the snapshot (``last_refusal``), never as an exception in the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Polarity(StrEnum):
    """Sign of the ACTIVE electrode (domain.md section 4)."""

    NEGATIVE = "negative"  # cathode
    POSITIVE = "positive"  # anode


class StopReason(StrEnum):
    """Why an operator (or the session) ends the current early."""

    OPERATOR = "operator"  # STOP button: to zero within 2 s
    CLIENT_DISCOMFORT = "client_discomfort"  # "client feels burning": to zero within 2 s
    SHUTDOWN = "shutdown"  # the application is closing


@dataclass(frozen=True, slots=True)
class ProgramRequest:
    """What the beautician chose; the control layer resolves caps from the catalogue.

    ``current_ma`` and ``current_stage_s`` may be lower than the catalogue default, never above a
    cap; ``None`` takes the catalogue default for area + indication.
    """

    area: str  # face | neck | decollete | eye_area
    indication: str  # disincrustation | pigmentation | ageing | puffiness | dry_skin
    electrode_id: str | None = None  # None: the catalogue default electrode of the area
    current_ma: float | None = None
    current_stage_s: float | None = None
    caution_acknowledged: bool = False  # caution items lower the caps to 50 % (domain.md 5)
    reduced_caps: bool = False  # True when a caution item applies
    polarity: Polarity | None = None  # None: the program's default; else one it allows (the
    #                                   sign the product's maker prints, domain.md 4)
    second_phase: bool = False  # the program's optional second phase (disincrustation: acidic
    #                             toner, active electrode positive); same session_id as phase 1


@dataclass(frozen=True, slots=True)
class StartTreatment:
    """Contact check, then a fresh ramp from zero.

    ``session_id`` ties the dose and time accounting together: the same id continues the
    session's dose and current-stage time (after an acknowledged fault); a new id starts fresh.
    ``screening_cleared`` must be True (no "yes" on the screening list), else it is refused.

    ``delivered_today_ma_min`` and ``delivered_today_charge_density_ma_min_per_cm2``: what this
    client already received on this area today in earlier sessions, from the records (SR-053,
    domain.md 6: one dose budget per client, area and day). The core subtracts them from the
    day's dose and charge-density caps; this session may deliver only what is left.

    ``consent_version``: the catalogue consent (``Catalogue.consent_version``) the client signed,
    from the records (issue 11 item 6). The core refuses a start without it
    (``consent_missing``) or with another one (``consent_stale``: the consent or a screening text
    changed since): no current without the client's consent to the text in force.
    """

    program: ProgramRequest
    session_id: str
    screening_cleared: bool
    delivered_today_ma_min: float = 0.0
    delivered_today_charge_density_ma_min_per_cm2: float = 0.0
    consent_version: str | None = None


@dataclass(frozen=True, slots=True)
class Pause:
    """Ramp the current down to zero at the normal rate, open the output, keep the session open.

    The state goes ramp_down -> paused; :class:`Resume` brings the current back.
    """


@dataclass(frozen=True, slots=True)
class Resume:
    """From paused (or idle after an acknowledged fault of an open session): a new contact check
    and a fresh ramp from zero back to the target.

    ``session_id`` names the session to resume: refused (``resume_wrong_session``) unless it is
    the open one, so a screen can never bring back another client's current.
    """

    session_id: str


@dataclass(frozen=True, slots=True)
class EndSession:
    """Close the control session ``session_id``: program, polarity, caps, target and dose are
    forgotten and the state goes to idle. Refused (``session_current_flowing``) while current
    may flow (contact check, ramp up, hold, ramp down): Stop first. Allowed with a fault latched
    (the fault stays latched until acknowledged; only the way back to that session closes)."""

    session_id: str


@dataclass(frozen=True, slots=True)
class Stop:
    """End the current: to zero within 2 s, then the relay opens.

    During a current stage the session is then ``paused`` (domain.md 6: the beautician may resume
    or finish); a Stop while paused finishes the stage (``done``). ``SHUTDOWN`` always finishes.
    A Stop during the contact check aborts it.
    """

    reason: StopReason = StopReason.OPERATOR


@dataclass(frozen=True, slots=True)
class AdjustCurrent:
    """Change the target by ``delta_ma`` (a multiple of 0.05 mA), slewed at the ramp limit.

    A rise past the cap stops at the cap; a rise already at the cap, or a fall below 0.05 mA, is
    refused with the reason.
    """

    delta_ma: float


@dataclass(frozen=True, slots=True)
class Acknowledge:
    """A person acknowledges the latched fault ``fault_code``; the state goes to idle."""

    fault_code: str


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The UI is alive. While current flows, a missing heartbeat is a fault (UI froze)."""


@dataclass(frozen=True, slots=True)
class Chirp:
    """An information signal (IEC 60601-1-8 information priority): one short beep of the buzzer,
    e.g. a stage timer ran out. It changes no state; a latched fault's alarm sounds regardless."""


@dataclass(frozen=True, slots=True)
class RunSelfTest:
    """The technician's self-test (issue 13): ``step`` names one step (``chips``,
    ``dac_eeprom``, ``adc_noise``, ``boost``, ``dac_linearity``, ``relays``, ``monostable``,
    ``hw_trip``, ``estop``), None runs them all. Runs on the control thread; refused with a
    stable code unless the device is idle with no session open (with a fault latched only
    the steps that switch nothing on). STOP ends it; the results: the ``selftest_report``
    query and one event per step."""

    step: str | None = None


@dataclass(frozen=True, slots=True)
class ProgramDacEeprom:
    """Store PD = 01 / code 0 in the DAC's power-up EEPROM (hardware.md 3, the production
    step) and read it back; admitted like the read-only self-test steps."""


ServiceCommand = RunSelfTest | ProgramDacEeprom


@dataclass(frozen=True, slots=True)
class CalibrationDrive:
    """Service (technician): drive calibration point ``point`` (1: 0.5 mA, 2: 1.5 mA) open loop
    into the reference resistor and measure it (``kiosk.control.calibration_run``). Refused
    (``service_not_now``) unless idle with no session and no fault; the first point of a run
    checks first, with the contact-check test current, that the load is the reference
    resistor."""

    point: int


@dataclass(frozen=True, slots=True)
class CalibrationEnd:
    """Service: end the calibration current (DAC 0, drained, output open). Idempotent."""


@dataclass(frozen=True, slots=True)
class SaveCalibration:
    """Service: the meter's figures for both measured points, typed by ``technician``. The
    core fits gain and offset, refuses an implausible result (``calibration_refused``), and the
    shell stores and applies it from the next cycle (``calibration_saved``)."""

    technician: str
    point1_current_ma: float
    point1_voltage_v: float
    point2_current_ma: float
    point2_voltage_v: float


@dataclass(frozen=True, slots=True)
class SetSalonLimits:
    """Service (technician or salon manager ``changed_by``): the salon's limits, each within
    the hard bounds of domain.md 6 (``kiosk.control.salon_limits``); refused whole with
    ``salon_limits_refused`` when one is outside."""

    changed_by: str
    face_cap_ma: float
    neck_cap_ma: float
    decollete_cap_ma: float
    eye_area_cap_ma: float
    contact_start_max_kohm: float
    contact_loss_kohm: float
    ramp_time_s: float
    ui_heartbeat_timeout_s: float


SERVICE_COMMAND_TYPES: tuple[type, ...] = (CalibrationDrive, CalibrationEnd, SaveCalibration,
                                           SetSalonLimits)
"""Technician commands: only while no current may flow and no session is open."""

Command = (StartTreatment | Pause | Resume | Stop | AdjustCurrent | Acknowledge | Heartbeat
           | EndSession | Chirp | RunSelfTest | ProgramDacEeprom | CalibrationDrive
           | CalibrationEnd | SaveCalibration | SetSalonLimits)
COMMAND_TYPES: tuple[type, ...] = (StartTreatment, Pause, Resume, Stop, AdjustCurrent, Acknowledge,
                                   Heartbeat, EndSession, Chirp, RunSelfTest, ProgramDacEeprom,
                                   *SERVICE_COMMAND_TYPES)
"""Every command class, for the validation of objects that claim to be one."""
