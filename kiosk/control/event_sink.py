"""Where the control loop's events go: the records writer, through a per-code rate limit.

Every cycle's events (the core's decisions, refusals and faults, the shutdown steps that failed,
the commands the intake refused) become :class:`LogEvent` rows through ``make_event`` (by default
:func:`_log_event`) and are posted to the records writer, which never blocks. A flood of commands
can make the core refuse or decide something every cycle (a hundred times a second), and a full
writer queue is itself a storage fault; so the rows that are not durable are rate-limited per
code: a burst of :data:`LOG_BURST`, then :data:`LOG_RATE_PER_S` a second, and the next row of a
code that got through says how many of that code were left out before it
(``suppressed_before``). Safety rows (``LogEvent.is_safety_event``: faults, high severity, and
whatever ``make_event`` marks durable) are never held back. The cycle records the observers see
are complete either way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Protocol

from kiosk.control.codes import Reason
from kiosk.control.reasons import SETTINGS_CHANGE_CODES, Code, Kind, spec_of
from kiosk.control.shutdown import StepFailure
from kiosk.control.snapshot import Snapshot
from kiosk.records.events import LogEvent

_log = logging.getLogger(__name__)

LOG_BURST = 20
"""Rows of one code that may follow one another at once."""
LOG_RATE_PER_S = 5.0
"""Then at most this many rows of that code a second (control clock)."""

MakeEvent = Callable[[Reason, Snapshot], LogEvent]


class EventSink(Protocol):
    """Where the cycle's events go (``kiosk.records.RecordWriter``); ``post`` never blocks."""

    def post(self, event: LogEvent) -> bool: ...


def storage_healthy(records: object) -> bool:
    """The records writer's ``healthy`` (SR-042: no new treatment while storage fails). A sink
    without the attribute (a test double, no records at all) counts as healthy; an attribute
    that cannot be read counts as a failed storage (any doubt refuses a new treatment)."""
    if records is None:
        return True
    try:
        return bool(getattr(records, "healthy", True))
    except Exception:
        return False


def shutdown_failure_reasons(failures: Iterable[StepFailure]) -> tuple[Reason, ...]:
    """One event per shutdown step that raised (the other steps still ran)."""
    severity = spec_of(Code.I2C_ERROR).severity
    return tuple(Reason(f"shutdown_step_failed.{f.step}", f"Shutdown step {f.step} failed "
                        f"({f.source}): {f.error}", severity) for f in failures)


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at_s: float
    suppressed: int = 0


class LogRateLimit:
    """A token bucket per code on the control clock (see the module docstring)."""

    def __init__(self, burst: int = LOG_BURST, rate_per_s: float = LOG_RATE_PER_S) -> None:
        if burst < 1 or rate_per_s <= 0:
            raise ValueError("need burst >= 1 and rate_per_s > 0")
        self.burst = burst
        self.rate_per_s = rate_per_s
        self._buckets: dict[str, _Bucket] = {}
        self.suppressed_total = 0

    def admit(self, code: str, now_s: float) -> int | None:
        """None: leave this row out. Else the number of rows of ``code`` left out before it."""
        bucket = self._buckets.get(code)
        if bucket is None:
            if len(self._buckets) >= 4096:  # codes are a closed set; junk must not grow this
                self._buckets.clear()
            bucket = self._buckets[code] = _Bucket(float(self.burst), now_s)
        elapsed_s = max(0.0, now_s - bucket.at_s)
        bucket.tokens = min(float(self.burst), bucket.tokens + elapsed_s * self.rate_per_s)
        bucket.at_s = now_s
        if bucket.tokens < 1.0:
            bucket.suppressed += 1
            self.suppressed_total += 1
            return None
        bucket.tokens -= 1.0
        suppressed, bucket.suppressed = bucket.suppressed, 0
        return suppressed


class EventPoster:
    """Posts the cycle's events to the records (never raises into the loop)."""

    def __init__(self, records: EventSink | None, make_event: MakeEvent | None = None,
                 limit: LogRateLimit | None = None) -> None:
        self.records = records
        self._make_event = make_event if make_event is not None else _log_event
        self.limit = limit if limit is not None else LogRateLimit()

    def post(self, events: Iterable[Reason], snapshot: Snapshot) -> None:
        if self.records is None:
            return
        for reason in events:
            try:
                event = self._make_event(reason, snapshot)
                if not event.is_safety_event:
                    suppressed = self.limit.admit(event.code, snapshot.time_s)
                    if suppressed is None:
                        continue
                    if suppressed:
                        event = replace(event, details={**event.details,
                                                        "suppressed_before": suppressed})
                self.records.post(event)
            except Exception:  # the log must never take the control loop down
                _log.exception("posting a control event failed")


def _log_event(reason: Reason, snapshot: Snapshot) -> LogEvent:
    try:
        kind = spec_of(reason.code).kind
    except (KeyError, ValueError):
        kind = Kind.FAULT if reason.severity == "high" else Kind.DECISION
    details: dict[str, object] = dict(reason.details)
    details["control_time_s"] = round(snapshot.time_s, 6)
    details["state"] = str(snapshot.state)
    # Issue 12 item 5: the dose progress (and the session's end) must survive a crash; they
    # name their own session (the snapshot's is already gone after EndSession).
    named = reason.detail("session_id")
    session_id = named if isinstance(named, str) else snapshot.session_id
    durable = kind is Kind.FAULT or reason.code in (Code.DOSE_PROGRESS, Code.SESSION_ENDED,
                                                    *SETTINGS_CHANGE_CODES)
    return LogEvent(code=reason.code, reason=reason.text, severity=str(reason.severity),
                    details=details, session_id=session_id, durable=durable)
