"""The one list of codes: complete, stable, and every sentence fillable."""

from __future__ import annotations

import re
import string

import pytest

from kiosk.control.codes import Severity
from kiosk.control.reasons import (
    CATALOGUE,
    DEVICE_FAULT_CODES,
    FAULT_CODES,
    Code,
    Kind,
    make,
    spec_of,
)

REQUIRED_FAULTS = {
    "contact_lost", "over_current", "regulation", "unintended_output", "sensor_stale",
    "sensor_range", "sensor_sign", "dac_readback", "short_circuit", "compliance_saturation",
    "polarity_mismatch", "estop", "hw_trip", "i2c_error", "loop_overrun", "loop_stall",
    "ui_heartbeat_lost", "internal_error", "selftest_failed", "boost_out_of_range",
}


def fields_of(template: str) -> dict[str, str]:
    """Placeholder name -> format spec."""
    return {name: spec or "" for _, name, spec, _ in string.Formatter().parse(template) if name}


def filled(code: Code) -> dict[str, object]:
    return {name: (1.25 if spec else "x") for name, spec in
            fields_of(CATALOGUE[code].template).items()}


def test_every_fault_the_task_names_is_a_high_priority_fault() -> None:
    assert REQUIRED_FAULTS <= FAULT_CODES
    for code in REQUIRED_FAULTS:
        spec = spec_of(code)
        assert spec.kind is Kind.FAULT and spec.severity is Severity.HIGH


def test_every_code_has_one_spec_and_a_snake_case_value() -> None:
    assert set(CATALOGUE) == set(Code)
    values = [c.value for c in Code]
    assert len(values) == len(set(values))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", v) for v in values)


def test_only_faults_are_high_priority_and_device_faults_are_faults() -> None:
    for spec in CATALOGUE.values():
        assert (spec.severity is Severity.HIGH) == (spec.kind is Kind.FAULT), spec.code
    assert DEVICE_FAULT_CODES <= FAULT_CODES
    assert "contact_lost" not in DEVICE_FAULT_CODES  # the skin, not the device


@pytest.mark.parametrize("code", list(Code))
def test_every_sentence_fills_and_reads_as_a_sentence(code: Code) -> None:
    reason = make(code, **filled(code))  # type: ignore[arg-type]
    assert reason.code == code.value
    template = CATALOGUE[code].template
    assert template[0].isupper() or template[0] in "'{", template
    assert reason.text.rstrip().endswith((".", ")")), reason.text
    assert "{" not in reason.text


def test_faults_say_what_happened_and_that_the_current_was_cut_or_what_to_do() -> None:
    for code in FAULT_CODES:
        text = make(Code(code), **filled(Code(code))).text.lower()  # type: ignore[arg-type]
        assert any(w in text for w in ("cut", "no treatment", "call service", "check")), code


def test_a_sentence_with_a_missing_value_is_refused_not_shown_with_a_hole() -> None:
    with pytest.raises(KeyError, match="cap_ma"):
        make(Code.CURRENT_ABOVE_CAP, requested_ma=1.6, limit="area")


def test_details_keep_the_values_the_sentence_names() -> None:
    reason = make(Code.CURRENT_ABOVE_CAP, requested_ma=1.6, limit="area", cap_ma=1.5)
    assert reason.detail("cap_ma") == 1.5 and reason.detail("limit") == "area"
    assert reason.detail("missing") is None
    assert "1.50 mA" in reason.text and str(reason).startswith("current_above_cap: ")
