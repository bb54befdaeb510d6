"""pytest plugin: the ``requirement`` marker, the ``safety_figure`` fixture, the matrix every run.

Registered in ``pyproject.toml`` with ``-p tools.traceability.plugin``. Every run writes
``<safety_report_dir>/safety-matrix.md`` and ``.json`` (default ``reports/``, git-ignored).

What fails the run (exit status 1, with a "safety traceability" section naming each problem):
- always: a tag that names an unknown ID or is malformed; a safety file that does not load
  (usage error before any test runs);
- with ``--safety-enforce`` also: a requirement with no test (only when the whole suite was
  collected), a selected tagged test that failed, a requirement whose selected tests all
  skipped or did not run. A partial run enforces only what its selection can show; see
  ``docs/safety/traceability.md``.

Not supported: pytest-xdist (collection happens on the workers; the controller would see no tags).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from tools.traceability.figures import Figure, FigureRecorder, figures_from_user_properties
from tools.traceability.matrix import (
    Matrix,
    Problem,
    RunScope,
    TagProblem,
    TestRecord,
    build_matrix,
)
from tools.traceability.outcomes import PhaseResult, combine_phases
from tools.traceability.render import RunInfo, render_json, render_markdown
from tools.traceability.safety_file import SafetyFile, SafetyFileError, load_safety_file
from tools.traceability.scope import collection_is_complete
from tools.traceability.tags import MarkerUse, read_tags

MARKDOWN_NAME = "safety-matrix.md"
JSON_NAME = "safety-matrix.json"
_PLUGIN_NAME = "safety-traceability"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("safety", "safety traceability (docs/safety/traceability.md)")
    group.addoption(
        "--safety-enforce", action="store_true", default=False,
        help="fail the run when a requirement has no test, a tagged test failed, or no "
             "selected tagged test passed (tag mistakes fail the run always)")
    group.addoption(
        "--safety-requirements", default=None, metavar="PATH",
        help="requirements TOML (default: ini safety_requirements)")
    group.addoption(
        "--safety-report-dir", default=None, metavar="DIR",
        help="where safety-matrix.md/.json are written (default: ini safety_report_dir)")
    parser.addini("safety_requirements", "safety requirements TOML, relative to the ini file",
                  default="docs/safety/requirements.toml")
    parser.addini("safety_report_dir", "directory of the trace matrix, relative to rootdir",
                  default="reports")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        'requirement(*ids): the safety requirement IDs this test proves, e.g. '
        '@pytest.mark.requirement("SR-012", "SR-013")')
    if hasattr(config, "workerinput"):  # an xdist worker: the controller reports
        return
    requirements_path = _requirements_path(config)
    try:
        safety = load_safety_file(requirements_path)
    except SafetyFileError as error:
        raise pytest.UsageError(f"safety traceability: {error}") from None
    tracker = TraceabilityTracker(
        config, safety, requirements_path, _report_dir(config),
        enforce=bool(config.getoption("safety_enforce")))
    config.pluginmanager.register(tracker, _PLUGIN_NAME)


@pytest.fixture
def safety_figure(request: pytest.FixtureRequest) -> FigureRecorder:
    """Record a measured figure for the matrix: ``safety_figure("safe_after_ms", 18.0, "ms")``.

    Pass ``limit=`` with the requirement's limit so the matrix shows both; the test itself still
    asserts the limit.
    """
    return FigureRecorder(request.node)


class TraceabilityTracker:
    """Collects tags and outcomes during one run and writes the matrix at its end."""

    def __init__(self, config: pytest.Config, safety: SafetyFile, requirements_path: Path,
                 report_dir: Path, *, enforce: bool) -> None:
        self._config = config
        self._safety = safety
        self._requirements_path = requirements_path
        self._report_dir = report_dir
        self._enforce = enforce
        self._selected: list[pytest.Item] = []
        self._deselected: list[pytest.Item] = []
        self._phases: dict[str, list[PhaseResult]] = defaultdict(list)
        self._figures: dict[str, tuple[Figure, ...]] = {}
        self._matrix: Matrix | None = None
        self._blocking: tuple[Problem, ...] = ()
        self._write_error: str | None = None

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self._deselected.extend(items)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._selected = list(session.items)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._phases[report.nodeid].append(
            PhaseResult(report.when or "", report.outcome, hasattr(report, "wasxfail")))
        self._figures[report.nodeid] = figures_from_user_properties(report.user_properties)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self._matrix = self._build()
        self._blocking = self._matrix.blocking_problems(enforce=self._enforce)
        self._write(self._matrix)
        unwritten = self._enforce and self._write_error is not None
        if (self._blocking or unwritten) and session.exitstatus in (
                pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        matrix = self._matrix
        if matrix is None:
            return
        terminalreporter.section("safety traceability")
        terminalreporter.write_line(
            f"{matrix.summary_text()}; matrix: {self._report_dir / MARKDOWN_NAME}")
        if self._write_error is not None:
            prefix = "FAILS THE RUN: " if self._enforce else ""
            terminalreporter.write_line(
                f"{prefix}could not write the matrix: {self._write_error}", red=True)
        for problem in self._blocking:
            terminalreporter.write_line(f"FAILS THE RUN: {problem.message}", red=True, bold=True)
        reported_only = [p for p in matrix.problems if p not in self._blocking]
        if reported_only:
            terminalreporter.write_line(
                f"{len(reported_only)} problem(s) reported, not enforced (see the matrix; "
                "--safety-enforce fails the run on them)")

    def _build(self) -> Matrix:
        known_ids = self._safety.requirement_ids
        records: list[TestRecord] = []
        tag_problems: list[TagProblem] = []
        selected_ids = {item.nodeid for item in self._selected}
        for item in [*self._selected, *self._deselected]:
            markers = [MarkerUse(tuple(m.args), dict(m.kwargs))
                       for m in item.iter_markers("requirement")]
            ids, problems = read_tags(item.nodeid, markers, known_ids)
            tag_problems += problems
            if ids:
                records.append(TestRecord(
                    nodeid=item.nodeid, requirement_ids=ids,
                    selected=item.nodeid in selected_ids,
                    outcome=combine_phases(self._phases.get(item.nodeid, [])),
                    figures=self._figures.get(item.nodeid, ())))
        scope = RunScope(collection_complete=self._collection_complete(),
                         tests_executed=not self._config.getoption("collectonly", False))
        return build_matrix(self._safety, records, tag_problems, scope)

    def _collection_complete(self) -> bool:
        config = self._config
        testpaths = config.getini("testpaths")
        roots = [config.rootpath / p for p in testpaths] if testpaths else [config.rootpath]
        narrowed = bool(config.getoption("lf", False) or config.getoption("ignore", None)
                        or config.getoption("ignore_glob", None))
        return collection_is_complete(config.args, roots,
                                      invocation_dir=config.invocation_params.dir,
                                      narrowed_by_options=narrowed)

    def _write(self, matrix: Matrix) -> None:
        hazards_path = self._requirements_path.parent / "hazards.md"
        run = RunInfo(
            generated_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
            command=tuple(self._config.invocation_params.args),
            commit=_git_commit(self._config.rootpath),
            enforce=self._enforce,
            requirements_link=_relative_link(self._requirements_path, self._report_dir),
            hazards_link=(_relative_link(hazards_path, self._report_dir)
                          if hazards_path.exists() else None),
        )
        try:
            self._report_dir.mkdir(parents=True, exist_ok=True)
            _write_atomically(self._report_dir / MARKDOWN_NAME, render_markdown(matrix, run))
            _write_atomically(self._report_dir / JSON_NAME,
                              json.dumps(render_json(matrix, run), indent=2) + "\n")
        except OSError as error:
            self._write_error = f"{self._report_dir}: {error}"


def _requirements_path(config: pytest.Config) -> Path:
    option = config.getoption("safety_requirements")
    if option:
        return (config.invocation_params.dir / str(option)).resolve()
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    return (base / str(config.getini("safety_requirements"))).resolve()


def _report_dir(config: pytest.Config) -> Path:
    option = config.getoption("safety_report_dir")
    if option:
        return (config.invocation_params.dir / str(option)).resolve()
    return (config.rootpath / str(config.getini("safety_report_dir"))).resolve()


def _write_atomically(path: Path, text: str) -> None:
    """Readers never see half a matrix, and two runs in one tree never share a temporary file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _relative_link(target: Path, report_dir: Path) -> str:
    return Path(os.path.relpath(target, report_dir)).as_posix()


def _git_commit(rootpath: Path) -> str | None:
    try:
        result = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=rootpath,
                                capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None
