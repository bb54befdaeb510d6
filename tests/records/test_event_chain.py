"""The hash-chained event log: an intact log verifies; a deleted, altered, reordered or cut-off
row is found and named by its sequence number."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.records.events import (
    GENESIS_HASH,
    ChainProblem,
    LogEvent,
    canonical_details,
    canonical_row,
    chain_hash,
    last_events,
    read_events,
    stamp,
)
from kiosk.records.store import RecordStore
from tests.records.helpers import append, raw_connection

# The store writes records.database_created as event 1; test events start at 2.
FIRST = 2


def test_an_untouched_log_verifies_and_reports_its_head(store: RecordStore) -> None:
    last = append(store, 20)
    report = store.verify_chain()
    assert report.ok
    assert report.rows_checked == last == 21
    assert report.first_bad_seq is None
    assert report.last_hash == read_events(store.connection)[-1].hash


def test_every_row_chains_to_the_previous_one_from_the_genesis(store: RecordStore) -> None:
    append(store, 3)
    rows = read_events(store.connection)
    previous = GENESIS_HASH
    for row in rows:
        assert row.hash == chain_hash(previous, canonical_row(row.seq, row, row.boot_id))
        previous = row.hash
    assert [row.seq for row in rows] == [1, 2, 3, 4]


def test_a_deleted_row_in_the_middle_is_named(store: RecordStore) -> None:
    append(store, 10)
    raw_connection(store.path).execute("DELETE FROM events WHERE seq = 6")
    report = store.verify_chain()
    assert not report.ok
    assert report.problem is ChainProblem.MISSING
    assert report.first_bad_seq == 6


def test_a_deleted_first_row_is_named(store: RecordStore) -> None:
    append(store, 3)
    raw_connection(store.path).execute("DELETE FROM events WHERE seq = 1")
    report = store.verify_chain()
    assert (report.problem, report.first_bad_seq) == (ChainProblem.MISSING, 1)


def test_deleting_the_newest_rows_is_caught_by_the_head(store: RecordStore) -> None:
    append(store, 10)
    raw_connection(store.path).execute("DELETE FROM events WHERE seq >= 9")
    report = store.verify_chain()
    assert (report.problem, report.first_bad_seq) == (ChainProblem.TRUNCATED, 9)


@pytest.mark.parametrize(("column", "value"), [
    ("reason", "'nothing happened'"),
    ("code", "'control.stopped'"),
    ("details", "'{\"i\":99}'"),
    ("wall_us", "wall_us + 3600000000"),
    ("mono_us", "mono_us - 1"),
    ("severity", "'high'"),
    ("session_id", "'someone-else'"),
    ("boot_id", "NULL"),
    ("hash", "'" + "ab" * 32 + "'"),
])
def test_an_altered_field_is_named(store: RecordStore, column: str, value: str) -> None:
    append(store, 10)
    raw_connection(store.path).execute(f"UPDATE events SET {column} = {value} WHERE seq = 7")
    report = store.verify_chain()
    assert (report.problem, report.first_bad_seq) == (ChainProblem.ALTERED, 7)


def test_an_altered_row_with_a_recomputed_hash_breaks_the_next_link(store: RecordStore) -> None:
    append(store, 10)
    conn = raw_connection(store.path)
    row = read_events(conn, after_seq=6, limit=1)[0]
    forged = type(row)(**{**{f: getattr(row, f) for f in row.__dataclass_fields__},
                          "reason": "forged"})
    previous = read_events(conn, after_seq=5, limit=1)[0].hash
    new_hash = chain_hash(previous, canonical_row(7, forged, forged.boot_id))
    conn.execute("UPDATE events SET reason = 'forged', hash = ? WHERE seq = 7", (new_hash,))
    report = store.verify_chain()
    assert (report.problem, report.first_bad_seq) == (ChainProblem.ALTERED, 8)


def test_two_swapped_rows_are_found_at_the_first_of_them(store: RecordStore) -> None:
    append(store, 10)
    conn = raw_connection(store.path)
    conn.execute("BEGIN")
    conn.execute("UPDATE events SET seq = -1 WHERE seq = 4")
    conn.execute("UPDATE events SET seq = 4 WHERE seq = 5")
    conn.execute("UPDATE events SET seq = 5 WHERE seq = -1")
    conn.execute("COMMIT")
    report = store.verify_chain()
    assert (report.problem, report.first_bad_seq) == (ChainProblem.ALTERED, 4)


def test_a_log_rewritten_after_an_export_differs_from_the_exported_anchor(
        store: RecordStore) -> None:
    append(store, 10)
    anchor_row = read_events(store.connection, after_seq=4, limit=1)[0]
    anchor = (anchor_row.seq, anchor_row.hash)
    assert store.verify_chain(anchor=anchor).ok
    # Rewrite rows 3.. consistently, as someone with full access could.
    conn = raw_connection(store.path)
    rows = read_events(conn)
    previous = rows[1].hash
    conn.execute("BEGIN")
    for row in rows[2:]:
        reason = "rewritten" if row.seq == 3 else row.reason
        fields = {f: getattr(row, f) for f in row.__dataclass_fields__}
        fields["reason"] = reason
        new = type(row)(**fields)
        previous = chain_hash(previous, canonical_row(row.seq, new, new.boot_id))
        conn.execute("UPDATE events SET reason = ?, hash = ? WHERE seq = ?",
                     (reason, previous, row.seq))
    conn.execute("UPDATE chain_head SET hash = ? WHERE id = 1", (previous,))
    conn.execute("COMMIT")
    assert store.verify_chain().ok  # a consistent rewrite is not visible from inside
    report = store.verify_chain(anchor=anchor)
    assert (report.problem, report.first_bad_seq) == (ChainProblem.ANCHOR_MISMATCH, 5)


def test_the_log_refuses_updates_and_deletes_through_sql(store: RecordStore) -> None:
    import sqlite3

    append(store, 2)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.connection.execute("DELETE FROM events WHERE seq = 2")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.connection.execute("UPDATE events SET reason = 'x' WHERE seq = 2")
    assert store.verify_chain().ok


def test_last_events_returns_the_newest_oldest_first(store: RecordStore) -> None:
    append(store, 10)
    assert [row.seq for row in last_events(store.connection, 3)] == [9, 10, 11]


@settings(max_examples=25, deadline=None)
@given(count=st.integers(min_value=2, max_value=30), data=st.data())
def test_deleting_any_row_is_found_at_exactly_that_row(tmp_path_factory: pytest.TempPathFactory,
                                                       count: int, data: st.DataObject) -> None:
    path = tmp_path_factory.mktemp("chain") / "records.sqlite3"
    with RecordStore.open(path) as store:
        append(store, count)
        victim = data.draw(st.integers(min_value=1, max_value=count + 1))
        raw_connection(path).execute("DELETE FROM events WHERE seq = ?", (victim,))
        report = store.verify_chain()
    assert not report.ok
    assert report.first_bad_seq == victim


def test_odd_details_are_recorded_not_raised() -> None:
    class Opaque:
        def __str__(self) -> str:
            return "opaque"

    text = canonical_details({"current_ma": math.nan, "limit": math.inf, 3: Opaque(),
                              "nested": {"b": (1, 2), "a": {1, 2}}})
    assert json.loads(text) == {"3": "opaque", "current_ma": "nan", "limit": "inf",
                                "nested": {"a": [1, 2], "b": [1, 2]}}


def test_details_are_canonical_whatever_the_key_order() -> None:
    assert canonical_details({"b": 1, "a": 2.5}) == canonical_details({"a": 2.5, "b": 1}) \
        == '{"a":2.5,"b":1}'


def test_oversized_details_are_cut_and_marked() -> None:
    text = canonical_details({"blob": "x" * 10_000})
    assert len(text) < 4_000
    assert json.loads(text)["truncated"] is True


def test_a_stamped_event_keeps_its_own_times_and_faults_are_durable() -> None:
    event = LogEvent("fault.over_current", "Over-current.", "high", mono_s=12.5, wall_s=100.0)
    stamped = stamp(event, mono_now_s=99.0, wall_now_s=999.0)
    assert (stamped.mono_us, stamped.wall_us) == (12_500_000, 100_000_000)
    assert stamped.durable
    routine = stamp(LogEvent("state.hold", "Holding."), mono_now_s=1.0, wall_now_s=2.0)
    assert (routine.mono_us, routine.wall_us, routine.durable) == (1_000_000, 2_000_000, False)


def test_an_unknown_severity_is_stored_as_info_rather_than_lost() -> None:
    assert stamp(LogEvent("x.y", "z", "critical"), 0.0, 0.0).severity == "info"
