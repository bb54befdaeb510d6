"""The absolute limits of domain.md section 6, as code, not data.

Why here and not in the catalogue file: the catalogue (programs, electrodes) is data that a
manufacturer may edit; these numbers are the ceiling no file may raise. The catalogue loader
rejects a program above them and :mod:`kiosk.control.limits` applies them again at run time.
"""

from __future__ import annotations

from types import MappingProxyType

FIRMWARE_MAX_CURRENT_MA = 2.0
"""Firmware maximum for any program; the hardware clamp (2.5 mA) is the independent second line."""

DAC_RANGE_MAX_MA = 2.5
"""The analog clamp on VSET: the regulator never commands above this."""

AREA_CURRENT_CAP_MA = MappingProxyType(
    {"face": 1.5, "neck": 1.0, "decollete": 2.0, "eye_area": 0.3}
)
AREA_DOSE_CAP_MA_MIN = MappingProxyType(
    {"face": 20.0, "neck": 15.0, "decollete": 30.0, "eye_area": 2.5}
)
AREAS: tuple[str, ...] = ("face", "neck", "decollete", "eye_area")
INDICATIONS: tuple[str, ...] = (
    "disincrustation", "pigmentation", "ageing", "puffiness", "dry_skin",
)

FIXED_PAD_PROGRAM_DENSITY_MA_PER_CM2 = 0.1
FIXED_PAD_ABSOLUTE_DENSITY_MA_PER_CM2 = 0.2
ROLLER_DISINCRUSTATION_ABSOLUTE_DENSITY_MA_PER_CM2 = 0.3
"""A moving roller at its catalogue area, in disincrustation only; elsewhere a roller counts as
a fixed pad (a stalled roller is one)."""
EYE_BALL_ABSOLUTE_DENSITY_MA_PER_CM2 = 0.2

INDICATION_STAGE_TIME_CAP_S = MappingProxyType({
    "disincrustation": 7 * 60.0,
    "pigmentation": 15 * 60.0,
    "ageing": 15 * 60.0,
    "puffiness": 8 * 60.0,
    "dry_skin": 12 * 60.0,
})
"""Current-stage time cap per indication (domain.md 4, "Current-stage time default / cap"); the
catalogue may set a lower cap, never a higher one. The optional second phase of disincrustation
(acidic toner) has its own 3 min cap in the catalogue, below this one."""

REQUIRED_SCREENING_IDS: tuple[str, ...] = (
    "pregnancy",
    "lactation",
    "cancer_or_suspicious_lesion",
    "endocrine_disorder",
    "ent_condition",
    "chronic_skin_condition",
)
"""The contraindications of the seed article ([0] in domain.md 5): a catalogue that lacks any of
them is refused at start-up, so an edit can never drop pregnancy from the screening."""

SCREENING_SCOPES: tuple[str, ...] = ("general", "area")
"""domain.md 5, order: ``general`` items are asked before the area is chosen; ``area`` items
("in the area") once it is known, so the answer is about that area."""

DEVICE_DOSE_CAP_MA_MIN = 30.0
CHARGE_DENSITY_CAP_MA_MIN_PER_CM2 = 3.0
STAGE_TIME_CAP_S = 20 * 60.0

CAUTION_CAP_FACTOR = 0.5
"""A caution item (domain.md 5) lowers the caps to half."""

MIN_TARGET_MA = 0.05
"""Smallest target: below it the contact-loss rule of domain.md 6 (I_set >= 0.05 mA) is blind."""
MIN_STAGE_TIME_S = 60.0
"""Shortest current stage: a ramp up and a ramp down take 30 s each."""
ADJUST_STEP_MA = 0.05

RAMP_MIN_DURATION_S = 30.0
RAMP_MAX_RATE_MA_PER_S = 0.05
STOP_TO_ZERO_MAX_S = 2.0
STOP_RAMP_DURATION_S = 1.5
"""Operator STOP / discomfort ramps to zero over this (inside the 2 s limit with room for the
relay opening)."""

OVER_CURRENT_MARGIN_MA = 0.05
OVER_CURRENT_HOLD_S = 0.050
CONTACT_LOSS_RATIO = 0.5
CONTACT_LOSS_MIN_SETPOINT_MA = 0.05
CONTACT_LOSS_HOLD_S = 0.100
OPEN_CIRCUIT_HOLD_S = 0.020
"""hardware.md 6: V_OUT near compliance and I < 50 % I_set for 2 samples."""
COMPLIANCE_RAIL_V = 28.0
OPEN_CIRCUIT_VOUT_FRACTION = 0.9
COMPLIANCE_WARNING_V = 24.0
COMPLIANCE_SATURATION_V = 26.6
"""95 % of the usable rail: at or above it with the current below the set-point = saturated."""
COMPLIANCE_SATURATION_HOLD_S = 1.0
REGULATION_ERROR_MIN_MA = 0.05
REGULATION_ERROR_FRACTION = 0.10
REGULATION_HOLD_S = 0.500
OFF_STATE_CURRENT_MA = 0.010
QUIET_BEFORE_POLARITY_S = 1.0
SENSOR_STALE_S = 0.100
CURRENT_READING_RANGE_MA = (-0.5, 5.0)
"""Beyond these the shunt ADC is at or near its clip (5.12 mA) or the reading is nonsense."""
ELECTRODE_READING_RANGE_V = (-1.0, 31.5)
BOOST_READING_RANGE_V = (-1.0, 31.8)
SIGN_TOLERANCE_MA = 0.010
SIGN_HOLD_S = 0.020
DAC_READBACK_TOLERANCE_MA = 0.02
DAC_READBACK_TOLERANCE_FRACTION = 0.05
SHORT_LOAD_V = 0.5
SHORT_MIN_CURRENT_MA = 0.5
SHORT_HOLD_S = 0.020
SHUNT_KOHM = 0.1

BOOST_NOMINAL_V = 30.0
BOOST_TOLERANCE_FRACTION = 0.05
BOOST_SETTLE_S = 0.050
RELAY_SETTLE_S = 0.010
DRAIN_TIMEOUT_S = 0.200
TEST_CURRENT_MA = 0.05
TEST_SETTLE_S = 0.050
TEST_SAMPLES = 5
CONTACT_CHECK_SHORT_KOHM = 0.5
AUX_TIMEOUT_S = 0.300
"""How long the core waits for a requested AIN2/AIN3 reading before calling it stale."""

ELECTRODE_SHAPES: tuple[str, ...] = ("pad", "roller", "ball")


def electrode_density_limit_ma_per_cm2(shape: str, indication: str) -> float:
    """Density ceiling for an electrode shape in a program (domain.md 6, current density).

    Fixed pads: 0.1 mA/cm² in programs. A moving roller: 0.3 in disincrustation only (its
    caps keep a stalled roller at 0.3); in any other program it counts as a fixed pad. The eye
    ball electrode: 0.2. An unknown shape gets the strictest value.
    """
    if shape == "roller" and indication == "disincrustation":
        return ROLLER_DISINCRUSTATION_ABSOLUTE_DENSITY_MA_PER_CM2
    if shape == "ball":
        return EYE_BALL_ABSOLUTE_DENSITY_MA_PER_CM2
    return FIXED_PAD_PROGRAM_DENSITY_MA_PER_CM2
