"""Scenario files: one treatment on the simulated board, with scheduled events and expectations.

The format (TOML) is written for people, so every mistake names the file, the line and the key:
a TOML syntax error (tomllib's line and column), an unknown table or key, a wrong type, a value
out of range, an unknown event kind or event parameter. A scenario that would silently test
something else than its author meant is worse than none.

```toml
name = "contact lost at plateau"
seed = 7                 # ADC noise; same seed, same run
autostart = true         # default: the treatment starts by itself at t = 0
duration_s = 200         # optional: simulate exactly this long (else: until it is over)
[program]                # omitted keys take the catalogue default for area + indication
area = "face"
indication = "pigmentation"
current_ma = 0.6
current_stage_s = 120
[load]                   # hardware.md 6 skin model; omitted = nominal
rs_ohm = 1000
rp_ohm = 20000
cp_nf = 47
[[event]]
at_s = 60.0
kind = "contact_loss"    # a fault of the simulated board, or an operator action
[expect]
final_state = "fault"
fault = "contact_lost"
max_safe_after_ms = 100
```
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.control.commands import Polarity, StopReason
from kiosk.control.reasons import CATALOGUE, FAULT_CODES, Kind
from kiosk.control.snapshot import TreatmentState
from kiosk.files import BadInput, InputFileError, one_line, parse_toml, read_text_file

AREAS = ("face", "neck", "decollete", "eye_area")
INDICATIONS = ("disincrustation", "pigmentation", "ageing", "puffiness", "dry_skin")
STATES = tuple(state.value for state in TreatmentState)
MAX_DURATION_S = 3600.0  # a session is at most 30 min; an hour bounds any scenario


MAX_SCENARIO_BYTES = 256 * 1024
"""The largest shipped scenario is under 1 KiB; a quarter of a MiB is thousands of events."""
_REQUIRED = ("a scenario file needs at least a [program] table with area and indication "
             "(see kiosk/scenario/spec.py for the format)")


class ScenarioError(BadInput):
    """A scenario file that cannot be run as written; the one-line message names file, line and
    key (a :class:`~kiosk.files.BadInput`: exit code 2)."""

    def __init__(self, path: Path | str, line: int | None, key: str, message: str) -> None:
        where = f"{path}:{line}" if line else f"{path}"
        super().__init__(one_line(f"{where}: {key}: {message}" if key else f"{where}: {message}"))
        self.path = str(path)
        self.line = line
        self.key = key


# ---------------------------------------------------------------------------- event kinds

@dataclass(frozen=True)
class Param:
    """One parameter of an operator action."""

    kind: type
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    required: bool = False


OPERATOR_ACTIONS: dict[str, dict[str, Param]] = {
    # Stop: "operator" (STOP button) or "client_discomfort" (the client feels burning).
    "operator_stop": {"reason": Param(str, choices=tuple(r.value for r in StopReason))},
    "operator_pause": {},
    "operator_resume": {},
    # Acknowledge the latched fault; ``code`` defaults to the fault latched at that moment.
    "operator_ack": {"code": Param(str)},
    # A new StartTreatment with the scenario's program (same session unless ``new_session``).
    "operator_start": {"new_session": Param(bool)},
    "current_up": {"steps": Param(int, 1, 40)},  # AdjustCurrent(+0.05 mA x steps)
    "current_down": {"steps": Param(int, 1, 40)},
    # The UI stops sending heartbeats (for ``ms``, or for good when omitted).
    "ui_freeze": {"ms": Param(float, 1.0, MAX_DURATION_S * 1000.0)},
    # Undo a fault of the simulated board that can be undone: clear(fault).
    "clear": {"fault": Param(str, required=True)},
}


@dataclass(frozen=True)
class ScenarioEvent:
    at_s: float
    kind: str
    params: Mapping[str, Any]
    line: int | None
    is_fault: bool  # a fault injection of the simulated board (else an operator action)
    index: int = 0  # position in the file (0-based), for messages


# ---------------------------------------------------------------------------- tables

@dataclass(frozen=True)
class ProgramSpec:
    """The ``[program]`` table: what the beautician chose (None: catalogue default)."""

    area: str
    indication: str
    current_ma: float | None = None
    current_stage_s: float | None = None
    electrode_id: str | None = None
    polarity: Polarity | None = None
    reduced_caps: bool = False
    caution_acknowledged: bool = False
    second_phase: bool = False
    screening_cleared: bool = True
    session_id: str = "scenario"


@dataclass(frozen=True)
class Expectation:
    """The ``[expect]`` table; every key is optional and each one present must hold."""

    final_state: str | None = None
    fault: str | None = None  # the first latched fault's code; "none": no fault at all
    faults: tuple[str, ...] | None = None  # every latched fault's code, in order
    max_safe_after_ms: float | None = None  # every fault: relay open AND DAC at zero
    max_relay_open_after_ms: float | None = None  # every fault: K1 contacts open (a dead DAC
    #                                               never reaches zero; the relay still opens)
    max_peak_current_ma: float | None = None
    max_true_peak_current_ma: float | None = None
    min_dose_ma_min: float | None = None
    max_dose_ma_min: float | None = None
    max_regulation_error_ma: float | None = None
    min_hold_s: float | None = None  # the plateau lasted at least this long
    refusal: str | None = None  # some command was refused with this code
    max_overruns: int | None = None

    @property
    def is_empty(self) -> bool:
        return all(getattr(self, name) is None for name in self.__dataclass_fields__)


@dataclass(frozen=True)
class Scenario:
    path: str
    name: str
    seed: int
    autostart: bool
    duration_s: float | None
    program: ProgramSpec
    load: Mapping[str, float]
    events: tuple[ScenarioEvent, ...]
    expect: Expectation
    lines: Mapping[tuple[str, ...], int] = field(default_factory=dict, repr=False)

    def line_of(self, *key: str) -> int | None:
        """Line of ``key`` (e.g. ``("program", "current_ma")``), or of its table."""
        for depth in range(len(key), 0, -1):
            line = self.lines.get(tuple(key[:depth]))
            if line is not None:
                return line
        return None


# ---------------------------------------------------------------------------- parsing

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\" ]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+|\"[^\"]+\")\s*=")


def locate_keys(text: str) -> dict[tuple[str, ...], int]:
    """Line numbers (1-based) of tables and keys: ``("program",)``, ``("event", "2", "kind")``.

    tomllib reports positions only for syntax errors; a bad value in a valid file still has to
    be shown where it is. Covers what scenario files use (tables, arrays of tables, plain keys).
    """
    lines: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    array_counts: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(raw)
        if header:
            name = header.group(2).strip().strip('"')
            if header.group(1) == "[[":
                index = array_counts.get(name, 0)
                array_counts[name] = index + 1
                table = (name, str(index))
            else:
                table = (name,)
            lines.setdefault(table, number)
            continue
        key = _KEY.match(raw)
        if key:
            lines.setdefault((*table, key.group(1).strip('"')), number)
    return lines


class _Reader:
    """Typed access to one table, with errors that name the line and the key."""

    def __init__(self, path: str, lines: Mapping[tuple[str, ...], int]) -> None:
        self.path = path
        self.lines = lines

    def error(self, where: tuple[str, ...], message: str) -> ScenarioError:
        line = None
        for depth in range(len(where), 0, -1):
            line = self.lines.get(where[:depth])
            if line is not None:
                break
        shown = _shown_key(where)
        return ScenarioError(self.path, line, shown, message)

    def table(self, raw: Mapping[str, Any], key: str, where: tuple[str, ...]) -> dict[str, Any]:
        value = raw.get(key, {})
        if not isinstance(value, dict):
            raise self.error((*where, key), f"must be a table ([{key}]), got {_kind(value)}")
        return value

    def check_keys(self, table: Mapping[str, Any], allowed: tuple[str, ...],
                   where: tuple[str, ...]) -> None:
        for key in table:
            if key not in allowed:
                raise self.error((*where, key), f"unknown key; allowed here: "
                                 f"{', '.join(allowed)}")

    def text(self, table: Mapping[str, Any], key: str, where: tuple[str, ...], *,
             choices: tuple[str, ...] = (), default: str | None = None) -> str | None:
        if key not in table:
            return default
        value = table[key]
        if not isinstance(value, str):
            raise self.error((*where, key), f"must be a string, got {_kind(value)}")
        if choices and value not in choices:
            raise self.error((*where, key), f"{value!r} is not one of {', '.join(choices)}")
        return value

    def number(self, table: Mapping[str, Any], key: str, where: tuple[str, ...], *,
               minimum: float, maximum: float, unit: str = "") -> float | None:
        if key not in table:
            return None
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value):
            raise self.error((*where, key), f"must be a number, got {_kind(value)}")
        if not minimum <= value <= maximum:
            suffix = f" {unit}" if unit else ""
            raise self.error((*where, key), f"{value:g} is out of range "
                             f"{minimum:g}..{maximum:g}{suffix}")
        return float(value)

    def integer(self, table: Mapping[str, Any], key: str, where: tuple[str, ...], *,
                minimum: int, maximum: int) -> int | None:
        if key not in table:
            return None
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error((*where, key), f"must be an integer, got {_kind(value)}")
        if not minimum <= value <= maximum:
            raise self.error((*where, key), f"{value} is out of range {minimum}..{maximum}")
        return value

    def flag(self, table: Mapping[str, Any], key: str, where: tuple[str, ...],
             default: bool) -> bool:
        if key not in table:
            return default
        value = table[key]
        if not isinstance(value, bool):
            raise self.error((*where, key), f"must be true or false, got {_kind(value)}")
        return value


def _shown_key(where: tuple[str, ...]) -> str:
    if not where:
        return ""
    if len(where) >= 2 and where[1].isdigit():  # ("event", "2", "kind") -> [[event]] #3 kind
        rest = ".".join(where[2:])
        return f"[[{where[0]}]] #{int(where[1]) + 1}" + (f" {rest}" if rest else "")
    if len(where) == 1:
        return where[0]
    return f"[{where[0]}] {'.'.join(where[1:])}"


def _kind(value: object) -> str:
    return f"{type(value).__name__} {value!r}"


_TOP_KEYS = ("name", "seed", "autostart", "duration_s", "program", "load", "event", "expect")
_PROGRAM_KEYS = ("area", "indication", "current_ma", "current_stage_s", "electrode_id",
                 "polarity", "reduced_caps", "caution_acknowledged", "second_phase",
                 "screening_cleared", "session_id")
# hardware.md 6 ranges, a little wider so a scenario can probe just outside "normal" skin.
LOAD_RANGES: dict[str, tuple[float, float, str]] = {
    "rs_ohm": (100.0, 5_000.0, "Ohm"),
    "rp_ohm": (1_000.0, 1_000_000.0, "Ohm"),
    "cp_nf": (1.0, 1_000.0, "nF"),
    "e_pol_v": (0.0, 2.0, "V"),
    "rp_final_fraction": (0.05, 1.0, ""),
    "hydration_tau_s": (10.0, 3_600.0, "s"),
    "polarisation_tau_s": (1.0, 600.0, "s"),
}
_EXPECT_NUMBERS: dict[str, tuple[float, float, str]] = {
    "max_safe_after_ms": (0.0, 10_000.0, "ms"),
    "max_relay_open_after_ms": (0.0, 10_000.0, "ms"),
    "max_peak_current_ma": (0.0, 10.0, "mA"),
    "max_true_peak_current_ma": (0.0, 10.0, "mA"),
    "min_dose_ma_min": (0.0, 100.0, "mA·min"),
    "max_dose_ma_min": (0.0, 100.0, "mA·min"),
    "max_regulation_error_ma": (0.0, 10.0, "mA"),
    "min_hold_s": (0.0, MAX_DURATION_S, "s"),
}


def load_scenario(path: Path | str, *, fault_params: Mapping[str, Callable[[dict[str, Any]],
                                                                          None]]) -> Scenario:
    """Read and check a scenario file. ``fault_params`` maps each fault name of the simulated
    board to a checker of its parameters (raising ValueError with the reason)."""
    path_text = str(path)
    try:  # the shared reader: size limit before reading, UTF-8, not binary, not empty
        text = read_text_file(path, what="scenario file", max_bytes=MAX_SCENARIO_BYTES,
                              required=_REQUIRED)
    except InputFileError as error:
        raise ScenarioError(path_text, error.line, "", error.problem) from None
    return parse_scenario(text, path_text, fault_params=fault_params)


def parse_scenario(text: str, path: str, *,
                   fault_params: Mapping[str, Callable[[dict[str, Any]], None]]) -> Scenario:
    try:
        raw = parse_toml(text, path, what="scenario file")
    except InputFileError as error:
        raise ScenarioError(path, error.line, "", error.problem) from None
    lines = locate_keys(text)
    r = _Reader(path, lines)
    r.check_keys(raw, _TOP_KEYS, ())
    name = r.text(raw, "name", (), default=Path(path).stem) or Path(path).stem
    seed = r.integer(raw, "seed", (), minimum=0, maximum=2**32 - 1) or 0
    autostart = r.flag(raw, "autostart", (), True)
    duration_s = r.number(raw, "duration_s", (), minimum=0.01, maximum=MAX_DURATION_S,
                          unit="s")
    program = _program(r, r.table(raw, "program", ()))
    load = _load(r, r.table(raw, "load", ()))
    events = _events(r, raw.get("event", []), fault_params)
    expect = _expect(r, r.table(raw, "expect", ()))
    if duration_s is not None:
        for event in events:
            if event.at_s > duration_s:
                raise r.error(("event", str(event.index), "at_s"),
                              f"{event.at_s:g} s is after duration_s = {duration_s:g} s")
    return Scenario(path=path, name=name, seed=seed, autostart=autostart,
                    duration_s=duration_s, program=program, load=load, events=events,
                    expect=expect, lines=lines)


def _program(r: _Reader, table: dict[str, Any]) -> ProgramSpec:
    where = ("program",)
    r.check_keys(table, _PROGRAM_KEYS, where)
    area = r.text(table, "area", where, choices=AREAS)
    indication = r.text(table, "indication", where, choices=INDICATIONS)
    if area is None:
        raise r.error(where, f"area is required ({', '.join(AREAS)})")
    if indication is None:
        raise r.error(where, f"indication is required ({', '.join(INDICATIONS)})")
    polarity_text = r.text(table, "polarity", where, choices=tuple(p.value for p in Polarity))
    return ProgramSpec(
        area=area, indication=indication,
        current_ma=r.number(table, "current_ma", where, minimum=0.0, maximum=10.0, unit="mA"),
        current_stage_s=r.number(table, "current_stage_s", where, minimum=0.0,
                                 maximum=MAX_DURATION_S, unit="s"),
        electrode_id=r.text(table, "electrode_id", where),
        polarity=Polarity(polarity_text) if polarity_text is not None else None,
        reduced_caps=r.flag(table, "reduced_caps", where, False),
        caution_acknowledged=r.flag(table, "caution_acknowledged", where, False),
        second_phase=r.flag(table, "second_phase", where, False),
        screening_cleared=r.flag(table, "screening_cleared", where, True),
        session_id=r.text(table, "session_id", where, default="scenario") or "scenario",
    )


def _load(r: _Reader, table: dict[str, Any]) -> dict[str, float]:
    where = ("load",)
    r.check_keys(table, tuple(LOAD_RANGES), where)
    load: dict[str, float] = {}
    for key, (low, high, unit) in LOAD_RANGES.items():
        value = r.number(table, key, where, minimum=low, maximum=high, unit=unit)
        if value is not None:
            load[key] = value
    return load


def _events(r: _Reader, raw_events: object,
            fault_params: Mapping[str, Callable[[dict[str, Any]], None]]
            ) -> tuple[ScenarioEvent, ...]:
    if not isinstance(raw_events, list):
        raise r.error(("event",), "must be an array of tables ([[event]])")
    kinds = (*OPERATOR_ACTIONS, *fault_params)
    events: list[ScenarioEvent] = []
    for index, table in enumerate(raw_events):
        where = ("event", str(index))
        if not isinstance(table, dict):
            raise r.error(where, "each [[event]] must be a table")
        at_s = r.number(table, "at_s", where, minimum=0.0, maximum=MAX_DURATION_S, unit="s")
        if at_s is None:
            raise r.error(where, "at_s is required (seconds from the start)")
        kind = r.text(table, "kind", where)
        if kind is None:
            raise r.error(where, f"kind is required; one of: {', '.join(kinds)}")
        if kind not in kinds:
            raise r.error((*where, "kind"), f"unknown event kind {kind!r}; valid kinds: "
                          f"{', '.join(kinds)}")
        params = {key: value for key, value in table.items() if key not in ("at_s", "kind")}
        line = r.lines.get(where)
        if kind in OPERATOR_ACTIONS:
            _check_action(r, kind, params, where)
            if kind == "clear" and params["fault"] not in fault_params:
                raise r.error((*where, "fault"), f"unknown fault {params['fault']!r}; faults: "
                              f"{', '.join(fault_params)}")
            events.append(ScenarioEvent(at_s, kind, params, line, is_fault=False, index=index))
        else:
            try:
                fault_params[kind](dict(params))
            except ValueError as error:
                bad = next((key for key in params if key in str(error)), "kind")
                raise r.error((*where, bad), str(error)) from error
            events.append(ScenarioEvent(at_s, kind, params, line, is_fault=True, index=index))
    events.sort(key=lambda event: event.at_s)  # stable: same time keeps file order
    return tuple(events)


def _check_action(r: _Reader, kind: str, params: Mapping[str, Any],
                  where: tuple[str, ...]) -> None:
    spec = OPERATOR_ACTIONS[kind]
    for key in params:
        if key not in spec:
            allowed = ", ".join(spec) or "no parameters"
            raise r.error((*where, key), f"{kind} does not take {key!r} (allowed: {allowed})")
        param = spec[key]
        if param.kind is bool:
            r.flag(params, key, where, False)
        elif param.kind is int:
            assert param.minimum is not None and param.maximum is not None
            r.integer(params, key, where, minimum=int(param.minimum), maximum=int(param.maximum))
        elif param.kind is float:
            assert param.minimum is not None and param.maximum is not None
            r.number(params, key, where, minimum=param.minimum, maximum=param.maximum)
        else:
            r.text(params, key, where, choices=param.choices)
    for key, param in spec.items():
        if param.required and key not in params:
            raise r.error(where, f"{kind} needs {key!r}")


def _expect(r: _Reader, table: dict[str, Any]) -> Expectation:
    where = ("expect",)
    allowed = tuple(Expectation.__dataclass_fields__)
    r.check_keys(table, allowed, where)
    numbers = {key: r.number(table, key, where, minimum=low, maximum=high, unit=unit)
               for key, (low, high, unit) in _EXPECT_NUMBERS.items()}
    faults: tuple[str, ...] | None = None
    if "faults" in table:
        value = table["faults"]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise r.error((*where, "faults"), "must be a list of fault codes")
        faults = tuple(value)
    fault_choices = tuple(sorted(FAULT_CODES))
    for code in faults or ():
        if code not in FAULT_CODES:
            raise r.error((*where, "faults"), f"{code!r} is not a fault code; fault codes: "
                          f"{', '.join(fault_choices)}")
    refusals = tuple(sorted(spec.code.value for spec in CATALOGUE.values()
                            if spec.kind is Kind.REFUSAL))
    return Expectation(
        final_state=r.text(table, "final_state", where, choices=STATES),
        fault=r.text(table, "fault", where, choices=("none", *fault_choices)),
        faults=faults,
        refusal=r.text(table, "refusal", where, choices=refusals),
        max_overruns=r.integer(table, "max_overruns", where, minimum=0, maximum=1_000_000),
        **numbers,
    )
