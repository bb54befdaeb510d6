"""The service mode's read side of the event log (``kiosk.records.reader``): filtered pages,
one event's session, and the chain check in bounded steps that must reach the same verdict as
the one-shot ``verify_chain`` on every kind of damage, whatever the step size."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from kiosk.records import anchor as chain_anchor
from kiosk.records import reader
from kiosk.records.clients import ClientRegistry
from kiosk.records.errors import StorageMissingError
from kiosk.records.events import LogEvent, canonical_row, chain_hash, stamp
from kiosk.records.sessions import ProgramChoice, SessionBook
from kiosk.records.store import RecordStore
from tests.records.helpers import append, raw_connection

pytestmark = pytest.mark.requirement("SR-170")

BASE_WALL_S = 1_790_000_000.0
SEVERITIES = ("info", "medium", "high")
CODES = ("state_changed", "contact_poor", "contact_lost", "records.database_created")


def _fill(store: RecordStore, count: int) -> None:
    """``count`` events, one a second of wall time, codes and severities in a fixed rotation."""
    events = [stamp(LogEvent(CODES[i % 4], f"event {i}", SEVERITIES[i % 3],
                             details={"i": i}, session_id=f"s{i // 50}"),
                    i * 0.01, BASE_WALL_S + i) for i in range(count)]
    store.append_events(events, durable=False)


def _anchor_head(store: RecordStore) -> None:
    seq, last_hash = store.connection.execute(
        "SELECT seq, hash FROM chain_head").fetchone()
    chain_anchor.write(chain_anchor.anchor_path(store.path), chain_anchor.Anchor(seq, last_hash))


# ---------------------------------------------------------------------------- chain in steps

def _delete(seqs: tuple[int, ...], set_head_back: bool = False) -> Callable[[Path], None]:
    def tamper(path: Path) -> None:
        conn = raw_connection(path)
        for seq in seqs:
            conn.execute("DELETE FROM events WHERE seq = ?", (seq,))
        if set_head_back:
            seq, last_hash = conn.execute(
                "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
            conn.execute("UPDATE chain_head SET seq = ?, hash = ?", (seq, last_hash))
        conn.close()
    return tamper


def _alter(seq: int, column: str = "reason", value: str = "'edited'") -> Callable[[Path], None]:
    def tamper(path: Path) -> None:
        raw_connection(path).execute(f"UPDATE events SET {column} = {value} WHERE seq = {seq}")
    return tamper


def _swap(a: int, b: int) -> Callable[[Path], None]:
    def tamper(path: Path) -> None:
        conn = raw_connection(path)
        conn.execute("UPDATE events SET seq = -1 WHERE seq = ?", (a,))
        conn.execute("UPDATE events SET seq = ? WHERE seq = ?", (a, b))
        conn.execute("UPDATE events SET seq = ? WHERE seq = -1", (b,))
    return tamper


def _rewrite_from(seq: int) -> Callable[[Path], None]:
    """A careful tamperer: edits one row and recomputes every later hash and the head; only
    the anchor outside the database can tell."""
    def tamper(path: Path) -> None:
        conn = raw_connection(path)
        rows = conn.execute("SELECT seq, wall_us, mono_us, code, severity, reason, details,"
                            " session_id, boot_id, hash FROM events ORDER BY seq").fetchall()
        previous = rows[seq - 2][9] if seq > 1 else "0" * 64
        for values in rows[seq - 1:]:
            row = reader._row(values)
            if row.seq == seq:
                row = reader._row((*values[:5], "forged", *values[6:]))
                conn.execute("UPDATE events SET reason = 'forged' WHERE seq = ?", (seq,))
            new_hash = chain_hash(previous, canonical_row(row.seq, row, row.boot_id))
            conn.execute("UPDATE events SET hash = ? WHERE seq = ?", (new_hash, row.seq))
            previous = new_hash
        conn.execute("UPDATE chain_head SET hash = ?", (previous,))
    return tamper


def _add_outside(path: Path) -> None:
    conn = raw_connection(path)
    conn.execute("INSERT INTO events (seq, wall_us, mono_us, code, severity, reason, details,"
                 " hash) SELECT max(seq) + 1, 0, 0, 'x', 'info', 'x', '{}', 'ab' FROM events")


DAMAGE: dict[str, Callable[[Path], None] | None] = {
    "intact": None,
    "first_deleted": _delete((1,)),
    "middle_deleted": _delete((20,)),
    "newest_deleted": _delete((40,)),
    "tail_cut_head_set_back": _delete((38, 39, 40), set_head_back=True),
    "reason_altered": _alter(17),
    "severity_altered": _alter(3, "severity", "'high'"),
    "code_altered_last": _alter(40, "code", "'hidden'"),
    "swapped": _swap(9, 10),
    "rewritten_with_new_hashes": _rewrite_from(12),
    "row_added_outside_the_writer": _add_outside,
}


@pytest.mark.requirement("SR-171")
@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize("step_rows", [1, 2, 3, 7, 39, 40, 41, 1000])
def test_stepwise_verification_agrees_with_the_one_shot_check(
        tmp_path: Path, damage: str, step_rows: int) -> None:
    path = tmp_path / "records.sqlite3"
    with RecordStore.open(path) as store:
        append(store, 39)  # + records.database_created = 40 rows
        _anchor_head(store)
    tamper = DAMAGE[damage]
    if tamper is not None:
        tamper(path)
    with RecordStore.open(path, check_integrity=False) as store:
        expected = store.verify_chain()
    conn = reader.open_read_only(path)
    try:
        got, anchor = reader.verify_all(conn, path, max_rows=step_rows)
    finally:
        conn.close()
    assert anchor is not None and anchor.seq == 40
    assert (got.ok, got.first_bad_seq, got.problem) == (
        expected.ok, expected.first_bad_seq, expected.problem), (got, expected)
    assert got.ok == (damage == "intact")
    if got.ok:
        assert (got.rows_checked, got.last_seq, got.last_hash) == (
            expected.rows_checked, expected.last_seq, expected.last_hash)


@pytest.mark.requirement("SR-171")
def test_a_step_stops_after_its_rows_and_the_cursor_continues_there(db_path: Path) -> None:
    with RecordStore.open(db_path) as store:
        append(store, 9)
    conn = reader.open_read_only(db_path)
    step = reader.verify_step(conn, db_path, reader.ChainCursor(), max_rows=4)
    assert not step.done and step.cursor.next_seq == 5 and step.cursor.rows_checked == 4
    step = reader.verify_step(conn, db_path, step.cursor, max_rows=4)
    assert not step.done and step.cursor.next_seq == 9
    step = reader.verify_step(conn, db_path, step.cursor, max_rows=4)
    assert step.done and step.report is not None and step.report.ok
    assert step.report.rows_checked == 10


@pytest.mark.requirement("SR-171")
def test_a_row_changed_between_two_steps_is_caught(db_path: Path) -> None:
    with RecordStore.open(db_path) as store:
        append(store, 9)
    conn = reader.open_read_only(db_path)
    step = reader.verify_step(conn, db_path, reader.ChainCursor(), max_rows=5)
    # the row the cursor stopped after is rewritten behind the checker's back
    raw_connection(db_path).execute("UPDATE events SET hash = ? WHERE seq = 5", ("e" * 64,))
    step = reader.verify_step(conn, db_path, step.cursor, max_rows=5)
    assert step.report is not None and not step.report.ok
    assert step.report.first_bad_seq == 5


@pytest.mark.requirement("SR-171")
def test_events_appended_while_checking_are_checked_too(db_path: Path) -> None:
    with RecordStore.open(db_path) as store:
        append(store, 9)
        conn = reader.open_read_only(db_path)
        step = reader.verify_step(conn, db_path, reader.ChainCursor(), max_rows=6)
        append(store, 5)
        _anchor_head(store)
        while not step.done:
            step = reader.verify_step(conn, db_path, step.cursor, max_rows=6)
    assert step.report is not None and step.report.ok and step.report.last_seq == 15


@pytest.mark.requirement("SR-171")
def test_an_emptied_log_is_caught_by_the_anchor_and_a_log_never_written_verifies(
        tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite3"
    RecordStore.open(path).close()  # its creation event is anchored
    raw = raw_connection(path)
    raw.execute("DELETE FROM events")
    raw.execute("UPDATE chain_head SET seq = 0, hash = ?", ("0" * 64,))
    conn = reader.open_read_only(path)
    report, anchor = reader.verify_all(conn, path)
    assert not report.ok and report.problem == "truncated" and anchor is not None
    chain_anchor.anchor_path(path).unlink()
    report, anchor = reader.verify_all(conn, path)
    assert report.ok and report.rows_checked == 0 and anchor is None


# ---------------------------------------------------------------------------- pages


def _expected(count: int, keep: Callable[[int], bool]) -> list[int]:
    return [i + 2 for i in reversed(range(count)) if keep(i)]  # seq 1 is database_created


@pytest.mark.parametrize("page_size", [1, 7, 25, 50])
def test_pages_walk_the_whole_log_newest_first_without_gap_or_repeat(
        store: RecordStore, page_size: int) -> None:
    _fill(store, 333)
    conn = reader.open_read_only(store.path)
    first = reader.page_events(conn, reader.EventFilter(), 0, page_size)
    seen: list[int] = []
    for page in range(first.pages):
        got = reader.page_events(conn, reader.EventFilter(), page, page_size)
        assert got.page == page and got.total == 334
        seen += [row.seq for row in got.rows]
    assert seen == list(range(334, 0, -1))
    last = reader.page_events(conn, reader.EventFilter(), first.pages - 1, page_size)
    assert len(last.rows) == 334 - (first.pages - 1) * page_size
    beyond = reader.page_events(conn, reader.EventFilter(), first.pages + 5, page_size)
    assert beyond.page == first.pages - 1 and beyond.rows == last.rows


def test_filters_by_severity_kind_session_and_date_combine(store: RecordStore) -> None:
    _fill(store, 300)
    conn = reader.open_read_only(store.path)
    flt = reader.EventFilter(codes=("contact_lost", "contact_poor"), severities=("high",),
                             wall_from_us=int((BASE_WALL_S + 100) * 1e6),
                             wall_to_us=int((BASE_WALL_S + 250) * 1e6))
    rows: list[int] = []
    page = 0
    while True:
        got = reader.page_events(conn, flt, page, 10)
        rows += [row.seq for row in got.rows]
        if page >= got.pages - 1:
            break
        page += 1
    assert rows == _expected(300, lambda i: CODES[i % 4] in ("contact_lost", "contact_poor")
                             and SEVERITIES[i % 3] == "high" and 100 <= i < 250)
    assert got.total == len(rows) > 0
    by_session = reader.page_events(conn, reader.EventFilter(session_id="s3"), 0, 50)
    assert [row.seq for row in by_session.rows] == _expected(300, lambda i: i // 50 == 3)


def test_the_date_bounds_are_exact_to_the_microsecond(store: RecordStore) -> None:
    _fill(store, 10)
    conn = reader.open_read_only(store.path)
    at_5 = int((BASE_WALL_S + 5) * 1e6)
    just_in = reader.page_events(conn, reader.EventFilter(wall_from_us=at_5,
                                                          wall_to_us=at_5 + 1), 0, 50)
    assert [row.seq for row in just_in.rows] == [7]
    just_out = reader.page_events(conn, reader.EventFilter(wall_from_us=at_5 + 1,
                                                           wall_to_us=at_5 + 1_000_000), 0, 50)
    assert just_out.total == 0
    before = reader.page_events(conn, reader.EventFilter(wall_to_us=at_5), 0, 50)
    assert before.rows[0].seq == 6


def test_a_kind_with_no_codes_matches_nothing_and_an_empty_page_is_page_zero(
        store: RecordStore) -> None:
    _fill(store, 20)
    conn = reader.open_read_only(store.path)
    got = reader.page_events(conn, reader.EventFilter(codes=()), 3, 10)
    assert (got.total, got.page, got.pages, got.rows) == (0, 0, 1, ())
    assert reader.code_counts(conn)["contact_lost"] == 5


@pytest.mark.parametrize(("page", "size"), [(-1, 10), (0, 0), (0, 51)])
def test_out_of_range_paging_is_refused(store: RecordStore, page: int, size: int) -> None:
    conn = reader.open_read_only(store.path)
    with pytest.raises(ValueError):
        reader.page_events(conn, reader.EventFilter(), page, size)


def test_the_read_only_connection_cannot_write_and_never_creates_a_file(
        tmp_path: Path, store: RecordStore) -> None:
    missing = tmp_path / "nowhere" / "records.sqlite3"
    with pytest.raises(StorageMissingError):
        reader.open_read_only(missing)
    assert not missing.parent.exists()
    conn = reader.open_read_only(store.path)
    with pytest.raises(sqlite3.Error):
        conn.execute("INSERT INTO chain_head (id, seq, hash) VALUES (2, 0, 'x')")


# ---------------------------------------------------------------------------- the session


def test_the_session_of_a_fault_is_found_by_its_control_id_without_the_client(
        store: RecordStore) -> None:
    client = ClientRegistry(store).create_client("Anna Example")
    book = SessionBook(store)
    sid = book.start_session(client.client_id, "Marta", control_session_id="ctl-7")
    book.record_screening(sid, {"pregnancy": False})
    book.record_program(sid, ProgramChoice(
        area="face", indication="pigmentation", program_id="face.pigmentation",
        program_version="1", active="vitamin_c", polarity="negative",
        electrode_id="roller", target_current_ma=0.4))
    store.append_events([stamp(LogEvent("contact_lost", "Contact lost.", "high",
                                        session_id="ctl-7"), 1.0, BASE_WALL_S)], durable=True)
    conn = reader.open_read_only(store.path)
    found = reader.session_for(conn, "ctl-7")
    assert found is not None
    assert found["session_id"] == sid and found["program_id"] == "face.pigmentation"
    assert found["operator"] == "Marta" and found["status"] == "open"
    assert client.client_id not in repr(found) and "Anna" not in repr(found)
    assert reader.session_for(conn, "ctl-unknown") is None
    count, first, last, faults = reader.session_events(conn, "ctl-7")
    assert (count, faults) == (1, 1) and first == last


def test_code_counts_follow_the_log_and_start_again_on_a_shorter_one(tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite3"
    counter = reader.CodeCounts()
    with RecordStore.open(path) as store:
        _fill(store, 10)
        conn = reader.open_read_only(path)
        assert counter.of(conn, path) == reader.code_counts(conn)
        _fill(store, 7)  # only these are scanned now
        assert counter.of(conn, path) == reader.code_counts(conn)
        assert counter.of(conn, path)["contact_lost"] == 4
    raw = raw_connection(path)
    raw.execute("DELETE FROM events WHERE seq > 5")
    assert counter.of(conn, path) == reader.code_counts(conn)  # counted again, not 17 rows
    assert sum(counter.of(conn, path).values()) == 5
