"""The gettext catalogues stay in step with the sources and the treatment catalogue."""

from __future__ import annotations

import re

import pytest

from kiosk import i18n
from kiosk.control.reasons import FAULT_CODES
from kiosk.i18n import numbers
from kiosk.screens.texts import FAULT_TEXTS, REASON_TEXTS
from tools.i18n import catalogue as build

PLACEHOLDER = re.compile(r"\{[a-z_]+(?::[^}]*)?\}")


def test_every_language_has_every_message_translated_and_compiled() -> None:
    msgids = build.extract_all()
    assert len(msgids) > 200
    problems = [p for language in i18n.LANGUAGES for p in build.problems(language, msgids)]
    assert problems == [], "run `python -m tools.i18n.catalogue` and translate:\n" + "\n".join(
        problems)


def test_translations_keep_every_placeholder() -> None:
    entries = build.translations(build.load("ru"))
    broken = {msgid: text for msgid, text in entries.items()
              if sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(text))}
    assert broken == {}


def test_compiled_catalogue_is_what_gettext_reads() -> None:
    i18n.set_language("ru")
    try:
        assert i18n._("Start treatment") == build.translations(build.load("ru"))[
            "Start treatment"]
        assert i18n._("Start treatment") != "Start treatment"
    finally:
        i18n.set_language("en")
    assert i18n._("Start treatment") == "Start treatment"


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown language"):
        i18n.set_language("xx")


def test_every_fault_the_control_layer_can_latch_has_plain_words() -> None:
    assert sorted(FAULT_CODES - set(FAULT_TEXTS)) == []


def test_reason_templates_name_only_values_the_control_layer_gives() -> None:
    from kiosk.control.reasons import CATALOGUE, Code

    for code, template in REASON_TEXTS.items():
        control_fields = set(re.findall(r"\{([a-z_]+)", CATALOGUE[Code(code)].template))
        ui_fields = set(re.findall(r"\{([a-z_]+)", template))
        assert ui_fields <= control_fields, code


def test_mo_writer_round_trips_through_gettext(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import gettext

    catalog = build.new_catalog("ru")
    for msgid, text in {"Dose": "Доза", "Empty": "", "Line\nbreak": "Строка\nдве"}.items():
        catalog.add(msgid, text)
    (tmp_path / "ru" / "LC_MESSAGES").mkdir(parents=True)
    (tmp_path / "ru" / "LC_MESSAGES" / "t.mo").write_bytes(build.mo_bytes(catalog))
    translations = gettext.translation("t", localedir=str(tmp_path), languages=["ru"])
    assert translations.gettext("Dose") == "Доза"
    assert translations.gettext("Empty") == "Empty"
    assert translations.gettext("Line\nbreak") == "Строка\nдве"


def test_extraction_finds_calls_and_skips_non_literals(tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "screen.py"
    source.write_text('x = _("Hello {name}")\ny = N_("Marked")\nz = _(variable)\n'
                      'w = f"{_(\'Inner\')}"\n', encoding="utf-8")
    assert build.extract_from_source(source)[:2] == ["Hello {name}", "Marked"]
    assert "variable" not in build.extract_from_source(source)


def test_the_runtime_package_does_not_import_the_catalogue_tool() -> None:
    import ast
    from pathlib import Path

    package = Path(i18n.__file__).resolve().parent.parent
    offenders = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path}: {n}" for n in names
                          if n.startswith(("tools", "babel.messages"))]
    assert offenders == []


@pytest.mark.parametrize(("language", "value", "places", "expected"), [
    ("en", 0.8, 2, "0.80"), ("ru", 0.8, 2, "0,80"), ("en", -0.04, 1, "0.0"),
    ("ru", -0.0, 1, "0,0"), ("ru", 14.55, 1, "14,6"), ("en", 2.0, 0, "2"),
])
def test_numbers_follow_the_language(language: str, value: float, places: int,
                                     expected: str) -> None:
    i18n.set_language(language)
    try:
        assert numbers.decimal(value, places) == expected
    finally:
        i18n.set_language("en")


def test_reason_templates_use_the_same_number_formatter() -> None:
    from kiosk.control.codes import Reason, Severity
    from kiosk.screens.texts import reason_text

    reason = Reason("current_at_cap", "at cap", Severity.INFO, (("cap_ma", 1.5),))
    i18n.set_language("ru")
    try:
        assert "1,50" in reason_text(reason)
    finally:
        i18n.set_language("en")
    assert "1.50 mA" in reason_text(reason)
