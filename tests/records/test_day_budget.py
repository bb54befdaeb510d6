"""Issue 11 item 1 (records half): what a client already had on an area today (SR-053).

``SessionBook.delivered_today`` sums the dose and charge density of every session of that client
on that area on that local calendar day (closed, interrupted from their last durable
``dose_progress``, open ones except the caller's own), the same after a restart; the control
core subtracts it from the day's caps.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from kiosk.records.clients import ClientRegistry
from kiosk.records.events import LogEvent, stamp
from kiosk.records.sessions import ProgramChoice, SessionBook, SessionSummary
from kiosk.records.store import RecordStore
from tests.records.helpers import raw_connection

DAY = datetime.date(2026, 12, 5)
AREAS_CM2 = {"face_roller": 5.0, "pad_15": 15.0, "eye_ball": 1.5}
DISINCRUSTATION = ProgramChoice("face", "disincrustation", "face.disincrustation", "1",
                                "disincrustation gel", "negative", "face_roller", 0.8)
IONTOPHORESIS = ProgramChoice("face", "pigmentation", "face.pigmentation", "1", "vitamin C",
                              "negative", "pad_15", 0.6)
NECK = ProgramChoice("neck", "ageing", "neck.ageing", "1", "hyaluronic acid", "negative",
                     "pad_15", 0.5)


def local_s(day: datetime.date, hour: int, minute: int = 0, second: int = 0) -> float:
    return datetime.datetime(day.year, day.month, day.day, hour, minute,
                             second).astimezone().timestamp()


class Clock:
    def __init__(self) -> None:
        self.now_s = local_s(DAY, 10)

    def __call__(self) -> float:
        return self.now_s


def session(book: SessionBook, client_id: str, program: ProgramChoice,
            dose: float | None, control_id: str | None = None) -> str:
    """One session of ``program``; closed with ``dose`` unless None (left open)."""
    session_id = book.start_session(client_id, "Eva", control_session_id=control_id)
    book.record_screening(session_id, {"pacemaker": False})
    book.record_program(session_id, program)
    if dose is not None:
        book.close_session(session_id, SessionSummary("completed", dose_ma_min=dose))
    return session_id


def progress(store: RecordStore, control_id: str, dose: float) -> None:
    event = LogEvent("dose_progress", "Dose so far.",
                     details={"session_id": control_id, "dose_ma_min": dose})
    store.append_events([stamp(event, 1.0, 1.79e9)], durable=True)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def book(store: RecordStore, clock: Clock) -> SessionBook:
    return SessionBook(store, wall_now_s=clock)


@pytest.fixture
def client(store: RecordStore) -> str:
    return ClientRegistry(store).create_client("Anna K").client_id


def today(book: SessionBook, client_id: str, area: str = "face", **kwargs: object) -> tuple:
    got = book.delivered_today(client_id, area, DAY, electrode_area_cm2=AREAS_CM2,
                               **kwargs)  # type: ignore[arg-type]
    return got.dose_ma_min, got.charge_density_ma_min_per_cm2, got.sessions


@pytest.mark.requirement("SR-053")
def test_two_programs_of_the_same_client_and_area_today_are_summed(
        book: SessionBook, client: str) -> None:
    session(book, client, DISINCRUSTATION, 3.0)
    session(book, client, IONTOPHORESIS, 6.0)
    dose, density, count = today(book, client)
    assert count == 2 and dose == pytest.approx(9.0)
    assert density == pytest.approx(3.0 / 5.0 + 6.0 / 15.0)  # each over its own electrode


@pytest.mark.requirement("SR-053")
def test_another_area_another_client_and_other_days_do_not_count(
        store: RecordStore, book: SessionBook, client: str, clock: Clock) -> None:
    other = ClientRegistry(store).create_client("Bella M").client_id
    clock.now_s = local_s(DAY - datetime.timedelta(days=1), 23, 59, 59)  # last second before
    session(book, client, IONTOPHORESIS, 5.0)
    clock.now_s = local_s(DAY + datetime.timedelta(days=1), 0)  # first second after
    session(book, client, IONTOPHORESIS, 7.0)
    clock.now_s = local_s(DAY, 11)
    session(book, client, NECK, 4.0)
    session(book, other, IONTOPHORESIS, 8.0)
    assert today(book, client) == (0.0, 0.0, 0)
    clock.now_s = local_s(DAY, 0)  # the day's first second counts
    session(book, client, IONTOPHORESIS, 1.5)
    assert today(book, client) == (1.5, pytest.approx(0.1), 1)
    assert today(book, client, "neck")[0] == 4.0
    assert today(book, other)[0] == 8.0


@pytest.mark.requirement("SR-053")
def test_an_interrupted_session_counts_from_its_last_durable_progress(
        store: RecordStore, book: SessionBook, client: str) -> None:
    session(book, client, DISINCRUSTATION, 2.0)
    cut = session(book, client, IONTOPHORESIS, None, control_id="ctl-cut")
    progress(store, "ctl-cut", 1.25)
    progress(store, "ctl-cut", 3.5)
    assert book.mark_interrupted() == 1
    dose, density, count = today(book, client)
    assert count == 2 and dose == pytest.approx(5.5)
    assert density == pytest.approx(2.0 / 5.0 + 3.5 / 15.0)
    # the caller's own session is left out (the control core counts that one itself)
    assert today(book, client, exclude_session_id=cut)[0] == pytest.approx(2.0)


@pytest.mark.requirement("SR-053")
def test_an_open_session_of_another_flow_counts_and_one_without_progress_adds_nothing(
        store: RecordStore, book: SessionBook, client: str) -> None:
    session(book, client, IONTOPHORESIS, None, control_id="ctl-open")
    progress(store, "ctl-open", 2.25)
    session(book, client, IONTOPHORESIS, None, control_id="ctl-never")  # no current ran
    assert today(book, client)[:2] == (2.25, pytest.approx(0.15))


@pytest.mark.requirement("SR-053")
def test_the_larger_of_the_recorded_dose_and_the_last_progress_counts(
        store: RecordStore, book: SessionBook, client: str) -> None:
    session(book, client, IONTOPHORESIS, 1.0, control_id="ctl-low")
    progress(store, "ctl-low", 1.75)  # the summary lost something: the core's log wins
    session(book, client, IONTOPHORESIS, 2.0, control_id="ctl-high")
    progress(store, "ctl-high", 1.5)
    assert today(book, client)[0] == pytest.approx(3.75)


@pytest.mark.requirement("SR-053")
def test_a_junk_recorded_dose_blocks_the_day_rather_than_freeing_it(
        db_path: Path, store: RecordStore, book: SessionBook, client: str) -> None:
    damaged = session(book, client, IONTOPHORESIS, 1.0)
    with raw_connection(db_path) as conn:
        conn.execute("UPDATE sessions SET dose_ma_min = -5 WHERE session_id = ?", (damaged,))
        conn.commit()
    assert today(book, client)[0] >= 1000.0


@pytest.mark.requirement("SR-053")
def test_an_electrode_not_in_the_catalogue_counts_with_the_smallest_area(
        book: SessionBook, client: str) -> None:
    session(book, client, ProgramChoice("face", "pigmentation", "face.pigmentation", "0",
                                        "vitamin C", "negative", "retired_pad", 0.6), 0.3)
    assert today(book, client)[1] == pytest.approx(0.3 / 1.5)


@pytest.mark.requirement("SR-053")
def test_the_figure_is_the_same_after_a_restart(db_path: Path, store: RecordStore,
                                                book: SessionBook, client: str,
                                                clock: Clock) -> None:
    session(book, client, DISINCRUSTATION, 2.0)
    session(book, client, IONTOPHORESIS, None, control_id="ctl-crash")
    progress(store, "ctl-crash", 4.0)
    before = today(book, client)
    store.close()
    with RecordStore.open(db_path) as reopened:  # the next start
        again = SessionBook(reopened, wall_now_s=clock)
        assert again.mark_interrupted() == 1
        assert today(again, client) == before
        assert before[0] == pytest.approx(6.0)


@pytest.mark.requirement("SR-053")
def test_bad_questions_are_refused(book: SessionBook, client: str) -> None:
    with pytest.raises(ValueError, match="area"):
        book.delivered_today(client, "knee", DAY, electrode_area_cm2=AREAS_CM2)
    with pytest.raises(ValueError, match="electrode_area_cm2"):
        book.delivered_today(client, "face", DAY, electrode_area_cm2={"pad": 0.0})
