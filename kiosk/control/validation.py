"""Is this object a well-formed command? One pure check, before anything acts on it.

Why here and not in the cycle: a malformed command (``AdjustCurrent(1e308)``, a NaN, a dict in
place of a :class:`ProgramRequest`, a string where a float goes, an object that is no command at
all) must come back as a refusal with a stable code, never reach the cycle's arithmetic and end
as an ``internal_error`` that cuts a running treatment. :func:`validate_command` is called by the
control loop's ``submit()`` (so the caller hears at once) and again by the core for every command
it is handed (so the promise holds whoever calls the core). An exception inside the cycle stays
the fail-safe of last resort.

The check is about form only (types, finiteness, sizes); whether a well-formed value is allowed
(a current above its cap, an unknown area) is judged by the limits with their own codes.
Classes must match exactly: a subclass could override ``__eq__`` or a property and run code
inside the control cycle.
"""

from __future__ import annotations

import math

from kiosk.control import domain_limits as lim
from kiosk.control.codes import Reason
from kiosk.control.commands import (
    COMMAND_TYPES,
    Acknowledge,
    AdjustCurrent,
    CalibrationDrive,
    Command,
    EndSession,
    Polarity,
    ProgramRequest,
    Resume,
    RunSelfTest,
    SaveCalibration,
    SetSalonLimits,
    StartTreatment,
    Stop,
    StopReason,
)
from kiosk.control.reasons import Code, make

MAX_TEXT_CHARS = 128
"""Identifiers (session ids, areas, fault codes) are short; a longer string is junk."""
MAX_ADJUST_MA = lim.FIRMWARE_MAX_CURRENT_MA
"""No single adjustment can be larger than the whole firmware range."""
MAX_STAGE_S = 24 * 3600.0
"""Far above any time cap; the limits refuse anything above the program's cap with its code."""

MAX_DELIVERED_TODAY_MA_MIN = lim.DEVICE_DOSE_CAP_MA_MIN * 10
"""A day's delivered dose above ten times the device's absolute cap is junk, not a figure."""
MAX_DELIVERED_TODAY_MA_MIN_PER_CM2 = lim.CHARGE_DENSITY_CAP_MA_MIN_PER_CM2 * 10
"""The same for the delivered charge density."""

MAX_SERVICE_FIGURE = 1e6
"""A typed service figure (mA, V, kΩ, s) beyond this is junk; its bounds are judged later."""

_MISSING = object()


class _Invalid(Exception):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(field, problem)
        self.field = field
        self.problem = problem


def validate_command(obj: object) -> Command | Reason:
    """``obj`` itself when it is a well-formed command, else an ``invalid_command`` refusal
    naming the command, the field and what is wrong with it. Never raises."""
    kind = type(obj)
    name = kind.__name__[:40] if isinstance(kind.__name__, str) else "object"
    if kind not in COMMAND_TYPES:
        return make(Code.INVALID_COMMAND, command=name, field="(object)",
                    problem="is not a command")
    try:
        _check(obj)
    except _Invalid as bad:
        return make(Code.INVALID_COMMAND, command=name, field=bad.field, problem=bad.problem)
    except Exception as exc:  # an attribute that cannot even be read is junk too
        return make(Code.INVALID_COMMAND, command=name, field="(object)",
                    problem=f"cannot be read ({type(exc).__name__})")
    return obj  # type: ignore[return-value]  # kind is one of the Command classes


def _field(obj: object, name: str) -> object:
    value = getattr(obj, name, _MISSING)
    if value is _MISSING:
        raise _Invalid(name, "is missing")
    return value


def _text(obj: object, name: str, *, optional: bool = False) -> None:
    value = _field(obj, name)
    if value is None and optional:
        return
    if type(value) is not str:
        raise _Invalid(name, f"must be text, not {type(value).__name__[:40]}")
    if not value or len(value) > MAX_TEXT_CHARS or not value.isprintable():
        raise _Invalid(name, f"must be 1-{MAX_TEXT_CHARS} printable characters")


def _flag(obj: object, name: str) -> None:
    if type(_field(obj, name)) is not bool:
        raise _Invalid(name, "must be true or false")


def _number(obj: object, name: str, *, bound: float, optional: bool = False,
            non_negative: bool = False) -> None:
    value = _field(obj, name)
    if value is None and optional:
        return
    if type(value) not in (int, float):
        raise _Invalid(name, f"must be a number, not {type(value).__name__[:40]}")
    try:
        number = float(value)  # type: ignore[arg-type]  # int or float, checked above
    except OverflowError:  # an int beyond the float range
        raise _Invalid(name, "must be a finite number") from None
    if not math.isfinite(number):
        raise _Invalid(name, "must be a finite number")
    if non_negative and number < 0.0:
        raise _Invalid(name, "must not be negative")
    if abs(number) > bound:
        raise _Invalid(name, f"must be within ±{bound:g}")


def _check(obj: object) -> None:
    if isinstance(obj, StartTreatment):
        program = _field(obj, "program")
        if type(program) is not ProgramRequest:
            raise _Invalid("program",
                           f"must be a ProgramRequest, not {type(program).__name__[:40]}")
        _check_program(program)
        _text(obj, "session_id")
        _flag(obj, "screening_cleared")
        # SR-053: what the records say this client already had on this area today
        _number(obj, "delivered_today_ma_min", bound=MAX_DELIVERED_TODAY_MA_MIN,
                non_negative=True)
        _number(obj, "delivered_today_charge_density_ma_min_per_cm2",
                bound=MAX_DELIVERED_TODAY_MA_MIN_PER_CM2, non_negative=True)
        # issue 11 item 6: absent is a form the core refuses as consent_missing; junk is junk
        _text(obj, "consent_version", optional=True)
    elif isinstance(obj, Resume | EndSession):
        _text(obj, "session_id")
    elif isinstance(obj, Stop):
        if type(_field(obj, "reason")) is not StopReason:
            raise _Invalid("reason", "must be a StopReason")
    elif isinstance(obj, AdjustCurrent):
        _number(obj, "delta_ma", bound=MAX_ADJUST_MA)
    elif isinstance(obj, Acknowledge):
        _text(obj, "fault_code")
    elif isinstance(obj, RunSelfTest):
        _text(obj, "step", optional=True)  # which names exist: the admission's refusal
    elif isinstance(obj, CalibrationDrive):
        point = _field(obj, "point")
        if type(point) is not int or point not in (1, 2):
            raise _Invalid("point", "must be 1 or 2")
    elif isinstance(obj, SaveCalibration):
        _text(obj, "technician")
        for name in ("point1_current_ma", "point1_voltage_v", "point2_current_ma",
                     "point2_voltage_v"):
            _number(obj, name, bound=MAX_SERVICE_FIGURE)
    elif isinstance(obj, SetSalonLimits):
        _text(obj, "changed_by")
        for name in ("face_cap_ma", "neck_cap_ma", "decollete_cap_ma", "eye_area_cap_ma",
                     "contact_start_max_kohm", "contact_loss_kohm", "ramp_time_s",
                     "ui_heartbeat_timeout_s"):
            _number(obj, name, bound=MAX_SERVICE_FIGURE)
    # Pause, Heartbeat, Chirp, ProgramDacEeprom and CalibrationEnd carry nothing.


def _check_program(program: ProgramRequest) -> None:
    _text(program, "area")
    _text(program, "indication")
    _text(program, "electrode_id", optional=True)
    _number(program, "current_ma", bound=lim.FIRMWARE_MAX_CURRENT_MA * 10, optional=True)
    _number(program, "current_stage_s", bound=MAX_STAGE_S, optional=True)
    for name in ("caution_acknowledged", "reduced_caps", "second_phase"):
        _flag(program, name)
    polarity = _field(program, "polarity")
    if polarity is not None and type(polarity) is not Polarity:
        raise _Invalid("polarity", "must be a Polarity or absent")
