"""The command intake: what ``submit()`` puts in (any thread, never blocking) and what each
control cycle takes out. Bounded: a flood is coalesced or refused, never stored.

Why: a plain FIFO let 100 000 heartbeats submitted before a STOP delay it by 16.6 s (64
commands a cycle) and grew memory without bound (SR-022, SR-070, SR-071).

- Every object is checked first (``validate``, by default
  :func:`kiosk.control.validation.validate_command`: a well-formed command, or an
  ``invalid_command`` refusal). Junk never reaches the queue or the core's arithmetic.
- ``Heartbeat`` coalesces into one flag: any number of them between two cycles is one.
- The priority lane holds ``Stop``, ``Pause`` and ``Acknowledge`` (the commands that lower the
  current or answer a fault). They are never refused for lack of room: equal commands coalesce
  (at the position of the newest copy, which is never less safe: a later STOP still comes after
  whatever was submitted before it), so the lane holds at most the three Stop reasons, one Pause
  and :data:`ACK_CAPACITY` distinct acknowledgements.
- The normal lane holds at most :data:`NORMAL_LANE_CAPACITY` commands; more are refused with
  ``command_queue_full`` until the next cycle takes them.
- Each cycle takes BOTH lanes whole, priority lane first, and hands the commands to the core in
  the order they were submitted. So nothing waits longer than one cycle, a STOP never waits
  behind a backlog, and the core still sees "start, then stop" as exactly that.

Refusals are counted per code; the loop takes the counts at most once a second and logs one row
per code with the number refused (:meth:`take_refusals`).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.control.codes import Reason
from kiosk.control.commands import Acknowledge, Command, Heartbeat, Pause, Stop
from kiosk.control.reasons import Code, make
from kiosk.control.validation import validate_command

NORMAL_LANE_CAPACITY = 16
"""Commands other than the priority ones and heartbeats, between two cycles (10 ms). A person
taps a few times a second; the screen sends one heartbeat per poll. The core handles a full lane
in well under a millisecond (bench/bench_control_loop.py --flood)."""
ACK_CAPACITY = 4
"""Distinct acknowledgements waiting at once (there is one latched fault to acknowledge)."""
PRIORITY_TYPES: tuple[type, ...] = (Stop, Pause, Acknowledge)
"""Never refused for lack of room, never behind other commands."""

Validate = Callable[[object], "Command | Reason"]


@dataclass(frozen=True, slots=True)
class RefusalCount:
    """The refusals of one code since the last :meth:`CommandIntake.take_refusals`."""

    first: Reason
    count: int


class CommandIntake:
    """See the module docstring. ``submit`` from any thread; ``take`` from the control thread."""

    def __init__(self, validate: Validate | None = None, *,
                 normal_capacity: int = NORMAL_LANE_CAPACITY,
                 ack_capacity: int = ACK_CAPACITY) -> None:
        if normal_capacity < 1 or ack_capacity < 1:
            raise ValueError("capacities must be >= 1")
        self._validate = validate if validate is not None else validate_command
        self.normal_capacity = normal_capacity
        self.ack_capacity = ack_capacity
        self._lock = threading.Lock()  # O(1) work under it; never held across a call out
        self._seq = 0
        self._priority: dict[Command, int] = {}  # command -> sequence of its newest copy
        self._acks = 0
        self._normal: deque[tuple[int, Command]] = deque()
        self._heartbeat = False
        self._refusals: dict[str, RefusalCount] = {}
        self._last_refusal: Reason | None = None
        self.accepted = 0
        self.coalesced = 0
        self.refused = 0

    # ------------------------------------------------------------------ any thread

    def submit(self, obj: object) -> Reason | None:
        """None when ``obj`` was accepted (it reaches the core at the next cycle), else the
        refusal. Never blocks for long (a lock around a few list operations), never raises."""
        try:
            checked = self._validate(obj)
        except Exception as error:  # a validator that fails refuses: any doubt is junk
            checked = make(Code.INVALID_COMMAND, command=type(obj).__name__[:40],
                           field="(object)", problem=f"cannot be checked ({type(error).__name__})")
        if isinstance(checked, Reason):
            with self._lock:
                self._refuse(checked)
            return checked
        with self._lock:
            return self._admit(checked)

    def _admit(self, command: Command) -> Reason | None:
        if type(command) is Heartbeat:
            if self._heartbeat:
                self.coalesced += 1
            self._heartbeat = True
            self.accepted += 1
            return None
        if type(command) in PRIORITY_TYPES:
            try:
                known = command in self._priority
            except TypeError:  # unhashable fields slipped past the validator
                reason = make(Code.INVALID_COMMAND, command=type(command).__name__,
                              field="(object)", problem="cannot be compared")
                self._refuse(reason)
                return reason
            if known:
                del self._priority[command]  # coalesced at the newest copy's place
                self.coalesced += 1
            elif type(command) is Acknowledge:
                if self._acks >= self.ack_capacity:
                    return self._full()
                self._acks += 1
            self._seq += 1
            self._priority[command] = self._seq
            self.accepted += 1
            return None
        if len(self._normal) >= self.normal_capacity:
            return self._full()
        self._seq += 1
        self._normal.append((self._seq, command))
        self.accepted += 1
        return None

    def _full(self) -> Reason:
        reason = make(Code.COMMAND_QUEUE_FULL, capacity=self.normal_capacity)
        self._refuse(reason)
        return reason

    def _refuse(self, reason: Reason) -> None:
        self.refused += 1
        self._last_refusal = reason
        seen = self._refusals.get(reason.code)
        if seen is None:
            if len(self._refusals) >= 64:  # codes are a closed set; keep it bounded anyway
                return
            self._refusals[reason.code] = RefusalCount(reason, 1)
        else:
            self._refusals[reason.code] = RefusalCount(seen.first, seen.count + 1)

    # ------------------------------------------------------------------ the control thread

    def take(self) -> list[Command]:
        """Everything admitted since the last call, in submission order (a coalesced
        heartbeat first); both lanes are left empty."""
        with self._lock:
            priority, self._priority, self._acks = self._priority, {}, 0
            normal, self._normal = self._normal, deque()
            heartbeat, self._heartbeat = self._heartbeat, False
        entries = [(seq, command) for command, seq in priority.items()]
        entries.extend(normal)
        entries.sort(key=_sequence)
        commands: list[Command] = [Heartbeat()] if heartbeat else []
        commands.extend(command for _, command in entries)
        return commands

    def take_last_refusal(self) -> Reason | None:
        """The newest refusal since the last call (for the snapshot's ``last_refusal``: the
        screen does not see submit()'s answer), or None."""
        with self._lock:
            taken, self._last_refusal = self._last_refusal, None
        return taken

    def take_refusals(self) -> dict[str, RefusalCount]:
        """The refusals counted since the last call, by code."""
        with self._lock:
            taken, self._refusals = self._refusals, {}
        return taken

    @property
    def waiting(self) -> int:
        """Commands held now (a pending heartbeat counts as one): never more than
        ``normal_capacity + 4 + ack_capacity + 1``."""
        with self._lock:
            return len(self._normal) + len(self._priority) + int(self._heartbeat)


def _sequence(entry: tuple[int, Command]) -> int:
    return entry[0]
