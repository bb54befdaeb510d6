"""Keep the kiosk's gettext catalogues in step with the sources, with Babel: extract, merge,
compile, check.

    python -m tools.i18n.catalogue          # new msgids into every .po, drop unused, compile .mo
    python -m tools.i18n.catalogue --check  # exit 1 when a .po or .mo is out of step (tests)

Message ids come from ``_("...")`` and ``N_("...")`` calls in the UI sources (``kiosk/app.py``,
``kiosk/screens/``), extracted by Babel's Python extractor, and from the plain-language texts of
the treatment catalogue (the control layer keeps them in English; the UI translates them by
msgid) and of the step help (``kiosk/guide/help.toml``, shown by the help view). Babel reads
and writes the ``.po`` files and writes the ``.mo`` files that the kiosk's :mod:`gettext` reads
at run time; the device itself needs no Babel tooling, only the compiled
catalogues (committed).

Why Babel: a maintained reader/writer of the whole PO format (plural forms, escapes, fuzzy flags,
headers) and the GNU MO writer, instead of the hand-written subset this replaces.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from kiosk.i18n import DOMAIN, LANGUAGES, LOCALE_DIR

PACKAGE_DIR = LOCALE_DIR.parent
SOURCES = [PACKAGE_DIR / "app.py", *sorted((PACKAGE_DIR / "screens").glob("*.py"))]
KEYWORDS = {"_": None, "N_": None}  # one positional argument: the msgid
# A fixed date keeps the header stable: regenerating the files changes only what changed.
FIXED_DATE = datetime(2026, 1, 1, tzinfo=UTC)


def extract_from_source(path: Path) -> list[str]:
    """Literal msgids of ``_()`` / ``N_()`` calls in ``path``, in source order (Babel)."""
    found: list[str] = []
    for _line, message, _comments, _context in extract_from_file(
            "python", str(path), keywords=KEYWORDS, options={"encoding": "utf-8"}):
        if isinstance(message, str) and message:
            found.append(message)
    return found


def extract_from_catalogue() -> list[str]:
    """The treatment catalogue's texts that a screen shows (names, questions, instructions)."""
    from kiosk.screens.catalogue_view import catalogue_texts

    return catalogue_texts()


def extract_from_guide() -> list[str]:
    """The step help the help view shows (``kiosk/guide/help.toml``; English msgids)."""
    from kiosk.guide import load_guide

    return load_guide().step_texts()


def extract_all() -> list[str]:
    seen: dict[str, None] = {}
    for path in SOURCES:
        for msgid in extract_from_source(path):
            seen.setdefault(msgid, None)
    for msgid in [*extract_from_catalogue(), *extract_from_guide()]:
        seen.setdefault(msgid, None)
    return list(seen)


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.mo"


def load(language: str) -> Catalog:
    """The committed ``.po`` of ``language`` (an empty catalogue when there is none)."""
    path = po_path(language)
    if not path.exists():
        return new_catalog(language)
    with path.open("rb") as handle:
        return read_po(handle, locale=language, domain=DOMAIN)


def new_catalog(language: str) -> Catalog:
    return Catalog(locale=language, domain=DOMAIN, project="galvanic-kiosk", version="1",
                   header_comment=(f"# {LANGUAGES[language]} messages of the galvanic kiosk.\n"
                                   "# Edit the msgstr lines; run `python -m tools.i18n.catalogue`"
                                   " to compile."),
                   msgid_bugs_address="", last_translator="galvanic kiosk team",
                   language_team=LANGUAGES[language], copyright_holder="",
                   creation_date=FIXED_DATE, revision_date=FIXED_DATE, fuzzy=False)


def merged(old: Catalog, language: str, msgids: Iterable[str]) -> Catalog:
    """A catalogue with exactly ``msgids`` in order of use: new ones empty, unused ones dropped."""
    catalog = new_catalog(language)
    for msgid in msgids:
        previous = old.get(msgid)
        catalog.add(msgid, previous.string if previous is not None else "")
    return catalog


def po_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, no_location=True, omit_header=False,
             sort_output=False)
    return buffer.getvalue()


def mo_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


def translations(catalog: Catalog) -> dict[str, str]:
    return {str(m.id): str(m.string) for m in catalog if m.id}


def problems(language: str, msgids: list[str]) -> list[str]:
    """Why the committed catalogue of ``language`` is out of step (empty: in step)."""
    found: list[str] = []
    path = po_path(language)
    if not path.exists():
        return [f"{path} is missing"]
    entries = translations(load(language))
    wanted = set(msgids)
    missing = [m for m in msgids if m not in entries]
    unused = [m for m in entries if m not in wanted]
    if missing:
        found.append(f"{path}: {len(missing)} msgids missing, e.g. {missing[0]!r}")
    if unused:
        found.append(f"{path}: {len(unused)} msgids no longer used, e.g. {unused[0]!r}")
    if language != "en":
        untranslated = [m for m in msgids if not entries.get(m)]
        if untranslated:
            found.append(f"{path}: {len(untranslated)} msgids untranslated, e.g. "
                         f"{untranslated[0]!r}")
    mo = mo_path(language)
    if not mo.exists() or mo.read_bytes() != mo_bytes(load(language)):
        found.append(f"{mo} is not the compiled {path.name}")
    return found


def update(language: str, msgids: list[str]) -> int:
    """Write the merged ``.po`` and its ``.mo``; the number of untranslated messages."""
    catalog = merged(load(language), language, msgids)
    path = po_path(language)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(po_bytes(catalog))
    mo_path(language).write_bytes(mo_bytes(load(language)))
    return sum(1 for m in msgids if not translations(catalog).get(m))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report what is out of step")
    args = parser.parse_args(argv)
    msgids = extract_all()
    if args.check:
        report = [p for language in LANGUAGES for p in problems(language, msgids)]
        for line in report:
            print(line)
        return 1 if report else 0
    for language in LANGUAGES:
        untranslated = update(language, msgids)
        print(f"{language}: {len(msgids)} messages, {untranslated} untranslated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
