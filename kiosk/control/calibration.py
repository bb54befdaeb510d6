"""The maintenance calibration: two points against a reference resistor and the technician's meter.

What it calibrates (hardware.md 5): the set-point DAC (code -> current, ``ua_per_lsb`` and
``offset_ua``), the shunt channel AIN0 (``current_gain``, ``current_offset_ma`` applied to the
nominal reading) and the electrode-voltage channel AIN1 (``electrode_gain``,
``electrode_offset_v``: the ADS1115's input impedance reads the node ~1.1 % low). The boost
(AIN2) and set-point readback (AIN3) channels keep their stored values (no meter reads them).

How the two points become gain and offset: at each point the control layer holds a fixed DAC
code into the reference resistor and averages its own NOMINAL readings (the calibrated readings
turned back with the calibration in force); the technician types the meter's current and the
voltage across the electrodes. Then ``true = gain x nominal + offset`` through both points, per
channel; the node voltage the meter cannot see is its reading plus ``I x RSHUNT``. Every figure
is checked against :data:`BOUNDS` (a gain 10 % off the design is a broken part or a typo, not a
calibration) and the points must lie :data:`MIN_POINT_SPAN_MA` apart.

The file (``calibration.toml`` in the state directory) is written atomically (temporary file,
fsync, rename, fsync of the folder), 0600, with the date, the technician and a SHA-256 of its
values; read back through :mod:`kiosk.files` with a size limit. Every key must be known and
present: an unknown, missing, out-of-bounds or checksum-failing file is *refused*, never
repaired, and a refused or missing file blocks treatments (``calibration_missing``,
``calibration_invalid``) until a technician calibrates. The simulated board ships the design
values as its factory calibration (:func:`factory_calibration`), installed into a state folder
that has none, so a newcomer with ``kiosk --sim`` is not blocked.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from kiosk.control import domain_limits as lim
from kiosk.control.codes import Reason
from kiosk.control.reasons import Code, make
from kiosk.files import InputFileError, read_toml_file
from kiosk.hal.adc import AdcCalibration
from kiosk.hal.dac import DacCalibration

if TYPE_CHECKING:
    from kiosk.hal.config import BoardConfig

FILE_NAME = "calibration.toml"
MAX_FILE_BYTES = 4 * 1024
"""The file is about 700 bytes; anything larger is not a calibration."""
FORMAT = 1
FACTORY = "factory"
"""The technician name of the design-value calibration the simulated board ships."""

BOUNDS: MappingProxyType[str, tuple[float, float]] = MappingProxyType({
    "dac_ua_per_lsb": (0.55, 0.70),  # design 0.6197: 3V3_A 3.0-3.6 V, 0.1 % resistors
    "dac_offset_ua": (-50.0, 50.0),
    "current_gain": (0.9, 1.1),  # shunt 0.1 %, ADC gain 0.15 %: a 10 % error is a fault
    "current_offset_ma": (-0.05, 0.05),
    "electrode_gain": (0.9, 1.1),  # ADC input loading reads ~1.1 % low (hardware.md 5)
    "electrode_offset_v": (-1.0, 1.0),
    "boost_gain": (0.9, 1.1),
    "boost_offset_v": (-1.0, 1.0),
    "setpoint_gain": (0.9, 1.1),
    "setpoint_offset_ma": (-0.05, 0.05),
})
"""Plausible range of every calibrated figure; outside it the calibration is refused."""

MIN_POINT_SPAN_MA = 0.5
"""The two points' meter currents must differ by at least this, or the slope is noise."""
METER_CURRENT_RANGE_MA = (0.05, lim.DAC_RANGE_MAX_MA)
METER_VOLTAGE_RANGE_V = (0.0, 30.0)


@dataclass(frozen=True, slots=True)
class Calibration:
    """The calibration in force: ten figures, who made it and when (ISO 8601, UTC)."""

    dac_ua_per_lsb: float
    dac_offset_ua: float
    current_gain: float
    current_offset_ma: float
    electrode_gain: float
    electrode_offset_v: float
    boost_gain: float
    boost_offset_v: float
    setpoint_gain: float
    setpoint_offset_ma: float
    technician: str
    date: str

    def figures(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in BOUNDS}

    def dac(self) -> DacCalibration:
        return DacCalibration(ua_per_lsb=self.dac_ua_per_lsb, offset_ua=self.dac_offset_ua)

    def adc(self, config: BoardConfig) -> AdcCalibration:
        f = config.frontend
        return AdcCalibration(
            shunt_ohm=f.rshunt_ohm, rset_ohm=f.rset_ohm,
            electrode_divider_ratio=config.vout_divider_ratio,
            boost_divider_ratio=config.vout_divider_ratio,
            current_gain=self.current_gain, current_offset_ma=self.current_offset_ma,
            electrode_gain=self.electrode_gain, electrode_offset_v=self.electrode_offset_v,
            boost_gain=self.boost_gain, boost_offset_v=self.boost_offset_v,
            setpoint_gain=self.setpoint_gain, setpoint_offset_ma=self.setpoint_offset_ma)

    @property
    def ma_per_code(self) -> float:
        return self.dac_ua_per_lsb / 1000.0

    def nominal_current_ma(self, calibrated_ma: float) -> float:
        """The reading before this calibration's gain and offset (what AIN0 says by design)."""
        return (calibrated_ma - self.current_offset_ma) / self.current_gain

    def nominal_node_v(self, calibrated_v: float) -> float:
        return (calibrated_v - self.electrode_offset_v) / self.electrode_gain

    def code_for_current_ma(self, current_ma: float) -> int:
        return self.dac().code_for_current_ma(current_ma)


def design_ua_per_lsb(config: BoardConfig) -> float:
    """hardware.md 5: VDD / 4096 x the VSET divider / Rset, in uA per code (0.6197)."""
    f = config.frontend
    return f.dac_vdd_v / 4096.0 * config.vset_divider_ratio / f.rset_ohm * 1e6


def factory_calibration(config: BoardConfig, date: str = "") -> Calibration:
    """The design values: what a board is before anyone measured it."""
    return Calibration(
        dac_ua_per_lsb=round(design_ua_per_lsb(config), 6), dac_offset_ua=0.0,
        current_gain=1.0, current_offset_ma=0.0, electrode_gain=1.0, electrode_offset_v=0.0,
        boost_gain=1.0, boost_offset_v=0.0, setpoint_gain=1.0, setpoint_offset_ma=0.0,
        technician=FACTORY, date=date)


def out_of_bounds(figures: dict[str, float]) -> tuple[str, float, float, float] | None:
    """The first figure outside :data:`BOUNDS` as (name, value, low, high), else None."""
    for name, (low, high) in BOUNDS.items():
        value = figures[name]
        if not (math.isfinite(value) and low <= value <= high):
            return name, value, low, high
    return None


# ------------------------------------------------------------------------------- the fit


@dataclass(frozen=True, slots=True)
class PointReading:
    """One calibration point as the device saw it (nominal units, averaged)."""

    dac_code: int
    nominal_current_ma: float
    nominal_node_v: float


@dataclass(frozen=True, slots=True)
class MeterFigures:
    """What the technician typed for one point: the meter's current and electrode voltage."""

    current_ma: float
    voltage_v: float


def _line(x1: float, y1: float, x2: float, y2: float) -> tuple[float, float]:
    gain = (y2 - y1) / (x2 - x1)
    return gain, y1 - gain * x1


def fit(points: tuple[PointReading, PointReading], meter: tuple[MeterFigures, MeterFigures],
        previous: Calibration, *, technician: str, date: str, shunt_ohm: float
        ) -> Calibration | Reason:
    """The calibration through both points, or the refusal that names what is implausible."""
    for index, figure in enumerate(meter, start=1):
        low, high = METER_CURRENT_RANGE_MA
        if not (math.isfinite(figure.current_ma) and low <= figure.current_ma <= high):
            return make(Code.CALIBRATION_REFUSED, field=f"point {index} current_ma",
                        value=f"{figure.current_ma:g}", allowed=f"{low:g}..{high:g}")
        low, high = METER_VOLTAGE_RANGE_V
        if not (math.isfinite(figure.voltage_v) and low <= figure.voltage_v <= high):
            return make(Code.CALIBRATION_REFUSED, field=f"point {index} voltage_v",
                        value=f"{figure.voltage_v:g}", allowed=f"{low:g}..{high:g}")
    (p1, p2), (m1, m2) = points, meter
    span = abs(m2.current_ma - m1.current_ma)
    if span < MIN_POINT_SPAN_MA or p1.dac_code == p2.dac_code \
            or abs(p2.nominal_current_ma - p1.nominal_current_ma) < MIN_POINT_SPAN_MA / 2:
        return make(Code.CALIBRATION_REFUSED, field="points", value=f"{span:.3f} mA apart",
                    allowed=f">= {MIN_POINT_SPAN_MA:g} mA apart")
    dac_gain, dac_offset = _line(p1.dac_code, m1.current_ma * 1000.0,
                                 p2.dac_code, m2.current_ma * 1000.0)
    current_gain, current_offset = _line(p1.nominal_current_ma, m1.current_ma,
                                         p2.nominal_current_ma, m2.current_ma)
    node1 = m1.voltage_v + m1.current_ma * shunt_ohm / 1000.0
    node2 = m2.voltage_v + m2.current_ma * shunt_ohm / 1000.0
    if abs(p2.nominal_node_v - p1.nominal_node_v) < 1.0:
        return make(Code.CALIBRATION_REFUSED, field="voltage points",
                    value=f"{abs(p2.nominal_node_v - p1.nominal_node_v):.2f} V apart",
                    allowed=">= 1 V apart")
    electrode_gain, electrode_offset = _line(p1.nominal_node_v, node1, p2.nominal_node_v, node2)
    new = replace(previous, dac_ua_per_lsb=dac_gain, dac_offset_ua=dac_offset,
                  current_gain=current_gain, current_offset_ma=current_offset,
                  electrode_gain=electrode_gain, electrode_offset_v=electrode_offset,
                  technician=technician, date=date)
    bad = out_of_bounds(new.figures())
    if bad is not None:
        name, value, low, high = bad
        return make(Code.CALIBRATION_REFUSED, field=name, value=f"{value:.6g}",
                    allowed=f"{low:g}..{high:g}")
    return new


def changes(old: Calibration | None, new: Calibration) -> dict[str, float | str]:
    """Old and new value of every figure, for the event log (``old_x``, ``new_x``)."""
    details: dict[str, float | str] = {"technician": new.technician, "date": new.date}
    for name, value in new.figures().items():
        details[f"old_{name}"] = round(old.figures()[name], 6) if old is not None else "none"
        details[f"new_{name}"] = round(value, 6)
    return details


# ------------------------------------------------------------------------------- the file


class CalibrationFileError(Exception):
    """The file cannot be used; ``reason`` is the refusal treatments get."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.text)
        self.reason = reason


def _canonical(figures: dict[str, float], technician: str, date: str) -> str:
    lines = [f"format = {FORMAT}", f"technician = {_toml_text(technician)}",
             f"date = {_toml_text(date)}"]
    lines += [f"{name} = {figures[name]!r}" for name in BOUNDS]
    return "\n".join(lines) + "\n"


def _toml_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def checksum(figures: dict[str, float], technician: str, date: str) -> str:
    return "sha256:" + hashlib.sha256(
        _canonical(figures, technician, date).encode("utf-8")).hexdigest()


def render(cal: Calibration) -> str:
    figures = cal.figures()
    head = ("# Maintenance calibration (kiosk/control/calibration.py). Written by the device:\n"
            "# do not edit; a changed value fails its checksum and blocks treatments.\n")
    return head + _canonical(figures, cal.technician, cal.date) + \
        f"checksum = {_toml_text(checksum(figures, cal.technician, cal.date))}\n"


_TEXT_KEYS = ("technician", "date", "checksum")
_REQUIRED = "a calibration file is written by the device's calibration procedure"


def parse(document: dict[str, Any], path: Path) -> Calibration:
    """The calibration a file's TOML document holds; CalibrationFileError when refused."""
    def refuse(problem: str) -> CalibrationFileError:
        return CalibrationFileError(make(Code.CALIBRATION_INVALID, file=str(path),
                                         problem=problem))

    known = {"format", *_TEXT_KEYS, *BOUNDS}
    unknown = sorted(set(document) - known)
    if unknown:
        raise refuse(f"unknown key {unknown[0]} (a key nobody reads is an error)")
    missing = [key for key in ("format", *_TEXT_KEYS, *BOUNDS) if key not in document]
    if missing:
        raise refuse(f"missing key {missing[0]}")
    if document["format"] != FORMAT or isinstance(document["format"], bool):
        raise refuse(f"format = {document['format']!r}; this software reads format {FORMAT}")
    for key in _TEXT_KEYS:
        if not isinstance(document[key], str) or not document[key].isprintable():
            raise refuse(f"{key} must be text")
    figures: dict[str, float] = {}
    for name in BOUNDS:
        value = document[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise refuse(f"{name} = {value!r} must be a number")
        figures[name] = float(value)
    if checksum(figures, document["technician"], document["date"]) != document["checksum"]:
        raise refuse("checksum does not match its values (edited or damaged)")
    bad = out_of_bounds(figures)
    if bad is not None:
        name, value, low, high = bad
        raise refuse(f"{name} = {value:g} is outside {low:g}..{high:g}")
    return Calibration(**figures, technician=document["technician"], date=document["date"])


class CalibrationStore:
    """``calibration.toml`` in the state folder: load (refusing anything doubtful) and save."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / FILE_NAME

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> Calibration:
        """The stored calibration; CalibrationFileError (missing, unreadable, refused)."""
        if not self.path.exists() and not self.path.is_symlink():
            raise CalibrationFileError(make(Code.CALIBRATION_MISSING, file=str(self.path)))
        try:
            document, _text = read_toml_file(self.path, what="calibration file",
                                             max_bytes=MAX_FILE_BYTES, required=_REQUIRED)
        except InputFileError as error:
            raise CalibrationFileError(make(Code.CALIBRATION_INVALID, file=str(self.path),
                                            problem=error.problem)) from None
        return parse(document, self.path)

    def save(self, cal: Calibration) -> None:
        """Atomic: a temporary file in the same folder, fsync, rename, fsync of the folder;
        0600. OSError when the folder cannot take it (the caller refuses the calibration)."""
        write_atomic(self.path, render(cal))


def write_atomic(path: Path, text: str) -> None:
    """``text`` into ``path`` so that a reader sees the old file or the new one, never half."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def as_details(cal: Calibration) -> dict[str, Any]:
    """The calibration as plain values (the ``calibration`` query)."""
    return {**cal.figures(), "technician": cal.technician, "date": cal.date}


__all__ = ["BOUNDS", "FILE_NAME", "Calibration", "CalibrationFileError",
           "CalibrationStore", "MeterFigures", "PointReading", "as_details", "changes",
           "factory_calibration", "fit", "parse", "render"]
