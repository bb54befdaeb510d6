"""The salon's limits: what a technician or salon manager may set, never above the hard bounds.

domain.md 6 and decision 3: per-area current caps (at most the area caps of domain.md 6), the
contact thresholds (start 10-100 kΩ, loss 50-200 kΩ and above the start threshold), the ramp
time (at least 30 s, at most :data:`MAX_RAMP_TIME_S`) and the UI heartbeat timeout (0.5-5 s).
:data:`HARD_BOUNDS` is built from :mod:`kiosk.control.domain_limits` and
:class:`kiosk.control.limits.SafetyConfig`, so there is one definition of each bound.

Checked twice: :func:`check` when a change is asked (command ``SetSalonLimits``: refused whole
with ``salon_limits_refused`` and the field named) and again by :func:`parse` when the file
``salon_limits.toml`` is loaded: a file outside the bounds (a hand edit), with an unknown or
missing key, or failing its checksum is refused and blocks treatments
(``salon_limits_invalid``) until the limits are set again in service mode. No file at all means
the defaults (:data:`DEFAULTS`, the domain values): a salon that never changed anything is not
blocked. Written like the calibration: atomic, 0600, with who changed it, when, and a SHA-256.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from kiosk.control import domain_limits as lim
from kiosk.control.calibration import write_atomic
from kiosk.control.codes import Reason
from kiosk.control.limits import DEFAULT_UI_HEARTBEAT_TIMEOUT_S, SafetyConfig
from kiosk.control.reasons import Code, make
from kiosk.files import InputFileError, read_toml_file

FILE_NAME = "salon_limits.toml"
MAX_FILE_BYTES = 4 * 1024
FORMAT = 1
MAX_RAMP_TIME_S = 120.0
"""A longer ramp is allowed by domain.md 6 (it sets a minimum); 2 min keeps the dose and time
planning of a 1-minute stage meaningful."""

AREA_FIELDS: MappingProxyType[str, str] = MappingProxyType({
    "face": "face_cap_ma", "neck": "neck_cap_ma", "decollete": "decollete_cap_ma",
    "eye_area": "eye_area_cap_ma"})

HARD_BOUNDS: MappingProxyType[str, tuple[float, float]] = MappingProxyType({
    **{name: (lim.MIN_TARGET_MA, lim.AREA_CURRENT_CAP_MA[area])
       for area, name in AREA_FIELDS.items()},
    "contact_start_max_kohm": SafetyConfig.BOUNDS["contact_start_max_kohm"],
    "contact_loss_kohm": SafetyConfig.BOUNDS["contact_loss_kohm"],
    "ramp_time_s": (lim.RAMP_MIN_DURATION_S, MAX_RAMP_TIME_S),
    "ui_heartbeat_timeout_s": SafetyConfig.BOUNDS["ui_heartbeat_timeout_s"],
})
"""Every salon limit's hard bounds (inclusive)."""


@dataclass(frozen=True, slots=True)
class SalonLimits:
    face_cap_ma: float
    neck_cap_ma: float
    decollete_cap_ma: float
    eye_area_cap_ma: float
    contact_start_max_kohm: float
    contact_loss_kohm: float
    ramp_time_s: float
    ui_heartbeat_timeout_s: float
    changed_by: str = ""
    date: str = ""

    def values(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in HARD_BOUNDS}

    def area_cap_ma(self, area: str) -> float | None:
        name = AREA_FIELDS.get(area)
        return None if name is None else float(getattr(self, name))

    def safety_config(self) -> SafetyConfig:
        return SafetyConfig(contact_start_max_kohm=self.contact_start_max_kohm,
                            contact_loss_kohm=self.contact_loss_kohm,
                            ui_heartbeat_timeout_s=self.ui_heartbeat_timeout_s)


DEFAULTS = SalonLimits(
    face_cap_ma=lim.AREA_CURRENT_CAP_MA["face"], neck_cap_ma=lim.AREA_CURRENT_CAP_MA["neck"],
    decollete_cap_ma=lim.AREA_CURRENT_CAP_MA["decollete"],
    eye_area_cap_ma=lim.AREA_CURRENT_CAP_MA["eye_area"],
    contact_start_max_kohm=SafetyConfig().contact_start_max_kohm,
    contact_loss_kohm=SafetyConfig().contact_loss_kohm,
    ramp_time_s=lim.RAMP_MIN_DURATION_S,
    ui_heartbeat_timeout_s=DEFAULT_UI_HEARTBEAT_TIMEOUT_S)
"""The domain values: what a salon that never changed anything runs on."""


def check(values: dict[str, float], *, changed_by: str, date: str) -> SalonLimits | Reason:
    """``values`` as limits, or the refusal naming the first one outside its hard bounds."""
    for name, (low, high) in HARD_BOUNDS.items():
        value = values.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value) or not low - 1e-9 <= value <= high + 1e-9:
            return make(Code.SALON_LIMITS_REFUSED, field=name, value=str(value),
                        allowed=f"{low:g}..{high:g}")
    if values["contact_loss_kohm"] <= values["contact_start_max_kohm"]:
        return make(Code.SALON_LIMITS_REFUSED, field="contact_loss_kohm",
                    value=f"{values['contact_loss_kohm']:g}",
                    allowed=f"above contact_start_max_kohm = "
                            f"{values['contact_start_max_kohm']:g}")
    return SalonLimits(**{name: float(values[name]) for name in HARD_BOUNDS},
                       changed_by=changed_by, date=date)


def changes(old: SalonLimits, new: SalonLimits) -> dict[str, float | str]:
    """Old and new value of every limit that changed (the event's details)."""
    details: dict[str, float | str] = {"changed_by": new.changed_by, "date": new.date}
    for name, value in new.values().items():
        before = old.values()[name]
        if before != value:
            details[f"old_{name}"] = before
            details[f"new_{name}"] = value
    return details


# ------------------------------------------------------------------------------- the file

_TEXT_KEYS = ("changed_by", "date", "checksum")


def _canonical(values: dict[str, float], changed_by: str, date: str) -> str:
    lines = [f"format = {FORMAT}", f"changed_by = {_quoted(changed_by)}",
             f"date = {_quoted(date)}"]
    lines += [f"{name} = {values[name]!r}" for name in HARD_BOUNDS]
    return "\n".join(lines) + "\n"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def checksum(values: dict[str, float], changed_by: str, date: str) -> str:
    return "sha256:" + hashlib.sha256(
        _canonical(values, changed_by, date).encode("utf-8")).hexdigest()


def render(limits: SalonLimits) -> str:
    values = limits.values()
    return ("# Salon limits (kiosk/control/salon_limits.py), set in service mode.\n"
            + _canonical(values, limits.changed_by, limits.date)
            + f"checksum = {_quoted(checksum(values, limits.changed_by, limits.date))}\n")


class SalonLimitsFileError(Exception):
    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.text)
        self.reason = reason


def parse(document: dict[str, Any], path: Path) -> SalonLimits:
    """The limits a file holds, checked against the hard bounds again; refused otherwise."""
    def refuse(problem: str) -> SalonLimitsFileError:
        return SalonLimitsFileError(make(Code.SALON_LIMITS_INVALID, file=str(path),
                                         problem=problem))

    order = ("format", *_TEXT_KEYS, *HARD_BOUNDS)
    unknown = sorted(set(document) - set(order))
    if unknown:
        raise refuse(f"unknown key {unknown[0]} (a key nobody reads is an error)")
    missing = [key for key in order if key not in document]
    if missing:
        raise refuse(f"missing key {missing[0]}")
    if document["format"] != FORMAT or isinstance(document["format"], bool):
        raise refuse(f"format = {document['format']!r}; this software reads format {FORMAT}")
    for key in _TEXT_KEYS:
        if not isinstance(document[key], str) or not document[key].isprintable():
            raise refuse(f"{key} must be text")
    values = {name: document[name] for name in HARD_BOUNDS}
    checked = check(values, changed_by=document["changed_by"], date=document["date"])
    if isinstance(checked, Reason):
        raise refuse(f"{checked.detail('field')} = {checked.detail('value')} is outside "
                     f"{checked.detail('allowed')}")
    if checksum(checked.values(), checked.changed_by, checked.date) != document["checksum"]:
        raise refuse("checksum does not match its values (edited or damaged)")
    return checked


class SalonLimitsStore:
    """``salon_limits.toml`` in the state folder."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / FILE_NAME

    def load(self) -> SalonLimits:
        """The stored limits, :data:`DEFAULTS` when there is no file, SalonLimitsFileError
        when the file is refused."""
        if not self.path.exists() and not self.path.is_symlink():
            return DEFAULTS
        try:
            document, _text = read_toml_file(
                self.path, what="salon limits file", max_bytes=MAX_FILE_BYTES,
                required="a salon limits file is written by the service mode's limits page")
        except InputFileError as error:
            raise SalonLimitsFileError(make(Code.SALON_LIMITS_INVALID, file=str(self.path),
                                            problem=error.problem)) from None
        return parse(document, self.path)

    def save(self, limits: SalonLimits) -> None:
        write_atomic(self.path, render(limits))


def as_details(limits: SalonLimits) -> dict[str, Any]:
    return {**limits.values(), "changed_by": limits.changed_by, "date": limits.date}


__all__ = ["DEFAULTS", "HARD_BOUNDS", "SalonLimits", "SalonLimitsFileError", "SalonLimitsStore",
           "as_details", "changes", "check", "parse", "render"]
