"""The gettext catalogues stay in step with the sources and the treatment catalogue."""

from __future__ import annotations

import re

import pytest

from kiosk import i18n
from kiosk.control.reasons import FAULT_CODES
from kiosk.i18n import build
from kiosk.screens.texts import FAULT_TEXTS, REASON_TEXTS

PLACEHOLDER = re.compile(r"\{[a-z_]+(?::[^}]*)?\}")


def test_every_language_has_every_message_translated_and_compiled() -> None:
    msgids = build.extract_all()
    assert len(msgids) > 200
    problems = [p for language in i18n.LANGUAGES for p in build.problems(language, msgids)]
    assert problems == [], "run `python -m kiosk.i18n.build` and translate:\n" + "\n".join(
        problems)


def test_translations_keep_every_placeholder() -> None:
    po = build.read_po(build.po_path("ru"))
    broken = {msgid: text for msgid, text in po.entries.items()
              if sorted(PLACEHOLDER.findall(msgid)) != sorted(PLACEHOLDER.findall(text))}
    assert broken == {}


def test_compiled_catalogue_is_what_gettext_reads() -> None:
    i18n.set_language("ru")
    try:
        assert i18n._("Start treatment") == build.read_po(build.po_path("ru")).entries[
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

    po = build.PoFile(header=build.header_for("ru"),
                      entries={"Dose": "Доза", "Empty": "", "Line\nbreak": "Строка\nдве"})
    (tmp_path / "ru" / "LC_MESSAGES").mkdir(parents=True)
    (tmp_path / "ru" / "LC_MESSAGES" / "t.mo").write_bytes(build.compile_mo(po))
    translations = gettext.translation("t", localedir=str(tmp_path), languages=["ru"])
    assert translations.gettext("Dose") == "Доза"
    assert translations.gettext("Empty") == "Empty"
    assert translations.gettext("Line\nbreak") == "Строка\nдве"
