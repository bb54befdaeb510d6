"""The event log's service queries on the in-process controller (kiosk.control.log_queries): a
real control loop on the simulated board writes the log, the queries read it on a connection of
their own; junk arguments are refused with ``invalid_query``."""

from __future__ import annotations

import datetime
import math
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kiosk.control import log_queries
from kiosk.control.commands import Acknowledge, Heartbeat, ProgramRequest, StartTreatment
from kiosk.control.log_queries import RECORDS_UNAVAILABLE, VERIFY_ROWS_PER_STEP, kind_of
from kiosk.control.query_types import INVALID_QUERY, QueryRefused
from kiosk.control.service import Controller, build_controller
from kiosk.control.watchdog import SystemdWatchdog
from kiosk.hal.sim.clock import VirtualClock
from kiosk.records.clients import ClientRegistry
from kiosk.records.events import LogEvent
from kiosk.records.sessions import ProgramChoice, SessionBook
from kiosk.records.store import RecordStore, records_path
from tests.consent_version import CONSENT

PROGRAM = ProgramRequest("face", "pigmentation", current_ma=0.6, current_stage_s=120)


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[Controller]:
    built = build_controller(sim=True, clock=VirtualClock(), state_dir=tmp_path,
                             notifier=SystemdWatchdog(env={}))
    yield built
    built.close()


def run_with_ui(controller: Controller, duration_s: float) -> None:
    end_s = controller.clock.now_s() + duration_s
    while controller.clock.now_s() < end_s - 1e-9:
        controller.submit(Heartbeat())
        controller.run_for(min(1 / 15, end_s - controller.clock.now_s()))


def post_many(controller: Controller, count: int) -> None:
    writer = controller.writer
    assert writer is not None
    severities = ("info", "medium", "high")
    for i in range(count):
        assert writer.post(LogEvent(f"service.test_{i % 3}", f"test event {i}",
                                    severities[i % 3], details={"i": i}))
        if i % 200 == 199:
            assert writer.flush()
    assert writer.flush()


def all_pages(controller: Controller, **args: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    page = 0
    while True:
        answer = controller.query("events_page", page=page, page_size=50, **args)
        rows += answer["rows"]
        if page >= answer["pages"] - 1:
            return rows
        page += 1


@pytest.mark.requirement("SR-170")
def test_hundreds_of_events_page_newest_first_and_filter_by_kind_and_severity(
        controller: Controller) -> None:
    run_with_ui(controller, 0.3)  # the self-test's events
    post_many(controller, 450)
    first = controller.query("events_page")
    assert first["page"] == 0 and first["page_size"] == 8 and len(first["rows"]) == 8
    total = first["total"]
    assert total == first["events_in_log"] >= 450
    everything = all_pages(controller)
    seqs = [row["seq"] for row in everything]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == total == len(seqs)
    assert everything[0]["code"] == "service.test_2" and everything[0]["severity"] == "high"
    high_service = all_pages(controller, kind="service", severity="high")
    assert len(high_service) == 150
    assert {(r["kind"], r["severity"]) for r in high_service} == {("service", "high")}
    assert first["kinds"]["service"] == 450
    decisions = all_pages(controller, kind="decision")
    assert decisions and all(r["kind"] == "decision" for r in decisions)
    assert any(r["code"] == "selftest_passed" for r in decisions)
    last = controller.query("events_page", page=10**6, page_size=50)
    assert last["page"] == last["pages"] - 1 and last["rows"][-1]["seq"] == 1


@pytest.mark.requirement("SR-170")
def test_the_date_filter_takes_whole_local_days(controller: Controller) -> None:
    run_with_ui(controller, 0.3)
    post_many(controller, 5)
    today = datetime.date.today()
    yesterday = (today - datetime.timedelta(days=1)).isoformat()
    tomorrow = (today + datetime.timedelta(days=1)).isoformat()
    assert controller.query("events_page", date_from=today.isoformat(),
                            date_to=today.isoformat())["total"] >= 5
    assert controller.query("events_page", date_to=yesterday)["total"] == 0
    assert controller.query("events_page", date_from=tomorrow)["total"] == 0
    assert controller.query("events_page", date_from=yesterday, date_to=tomorrow)["total"] \
        == controller.query("events_page")["total"]


@pytest.mark.requirement("SR-170")
def test_a_fault_shows_its_session_and_that_sessions_events(controller: Controller,
                                                            tmp_path: Path) -> None:
    store = RecordStore.open(records_path(tmp_path))
    try:
        client = ClientRegistry(store).create_client("Anna Example")
        book = SessionBook(store)
        sid = book.start_session(client.client_id, "Marta", control_session_id="ctl-42")
        book.record_screening(sid, {"pregnancy": False})
        book.record_program(sid, ProgramChoice(
            area="face", indication="pigmentation", program_id="face.pigmentation",
            program_version="1", active="vitamin_c", polarity="negative",
            electrode_id="roller", target_current_ma=0.6))
    finally:
        store.close()
    controller.submit(StartTreatment(PROGRAM, "ctl-42", screening_cleared=True,
                                     consent_version=CONSENT))
    run_with_ui(controller, 3.0)
    controller.inject("contact_loss")
    run_with_ui(controller, 0.5)
    assert controller.writer is not None and controller.writer.flush()
    faults = all_pages(controller, kind="fault")
    lost = [row for row in faults if row["code"] == "contact_lost"]
    assert len(lost) == 1 and lost[0]["session_id"] == "ctl-42"
    detail = controller.query("event_detail", seq=lost[0]["seq"])
    assert detail["severity"] == "high" and detail["kind"] == "fault"
    assert detail["reason"] and detail["details"]["state"]
    session = detail["session"]
    assert session["session_id"] == sid and session["program_id"] == "face.pigmentation"
    assert session["operator"] == "Marta"
    assert client.client_id not in repr(detail) and "Anna" not in repr(detail)
    events = detail["session_events"]
    assert events["faults"] == 1 and events["count"] >= 3
    of_session = all_pages(controller, session="ctl-42")
    assert len(of_session) == events["count"]
    assert {row["seq"] for row in of_session} >= {lost[0]["seq"]}
    controller.inject("contact_restore")
    controller.submit(Acknowledge("contact_lost"))
    run_with_ui(controller, 0.5)


@pytest.mark.requirement("SR-170")
def test_an_event_without_a_session_record_says_so(controller: Controller) -> None:
    run_with_ui(controller, 0.3)
    post_many(controller, 1)
    row = controller.query("events_page")["rows"][0]
    detail = controller.query("event_detail", seq=row["seq"])
    assert detail["session"] is None and detail["session_events"] is None


def verify(controller: Controller) -> tuple[dict[str, Any], int]:
    answer = controller.query("verify_log")
    steps = 1
    while not answer["done"]:
        answer = controller.query("verify_log", next_seq=answer["next_seq"],
                                  previous_hash=answer["previous_hash"])
        steps += 1
    return answer, steps


@pytest.mark.requirement("SR-171")
def test_verify_log_in_steps_is_intact_then_names_the_tampered_event(
        controller: Controller, tmp_path: Path) -> None:
    run_with_ui(controller, 0.3)
    post_many(controller, VERIFY_ROWS_PER_STEP + 150)  # more than one step
    answer, steps = verify(controller)
    assert answer["ok"] and steps == 2, answer
    assert answer["last_seq"] == answer["rows_checked"] >= VERIFY_ROWS_PER_STEP + 150
    assert answer["anchor_seq"] is not None and answer["anchor_seq"] >= 1
    # a copy, tampered: the live database stays as it is
    assert controller.writer is not None and controller.writer.flush()
    copy_dir = tmp_path / "copy"
    copy_dir.mkdir()
    source = sqlite3.connect(records_path(tmp_path))
    target = sqlite3.connect(copy_dir / "records.sqlite3")
    source.backup(target)
    source.close()
    shutil.copyfile(str(records_path(tmp_path)) + ".anchor",
                    copy_dir / "records.sqlite3.anchor")
    target.execute("DROP TRIGGER events_are_append_only_update")
    target.execute("UPDATE events SET reason = 'nothing happened' WHERE seq = 2100")
    target.commit()
    target.close()
    # the handler reads the records its controller's writer names: here, the copy's
    on_copy = SimpleNamespace(writer=SimpleNamespace(path=copy_dir / "records.sqlite3"))
    answer = log_queries.verify_log(on_copy, {})  # type: ignore[arg-type]
    while not answer["done"]:
        answer = log_queries.verify_log(on_copy, {  # type: ignore[arg-type]
            "next_seq": answer["next_seq"], "previous_hash": answer["previous_hash"]})
    assert not answer["ok"]
    assert (answer["first_bad_seq"], answer["problem"]) == (2100, "altered")
    assert "2100" in answer["message"]
    intact, _steps = verify(controller)
    assert intact["ok"]


JUNK: list[tuple[str, dict[str, Any]]] = [
    ("events_page", {"page": -1}),
    ("events_page", {"page": 1.5}),
    ("events_page", {"page": math.nan}),
    ("events_page", {"page": math.inf}),
    ("events_page", {"page": True}),
    ("events_page", {"page": "2"}),
    ("events_page", {"page_size": 0}),
    ("events_page", {"page_size": 51}),
    ("events_page", {"kind": "faults"}),
    ("events_page", {"kind": 3.0}),
    ("events_page", {"severity": "HIGH"}),
    ("events_page", {"date_from": "2026-13-01"}),
    ("events_page", {"date_from": "2026-02-30"}),
    ("events_page", {"date_from": "05.12.2026"}),
    ("events_page", {"date_from": "2026-12-05", "date_to": "2026-12-04"}),
    ("events_page", {"date_to": "99999-01-01"}),
    ("events_page", {"session": "x" * 65}),
    ("events_page", {"session": "a\x00b"}),
    ("events_page", {"where": "1=1; DROP TABLE events"}),
    ("event_detail", {}),
    ("event_detail", {"seq": 0}),
    ("event_detail", {"seq": 10**9}),
    ("event_detail", {"seq": "1"}),
    ("event_detail", {"seq": 1e300}),
    ("verify_log", {"next_seq": 0}),
    ("verify_log", {"previous_hash": "0" * 63}),
    ("verify_log", {"previous_hash": "G" * 64}),
    ("verify_log", {"next_seq": 1, "previous_hash": "a" * 64}),
    ("verify_log", {"next_seq": 5, "previous_hash": 5.0}),
]


@pytest.mark.requirement("SR-172")
@pytest.mark.parametrize(("what", "args"), JUNK, ids=[f"{w}-{a}"[:60] for w, a in JUNK])
def test_junk_arguments_are_refused_with_invalid_query(controller: Controller, what: str,
                                                        args: dict[str, Any]) -> None:
    run_with_ui(controller, 0.2)
    with pytest.raises(QueryRefused) as refused:
        controller.query(what, **args)
    assert refused.value.code == INVALID_QUERY
    assert refused.value.text
    assert controller.query("events_page")["total"] >= 1  # and it goes on answering


@pytest.mark.requirement("SR-172")
def test_without_records_the_queries_say_so() -> None:
    built = build_controller(sim=True, clock=VirtualClock(), notifier=SystemdWatchdog(env={}))
    try:
        for what, args in (("events_page", {}), ("event_detail", {"seq": 1}),
                           ("verify_log", {})):
            with pytest.raises(QueryRefused) as refused:
                built.query(what, **args)
            assert refused.value.code == RECORDS_UNAVAILABLE
    finally:
        built.close()


def test_a_verification_that_continues_from_a_forged_cursor_is_not_intact(
        controller: Controller) -> None:
    run_with_ui(controller, 0.2)
    post_many(controller, 10)
    answer = controller.query("verify_log", next_seq=3, previous_hash="b" * 64)
    assert answer["done"] and not answer["ok"] and answer["first_bad_seq"] in (2, 3)


@pytest.mark.parametrize(("code", "severity", "kind"), [
    ("contact_lost", "high", "fault"), ("current_above_cap", "medium", "refusal"),
    ("state_changed", "info", "decision"), ("records.database_created", "info", "storage"),
    ("storage.queue_full", "high", "storage"), ("calibration.saved", "info", "service"),
    ("shutdown_step_failed.dac", "high", "fault"), ("something_new", "info", "other"),
    ("something_new", "high", "fault")])
def test_every_code_has_a_kind(code: str, severity: str, kind: str) -> None:
    assert kind_of(code, severity) == kind
