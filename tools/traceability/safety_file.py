"""The safety file as data: hazards and safety requirements read from ``requirements.toml``.

Why strict: the matrix is only as trustworthy as the file it starts from. A typo in a hazard
reference, a duplicated ID or a hazard that no requirement controls must stop every test run with
the file, the entry and the key named, rather than produce a matrix that silently proves less.
Parsing is pure (:func:`parse_safety_file` takes the decoded TOML); only :func:`load_safety_file`
touches the disk.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
REQUIREMENT_ID = re.compile(r"^SR-\d{3}$")
HAZARD_ID = re.compile(r"^H-\d{2}$")

# How a requirement is proven. Every requirement is proven by at least one passing test; the
# method says which kind, so the engineer writing the test knows what to build.
VERIFICATION_METHODS: Mapping[str, str] = {
    "sim_fault": "fault injected on the simulated board, outcome on the virtual clock",
    "logic": "pure-logic test of the control core (values in, values out)",
    "ui_tap": "taps on the real Kivy window, assertions on screen and snapshot",
    "process": "a real process: killed, restarted, or watched through sd_notify",
}

_TOP_KEYS = {"schema", "hazard", "requirement"}
_HAZARD_KEYS = {"id", "title"}
_REQUIREMENT_KEYS = {"id", "title", "text", "hazards", "verification", "source", "allocated_to"}


class SafetyFileError(ValueError):
    """The safety file is malformed; the message names the file, the entry and the key."""


@dataclass(frozen=True, slots=True)
class Hazard:
    id: str
    title: str


@dataclass(frozen=True, slots=True)
class Requirement:
    """One testable safety requirement (IEC 62304 software requirement with a risk control)."""

    id: str
    title: str
    text: str  # the requirement itself, with its limit values
    hazards: tuple[str, ...]  # hazard ids it controls
    verification: tuple[str, ...]  # keys of VERIFICATION_METHODS
    source: str  # where the limit values come from, e.g. "domain.md §6"
    allocated_to: tuple[str, ...]  # software items (and hardware) that implement it


@dataclass(frozen=True, slots=True)
class SafetyFile:
    path: str
    hazards: tuple[Hazard, ...]
    requirements: tuple[Requirement, ...]

    @property
    def requirement_ids(self) -> frozenset[str]:
        return frozenset(r.id for r in self.requirements)

    def requirement(self, requirement_id: str) -> Requirement:
        for requirement in self.requirements:
            if requirement.id == requirement_id:
                return requirement
        raise KeyError(requirement_id)

    def requirements_for_hazard(self, hazard_id: str) -> tuple[str, ...]:
        return tuple(r.id for r in self.requirements if hazard_id in r.hazards)


def load_safety_file(path: Path) -> SafetyFile:
    """Read and validate ``path``; raise :class:`SafetyFileError` naming what is wrong."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise SafetyFileError(f"{path}: safety requirements file not found") from None
    except tomllib.TOMLDecodeError as error:
        raise SafetyFileError(f"{path}: not valid TOML: {error}") from None
    return parse_safety_file(data, str(path))


def parse_safety_file(data: Mapping[str, Any], source: str) -> SafetyFile:
    """Validate decoded TOML and build the :class:`SafetyFile`."""
    _reject_unknown_keys(data, _TOP_KEYS, source)
    schema = data.get("schema")
    if schema != SCHEMA_VERSION:
        raise SafetyFileError(f"{source}: key 'schema' must be {SCHEMA_VERSION}, got {schema!r}")
    hazards = tuple(
        _parse_hazard(entry, f"{source}: hazard[{index}]")
        for index, entry in enumerate(_table_list(data, "hazard", source))
    )
    _reject_duplicates([h.id for h in hazards], "hazard", source)
    known_hazards = {h.id for h in hazards}
    requirements = tuple(
        _parse_requirement(entry, f"{source}: requirement[{index}]", known_hazards)
        for index, entry in enumerate(_table_list(data, "requirement", source))
    )
    _reject_duplicates([r.id for r in requirements], "requirement", source)
    controlled = {hazard_id for r in requirements for hazard_id in r.hazards}
    uncontrolled = [h.id for h in hazards if h.id not in controlled]
    if uncontrolled:
        raise SafetyFileError(
            f"{source}: hazard(s) {', '.join(uncontrolled)} have no safety requirement; "
            "every hazard needs at least one"
        )
    return SafetyFile(path=source, hazards=hazards, requirements=requirements)


def _table_list(data: Mapping[str, Any], key: str, source: str) -> list[Mapping[str, Any]]:
    entries = data.get(key)
    if not isinstance(entries, list) or not entries:
        raise SafetyFileError(f"{source}: needs at least one [[{key}]] table")
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise SafetyFileError(f"{source}: {key}[{index}] must be a table")
    return entries


def _parse_hazard(entry: Mapping[str, Any], where: str) -> Hazard:
    _reject_unknown_keys(entry, _HAZARD_KEYS, where)
    hazard_id = _text(entry, "id", where)
    if not HAZARD_ID.match(hazard_id):
        raise SafetyFileError(f"{where}: key 'id' must look like H-01, got {hazard_id!r}")
    return Hazard(id=hazard_id, title=_text(entry, "title", f"{where} ({hazard_id})"))


def _parse_requirement(entry: Mapping[str, Any], where: str,
                       known_hazards: set[str]) -> Requirement:
    _reject_unknown_keys(entry, _REQUIREMENT_KEYS, where)
    requirement_id = _text(entry, "id", where)
    if not REQUIREMENT_ID.match(requirement_id):
        raise SafetyFileError(f"{where}: key 'id' must look like SR-001, got {requirement_id!r}")
    where = f"{where} ({requirement_id})"
    hazards = _text_list(entry, "hazards", where)
    unknown = [h for h in hazards if h not in known_hazards]
    if unknown:
        raise SafetyFileError(
            f"{where}: key 'hazards': unknown hazard(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known_hazards))}"
        )
    verification = _text_list(entry, "verification", where)
    bad_methods = [m for m in verification if m not in VERIFICATION_METHODS]
    if bad_methods:
        raise SafetyFileError(
            f"{where}: key 'verification': unknown method(s) {', '.join(bad_methods)}; "
            f"allowed: {', '.join(VERIFICATION_METHODS)}"
        )
    return Requirement(
        id=requirement_id,
        title=_text(entry, "title", where),
        text=" ".join(_text(entry, "text", where).split()),
        hazards=hazards,
        verification=verification,
        source=_text(entry, "source", where),
        allocated_to=_text_list(entry, "allocated_to", where),
    )


def _text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise SafetyFileError(f"{where}: key '{key}' must be a non-empty string")
    return value.strip()


def _text_list(entry: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = entry.get(key)
    if (not isinstance(value, list) or not value
            or not all(isinstance(item, str) and item.strip() for item in value)):
        raise SafetyFileError(f"{where}: key '{key}' must be a non-empty list of strings")
    return tuple(item.strip() for item in value)


def _reject_unknown_keys(entry: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise SafetyFileError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )


def _reject_duplicates(ids: Sequence[str], kind: str, source: str) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise SafetyFileError(f"{source}: {kind} id {item} appears more than once")
        seen.add(item)
