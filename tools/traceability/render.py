"""The matrix as Markdown (for people: auditor, service partner, new engineer) and JSON (for tools).

Pure: the run's metadata (time, commit, command line, links) comes in as :class:`RunInfo`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tools.traceability.matrix import Matrix, RequirementRow, Status, TestRecord

JSON_SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class RunInfo:
    generated_at: str  # ISO 8601, UTC
    command: tuple[str, ...]  # pytest's arguments
    commit: str | None
    enforce: bool
    requirements_link: str  # path of requirements.toml relative to the report
    hazards_link: str | None  # path of hazards.md relative to the report, when it exists


def render_markdown(matrix: Matrix, run: RunInfo) -> str:
    lines = [
        "# Safety traceability matrix",
        "",
        f"Generated {run.generated_at} from commit `{run.commit or 'unknown'}` by "
        f"`pytest {' '.join(run.command)}`.",
        f"Collection: {'whole suite' if matrix.scope.collection_complete else 'part of the suite'}"
        f"; tests {'executed' if matrix.scope.tests_executed else 'collected only'}"
        f"; enforcement {'on' if run.enforce else 'off (report only)'}.",
        f"Requirements: [{_basename(run.requirements_link)}]({run.requirements_link})"
        + (f"; hazards: [{_basename(run.hazards_link)}]({run.hazards_link})"
           if run.hazards_link else "") + ".",
        "",
        f"**{matrix.summary_text()}.**",
        "",
    ]
    blocking = set(matrix.blocking_problems(enforce=run.enforce))
    if matrix.problems:
        lines += ["## Problems", ""]
        for problem in matrix.problems:
            marker = "FAILS THE RUN" if problem in blocking else "reported"
            lines.append(f"- **{marker}**: {_cell(problem.message)}")
        lines.append("")
    lines += [
        "## Requirements -> tests",
        "",
        "| Requirement | Title | Verification | Status | Tests | Figures |",
        "|---|---|---|---|---|---|",
    ]
    lines += [_requirement_line(row) for row in matrix.rows]
    lines += [
        "",
        "## Hazards -> requirements",
        "",
        "| Hazard | Title | Requirements | Status |",
        "|---|---|---|---|",
    ]
    status_by_id = {row.requirement.id: row.status for row in matrix.rows}
    for hazard_row in matrix.hazard_rows:
        requirements = ", ".join(f"{i} ({status_by_id[i]})" for i in hazard_row.requirement_ids)
        lines.append(f"| {hazard_row.hazard.id} | {_cell(hazard_row.hazard.title)} | "
                     f"{requirements} | {hazard_row.status} |")
    return "\n".join(lines) + "\n"


def render_json(matrix: Matrix, run: RunInfo) -> dict[str, Any]:
    blocking = set(matrix.blocking_problems(enforce=run.enforce))
    return {
        "schema": JSON_SCHEMA_VERSION,
        "generated_at": run.generated_at,
        "commit": run.commit,
        "command": list(run.command),
        "enforce": run.enforce,
        "collection_complete": matrix.scope.collection_complete,
        "tests_executed": matrix.scope.tests_executed,
        "summary": {str(s): matrix.count(s) for s in Status},
        "requirements": [
            {
                "id": row.requirement.id,
                "title": row.requirement.title,
                "text": row.requirement.text,
                "hazards": list(row.requirement.hazards),
                "verification": list(row.requirement.verification),
                "source": row.requirement.source,
                "allocated_to": list(row.requirement.allocated_to),
                "status": str(row.status),
                "deselected_tests": row.deselected_count,
                "tests": [_test_json(t) for t in row.tests],
            }
            for row in matrix.rows
        ],
        "hazards": [
            {"id": h.hazard.id, "title": h.hazard.title,
             "requirements": list(h.requirement_ids), "status": str(h.status)}
            for h in matrix.hazard_rows
        ],
        "problems": [
            {"kind": str(p.kind), "subject": p.subject, "message": p.message,
             "blocking": p in blocking}
            for p in matrix.problems
        ],
    }


def _requirement_line(row: RequirementRow) -> str:
    tests = "<br>".join(f"`{_cell(t.nodeid)}` {t.outcome}" for t in row.tests) or "-"
    if row.deselected_count:
        tests += f"<br>({row.deselected_count} not selected)"
    figures = "<br>".join(
        _cell(figure.describe()) for t in row.tests for figure in t.figures) or "-"
    requirement = row.requirement
    return (f"| {requirement.id} | {_cell(requirement.title)} | "
            f"{', '.join(requirement.verification)} | {row.status} | {tests} | {figures} |")


def _test_json(test: TestRecord) -> dict[str, Any]:
    return {"nodeid": test.nodeid, "outcome": str(test.outcome),
            "figures": [f.as_dict() for f in test.figures]}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _basename(link: str) -> str:
    return link.rsplit("/", 1)[-1]
