"""Session records (domain.md section 7), written in the order the workflow allows."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from kiosk.records.clients import ClientRegistry
from kiosk.records.errors import RecordNotFoundError, SessionStateError
from kiosk.records.sessions import (
    INTERRUPTED_STOP_REASON,
    ProgramChoice,
    ScreeningResult,
    Sensation,
    SessionBook,
    SessionStatus,
    SessionSummary,
)
from kiosk.records.store import RecordStore

PROGRAM = ProgramChoice("eye_area", "puffiness", "eye_area.puffiness", "3", "anti-oedema gel (+)",
                        "positive", "eye.ball", 0.15)


@pytest.fixture
def book(store: RecordStore) -> SessionBook:
    clock = iter(float(t) for t in range(1_790_000_000, 1_790_001_000, 10))
    return SessionBook(store, wall_now_s=lambda: next(clock))


@pytest.fixture
def client_id(store: RecordStore) -> str:
    return ClientRegistry(store).create_client("Anna").client_id


def test_a_full_session_is_recorded_with_every_field_of_the_domain_spec(
        book: SessionBook, client_id: str) -> None:
    session_id = book.start_session(client_id, "Eva")
    assert book.record_screening(session_id, {"pacemaker": False, "epilepsy": False}) \
        is ScreeningResult.CLEAR
    book.record_program(session_id, PROGRAM)
    book.add_operator_change(session_id, "current_ma", 0.15, 0.10)
    book.add_sensation(session_id, Sensation.TINGLING)
    record = book.close_session(session_id, SessionSummary(
        stop_reason="completed", mean_current_ma=0.11, peak_current_ma=0.15, dose_ma_min=0.55,
        current_stage_s=300.0, faults=("contact_lost",),
        ramp_events=({"t_s": 0.0, "event": "ramp_up"}, {"t_s": 30.0, "event": "hold"})))
    assert record.client_id == client_id and record.operator == "Eva"
    assert record.status is SessionStatus.CLOSED
    assert (record.started_wall_s, record.ended_wall_s) == (1_790_000_000.0, 1_790_000_030.0)
    assert record.screening_answers == {"epilepsy": False, "pacemaker": False}
    assert record.program == PROGRAM
    assert record.summary == SessionSummary(
        "completed", 0.11, 0.15, 0.55, 300.0, ("contact_lost",),
        ({"t_s": 0.0, "event": "ramp_up"}, {"t_s": 30.0, "event": "hold"}))
    assert [(c.what, c.old_value, c.new_value) for c in record.operator_changes] == [
        ("current_ma", 0.15, 0.10)]
    assert [s.sensation for s in record.sensations] == [Sensation.TINGLING]


@pytest.mark.requirement("SR-046")
def test_any_yes_blocks_the_program_and_the_answers_stay_recorded(
        book: SessionBook, client_id: str) -> None:
    session_id = book.start_session(client_id, "Eva")
    assert book.record_screening(session_id, {"pacemaker": False, "pregnancy": True}) \
        is ScreeningResult.BLOCKED
    with pytest.raises(SessionStateError, match="every answer 'no'"):
        book.record_program(session_id, PROGRAM)
    record = book.close_session(session_id, SessionSummary("screening_blocked"))
    assert record.screening_answers == {"pacemaker": False, "pregnancy": True}
    assert record.program is None
    assert record.summary is not None and record.summary.stop_reason == "screening_blocked"


def test_a_program_needs_a_screening_first(book: SessionBook, client_id: str) -> None:
    session_id = book.start_session(client_id, "Eva")
    with pytest.raises(SessionStateError):
        book.record_program(session_id, PROGRAM)


def test_screening_can_be_corrected_until_the_program_is_chosen(
        book: SessionBook, client_id: str) -> None:
    session_id = book.start_session(client_id, "Eva")
    book.record_screening(session_id, {"pacemaker": True})  # mis-tap
    assert book.record_screening(session_id, {"pacemaker": False}) is ScreeningResult.CLEAR
    book.record_program(session_id, PROGRAM)
    with pytest.raises(SessionStateError, match="cannot change"):
        book.record_screening(session_id, {"pacemaker": True})
    assert book.get_session(session_id).screening_answers == {"pacemaker": False}


def test_a_closed_session_is_final(book: SessionBook, client_id: str) -> None:
    session_id = book.start_session(client_id, "Eva")
    book.close_session(session_id, SessionSummary("operator"))
    with pytest.raises(SessionStateError, match="closed"):
        book.add_sensation(session_id, "warm")
    with pytest.raises(SessionStateError):
        book.close_session(session_id, SessionSummary("again"))


@pytest.mark.requirement("SR-040")
def test_a_session_cut_by_power_loss_is_marked_interrupted_at_the_next_start(
        db_path: Path) -> None:
    with RecordStore.open(db_path) as store:
        client = ClientRegistry(store).create_client()
        book = SessionBook(store)
        open_id = book.start_session(client.client_id, "Eva")
        book.record_screening(open_id, {"pacemaker": False})
        closed_id = book.start_session(client.client_id, "Eva")
        book.close_session(closed_id, SessionSummary("completed"))
    # power comes back
    with RecordStore.open(db_path) as store:
        book = SessionBook(store)
        assert book.mark_interrupted() == 1
        interrupted = book.get_session(open_id)
        assert interrupted.status is SessionStatus.INTERRUPTED
        assert interrupted.summary is not None
        assert interrupted.summary.stop_reason == INTERRUPTED_STOP_REASON
        assert interrupted.screening_answers == {"pacemaker": False}
        assert book.get_session(closed_id).status is SessionStatus.CLOSED
        assert book.mark_interrupted() == 0


def test_last_sessions_are_newest_first_and_limited(book: SessionBook, client_id: str,
                                                    store: RecordStore) -> None:
    other = ClientRegistry(store).create_client().client_id
    ids = [book.start_session(client_id, "Eva") for _ in range(4)]
    book.start_session(other, "Eva")
    assert [s.session_id for s in book.last_sessions(client_id, limit=3)] == ids[::-1][:3]


def test_unmeasured_values_are_stored_as_unknown_not_as_numbers(
        book: SessionBook, client_id: str) -> None:
    session_id = book.start_session(client_id, "Eva")
    record = book.close_session(session_id, SessionSummary(
        "fault.sensor", mean_current_ma=math.nan, peak_current_ma=math.inf, dose_ma_min=0.2))
    assert record.summary is not None
    assert (record.summary.mean_current_ma, record.summary.peak_current_ma,
            record.summary.dose_ma_min) == (None, None, 0.2)


def test_sessions_need_an_existing_client_and_an_operator(book: SessionBook,
                                                          client_id: str) -> None:
    with pytest.raises(RecordNotFoundError):
        book.start_session("ZZZZ-ZZZZ", "Eva")
    with pytest.raises(ValueError, match="operator"):
        book.start_session(client_id, "  ")
    with pytest.raises(RecordNotFoundError):
        book.add_sensation("no-such-session", "warm")


@pytest.mark.parametrize(("field", "value"), [
    ("area", "forehead"), ("indication", "acne"), ("polarity", "plus"),
    ("target_current_ma", 2.6), ("target_current_ma", math.nan), ("program_id", " ")])
def test_a_program_outside_the_known_names_and_range_is_refused(field: str,
                                                                value: object) -> None:
    fields = {name: getattr(PROGRAM, name) for name in PROGRAM.__dataclass_fields__}
    fields[field] = value
    with pytest.raises(ValueError):
        ProgramChoice(**fields)
