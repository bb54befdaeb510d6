"""Command lines of ``kiosk`` and ``kiosk --headless``, checked when they are parsed.

:func:`parse_headless_args` is the ONE parser of the headless service's arguments (``kiosk
--headless`` today, the ``kiosk-control`` daemon tomorrow): everything it returns is usable as
is. A bad argument is refused here, by argparse, with exit code 2 and a one-line reason, never
later in a timer thread: ``--inject NAME@T`` must name a fault of the simulated board with valid
parameters, at a finite time within :data:`MAX_INJECT_AT_S` seconds of the start.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_INJECT_AT_S = 86_400.0
"""A day: later than any service test needs, and small enough for a timer's wait."""
INJECT_FORMAT = "NAME[:key=value,...]@SECONDS"


def add_board_arguments(parser: argparse.ArgumentParser, *, state_dir_help: str) -> None:
    """The arguments both the kiosk and the headless service take, with the same meaning."""
    parser.add_argument("--sim", action="store_true", help="run on the simulated board")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated board")
    parser.add_argument("--config", type=Path, default=None, metavar="FILE",
                        help="board configuration (TOML): only the keys it changes")
    parser.add_argument("--state-dir", type=Path, default=None, metavar="DIR",
                        help=state_dir_help)


STATE_DIR_HELP = ("state folder: records database and the lock of this instance; it must "
                  "exist (default: $KIOSK_STATE_DIR or /var/lib/kiosk; under --sim a fresh "
                  "temporary folder per run, printed at start-up)")


@dataclass(frozen=True)
class Injection:
    """One ``--inject``: fault ``name`` with ``params``, ``at_s`` seconds after the start."""

    name: str
    params: Mapping[str, Any]
    at_s: float


@dataclass(frozen=True)
class HeadlessArgs:
    sim: bool
    seed: int
    config: Path | None
    state_dir: Path | None
    injections: tuple[Injection, ...] = field(default=())


def headless_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kiosk --headless",
        description="The control service without a screen: self-test, READY, watchdog pings, "
                    "safe state on SIGTERM. Exit codes: docs/exit-codes.md.")
    parser.add_argument("--headless", action="store_true", help=argparse.SUPPRESS)
    add_board_arguments(parser, state_dir_help=STATE_DIR_HELP)
    parser.add_argument("--inject", action="append", default=[], metavar=INJECT_FORMAT,
                        help="simulated board only: inject fault NAME (with its parameters) "
                             "that many seconds after start; repeatable (service tests: a "
                             "stalled loop must stop the pings)")
    return parser


def parse_headless_args(argv: Sequence[str] | None = None) -> HeadlessArgs:
    """Parse and check; a bad argument exits with code 2 and the reason (argparse)."""
    parser = headless_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.inject and not args.sim:
        parser.error("--inject needs --sim (faults exist only on the simulated board)")
    injections: list[Injection] = []
    for text in args.inject:
        try:
            injections.append(parse_injection(text))
        except ValueError as error:
            parser.error(f"--inject {text!r}: {error}")
    return HeadlessArgs(sim=args.sim, seed=args.seed, config=args.config,
                        state_dir=args.state_dir, injections=tuple(injections))


def parse_injection(text: str) -> Injection:
    """``NAME[:key=value,...]@SECONDS`` checked against the simulated board's faults
    (ValueError with what is allowed)."""
    from kiosk.scenario.faults import fault_param_checkers

    spec, at_sign, at_text = text.rpartition("@")
    if not at_sign:
        raise ValueError(f"no @SECONDS; expected {INJECT_FORMAT}")
    try:
        at_s = float(at_text)
    except ValueError:
        raise ValueError(f"time {at_text!r} is not a number; expected {INJECT_FORMAT} with "
                         f"0 <= SECONDS <= {MAX_INJECT_AT_S:g}") from None
    if not math.isfinite(at_s) or not 0.0 <= at_s <= MAX_INJECT_AT_S:
        raise ValueError(f"time {at_text} is out of range; allowed 0..{MAX_INJECT_AT_S:g} s "
                         f"after start")
    name, _, params_text = spec.partition(":")
    checkers = fault_param_checkers()
    if name not in checkers:
        raise ValueError(f"unknown fault {name!r}; faults of the simulated board: "
                         f"{', '.join(checkers)}")
    params: dict[str, Any] = {}
    for item in params_text.split(",") if params_text else ():
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise ValueError(f"parameter {item!r} is not key=value; expected {INJECT_FORMAT}")
        if key in params:
            raise ValueError(f"parameter {key!r} given twice")
        params[key] = _value(value)
    checkers[name](params)
    return Injection(name, params, at_s)


def _value(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text
