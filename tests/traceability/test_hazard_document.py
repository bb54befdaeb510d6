"""The project's own safety file: it loads, covers the issue's hazards, and the prose matches it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.traceability.hazard_document import check_hazard_document
from tools.traceability.safety_file import SafetyFile, load_safety_file, parse_safety_file

SAFETY_DIR = Path(__file__).resolve().parents[2] / "docs" / "safety"

# The hazards issue 7 names, word for word: the analysis must cover at least these.
ISSUE_HAZARDS = (
    "Over-current", "V-to-I stage runaway", "Contact loss", "Sudden reconnect", "Short circuit",
    "Compliance saturation", "Density or dose exceeded", "Polarity switched under current",
    "I2C error", "Conversion that never completes", "Stuck DAC",
    "Stale or implausible readings", "Control loop stall", "UI freeze or crash", "E-stop",
    "Power loss during a session", "Wrong program for the area", "Skipped screening",
)


@pytest.fixture(scope="module")
def safety() -> SafetyFile:
    return load_safety_file(SAFETY_DIR / "requirements.toml")


def test_the_safety_file_covers_every_hazard_the_issue_names(safety: SafetyFile) -> None:
    titles = {hazard.title for hazard in safety.hazards}

    assert [name for name in ISSUE_HAZARDS if name not in titles] == []
    assert all(safety.requirements_for_hazard(h.id) for h in safety.hazards)


def test_requirement_ids_ascend_without_repeats(safety: SafetyFile) -> None:
    """Ids are handed out in ranges while engineers work side by side (SR-048.., SR-058..); the
    lead renumbers them consecutively when the work is merged (a gap then means a deleted
    requirement again)."""
    numbers = [int(r.id.removeprefix("SR-")) for r in safety.requirements]

    assert numbers == sorted(set(numbers)) and numbers[0] == 1


def test_the_hazard_list_and_the_requirements_data_agree(safety: SafetyFile) -> None:
    text = (SAFETY_DIR / "hazards.md").read_text(encoding="utf-8")

    assert check_hazard_document(text, safety) == []


def small_safety() -> SafetyFile:
    return parse_safety_file({
        "schema": 1,
        "hazard": [{"id": "H-01", "title": "Over-current"},
                   {"id": "H-02", "title": "Contact loss"}],
        "requirement": [
            {"id": "SR-001", "title": "t", "text": "x", "hazards": ["H-01", "H-02"],
             "verification": ["logic"], "source": "s", "allocated_to": ["a"]},
            {"id": "SR-002", "title": "t", "text": "x", "hazards": ["H-02"],
             "verification": ["logic"], "source": "s", "allocated_to": ["a"]},
        ],
    }, "small.toml")


IN_STEP = """
### H-01 Over-current
- **Requirements:** SR-001

### H-02 Contact loss
text that mentions SR-002 in passing
- **Requirements:** SR-001, SR-002
"""


def test_a_document_in_step_has_no_problems() -> None:
    assert check_hazard_document(IN_STEP, small_safety()) == []


@pytest.mark.parametrize(("document", "problem"), [
    (IN_STEP.replace("- **Requirements:** SR-001, SR-002", "- **Requirements:** SR-001"),
     "H-02 does not list SR-002, which requirements.toml maps to it"),
    (IN_STEP.replace("- **Requirements:** SR-001\n", "- **Requirements:** SR-001, SR-002\n"),
     "H-01 lists SR-002 but requirements.toml does not map them to it"),
    (IN_STEP.replace("### H-02 Contact loss", "### H-02 Contact lost"),
     "H-02 is titled 'Contact lost' here but 'Contact loss' in requirements.toml"),
    (IN_STEP.replace("### H-01 Over-current\n- **Requirements:** SR-001\n", ""),
     "H-01 (Over-current) has no '### H-01 ...' section"),
    (IN_STEP + "\n### H-03 Burns\n- **Requirements:** SR-001\n",
     "section H-03 (Burns) is not a hazard in requirements.toml"),
    (IN_STEP.replace("in passing", "and SR-009"),
     "the document names SR-009, which requirements.toml does not define"),
    (IN_STEP.replace("- **Requirements:** SR-001\n", "no list here\n"),
     "H-01 needs exactly one '**Requirements:**' line"),
    (IN_STEP + IN_STEP.split("\n\n")[0], "H-01 has more than one section"),
])
def test_each_kind_of_drift_is_reported(document: str, problem: str) -> None:
    assert problem in check_hazard_document(document, small_safety())
