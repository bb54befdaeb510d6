"""Resolve what the beautician asked into caps the core enforces, or refuse it with the reason.

Why refuse and not clamp: the beautician may lower a value, never raise it above a cap
(domain.md 2). A request above a cap is refused with the cap and its source named, so the
screen can say "choose 1.50 mA or less (area cap)" instead of silently delivering something
else. Every cap of domain.md section 6 is applied here, by the core, whatever the UI did.

Also here: :class:`SafetyConfig` (the service-adjustable contact thresholds, within hard bounds)
and the small threshold functions the monitors share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

from kiosk.control import domain_limits as lim
from kiosk.control.catalogue import Catalogue, Electrode, Phase, Program
from kiosk.control.codes import Reason
from kiosk.control.commands import Polarity, ProgramRequest
from kiosk.control.reasons import Code, make

_EPS = 1e-9


DEFAULT_UI_HEARTBEAT_TIMEOUT_S = 1.0
"""The one default of the UI heartbeat timeout: the UI polls at 15 Hz and sends a heartbeat each
time; 1 s without any command while current flows means the screen froze (and STOP may not
work). A salon may set 0.5-5 s in service mode (``kiosk.control.salon_limits``)."""


class SafetyConfigError(ValueError):
    """A safety setting outside its hard bounds; the message names the setting and the bounds."""


@dataclass(frozen=True, slots=True)
class SafetyConfig:
    """Service-adjustable thresholds (domain.md decision 3), each inside hard bounds.

    ``contact_start_max_kohm``: the contact check passes at or below it (10-100 kΩ).
    ``contact_loss_kohm``: during current, a load above it is contact loss (50-200 kΩ); it must
    be above the start threshold, else a contact that just passed would count as lost.
    ``ui_heartbeat_timeout_s``: while current flows, no command from the UI for this long is a
    fault (the screen froze and STOP may not work).
    """

    contact_start_max_kohm: float = 50.0
    contact_loss_kohm: float = 100.0
    ui_heartbeat_timeout_s: float = DEFAULT_UI_HEARTBEAT_TIMEOUT_S

    BOUNDS: ClassVar[dict[str, tuple[float, float]]] = {
        "contact_start_max_kohm": (10.0, 100.0),
        "contact_loss_kohm": (50.0, 200.0),
        "ui_heartbeat_timeout_s": (0.5, 5.0),
    }

    def __post_init__(self) -> None:
        for name, (low, high) in self.BOUNDS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(value) or not low <= value <= high:
                raise SafetyConfigError(f"{name} = {value!r} is out of its hard bounds "
                                        f"{low:g}..{high:g}")
        if self.contact_loss_kohm <= self.contact_start_max_kohm:
            raise SafetyConfigError(
                f"contact_loss_kohm = {self.contact_loss_kohm:g} must be above "
                f"contact_start_max_kohm = {self.contact_start_max_kohm:g}")


@dataclass(frozen=True, slots=True)
class CapTerm:
    """One limit that applies to a treatment, by name, so the lowest can be named."""

    limit: str  # firmware | area | program | density | electrode | caution
    value: float


@dataclass(frozen=True, slots=True)
class ResolvedProgram:
    """A request checked against every cap: what the core delivers and may never exceed."""

    program_id: str  # phase id: "face.disincrustation" or "face.disincrustation.second_phase"
    area: str
    indication: str
    electrode_id: str
    electrode_area_cm2: float
    polarity: Polarity
    second_phase: bool
    target_ma: float
    current_cap_ma: float
    current_limit: str  # the name of the lowest cap term
    cap_terms: tuple[CapTerm, ...]
    stage_time_s: float
    stage_time_cap_s: float
    dose_cap_ma_min: float  # what THIS program may still deliver: the day's budget left (SR-053)
    dose_limit: str
    reduced_caps: bool
    default_lowered_from_ma: float | None = None  # the catalogue default was above the cap
    decisions: tuple[Reason, ...] = field(default=())
    day_dose_cap_ma_min: float = 0.0  # the whole day's budget for this client, area, electrode
    delivered_today_ma_min: float = 0.0  # by earlier programs today (the records' figure)
    delivered_today_charge_density_ma_min_per_cm2: float = 0.0

    @property
    def over_current_limit_ma(self) -> float:
        return over_current_limit_ma(self.current_cap_ma)


def _round(value: float) -> float:
    """Caps computed from products (0.2 x 1.5) lose their float noise: 0.30000000000000004."""
    return round(value, 6)


def _finite(value: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def current_cap_terms(program: Program, phase: Phase, area_cap_ma: float, electrode: Electrode,
                      reduced_caps: bool) -> tuple[CapTerm, ...]:
    """Every current cap that applies, in the order domain.md 6 lists them."""
    density = min(phase.density_cap_ma_per_cm2,
                  lim.electrode_density_limit_ma_per_cm2(electrode.shape, program.indication))
    terms = [
        CapTerm("firmware", lim.FIRMWARE_MAX_CURRENT_MA),
        CapTerm("area", min(area_cap_ma, lim.AREA_CURRENT_CAP_MA[program.area])),
        CapTerm("program", phase.cap_current_ma),
        CapTerm("density", _round(density * electrode.contact_area_cm2)),
        CapTerm("electrode", electrode.max_current_ma),
    ]
    if reduced_caps:
        lowest = min(t.value for t in terms)
        terms.append(CapTerm("caution", _round(lowest * lim.CAUTION_CAP_FACTOR)))
    return tuple(terms)


def _lowest(terms: tuple[CapTerm, ...]) -> CapTerm:
    lowest = terms[0]
    for term in terms[1:]:
        if term.value < lowest.value:
            lowest = term
    return lowest


def dose_cap_terms(area_dose_cap_ma_min: float, area_id: str, electrode: Electrode,
                   reduced_caps: bool) -> tuple[CapTerm, ...]:
    """The day's dose caps for one client, area and electrode (nothing delivered yet)."""
    terms = [
        CapTerm("area", min(area_dose_cap_ma_min, lim.AREA_DOSE_CAP_MA_MIN[area_id])),
        CapTerm("charge_density",
                _round(lim.CHARGE_DENSITY_CAP_MA_MIN_PER_CM2 * electrode.contact_area_cm2)),
        CapTerm("device", lim.DEVICE_DOSE_CAP_MA_MIN),
    ]
    if reduced_caps:
        lowest = min(t.value for t in terms)
        terms.append(CapTerm("caution", _round(lowest * lim.CAUTION_CAP_FACTOR)))
    return tuple(terms)


def dose_left_terms(day_terms: tuple[CapTerm, ...], electrode: Electrode,
                    delivered_ma_min: float,
                    delivered_charge_density_ma_min_per_cm2: float) -> tuple[CapTerm, ...]:
    """SR-053: what is left of each day cap after what this client already had on this area
    today (domain.md 6: one budget per client, area and day, whatever the programs).

    Every dose term loses the delivered dose; the charge-density term loses the delivered
    charge density (mA·min/cm², summed over the earlier programs' own electrodes) times THIS
    electrode's area: the skin under this electrode had the earlier programs' density too, so
    it counts in full against the same 3 mA·min/cm² (conservatively, whatever the electrode).
    A caution term (50 %) is a day cap like the others. Never below 0.
    """
    left: list[CapTerm] = []
    for term in day_terms:
        if term.limit == "charge_density":
            value = (lim.CHARGE_DENSITY_CAP_MA_MIN_PER_CM2
                     - delivered_charge_density_ma_min_per_cm2) * electrode.contact_area_cm2
        else:
            value = term.value - delivered_ma_min
        left.append(CapTerm(term.limit, max(0.0, _round(value))))
    return tuple(left)


def resolve_program(request: ProgramRequest, catalogue: Catalogue, *,
                    delivered_today_ma_min: float = 0.0,
                    delivered_today_charge_density_ma_min_per_cm2: float = 0.0,
                    salon_area_cap_ma: float | None = None,
                    ) -> ResolvedProgram | Reason:
    """The caps and targets for ``request``, or the refusal naming what stands in the way.

    ``delivered_today_*``: what this client already had on this area today (SR-053); the dose
    cap of the result is what is left of the day's budget (maybe 0: the core refuses the start).
    """
    for name, value in (("delivered_today_ma_min", delivered_today_ma_min),
                        ("delivered_today_charge_density_ma_min_per_cm2",
                         delivered_today_charge_density_ma_min_per_cm2)):
        if not _finite(value) or value < 0.0:
            return make(Code.INVALID_VALUE, field=name, value=str(value))
    try:
        area = catalogue.area(request.area)
    except KeyError:
        return make(Code.UNKNOWN_AREA, area=request.area)
    try:
        program = catalogue.program(request.area, request.indication)
    except KeyError:
        return make(Code.UNKNOWN_PROGRAM, area=area.name.lower(), indication=request.indication)
    phase = program.phase(request.second_phase)
    if phase is None:
        return make(Code.NO_SECOND_PHASE, program_id=program.id)

    electrode_id = request.electrode_id or program.default_electrode_id
    try:
        electrode = catalogue.electrode(electrode_id)
    except KeyError:
        return make(Code.UNKNOWN_ELECTRODE, electrode_id=electrode_id)
    if electrode_id not in program.electrode_ids:
        return make(Code.ELECTRODE_NOT_ALLOWED, electrode_id=electrode_id, program_id=phase.id)

    polarity = request.polarity or phase.polarity
    if polarity not in phase.allowed_polarities:
        return make(Code.POLARITY_NOT_ALLOWED, polarity=str(polarity), program_id=phase.id)
    if request.reduced_caps and not request.caution_acknowledged:
        return make(Code.CAUTION_NOT_ACKNOWLEDGED)

    area_cap_ma = area.current_cap_ma if salon_area_cap_ma is None \
        else min(area.current_cap_ma, salon_area_cap_ma)
    terms = current_cap_terms(program, phase, area_cap_ma, electrode, request.reduced_caps)
    lowest = _lowest(terms)
    cap_ma = lowest.value

    decisions: list[Reason] = []
    lowered_from: float | None = None
    if request.current_ma is None:
        target_ma = phase.default_current_ma
        if target_ma > cap_ma + _EPS:
            lowered_from = target_ma
            target_ma = cap_ma
            decisions.append(make(Code.DEFAULT_CURRENT_LOWERED, default_ma=lowered_from,
                                  limit=lowest.limit, cap_ma=cap_ma))
    else:
        if not _finite(request.current_ma):
            return make(Code.INVALID_VALUE, field="current_ma", value=str(request.current_ma))
        if request.current_ma > cap_ma + _EPS:
            return make(Code.CURRENT_ABOVE_CAP, requested_ma=request.current_ma,
                        limit=lowest.limit, cap_ma=cap_ma)
        if request.current_ma < lim.MIN_TARGET_MA - _EPS:
            return make(Code.CURRENT_BELOW_MINIMUM, requested_ma=request.current_ma,
                        minimum_ma=lim.MIN_TARGET_MA)
        target_ma = min(request.current_ma, cap_ma)
    if cap_ma < lim.MIN_TARGET_MA - _EPS:
        return make(Code.CURRENT_BELOW_MINIMUM, requested_ma=cap_ma, minimum_ma=lim.MIN_TARGET_MA)

    time_cap_s = min(phase.cap_stage_s, lim.STAGE_TIME_CAP_S)
    if request.current_stage_s is None:
        stage_s = min(phase.default_stage_s, time_cap_s)
    else:
        if not _finite(request.current_stage_s):
            return make(Code.INVALID_VALUE, field="current_stage_s",
                        value=str(request.current_stage_s))
        if request.current_stage_s > time_cap_s + _EPS:
            return make(Code.TIME_ABOVE_CAP, requested_min=request.current_stage_s / 60.0,
                        cap_min=time_cap_s / 60.0)
        if request.current_stage_s < lim.MIN_STAGE_TIME_S - _EPS:
            return make(Code.TIME_TOO_SHORT, requested_min=request.current_stage_s / 60.0,
                        minimum_min=lim.MIN_STAGE_TIME_S / 60.0)
        stage_s = float(request.current_stage_s)

    day_terms = dose_cap_terms(area.dose_cap_ma_min, area.id, electrode, request.reduced_caps)
    dose_lowest = _lowest(dose_left_terms(day_terms, electrode, float(delivered_today_ma_min),
                                          float(delivered_today_charge_density_ma_min_per_cm2)))
    return ResolvedProgram(
        program_id=phase.id,
        area=area.id,
        indication=program.indication,
        electrode_id=electrode.id,
        electrode_area_cm2=electrode.contact_area_cm2,
        polarity=polarity,
        second_phase=request.second_phase,
        target_ma=_round(target_ma),
        current_cap_ma=cap_ma,
        current_limit=lowest.limit,
        cap_terms=terms,
        stage_time_s=stage_s,
        stage_time_cap_s=time_cap_s,
        dose_cap_ma_min=dose_lowest.value,
        dose_limit=dose_lowest.limit,
        reduced_caps=request.reduced_caps,
        default_lowered_from_ma=lowered_from,
        decisions=tuple(decisions),
        day_dose_cap_ma_min=_lowest(day_terms).value,
        delivered_today_ma_min=float(delivered_today_ma_min),
        delivered_today_charge_density_ma_min_per_cm2=float(
            delivered_today_charge_density_ma_min_per_cm2),
    )


@dataclass(frozen=True, slots=True)
class Adjustment:
    """The outcome of an AdjustCurrent: the new target and the reason (refusal or decision)."""

    target_ma: float
    reason: Reason
    accepted: bool


def resolve_adjustment(target_ma: float, delta_ma: float, program: ResolvedProgram) -> Adjustment:
    """Apply an operator +/- step to ``target_ma`` within the program's caps.

    Steps are multiples of 0.05 mA; a rise past the cap stops at the cap (a decision); a rise
    already at the cap or a fall below the minimum is refused.
    """
    if not _finite(delta_ma) or delta_ma == 0:
        return Adjustment(target_ma, make(Code.ADJUST_STEP_INVALID, step_ma=lim.ADJUST_STEP_MA,
                                          delta_ma=str(delta_ma)), False)
    steps = delta_ma / lim.ADJUST_STEP_MA
    if abs(steps - round(steps)) > 1e-6:
        return Adjustment(target_ma, make(Code.ADJUST_STEP_INVALID, step_ma=lim.ADJUST_STEP_MA,
                                          delta_ma=str(delta_ma)), False)
    cap = program.current_cap_ma
    wanted = _round(target_ma + delta_ma)
    if delta_ma > 0:
        if target_ma >= cap - _EPS:
            return Adjustment(target_ma, make(Code.CURRENT_AT_CAP, limit=program.current_limit,
                                              cap_ma=cap), False)
        if wanted > cap + _EPS:
            return Adjustment(cap, make(Code.ADJUST_CAPPED, limit=program.current_limit,
                                        cap_ma=cap), True)
        return Adjustment(wanted, make(Code.TARGET_ADJUSTED, old_ma=target_ma, new_ma=wanted),
                          True)
    if wanted < lim.MIN_TARGET_MA - _EPS:
        return Adjustment(target_ma, make(Code.CURRENT_AT_MINIMUM, minimum_ma=lim.MIN_TARGET_MA),
                          False)
    return Adjustment(wanted, make(Code.TARGET_ADJUSTED, old_ma=target_ma, new_ma=wanted), True)


# --- thresholds the monitors share (domain.md 6) ---------------------------------------------

def over_current_limit_ma(cap_ma: float) -> float:
    """Measured current above this for > 50 ms is over-current (never above firmware + 0.05)."""
    return min(cap_ma, lim.FIRMWARE_MAX_CURRENT_MA) + lim.OVER_CURRENT_MARGIN_MA


def regulation_tolerance_ma(setpoint_ma: float) -> float:
    """|I_meas - I_set| above this for > 500 ms is a regulation fault."""
    return max(lim.REGULATION_ERROR_MIN_MA, lim.REGULATION_ERROR_FRACTION * abs(setpoint_ma))


def dac_readback_tolerance_ma(commanded_ma: float, ma_per_code: float) -> float:
    """How far AIN3 may read from the command: 5 % or 20 uA, plus two DAC codes."""
    return max(lim.DAC_READBACK_TOLERANCE_MA,
               lim.DAC_READBACK_TOLERANCE_FRACTION * abs(commanded_ma)) + 2.0 * ma_per_code


def boost_window_v() -> tuple[float, float]:
    """AIN2 must read 30 V +- 5 % once the boost has settled."""
    nominal, tolerance = lim.BOOST_NOMINAL_V, lim.BOOST_TOLERANCE_FRACTION
    return nominal * (1 - tolerance), nominal * (1 + tolerance)


def load_kohm(electrode_v: float, current_ma: float) -> float | None:
    """Load resistance across the electrodes (V_OUT minus the shunt drop, over I).

    None below 10 uA: a ratio of two near-zero readings says nothing about the skin.
    """
    if current_ma < lim.OFF_STATE_CURRENT_MA:
        return None
    return (electrode_v - current_ma * lim.SHUNT_KOHM) / current_ma
