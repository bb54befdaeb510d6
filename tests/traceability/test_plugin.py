"""The traceability plugin proven on small suites run by pytest itself (the ``pytester`` fixture).

Each test writes a three-requirement safety file and a few tagged tests into a temporary project,
runs pytest there with the real plugin, and asserts the exit status, the terminal message and the
matrix files it wrote.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

SAFETY_FILE = """
schema = 1

[[hazard]]
id = "H-01"
title = "Over-current"

[[hazard]]
id = "H-02"
title = "Contact loss"

[[requirement]]
id = "SR-001"
title = "Fault stop within 25 ms"
text = "Safe state within 25 ms of a detected fault."
hazards = ["H-01", "H-02"]
verification = ["sim_fault"]
source = "hardware.md §8"
allocated_to = ["control shell: shutdown path"]

[[requirement]]
id = "SR-002"
title = "Over-current detection"
text = "Measured > cap + 0.05 mA for > 50 ms latches over_current."
hazards = ["H-01"]
verification = ["sim_fault"]
source = "domain.md §6"
allocated_to = ["kiosk.control.monitors"]

[[requirement]]
id = "SR-003"
title = "Contact loss detection"
text = "Load > 100 kOhm latches contact_lost."
hazards = ["H-02"]
verification = ["sim_fault"]
source = "domain.md §6"
allocated_to = ["kiosk.control.monitors"]
"""

TAGS_SR_001_AND_SR_002 = """
import pytest

@pytest.mark.requirement("SR-001")
def test_fault_stop(safety_figure):
    safety_figure("safe_after_ms", 18.5, "ms", limit=25)

@pytest.mark.requirement("SR-002", "SR-001")
def test_over_current():
    assert True
"""

TAGS_SR_003 = """
import pytest

pytestmark = pytest.mark.requirement("SR-003")

def test_contact_loss():
    assert True
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A temporary project with the safety file and the plugin registered as in pyproject."""
    # Only our plugin: installed ones (hypothesis re-imports itself in every in-process run)
    # would cost a second per run and change nothing here.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makefile(".toml", requirements=SAFETY_FILE)
    pytester.makeini("""
        [pytest]
        addopts = -p tools.traceability.plugin --strict-markers
        safety_requirements = requirements.toml
        safety_report_dir = reports
    """)
    return pytester


def read_matrix(project: pytest.Pytester) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (project.path / "reports" / "safety-matrix.json").read_text(encoding="utf-8"))
    return data


def requirement_status(matrix: dict[str, Any]) -> dict[str, str]:
    return {r["id"]: r["status"] for r in matrix["requirements"]}


def test_a_deliberately_untagged_requirement_fails_an_enforced_run(
        project: pytest.Pytester) -> None:
    project.makepyfile(test_tagged=TAGS_SR_001_AND_SR_002)  # SR-003 left untagged

    result = project.runpytest("--safety-enforce")

    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*FAILS THE RUN: SR-003 has no test*"])
    assert requirement_status(read_matrix(project))["SR-003"] == "untested"


def test_without_enforcement_an_untagged_requirement_is_reported_not_failed(
        project: pytest.Pytester) -> None:
    project.makepyfile(test_tagged=TAGS_SR_001_AND_SR_002)

    result = project.runpytest()

    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*1 problem(s) reported, not enforced*"])
    matrix = read_matrix(project)
    assert matrix["problems"] == [{
        "kind": "untested", "subject": "SR-003", "blocking": False,
        "message": 'SR-003 has no test: tag one with @pytest.mark.requirement("SR-003")'}]


def test_a_tag_naming_an_unknown_id_fails_the_run_even_without_enforcement(
        project: pytest.Pytester) -> None:
    project.makepyfile(test_typo="""
        import pytest

        @pytest.mark.requirement("SR-001", "SR-099")
        def test_fault_stop():
            assert True
    """)

    result = project.runpytest()

    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "*FAILS THE RUN: test_typo.py::test_fault_stop: names unknown requirement SR-099;"
        " the safety file defines SR-001..SR-003 (3 IDs)*"])
    # The known ID on the same test still counts.
    assert requirement_status(read_matrix(project))["SR-001"] == "proven"


@pytest.mark.parametrize("marker", ['requirement()', 'requirement("SR-1")',
                                    'requirement(1)', 'requirement(ids="SR-001")'])
def test_a_malformed_tag_fails_the_run(project: pytest.Pytester, marker: str) -> None:
    project.makepyfile(test_malformed=f"""
        import pytest

        @pytest.mark.{marker}
        def test_something():
            assert True
    """)

    result = project.runpytest()

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*FAILS THE RUN: test_malformed.py::test_something: *"])


def test_a_fully_tagged_suite_passes_enforcement_and_the_matrix_lists_the_recorded_figure(
        project: pytest.Pytester) -> None:
    project.makepyfile(test_tagged=TAGS_SR_001_AND_SR_002, test_contact=TAGS_SR_003)

    result = project.runpytest("--safety-enforce")

    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*3 proven of 3 requirements; matrix: *safety-matrix.md"])
    matrix = read_matrix(project)
    assert requirement_status(matrix) == {"SR-001": "proven", "SR-002": "proven",
                                          "SR-003": "proven"}
    sr_001 = next(r for r in matrix["requirements"] if r["id"] == "SR-001")
    fault_stop = next(t for t in sr_001["tests"]
                      if t["nodeid"] == "test_tagged.py::test_fault_stop")
    assert fault_stop == {"nodeid": "test_tagged.py::test_fault_stop", "outcome": "passed",
                          "figures": [{"name": "safe_after_ms", "value": 18.5, "unit": "ms",
                                       "limit": 25.0}]}
    assert [h["status"] for h in matrix["hazards"]] == ["proven", "proven"]
    markdown = (project.path / "reports" / "safety-matrix.md").read_text(encoding="utf-8")
    assert "| SR-001 | Fault stop within 25 ms | sim_fault | proven |" in markdown
    assert "safe_after_ms = 18.5 ms (limit 25 ms)" in markdown
    assert "| H-01 | Over-current | SR-001 (proven), SR-002 (proven) | proven |" in markdown


def test_a_failing_tagged_test_fails_its_requirement_and_its_hazards(
        project: pytest.Pytester) -> None:
    project.makepyfile(test_tagged=TAGS_SR_001_AND_SR_002, test_contact="""
        import pytest

        @pytest.mark.requirement("SR-003")
        def test_contact_loss():
            assert False, "contact loss not detected"

        @pytest.mark.requirement("SR-003")
        def test_contact_loss_other_way():
            assert True
    """)

    result = project.runpytest("--safety-enforce")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "*FAILS THE RUN: SR-003 is not met: failing test(s) test_contact.py::test_contact_loss"])
    matrix = read_matrix(project)
    assert requirement_status(matrix)["SR-003"] == "failed"  # one pass does not outweigh it
    assert {h["id"]: h["status"] for h in matrix["hazards"]} == {"H-01": "proven",
                                                                 "H-02": "failed"}


def test_a_skipped_test_does_not_prove_its_requirement(project: pytest.Pytester) -> None:
    project.makepyfile(test_tagged=TAGS_SR_001_AND_SR_002, test_contact="""
        import pytest

        @pytest.mark.requirement("SR-003")
        def test_contact_loss():
            pytest.skip("no display")
    """)

    result = project.runpytest("--safety-enforce")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "*FAILS THE RUN: SR-003 has no passing test in this run:"
        " test_contact.py::test_contact_loss (skipped)"])


def test_a_file_selection_enforces_only_the_requirements_it_collected(
        project: pytest.Pytester) -> None:
    project.makepyfile(test_tagged=TAGS_SR_001_AND_SR_002)  # SR-003 tagged nowhere

    result = project.runpytest("test_tagged.py", "--safety-enforce")

    assert result.ret == pytest.ExitCode.OK
    matrix = read_matrix(project)
    assert matrix["collection_complete"] is False
    assert requirement_status(matrix)["SR-003"] == "outside run"


def test_a_file_selection_still_fails_on_a_failing_tagged_test(
        project: pytest.Pytester) -> None:
    project.makepyfile(test_failing="""
        import pytest

        @pytest.mark.requirement("SR-002")
        def test_over_current():
            assert False
    """)

    result = project.runpytest("test_failing.py", "--safety-enforce")

    result.stdout.fnmatch_lines(["*FAILS THE RUN: SR-002 is not met*"])


def test_deselection_leaves_untagged_requirements_enforced_but_not_deselected_ones(
        project: pytest.Pytester) -> None:
    project.makepyfile(test_tagged=TAGS_SR_001_AND_SR_002)

    result = project.runpytest("-k", "fault_stop", "--safety-enforce")

    # SR-002 is tagged (deselected by -k): not enforced. SR-003 is tagged nowhere in a suite that
    # was collected whole: still a failure.
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*FAILS THE RUN: SR-003 has no test*"])
    assert "SR-002" not in result.stdout.str().split("safety traceability")[1]
    matrix = read_matrix(project)
    assert requirement_status(matrix) == {"SR-001": "proven", "SR-002": "not selected",
                                          "SR-003": "untested"}


def test_collect_only_checks_tags_without_claiming_proof(project: pytest.Pytester) -> None:
    project.makepyfile(test_tagged=TAGS_SR_001_AND_SR_002, test_contact=TAGS_SR_003)

    result = project.runpytest("--collect-only", "--safety-enforce")

    assert result.ret == pytest.ExitCode.OK
    assert set(requirement_status(read_matrix(project)).values()) == {"collected"}


def test_a_run_stopped_early_does_not_prove_what_it_did_not_run(
        project: pytest.Pytester) -> None:
    project.makepyfile(test_a_first="""
        def test_fails_first():
            assert False
    """, test_tagged=TAGS_SR_001_AND_SR_002, test_contact=TAGS_SR_003)

    project.runpytest("-x")

    statuses = requirement_status(read_matrix(project))
    assert statuses == {"SR-001": "unproven", "SR-002": "unproven", "SR-003": "unproven"}


def test_a_broken_safety_file_stops_the_run_naming_file_and_key(
        project: pytest.Pytester) -> None:
    project.makefile(".toml", requirements=SAFETY_FILE.replace('hazards = ["H-02"]',
                                                              'hazards = ["H-09"]'))
    project.makepyfile(test_tagged=TAGS_SR_001_AND_SR_002)

    result = project.runpytest()

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "*safety traceability: *requirements.toml: requirement[[]2[]] (SR-003): key 'hazards':"
        " unknown hazard(s) H-09; known: H-01, H-02"])


def test_the_requirements_file_and_report_dir_can_be_given_on_the_command_line(
        project: pytest.Pytester) -> None:
    other = project.mkdir("safety")
    (other / "reqs.toml").write_text(SAFETY_FILE.replace("Over-current detection",
                                                         "Over-current trip"), encoding="utf-8")
    project.makepyfile(test_tagged=TAGS_SR_001_AND_SR_002)

    project.runpytest("--safety-requirements", "safety/reqs.toml",
                      "--safety-report-dir", "out")

    matrix = json.loads((project.path / "out" / "safety-matrix.json").read_text("utf-8"))
    assert matrix["requirements"][1]["title"] == "Over-current trip"
