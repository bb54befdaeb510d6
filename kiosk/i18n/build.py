"""Keep the gettext catalogues in step with the sources: extract, merge, compile, check.

    python -m kiosk.i18n.build           # add new msgids to every .po, drop unused, compile .mo
    python -m kiosk.i18n.build --check   # exit 1 when a .po or .mo is out of step (tests run it)

Message ids come from ``_("...")`` and ``N_("...")`` calls with a literal string in the UI
sources (``kiosk/app.py``, ``kiosk/screens/``) and from the plain-language texts of the treatment
catalogue (the control layer keeps them in English; the UI translates them by msgid). No GNU
gettext tools are needed on the device or in CI: the ``.mo`` writer below follows the GNU format.
"""

from __future__ import annotations

import argparse
import ast
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.i18n import DOMAIN, LANGUAGES, LOCALE_DIR

PACKAGE_DIR = LOCALE_DIR.parent
SOURCES = [PACKAGE_DIR / "app.py", *sorted((PACKAGE_DIR / "screens").glob("*.py"))]
MARKERS = {"_", "N_"}


def extract_from_source(path: Path) -> list[str]:
    """Literal first arguments of ``_()`` / ``N_()`` calls, in source order."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in MARKERS and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.col_offset, node.args[0].value))
    return [text for _line, _col, text in sorted(found)]


def extract_from_catalogue() -> list[str]:
    """The catalogue's texts that a screen shows (names, questions, instructions)."""
    from kiosk.screens.catalogue_view import catalogue_texts

    return catalogue_texts()


def extract_all() -> list[str]:
    seen: dict[str, None] = {}
    for path in SOURCES:
        for msgid in extract_from_source(path):
            seen.setdefault(msgid, None)
    for msgid in extract_from_catalogue():
        seen.setdefault(msgid, None)
    return list(seen)


# -- .po reading and writing ------------------------------------------------------------------
@dataclass
class PoFile:
    header: str = ""
    entries: dict[str, str] = field(default_factory=dict)


def _unquote(text: str) -> str:
    return ast.literal_eval(text)


def read_po(path: Path) -> PoFile:
    """A small .po reader: msgid/msgstr pairs with continuation lines, comments ignored."""
    po = PoFile()
    key: str | None = None
    msgid: list[str] = []
    msgstr: list[str] = []

    def flush() -> None:
        if key is None:
            return
        mid, mstr = "".join(msgid), "".join(msgstr)
        if mid == "":
            po.header = mstr
        else:
            po.entries[mid] = mstr

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("msgid "):
            flush()
            key, msgid, msgstr = "msgid", [_unquote(line[6:])], []
        elif line.startswith("msgstr "):
            key = "msgstr"
            msgstr = [_unquote(line[7:])]
        elif line.startswith('"'):
            (msgid if key == "msgid" else msgstr).append(_unquote(line))
        else:
            raise ValueError(f"{path}: cannot read line {raw!r}")
    flush()
    return po


def _quote(text: str) -> str:
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               .replace("\t", "\\t"))
    return f'"{escaped}"'


def _po_string(keyword: str, text: str) -> str:
    if "\n" in text.rstrip("\n"):
        parts = text.splitlines(keepends=True)
        return f'{keyword} ""\n' + "\n".join(_quote(part) for part in parts)
    return f"{keyword} {_quote(text)}"


def header_for(language: str) -> str:
    return ("Project-Id-Version: galvanic-kiosk\n"
            f"Language: {language}\n"
            "MIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=UTF-8\n"
            "Content-Transfer-Encoding: 8bit\n")


def write_po(path: Path, po: PoFile, language: str) -> None:
    lines = [f"# {LANGUAGES[language]} messages of the galvanic kiosk.",
             "# Edit the msgstr lines; run `python -m kiosk.i18n.build` to compile.",
             _po_string("msgid", ""), _po_string("msgstr", po.header or header_for(language)),
             ""]
    for msgid, msgstr in po.entries.items():
        lines += [_po_string("msgid", msgid), _po_string("msgstr", msgstr), ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")


def compile_mo(po: PoFile) -> bytes:
    """GNU .mo bytes (little endian, sorted ids, no hash table) of the translated entries."""
    messages = {"": po.header}
    messages.update({k: v for k, v in po.entries.items() if v})
    ids = sorted(messages)
    id_blob = b""
    str_blob = b""
    offsets: list[tuple[int, int, int, int]] = []
    for msgid in ids:
        encoded_id = msgid.encode("utf-8")
        encoded_str = messages[msgid].encode("utf-8")
        offsets.append((len(id_blob), len(encoded_id), len(str_blob), len(encoded_str)))
        id_blob += encoded_id + b"\0"
        str_blob += encoded_str + b"\0"
    count = len(ids)
    ids_table_at = 7 * 4
    strs_table_at = ids_table_at + count * 8
    id_blob_at = strs_table_at + count * 8
    str_blob_at = id_blob_at + len(id_blob)
    output = struct.pack("<7I", 0x950412DE, 0, count, ids_table_at, strs_table_at, 0, 0)
    for id_offset, id_length, _s, _l in offsets:
        output += struct.pack("<2I", id_length, id_blob_at + id_offset)
    for _i, _il, str_offset, str_length in offsets:
        output += struct.pack("<2I", str_length, str_blob_at + str_offset)
    return output + id_blob + str_blob


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.mo"


def merged(po: PoFile, msgids: Iterable[str]) -> PoFile:
    """The .po with exactly ``msgids``: new ones empty, unused ones dropped, order of use."""
    return PoFile(header=po.header, entries={m: po.entries.get(m, "") for m in msgids})


def problems(language: str, msgids: list[str]) -> list[str]:
    """Why the committed catalogue of ``language`` is out of step (empty: in step)."""
    found: list[str] = []
    path = po_path(language)
    if not path.exists():
        return [f"{path} is missing"]
    po = read_po(path)
    missing = [m for m in msgids if m not in po.entries]
    unused = [m for m in po.entries if m not in set(msgids)]
    if missing:
        found.append(f"{path}: {len(missing)} msgids missing, e.g. {missing[0]!r}")
    if unused:
        found.append(f"{path}: {len(unused)} msgids no longer used, e.g. {unused[0]!r}")
    if language != "en":
        untranslated = [m for m in msgids if not po.entries.get(m)]
        if untranslated:
            found.append(f"{path}: {len(untranslated)} msgids untranslated, e.g. "
                         f"{untranslated[0]!r}")
    if not mo_path(language).exists() or mo_path(language).read_bytes() != compile_mo(po):
        found.append(f"{mo_path(language)} is not the compiled {path.name}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report what is out of step")
    args = parser.parse_args(argv)
    msgids = extract_all()
    if args.check:
        report = [p for language in LANGUAGES for p in problems(language, msgids)]
        for line in report:
            print(line)
        return 1 if report else 0
    for language in LANGUAGES:
        path = po_path(language)
        po = merged(read_po(path) if path.exists() else PoFile(), msgids)
        write_po(path, po, language)
        mo_path(language).write_bytes(compile_mo(read_po(path)))
        untranslated = sum(1 for m in msgids if not po.entries.get(m))
        print(f"{language}: {len(msgids)} messages, {untranslated} untranslated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
