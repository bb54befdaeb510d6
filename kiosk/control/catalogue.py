"""The treatment catalogue: areas, indications, electrodes, programs, screening and caution items.

Why a data file: the screens show the same programs the control core enforces, from ONE file
(`catalogue.toml` in this package), so a number is never typed twice. Why a strict loader: the
file may be edited by a manufacturer; an unknown key, a value out of range or a cap above an
absolute limit of domain.md section 6 (:mod:`kiosk.control.domain_limits`) stops the load with
the file, the key and the allowed range named, instead of quietly running with it.

The loaded objects are frozen; times are in seconds here (minutes in the file).
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.control import domain_limits as lim
from kiosk.control.commands import Polarity

DEFAULT_PATH = Path(__file__).with_name("catalogue.toml")
CONSENT_LANGUAGES = ("en", "ru")
"""Every consent text exists in each of these languages (the kiosk's languages): a client signs
the text she can read, and the record keeps the very text shown."""
COURSE_MAX_SESSIONS = 30
COURSE_MAX_INTERVAL_DAYS = 90


class CatalogueError(ValueError):
    """The catalogue file is missing, malformed, or asks for more than the domain allows."""


@dataclass(frozen=True, slots=True)
class Area:
    id: str
    name: str
    current_cap_ma: float
    dose_cap_ma_min: float
    return_electrode: str
    placement_rules: tuple[str, ...]
    expected_sensations: tuple[str, ...] = ()
    """What the client may feel in this area besides the catalogue-wide notes (the eye area:
    flashes of light mean stop)."""


@dataclass(frozen=True, slots=True)
class Indication:
    id: str
    name: str
    description: str


@dataclass(frozen=True, slots=True)
class Electrode:
    """An active electrode the device knows; the UI cannot type an area (domain.md 3)."""

    id: str
    name: str
    shape: str  # pad | roller | ball
    contact_area_cm2: float
    moving: bool
    max_current_ma: float
    bipolar: bool = False


@dataclass(frozen=True, slots=True)
class Active:
    """A cosmetic product and the charge sign its maker prints on it (decides the pole)."""

    name: str
    charge: Polarity


@dataclass(frozen=True, slots=True)
class Phase:
    """One current stage of a program: its polarity, currents, density and time."""

    id: str  # "face.disincrustation" or "face.disincrustation.second_phase"
    name: str
    actives: tuple[Active, ...]
    polarity: Polarity  # default polarity of the active electrode
    allowed_polarities: tuple[Polarity, ...]
    polarity_note: str
    default_current_ma: float
    cap_current_ma: float
    density_cap_ma_per_cm2: float
    default_stage_s: float
    cap_stage_s: float


@dataclass(frozen=True, slots=True)
class CoursePlan:
    """A program's course as domain.md 2 gives it: how many sessions, how many days apart.

    Guidance, never enforced (domain.md 2): a session sooner than ``interval_days`` after the
    last one of the same program gets a warning the beautician sees; the current is not refused.
    """

    sessions_min: int
    sessions_max: int
    interval_days: int


@dataclass(frozen=True, slots=True)
class Program:
    """An area + indication with its main current stage and an optional second phase."""

    id: str  # "<area>.<indication>"
    area: str
    indication: str
    main: Phase
    second_phase: Phase | None
    electrode_ids: tuple[str, ...]
    default_electrode_id: str
    placement_rules: tuple[str, ...]
    course_guidance: str
    course: CoursePlan | None = None

    # The main phase's values, named as a program's (what most screens show).
    @property
    def name(self) -> str:
        return self.main.name

    @property
    def actives(self) -> tuple[Active, ...]:
        return self.main.actives

    @property
    def polarity(self) -> Polarity:
        return self.main.polarity

    @property
    def allowed_polarities(self) -> tuple[Polarity, ...]:
        return self.main.allowed_polarities

    @property
    def default_current_ma(self) -> float:
        return self.main.default_current_ma

    @property
    def cap_current_ma(self) -> float:
        return self.main.cap_current_ma

    @property
    def density_cap_ma_per_cm2(self) -> float:
        return self.main.density_cap_ma_per_cm2

    @property
    def default_stage_s(self) -> float:
        return self.main.default_stage_s

    @property
    def cap_stage_s(self) -> float:
        return self.main.cap_stage_s

    def phase(self, second: bool) -> Phase | None:
        """The main phase, or the second phase (None when the program has none)."""
        return self.second_phase if second else self.main


@dataclass(frozen=True, slots=True)
class ScreeningItem:
    """A blocking contraindication: "yes" ends every current stage of the session.

    ``scope`` says when it is asked (domain.md 5): ``general`` before the area is chosen,
    ``area`` once it is known (the question is about the treated area).
    """

    id: str
    question: str
    scope: str = "general"


@dataclass(frozen=True, slots=True)
class CautionItem:
    """A warning to acknowledge; ``lowers_caps`` halves the current and dose caps."""

    id: str
    text: str
    advice: str
    lowers_caps: bool


@dataclass(frozen=True, slots=True)
class ConsentText:
    """The consent in one language: a title, pages of text, and the sentence the client signs."""

    language: str
    title: str
    pages: tuple[str, ...]
    confirm: str

    @property
    def full_text(self) -> str:
        """The text as shown and signed (stored with the consent record)."""
        return "\n\n".join((self.title, *self.pages, self.confirm))


@dataclass(frozen=True, slots=True)
class Consent:
    """The client's consent of this catalogue (issue 11 item 6).

    ``version`` is the one a person edits; ``key`` is what a consent is tied to and what
    ``StartTreatment.consent_version`` must carry: the version plus a digest of every consent
    text and every screening question, so a changed screening text (or consent text) asks the
    client again even when nobody remembered to raise the version.
    """

    version: str
    texts: tuple[ConsentText, ...]
    digest: str

    @property
    def key(self) -> str:
        return f"{self.version}+{self.digest[:12]}"

    def text(self, language: str) -> ConsentText:
        for text in self.texts:
            if text.language == language:
                return text
        return self.texts[0]


def consent_digest(version: str, texts: tuple[ConsentText, ...],
                   screening: tuple[ScreeningItem, ...]) -> str:
    """SHA-256 over the consent's version, texts and the screening questions (canonical JSON)."""
    content = {
        "version": version,
        "texts": [[t.language, t.title, list(t.pages), t.confirm] for t in texts],
        "screening": [[i.id, i.question, i.scope] for i in screening],
    }
    return hashlib.sha256(json.dumps(content, ensure_ascii=False, sort_keys=True,
                                     separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Catalogue:
    version: str
    areas: tuple[Area, ...]
    indications: tuple[Indication, ...]
    electrodes: tuple[Electrode, ...]
    programs: tuple[Program, ...]
    screening_items: tuple[ScreeningItem, ...]
    caution_items: tuple[CautionItem, ...]
    expected_sensations: tuple[str, ...]
    consent: Consent
    source: str = str(DEFAULT_PATH)

    @property
    def consent_version(self) -> str:
        """What a start must carry (``StartTreatment.consent_version``): ``consent.key``."""
        return self.consent.key

    def screening_for(self, scope: str) -> tuple[ScreeningItem, ...]:
        """The screening items asked at one point of the flow (``general`` or ``area``)."""
        return tuple(item for item in self.screening_items if item.scope == scope)

    def sensations_for(self, area_id: str) -> tuple[str, ...]:
        """What the client may feel: the area's own notes first (they may say stop), then the
        catalogue-wide ones."""
        return self.area(area_id).expected_sensations + self.expected_sensations

    def area(self, area_id: str) -> Area:
        for area in self.areas:
            if area.id == area_id:
                return area
        raise KeyError(f"unknown area {area_id!r}; known: {[a.id for a in self.areas]}")

    def indication(self, indication_id: str) -> Indication:
        for indication in self.indications:
            if indication.id == indication_id:
                return indication
        raise KeyError(f"unknown indication {indication_id!r}")

    def indications_for(self, area_id: str) -> tuple[Indication, ...]:
        """The indications with a program on ``area_id``, in catalogue order."""
        offered = {p.indication for p in self.programs if p.area == area_id}
        return tuple(i for i in self.indications if i.id in offered)

    def program(self, area_id: str, indication_id: str) -> Program:
        for program in self.programs:
            if program.area == area_id and program.indication == indication_id:
                return program
        raise KeyError(f"no program for {indication_id!r} on {area_id!r}")

    def program_by_id(self, program_id: str) -> Program:
        for program in self.programs:
            if program.id == program_id:
                return program
        raise KeyError(f"unknown program {program_id!r}")

    def electrode(self, electrode_id: str) -> Electrode:
        for electrode in self.electrodes:
            if electrode.id == electrode_id:
                return electrode
        raise KeyError(f"unknown electrode {electrode_id!r}")

    def electrodes_for(self, program: Program) -> tuple[Electrode, ...]:
        return tuple(self.electrode(e) for e in program.electrode_ids)


def load_catalogue(path: Path | str | None = None) -> Catalogue:
    """Load and validate the catalogue (the packaged file when ``path`` is None)."""
    file = Path(path) if path is not None else DEFAULT_PATH
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CatalogueError(f"{file}: catalogue file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{file}: not valid TOML: {exc}") from exc
    return _Loader(str(file)).catalogue(raw)


class _Loader:
    """Walks the parsed TOML; every error names the file and the dotted key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, message: str) -> CatalogueError:
        return CatalogueError(f"{self.source}: {where}: {message}")

    # --- typed field access ---------------------------------------------------------------

    def table(self, value: object, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, "must be a table")
        return value

    def check_keys(self, table: Mapping[str, object], where: str, required: AbstractSet[str],
                   optional: AbstractSet[str] = frozenset()) -> None:
        unknown = set(table) - required - optional
        if unknown:
            raise self.fail(where, f"unknown key(s) {sorted(unknown)}; allowed: "
                                   f"{sorted(required | optional)}")
        missing = required - set(table)
        if missing:
            raise self.fail(where, f"missing key(s) {sorted(missing)}")

    def text(self, table: Mapping[str, object], key: str, where: str, default: str | None = None
             ) -> str:
        value = table.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where}.{key}", "must be a non-empty string")
        return value

    def number(self, table: Mapping[str, object], key: str, where: str, low: float, high: float,
               unit: str) -> float:
        value = table.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{where}.{key}", f"must be a number ({unit})")
        number = float(value)
        if not math.isfinite(number) or not low <= number <= high:
            raise self.fail(f"{where}.{key} = {value}", f"out of range; allowed "
                                                        f"{low:g}..{high:g} {unit}")
        return number

    def flag(self, table: Mapping[str, object], key: str, where: str, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(f"{where}.{key}", "must be true or false")
        return value

    def texts(self, table: Mapping[str, object], key: str, where: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(f"{where}.{key}", "must be a list of non-empty strings")
        return tuple(value)

    def polarity(self, value: object, where: str) -> Polarity:
        try:
            return Polarity(str(value))
        except ValueError:
            raise self.fail(f"{where} = {value!r}", f"not a polarity; allowed: "
                                                    f"{[p.value for p in Polarity]}") from None

    # --- sections -------------------------------------------------------------------------

    def catalogue(self, raw: dict[str, Any]) -> Catalogue:
        self.check_keys(raw, "top level",
                        {"version", "areas", "indications", "electrodes", "programs",
                         "screening", "caution", "consent"}, {"notes"})
        areas = tuple(self.area(k, v) for k, v in self.table(raw["areas"], "areas").items())
        indications = tuple(self.indication(k, v)
                            for k, v in self.table(raw["indications"], "indications").items())
        electrodes = tuple(self.electrode(k, v)
                           for k, v in self.table(raw["electrodes"], "electrodes").items())
        programs = self.programs(self.table(raw["programs"], "programs"),
                                 {a.id: a for a in areas}, {i.id for i in indications},
                                 {e.id: e for e in electrodes})
        screening = self.screening(raw["screening"])
        caution = self.caution(raw["caution"])
        notes = self.table(raw.get("notes", {}), "notes")
        self.check_keys(notes, "notes", set(), {"expected_sensations"})
        return Catalogue(
            version=self.text(raw, "version", "top level"),
            areas=areas,
            indications=indications,
            electrodes=electrodes,
            programs=programs,
            screening_items=screening,
            caution_items=caution,
            expected_sensations=self.texts(notes, "expected_sensations", "notes"),
            consent=self.consent(raw["consent"], screening),
            source=self.source,
        )

    def consent(self, raw: object, screening: tuple[ScreeningItem, ...]) -> Consent:
        t = self.table(raw, "consent")
        self.check_keys(t, "consent", {"version", *CONSENT_LANGUAGES})
        version = self.text(t, "version", "consent")
        if len(version) > 32 or not version.isprintable() or version.strip() != version:
            raise self.fail("consent.version", "must be 1-32 printable characters")
        texts: list[ConsentText] = []
        for language in CONSENT_LANGUAGES:
            where = f"consent.{language}"
            lt = self.table(t[language], where)
            self.check_keys(lt, where, {"title", "pages", "confirm"})
            pages = self.texts(lt, "pages", where)
            if not pages:
                raise self.fail(f"{where}.pages", "must hold at least one page of text")
            texts.append(ConsentText(language, self.text(lt, "title", where), pages,
                                     self.text(lt, "confirm", where)))
        if len({len(text.pages) for text in texts}) != 1:
            raise self.fail("consent", "every language must have the same number of pages")
        frozen = tuple(texts)
        return Consent(version, frozen, consent_digest(version, frozen, screening))

    def course(self, raw: object, where: str) -> CoursePlan:
        t = self.table(raw, where)
        self.check_keys(t, where, {"sessions_min", "sessions_max", "interval_days"})
        low = int(self.number(t, "sessions_min", where, 1, COURSE_MAX_SESSIONS, "sessions"))
        high = int(self.number(t, "sessions_max", where, 1, COURSE_MAX_SESSIONS, "sessions"))
        days = int(self.number(t, "interval_days", where, 1, COURSE_MAX_INTERVAL_DAYS, "days"))
        for key in ("sessions_min", "sessions_max", "interval_days"):
            if not isinstance(t[key], int):
                raise self.fail(f"{where}.{key}", "must be a whole number")
        if high < low:
            raise self.fail(f"{where}.sessions_max", "must not be below sessions_min")
        return CoursePlan(low, high, days)

    def area(self, area_id: str, value: object) -> Area:
        where = f"areas.{area_id}"
        if area_id not in lim.AREAS:
            raise self.fail(where, f"unknown area; allowed: {list(lim.AREAS)}")
        t = self.table(value, where)
        self.check_keys(t, where, {"name", "current_cap_ma", "dose_cap_ma_min",
                                   "return_electrode", "placement_rules"},
                        {"expected_sensations"})
        return Area(
            id=area_id,
            name=self.text(t, "name", where),
            current_cap_ma=self.number(t, "current_cap_ma", where, 0.05,
                                       lim.AREA_CURRENT_CAP_MA[area_id], "mA"),
            dose_cap_ma_min=self.number(t, "dose_cap_ma_min", where, 0.1,
                                        lim.AREA_DOSE_CAP_MA_MIN[area_id], "mA·min"),
            return_electrode=self.text(t, "return_electrode", where),
            placement_rules=self.texts(t, "placement_rules", where),
            expected_sensations=self.texts(t, "expected_sensations", where),
        )

    def indication(self, indication_id: str, value: object) -> Indication:
        where = f"indications.{indication_id}"
        if indication_id not in lim.INDICATIONS:
            raise self.fail(where, f"unknown indication; allowed: {list(lim.INDICATIONS)}")
        t = self.table(value, where)
        self.check_keys(t, where, {"name", "description"})
        return Indication(indication_id, self.text(t, "name", where),
                          self.text(t, "description", where))

    def electrode(self, electrode_id: str, value: object) -> Electrode:
        where = f"electrodes.{electrode_id}"
        t = self.table(value, where)
        self.check_keys(t, where, {"name", "shape", "contact_area_cm2", "moving",
                                   "max_current_ma"}, {"bipolar"})
        shape = self.text(t, "shape", where)
        if shape not in lim.ELECTRODE_SHAPES:
            raise self.fail(f"{where}.shape = {shape!r}",
                            f"not a shape; allowed: {list(lim.ELECTRODE_SHAPES)}")
        moving = self.flag(t, "moving", where, False)
        if moving != (shape != "pad"):
            raise self.fail(f"{where}.moving", f"a {shape} is {'not ' if shape == 'pad' else ''}"
                                               "a moving electrode")
        return Electrode(
            id=electrode_id,
            name=self.text(t, "name", where),
            shape=shape,
            contact_area_cm2=self.number(t, "contact_area_cm2", where, 0.5, 100.0, "cm²"),
            moving=moving,
            max_current_ma=self.number(t, "max_current_ma", where, 0.05,
                                       lim.FIRMWARE_MAX_CURRENT_MA, "mA"),
            bipolar=self.flag(t, "bipolar", where, False),
        )

    def programs(self, raw: dict[str, Any], areas: Mapping[str, Area], indications: set[str],
                 electrodes: Mapping[str, Electrode]) -> tuple[Program, ...]:
        programs: list[Program] = []
        for area_id, per_area in raw.items():
            if area_id not in areas:
                raise self.fail(f"programs.{area_id}", f"no such area; defined: {sorted(areas)}")
            for indication_id, value in self.table(per_area, f"programs.{area_id}").items():
                if indication_id not in indications:
                    raise self.fail(f"programs.{area_id}.{indication_id}",
                                    f"no such indication; defined: {sorted(indications)}")
                programs.append(self.program(areas[area_id], indication_id, value, electrodes))
        return tuple(programs)

    _PHASE_KEYS = frozenset({"name", "polarity", "allowed_polarities", "default_current_ma",
                             "cap_current_ma", "density_cap_ma_per_cm2", "default_stage_min",
                             "cap_stage_min", "actives"})

    def program(self, area: Area, indication_id: str, value: object,
                electrodes: Mapping[str, Electrode]) -> Program:
        program_id = f"{area.id}.{indication_id}"
        where = f"programs.{program_id}"
        t = self.table(value, where)
        self.check_keys(t, where, set(self._PHASE_KEYS) | {"electrodes", "default_electrode"},
                        {"polarity_note", "placement_rules", "course_guidance", "second_phase",
                         "course"})
        electrode_ids = self.texts(t, "electrodes", where)
        if not electrode_ids:
            raise self.fail(f"{where}.electrodes", "must name at least one electrode")
        for electrode_id in electrode_ids:
            if electrode_id not in electrodes:
                raise self.fail(f"{where}.electrodes", f"unknown electrode {electrode_id!r}; "
                                                       f"defined: {sorted(electrodes)}")
        default_electrode = self.text(t, "default_electrode", where)
        if default_electrode not in electrode_ids:
            raise self.fail(f"{where}.default_electrode",
                            f"{default_electrode!r} is not in this program's electrodes")
        allowed = [electrodes[e] for e in electrode_ids]
        if area.id == "decollete" and not all(e.bipolar for e in allowed):
            raise self.fail(f"{where}.electrodes", "the décolleté takes a bipolar electrode "
                                                   "pair only (the current must not cross the "
                                                   "chest)")
        main = self.phase(program_id, where, t, area, indication_id,
                          electrodes[default_electrode])
        second: Phase | None = None
        if "second_phase" in t:
            swhere = f"{where}.second_phase"
            st = self.table(t["second_phase"], swhere)
            self.check_keys(st, swhere, set(self._PHASE_KEYS), {"polarity_note"})
            second = self.phase(f"{program_id}.second_phase", swhere, st, area, indication_id,
                                electrodes[default_electrode])
        return Program(
            id=program_id,
            area=area.id,
            indication=indication_id,
            main=main,
            second_phase=second,
            electrode_ids=electrode_ids,
            default_electrode_id=default_electrode,
            placement_rules=self.texts(t, "placement_rules", where),
            course_guidance=str(t.get("course_guidance", "")),
            course=self.course(t["course"], f"{where}.course") if "course" in t else None,
        )

    def phase(self, phase_id: str, where: str, t: Mapping[str, object], area: Area,
              indication_id: str, default_electrode: Electrode) -> Phase:
        polarity = self.polarity(t.get("polarity"), f"{where}.polarity")
        raw_allowed = t.get("allowed_polarities")
        if not isinstance(raw_allowed, list) or not raw_allowed:
            raise self.fail(f"{where}.allowed_polarities", "must be a non-empty list")
        allowed = tuple(self.polarity(p, f"{where}.allowed_polarities") for p in raw_allowed)
        if polarity not in allowed:
            raise self.fail(f"{where}.polarity", "the default polarity must be an allowed one")
        cap_ma = self.number(t, "cap_current_ma", where, lim.MIN_TARGET_MA,
                             min(area.current_cap_ma, lim.FIRMWARE_MAX_CURRENT_MA), "mA")
        default_ma = self.number(t, "default_current_ma", where, lim.MIN_TARGET_MA, cap_ma, "mA")
        absolute_density = max(lim.ROLLER_DISINCRUSTATION_ABSOLUTE_DENSITY_MA_PER_CM2
                               if indication_id == "disincrustation" else
                               lim.FIXED_PAD_ABSOLUTE_DENSITY_MA_PER_CM2,
                               lim.EYE_BALL_ABSOLUTE_DENSITY_MA_PER_CM2)
        density = self.number(t, "density_cap_ma_per_cm2", where, 0.01, absolute_density,
                              "mA/cm²")
        stage_ceiling_s = min(lim.STAGE_TIME_CAP_S,
                              lim.INDICATION_STAGE_TIME_CAP_S.get(indication_id,
                                                                  lim.STAGE_TIME_CAP_S))
        cap_stage_s = 60.0 * self.number(t, "cap_stage_min", where, lim.MIN_STAGE_TIME_S / 60.0,
                                         stage_ceiling_s / 60.0, "min")
        default_stage_s = 60.0 * self.number(t, "default_stage_min", where,
                                             lim.MIN_STAGE_TIME_S / 60.0, cap_stage_s / 60.0,
                                             "min")
        density_ma = default_electrode.contact_area_cm2 * min(
            density, lim.electrode_density_limit_ma_per_cm2(default_electrode.shape,
                                                            indication_id))
        if default_ma > density_ma + 1e-9 or default_ma > default_electrode.max_current_ma:
            raise self.fail(f"{where}.default_current_ma",
                            f"{default_ma:g} mA is above what the default electrode "
                            f"{default_electrode.id!r} allows "
                            f"({min(density_ma, default_electrode.max_current_ma):g} mA)")
        actives_raw = t.get("actives")
        if not isinstance(actives_raw, list) or not actives_raw:
            raise self.fail(f"{where}.actives", "must list at least one active")
        actives: list[Active] = []
        for n, item in enumerate(actives_raw):
            awhere = f"{where}.actives[{n}]"
            at = self.table(item, awhere)
            self.check_keys(at, awhere, {"name", "charge"})
            charge = self.polarity(at.get("charge"), f"{awhere}.charge")
            if charge not in allowed:
                raise self.fail(f"{awhere}.charge", "an active's sign must be an allowed polarity")
            actives.append(Active(self.text(at, "name", awhere), charge))
        return Phase(
            id=phase_id,
            name=self.text(t, "name", where),
            actives=tuple(actives),
            polarity=polarity,
            allowed_polarities=allowed,
            polarity_note=str(t.get("polarity_note", "")),
            default_current_ma=default_ma,
            cap_current_ma=cap_ma,
            density_cap_ma_per_cm2=density,
            default_stage_s=default_stage_s,
            cap_stage_s=cap_stage_s,
        )

    def screening(self, raw: object) -> tuple[ScreeningItem, ...]:
        if not isinstance(raw, list) or not raw:
            raise self.fail("screening", "must be a non-empty array of tables")
        items: list[ScreeningItem] = []
        for n, value in enumerate(raw):
            where = f"screening[{n}]"
            t = self.table(value, where)
            self.check_keys(t, where, {"id", "question", "scope"})
            scope = self.text(t, "scope", where)
            if scope not in lim.SCREENING_SCOPES:
                raise self.fail(f"{where}.scope", f"{scope!r} is not a scope; allowed: "
                                                  f"{list(lim.SCREENING_SCOPES)}")
            items.append(ScreeningItem(self.text(t, "id", where), self.text(t, "question", where),
                                       scope))
        self.unique([i.id for i in items], "screening")
        missing = [i for i in lim.REQUIRED_SCREENING_IDS if i not in {x.id for x in items}]
        if missing:
            raise self.fail("screening", f"required contraindications missing: {missing} "
                                         f"(domain.md 5: the seed items can never be dropped)")
        return tuple(items)

    def caution(self, raw: object) -> tuple[CautionItem, ...]:
        if not isinstance(raw, list):
            raise self.fail("caution", "must be an array of tables")
        items: list[CautionItem] = []
        for n, value in enumerate(raw):
            where = f"caution[{n}]"
            t = self.table(value, where)
            self.check_keys(t, where, {"id", "text", "advice", "lowers_caps"})
            items.append(CautionItem(self.text(t, "id", where), self.text(t, "text", where),
                                     self.text(t, "advice", where),
                                     self.flag(t, "lowers_caps", where, True)))
        self.unique([i.id for i in items], "caution")
        return tuple(items)

    def unique(self, ids: list[str], where: str) -> None:
        seen: set[str] = set()
        for item_id in ids:
            if item_id in seen:
                raise self.fail(where, f"duplicate id {item_id!r}")
            seen.add(item_id)
