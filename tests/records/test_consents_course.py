"""Consents, course notes, the whole history and the course (issue 11 items 5 and 6), and the
schema v4 that holds them, migrated from a v3 file full of records (SR-133..136)."""

from __future__ import annotations

import datetime
import json
import sqlite3
from pathlib import Path

import pytest

from kiosk.records import events as event_log
from kiosk.records.clients import ClientRegistry
from kiosk.records.consents import ConsentBook, Signature
from kiosk.records.course import Plan, courses
from kiosk.records.errors import RecordNotFoundError
from kiosk.records.events import LogEvent, read_events, stamp
from kiosk.records.migrations import LATEST_VERSION, migrate
from kiosk.records.sessions import (
    ProgramChoice,
    SessionBook,
    SessionStatus,
    SessionSummary,
)
from kiosk.records.store import RecordStore

SIGNATURE = Signature(300, 120, (((10, 10), (60, 40), (120, 20)), ((130, 60), (200, 70))))
DISINCRUSTATION = ProgramChoice("face", "disincrustation", "face.disincrustation", "1.0.0",
                                "Sodium chloride solution 5-10 %", "negative", "face_roller",
                                0.8)
PIGMENTATION = ProgramChoice("face", "pigmentation", "face.pigmentation", "1.0.0",
                             "Ascorbic acid", "negative", "pad_15", 0.6)
PLANS = {"face.disincrustation": Plan(4, 6, 14), "face.pigmentation": Plan(12, 12, 3)}
DAY_S = 86_400.0
T0 = datetime.datetime(2026, 9, 1, 10, 0).timestamp()


def give(store: RecordStore, client_id: str, version: str = "1+abc") -> None:
    ConsentBook(store).record_consent(client_id, consent_version=version,
                                      catalogue_version="1.0.0", language="en",
                                      text="Consent text as shown.", signature=SIGNATURE,
                                      operator="Eva")


# --- the migration from v3 with data --------------------------------------------------------

def _v3_file_with_records(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    migrate(conn, target=3)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO clients VALUES ('K7QM-3XPA', 'Anna', 1780000000000000)")
    conn.execute("INSERT INTO clients VALUES ('9D2R-TB0W', NULL, 1780000500000000)")
    conn.execute(
        "INSERT INTO sessions (session_id, client_id, operator, status, started_wall_us,"
        " ended_wall_us, screening_result, area, indication, program_id, program_version,"
        " active, polarity, electrode_id, target_current_ma, mean_current_ma,"
        " peak_current_ma, dose_ma_min, current_stage_s, faults, stop_reason)"
        " VALUES ('closed1', 'K7QM-3XPA', 'Eva', 'closed', 1780000100000000,"
        " 1780000900000000, 'clear', 'face', 'disincrustation', 'face.disincrustation',"
        " '1.0.0', 'NaCl 5 %', 'negative', 'face_roller', 0.8, 0.78, 0.81, 3.1, 240.0,"
        " '[\"estop\"]', 'estop')")
    conn.execute(
        "INSERT INTO sessions (session_id, client_id, operator, status, started_wall_us,"
        " screening_result, stop_reason, control_session_id, dose_ma_min,"
        " dose_recorded_wall_us) VALUES ('cut1', '9D2R-TB0W', 'Eva', 'interrupted',"
        " 1780001000000000, 'clear', 'interrupted', 'ctl-7', 1.25, 1780001100000000)")
    conn.execute("INSERT INTO screening_answers VALUES ('closed1', 'pregnancy', 0)")
    conn.execute("INSERT INTO sensations (session_id, wall_us, sensation)"
                 " VALUES ('closed1', 1780000800000000, 'warm')")
    events = [stamp(LogEvent("test.event", f"event {i}", details={"i": i}), i * 0.01,
                    1_780_000_000.0 + i) for i in range(3)]
    event_log.append_events(conn, events, "boot-v3")
    conn.execute("COMMIT")
    conn.close()


@pytest.mark.requirement("SR-134")
def test_a_v3_file_full_of_records_opens_as_v4_with_every_record_kept(db_path: Path) -> None:
    _v3_file_with_records(db_path)
    with RecordStore.open(db_path) as store:
        assert store.migrated_from == 3 and store.schema_version == LATEST_VERSION == 4
        book = SessionBook(store)
        closed = book.get_session("closed1")
        cut = book.get_session("cut1")
        rows = read_events(store.connection)
        report = store.verify_chain()
        names = dict(store.connection.execute("SELECT client_id, display_name FROM clients"))
        # the new tables work on the migrated file
        give(store, "K7QM-3XPA")
        assert ConsentBook(store).consent_in_force("K7QM-3XPA", "1+abc") is not None
    assert names == {"K7QM-3XPA": "Anna", "9D2R-TB0W": None}
    assert closed.status is SessionStatus.CLOSED and closed.consent_version is None
    assert closed.summary is not None and closed.summary.stop_reason == "estop"
    assert closed.summary.dose_ma_min == 3.1 and closed.summary.faults == ("estop",)
    assert closed.screening_answers == {"pregnancy": False}
    assert [s.sensation.value for s in closed.sensations] == ["warm"]
    assert cut.status is SessionStatus.INTERRUPTED and cut.summary is not None
    assert cut.summary.dose_ma_min == 1.25 and cut.summary.dose_recorded_wall_s == 1780001100.0
    assert [r.code for r in rows[:3]] == ["test.event"] * 3
    assert rows[3].code == "records.schema_migrated"
    assert rows[3].details == {"from_version": 3, "to_version": 4}
    assert report.ok


# --- consents ----------------------------------------------------------------------------------

@pytest.mark.requirement("SR-133")
def test_a_consent_is_kept_with_version_text_signature_and_time(store: RecordStore) -> None:
    client = ClientRegistry(store).create_client("Anna").client_id
    book = ConsentBook(store, wall_now_s=lambda: 1_790_000_000.25)
    assert book.consent_in_force(client, "1+abc") is None and book.latest(client) is None
    book.record_consent(client, consent_version="1+abc", catalogue_version="1.0.0",
                        language="ru", text="Текст согласия.", signature=SIGNATURE,
                        operator="Eva")
    found = book.consent_in_force(client, "1+abc")
    assert found is not None
    assert (found.consent_version, found.catalogue_version, found.language, found.text,
            found.operator, found.given_wall_s) == ("1+abc", "1.0.0", "ru", "Текст согласия.",
                                                    "Eva", 1_790_000_000.25)
    assert found.signature == SIGNATURE
    # a catalogue change: the old consent is not the one in force, but it is still the latest
    assert book.consent_in_force(client, "2+def") is None
    latest = book.latest(client)
    assert latest is not None and latest.consent_version == "1+abc"
    event = [r for r in read_events(store.connection) if r.code == "records.consent_given"]
    assert len(event) == 1 and client not in event[0].details_json
    assert event[0].details["consent_version"] == "1+abc"


@pytest.mark.requirement("SR-133")
def test_consent_of_one_client_is_not_another_clients(store: RecordStore) -> None:
    registry = ClientRegistry(store)
    anna, bea = registry.create_client("Anna").client_id, registry.create_client("Bea").client_id
    give(store, anna)
    assert ConsentBook(store).consent_in_force(bea, "1+abc") is None
    with pytest.raises(RecordNotFoundError):
        give(store, "ZZZZ-ZZZZ")


@pytest.mark.requirement("SR-133")
def test_erasure_deletes_the_consent_with_its_signature_and_the_notes(store: RecordStore) -> None:
    registry = ClientRegistry(store)
    client = registry.create_client("Anna").client_id
    give(store, client)
    give(store, client, "2+def")
    registry.add_note(client, "Prefers the roller.", "Eva")
    report = registry.delete_client(client)
    assert (report.consents_deleted, report.notes_deleted) == (2, 1)
    assert store.connection.execute("SELECT count(*) FROM consents").fetchone()[0] == 0
    assert store.connection.execute("SELECT count(*) FROM course_notes").fetchone()[0] == 0


@pytest.mark.requirement("SR-133")
@pytest.mark.parametrize("strokes, problem", [
    ((), "at least one stroke"),
    (((),), "at least one point"),
    ((((5, 5),),), "drawn line"),  # a tap
    ((((5, 5), (20, 5)),), "drawn line"),  # 15 px: a dot, not a signature
    ((((5, 5), (301, 5)),), "outside the pad"),
    ((((-1, 5), (100, 5)),), "outside the pad"),
    ((((5.5, 5), (100, 5)),), "whole numbers"),
    ((((True, 5), (100, 5)),), "whole numbers"),
    ((tuple((i % 300, 5) for i in range(4001)),), "at most"),
])
def test_junk_is_not_a_signature(strokes: object, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Signature(300, 120, strokes)  # type: ignore[arg-type]


def test_a_signature_at_the_ink_threshold_is_one_and_round_trips() -> None:
    at_threshold = Signature(300, 120, (((0, 0), (40, 0)),))
    assert at_threshold.ink_px == 40.0
    assert Signature.from_json(at_threshold.to_json()) == at_threshold
    from_pad = Signature.from_points(300.4, 119.6, [[(-3.0, 2.4), (50.6, 130.0)], []])
    assert from_pad.strokes == (((0, 2), (51, 120)),) and from_pad.width_px == 300
    assert len(SIGNATURE.to_json()) < 200


@pytest.mark.parametrize("field, value", [("consent_version", ""), ("consent_version", "x" * 65),
                                          ("language", "e\nn"), ("operator", " ")])
def test_a_consent_without_its_facts_is_refused(store: RecordStore, field: str,
                                                value: str) -> None:
    client = ClientRegistry(store).create_client(None).client_id
    facts = {"consent_version": "1+abc", "catalogue_version": "1.0.0", "language": "en",
             "operator": "Eva"} | {field: value}
    with pytest.raises(ValueError, match=field):
        ConsentBook(store).record_consent(client, text="T", signature=SIGNATURE, **facts)
    with pytest.raises(ValueError, match="text"):
        ConsentBook(store).record_consent(client, text=" ", signature=SIGNATURE,
                                          **(facts | {field: "ok"}))


# --- the whole history and the course ----------------------------------------------------------

def _session(store: RecordStore, client: str, start_s: float, program: ProgramChoice | None,
             summary: SessionSummary, answers: dict[str, bool] | None = None) -> str:
    book = SessionBook(store, wall_now_s=lambda: start_s)
    session_id = book.start_session(client, "Eva")
    book.set_consent(session_id, "1+abc")
    book.record_screening(session_id, answers or {"pregnancy": False})
    if program is not None:
        book.record_program(session_id, program)
    book.close_session(session_id, summary)
    return session_id


def _done(dose: float) -> SessionSummary:
    return SessionSummary("completed", 0.8, 0.8, dose, 240.0)


@pytest.mark.requirement("SR-135")
def test_every_session_is_in_the_history_page_by_page_newest_first(store: RecordStore) -> None:
    client = ClientRegistry(store).create_client(None).client_id
    ids = [_session(store, client, T0 + n * DAY_S, DISINCRUSTATION, _done(1.0 + n))
           for n in range(9)]
    book = SessionBook(store)
    assert book.count_sessions(client) == 9
    pages = [book.client_sessions(client, 4, offset) for offset in (0, 4, 8, 12)]
    assert [len(p) for p in pages] == [4, 4, 1, 0]
    assert [r.session_id for p in pages for r in p] == ids[::-1]
    assert all(r.consent_version == "1+abc" for p in pages for r in p)
    with pytest.raises(ValueError):
        book.client_sessions(client, 0)


@pytest.mark.requirement("SR-136")
@pytest.mark.parametrize("days_later, too_soon", [(0, True), (13, True), (14, False),
                                                  (30, False)])
def test_the_course_warns_below_the_interval_and_not_at_it(store: RecordStore, days_later: int,
                                                           too_soon: bool) -> None:
    client = ClientRegistry(store).create_client(None).client_id
    for n in range(2):
        _session(store, client, T0 + n * 14 * DAY_S, DISINCRUSTATION, _done(3.0))
    records = SessionBook(store).client_sessions(client, 100)
    last_day = datetime.date.fromtimestamp(T0 + 14 * DAY_S)
    (course,) = courses(records, PLANS, last_day + datetime.timedelta(days=days_later))
    assert course.program_id == "face.disincrustation" and course.next_number == 3
    assert course.days_since_last == days_later and course.too_soon is too_soon
    assert [dose for dose in (s.summary.dose_ma_min for s in course.sessions
                              if s.summary)] == [3.0, 3.0]


@pytest.mark.requirement("SR-136")
def test_only_sessions_with_current_count_and_programs_keep_their_own_course(
        store: RecordStore) -> None:
    client = ClientRegistry(store).create_client(None).client_id
    _session(store, client, T0, DISINCRUSTATION, _done(3.0))
    _session(store, client, T0 + DAY_S, None, SessionSummary("screening_blocked"),
             {"pregnancy": True})
    _session(store, client, T0 + 2 * DAY_S, DISINCRUSTATION,
             SessionSummary("no_current_stage"))
    _session(store, client, T0 + 3 * DAY_S, DISINCRUSTATION,
             SessionSummary("operator", 0.5, 0.6, 0.4, 50.0))  # STOP after some current
    _session(store, client, T0 + 4 * DAY_S, PIGMENTATION, _done(2.0))
    records = SessionBook(store).client_sessions(client, 100)
    found = courses(records, PLANS, datetime.date.fromtimestamp(T0 + 5 * DAY_S))
    assert [(c.program_id, c.next_number, c.days_since_last, c.too_soon) for c in found] == [
        ("face.pigmentation", 2, 1, True), ("face.disincrustation", 3, 2, True)]


@pytest.mark.requirement("SR-136")
def test_a_long_gap_starts_a_new_course_and_an_unplanned_program_never_warns(
        store: RecordStore) -> None:
    client = ClientRegistry(store).create_client(None).client_id
    for n in range(6):
        _session(store, client, T0 + n * 14 * DAY_S, DISINCRUSTATION, _done(3.0))
    records = SessionBook(store).client_sessions(client, 100)
    last = datetime.date.fromtimestamp(T0 + 5 * 14 * DAY_S)
    (done,) = courses(records, PLANS, last + datetime.timedelta(days=14))
    assert done.next_number == 7 and done.past_plan and not done.too_soon
    (edge,) = courses(records, PLANS, last + datetime.timedelta(days=42))
    assert edge.next_number == 7  # three intervals: still the same course
    (fresh,) = courses(records, PLANS, last + datetime.timedelta(days=43))
    assert fresh.next_number == 1 and not fresh.past_plan
    (unplanned,) = courses(records, {}, last)
    assert unplanned.plan is None and not unplanned.too_soon and unplanned.next_number == 7


def test_notes_are_dated_newest_first_and_junk_is_refused(store: RecordStore) -> None:
    clock = iter([1_789_999_000.0, 1_790_000_000.0, 1_790_000_060.0])
    registry = ClientRegistry(store, wall_now_s=lambda: next(clock))
    client = registry.create_client(None).client_id
    registry.add_note(client, "  Sensitive   on the\tchin. ", "Eva")
    registry.add_note(client, "Prefers the roller.", "Ola")
    assert [(n.text, n.operator) for n in registry.notes(client)] == [
        ("Prefers the roller.", "Ola"), ("Sensitive on the chin.", "Eva")]
    for junk in ("", "   ", "x" * 501):
        with pytest.raises(ValueError):
            registry.add_note(client, junk, "Eva")
    with pytest.raises(RecordNotFoundError):
        ClientRegistry(store).add_note("ZZZZ-ZZZZ", "note", "Eva")


def test_the_signature_is_stored_as_small_vector_json(store: RecordStore) -> None:
    client = ClientRegistry(store).create_client(None).client_id
    give(store, client)
    (text,) = store.connection.execute("SELECT signature FROM consents").fetchone()
    assert json.loads(text) == {"w": 300, "h": 120,
                                "strokes": [[10, 10, 60, 40, 120, 20], [130, 60, 200, 70]]}
