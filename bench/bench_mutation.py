"""Mutation score of control's safety rules: do the tests notice when a rule is wrong?

mutmut (pinned in the dev extras) changes one thing at a time in ``kiosk/control/monitors.py``,
``ramp.py``, ``limits.py``, ``regulator.py`` and ``dose.py`` (a ``<`` into ``<=``, a ``-`` into
``+``, a number into another, an argument into None, ...) and runs the control tests that cover
the changed function against each such mutant. A mutant the tests pass is a survivor: a rule
the tests do not pin. docs/safety/mutation.md lists every survivor, killed since by a test or
shown equivalent.

Two lanes, run one after the other, so that the score is the fast control lane's but the run
stays affordable on 2 shared cores (every survivor runs every test that covers its function,
which in the fast lane is up to ~2 min of the core's treatment tests):

1. ``rules``: the tests of these five modules (``test_monitors``, ``test_ramp``,
   ``test_limits``, ``test_regulator``, ``test_dose``, ``test_frozen_readings``, every
   ``test_thresholds_*``) against every mutant;
2. ``fast``: the fast control lane (``-m "not slow and not ui"`` on tests/control, threshold
   tests included) against the survivors of lane 1 only. A mutant lane 1 killed is killed by
   the fast lane too (it is a subset), so lane 2's figure is the fast lane's score, exactly.

Left out of the fast lane, each for a reason: the scenario-file tests (``test_scenarios``,
``test_faults_on_board``) run the installed ``kiosk-scenario`` in a subprocess, which imports
the unmutated source and so cannot see a mutant; the Hypothesis state machines
(``test_safety_machine_board``, ``test_core_properties``' random run) would make the score
depend on the draw; the wall-clock tests of the loop, the storage gate and the live ADC would
make it depend on the machine's load.

Each lane runs in a copy of the project under ``build/mutation/<lane>/`` (git-ignored) with its
own ``[tool.mutmut]``; mutmut's ``mutants/`` lives there.

Usage: nice .venv/bin/python bench/bench_mutation.py [--children N] [--lane rules|fast|both]
Prints per lane the score (killed / total, minutes taken) and each survivor with its diff.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "mutation"
MODULES = ("monitors", "ramp", "limits", "regulator", "dose")
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests",
          34: "skipped", 36: "timeout", 37: "caught by type check", -24: "timeout",
          24: "timeout", 152: "timeout", 255: "timeout", -11: "segfault", -9: "segfault"}
DEAD = {"killed", "timeout", "segfault"}

RULE_TESTS = ["tests/control/test_monitors.py", "tests/control/test_ramp.py",
              "tests/control/test_limits.py", "tests/control/test_regulator.py",
              "tests/control/test_dose.py", "tests/control/test_frozen_readings.py",
              *sorted(str(p.relative_to(ROOT))
                      for p in (ROOT / "tests" / "control").glob("test_thresholds_*.py"))]
NOT_IN_FAST_LANE = [
    "tests/control/test_scenarios.py",
    "tests/control/test_faults_on_board.py",
    "tests/control/test_safety_machine_board.py",
    "tests/control/test_core_properties.py::"
    "test_core_keeps_its_invariants_under_random_commands_and_faults",
    "tests/control/test_storage_gate.py",
    "tests/control/test_loop.py::test_stop_ends_the_current_within_2_s_and_leaves_the_board_safe",
    "tests/control/test_frozen_readings.py::"
    "test_a_stuck_adc_on_the_board_reaches_the_safe_state_within_80_ms",
    "tests/control/test_frozen_readings.py::"
    "test_a_quiet_live_adc_holds_a_minute_without_a_false_trip",
]
LANES = {
    "rules": [*RULE_TESTS, "-m", "not slow and not ui",
              *[a for t in NOT_IN_FAST_LANE if t.startswith(tuple(RULE_TESTS))
                for a in ("--deselect", t)]],
    "fast": ["tests/control", "-m", "not slow and not ui",
             *[a for t in NOT_IN_FAST_LANE for a in ("--deselect", t)]],
}


def toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def stage(lane: str) -> Path:
    """A copy of the project with this lane's [tool.mutmut]."""
    where = BUILD / lane
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    for name in ("kiosk", "tests", "tools"):
        shutil.copytree(ROOT / name, where / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copytree(ROOT / "docs" / "safety", where / "docs" / "safety")
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    text = re.sub(r"\n\[tool\.mutmut\].*?(?=\n\[|\Z)", "", text, flags=re.S)
    text += ("\n[tool.mutmut]\n"
             'source_paths = ["kiosk"]\n'
             f"only_mutate = {toml_list([f'kiosk/control/{m}.py' for m in MODULES])}\n"
             'also_copy = ["tools", "docs/safety"]\n'
             f"pytest_add_cli_args_test_selection = {toml_list(LANES[lane])}\n"
             'pytest_add_cli_args = ["-p", "no:cacheprovider"]\n')
    tomllib.loads(text)
    (where / "pyproject.toml").write_text(text, encoding="utf-8")
    return where


def mutmut() -> str:
    found = shutil.which("mutmut", path=str(Path(sys.executable).parent))
    if found is None:
        sys.exit("mutmut is not installed: .venv/bin/pip install -e '.[dev]'")
    return found


def run(where: Path, children: int, names: list[str]) -> float:
    started = time.monotonic()
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run([mutmut(), "run", "--max-children", str(children), *names],
                            cwd=where, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-4000:])
        sys.exit(f"mutmut run in {where} failed with exit code {result.returncode}")
    return time.monotonic() - started


def statuses(where: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for module in MODULES:
        meta = where / "mutants" / "kiosk" / "control" / f"{module}.py.meta"
        data = json.loads(meta.read_text(encoding="utf-8"))
        for name, code in data["exit_code_by_key"].items():
            found[name] = "not checked" if code is None else STATUS.get(code, "suspicious")
    return found


def diff_of(where: Path, name: str) -> str:
    shown = subprocess.run([mutmut(), "show", name], cwd=where, capture_output=True, text=True,
                           check=False).stdout
    changed = [line[1:].strip() for line in shown.splitlines()
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    half = len(changed) // 2
    if half and len(changed) == 2 * half:
        return " | ".join(changed[:half]) + "  ->  " + " | ".join(changed[half:])
    return " / ".join(changed) or shown.strip()


def report(lane: str, where: Path, found: dict[str, str], took_s: float,
           judged: set[str] | None = None) -> list[str]:
    """Print the lane's score; ``judged``: the mutants this lane ran (the rest were killed by
    the lane before). Returns the survivors."""
    print(f"Lane '{lane}': {' '.join(LANES[lane])}")
    survivors = sorted(n for n, s in found.items()
                       if (judged is None or n in judged) and s not in DEAD)
    for module in MODULES:
        names = [n for n in found if n.startswith(f"kiosk.control.{module}.")]
        alive = sum(1 for n in names if n in survivors)
        print(f"  {module + '.py':14s} {len(names) - alive:4d} / {len(names):4d} killed")
    total = len(found)
    print(f"  total          {total - len(survivors):4d} / {total:4d} killed "
          f"({(total - len(survivors)) / total * 100:.1f} %), {took_s / 60:.1f} min")
    counted = Counter(s for n, s in found.items() if judged is None or n in judged)
    print("  statuses of the mutants run: "
          + ", ".join(f"{s} {n}" for s, n in sorted(counted.items())))
    print(f"  survivors ({len(survivors)}):")
    for name in survivors:
        print(f"    {name} [{found[name]}]: {diff_of(where, name)}")
    return survivors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=2, help="parallel mutants (default 2)")
    parser.add_argument("--lane", choices=("rules", "fast", "both"), default="both")
    args = parser.parse_args()
    started = time.monotonic()
    survivors: list[str] = []
    if args.lane in ("rules", "both"):
        where = stage("rules")
        took_s = run(where, args.children, [])
        survivors = report("rules", where, statuses(where), took_s)
    if args.lane in ("fast", "both"):
        where = stage("fast")
        if args.lane == "both" and not survivors:
            print("Lane 'fast': nothing left to judge")
            return
        took_s = run(where, args.children, survivors)
        found = statuses(where)
        judged = set(survivors) if survivors else None
        if judged is not None:  # the rest were killed in lane 1
            found = {n: (s if n in judged else "killed") for n, s in found.items()}
        report("fast", where, found, took_s, judged)
    print(f"Total time {(time.monotonic() - started) / 60:.1f} min")


if __name__ == "__main__":
    main()
