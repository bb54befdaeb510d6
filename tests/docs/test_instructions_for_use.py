"""The instructions for use and the device can never disagree (issue 11 item 7).

The document is generated from the catalogue, the step help, the fault overlay's texts and the
control layer's limits; these tests fail when the committed document is stale, when an alarm or a
step has no entry, or when the PDF cannot be built the same way twice.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.control import domain_limits as lim
from kiosk.control.catalogue import load_catalogue
from kiosk.guide import STEP_IDS, HelpError, load_guide, parse_guide
from kiosk.screens.texts import FAULT_TEXTS
from tools.ifu.build import MARKDOWN_PATH, build, build_blocks, fault_codes, render_pdf

pytestmark = pytest.mark.requirement("SR-094")


@pytest.fixture(scope="module")
def document() -> str:
    return build()


def test_the_committed_document_is_what_the_device_would_print_now(document: str) -> None:
    committed = MARKDOWN_PATH.read_text(encoding="utf-8")
    assert committed == document, "docs/instructions-for-use.md is stale: " \
                                  "run python -m tools.ifu.build"


def test_every_alarm_the_control_layer_can_latch_is_explained_with_what_to_do(
        document: str) -> None:
    missing = [code for code in fault_codes() if code not in FAULT_TEXTS]
    assert missing == [], f"faults without a screen text (what happened, what to do): {missing}"
    for code in fault_codes():
        happened, todo = FAULT_TEXTS[code]
        assert f"| {code} | {happened} | {todo} |" in document


def test_every_contraindication_and_caution_of_the_catalogue_is_listed(document: str) -> None:
    catalogue = load_catalogue()
    for item in catalogue.screening_items:
        assert f"- {item.question}" in document
    for caution in catalogue.caution_items:
        assert caution.text in document and caution.advice in document


def test_every_area_has_its_placement_rules_and_return_electrode(document: str) -> None:
    catalogue = load_catalogue()
    for area in catalogue.areas:
        assert f"### {area.name}" in document
        assert area.return_electrode in document
        for rule in (*area.placement_rules, *area.expected_sensations):
            assert f"- {rule}" in document


def test_every_step_of_the_flow_has_help_and_the_document_prints_it(document: str) -> None:
    guide = load_guide()
    assert tuple(s.step for s in guide.steps) == STEP_IDS
    for step in guide.steps:
        assert step.do and step.watch_for, step.step
        assert f"### {step.title}" in document
        for line in (*step.do, *step.client_feels, *step.watch_for):
            assert f"- {line}" in document


def test_the_technical_data_are_the_limits_the_control_layer_enforces(document: str) -> None:
    assert f"| Largest current of any program | {lim.FIRMWARE_MAX_CURRENT_MA:.2f} mA |" \
        in document
    assert f"at most {lim.STAGE_TIME_CAP_S / 60:g} min" in document
    assert f"current at zero within {lim.STOP_TO_ZERO_MAX_S:g} s" in document
    for program in load_catalogue().programs:
        assert f"{program.cap_current_ma:.2f} mA" in document


def test_the_optional_second_phase_is_printed_with_its_caps(document: str) -> None:
    program = load_catalogue().program("face", "disincrustation")
    second = program.second_phase
    assert second is not None
    assert f"{second.name}, active electrode positive (+, anode), " \
           f"{second.default_current_ma:.2f} mA (cap {second.cap_current_ma:.2f} mA) for " \
           f"{second.default_stage_s / 60:g} min (cap {second.cap_stage_s / 60:g} min)" in document


def test_a_changed_catalogue_changes_the_document(tmp_path: Path) -> None:
    from kiosk.control.catalogue import DEFAULT_PATH

    text = DEFAULT_PATH.read_text(encoding="utf-8").replace(
        "Never on the eyelid or the eyeball.", "Never on the eyelid, the eyeball or the brow.")
    edited = tmp_path / "catalogue.toml"
    edited.write_text(text, encoding="utf-8")
    assert "the eyeball or the brow" in build(catalogue=load_catalogue(edited))
    assert "the eyeball or the brow" not in MARKDOWN_PATH.read_text(encoding="utf-8")


def test_the_pdf_is_built_from_the_same_blocks_and_is_reproducible(tmp_path: Path) -> None:
    blocks = build_blocks(load_catalogue(), load_guide())
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    pages = render_pdf(blocks, first)
    render_pdf(blocks, second)
    assert pages >= 4
    assert first.read_bytes()[:5] == b"%PDF-"
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize("edit", [
    lambda raw: raw["steps"].pop("current"),
    lambda raw: raw["steps"]["peel"].update(do=[]),
    lambda raw: raw["steps"]["tonic"].update(extra="x"),
    lambda raw: raw["document"].update(symbols=[["only one"]]),
    lambda raw: raw.update(version=""),
], ids=["missing-step", "empty-do", "unknown-key", "bad-symbol", "empty-version"])
def test_a_malformed_help_file_is_refused_naming_the_key(edit: object) -> None:
    import tomllib

    from kiosk.guide import HELP_PATH

    raw = tomllib.loads(HELP_PATH.read_text(encoding="utf-8"))
    edit(raw)  # type: ignore[operator]
    with pytest.raises(HelpError, match=r"help\.toml"):
        parse_guide(raw)
