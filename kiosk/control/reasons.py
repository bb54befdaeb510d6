"""Every code the control core can emit, in one place, with its plain sentence and severity.

Why one list: the UI translates by code, the event log and the service export key on it, and the
safety file traces requirements to it. A sentence says what happened and, for faults and
refusals, what to do. Templates name their values (``{cap_ma:.2f}``); :func:`make` fills them and
keeps the values in ``Reason.details``.

Add codes at the end of their group; never rename or reuse one (see :mod:`kiosk.control.codes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from kiosk.control.codes import DetailValue, Reason, Severity


class Kind(StrEnum):
    """What a code reports: the event log groups by it."""

    FAULT = "fault"  # safe state, latched until a person acknowledges it
    REFUSAL = "refusal"  # a command was not carried out; nothing changed
    DECISION = "decision"  # the core decided something (ramp held, dose cap reached, ...)


class Code(StrEnum):
    """The stable codes. The value is what the log, the UI and the tests see."""

    # --- faults (safe state, latched) -------------------------------------------------------
    CONTACT_LOST = "contact_lost"
    OVER_CURRENT = "over_current"
    REGULATION = "regulation"
    UNINTENDED_OUTPUT = "unintended_output"
    SENSOR_STALE = "sensor_stale"
    SENSOR_RANGE = "sensor_range"
    SENSOR_SIGN = "sensor_sign"
    DAC_READBACK = "dac_readback"
    SHORT_CIRCUIT = "short_circuit"
    COMPLIANCE_SATURATION = "compliance_saturation"
    POLARITY_MISMATCH = "polarity_mismatch"
    ESTOP = "estop"
    HW_TRIP = "hw_trip"
    I2C_ERROR = "i2c_error"
    LOOP_OVERRUN = "loop_overrun"
    LOOP_STALL = "loop_stall"
    UI_HEARTBEAT_LOST = "ui_heartbeat_lost"
    INTERNAL_ERROR = "internal_error"
    SELFTEST_FAILED = "selftest_failed"
    BOOST_OUT_OF_RANGE = "boost_out_of_range"
    SUPERVISOR_TRIP = "supervisor_trip"
    STORAGE_FAULT = "storage_fault"
    UI_CONNECTION_LOST = "ui_connection_lost"

    # --- refusals (command not carried out) -------------------------------------------------
    SCREENING_NOT_CLEARED = "screening_not_cleared"
    SELFTEST_REQUIRED = "selftest_required"
    FAULT_LATCHED = "fault_latched"
    NOT_IN_THIS_STATE = "not_in_this_state"
    UNKNOWN_AREA = "unknown_area"
    UNKNOWN_PROGRAM = "unknown_program"
    UNKNOWN_ELECTRODE = "unknown_electrode"
    ELECTRODE_NOT_ALLOWED = "electrode_not_allowed"
    POLARITY_NOT_ALLOWED = "polarity_not_allowed"
    NO_SECOND_PHASE = "no_second_phase"
    INVALID_VALUE = "invalid_value"
    CURRENT_ABOVE_CAP = "current_above_cap"
    CURRENT_BELOW_MINIMUM = "current_below_minimum"
    TIME_ABOVE_CAP = "time_above_cap"
    TIME_TOO_SHORT = "time_too_short"
    CAUTION_NOT_ACKNOWLEDGED = "caution_not_acknowledged"
    DOSE_CAP_ALREADY_REACHED = "dose_cap_already_reached"
    STAGE_TIME_USED_UP = "stage_time_used_up"
    ESTOP_PRESSED = "estop_pressed"
    HW_TRIP_ACTIVE = "hw_trip_active"
    ADJUST_STEP_INVALID = "adjust_step_invalid"
    CURRENT_AT_CAP = "current_at_cap"
    CURRENT_AT_MINIMUM = "current_at_minimum"
    COMPLIANCE_LIMIT = "compliance_limit"
    ACK_CODE_MISMATCH = "ack_code_mismatch"
    NOTHING_TO_ACKNOWLEDGE = "nothing_to_acknowledge"
    ACK_CONDITION_PRESENT = "ack_condition_present"
    ACK_TOO_EARLY = "ack_too_early"
    CONTACT_CHECK_FAILED = "contact_check_failed"
    CONTACT_CHECK_OPEN = "contact_check_open"
    CONTACT_CHECK_SHORT = "contact_check_short"
    NOTHING_TO_RESUME = "nothing_to_resume"
    INVALID_COMMAND = "invalid_command"
    SESSION_CURRENT_FLOWING = "session_current_flowing"
    SESSION_NOT_OPEN = "session_not_open"
    RESUME_WRONG_SESSION = "resume_wrong_session"
    SESSION_STILL_OPEN = "session_still_open"
    COMMAND_QUEUE_FULL = "command_queue_full"
    SELFTEST_NOT_IDLE = "selftest_not_idle"
    SELFTEST_RUNNING = "selftest_running"
    SELFTEST_UNKNOWN_STEP = "selftest_unknown_step"
    SELFTEST_FAULT_LIMITS = "selftest_fault_limits"
    CALIBRATION_MISSING = "calibration_missing"
    CALIBRATION_INVALID = "calibration_invalid"
    CALIBRATION_REFUSED = "calibration_refused"
    SERVICE_NOT_NOW = "service_not_now"
    CALIBRATION_LOAD_WRONG = "calibration_load_wrong"
    CALIBRATION_POINT_MISSING = "calibration_point_missing"
    SETTINGS_NOT_STORED = "settings_not_stored"
    SALON_LIMITS_REFUSED = "salon_limits_refused"
    SALON_LIMITS_INVALID = "salon_limits_invalid"
    CONSENT_MISSING = "consent_missing"
    CONSENT_STALE = "consent_stale"

    # --- decisions ---------------------------------------------------------------------------
    STATE_CHANGED = "state_changed"
    TREATMENT_STARTED = "treatment_started"
    DEFAULT_CURRENT_LOWERED = "default_current_lowered"
    CONTACT_CHECK_PASSED = "contact_check_passed"
    COMPLIANCE_WARNING = "compliance_warning"
    COMPLIANCE_CLEARED = "compliance_cleared"
    CONTACT_POOR = "contact_poor"
    TARGET_ADJUSTED = "target_adjusted"
    ADJUST_CAPPED = "adjust_capped"
    STAGE_TIME_REACHED = "stage_time_reached"
    DOSE_CAP_REACHED = "dose_cap_reached"
    DOSE_CAP_HARD_STOP = "dose_cap_hard_stop"
    PAUSED = "paused"
    RESUMED = "resumed"
    STOPPED = "stopped"
    TREATMENT_DONE = "treatment_done"
    FAULT_ACKNOWLEDGED = "fault_acknowledged"
    SELFTEST_PASSED = "selftest_passed"
    HW_TRIP_RESET_REQUESTED = "hw_trip_reset_requested"
    SESSION_ENDED = "session_ended"
    DOSE_PROGRESS = "dose_progress"
    SELFTEST_RUN_STARTED = "selftest_run_started"
    SELFTEST_STEP_PASSED = "selftest_step_passed"
    SELFTEST_STEP_FAILED = "selftest_step_failed"
    SELFTEST_RUN_FINISHED = "selftest_run_finished"
    SELFTEST_RUN_ABORTED = "selftest_run_aborted"
    DAC_EEPROM_PROGRAMMED = "dac_eeprom_programmed"
    CALIBRATION_POINT_MEASURED = "calibration_point_measured"
    CALIBRATION_DRIVE_ENDED = "calibration_drive_ended"
    CALIBRATION_SAVED = "calibration_saved"
    CALIBRATION_FACTORY_INSTALLED = "calibration_factory_installed"
    SALON_LIMITS_SAVED = "salon_limits_saved"


@dataclass(frozen=True, slots=True)
class ReasonSpec:
    """How one code reads: its kind, priority and sentence template."""

    code: Code
    kind: Kind
    severity: Severity
    template: str


def _f(code: Code, template: str) -> ReasonSpec:
    return ReasonSpec(code, Kind.FAULT, Severity.HIGH, template)


def _r(code: Code, template: str, severity: Severity = Severity.INFO) -> ReasonSpec:
    return ReasonSpec(code, Kind.REFUSAL, severity, template)


def _d(code: Code, template: str, severity: Severity = Severity.INFO) -> ReasonSpec:
    return ReasonSpec(code, Kind.DECISION, severity, template)


_M = Severity.MEDIUM

_SPECS: tuple[ReasonSpec, ...] = (
    # faults
    _f(Code.CONTACT_LOST, "Contact lost: the current was cut. Check that both electrodes are wet "
       "and on the skin, then start again with a new contact check."),
    _f(Code.OVER_CURRENT, "Over-current: {measured_ma:.2f} mA measured, above the limit of "
       "{limit_ma:.2f} mA. The current was cut; call service if it happens again."),
    _f(Code.REGULATION, "The current did not follow the setting ({measured_ma:.2f} mA measured, "
       "{setpoint_ma:.2f} mA set). The current was cut; call service if it happens again."),
    _f(Code.UNINTENDED_OUTPUT, "Current flowed while the output was off ({measured_ma:.3f} mA). "
       "Remove the electrodes from the client and call service."),
    _f(Code.SENSOR_STALE, "The current measurement stopped updating ({age_s:.2f} s old). The "
       "current was cut; restart the device and call service if it happens again."),
    _f(Code.SENSOR_RANGE, "A measurement is out of its possible range ({signal} = {value}). The "
       "current was cut; call service."),
    _f(Code.SENSOR_SIGN, "The measured current flows the wrong way ({measured_ma:.3f} mA). The "
       "current was cut; call service."),
    _f(Code.DAC_READBACK, "The current setting read back wrong ({readback_ma:.3f} mA read, "
       "{commanded_ma:.3f} mA commanded). The current was cut; call service."),
    _f(Code.SHORT_CIRCUIT, "The electrodes seem to touch each other or a wet bridge joins them "
       "({load_v:.2f} V at {measured_ma:.2f} mA): the current was cut. Separate them and dry "
       "between them, then start again."),
    _f(Code.COMPLIANCE_SATURATION, "The skin resistance is too high for this current: the device "
       "reached its voltage limit ({electrode_v:.1f} V) and the current was cut. Check the "
       "electrodes and wet the pads."),
    _f(Code.POLARITY_MISMATCH, "The electrode polarity could not be confirmed. The current was "
       "cut; call service."),
    _f(Code.ESTOP, "Emergency stop pressed: the current was cut. Release the button, then "
       "acknowledge."),
    _f(Code.HW_TRIP, "The hardware current limit tripped: the current was cut. Call service if "
       "it happens again."),
    _f(Code.I2C_ERROR, "The device lost contact with its measuring board. The current was cut; "
       "restart the device and call service if it happens again."),
    _f(Code.LOOP_OVERRUN, "The current control ran late. The current was cut to be safe."),
    _f(Code.LOOP_STALL, "The current control stopped responding. The current was cut to be safe."),
    _f(Code.UI_HEARTBEAT_LOST, "The screen stopped responding ({age_s:.1f} s). The current was "
       "cut to be safe."),
    _f(Code.INTERNAL_ERROR, "Internal error in the current control ({what}). The current was cut; "
       "call service."),
    _f(Code.SELFTEST_FAILED, "The device self-test failed ({failed}). No treatment is possible; "
       "call service."),
    _f(Code.BOOST_OUT_OF_RANGE, "The electrode supply voltage is wrong ({boost_v:.1f} V, expected "
       "{low_v:.1f}-{high_v:.1f} V). The current was cut; call service."),
    _f(Code.SUPERVISOR_TRIP, "The safety supervisor opened the output. The current was cut."),
    _f(Code.UI_CONNECTION_LOST, "The screen's connection to the current control closed while "
       "current could flow ({why}). The current was cut to be safe."),
    # refusals
    _r(Code.SCREENING_NOT_CLEARED, "The contraindication screening is not cleared: no current "
       "stage can start in this session."),
    _r(Code.SELFTEST_REQUIRED, "The device self-test has not passed yet: no treatment can start."),
    _r(Code.FAULT_LATCHED, "A fault is active ({fault_code}): acknowledge it first."),
    _r(Code.NOT_IN_THIS_STATE, "'{command}' is not possible while the treatment is {state}."),
    _r(Code.UNKNOWN_AREA, "Unknown treatment area '{area}'."),
    _r(Code.UNKNOWN_PROGRAM, "There is no program for {indication} on the {area}."),
    _r(Code.UNKNOWN_ELECTRODE, "Unknown electrode '{electrode_id}'."),
    _r(Code.ELECTRODE_NOT_ALLOWED, "The electrode '{electrode_id}' may not be used for "
       "{program_id}."),
    _r(Code.POLARITY_NOT_ALLOWED, "Polarity {polarity} is not allowed for {program_id}."),
    _r(Code.NO_SECOND_PHASE, "{program_id} has no second phase."),
    _r(Code.INVALID_VALUE, "The value given for {field} is not valid ({value})."),
    _r(Code.CURRENT_ABOVE_CAP, "{requested_ma:.2f} mA is above the {limit} cap of {cap_ma:.2f} mA: "
       "choose {cap_ma:.2f} mA or less."),
    _r(Code.CURRENT_BELOW_MINIMUM, "{requested_ma:.2f} mA is below the smallest current of "
       "{minimum_ma:.2f} mA."),
    _r(Code.TIME_ABOVE_CAP, "{requested_min:.1f} min is above the time cap of {cap_min:.1f} min."),
    _r(Code.TIME_TOO_SHORT, "{requested_min:.2f} min is shorter than the shortest current stage "
       "of {minimum_min:.1f} min."),
    _r(Code.CAUTION_NOT_ACKNOWLEDGED, "A caution item applies: acknowledge the warning first."),
    _r(Code.DOSE_CAP_ALREADY_REACHED, "The day's dose cap for this client and area is reached "
       "({dose_ma_min:.2f} of {cap_ma_min:.2f} mA·min, earlier programs today included)."),
    _r(Code.STAGE_TIME_USED_UP, "The current-stage time of {program_id} is used up in this "
       "session."),
    _r(Code.ESTOP_PRESSED, "The emergency stop is pressed: release it first."),
    _r(Code.HW_TRIP_ACTIVE, "The hardware current limit is tripped: acknowledge the fault first."),
    _r(Code.ADJUST_STEP_INVALID, "The current changes in steps of {step_ma:.2f} mA "
       "({delta_ma} asked)."),
    _r(Code.CURRENT_AT_CAP, "The current is already at its {limit} cap of {cap_ma:.2f} mA."),
    _r(Code.CURRENT_AT_MINIMUM, "The current is already at its minimum of {minimum_ma:.2f} mA: "
       "use Pause or STOP to end it."),
    _r(Code.COMPLIANCE_LIMIT, "The electrode voltage is high ({electrode_v:.1f} V): the current "
       "cannot be raised now. Check and wet the electrodes.", _M),
    _r(Code.ACK_CODE_MISMATCH, "The acknowledgement names '{given}', but the active fault is "
       "'{fault_code}'."),
    _r(Code.NOTHING_TO_ACKNOWLEDGE, "There is no fault to acknowledge."),
    _r(Code.ACK_CONDITION_PRESENT, "The cause is still present ({condition}): remove it, then "
       "acknowledge."),
    _r(Code.ACK_TOO_EARLY, "The fault has only just occurred: look at it, then acknowledge."),
    _r(Code.CONTACT_CHECK_FAILED, "Check electrodes: the skin contact is too poor to start "
       "({load_kohm:.0f} kΩ, at most {limit_kohm:.0f} kΩ). Wet the pads and press them on.", _M),
    _r(Code.CONTACT_CHECK_OPEN, "Check electrodes: no current flows between them. Connect both "
       "electrodes and put them on the skin.", _M),
    _r(Code.CONTACT_CHECK_SHORT, "Check electrodes: they seem to touch each other or a wet bridge "
       "joins them ({load_kohm:.2f} kΩ).", _M),
    _r(Code.STORAGE_FAULT, "Records cannot be saved: no treatment can start or resume until "
       "storage works again. Call service.", _M),
    _r(Code.NOTHING_TO_RESUME, "There is no paused treatment to resume."),
    _r(Code.INVALID_COMMAND, "A command was not understood ({command}: {field} {problem}); "
       "nothing changed."),
    _r(Code.SESSION_CURRENT_FLOWING, "The session cannot end while current may flow ({state}): "
       "stop the current first."),
    _r(Code.SESSION_NOT_OPEN, "Session {session_id} is not the open session; nothing changed."),
    _r(Code.RESUME_WRONG_SESSION, "Only the open session can be resumed ({session_id} was asked); "
       "end it before treating another client."),
    _r(Code.SESSION_STILL_OPEN, "The previous treatment session is still open: end it before "
       "starting a new one."),
    _r(Code.COMMAND_QUEUE_FULL, "Too many commands at once: this one was not carried out (at most "
       "{capacity} wait for the next control cycle; STOP always gets through).", _M),
    _r(Code.SELFTEST_NOT_IDLE, "The self-test runs only when the device is idle with no "
       "treatment session open (now: {state}, session open: {session_open})."),
    _r(Code.SELFTEST_RUNNING, "A self-test is running: wait for it to finish or press STOP."),
    _r(Code.SELFTEST_UNKNOWN_STEP, "There is no self-test step '{step}'."),
    _r(Code.SELFTEST_FAULT_LIMITS, "A fault is active ({fault_code}): only the steps that switch "
       "nothing on can run now ({allowed}). Acknowledge the fault for the others."),
    _r(Code.CALIBRATION_MISSING, "The device has no calibration ({file}): no treatment can "
       "start until a technician calibrates it in service mode.", _M),
    _r(Code.CALIBRATION_INVALID, "The calibration file {file} is refused ({problem}): no "
       "treatment can start until a technician calibrates the device in service mode.", _M),
    _r(Code.CALIBRATION_REFUSED, "Calibration refused: {field} = {value} is implausible "
       "(allowed {allowed}); the calibration in force is kept. Check the connections and the "
       "figures typed."),
    _r(Code.SERVICE_NOT_NOW, "Service work needs the device idle with no session open and no "
       "fault ({state}); nothing changed."),
    _r(Code.CALIBRATION_LOAD_WRONG, "The load reads {load_kohm} kΩ, not the {reference_kohm:.0f} "
       "kΩ reference resistor: connect the reference resistor (never a client) and try again."),
    _r(Code.CALIBRATION_POINT_MISSING, "Calibration point {point} has not been measured yet: "
       "measure both points first."),
    _r(Code.SETTINGS_NOT_STORED, "The {what} could not be written ({problem}); the values in "
       "force are kept.", _M),
    _r(Code.SALON_LIMITS_REFUSED, "Salon limit refused: {field} = {value} is outside its hard "
       "bounds {allowed}; the limits in force are kept."),
    _r(Code.SALON_LIMITS_INVALID, "The salon limits file {file} is refused ({problem}): no "
       "treatment can start until the limits are set again in service mode.", _M),
    _r(Code.CONSENT_MISSING, "The client's consent is not recorded: no current can start. Ask "
       "the client to read and sign the consent first."),
    _r(Code.CONSENT_STALE, "The client's consent ({given}) is not for the consent text in force "
       "({expected}): no current can start. Ask the client to read and sign it again."),
    # decisions
    _d(Code.STATE_CHANGED, "Treatment state: {from_state} -> {to_state}."),
    _d(Code.TREATMENT_STARTED, "{program_id} started: target {target_ma:.2f} mA (cap "
       "{cap_ma:.2f} mA, set by {limit}), {stage_min:.1f} min, dose cap {dose_cap_ma_min:.2f} "
       "mA·min, active electrode {polarity}."),
    _d(Code.DEFAULT_CURRENT_LOWERED, "The default {default_ma:.2f} mA is above the {limit} cap: "
       "{cap_ma:.2f} mA is used."),
    _d(Code.CONTACT_CHECK_PASSED, "Contact good ({load_kohm:.1f} kΩ): ramping up."),
    _d(Code.COMPLIANCE_WARNING, "The electrode voltage is high ({electrode_v:.1f} V): the ramp is "
       "held. Check and wet the electrodes.", _M),
    _d(Code.COMPLIANCE_CLEARED, "The electrode voltage is normal again ({electrode_v:.1f} V)."),
    _d(Code.CONTACT_POOR, "Contact is getting poor ({load_kohm:.0f} kΩ, was {baseline_kohm:.0f} "
       "kΩ): check the electrodes.", _M),
    _d(Code.TARGET_ADJUSTED, "Target current {old_ma:.2f} -> {new_ma:.2f} mA."),
    _d(Code.ADJUST_CAPPED, "Target current held at the {limit} cap of {cap_ma:.2f} mA."),
    _d(Code.STAGE_TIME_REACHED, "The current-stage time is reached: ramping down."),
    _d(Code.DOSE_CAP_REACHED, "The dose cap of {cap_ma_min:.2f} mA·min is reached: ramping down."),
    _d(Code.DOSE_CAP_HARD_STOP, "The dose cap of {cap_ma_min:.2f} mA·min is reached: current "
       "set to zero."),
    _d(Code.PAUSED, "Paused: the current is at zero and the output is open."),
    _d(Code.RESUMED, "Resuming: new contact check, then a fresh ramp."),
    _d(Code.STOPPED, "Stopped ({stop_reason}): the current goes to zero within 2 s."),
    _d(Code.TREATMENT_DONE, "Current stage finished: {dose_ma_min:.2f} mA·min in "
       "{elapsed_min:.1f} min."),
    _d(Code.FAULT_ACKNOWLEDGED, "Fault '{fault_code}' acknowledged."),
    _d(Code.SELFTEST_PASSED, "Device self-test passed."),
    _d(Code.HW_TRIP_RESET_REQUESTED, "Hardware current limit reset requested."),
    _d(Code.SESSION_ENDED, "Treatment session ended: {dose_ma_min:.2f} mA·min delivered."),
    _d(Code.DOSE_PROGRESS, "Dose so far {dose_ma_min:.3f} mA·min (peak {peak_ma:.2f} mA, "
       "{state})."),
    _d(Code.SELFTEST_RUN_STARTED, "Service self-test started: {steps}."),
    _d(Code.SELFTEST_STEP_PASSED, "Self-test step {step} passed: {figure}."),
    _d(Code.SELFTEST_STEP_FAILED, "Self-test step {step} {status}: {cause} ({figure}).", _M),
    _d(Code.SELFTEST_RUN_FINISHED, "Service self-test finished: {passed} of {total} steps "
       "passed."),
    _d(Code.SELFTEST_RUN_ABORTED, "Service self-test stopped ({why}): the outputs are back in "
       "the safe state.", _M),
    _d(Code.DAC_EEPROM_PROGRAMMED, "The DAC's power-up memory now holds output off, code 0."),
    _d(Code.CALIBRATION_POINT_MEASURED, "Calibration point {point}: DAC code {dac_code}, the "
       "device reads {device_ma:.4f} mA and {device_v:.3f} V: type the meter's figures."),
    _d(Code.CALIBRATION_DRIVE_ENDED, "Calibration current ended: the output is open."),
    _d(Code.CALIBRATION_SAVED, "Calibration by {technician} saved and in force from the next "
       "cycle."),
    _d(Code.CALIBRATION_FACTORY_INSTALLED, "The simulated board's factory calibration was "
       "installed ({file})."),
    _d(Code.SALON_LIMITS_SAVED, "Salon limits changed by {changed_by} and in force from the "
       "next cycle."),
)

CATALOGUE: Mapping[Code, ReasonSpec] = MappingProxyType({spec.code: spec for spec in _SPECS})
"""Every code's spec; :func:`make` refuses a code that is not here."""

FAULT_CODES: frozenset[str] = frozenset(
    spec.code.value for spec in _SPECS if spec.kind is Kind.FAULT
)

DEVICE_FAULT_CODES: frozenset[str] = frozenset(
    {
        Code.SENSOR_STALE, Code.SENSOR_RANGE, Code.SENSOR_SIGN, Code.DAC_READBACK,
        Code.HW_TRIP, Code.I2C_ERROR, Code.LOOP_OVERRUN, Code.LOOP_STALL, Code.INTERNAL_ERROR,
        Code.SELFTEST_FAILED, Code.BOOST_OUT_OF_RANGE, Code.POLARITY_MISMATCH,
        Code.UNINTENDED_OUTPUT, Code.SUPERVISOR_TRIP,
    }
)
"""Faults that say the device itself is in doubt (the snapshot's ``healthy`` goes False)."""

SETTINGS_CHANGE_CODES: frozenset[str] = frozenset(
    {Code.CALIBRATION_SAVED, Code.CALIBRATION_FACTORY_INSTALLED, Code.SALON_LIMITS_SAVED})
"""A calibration or limit change: always logged durably (domain.md 7, event log)."""


def spec_of(code: str) -> ReasonSpec:
    """The spec of ``code``; ``KeyError`` for a code that is not in the catalogue."""
    return CATALOGUE[Code(code)]


def make(code: Code, **details: DetailValue) -> Reason:
    """Build the :class:`Reason` for ``code`` with its sentence filled from ``details``.

    A template field missing from ``details`` raises ``KeyError``: a reason must never reach a
    screen with a hole in it.
    """
    spec = CATALOGUE[code]
    text = spec.template.format(**details)
    return Reason(code.value, text, spec.severity, tuple(details.items()))
