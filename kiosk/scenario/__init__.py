"""``kiosk-scenario FILE.toml [--realtime] [--trace OUT.csv]``: one treatment on the simulated
board with scheduled events; prints one JSON object on stdout.

Exit codes: 0 when the scenario's ``[expect]`` holds, 1 when it does not, 2 for a scenario that
cannot be run as written (the message on stderr names the file, the line and the key; a program
asking more than a cap is refused here, naming the cap, never run with less).

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

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_BAD_SCENARIO = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kiosk-scenario",
        description="Run one treatment scenario on the simulated board and print a JSON "
                    "summary (exit 0: expectations hold, 1: they do not, 2: bad file).")
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
    from kiosk.scenario.faults import fault_param_checkers
    from kiosk.scenario.runner import run_scenario
    from kiosk.scenario.spec import ScenarioError, load_scenario
    from kiosk.scenario.verdict import failed_expectations

    try:
        scenario = load_scenario(args.file, fault_params=fault_param_checkers())
        result = run_scenario(scenario, realtime=args.realtime, trace_path=args.trace)
    except ScenarioError as error:
        print(f"kiosk-scenario: {error}", file=sys.stderr)
        return EXIT_BAD_SCENARIO
    misses = failed_expectations(scenario.expect, result)
    summary = result.as_dict()
    summary["expectations_met"] = not misses
    summary["failed_expectations"] = misses
    print(json.dumps(summary, ensure_ascii=False))
    for miss in misses:
        print(f"kiosk-scenario: {scenario.path}: expectation not met: {miss}", file=sys.stderr)
    return EXIT_FAILED if misses else EXIT_PASSED


if __name__ == "__main__":
    sys.exit(main())
