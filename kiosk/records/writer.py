"""The records writer thread: the control thread hands events over without ever waiting on a disk.

How a safety event becomes durable without blocking the control loop
--------------------------------------------------------------------
The control thread (10 ms period) and the shutdown path only call :meth:`RecordWriter.post`, which
stamps the event and appends it to an in-memory bounded queue: no disk, no SQLite, no waiting
(a lock held for a few instructions at most), and for routine events not even a thread wake-up
(the writer looks at the queue every ``batch_interval_s``; only a safety event or a full batch
wakes it). The writer thread takes events off the queue in order and commits them:

- a safety event (``LogEvent.is_safety_event``: any ``high`` severity fault, and events marked
  ``durable``: acknowledgements, calibration and limit changes) is committed at once, together
  with every event queued before it, in one ``synchronous=FULL`` transaction (WAL fsynced);
  typically a few milliseconds after the control thread posted it;
- other events are batched: committed when ``batch_max_events`` are waiting or
  ``batch_interval_s`` has passed, with ``synchronous=NORMAL`` (one write, no fsync; survives a
  crash of the program, and the next FULL commit makes them durable too).

The last ``safety_reserve`` places of the queue are kept for safety events, so a flood of routine
events cannot crowd out the fault that explains it. A caller that must know an event is on disk
(the service mode saving a calibration, never the control loop) uses :meth:`post_durable`.

When storage fails
------------------
If the queue is full or a commit fails (full disk, I/O error, read-only), the writer latches a
:class:`~kiosk.records.errors.StorageFault`: ``healthy`` turns False and ``fault`` says why. The
control core reads ``healthy`` and starts no new treatment while it is False (a treatment already
running is kept safe by the control core, not stopped by a logging problem); the UI shows
``fault.text``. The writer keeps the uncommitted events (bounded) and retries every
``retry_interval_s``. Once a commit succeeds again it writes ``records.storage_recovered`` with
the number of events that were lost, and :meth:`acknowledge_fault` (a person, as for any fault)
clears the latch. A dropped event is counted, never silently forgotten.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from kiosk.records import anchor as chain_anchor
from kiosk.records import events as event_log
from kiosk.records.errors import (
    StorageAnchorError,
    StorageError,
    StorageEventsLostError,
    StorageFault,
    StorageReplacedError,
    fault_from,
)
from kiosk.records.events import GENESIS_HASH, LogEvent, StampedEvent, stamp
from kiosk.records.store import RecordStore

_log = logging.getLogger(__name__)

QUEUE_FULL_CODE = "storage.queue_full"
WRITER_STOPPED_CODE = "storage.writer_stopped"
WRITER_CRASHED_CODE = "storage.writer_crashed"


@dataclass(slots=True)
class _Waiter:
    """Completion of a durable post or a flush; ``ok`` is set before ``done``."""

    done: threading.Event = field(default_factory=threading.Event)
    ok: bool = False

    def finish(self, ok: bool) -> None:
        if not self.done.is_set():
            self.ok = ok
            self.done.set()


@dataclass(frozen=True, slots=True)
class _Item:
    event: StampedEvent | None  # None: a flush barrier
    waiter: _Waiter | None = None
    queued_s: float = field(default_factory=time.monotonic)  # batching age, not the log time

    @property
    def needs_durable_commit(self) -> bool:
        return self.waiter is not None or (self.event is not None and self.event.durable)


def _yield_gil() -> None:
    """Let a waiting thread (the control loop) take the GIL now, not after the switch interval."""
    time.sleep(0)


class _BoundedQueue:
    """FIFO with a capacity, part of which only safety events may use; never blocks a producer."""

    def __init__(self, capacity: int, safety_reserve: int) -> None:
        if not 0 <= safety_reserve < capacity:
            raise ValueError("safety_reserve must be below capacity")
        self._items: collections.deque[_Item] = collections.deque()
        self._capacity = capacity
        self._routine_limit = capacity - safety_reserve
        self._cond = threading.Condition(threading.Lock())
        self._woken = False

    def offer(self, item: _Item, safety: bool, wake_at: int) -> bool:
        """Append unless full. The consumer is woken only for a safety item or once
        ``wake_at`` items wait: waking a thread costs the producer a context switch or two,
        which a routine event on the control thread should not pay."""
        with self._cond:
            limit = self._capacity if safety else self._routine_limit
            if len(self._items) >= limit:
                return False
            self._items.append(item)
            if safety or len(self._items) >= wake_at:
                self._cond.notify()
            return True

    def take(self, max_items: int, timeout_s: float) -> list[_Item]:
        """Up to ``max_items``, waiting at most ``timeout_s`` for the first (or a wake-up)."""
        with self._cond:
            if not self._items and not self._woken:
                self._cond.wait(timeout_s)
            self._woken = False
            taken: list[_Item] = []
            while self._items and len(taken) < max_items:
                taken.append(self._items.popleft())
            return taken

    def wake(self) -> None:
        with self._cond:
            self._woken = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


class RecordWriter:
    """Owns the event log's writing connection on a thread of its own. See the module docstring.

    ``on_commit(last_seq)`` is called on the writer thread after every successful commit (tests,
    the service mode's live view); it must be quick and must not raise.
    """

    def __init__(self, path: Path | str, *, queue_capacity: int = 1024, safety_reserve: int = 64,
                 batch_max_events: int = 256, batch_interval_s: float = 0.2,
                 retry_interval_s: float = 1.0, check_interval_s: float = 1.0,
                 anchor_and_checkpoint: bool = True,
                 mono_now_s: Callable[[], float] = time.monotonic,
                 wall_now_s: Callable[[], float] = time.time,
                 on_commit: Callable[[int], None] | None = None) -> None:
        self.path = Path(path)
        self.anchor_path = chain_anchor.anchor_path(self.path)
        # False only for the bench's "before" figures: no checkpoint, no anchor after a
        # durable commit (the behaviour before issue 12; SR-041 needs True)
        self._protect = anchor_and_checkpoint
        self._check_interval_s = check_interval_s
        self._queue = _BoundedQueue(queue_capacity, safety_reserve)
        self._batch_max = batch_max_events
        self._batch_interval_s = batch_interval_s
        self._wake_at = 1 if batch_interval_s <= 0 else batch_max_events
        self._retry_interval_s = retry_interval_s
        self._mono_now_s = mono_now_s
        self._wall_now_s = wall_now_s
        self._on_commit = on_commit
        self._lock = threading.Lock()  # guards the fields below; never held across I/O
        self._fault: StorageFault | None = None
        self._dropped_unreported = 0
        self._dropped_total = 0
        self._storage_working = False
        self._recovery_pending = False
        self._accepting = False
        self._stop_requested = threading.Event()
        self._opened = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_seq = 0
        self._last_hash = GENESIS_HASH
        self._wal_unsynced = False
        self._opened_once = False
        self._identity: chain_anchor.FileIdentity | None = None
        self._next_check_s = 0.0
        self._checkpoint_due = False
        self._anchor_hold = False  # events were lost: the anchor keeps the evidence until ack
        self._anchor_due = False
        self._integrity_notes: list[LogEvent] = []
        self._replaced_problem: StorageReplacedError | None = None
        self.last_checkpoint_s = 0.0  # durations of the last checkpoint and anchor (bench)
        self.last_anchor_s = 0.0

    # --- producer side: any thread, never blocks -------------------------------------------

    def post(self, event: LogEvent) -> bool:
        """Queue ``event`` for writing; never blocks, never raises. False: not accepted.

        False means the queue is full (or the writer is stopped): the event is counted as lost,
        the storage fault is latched and ``healthy`` turns False. True means queued, not yet
        written; safety events are committed durably by the writer right away.
        """
        try:
            stamped = stamp(event, self._mono_now_s(), self._wall_now_s())
        except Exception:  # a broken clock callable must not take the control thread down
            stamped = stamp(event, 0.0, 0.0)
        return self._offer(_Item(stamped), stamped.durable)

    def post_durable(self, event: LogEvent, timeout_s: float = 2.0) -> bool:
        """Queue ``event`` and wait until it is committed with fsync; True only if it is.

        Blocks up to ``timeout_s``: never call it from the control loop. False on timeout or
        storage failure; the event may still be written later (it stays queued for retries).
        """
        stamped = stamp(LogEvent(event.code, event.reason, event.severity, event.details,
                                 event.session_id, True, event.mono_s, event.wall_s),
                        self._mono_now_s(), self._wall_now_s())
        waiter = _Waiter()
        if not self._offer(_Item(stamped, waiter), safety=True):
            return False
        waiter.done.wait(timeout_s)
        return waiter.done.is_set() and waiter.ok

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait until everything posted before this call is committed durably."""
        waiter = _Waiter()
        if not self._offer(_Item(None, waiter), safety=True):
            return False
        waiter.done.wait(timeout_s)
        return waiter.done.is_set() and waiter.ok

    # --- state the control core and the UI poll ---------------------------------------------

    @property
    def healthy(self) -> bool:
        """True while no storage fault is latched and the writer thread runs."""
        thread = self._thread
        with self._lock:
            fault = self._fault
        return fault is None and thread is not None and thread.is_alive() and self._accepting

    @property
    def fault(self) -> StorageFault | None:
        """The latched fault (code + plain text), None when healthy."""
        with self._lock:
            fault = self._fault
        if fault is None and self._thread is not None and not self._thread.is_alive() \
                and self._accepting:
            return StorageFault(WRITER_CRASHED_CODE, "The records writer stopped unexpectedly.")
        return fault

    @property
    def fault_reason(self) -> str | None:
        fault = self.fault
        return None if fault is None else fault.text

    @property
    def storage_working(self) -> bool:
        """The last commit attempt succeeded (the disk is usable right now)."""
        with self._lock:
            return self._storage_working

    @property
    def dropped_events(self) -> int:
        """Events lost because the queue was full, since start."""
        with self._lock:
            return self._dropped_total

    @property
    def last_committed_seq(self) -> int:
        with self._lock:
            return self._last_seq

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def fault_code(self) -> str | None:
        """The latched fault's stable code (``storage.events_lost``, ...), None when healthy."""
        fault = self.fault
        return None if fault is None else fault.code

    def acknowledge_fault(self) -> bool:
        """Clear the latched fault if storage works again (recovery written); else False.

        After lost events (``storage.events_lost``) the acknowledgement is logged and only then
        does the anchor move on to the log as it is now (until then every restart finds the
        loss again).
        """
        with self._lock:
            if self._fault is None:
                return True
            if not self._storage_working or self._recovery_pending:
                return False
            self._integrity_notes.append(LogEvent(
                "records.fault_acknowledged", "A storage fault was acknowledged.", "medium",
                {"fault_code": self._fault.code, "fault": self._fault.text}, durable=True))
            self._fault = None
            if self._anchor_hold:
                self._anchor_hold = False
                self._anchor_due = True
        self._queue.wake()
        return True

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self, timeout_s: float = 10.0) -> bool:
        """Start the thread and wait for the database to open; returns ``healthy``.

        A database that cannot be opened latches the fault (the thread keeps retrying), so the
        kiosk can still start and show the storage fault instead of dying.
        """
        if self._thread is not None:
            raise RuntimeError("RecordWriter.start() called twice")
        self._accepting = True
        self._thread = threading.Thread(target=self._run, name="records-writer", daemon=True)
        self._thread.start()
        self._opened.wait(timeout_s)
        return self.healthy

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Stop accepting, commit what is queued (durably), close. True if all of it was written.

        Events dropped earlier are not counted here: they are in the log as
        ``records.events_dropped`` and in :attr:`dropped_events`.
        """
        self._accepting = False
        self._stop_requested.set()
        self._queue.wake()
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
            if thread.is_alive():
                return False
        return len(self._queue) == 0 and self.storage_working

    # --- writer thread ----------------------------------------------------------------------

    def _offer(self, item: _Item, safety: bool) -> bool:
        if self._accepting and self._queue.offer(item, safety, self._wake_at):
            return True
        with self._lock:
            self._dropped_unreported += 1
            self._dropped_total += 1
            if not self._accepting:
                text = "The records writer is not running; an event was not recorded."
                self._latch(StorageFault(WRITER_STOPPED_CODE, text))
            else:
                self._latch(StorageFault(
                    QUEUE_FULL_CODE,
                    "Records cannot be written fast enough; some events were not recorded."))
        return False

    def _latch(self, fault: StorageFault, recovery: bool = True) -> None:
        """Caller holds ``self._lock``. The first fault stays until acknowledged; every new
        failure means a recovery must be written (and seen) again before acknowledging
        (``recovery=False``: a finding about the records, not a failing disk: nothing to
        recover from, the finding itself is logged)."""
        if recovery:
            self._recovery_pending = True
        if self._fault is None:
            self._fault = fault
            _log.error("records storage fault: %s", fault)

    def _run(self) -> None:
        store: RecordStore | None = None
        pending: list[_Item] = []
        oldest_pending_s = 0.0
        try:
            while True:
                if store is None:
                    store = self._try_open()
                    if store is None:
                        if self._stop_requested.wait(self._retry_interval_s):
                            self._fail_all(pending)
                            return
                        continue
                store = self._check_files(store)
                if store is None:
                    continue
                if self._checkpoint_due:
                    self._retry_checkpoint(store)
                stopping = self._stop_requested.is_set()
                room = self._batch_max - len(pending)
                if room > 0:
                    wait_s = self._wait_time(pending, oldest_pending_s, stopping)
                    pending.extend(self._queue.take(room, wait_s))
                    if pending:
                        oldest_pending_s = pending[0].queued_s
                due = (stopping or len(pending) >= self._batch_max
                       or any(item.needs_durable_commit for item in pending)
                       or (pending and time.monotonic() - oldest_pending_s
                           >= self._batch_interval_s)
                       or self._has_notes_to_write())
                if due and (pending or self._has_notes_to_write()):
                    if self._commit(store, pending):
                        pending = []
                    elif self._replaced_problem is not None:
                        problem, self._replaced_problem = self._replaced_problem, None
                        store = self._replaced(store, problem, side_files_only=True)
                        self._stop_requested.wait(self._retry_interval_s)
                        continue
                    elif self._stop_requested.wait(self._retry_interval_s):
                        if not self._commit(store, pending):
                            self._fail_all(pending)
                            return
                        pending = []
                if stopping and not pending and len(self._queue) == 0:
                    return
        except Exception:
            _log.exception("records writer crashed")
            with self._lock:
                self._storage_working = False
                self._latch(StorageFault(WRITER_CRASHED_CODE,
                                         "The records writer stopped unexpectedly."))
            self._fail_all(pending)
        finally:
            if store is not None:
                with contextlib.suppress(Exception):
                    store.close()
            self._opened.set()

    def _wait_time(self, pending: list[_Item], oldest_pending_s: float, stopping: bool) -> float:
        if stopping:
            return 0.0
        until_check_s = (max(0.0, self._next_check_s - time.monotonic())
                         if self._identity is not None else self._check_interval_s)
        if not pending:
            # idle: routine posts do not wake us, so look again when a batch would be due
            # (or the files are due for their check)
            return min(self._batch_interval_s if self._batch_interval_s > 0 else 1.0,
                       until_check_s)
        return min(until_check_s,
                   max(0.0, self._batch_interval_s - (time.monotonic() - oldest_pending_s)))

    def _try_open(self) -> RecordStore | None:
        """Open (creating only at the very first open), then compare with the chain anchor."""
        try:
            store = RecordStore.open(self.path, create=not self._opened_once)
            head = event_log.head(store.connection)
        except StorageError as exc:
            with self._lock:
                self._storage_working = False
                self._latch(fault_from(exc))
            self._opened.set()
            return None
        except sqlite3.Error as exc:
            with self._lock:
                self._storage_working = False
                self._latch(fault_from(StorageError(str(exc), self.path)))
            self._opened.set()
            return None
        self._opened_once = True
        if self._protect:
            self._compare_with_anchor(store)
        with self._lock:
            self._storage_working = True
            self._last_seq, self._last_hash = head
        self._identity = chain_anchor.FileIdentity.of(self.path)
        self._next_check_s = time.monotonic() + self._check_interval_s
        self._opened.set()
        return store

    def _compare_with_anchor(self, store: RecordStore) -> None:
        """SR-058: fewer events than the anchor says (or another event at its place) latches
        ``storage.events_lost``; the records are kept as found and writing goes on."""
        try:
            anchored = chain_anchor.read(self.anchor_path)
            if anchored is None:
                if _anchor_was_created(store):
                    raise StorageAnchorError(
                        f"The chain anchor {self.anchor_path} is missing, although the log says"
                        " it was written: events may have been removed. Call service.",
                        self.anchor_path)
                # anchor the head as it is (made durable by the checkpoint) before the log
                # says an anchor exists: a kill in between leaves an anchor, never a claim
                try:
                    store.connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    seq, hash_ = event_log.head(store.connection)
                    chain_anchor.write(self.anchor_path, chain_anchor.Anchor(seq, hash_))
                except (StorageError, sqlite3.Error) as exc:  # a failing disk, not a loss
                    error = exc if isinstance(exc, StorageError) else StorageError(
                        str(exc), self.anchor_path)
                    with self._lock:
                        self._latch(fault_from(error))
                    return
                with self._lock:
                    self._integrity_notes.append(LogEvent(
                        "records.anchor_created", "The event chain is anchored outside the"
                        " database from now on.", "info",
                        {"anchor": str(self.anchor_path)}, durable=True))
                return
            chain_anchor.check(store.connection, anchored, self.path)
        except StorageError as exc:
            head_seq, _ = event_log.head(store.connection)
            with self._lock:
                self._storage_working = True
                self._latch(fault_from(exc), recovery=False)
                self._anchor_hold = True
                self._integrity_notes.append(LogEvent(
                    "records.events_lost", str(exc), "high",
                    {"fault_code": exc.code, "found_seq": head_seq,
                     "anchor_seq": None if not isinstance(exc, StorageEventsLostError)
                     else _anchor_seq(self.anchor_path)}, durable=True))

    def _check_files(self, store: RecordStore) -> RecordStore | None:
        """SR-060: every ``check_interval_s``, are the files still ours, and does a fresh
        connection read back the last committed event? A problem latches
        ``storage.file_replaced``; the store is reopened (never created)."""
        if self._identity is None or time.monotonic() < self._next_check_s:
            return store
        self._next_check_s = time.monotonic() + self._check_interval_s
        moved = self._identity.problem(self.path)
        problem = moved or self._read_back()
        if problem is None:
            return store
        return self._replaced(store, problem, side_files_only=moved is not None)

    def _read_back(self) -> StorageError | None:
        with self._lock:
            seq, expected = self._last_seq, self._last_hash
        if seq == 0:
            return None
        uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=1.0, isolation_level=None)
            try:
                row = conn.execute("SELECT hash FROM events WHERE seq = ?", (seq,)).fetchone()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            return StorageReplacedError(
                f"The records database {self.path} cannot be read back ({exc}); records may"
                " not be reaching the disk. Call service.", self.path)
        if row is None or str(row[0]) != expected:
            return StorageReplacedError(
                f"The records database {self.path} does not hold event {seq}, which was"
                " committed: records are not reaching the disk. Call service.", self.path)
        return None

    def _replaced(self, store: RecordStore, problem: StorageError,
                  side_files_only: bool) -> RecordStore | None:
        """Latch the fault; rescue what the old connection still holds if only the -wal/-shm
        files went (the main file is the one opened: checkpoint the old WAL into it), close,
        reopen without creating. A main file changed in place is never written over."""
        rescued = False
        if side_files_only and _main_file_unchanged(self._identity, self.path):
            try:
                store.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                rescued = True
            except sqlite3.Error:
                rescued = False
        with contextlib.suppress(Exception):
            store.close()
        with self._lock:
            self._storage_working = False
            self._latch(fault_from(problem))
            self._integrity_notes.append(LogEvent(
                "records.file_replaced", str(problem), "high",
                {"fault_code": problem.code, "rescued_by_checkpoint": rescued,
                 "last_committed_seq": self._last_seq}, durable=True))
        self._identity = None
        return None  # the loop reopens (create=False) after the retry interval

    def _has_notes_to_write(self) -> bool:
        with self._lock:
            return self._dropped_unreported > 0 or bool(self._integrity_notes) or \
                self._anchor_due or (self._recovery_pending and self._fault is not None)

    def _commit(self, store: RecordStore, pending: list[_Item]) -> bool:
        events = [item.event for item in pending if item.event is not None]
        with self._lock:
            dropped = self._dropped_unreported
            recovering = self._recovery_pending and self._fault is not None
            fault = self._fault
            integrity = list(self._integrity_notes)
        notes = self._notes(dropped, recovering, fault, integrity)
        durable = bool(notes) or any(item.needs_durable_commit for item in pending)
        try:
            if events or notes:
                last_seq = store.append_events(events + notes, durable=durable,
                                               pause=_yield_gil)
                self._wal_unsynced = not durable
            else:
                last_seq = self.last_committed_seq
                if durable and self._wal_unsynced:
                    self._fsync_wal()
                    self._wal_unsynced = False
            head = event_log.head(store.connection)
            if durable and self._protect:
                self._checkpoint_and_anchor(store, head)
        except (StorageError, OSError, sqlite3.Error) as exc:
            error = exc if isinstance(exc, StorageError) else StorageError(str(exc), self.path)
            if isinstance(error, StorageReplacedError):
                self._replaced_problem = error
            with self._lock:
                self._storage_working = False
                self._latch(fault_from(error))
            for item in pending:
                if item.waiter is not None:
                    item.waiter.finish(False)
            return False
        with self._lock:
            self._storage_working = True
            self._dropped_unreported -= dropped
            del self._integrity_notes[:len(integrity)]
            if recovering:
                self._recovery_pending = False
            self._last_seq, self._last_hash = head if head[0] >= last_seq else (last_seq,
                                                                                 head[1])
        for item in pending:
            if item.waiter is not None:
                item.waiter.finish(True)
        if self._on_commit is not None and (events or notes):
            try:
                self._on_commit(last_seq)
            except Exception:
                _log.exception("records on_commit callback failed")
        return True

    def _checkpoint_and_anchor(self, store: RecordStore, head: tuple[int, str]) -> None:
        """SR-058: after a durable commit, copy the WAL into the main file (PASSIVE: never
        waits for a reader; what a reader still holds is copied at the next one), then record
        the head outside the database (anchor file, journal)."""
        started = time.perf_counter()
        conn = store.connection
        busy, log_frames, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self._checkpoint_due = bool(busy) or (log_frames >= 0 and done < log_frames)
        anchored_at = time.perf_counter()
        self.last_checkpoint_s = anchored_at - started
        with self._lock:
            hold = self._anchor_hold
            if not hold:
                self._anchor_due = False
        if not hold:
            anchored = chain_anchor.Anchor(head[0], head[1])
            chain_anchor.write(self.anchor_path, anchored)
            chain_anchor.to_journal(anchored, self.path)
        self.last_anchor_s = time.perf_counter() - anchored_at

    def _retry_checkpoint(self, store: RecordStore) -> None:
        """A reader held part of the WAL at the last checkpoint: copy the rest now."""
        try:
            busy, log_frames, done = store.connection.execute(
                "PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error:
            return  # the next commit or check reports a failing disk
        self._checkpoint_due = bool(busy) or (log_frames >= 0 and done < log_frames)

    def _notes(self, dropped: int, recovering: bool, fault: StorageFault | None,
               integrity: list[LogEvent] | None = None) -> list[StampedEvent]:
        """The writer's own events: findings about the files, lost events, storage working
        again."""
        notes: list[LogEvent] = list(integrity or [])
        if dropped:
            notes.append(LogEvent(
                "records.events_dropped", f"{dropped} events could not be recorded.",
                "medium", {"dropped": dropped}, durable=True))
        if recovering and fault is not None:
            notes.append(LogEvent(
                "records.storage_recovered", "Records can be written again.", "medium",
                {"fault_code": fault.code, "fault": fault.text}, durable=True))
        mono_s, wall_s = self._mono_now_s(), self._wall_now_s()
        return [stamp(note, mono_s, wall_s) for note in notes]

    def _fsync_wal(self) -> None:
        """Make earlier NORMAL commits durable when a flush finds nothing new to commit."""
        wal = Path(f"{self.path}-wal")
        try:
            fd = os.open(wal, os.O_RDONLY)
        except FileNotFoundError:
            return  # checkpointed and truncated: already in the synced main file
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _fail_all(self, pending: list[_Item]) -> None:
        for item in pending:
            if item.waiter is not None:
                item.waiter.finish(False)
        for item in self._queue.take(1 << 30, 0.0):
            if item.waiter is not None:
                item.waiter.finish(False)


def _anchor_was_created(store: RecordStore) -> bool:
    """The log says an anchor file was written before (so its absence is a finding)."""
    row = store.connection.execute(
        "SELECT 1 FROM events WHERE code = 'records.anchor_created' OR (code ="
        " 'records.database_created' AND details LIKE '%\"anchor\":%') LIMIT 1").fetchone()
    return row is not None


def _anchor_seq(path: Path) -> int | None:
    try:
        found = chain_anchor.read(path)
    except StorageError:
        return None
    return None if found is None else found.seq


def _main_file_unchanged(identity: chain_anchor.FileIdentity | None, db_path: Path) -> bool:
    """The main database file is still the one opened (only side files changed)."""
    if identity is None:
        return False
    for name, dev, ino in identity.files:
        if name == db_path.name:
            try:
                stat = os.stat(db_path)
            except OSError:
                return False
            return (stat.st_dev, stat.st_ino) == (dev, ino)
    return False
