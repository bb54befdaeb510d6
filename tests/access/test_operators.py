"""The salon's operators (issue 13): names refused or kept, retire, on duty, restarts, damage."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from kiosk.access.operators import (
    MAX_NAME_CHARS,
    NOBODY,
    OperatorBook,
    OperatorCode,
    OperatorStoreError,
    operators_file,
)

pytestmark = pytest.mark.requirement("SR-147")


def book_in(tmp_path: Path) -> OperatorBook:
    return OperatorBook(operators_file(tmp_path))


def test_names_are_cleaned_and_junk_is_refused_with_a_code(tmp_path: Path) -> None:
    book = book_in(tmp_path)
    assert book.add("  Anna   Petrova ").operator.name == "Anna Petrova"  # type: ignore[union-attr]
    for junk, code in (("", OperatorCode.NAME_EMPTY), ("   \t ", OperatorCode.NAME_EMPTY),
                       ("x" * (MAX_NAME_CHARS + 1), OperatorCode.NAME_TOO_LONG),
                       ("An\x00na", OperatorCode.NAME_INVALID),
                       ("An\u200bna", OperatorCode.NAME_INVALID),
                       (None, OperatorCode.NAME_INVALID), (42, OperatorCode.NAME_INVALID),
                       ("ANNA petrova", OperatorCode.NAME_TAKEN)):
        assert book.add(junk).code is code, junk
    assert book.add("x" * MAX_NAME_CHARS).ok  # the longest allowed
    assert book.add("Ольга").ok
    assert [o.name for o in book.active()] == ["Anna Petrova", "x" * MAX_NAME_CHARS, "Ольга"]


def test_rename_retire_and_who_is_on_duty(tmp_path: Path) -> None:
    book = book_in(tmp_path)
    assert book.session_operator() == NOBODY and not book.needs_choice()
    anna = book.add("Anna").operator
    olga = book.add("Olga").operator
    assert anna is not None and olga is not None
    assert book.needs_choice()  # operators exist, nobody chosen
    assert book.rename(anna.operator_id, "olga").code is OperatorCode.NAME_TAKEN
    assert book.rename(anna.operator_id, "anna").ok  # her own name in another case
    assert book.choose(olga.operator_id).ok
    assert book.session_operator() == "Olga"
    assert book.retire(olga.operator_id).ok
    assert book.on_duty is None and book.needs_choice()
    assert book.session_operator() == NOBODY
    for call in (book.choose, book.retire):
        assert call(olga.operator_id).code is OperatorCode.UNKNOWN  # retired
        assert call("op99").code is OperatorCode.UNKNOWN
    assert book.rename(olga.operator_id, "Olga B").code is OperatorCode.UNKNOWN
    assert book.add("Olga").ok  # a retired operator's name is free again, with a new id
    assert [o.operator_id for o in book.all()] == ["op1", "op2", "op3"]


def test_the_list_and_who_is_on_duty_survive_a_restart(tmp_path: Path) -> None:
    book = book_in(tmp_path)
    book.add("Anna")
    book.add("Olga")
    book.retire("op1")
    book.choose("op2")
    again = book_in(tmp_path)
    assert again.all() == book.all() and again.on_duty == book.on_duty
    assert again.add("Marta").operator.operator_id == "op3"  # type: ignore[union-attr]
    assert stat.S_IMODE(os.stat(operators_file(tmp_path)).st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["operators.json"]  # no temporary left


def test_a_hand_lowered_counter_never_hands_out_a_taken_id(tmp_path: Path) -> None:
    book = book_in(tmp_path)
    book.add("Anna")
    book.add("Olga")
    raw = json.loads(operators_file(tmp_path).read_text())
    raw["next"] = 1
    operators_file(tmp_path).write_text(json.dumps(raw))
    assert book_in(tmp_path).add("Marta").operator.operator_id == "op3"  # type: ignore[union-attr]


@pytest.mark.parametrize("content", [
    b"", b"{", b"\xff\xfe", b"[]", b'{"version": 2}',
    b'{"version": 1, "next": 1, "on_duty": null, "operators": [{"id": "op1"}]}',
    b'{"version": 1, "next": 2, "on_duty": "op9", "operators": '
    b'[{"id": "op1", "name": "A", "active": true}]}',
    b'{"version": 1, "next": 2, "on_duty": null, "operators": '
    b'[{"id": "op1", "name": "A", "active": true}, {"id": "op1", "name": "B", "active": true}]}',
    b'{"version": 1, "next": 2, "on_duty": null, "operators": '
    b'[{"id": "op1", "name": " A", "active": true}]}',
    b'{"version": 1, "next": true, "on_duty": null, "operators": []}',
    b'{"version": 1, "next": 1, "on_duty": null, "operators": '
    b'[{"id": "op1", "name": "A", "active": 1}]}',
])
def test_a_damaged_file_is_refused_whole(tmp_path: Path, content: bytes) -> None:
    operators_file(tmp_path).write_bytes(content)
    with pytest.raises(OperatorStoreError, match="damaged operators file"):
        book_in(tmp_path)


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    operators_file(tmp_path).write_bytes(b" " * (64 * 1024 + 1))
    with pytest.raises(OperatorStoreError):
        book_in(tmp_path)


def test_a_book_without_a_folder_keeps_names_in_memory_only(tmp_path: Path) -> None:
    book = OperatorBook(None)
    assert book.add("Anna").ok and book.choose("op1").ok
    assert book.session_operator() == "Anna"
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_file_is_set_aside_and_a_new_list_takes_its_place(tmp_path: Path) -> None:
    operators_file(tmp_path).write_bytes(b"{garbage")
    book, problem = OperatorBook.open_or_set_aside(operators_file(tmp_path))
    assert problem is not None and "operators.json.damaged" in problem
    assert (tmp_path / "operators.json.damaged").read_bytes() == b"{garbage"
    assert book.add("Anna").ok
    assert OperatorBook.open_or_set_aside(operators_file(tmp_path))[0].active()[0].name == "Anna"
    assert OperatorBook.open_or_set_aside(operators_file(tmp_path))[1] is None
