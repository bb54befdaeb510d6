"""Help for every step of the treatment and the texts of the instructions for use (issue 11).

Data in ``help.toml`` beside this module; pure (no Kivy, no I/O beyond reading that file once), so
the screens, the catalogue tool and the document generator (``tools/ifu``) read the same texts.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

HELP_PATH = Path(__file__).with_name("help.toml")
STEP_IDS: tuple[str, ...] = ("client", "screening", "program", "peel", "active", "current",
                             "tonic", "summary")
"""The treatment's steps in order (``kiosk.screens.flow.Step``, lower case)."""

_STEP_KEYS = {"title", "do", "client_feels", "watch_for"}
_DOCUMENT_KEYS = {"title", "intended_use", "warnings", "electrodes", "symbols"}


class HelpError(ValueError):
    """help.toml is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class StepHelp:
    step: str
    title: str
    do: tuple[str, ...]
    client_feels: tuple[str, ...]
    watch_for: tuple[str, ...]


@dataclass(frozen=True)
class DocumentTexts:
    title: str
    intended_use: tuple[str, ...]
    warnings: tuple[str, ...]
    electrodes: tuple[str, ...]
    symbols: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Guide:
    version: str
    steps: tuple[StepHelp, ...]
    document: DocumentTexts

    def step(self, step_id: str) -> StepHelp:
        for item in self.steps:
            if item.step == step_id:
                return item
        raise KeyError(f"no help for step {step_id!r}; steps: {list(STEP_IDS)}")

    def step_texts(self) -> list[str]:
        """The texts the help view shows (titles and bullets of every step), in order: the
        kiosk translates them by message id, so the catalogue tool extracts these."""
        out: list[str] = []
        for s in self.steps:
            out += [s.title, *s.do, *s.client_feels, *s.watch_for]
        return list(dict.fromkeys(t for t in out if t))

    def texts(self) -> list[str]:
        """Every translatable text, in order (the catalogue tool extracts these)."""
        out: list[str] = []
        for s in self.steps:
            out += [s.title, *s.do, *s.client_feels, *s.watch_for]
        d = self.document
        out += [d.title, *d.intended_use, *d.warnings, *d.electrodes]
        out += [meaning for _, meaning in d.symbols]
        return list(dict.fromkeys(t for t in out if t))


def _strings(table: dict[str, Any], key: str, where: str, *,
             allow_empty: bool = False) -> tuple[str, ...]:
    value = table.get(key)
    if not isinstance(value, list) or not (value or allow_empty) or not all(
            isinstance(v, str) and v for v in value):
        raise HelpError(f"{HELP_PATH}: {where}.{key}: must be a list of non-empty strings")
    return tuple(value)


def _text(table: dict[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value:
        raise HelpError(f"{HELP_PATH}: {where}.{key}: must be a non-empty string")
    return value


def _keys(table: object, allowed: set[str], where: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise HelpError(f"{HELP_PATH}: {where}: must be a table")
    unknown = sorted(set(table) - allowed)
    missing = sorted(allowed - set(table))
    if unknown or missing:
        raise HelpError(f"{HELP_PATH}: {where}: unknown keys {unknown}, missing keys {missing}")
    return table


def parse_guide(raw: dict[str, Any]) -> Guide:
    top = _keys(raw, {"version", "steps", "document"}, "top level")
    steps_raw = _keys(top["steps"], set(STEP_IDS), "steps")
    steps = []
    for step_id in STEP_IDS:
        t = _keys(steps_raw[step_id], _STEP_KEYS, f"steps.{step_id}")
        where = f"steps.{step_id}"
        steps.append(StepHelp(step_id, _text(t, "title", where), _strings(t, "do", where),
                              _strings(t, "client_feels", where, allow_empty=True),
                              _strings(t, "watch_for", where)))
    d = _keys(top["document"], _DOCUMENT_KEYS, "document")
    symbols_raw = d["symbols"]
    if not isinstance(symbols_raw, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) and x for x in p)
            for p in symbols_raw):
        raise HelpError(f"{HELP_PATH}: document.symbols: must be a list of [symbol, meaning]")
    document = DocumentTexts(
        title=_text(d, "title", "document"),
        intended_use=_strings(d, "intended_use", "document"),
        warnings=_strings(d, "warnings", "document"),
        electrodes=_strings(d, "electrodes", "document"),
        symbols=tuple((p[0], p[1]) for p in symbols_raw))
    return Guide(version=_text(top, "version", "top level"), steps=tuple(steps),
                 document=document)


@cache
def load_guide() -> Guide:
    return parse_guide(tomllib.loads(HELP_PATH.read_text(encoding="utf-8")))
