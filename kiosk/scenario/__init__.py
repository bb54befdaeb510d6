"""``kiosk-scenario FILE.toml [--realtime] [--trace OUT.csv]``: one treatment on the simulated
board with scheduled events; prints one JSON object on stdout.

Exit codes (the same on every entry point: docs/exit-codes.md): 0 when the scenario's
``[expect]`` holds and no fault latched that it does not name; 1 when it does not (each miss on
stderr, an unexpected fault by its code); 2 for a file or an argument that cannot be used (the one
line on stderr names the file, the line and the key: a binary, oversized, empty or non-UTF-8
file, bad TOML, a program asking more than a cap, named, never run with less); 70 for a bug.

The file format is documented in :mod:`kiosk.scenario.spec`; the run in
:mod:`kiosk.scenario.runner`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from kiosk.entry import exit_codes

EXIT_PASSED = exit_codes.OK
EXIT_FAILED = exit_codes.FAILED
EXIT_BAD_SCENARIO = exit_codes.BAD_INPUT
PROG = "kiosk-scenario"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run one treatment scenario on the simulated board and print a JSON "
                    "summary (exit 0: expectations hold, 1: they do not or a fault latched "
                    "that [expect] does not name, 2: bad file or argument, 70: a bug; "
                    "docs/exit-codes.md).")
    parser.add_argument("file", type=Path, help="scenario file (TOML)")
    parser.add_argument("--realtime", action="store_true",
                        help="run on the wall clock (timing figures) instead of virtual time")
    parser.add_argument("--trace", type=Path, default=None, metavar="OUT.csv",
                        help="write one row per control cycle")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    return exit_codes.guarded(PROG, lambda: _run(args.file, args.realtime, args.trace))


def _run(file: Path, realtime: bool, trace: Path | None) -> int:
    from kiosk.scenario.faults import fault_param_checkers
    from kiosk.scenario.runner import run_scenario
    from kiosk.scenario.spec import load_scenario
    from kiosk.scenario.verdict import failed_expectations

    scenario = load_scenario(file, fault_params=fault_param_checkers())
    result = run_scenario(scenario, realtime=realtime, trace_path=trace)
    misses = failed_expectations(scenario.expect, result)
    summary = result.as_dict()
    summary["expectations_met"] = not misses
    summary["failed_expectations"] = misses
    print(json.dumps(summary, ensure_ascii=False))
    for miss in misses:
        print(f"{PROG}: {scenario.path}: expectation not met: {miss}", file=sys.stderr)
    return EXIT_FAILED if misses else EXIT_PASSED


if __name__ == "__main__":
    sys.exit(main())
