"""Keeps the prose hazard list (``hazards.md``) and the data (``requirements.toml``) in step.

Why: people read the prose, the matrix reads the data. If a requirement is added to a hazard in
one and not the other, an auditor following the prose would miss a control, or the matrix would
claim one the analysis never made. Each hazard section in the prose is::

    ### H-03 Contact loss
    ...
    - **Requirements:** SR-001, SR-009, SR-010

and must list exactly the requirements whose ``hazards`` name it. Pure: text in, problems out.
"""

from __future__ import annotations

import re

from tools.traceability.safety_file import SafetyFile

_HEADING = re.compile(r"^### (H-\d{2}) (.+?)\s*$", re.MULTILINE)
_REQUIREMENTS_LINE = re.compile(r"^(?:- )?\*\*Requirements:\*\*(.*)$", re.MULTILINE)
_REQUIREMENT_ID = re.compile(r"\bSR-\d{3}\b")


def check_hazard_document(text: str, safety: SafetyFile) -> list[str]:
    """Every way the prose disagrees with the data, one sentence each; empty when in step."""
    problems: list[str] = []
    headings = list(_HEADING.finditer(text))
    seen: dict[str, str] = {}
    for index, heading in enumerate(headings):
        hazard_id, title = heading.group(1), heading.group(2)
        end = headings[index + 1].start() if index + 1 < len(headings) else len(text)
        section = text[heading.end():end]
        if hazard_id in seen:
            problems.append(f"{hazard_id} has more than one section")
            continue
        seen[hazard_id] = title
        problems += _check_section(hazard_id, title, section, safety)
    for hazard in safety.hazards:
        if hazard.id not in seen:
            problems.append(f"{hazard.id} ({hazard.title}) has no '### {hazard.id} ...' section")
    known = safety.requirement_ids
    for unknown in sorted(set(_REQUIREMENT_ID.findall(text)) - known):
        problems.append(f"the document names {unknown}, which requirements.toml does not define")
    return problems


def _check_section(hazard_id: str, title: str, section: str, safety: SafetyFile) -> list[str]:
    titles = {h.id: h.title for h in safety.hazards}
    if hazard_id not in titles:
        return [f"section {hazard_id} ({title}) is not a hazard in requirements.toml"]
    problems = []
    if title != titles[hazard_id]:
        problems.append(f"{hazard_id} is titled '{title}' here but '{titles[hazard_id]}' in "
                        "requirements.toml")
    lines = _REQUIREMENTS_LINE.findall(section)
    if len(lines) != 1:
        return [*problems, f"{hazard_id} needs exactly one '**Requirements:**' line"]
    listed = set(_REQUIREMENT_ID.findall(lines[0]))
    mapped = set(safety.requirements_for_hazard(hazard_id))
    if listed - mapped:
        problems.append(f"{hazard_id} lists {', '.join(sorted(listed - mapped))} but "
                        "requirements.toml does not map them to it")
    if mapped - listed:
        problems.append(f"{hazard_id} does not list {', '.join(sorted(mapped - listed))}, which "
                        "requirements.toml maps to it")
    return problems
