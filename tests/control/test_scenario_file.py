"""Scenario files: what a well-formed one means, and that every mistake names its line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.scenario.faults import fault_param_checkers
from kiosk.scenario.spec import Scenario, ScenarioError, locate_keys, parse_scenario


def parse(text: str) -> Scenario:
    return parse_scenario(text, "s.toml", fault_params=fault_param_checkers())


GOOD = """\
name = "contact lost at plateau"
seed = 7
[program]
area = "face"
indication = "pigmentation"
current_ma = 0.6
current_stage_s = 120
[load]
rs_ohm = 1000
rp_ohm = 20000
cp_nf = 47
[[event]]
at_s = 60.0
kind = "contact_loss"
[[event]]
at_s = 30.0
kind = "partial_contact"
factor = 4
[[event]]
at_s = 61.0
kind = "operator_ack"
[expect]
final_state = "fault"
fault = "contact_lost"
max_safe_after_ms = 100
"""


def test_a_well_formed_file_reads_as_written() -> None:
    scenario = parse(GOOD)
    assert scenario.name == "contact lost at plateau"
    assert scenario.seed == 7
    assert scenario.autostart
    assert scenario.program.area == "face"
    assert scenario.program.current_ma == 0.6
    assert scenario.program.current_stage_s == 120
    assert scenario.program.electrode_id is None  # catalogue default
    assert scenario.load == {"rs_ohm": 1000.0, "rp_ohm": 20000.0, "cp_nf": 47.0}
    assert [(e.at_s, e.kind, e.is_fault) for e in scenario.events] == [
        (30.0, "partial_contact", True), (60.0, "contact_loss", True),
        (61.0, "operator_ack", False)]
    assert scenario.events[0].params == {"factor": 4}
    assert scenario.expect.final_state == "fault"
    assert scenario.expect.fault == "contact_lost"
    assert scenario.expect.max_safe_after_ms == 100


def test_key_lines_follow_arrays_of_tables() -> None:
    lines = locate_keys(GOOD)
    assert lines[("program", "current_ma")] == 6
    assert lines[("event", "1", "factor")] == 18
    assert lines[("expect", "fault")] == 24


@pytest.mark.parametrize(("text", "fragment"), [
    (GOOD.replace("current_ma = 0.6", "curent_ma = 0.6"),
     "s.toml:6: [program] curent_ma: unknown key"),
    (GOOD.replace('area = "face"', 'area = "cheek"'),
     "s.toml:4: [program] area: 'cheek' is not one of face, neck, decollete, eye_area"),
    (GOOD.replace("rp_ohm = 20000", 'rp_ohm = "20k"'),
     "s.toml:10: [load] rp_ohm: must be a number"),
    (GOOD.replace("cp_nf = 47", "cp_nf = 47000"),
     "s.toml:11: [load] cp_nf: 47000 is out of range 1..1000 nF"),
    (GOOD.replace('kind = "contact_loss"', 'kind = "contact_lost"'),
     "s.toml:14: [[event]] #1 kind: unknown event kind 'contact_lost'"),
    (GOOD.replace("factor = 4", "factor = 40"),
     "s.toml:18: [[event]] #2 factor: fault 'partial_contact': factor=40 is out of range"),
    (GOOD.replace("factor = 4", "strength = 4"),
     "s.toml:18: [[event]] #2 strength: fault 'partial_contact' does not take strength"),
    (GOOD.replace('fault = "contact_lost"', 'fault = "contact_loss"'),
     "s.toml:24: [expect] fault: 'contact_loss' is not one of none,"),
    (GOOD.replace('final_state = "fault"', 'final_state = "finished"'),
     "s.toml:23: [expect] final_state: 'finished' is not one of idle,"),
    (GOOD.replace("max_safe_after_ms = 100", "max_safe_after = 100"),
     "s.toml:25: [expect] max_safe_after: unknown key"),
    (GOOD + "\n[[event]]\nkind = \"operator_stop\"\n",
     "s.toml:27: [[event]] #4: at_s is required"),
    (GOOD + "\n[[event]]\nat_s = 1\nkind = \"current_up\"\nsteps = 0.5\n",
     "s.toml:30: [[event]] #4 steps: must be an integer"),
    (GOOD + "\n[[event]]\nat_s = 1\nkind = \"clear\"\nfault = \"gremlins\"\n",
     "s.toml:30: [[event]] #4 fault: unknown fault 'gremlins'"),
    ("seed = 7\n[program]\nindication = \"pigmentation\"\n",
     "s.toml:2: program: area is required"),
    ("name = 'x'\nspeed = 3\n", "s.toml:2: speed: unknown key"),
    ("duration_s = 10\n[program]\narea='face'\nindication='ageing'\n[[event]]\nat_s = 11\n"
     "kind = 'contact_loss'\n", "s.toml:6: [[event]] #1 at_s: 11 s is after duration_s = 10 s"),
])
def test_every_mistake_names_the_line_and_the_key(text: str, fragment: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse(text)
    assert fragment in str(caught.value)


def test_a_toml_syntax_error_gives_its_line() -> None:
    with pytest.raises(ScenarioError) as caught:
        parse('name = "x"\n[program\narea = "face"\n')
    assert caught.value.line == 2
    assert "not valid TOML" in str(caught.value)


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    from kiosk.scenario.spec import load_scenario

    missing = tmp_path / "nope.toml"
    with pytest.raises(ScenarioError) as caught:
        load_scenario(missing, fault_params={})
    assert str(missing) in str(caught.value)
