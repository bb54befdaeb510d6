"""The packaged catalogue carries domain.md's numbers, and the loader refuses bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.control import domain_limits as lim
from kiosk.control.catalogue import DEFAULT_PATH, Catalogue, CatalogueError, load_catalogue
from kiosk.control.commands import Polarity

NEG, POS = Polarity.NEGATIVE, Polarity.POSITIVE


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def test_the_four_areas_carry_their_current_and_dose_caps(catalogue: Catalogue) -> None:
    caps = {a.id: (a.current_cap_ma, a.dose_cap_ma_min) for a in catalogue.areas}
    assert caps == {"face": (1.5, 20.0), "neck": (1.0, 15.0), "decollete": (2.0, 30.0),
                    "eye_area": (0.3, 2.5)}


@pytest.mark.parametrize(("area", "indications"), [
    ("face", ["disincrustation", "pigmentation", "ageing", "dry_skin"]),
    ("neck", ["ageing", "dry_skin"]),
    ("decollete", ["ageing"]),
    ("eye_area", ["puffiness"]),
])
def test_each_area_offers_only_its_indications(
        catalogue: Catalogue, area: str, indications: list[str]) -> None:
    assert [i.id for i in catalogue.indications_for(area)] == indications


@pytest.mark.parametrize(("program_id", "polarity", "default_ma", "cap_ma", "density",
                          "default_min", "cap_min"), [
    ("face.disincrustation", NEG, 0.8, 1.5, 0.3, 4, 7),
    ("face.pigmentation", NEG, 0.6, 0.8, 0.1, 12, 15),
    ("face.ageing", NEG, 0.6, 1.0, 0.1, 10, 15),
    ("neck.ageing", NEG, 0.5, 1.0, 0.1, 10, 15),
    ("decollete.ageing", NEG, 1.0, 2.0, 0.1, 10, 15),
    ("eye_area.puffiness", POS, 0.15, 0.3, 0.2, 5, 8),
    ("face.dry_skin", NEG, 0.4, 0.8, 0.1, 10, 12),
    ("neck.dry_skin", NEG, 0.4, 0.8, 0.1, 10, 12),
])
def test_programs_carry_the_numbers_of_domain_section_4(
        catalogue: Catalogue, program_id: str, polarity: Polarity, default_ma: float,
        cap_ma: float, density: float, default_min: float, cap_min: float) -> None:
    area, indication = program_id.split(".")
    program = catalogue.program(area, indication)
    assert program.id == program_id
    assert program.polarity is polarity
    assert (program.default_current_ma, program.cap_current_ma) == (default_ma, cap_ma)
    assert program.density_cap_ma_per_cm2 == density
    assert (program.default_stage_s, program.cap_stage_s) == (default_min * 60, cap_min * 60)


def test_disincrustation_offers_the_acidic_toner_as_a_positive_second_phase(
        catalogue: Catalogue) -> None:
    second = catalogue.program("face", "disincrustation").second_phase
    assert second is not None
    assert second.polarity is POS and second.allowed_polarities == (POS,)
    assert (second.default_current_ma, second.cap_current_ma) == (0.5, 1.0)
    assert second.density_cap_ma_per_cm2 == 0.2
    assert (second.default_stage_s, second.cap_stage_s) == (120.0, 180.0)
    assert catalogue.program("face", "pigmentation").second_phase is None


def test_products_marked_by_their_maker_allow_either_pole_with_a_note(catalogue: Catalogue) -> None:
    for area, indication in [("face", "ageing"), ("face", "dry_skin"), ("decollete", "ageing")]:
        program = catalogue.program(area, indication)
        assert set(program.allowed_polarities) == {NEG, POS}
        assert program.main.polarity_note
    assert catalogue.program("face", "pigmentation").allowed_polarities == (NEG,)


def test_electrodes_carry_shape_area_and_max_current(catalogue: Catalogue) -> None:
    roller = catalogue.electrode("face_roller")
    assert (roller.shape, roller.contact_area_cm2, roller.moving) == ("roller", 5.0, True)
    ball = catalogue.electrode("eye_ball")
    assert (ball.contact_area_cm2, ball.max_current_ma) == (1.5, 0.3)
    pair = catalogue.electrode("decollete_pair")
    assert pair.bipolar and pair.contact_area_cm2 == 40.0
    assert catalogue.program("decollete", "ageing").electrode_ids == ("decollete_pair",)


def test_screening_lists_every_blocking_item_of_domain_section_5(catalogue: Catalogue) -> None:
    ids = {item.id for item in catalogue.screening_items}
    assert {"implanted_device", "pregnancy", "lactation", "cancer_or_suspicious_lesion",
            "endocrine_disorder", "ent_condition", "chronic_skin_condition", "damaged_skin",
            "acute_inflammation", "metal_implant", "epilepsy", "heart_condition",
            "reduced_sensation", "current_intolerance_or_allergy",
            "fever_or_acute_illness"} <= ids
    assert all(item.question.endswith("?") for item in catalogue.screening_items)
    pacemaker = next(i for i in catalogue.screening_items if i.id == "implanted_device")
    assert "pacemaker" in pacemaker.question


@pytest.mark.requirement("SR-047")
def test_caution_items_lower_the_caps(catalogue: Catalogue) -> None:
    ids = {item.id for item in catalogue.caution_items}
    assert {"metal_near_path", "sensitive_skin_or_same_day_procedure"} <= ids
    assert all(item.lowers_caps for item in catalogue.caution_items)


def test_texts_use_cosmetic_words_only(catalogue: Catalogue) -> None:
    text = DEFAULT_PATH.read_text(encoding="utf-8").lower()
    for word in ("acne", "treats", "heals", "cure", "therapy", "patient"):
        assert word not in text, word


def test_unknown_program_lookup_names_area_and_indication(catalogue: Catalogue) -> None:
    with pytest.raises(KeyError, match=r"pigmentation.*eye_area"):
        catalogue.program("eye_area", "pigmentation")


# --- the loader refuses bad files --------------------------------------------------------------

def _variant(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "catalogue.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_an_unknown_key_is_named_with_the_allowed_ones(tmp_path: Path) -> None:
    path = _variant(tmp_path, 'name = "Deep cleansing"\npolarity',
                    'name = "Deep cleansing"\nturbo = true\npolarity')
    with pytest.raises(CatalogueError, match=r"programs\.face\.disincrustation.*'turbo'"):
        load_catalogue(path)


@pytest.mark.requirement("SR-004")
def test_a_program_cap_above_the_area_limit_is_refused_with_the_range(tmp_path: Path) -> None:
    path = _variant(tmp_path, "default_current_ma = 0.15\ncap_current_ma = 0.3",
                    "default_current_ma = 0.15\ncap_current_ma = 0.5")
    with pytest.raises(CatalogueError,
                       match=r"eye_area\.puffiness\.cap_current_ma.*allowed 0\.05\.\.0\.3 mA"):
        load_catalogue(path)


@pytest.mark.requirement("SR-004")
def test_an_area_cap_above_domain_section_6_is_refused(tmp_path: Path) -> None:
    path = _variant(tmp_path, "current_cap_ma = 1.0\ndose_cap_ma_min = 15.0",
                    "current_cap_ma = 1.2\ndose_cap_ma_min = 15.0")
    with pytest.raises(CatalogueError, match=r"areas\.neck\.current_cap_ma = 1\.2"):
        load_catalogue(path)


def test_a_time_cap_above_the_indications_cap_is_refused(tmp_path: Path) -> None:
    """The indication caps (domain.md 4) sit under the 20-minute program cap (domain.md 6)."""
    assert max(lim.INDICATION_STAGE_TIME_CAP_S.values()) <= lim.STAGE_TIME_CAP_S
    path = _variant(tmp_path, "cap_stage_min = 15.0", "cap_stage_min = 25.0")
    with pytest.raises(CatalogueError, match=r"cap_stage_min = 25\.0.*allowed 1\.\.15 min"):
        load_catalogue(path)


@pytest.mark.requirement("SR-017")
def test_a_default_above_the_default_electrodes_density_cap_is_refused(tmp_path: Path) -> None:
    # Pigmentation on the 5 cm² roller: 0.1 mA/cm² x 5 cm² = 0.5 mA < 0.6 mA default.
    path = _variant(tmp_path, 'default_electrode = "pad_15"\nplacement_rules = ["Cover',
                    'default_electrode = "face_roller"\nplacement_rules = ["Cover')
    with pytest.raises(CatalogueError, match=r"face\.pigmentation\.default_current_ma.*0\.5 mA"):
        load_catalogue(path)


@pytest.mark.requirement("SR-043")
def test_the_decollete_refuses_an_electrode_that_is_not_a_bipolar_pair(tmp_path: Path) -> None:
    path = _variant(tmp_path, 'electrodes = ["decollete_pair"]',
                    'electrodes = ["decollete_pair", "pad_15"]')
    with pytest.raises(CatalogueError, match="bipolar"):
        load_catalogue(path)


def test_an_unknown_electrode_reference_is_named(tmp_path: Path) -> None:
    path = _variant(tmp_path, 'electrodes = ["eye_ball"]', 'electrodes = ["eye_spoon"]')
    with pytest.raises(CatalogueError, match="eye_spoon"):
        load_catalogue(path)


def test_a_bad_polarity_lists_the_allowed_values(tmp_path: Path) -> None:
    path = _variant(tmp_path, 'polarity = "positive"\nallowed_polarities = ["positive"]\n'
                              'default_current_ma = 0.15',
                    'polarity = "plus"\nallowed_polarities = ["positive"]\n'
                    'default_current_ma = 0.15')
    with pytest.raises(CatalogueError, match=r"'plus'.*negative.*positive"):
        load_catalogue(path)


def test_an_unknown_area_is_refused(tmp_path: Path) -> None:
    path = _variant(tmp_path, "[areas.eye_area]", "[areas.scalp]")
    with pytest.raises(CatalogueError, match=r"areas\.scalp: unknown area"):
        load_catalogue(path)


def test_a_missing_file_and_broken_toml_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="not found"):
        load_catalogue(tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("version = \n", encoding="utf-8")
    with pytest.raises(CatalogueError, match="not valid TOML"):
        load_catalogue(broken)


def test_duplicate_screening_ids_are_refused(tmp_path: Path) -> None:
    path = _variant(tmp_path, 'id = "lactation"', 'id = "pregnancy"')
    with pytest.raises(CatalogueError, match="duplicate id 'pregnancy'"):
        load_catalogue(path)


# --- issue 11: required seed items, screening order, per-indication time caps ------------------

@pytest.mark.requirement("SR-093")
@pytest.mark.parametrize("item_id", lim.REQUIRED_SCREENING_IDS)
def test_a_catalogue_without_a_seed_contraindication_is_refused(tmp_path: Path,
                                                                item_id: str) -> None:
    """domain.md 5: the [0] items are required; an edit can never drop pregnancy."""
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    start = text.index(f'id = "{item_id}"')
    block_start = text.rindex("[[screening]]", 0, start)
    block_end = text.index("[[", start)
    path = tmp_path / "catalogue.toml"
    path.write_text(text[:block_start] + text[block_end:], encoding="utf-8")
    with pytest.raises(CatalogueError,
                       match=rf"required contraindications missing: \['{item_id}'\]"):
        load_catalogue(path)


@pytest.mark.requirement("SR-093")
def test_a_catalogue_with_every_seed_item_but_renamed_ids_is_refused(tmp_path: Path) -> None:
    """Renaming counts as dropping: the id is what the records and the rule refer to."""
    path = _variant(tmp_path, 'id = "pregnancy"', 'id = "pregnant"')
    with pytest.raises(CatalogueError, match="pregnancy"):
        load_catalogue(path)


@pytest.mark.requirement("SR-093")
def test_general_items_are_asked_before_the_area_and_area_items_after(
        catalogue: Catalogue) -> None:
    """domain.md 5, order: items that say "in the area" are asked once the area is known."""
    general = {i.id for i in catalogue.screening_for("general")}
    area = {i.id for i in catalogue.screening_for("area")}
    assert not general & area
    assert general | area == {i.id for i in catalogue.screening_items}
    assert {"pregnancy", "implanted_device", "epilepsy", "heart_condition",
            "endocrine_disorder", "ent_condition", "fever_or_acute_illness"} <= general
    assert {"chronic_skin_condition", "damaged_skin", "acute_inflammation", "metal_implant",
            "reduced_sensation", "cancer_or_suspicious_lesion"} <= area
    for item in catalogue.screening_items:
        asks_about_area = "in the area" in item.question or "where the current" in item.question
        assert asks_about_area == (item.scope == "area"), item.id


def test_an_unknown_screening_scope_is_refused_with_the_allowed_ones(tmp_path: Path) -> None:
    path = _variant(tmp_path, 'scope = "general"', 'scope = "later"')
    with pytest.raises(CatalogueError, match=r"scope.*'later'.*\['general', 'area'\]"):
        load_catalogue(path)


def test_a_screening_item_without_a_scope_is_refused(tmp_path: Path) -> None:
    path = _variant(tmp_path, 'scope = "general"\n', "")
    with pytest.raises(CatalogueError, match="scope"):
        load_catalogue(path)


def test_the_caution_about_a_peel_does_not_catch_the_devices_own_peel(
        catalogue: Catalogue) -> None:
    item = next(i for i in catalogue.caution_items
                if i.id == "sensitive_skin_or_same_day_procedure")
    assert "elsewhere or earlier today" in item.text
    assert "not this device's own enzymatic peel" in item.text


@pytest.mark.parametrize(("indication", "cap_min"), [
    ("disincrustation", 7), ("pigmentation", 15), ("ageing", 15), ("puffiness", 8),
    ("dry_skin", 12)])
def test_each_programs_time_cap_is_within_its_indications_cap(
        catalogue: Catalogue, indication: str, cap_min: float) -> None:
    """domain.md 4: current-stage time cap per indication (disincrustation 7 minutes)."""
    assert lim.INDICATION_STAGE_TIME_CAP_S[indication] == cap_min * 60
    for program in catalogue.programs:
        if program.id.endswith("." + indication):
            assert program.cap_stage_s <= cap_min * 60


@pytest.mark.requirement("SR-093")
def test_disincrustation_above_seven_minutes_is_refused(tmp_path: Path) -> None:
    path = _variant(tmp_path, "default_stage_min = 4.0\ncap_stage_min = 7.0",
                    "default_stage_min = 4.0\ncap_stage_min = 7.5")
    with pytest.raises(CatalogueError,
                       match=r"programs\.face\.disincrustation.*cap_stage_min.*1\.\.7 min"):
        load_catalogue(path)
    at_cap = _variant(tmp_path, "default_stage_min = 4.0\ncap_stage_min = 7.0",
                      "default_stage_min = 7.0\ncap_stage_min = 7.0")
    assert load_catalogue(at_cap).program("face", "disincrustation").cap_stage_s == 420.0


def test_the_eye_area_says_flashes_of_light_mean_stop(catalogue: Catalogue) -> None:
    eye = catalogue.sensations_for("eye_area")
    assert "flashes of light" in eye[0].lower() and "stop" in eye[0].lower()
    assert eye[1:] == catalogue.expected_sensations
    assert catalogue.sensations_for("face") == catalogue.expected_sensations
