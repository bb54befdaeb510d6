"""SR-180, the records half: the day's dose with the control layer's figures as a source.

When the UI keeps records of its own, the control core's ``dose_progress`` events are not in
them; ``SessionBook`` is given a progress source (on the device: the daemon's
``session_progress`` query, tests/ipc/test_dose_across_processes.py). Here the source is
``ControlLayer``, a stand-in for the daemon with its figures per control session id and the ways
it can fail, so that the summing, the "cannot say" rule and the healing of interrupted records
are attacked at every corner quickly. The thing under test, the book, is real, on a real store.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kiosk.control.catalogue import load_catalogue
from kiosk.records.clients import ClientRegistry
from kiosk.records.sessions import (
    Progress,
    ProgressUnavailable,
    SessionBook,
    SessionStatus,
    progress_from_answer,
)
from kiosk.records.store import RecordStore
from kiosk.screens.flow import TreatmentFlow
from kiosk.screens.records_view import RecordsView
from tests.records.test_day_budget import (
    AREAS_CM2,
    DAY,
    IONTOPHORESIS,
    NECK,
    Clock,
    local_s,
    progress,
    session,
)

WALL_S = local_s(DAY, 10, 30)


class ControlLayer:
    """The daemon as the book sees it: figures by control session id, or a way to fail."""

    def __init__(self) -> None:
        self.doses: dict[str, float] = {}
        self.failure: BaseException | None = None
        self.reply: Callable[[str], Any] | None = None  # answer this instead (junk)
        self.asked: list[str] = []

    def __call__(self, control_id: str) -> Any:
        self.asked.append(control_id)
        if self.failure is not None:
            raise self.failure
        if self.reply is not None:
            return self.reply(control_id)
        dose = self.doses.get(control_id)
        if dose is None:
            return None
        return Progress(seq=len(self.asked), wall_us=round(WALL_S * 1e6), dose_ma_min=dose,
                        elapsed_s=300.0, peak_ma=0.61)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def control() -> ControlLayer:
    return ControlLayer()


@pytest.fixture
def book(store: RecordStore, clock: Clock, control: ControlLayer) -> SessionBook:
    return SessionBook(store, wall_now_s=clock, progress_source=control)


@pytest.fixture
def client(store: RecordStore) -> str:
    return ClientRegistry(store).create_client("Anna K").client_id


def today(book: SessionBook, client_id: str, area: str = "face",
          **kwargs: Any) -> float | None:
    got = book.delivered_today(client_id, area, DAY, electrode_area_cm2=AREAS_CM2, **kwargs)
    return None if got is None else got.dose_ma_min


def interrupted(book: SessionBook, client_id: str, control_id: str) -> str:
    """A session left open by a UI that died, marked interrupted as the next start does."""
    session_id = session(book, client_id, IONTOPHORESIS, None, control_id=control_id)
    book.mark_interrupted()
    return session_id


def recorded_dose(book: SessionBook, session_id: str) -> float | None:
    summary = book.get_session(session_id).summary
    assert summary is not None
    return summary.dose_ma_min


@pytest.mark.requirement("SR-180")
@pytest.mark.requirement("SR-059")
def test_an_interrupted_session_counts_the_control_layers_figure_and_keeps_it(
        book: SessionBook, client: str, control: ControlLayer) -> None:
    cut = interrupted(book, client, "ctl-cut")
    assert recorded_dose(book, cut) is None  # the UI's own records know nothing
    control.doses["ctl-cut"] = 4.25
    assert today(book, client) == 4.25
    record = book.get_session(cut)
    assert record.status is SessionStatus.INTERRUPTED and record.summary is not None
    assert record.summary.dose_ma_min == 4.25
    assert record.summary.dose_recorded_wall_s == pytest.approx(WALL_S)
    assert record.summary.current_stage_s == 300.0 and record.summary.peak_current_ma == 0.61
    control.failure = ProgressUnavailable("gone")  # the next count needs no daemon
    assert today(book, client) == 4.25


@pytest.mark.requirement("SR-180")
def test_the_largest_of_recorded_own_progress_and_control_figure_counts(
        store: RecordStore, book: SessionBook, client: str, control: ControlLayer) -> None:
    session(book, client, IONTOPHORESIS, 1.0, control_id="ctl-1")
    progress(store, "ctl-1", 1.5)
    control.doses["ctl-1"] = 2.5
    assert today(book, client) == 2.5
    control.doses["ctl-1"] = 0.5  # a lower control figure lowers nothing
    assert today(book, client) == 1.5
    control.doses["ctl-1"] = 0.0
    assert today(book, client) == 1.5


@pytest.mark.requirement("SR-180")
@pytest.mark.parametrize("failure", [
    ProgressUnavailable("control_unit_not_answering: no answer in 0.5 s"),
    TimeoutError("timed out"), RuntimeError("a bug in the source"), KeyError("progress"),
], ids=["unavailable", "timeout", "bug", "keyerror"])
def test_when_the_control_layer_cannot_say_for_a_session_without_a_dose_the_records_cannot_say(
        book: SessionBook, client: str, control: ControlLayer,
        failure: BaseException) -> None:
    session(book, client, IONTOPHORESIS, 2.0, control_id="ctl-closed")
    control.failure = failure
    assert today(book, client) == 2.0  # a recorded dose stands
    interrupted(book, client, "ctl-cut")
    assert today(book, client) is None  # one session only the control layer knows: cannot say
    assert today(book, client, "neck") == 0.0  # other areas are not concerned


@pytest.mark.requirement("SR-180")
def test_a_session_whose_progress_is_in_this_store_needs_no_answer(
        store: RecordStore, book: SessionBook, client: str, control: ControlLayer) -> None:
    """UI and daemon on one database (./run-sim gives both the same folder): the store's own
    progress event is the control core's figure; a daemon that cannot say changes nothing."""
    session(book, client, IONTOPHORESIS, None, control_id="ctl-shared")
    progress(store, "ctl-shared", 3.0)
    book.mark_interrupted()
    control.failure = ProgressUnavailable("gone")
    assert today(book, client) == 3.0


@pytest.mark.requirement("SR-180")
def test_a_control_layer_that_fails_is_asked_once_per_count_not_once_per_session(
        book: SessionBook, client: str, control: ControlLayer) -> None:
    for i in range(5):
        session(book, client, IONTOPHORESIS, None, control_id=f"ctl-{i}")
    book.mark_interrupted()
    control.failure = ProgressUnavailable("no answer in 0.5 s")
    control.asked.clear()
    assert today(book, client) is None
    assert control.asked == ["ctl-0"]  # one timeout, not five
    control.failure = None
    control.doses.update({f"ctl-{i}": 0.5 * (i + 1) for i in range(5)})
    control.asked.clear()
    assert today(book, client) == pytest.approx(7.5)
    assert control.asked == [f"ctl-{i}" for i in range(5)]


def _answer(**figure: Any) -> Callable[[str], Any]:
    base: dict[str, Any] = {"dose_ma_min": 9.0, "elapsed_s": 300.0, "peak_ma": 0.6,
                            "wall_s": WALL_S, "seq": 7}
    base.update(figure)
    return lambda control_id: progress_from_answer(
        {"session_id": control_id, "progress": base}, control_id)


def _raw(data: Any) -> Callable[[str], Any]:
    return lambda control_id: progress_from_answer(data, control_id)


JUNK: dict[str, Callable[[str], Any]] = {
    "dose-nan": _answer(dose_ma_min=math.nan), "dose-inf": _answer(dose_ma_min=math.inf),
    "dose-negative": _answer(dose_ma_min=-0.5), "dose-huge": _answer(dose_ma_min=1e9),
    "dose-just-over": _answer(dose_ma_min=1000.001), "dose-text": _answer(dose_ma_min="9.0"),
    "dose-bool": _answer(dose_ma_min=True), "dose-null": _answer(dose_ma_min=None),
    "dose-list": _answer(dose_ma_min=[9.0]),
    "wall-nan": _answer(wall_s=math.nan), "wall-negative": _answer(wall_s=-1.0),
    "wall-text": _answer(wall_s="today"), "wall-far-future": _answer(wall_s=1e12),
    "seq-zero": _answer(seq=0), "seq-bool": _answer(seq=True), "seq-float": _answer(seq=7.0),
    "other-session": lambda cid: progress_from_answer(
        {"session_id": cid + "x", "progress": None}, cid),
    "no-session": lambda cid: progress_from_answer({"progress": None}, cid),
    "no-progress-key": lambda cid: progress_from_answer({"session_id": cid}, cid),
    "progress-text": lambda cid: progress_from_answer({"session_id": cid, "progress": "9"},
                                                      cid),
    "answer-none": _raw(None), "answer-text": _raw("9.0"), "answer-list": _raw([9.0]),
    "source-float": lambda cid: 9.0, "source-dict": lambda cid: {"dose_ma_min": 9.0},
    "progress-nan": lambda cid: Progress(1, round(WALL_S * 1e6), math.nan, None, None),
    "progress-negative": lambda cid: Progress(1, round(WALL_S * 1e6), -3.0, None, None),
    "progress-wall-float": lambda cid: Progress(1, WALL_S, 3.0, None, None),  # type: ignore[arg-type]
    "progress-peak-nan": lambda cid: Progress(1, round(WALL_S * 1e6), 3.0, None, math.nan),
}


@pytest.mark.requirement("SR-180")
@pytest.mark.parametrize("junk", list(JUNK), ids=list(JUNK))
def test_junk_from_the_control_layer_never_lowers_the_figure(
        store: RecordStore, book: SessionBook, client: str, control: ControlLayer,
        junk: str) -> None:
    session(book, client, IONTOPHORESIS, 2.0, control_id="ctl-closed")
    with_progress = session(book, client, IONTOPHORESIS, None, control_id="ctl-logged")
    progress(store, "ctl-logged", 1.5)
    book.mark_interrupted()
    control.doses.update({"ctl-closed": 0.0, "ctl-logged": 0.0})
    assert today(book, client) == 3.5
    control.reply = JUNK[junk]
    assert today(book, client) == 3.5  # junk is not believed: what the records had stands
    assert recorded_dose(book, with_progress) == 1.5  # and not written
    cut = interrupted(book, client, "ctl-cut")
    assert today(book, client) is None  # for a session only the control layer knows: cannot say
    assert recorded_dose(book, cut) is None


@pytest.mark.requirement("SR-180")
def test_the_control_figure_never_lowers_a_record_and_never_rewrites_a_closed_one(
        book: SessionBook, client: str, control: ControlLayer) -> None:
    closed = session(book, client, IONTOPHORESIS, 3.0, control_id="ctl-closed")
    control.doses["ctl-closed"] = 5.0
    assert today(book, client) == 5.0  # counted with the larger figure ...
    assert recorded_dose(book, closed) == 3.0  # ... but a closed record is final
    cut = interrupted(book, client, "ctl-cut")
    control.doses["ctl-cut"] = 4.0
    assert today(book, client) == 9.0
    control.doses["ctl-cut"] = 2.0  # a later, lower answer (another daemon's records?)
    assert today(book, client) == 9.0
    assert recorded_dose(book, cut) == 4.0
    control.doses["ctl-cut"] = 4.5
    assert today(book, client) == 9.5
    assert recorded_dose(book, cut) == 4.5  # raised


@pytest.mark.requirement("SR-180")
@pytest.mark.requirement("SR-059")
def test_a_session_the_control_layer_has_no_progress_of_counts_nothing_and_stays_unknown(
        book: SessionBook, client: str, control: ControlLayer) -> None:
    cut = interrupted(book, client, "ctl-never-ran")
    assert today(book, client) == 0.0
    assert recorded_dose(book, cut) is None  # unknown, never zero
    assert book.heal_interrupted() == 0


@pytest.mark.requirement("SR-180")
def test_the_start_up_heal_takes_the_newest_first_and_stops_at_the_first_failure(
        book: SessionBook, client: str, control: ControlLayer, clock: Clock) -> None:
    ids = []
    for hour in (9, 10, 11):
        clock.now_s = local_s(DAY, hour)
        ids.append(session(book, client, IONTOPHORESIS, None, control_id=f"ctl-{hour}"))
    book.mark_interrupted()
    control.doses.update({"ctl-9": 1.0, "ctl-10": 2.0, "ctl-11": 3.0})
    answers = iter([3.0])

    def newest_then_gone(control_id: str) -> Progress:
        dose = next(answers, None)
        if dose is None:
            raise ProgressUnavailable("gone")
        return Progress(1, round(WALL_S * 1e6), dose, None, None)

    control.reply = newest_then_gone
    assert book.heal_interrupted() == 1
    assert control.asked == ["ctl-11", "ctl-10"]
    assert [recorded_dose(book, sid) for sid in ids] == [None, None, 3.0]
    control.reply = None
    control.asked.clear()
    assert book.heal_interrupted(limit=1) == 1  # the newest without a dose now is ctl-10
    assert control.asked == ["ctl-10"]
    assert book.heal_interrupted() == 1
    assert [recorded_dose(book, sid) for sid in ids] == [1.0, 2.0, 3.0]
    assert book.heal_interrupted() == 0  # nothing left to ask about


@pytest.mark.requirement("SR-180")
def test_each_client_is_asked_about_only_their_own_sessions_and_not_the_callers_own(
        store: RecordStore, book: SessionBook, client: str, control: ControlLayer) -> None:
    other = ClientRegistry(store).create_client("Bella M").client_id
    interrupted(book, client, "ctl-anna")
    session(book, other, IONTOPHORESIS, None, control_id="ctl-bella")
    session(book, client, NECK, None, control_id="ctl-anna-neck")
    own = session(book, client, IONTOPHORESIS, None, control_id="ctl-anna-now")
    control.doses.update({"ctl-anna": 2.0, "ctl-bella": 7.0, "ctl-anna-neck": 5.0,
                          "ctl-anna-now": 11.0})
    control.asked.clear()
    assert today(book, client, exclude_session_id=own) == 2.0
    assert control.asked == ["ctl-anna"]
    control.asked.clear()
    assert today(book, other) == 7.0
    assert control.asked == ["ctl-bella"]


def test_a_valid_answer_becomes_the_progress_it_names() -> None:
    got = progress_from_answer({"session_id": "ctl-1", "progress": {
        "dose_ma_min": 2.5, "elapsed_s": 120.5, "peak_ma": 0.62, "wall_s": WALL_S,
        "seq": 42}}, "ctl-1")
    assert got == Progress(42, round(WALL_S * 1e6), 2.5, 120.5, 0.62)
    assert progress_from_answer({"session_id": "ctl-1", "progress": None}, "ctl-1") is None
    # optional figures that are junk are left unknown; the dose still counts
    got = progress_from_answer({"session_id": "ctl-1", "progress": {
        "dose_ma_min": 1000, "elapsed_s": -1, "peak_ma": "x", "wall_s": 0, "seq": 1}}, "ctl-1")
    assert got == Progress(1, 0, 1000.0, None, None)


@pytest.mark.requirement("SR-180")
def test_the_records_view_says_cannot_say_and_stays_healthy_when_the_control_layer_is_gone(
        db_path: Path, store: RecordStore, clock: Clock, client: str) -> None:
    book = SessionBook(store, wall_now_s=clock)
    session(book, client, IONTOPHORESIS, None, control_id="ctl-cut")
    store.close()
    gone = ControlLayer()
    gone.failure = ProgressUnavailable("control_unit_not_answering")
    view = RecordsView.open(db_path, progress_source=gone)
    assert isinstance(view, RecordsView)
    try:
        assert view.interrupted_at_start == 1 and gone.asked == ["ctl-cut"]  # the start heal
        flow = TreatmentFlow(client_id=client, area="face")
        assert view.delivered_today(flow, load_catalogue(), DAY) is None
        assert view.healthy and view.problem is None and view.fault_reason is None
        gone.failure = None
        gone.doses["ctl-cut"] = 1.5
        assert view.delivered_today(flow, load_catalogue(), DAY) == (1.5, pytest.approx(0.1))
        assert view.healthy
    finally:
        view.close_store()
