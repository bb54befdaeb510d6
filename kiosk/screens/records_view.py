"""The kiosk's view of the records (``kiosk.records``): clients, session records, the event log.

Why an adapter: the screens speak in flow terms (the treatment being walked through); the
records speak in rows. This turns one into the other, and it turns a storage failure into a
state the home screen shows ("service needed: records cannot be saved") instead of an exception
in the middle of a treatment: the session goes on safely (the control layer keeps its own limits)
but no new treatment starts until service has looked at it.

Runs on the UI thread with the UI's own :class:`~kiosk.records.store.RecordStore` (SQLite's
one-connection-per-thread rule); each call is one short transaction.

When the UI is a client of the control daemon, the dose the control layer logged for a session
(``dose_progress``) is in the daemon's records, not necessarily in these: :class:`ControlProgress`
asks the daemon for it (the ``session_progress`` query), so the day's dose budget and an
interrupted session's dose do not depend on where the records live (SR-180).
"""

from __future__ import annotations

import contextlib
import datetime
from dataclasses import dataclass
from typing import Any

from kiosk.control.query_types import QueryRefused
from kiosk.records import (
    ChainReport,
    ClientRecord,
    ClientRegistry,
    EventRow,
    ProgramChoice,
    RecordStore,
    SessionBook,
    SessionRecord,
    SessionSummary,
    StorageError,
)
from kiosk.records.clients import CourseNote
from kiosk.records.consents import ConsentBook, ConsentRecord, Signature
from kiosk.records.course import Course, Plan, courses
from kiosk.records.errors import RecordNotFoundError, SessionStateError
from kiosk.records.events import last_events
from kiosk.records.sessions import (
    Progress,
    ProgressSource,
    ProgressUnavailable,
    progress_from_answer,
)
from kiosk.screens.flow import TreatmentFlow

PROGRESS_QUERY = "session_progress"
PROGRESS_QUERY_TIMEOUT_S = 0.5
"""At most this long for one session's figure (the UI thread waits; one timeout per count)."""


class ControlProgress:
    """The control layer's last durable dose of a control session, asked by its service query
    ``session_progress`` (:mod:`kiosk.control.progress_queries`): a progress source for
    :class:`~kiosk.records.sessions.SessionBook`. A refusal, no link or no answer within
    ``timeout_s`` (None: the controller's own wait, the in-process one has none) and an answer
    that is junk all raise :class:`ProgressUnavailable`: the records then "cannot say"."""

    def __init__(self, controller: Any,
                 timeout_s: float | None = PROGRESS_QUERY_TIMEOUT_S) -> None:
        self.controller = controller
        self.timeout_s = timeout_s

    def __call__(self, control_session_id: str) -> Progress | None:
        wait: dict[str, Any] = {} if self.timeout_s is None else {"timeout_s": self.timeout_s}
        try:
            answer = self.controller.query(PROGRESS_QUERY, session_id=control_session_id,
                                           **wait)
        except QueryRefused as refusal:
            raise ProgressUnavailable(f"{refusal.code}: {refusal.text}") from refusal
        return progress_from_answer(answer, control_session_id)


@dataclass(frozen=True)
class StorageProblem:
    text: str


class RecordsView:
    """Clients, sessions and the event log as the screens use them; never raises StorageError."""

    def __init__(self, store: RecordStore, *, writer: Any = None,
                 operator: str = "salon", progress_source: ProgressSource | None = None) -> None:
        """``progress_source``: the control layer's dose figures when its progress events are
        not in ``store`` (the UI as a client: :class:`ControlProgress`). Sessions left open are
        marked interrupted, and those without a dose get the source's figure at once (the UI
        opens its records once the link is up, ``kiosk/ui_remote.py``); later, when
        :meth:`delivered_today` counts them."""
        self.store = store
        self.writer = writer  # the control side's RecordWriter (its health counts too)
        self.operator = operator
        self.clients = ClientRegistry(store)
        self.sessions = SessionBook(store, progress_source=progress_source)
        self.consents = ConsentBook(store)
        self.problem: StorageProblem | None = None
        self.interrupted_at_start = self._guard(self.sessions.mark_interrupted) or 0
        self.heal_interrupted()

    @classmethod
    def open(cls, path: Any, *, writer: Any = None, operator: str = "salon",
             progress_source: ProgressSource | None = None) -> RecordsView:
        """Open the records at ``path``; a storage error gives a view that says so (the home
        screen shows "service needed" and no treatment starts) instead of a crash at boot."""
        try:
            store = RecordStore.open(path)
        except StorageError as error:
            return _UnavailableRecords(str(error))  # type: ignore[return-value]
        return cls(store, writer=writer, operator=operator, progress_source=progress_source)

    def heal_interrupted(self) -> int:
        """Interrupted sessions without a dose get the control layer's figure (SR-180)."""
        return self._guard(self.sessions.heal_interrupted) or 0

    def close_store(self) -> None:
        self.store.close()

    # -- health ---------------------------------------------------------------------------------
    @property
    def healthy(self) -> bool:
        writer_ok = self.writer is None or bool(self.writer.healthy)
        return self.problem is None and writer_ok

    @property
    def fault_reason(self) -> str | None:
        if self.problem is not None:
            return self.problem.text
        if self.writer is not None and not self.writer.healthy:
            return str(self.writer.fault_reason)
        return None

    def _guard(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except StorageError as error:
            self.problem = StorageProblem(str(error))
            return None

    # -- clients --------------------------------------------------------------------------------
    def new_client(self, display_name: str | None) -> ClientRecord | None:
        return self._guard(self.clients.create_client, display_name)

    def find_clients(self, text: str, limit: int = 6) -> list[ClientRecord]:
        return self._guard(self.clients.find_clients, text, limit) or []

    def get_client(self, client_id: str) -> ClientRecord | None:
        try:
            return self._guard(self.clients.get_client, client_id)
        except RecordNotFoundError:
            return None

    def last_sessions(self, client_id: str, limit: int = 3) -> list[SessionRecord]:
        return self._guard(self.sessions.last_sessions, client_id, limit) or []

    def client_sessions(self, client_id: str, limit: int, offset: int = 0
                        ) -> list[SessionRecord]:
        """One page of the client's whole history, newest first."""
        return self._guard(self.sessions.client_sessions, client_id, limit, offset) or []

    def count_sessions(self, client_id: str) -> int:
        return self._guard(self.sessions.count_sessions, client_id) or 0

    def courses(self, client_id: str, catalogue: Any,
                today: datetime.date | None = None) -> list[Course]:
        """The client's course per program, with the catalogue's plans (issue 11 item 5)."""
        records = self._guard(self.sessions.client_sessions, client_id, 1000) or []
        plans = {program.id: Plan(program.course.sessions_min, program.course.sessions_max,
                                  program.course.interval_days)
                 for program in catalogue.programs if program.course is not None}
        return courses(records, plans, today or datetime.date.today())

    def notes(self, client_id: str) -> list[CourseNote]:
        return self._guard(self.clients.notes, client_id) or []

    def add_note(self, client_id: str, text: str) -> CourseNote | None:
        try:
            return self._guard(self.clients.add_note, client_id, text, self.operator)
        except (ValueError, RecordNotFoundError):
            return None

    # -- consent (issue 11 item 6) -----------------------------------------------------------
    def consent_in_force(self, client_id: str, consent_version: str) -> ConsentRecord | None:
        return self._guard(self.consents.consent_in_force, client_id, consent_version)

    def latest_consent(self, client_id: str) -> ConsentRecord | None:
        return self._guard(self.consents.latest, client_id)

    def give_consent(self, client_id: str, catalogue: Any, language: str,
                     signature: Signature) -> ConsentRecord | None:
        """Store the client's signed consent to the catalogue's consent in ``language``."""
        consent = catalogue.consent
        try:
            return self._guard(
                self.consents.record_consent, client_id,
                consent_version=catalogue.consent_version,
                catalogue_version=str(catalogue.version), language=language,
                text=consent.text(language).full_text, signature=signature,
                operator=self.operator)
        except (ValueError, RecordNotFoundError):
            return None

    # -- the session of a flow ----------------------------------------------------------------
    def begin(self, flow: TreatmentFlow) -> None:
        """Open the session record for the flow's client (once), naming its consent."""
        if flow.record_session is None and flow.client_id is not None:
            flow.record_session = self._guard(self.sessions.start_session, flow.client_id,
                                              self.operator, flow.session_id)
            if flow.record_session is not None and flow.consent_version:
                self._guard(self.sessions.set_consent, str(flow.record_session),
                            flow.consent_version)

    def store_screening(self, flow: TreatmentFlow, catalogue: Any) -> None:
        if flow.record_session is None:
            return
        answers = {item.id: flow.screening_answers.get(item.id, False)
                   for item in catalogue.screening_items
                   if item.id in flow.screening_answers}
        # once the program is recorded, the screening stands as stored
        with contextlib.suppress(SessionStateError):
            self._guard(self.sessions.record_screening, str(flow.record_session), answers)

    def store_program(self, flow: TreatmentFlow, info: Any) -> None:
        if flow.record_session is None:
            return
        resolved = info.resolved
        choice = ProgramChoice(
            area=resolved.area, indication=resolved.indication, program_id=resolved.program_id,
            program_version=str(getattr(info, "catalogue_version", "")) or "catalogue",
            active=flow.active_name or info.phase.actives[0].name,
            polarity=resolved.polarity.value, electrode_id=resolved.electrode_id,
            target_current_ma=resolved.target_ma)
        self._guard(self.sessions.record_program, str(flow.record_session), choice)

    def add_sensation(self, flow: TreatmentFlow, sensation: str) -> None:
        if flow.record_session is not None:
            self._guard(self.sessions.add_sensation, str(flow.record_session), sensation)

    def add_operator_change(self, flow: TreatmentFlow, what: str, old: float | None,
                            new: float | None) -> None:
        if flow.record_session is not None:
            self._guard(self.sessions.add_operator_change, str(flow.record_session), what,
                        old, new)

    def delivered_today(self, flow: TreatmentFlow, catalogue: Any,
                        day: datetime.date | None = None) -> tuple[float, float] | None:
        """SR-053: (dose mA·min, charge density mA·min/cm²) this flow's client already had on
        its area today, the flow's own session left out; None when the records cannot say (a
        storage fault, or a session whose dose only the control layer knows while it does not
        answer: SR-180; the latter is not a storage fault)."""
        if flow.client_id is None or flow.area is None:
            return None
        areas = {electrode.id: electrode.contact_area_cm2 for electrode in catalogue.electrodes}
        own = None if flow.record_session is None else str(flow.record_session)
        try:
            found = self._guard(self.sessions.delivered_today, flow.client_id, flow.area,
                                day or datetime.date.today(), electrode_area_cm2=areas,
                                exclude_session_id=own)
        except (RecordNotFoundError, ValueError):
            return None
        if found is None:
            return None
        return found.dose_ma_min, found.charge_density_ma_min_per_cm2

    def close_blocked(self, flow: TreatmentFlow) -> None:
        """A screening "yes": the session ends without a current stage."""
        if flow.record_session is not None and not flow.saved:
            self._guard(self.sessions.close_session, str(flow.record_session),
                        SessionSummary(stop_reason="screening_blocked"))
            flow.saved = True

    def close(self, flow: TreatmentFlow, *, stop_reason: str) -> SessionRecord | None:
        """Close the session with the summary of what the UI saw of the current stage."""
        if flow.record_session is None or flow.saved:
            return None
        stats = flow.stats
        faults = tuple(e.code.split(":", 1)[1] for e in flow.events
                       if e.code.startswith("fault:"))
        ramp_events = tuple({"t_s": round(e.time_s, 3), "event": e.code,
                             **({"detail": e.detail} if e.detail else {})}
                            for e in flow.events)
        summary = SessionSummary(
            stop_reason=stop_reason, mean_current_ma=stats.mean_ma if stats.flowing_s else None,
            peak_current_ma=stats.peak_ma if flow.current_started else None,
            dose_ma_min=stats.dose_ma_min if flow.current_started else None,
            current_stage_s=stats.elapsed_s if flow.current_started else None,
            faults=faults, ramp_events=ramp_events)
        record = self._guard(self.sessions.close_session, str(flow.record_session), summary)
        if record is not None:
            flow.saved = True
        return record

    # -- service --------------------------------------------------------------------------------
    def last_events(self, count: int = 8) -> list[EventRow]:
        return self._guard(last_events, self.store.connection, count) or []

    def verify_chain(self) -> ChainReport | None:
        return self._guard(self.store.verify_chain)


class _UnavailableRecords:
    """The records could not be opened: every question is answered "nothing", health is False."""

    def __init__(self, reason: str) -> None:
        self.problem = StorageProblem(reason)
        self.healthy = False
        self.fault_reason = reason
        self.interrupted_at_start = 0

    def __getattr__(self, name: str) -> Any:
        if name in ("find_clients", "last_sessions", "last_events", "client_sessions",
                    "courses", "notes"):
            return lambda *args, **kwargs: []
        if name == "count_sessions":
            return lambda *args, **kwargs: 0
        return lambda *args, **kwargs: None
