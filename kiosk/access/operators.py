"""The salon's operators (beauticians): named, managed by the salon manager, chosen on home.

Stored in ``operators.json`` in the UI's state folder (written whole, 0640). An operator is
never deleted, only retired: a session recorded with a name keeps meaning something, and a
retired operator is no longer offered. Who treats now (``on_duty``) is kept in the same file,
so a restarted kiosk still knows; retiring that operator clears it.

Junk is refused with a stable code (:class:`OperatorCode`), never a crash: an empty or
over-long name, control characters, a name an active operator already has (letter case
ignored), an unknown id. A damaged file is refused as a whole (:class:`OperatorStoreError`):
the kiosk then runs with no operators (sessions are recorded as the salon's) and says so.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from kiosk.access.atomic import write_atomically

FILE_NAME = "operators.json"
FILE_VERSION = 1
MAX_NAME_CHARS = 40
MAX_OPERATORS = 200
MAX_FILE_BYTES = 64 * 1024
NOBODY = "salon"  # what a session records when the salon has set up no operators


class OperatorCode(StrEnum):
    ADDED = "operator_added"
    RENAMED = "operator_renamed"
    RETIRED = "operator_retired"
    CHOSEN = "operator_chosen"
    NAME_EMPTY = "operator_name_empty"
    NAME_TOO_LONG = "operator_name_too_long"
    NAME_INVALID = "operator_name_invalid"
    NAME_TAKEN = "operator_name_taken"
    UNKNOWN = "operator_unknown"
    TOO_MANY = "operator_too_many"


class OperatorStoreError(Exception):
    """The operators file is damaged or not ours; the message names the file."""


@dataclass(frozen=True, slots=True)
class Operator:
    operator_id: str
    name: str
    active: bool = True


@dataclass(frozen=True, slots=True)
class OperatorDecision:
    code: OperatorCode
    operator: Operator | None = None

    @property
    def ok(self) -> bool:
        return self.code in (OperatorCode.ADDED, OperatorCode.RENAMED, OperatorCode.RETIRED,
                             OperatorCode.CHOSEN)


def operators_file(state_dir: Path) -> Path:
    return Path(state_dir) / FILE_NAME


def clean_name(name: object) -> str | OperatorCode:
    """The name as stored (NFC, inner blanks collapsed), or why it is refused."""
    if not isinstance(name, str):
        return OperatorCode.NAME_INVALID
    text = " ".join(unicodedata.normalize("NFC", name).split())
    if not text:
        return OperatorCode.NAME_EMPTY
    if len(text) > MAX_NAME_CHARS:
        return OperatorCode.NAME_TOO_LONG
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") for c in text):
        return OperatorCode.NAME_INVALID
    return text


class OperatorBook:
    """The operators of one salon, in one small JSON file in the UI's state folder."""

    def __init__(self, path: Path | None) -> None:
        """``path`` None: a book kept in memory only (a kiosk run without a state folder)."""
        self.path = None if path is None else Path(path)
        self._operators: list[Operator] = []
        self._on_duty: str | None = None
        self._next = 1
        if self.path is not None and self.path.exists():
            self._load(self.path)

    @classmethod
    def open_or_set_aside(cls, path: Path) -> tuple[OperatorBook, str | None]:
        """The book at ``path``; a damaged file is renamed ``<name>.damaged`` (kept for service)
        and an empty book takes its place, with the problem in words."""
        try:
            return cls(path), None
        except OperatorStoreError as error:
            aside = Path(path).with_name(Path(path).name + ".damaged")
            Path(path).replace(aside)
            return cls(path), f"{error}; kept as {aside.name}"

    # ------------------------------------------------------------------ reading
    def all(self) -> tuple[Operator, ...]:
        return tuple(self._operators)

    def active(self) -> tuple[Operator, ...]:
        return tuple(o for o in self._operators if o.active)

    def get(self, operator_id: str) -> Operator | None:
        return next((o for o in self._operators if o.operator_id == operator_id), None)

    @property
    def on_duty(self) -> Operator | None:
        found = None if self._on_duty is None else self.get(self._on_duty)
        return found if found is not None and found.active else None

    def needs_choice(self) -> bool:
        """Operators are set up but nobody is chosen: a treatment cannot say who gave it."""
        return bool(self.active()) and self.on_duty is None

    def session_operator(self) -> str:
        """What the session record says about who treats."""
        chosen = self.on_duty
        return chosen.name if chosen is not None else NOBODY

    # ------------------------------------------------------------------ changing
    def add(self, name: object) -> OperatorDecision:
        text = clean_name(name)
        if isinstance(text, OperatorCode):
            return OperatorDecision(text)
        if len(self._operators) >= MAX_OPERATORS:
            return OperatorDecision(OperatorCode.TOO_MANY)
        if self._taken(text, None):
            return OperatorDecision(OperatorCode.NAME_TAKEN)
        operator = Operator(f"op{self._next}", text)
        self._next += 1
        self._operators.append(operator)
        self._save()
        return OperatorDecision(OperatorCode.ADDED, operator)

    def rename(self, operator_id: str, name: object) -> OperatorDecision:
        found = self.get(operator_id)
        if found is None or not found.active:
            return OperatorDecision(OperatorCode.UNKNOWN)
        text = clean_name(name)
        if isinstance(text, OperatorCode):
            return OperatorDecision(text, found)
        if self._taken(text, operator_id):
            return OperatorDecision(OperatorCode.NAME_TAKEN, found)
        renamed = replace(found, name=text)
        self._put(renamed)
        return OperatorDecision(OperatorCode.RENAMED, renamed)

    def retire(self, operator_id: str) -> OperatorDecision:
        found = self.get(operator_id)
        if found is None or not found.active:
            return OperatorDecision(OperatorCode.UNKNOWN)
        retired = replace(found, active=False)
        if self._on_duty == operator_id:
            self._on_duty = None
        self._put(retired)
        return OperatorDecision(OperatorCode.RETIRED, retired)

    def choose(self, operator_id: str) -> OperatorDecision:
        found = self.get(operator_id)
        if found is None or not found.active:
            return OperatorDecision(OperatorCode.UNKNOWN)
        self._on_duty = operator_id
        self._save()
        return OperatorDecision(OperatorCode.CHOSEN, found)

    # ------------------------------------------------------------------ internals
    def _taken(self, name: str, except_id: str | None) -> bool:
        key = name.casefold()
        return any(o.active and o.operator_id != except_id and o.name.casefold() == key
                   for o in self._operators)

    def _put(self, operator: Operator) -> None:
        self._operators = [operator if o.operator_id == operator.operator_id else o
                           for o in self._operators]
        self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        body = json.dumps({
            "version": FILE_VERSION,
            "next": self._next,
            "on_duty": self._on_duty,
            "operators": [{"id": o.operator_id, "name": o.name, "active": o.active}
                          for o in self._operators],
        }, ensure_ascii=False, indent=1).encode("utf-8")
        write_atomically(self.path, body, mode=0o640)

    def _load(self, path: Path) -> None:
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ValueError("too large")
            raw = json.loads(path.read_bytes().decode("utf-8"))
            self._parse(raw)
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            self._operators, self._on_duty, self._next = [], None, 1
            raise OperatorStoreError(f"{path}: damaged operators file "
                                     f"({exc.__class__.__name__}); not used") from None

    def _parse(self, raw: Any) -> None:
        if not isinstance(raw, dict) or raw.get("version") != FILE_VERSION:
            raise ValueError("unknown version")
        operators: list[Operator] = []
        seen: set[str] = set()
        for item in raw["operators"]:
            operator_id, name, active = item["id"], item["name"], item["active"]
            text = clean_name(name)
            if not isinstance(operator_id, str) or operator_id in seen or \
                    isinstance(text, OperatorCode) or text != name or \
                    not isinstance(active, bool):
                raise ValueError("operator")
            seen.add(operator_id)
            operators.append(Operator(operator_id, text, active))
        following, on_duty = raw["next"], raw["on_duty"]
        if not isinstance(following, int) or isinstance(following, bool) or following < 1 or \
                len(operators) > MAX_OPERATORS:
            raise ValueError("next")
        if on_duty is not None and on_duty not in seen:
            raise ValueError("on_duty")
        numbers = [int(o.operator_id[2:]) for o in operators
                   if o.operator_id.startswith("op") and o.operator_id[2:].isdigit()]
        # a hand-edited counter never hands out an id that is already taken
        following = max([following, *(n + 1 for n in numbers)])
        self._operators, self._on_duty, self._next = operators, on_duty, following
