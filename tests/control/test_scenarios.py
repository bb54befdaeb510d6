"""``kiosk-scenario`` as CI runs it: every file of tests/scenarios/ passes, and the command's
contract (JSON summary, exit codes 0/1/2, the trace) holds."""

from __future__ import annotations

import csv
import json
import tomllib
from pathlib import Path

import pytest

from kiosk.scenario.runner import TRACE_COLUMNS
from tests.control.scenario_results import (
    REPO_ROOT,
    run_command,
    scenario_files,
    scenario_result,
)

SUMMARY_KEYS = {"final_state", "faults", "peak_current_ma", "true_peak_current_ma",
                "dose_ma_min", "true_dose_ma_min", "max_regulation_error_ma", "loop"}
LOOP_KEYS = {"period_ms_p50", "period_ms_p99", "period_ms_max", "overruns"}
STATES = {"idle", "contact_check", "ramp_up", "hold", "paused", "ramp_down", "done", "fault"}


def test_there_is_a_scenario_for_every_fault_of_the_board_and_a_happy_path() -> None:
    from kiosk.hal.sim.faults import FAULT_NAMES

    kinds: set[str] = set()
    for path in scenario_files():
        for event in tomllib.loads(path.read_text()).get("event", []):
            kinds.add(event["kind"])
    assert set(FAULT_NAMES) <= kinds
    assert (REPO_ROOT / "tests" / "scenarios" / "happy_path.toml").exists()


@pytest.mark.parametrize("path", scenario_files(), ids=lambda p: p.stem)
def test_scenario_file_passes(path: Path) -> None:
    outcome = scenario_result(path.stem)
    assert outcome.returncode == 0, outcome.stderr
    summary = outcome.summary
    assert summary["expectations_met"], summary["failed_expectations"]
    assert set(summary) >= SUMMARY_KEYS
    assert set(summary["loop"]) >= LOOP_KEYS
    assert summary["final_state"] in STATES
    for fault in summary["faults"]:
        assert {"code", "at_s", "safe_after_ms"} <= set(fault)
    assert summary["clock"] == "virtual"
    assert summary["loop"]["period_ms_p50"] == pytest.approx(10.0, abs=1e-6)


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_program_above_a_cap_is_refused_naming_the_cap(tmp_path: Path) -> None:
    path = write(tmp_path, '[program]\narea = "eye_area"\nindication = "puffiness"\n'
                           'current_ma = 0.5\n')
    outcome = run_command(path)
    assert outcome.returncode == 2
    assert outcome.stdout == ""
    assert f"{path}:4: [program] current_ma:" in outcome.stderr
    assert "current_above_cap" in outcome.stderr
    assert "0.30 mA" in outcome.stderr  # the eye-area program cap


def test_a_bad_file_names_its_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[program]\narea = "face"\nindication = "ageing"\n[[event]]\n'
                           'at_s = 5\nkind = "contact_loss"\n[expect]\nfinal_stat = "fault"\n')
    outcome = run_command(path)
    assert outcome.returncode == 2
    assert f"{path}:8: [expect] final_stat: unknown key" in outcome.stderr


def test_an_expectation_that_does_not_hold_exits_1_and_says_which(tmp_path: Path) -> None:
    path = write(tmp_path, '[program]\narea = "face"\nindication = "ageing"\n'
                           'screening_cleared = false\n[expect]\nfinal_state = "done"\n')
    outcome = run_command(path)
    assert outcome.returncode == 1
    summary = json.loads(outcome.stdout)
    assert summary["final_state"] == "idle"
    assert summary["failed_expectations"] == ["final_state is 'idle', expected 'done'"]
    assert "expectation not met" in outcome.stderr


def test_the_trace_has_one_row_per_cycle(tmp_path: Path) -> None:
    path = write(tmp_path, 'duration_s = 3.0\n[program]\narea = "face"\n'
                           'indication = "pigmentation"\n')
    trace = tmp_path / "trace.csv"
    outcome = run_command(path, "--trace", str(trace))
    assert outcome.returncode == 0, outcome.stderr
    with trace.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == TRACE_COLUMNS
    assert len(rows) == json.loads(outcome.stdout)["loop"]["cycles"] == 300
    states = [row["state"] for row in rows]
    assert states[0] == "contact_check" and states[-1] == "ramp_up"
    assert any(row["k1_contacts"] == "1" for row in rows)  # the output was really connected


def test_the_console_script_is_this_main() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["kiosk-scenario"] == "kiosk.scenario:main"
