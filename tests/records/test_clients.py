"""Client records: pseudonymous ids, finding clients, and erasure that leaves only anonymous
technical data (with the event log still verifiable and the erased bytes gone from disk)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.records.clients import (
    PSEUDONYM_ALPHABET,
    ClientRegistry,
    clean_display_name,
    new_pseudonymous_id,
    normalise_pseudonymous_id,
)
from kiosk.records.errors import RecordNotFoundError
from kiosk.records.events import read_events
from kiosk.records.sessions import ProgramChoice, SessionBook, SessionSummary
from kiosk.records.store import RecordStore

PROGRAM = ProgramChoice("face", "disincrustation", "face.disincrustation", "1", "NaCl 5 %",
                        "negative", "face.roller", 0.8)


def _treated_client(store: RecordStore, name: str) -> tuple[str, str]:
    client = ClientRegistry(store).create_client(name)
    book = SessionBook(store)
    session_id = book.start_session(client.client_id, "Eva")
    book.record_screening(session_id, {"pacemaker": False, "pregnancy": False})
    book.record_program(session_id, PROGRAM)
    book.add_sensation(session_id, "burning")
    book.add_operator_change(session_id, "current_ma", 0.8, 0.6)
    book.close_session(session_id, SessionSummary("client_discomfort", 0.62, 0.8, 1.9, 180.0))
    return client.client_id, session_id


def test_a_new_id_is_eight_unambiguous_characters_with_a_dash() -> None:
    client_id = new_pseudonymous_id()
    assert len(client_id) == 9 and client_id[4] == "-"
    assert set(client_id.replace("-", "")) <= set(PSEUDONYM_ALPHABET)
    assert not set("ILOU") & set(client_id)


def test_an_id_typed_by_hand_is_read_as_stored() -> None:
    assert normalise_pseudonymous_id(" k7qm 3xpa ") == "K7QM-3XPA"
    assert normalise_pseudonymous_id("K7QM-3XPO") == "K7QM-3XP0"  # O read as zero
    assert normalise_pseudonymous_id("k7q") == "K7Q"


def test_a_display_name_is_tidied_and_optional() -> None:
    assert clean_display_name("  Anna \t Beispiel\x07 ") == "Anna Beispiel"
    assert clean_display_name("   ") is None
    with pytest.raises(ValueError, match="at most"):
        clean_display_name("x" * 81)


def test_clients_are_created_with_distinct_ids_and_found_again(store: RecordStore) -> None:
    registry = ClientRegistry(store)
    anna = registry.create_client("Anna Beispiel")
    nameless = registry.create_client()
    assert anna.client_id != nameless.client_id
    assert registry.get_client(anna.client_id.lower()) == anna
    assert nameless.display_name is None


def test_an_id_already_taken_is_drawn_again(store: RecordStore) -> None:
    draws = iter(["AAAA-AAAA", "AAAA-AAAA", "BBBB-BBBB"])
    registry = ClientRegistry(store, new_id=lambda: next(draws))
    assert registry.create_client().client_id == "AAAA-AAAA"
    assert registry.create_client().client_id == "BBBB-BBBB"


def test_clients_are_found_by_id_start_or_any_part_of_the_name(store: RecordStore) -> None:
    clock = iter(float(t) for t in range(1_790_000_000, 1_790_000_100))
    registry = ClientRegistry(store, wall_now_s=lambda: next(clock))
    anna = registry.create_client("Anna Beispiel")
    zoe = registry.create_client("Zoë Müller")
    registry.create_client("Bob Tester")
    assert registry.find_clients("beisp") == [anna]
    assert registry.find_clients("MÜLLER") == [zoe]
    assert registry.find_clients(anna.client_id[:3].lower())[0] == anna
    assert [c.display_name for c in registry.find_clients("")] == [
        "Bob Tester", "Zoë Müller", "Anna Beispiel"]  # newest first
    assert registry.find_clients("100%_") == []


def test_erasing_a_client_removes_personal_and_health_data_but_keeps_the_technical_record(
        store: RecordStore) -> None:
    client_id, session_id = _treated_client(store, "Anna Beispiel")
    report = ClientRegistry(store).delete_client(client_id)
    assert (report.sessions_anonymised, report.screening_answers_deleted,
            report.sensations_deleted) == (1, 2, 1)
    with pytest.raises(RecordNotFoundError):
        ClientRegistry(store).get_client(client_id)
    session = SessionBook(store).get_session(session_id)
    assert session.client_id is None and session.anonymised
    assert session.screening_answers == {} and session.sensations == ()
    assert session.summary is not None and session.summary.dose_ma_min == 1.9
    assert session.program == PROGRAM
    assert [c.new_value for c in session.operator_changes] == [0.6]
    assert SessionBook(store).last_sessions(client_id) == []


def test_erasure_is_logged_without_the_id_and_the_log_still_verifies(store: RecordStore) -> None:
    client_id, _ = _treated_client(store, "Anna Beispiel")
    ClientRegistry(store).delete_client(client_id)
    rows = read_events(store.connection)
    assert rows[-1].code == "records.client_erased"
    assert rows[-1].details == {"sessions_anonymised": 1}
    assert all(client_id not in row.details_json and client_id not in row.reason
               for row in rows)
    assert store.verify_chain().ok


def test_erased_bytes_are_gone_from_the_database_and_its_wal(db_path: Path) -> None:
    name = "Zelda Unverwechselbar"
    with RecordStore.open(db_path) as store:
        client_id, _ = _treated_client(store, name)
        store.checkpoint()  # the name is now in the main file, not only in the WAL
        assert name.encode() in db_path.read_bytes()
        report = ClientRegistry(store).delete_client(client_id)
        assert report.purged_from_disk
        on_disk = b"".join(p.read_bytes() for p in db_path.parent.iterdir() if p.is_file())
    assert name.encode() not in on_disk
    assert client_id.encode() not in on_disk


def test_erasing_an_unknown_client_changes_nothing(store: RecordStore) -> None:
    before = read_events(store.connection)
    with pytest.raises(RecordNotFoundError):
        ClientRegistry(store).delete_client("ZZZZ-ZZZZ")
    assert read_events(store.connection) == before


def test_a_display_name_can_be_changed_or_removed(store: RecordStore) -> None:
    registry = ClientRegistry(store)
    client = registry.create_client("Anna")
    assert registry.set_display_name(client.client_id, "Anna B.").display_name == "Anna B."
    assert registry.set_display_name(client.client_id, None).display_name is None
    with pytest.raises(RecordNotFoundError):
        registry.set_display_name("ZZZZ-ZZZZ", "x")
