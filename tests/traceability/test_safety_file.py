"""The safety file loader refuses anything that would make the matrix prove less than it says."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tools.traceability.safety_file import SafetyFileError, load_safety_file, parse_safety_file


def valid() -> dict[str, Any]:
    return {
        "schema": 1,
        "hazard": [{"id": "H-01", "title": "Over-current"},
                   {"id": "H-02", "title": "Contact loss"}],
        "requirement": [
            {"id": "SR-001", "title": "Fault stop", "text": "Safe state\n  within 25 ms.",
             "hazards": ["H-01", "H-02"], "verification": ["sim_fault"],
             "source": "hardware.md §8", "allocated_to": ["control shell: shutdown path"]},
            {"id": "SR-002", "title": "Over-current", "text": "> cap + 0.05 mA for > 50 ms.",
             "hazards": ["H-01"], "verification": ["logic", "sim_fault"],
             "source": "domain.md §6", "allocated_to": ["kiosk.control.monitors"]},
        ],
    }


def broken(change: str, value: Any) -> dict[str, Any]:
    """``valid()`` with one key (``requirement.1.hazards`` style path) replaced or removed."""
    data = copy.deepcopy(valid())
    *parents, last = change.split(".")
    target: Any = data
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is None:
        del target[int(last) if last.isdigit() else last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return data


def test_a_valid_file_maps_hazards_to_requirements_and_normalises_text() -> None:
    safety = parse_safety_file(valid(), "req.toml")

    assert safety.requirement_ids == {"SR-001", "SR-002"}
    assert safety.requirements_for_hazard("H-01") == ("SR-001", "SR-002")
    assert safety.requirements_for_hazard("H-02") == ("SR-001",)
    assert safety.requirement("SR-001").text == "Safe state within 25 ms."
    assert safety.requirement("SR-002").verification == ("logic", "sim_fault")


@pytest.mark.parametrize(("change", "value", "message"), [
    ("schema", 2, "req.toml: key 'schema' must be 1, got 2"),
    ("extra", "x", "req.toml: unknown key(s) extra"),
    ("requirement.1.id", "SR-2", "requirement[1]: key 'id' must look like SR-001, got 'SR-2'"),
    ("requirement.1.id", "SR-001", "requirement id SR-001 appears more than once"),
    ("hazard.1.id", "H-01", "hazard id H-01 appears more than once"),
    ("hazard.1.id", "HZ-2", "hazard[1]: key 'id' must look like H-01, got 'HZ-2'"),
    ("requirement.1.hazards", ["H-07"],
     "requirement[1] (SR-002): key 'hazards': unknown hazard(s) H-07; known: H-01, H-02"),
    ("requirement.1.verification", ["review"],
     "requirement[1] (SR-002): key 'verification': unknown method(s) review"),
    ("requirement.1.text", "  ", "requirement[1] (SR-002): key 'text' must be a non-empty"),
    ("requirement.1.source", None, "requirement[1] (SR-002): key 'source' must be a non-empty"),
    ("requirement.1.allocated_to", [],
     "requirement[1] (SR-002): key 'allocated_to' must be a non-empty list"),
    ("requirement.1.owner", "me", "requirement[1]: unknown key(s) owner"),
    ("requirement.0.hazards", ["H-01"],
     "hazard(s) H-02 have no safety requirement; every hazard needs at least one"),
    ("requirement", [], "req.toml: needs at least one [[requirement]] table"),
])
def test_a_malformed_file_is_refused_naming_entry_and_key(change: str, value: Any,
                                                          message: str) -> None:
    with pytest.raises(SafetyFileError) as error:
        parse_safety_file(broken(change, value), "req.toml")

    assert message in str(error.value)


def test_a_missing_or_unparsable_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(SafetyFileError, match="requirements file not found"):
        load_safety_file(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("schema = = 1\n", encoding="utf-8")
    with pytest.raises(SafetyFileError, match=r"bad\.toml: not valid TOML"):
        load_safety_file(bad)
