"""No current without the client's consent to the consent in force (issue 11 item 6, SR-130..132).

The control core is the last line: whatever the screen does, a start must carry the catalogue's
consent version (``Catalogue.consent_version``: the declared version plus a digest of the consent
texts and the screening questions). Missing, stale after a catalogue change, or junk: refused
with a stable code, nothing moves, no current flows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.control.catalogue import DEFAULT_PATH, CatalogueError, load_catalogue
from kiosk.control.commands import ProgramRequest, StartTreatment
from kiosk.control.core import ControlCore
from kiosk.control.snapshot import TreatmentState as S
from kiosk.control.validation import validate_command
from tests.consent_version import CONSENT
from tests.control.core_rig import Rig
from tests.control.junk import BAD_TEXT

PROGRAM = ProgramRequest("face", "pigmentation", current_ma=0.6, current_stage_s=600)


def ready() -> Rig:
    """A core past its self-test, its first cycle (and its self-test decision) done."""
    rig = Rig.ready()
    rig.tick()
    return rig


def start(rig: Rig, consent: object) -> list[str]:
    result = rig.tick([StartTreatment(PROGRAM, "s1", True,
                                      consent_version=consent)])  # type: ignore[arg-type]
    return [e.code for e in result.events]


def no_current_follows(rig: Rig) -> None:
    rig.run(2.0)
    assert rig.core.state is S.IDLE
    assert not rig.actuation.output_relay_closed and rig.actuation.dac_ma == 0.0
    assert rig.plant.current_ma == 0.0


def _variant(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "catalogue.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.requirement("SR-130")
def test_a_start_without_consent_is_refused_and_no_current_flows() -> None:
    rig = ready()
    assert start(rig, None) == ["consent_missing"]
    no_current_follows(rig)


@pytest.mark.requirement("SR-130")
def test_a_start_with_the_consent_in_force_goes_to_the_contact_check() -> None:
    rig = ready()
    codes = start(rig, CONSENT)
    assert "treatment_started" in codes and "consent_missing" not in codes
    assert rig.core.state is S.CONTACT_CHECK


@pytest.mark.requirement("SR-130")
@pytest.mark.parametrize("given", [
    "1",  # the declared version alone, without the digest
    CONSENT[:-1] + ("0" if CONSENT[-1] != "0" else "1"),  # one digit off
    CONSENT + " ",
    CONSENT.upper() if CONSENT.upper() != CONSENT else CONSENT + "x",
])
def test_a_consent_that_is_not_the_one_in_force_is_refused_as_stale(given: str) -> None:
    rig = ready()
    result = rig.tick([StartTreatment(PROGRAM, "s1", True, consent_version=given)])
    refusal = [e for e in result.events if e.code == "consent_stale"]
    assert [e.code for e in result.events] == ["consent_stale"]
    assert refusal[0].detail("expected") == CONSENT and refusal[0].detail("given") == given
    no_current_follows(rig)


@pytest.mark.requirement("SR-131")
@pytest.mark.parametrize("edit", [
    # a screening question reworded: the client is asked again
    ('question = "Is the client pregnant, or could she be?"',
     'question = "Is the client pregnant, or might she be?"'),
    # the consent text changed (one language is enough)
    ("I can ask to stop at any time.", "I can ask to stop whenever I want."),
    # the declared version raised
    ('[consent]\nversion = "1"', '[consent]\nversion = "2"'),
])
def test_after_a_catalogue_change_the_old_consent_is_stale(tmp_path: Path,
                                                           edit: tuple[str, str]) -> None:
    changed = load_catalogue(_variant(tmp_path, *edit))
    assert changed.consent_version != CONSENT
    rig = ready()
    rig.core = ControlCore(changed)
    _pass_self_test(rig)
    rig.tick()
    assert start(rig, CONSENT) == ["consent_stale"]
    no_current_follows(rig)
    assert "treatment_started" in start(rig, changed.consent_version)


def _pass_self_test(rig: Rig) -> None:
    from kiosk.control.core import SelfTestReadings

    assert rig.core.self_test(SelfTestReadings(True, True, 1, 0, True, True, 0.0, 0.0),
                              rig.now_s).passed


@pytest.mark.requirement("SR-131")
def test_a_change_outside_consent_and_screening_keeps_the_consent(tmp_path: Path) -> None:
    changed = load_catalogue(_variant(tmp_path, 'version = "1.0.0"', 'version = "1.0.1"'))
    assert changed.consent_version == CONSENT


@pytest.mark.requirement("SR-132")
@pytest.mark.parametrize("junk", [*(t for t in BAD_TEXT if t is not None), 1, 1.0, True,
                                  b"1+abc", ["1"], {"v": 1}],
                         ids=repr)
def test_junk_in_the_consent_field_is_refused_as_an_invalid_command(junk: object) -> None:
    command = StartTreatment(PROGRAM, "s1", True, consent_version=junk)  # type: ignore[arg-type]
    checked = validate_command(command)
    assert not isinstance(checked, StartTreatment)
    assert checked.code == "invalid_command" and checked.detail("field") == "consent_version"
    rig = ready()
    assert start(rig, junk) == ["invalid_command"]
    no_current_follows(rig)


@pytest.mark.requirement("SR-131")
@pytest.mark.parametrize("old, new, message", [
    ('[consent]\nversion = "1"\n', "[consent]\n", r"consent.*missing key.*version"),
    ('[consent]\nversion = "1"', '[consent]\nversion = ""', r"consent\.version"),
    ("[consent.ru]", "[consent.de]", r"consent"),
    ('confirm = "I have read this text and agree to the treatment."\n', "",
     r"consent\.en.*confirm"),
])
def test_a_catalogue_without_a_complete_consent_is_refused(tmp_path: Path, old: str, new: str,
                                                            message: str) -> None:
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(_variant(tmp_path, old, new))


@pytest.mark.requirement("SR-131")
def test_a_catalogue_without_the_consent_section_is_refused(tmp_path: Path) -> None:
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    cut = text[:text.index("[consent]")]
    path = tmp_path / "catalogue.toml"
    path.write_text(cut, encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"missing key\(s\) \['consent'\]"):
        load_catalogue(path)


def test_the_consent_exists_in_both_languages_with_the_same_pages() -> None:
    consent = load_catalogue().consent
    assert [t.language for t in consent.texts] == ["en", "ru"]
    assert len({len(t.pages) for t in consent.texts}) == 1
    russian = consent.text("ru").full_text
    assert any("а" <= ch <= "я" for ch in russian)
