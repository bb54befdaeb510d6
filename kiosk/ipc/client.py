"""Clients of the control socket: :class:`ControlClient` (one connection, synchronous: the status
tool and tests) and :class:`RemoteController` (the UI's controller: the same ``submit`` and
``snapshot`` as the in-process one, a reader thread, reconnection by itself, snapshot age).

Imports only the protocol and the shared command/snapshot types (never ``kiosk.hal`` or the
control loop): a UI process has no way to the hardware but this socket.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from kiosk.control.commands import Command, Heartbeat
from kiosk.control.query_types import QueryRefused
from kiosk.control.snapshot import Snapshot, TreatmentState
from kiosk.ipc import protocol as p

_log = logging.getLogger(__name__)

STALE_AFTER_S = 0.5
"""A snapshot older than this (ten pushes at 20 Hz) is not live: the screen says the control unit
is not answering and shows no figure as current."""
RECONNECT_PERIOD_S = 0.25
QUERY_TIMEOUT_S = 2.0
NOT_ANSWERING = "control_unit_not_answering"
STOP_GRACE_S = 3.0  # Stop(SHUTDOWN) brings the current to zero within 2 s (domain.md 6)


@dataclasses.dataclass
class _PendingQuery:
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    data: dict[str, Any] = dataclasses.field(default_factory=dict)
    refusal: QueryRefused | None = None


class ConnectionClosed(ConnectionError):
    """The daemon closed the connection (``code``/``text`` from its ``bye`` or ``refused``)."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text


class ControlClient:
    """One connection: hello, then requests answered in order; snapshots kept as they come."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, role: p.Role = "monitor",
                 name: str = "client", timeout_s: float = 2.0,
                 schema: str = p.SCHEMA_ID, version: int = p.PROTOCOL_VERSION) -> None:
        self.path = p.socket_path(path)
        self.timeout_s = timeout_s
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(timeout_s)
        self._seq = itertools.count(1)
        self.snapshot: Snapshot | None = None
        self.snapshot_received_s: float | None = None  # this process's monotonic clock
        self.snapshot_sent_s: float | None = None  # the daemon's
        self.welcome: p.Welcome | None = None
        self.replies: dict[int, p.Reply] = {}
        self.answers: dict[int, p.Answer] = {}
        try:
            self.sock.connect(self.path)
            # refused before our hello (peer credentials): the send fails, the reason is queued
            with contextlib.suppress(OSError):
                self.send_message(p.Hello(version=version, schema=schema, role=role,
                                          name=name))
            message = self.receive(timeout_s)
        except BaseException:
            self.sock.close()
            raise
        if not isinstance(message, p.Welcome):
            self.sock.close()
            raise ConnectionClosed(p.MALFORMED, f"expected welcome, got {message!r}")
        self.welcome = message

    # ------------------------------------------------------------------ sending

    def send_raw(self, data: bytes) -> None:
        self.sock.send(data)

    def send_message(self, message: p.ClientMessage) -> None:
        self.sock.send(p.encode(message))

    def next_seq(self) -> int:
        return next(self._seq)

    def submit_nowait(self, command: Command) -> int:
        seq = self.next_seq()
        self.send_message(p.submit_message(seq, command))
        return seq

    def submit(self, command: Command) -> p.Reply:
        """Send the command and wait for the daemon's reply (accepted, or the refusal code)."""
        return self.wait_reply(self.submit_nowait(command))

    def query(self, what: str, **args: p.Param) -> dict[str, Any]:
        seq = self.next_seq()
        self.send_message(p.Query(seq=seq, what=what, args=dict(args)))
        deadline_s = time.monotonic() + self.timeout_s
        while seq not in self.answers:
            if seq in self.replies:
                reply = self.replies.pop(seq)
                raise ValueError(f"query {what!r} refused: {reply.code}: {reply.text}")
            self.receive(max(0.0, deadline_s - time.monotonic()), raise_on_timeout=True)
        return self.answers.pop(seq).data

    def inject(self, name: str, **params: p.Param) -> p.Reply:
        seq = self.next_seq()
        self.send_message(p.Inject(seq=seq, name=name, params=dict(params)))
        return self.wait_reply(seq)

    def clear(self, name: str) -> p.Reply:
        seq = self.next_seq()
        self.send_message(p.Clear(seq=seq, name=name))
        return self.wait_reply(seq)

    def wait_reply(self, seq: int) -> p.Reply:
        deadline_s = time.monotonic() + self.timeout_s
        while seq not in self.replies:
            self.receive(max(0.0, deadline_s - time.monotonic()), raise_on_timeout=True)
        return self.replies.pop(seq)

    # ------------------------------------------------------------------ receiving

    def receive(self, timeout_s: float | None = None, *,
                raise_on_timeout: bool = False) -> p.DaemonMessage | None:
        """The next message (None after ``timeout_s`` unless ``raise_on_timeout``); raises
        :class:`ConnectionClosed` when the daemon closes or refuses."""
        self.sock.settimeout(self.timeout_s if timeout_s is None else max(timeout_s, 1e-4))
        try:
            data = self.sock.recv(p.MAX_DAEMON_MESSAGE_BYTES + 1)
        except TimeoutError:
            if raise_on_timeout:
                raise
            return None
        except OSError as error:
            raise ConnectionClosed("connection_error", str(error)) from error
        if not data:
            raise ConnectionClosed("closed", "the daemon closed the connection")
        message = p.decode_daemon(data)
        if isinstance(message, p.SnapshotPush):
            self.snapshot = message.snapshot
            self.snapshot_sent_s = message.sent_s
            self.snapshot_received_s = time.monotonic()
        elif isinstance(message, p.Reply):
            self.replies[message.seq] = message
        elif isinstance(message, p.Answer):
            self.answers[message.seq] = message
        elif isinstance(message, p.Refused | p.Bye):
            raise ConnectionClosed(message.code, message.text)
        return message

    def wait_snapshot(self, predicate: Callable[[Snapshot], bool],
                      timeout_s: float) -> Snapshot:
        """Read pushes until one satisfies ``predicate`` (TimeoutError after ``timeout_s``)."""
        deadline_s = time.monotonic() + timeout_s
        while True:
            if self.snapshot is not None and predicate(self.snapshot):
                return self.snapshot
            left_s = deadline_s - time.monotonic()
            if left_s <= 0:
                raise TimeoutError(f"no snapshot as wanted within {timeout_s} s; last: "
                                   f"{self.snapshot and self.snapshot.state}")
            self.receive(left_s)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def offline_snapshot() -> Snapshot:
    """What the UI holds before the first snapshot arrives: nothing flows, nothing is known.
    The screen never shows it as live (:attr:`RemoteController.live` is False)."""
    return Snapshot(
        cycle=-1, time_s=0.0, state=TreatmentState.IDLE, session_id=None, program_id=None,
        polarity=None, target_ma=0.0, setpoint_ma=0.0, measured_ma=0.0, electrode_v=0.0,
        boost_v=0.0, load_kohm=None, contact_ok=False, current_cap_ma=0.0, dose_ma_min=0.0,
        dose_cap_ma_min=0.0, elapsed_s=0.0, remaining_s=0.0, output_enabled=False,
        compliance_warning=False, fault=None, last_refusal=None, last_decision=None,
        ui_heartbeat_age_s=0.0, healthy=False)


def keep_identity(previous: Snapshot, new: Snapshot) -> Snapshot:
    """``new`` with its fault, refusal and decision objects replaced by the previous snapshot's
    when equal. In-process the same refusal object travels from snapshot to snapshot, and
    screens compare by identity ("a new refusal?"); decoded afresh from every push they would
    all look new."""
    changes: dict[str, Any] = {}
    for name in ("fault", "last_refusal", "last_decision"):
        old_value, new_value = getattr(previous, name), getattr(new, name)
        if new_value is not None and new_value is not old_value and new_value == old_value:
            changes[name] = old_value
    return dataclasses.replace(new, **changes) if changes else new


class RemoteController:
    """The UI's controller over the socket (``submit``, ``snapshot``), reconnecting by itself.

    ``submit`` never blocks the UI thread: a command goes out with ``MSG_DONTWAIT``; when the
    daemon does not take it (gone, or its buffer full), it is dropped and the link is marked
    down (the screen then says "control unit not answering"; the daemon, for its part, treats a
    lost controlling connection while current may flow as a lost UI and cuts the current).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, name: str = "kiosk-ui",
                 stale_after_s: float = STALE_AFTER_S,
                 connect_timeout_s: float = 1.0) -> None:
        self.path = p.socket_path(path)
        self.name = name
        self.stale_after_s = stale_after_s
        self.connect_timeout_s = connect_timeout_s
        self._client: ControlClient | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._snapshot = offline_snapshot()
        self._snapshot_received_s: float | None = None
        self.sim = False
        self.fault_names: tuple[str, ...] = ()
        self.connects = 0
        self.last_error: str | None = None
        self.dropped_commands = 0
        self._connected = threading.Event()
        self._pending: dict[int, _PendingQuery] = {}

    # ------------------------------------------------------------------ the seam

    def submit(self, command: Command) -> None:
        client = self._client
        if client is None:
            self.dropped_commands += 1
            return
        try:
            with self._lock:
                seq = client.next_seq()
                client.sock.send(p.encode(p.submit_message(seq, command)), socket.MSG_DONTWAIT)
        except OSError as error:
            self.dropped_commands += 1
            self._link_down(client, f"send failed: {error}")

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @property
    def snapshot_age_s(self) -> float:
        """Seconds since the newest snapshot arrived (infinite before the first one)."""
        received_s = self._snapshot_received_s
        return float("inf") if received_s is None else time.monotonic() - received_s

    @property
    def connected(self) -> bool:
        return self._client is not None

    @property
    def live(self) -> bool:
        """Connected and the newest snapshot is fresh: its figures may be shown as current."""
        return self.connected and self.snapshot_age_s <= self.stale_after_s

    def inject(self, name: str, **params: Any) -> None:
        """The simulated board's fault injection, through the daemon (``--sim`` only)."""
        client = self._client
        if client is None:
            raise RuntimeError("control unit not answering")
        with self._lock:  # the seq and its send together: the daemon closes on a seq out of order
            seq = client.next_seq()
            client.sock.send(p.encode(p.Inject(seq=seq, name=name, params=dict(params))),
                             socket.MSG_DONTWAIT)

    def query(self, what: str, timeout_s: float = QUERY_TIMEOUT_S, **args: p.Param
              ) -> dict[str, Any]:
        """Ask the daemon a service query (:mod:`kiosk.control.queries`) and wait for the
        answer, at most ``timeout_s``. :class:`QueryRefused` for a refusal;
        ``QueryRefused("control_unit_not_answering")`` without a link or an answer in time."""
        client = self._client
        if client is None:
            raise QueryRefused(NOT_ANSWERING, "control unit not answering")
        pending = _PendingQuery()
        with self._lock:
            seq = client.next_seq()
            self._pending[seq] = pending
            try:
                client.sock.send(p.encode(p.Query(seq=seq, what=what, args=dict(args))),
                                 socket.MSG_DONTWAIT)
            except OSError as error:
                self._pending.pop(seq, None)
                raise QueryRefused(NOT_ANSWERING, f"control unit not answering: {error}"
                                   ) from error
        if not pending.done.wait(timeout_s):
            with self._lock:
                self._pending.pop(seq, None)
            raise QueryRefused(NOT_ANSWERING, f"no answer to {what!r} in {timeout_s:.1f} s")
        if pending.refusal is not None:
            raise pending.refusal
        return pending.data

    # ------------------------------------------------------------------ running

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="control-link", daemon=True)
            self._thread.start()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    def stop(self) -> None:
        self._stop.set()
        client = self._client
        if client is not None:
            with contextlib.suppress(OSError):
                client.sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def close(self, grace_s: float = STOP_GRACE_S) -> None:
        """Leave without cutting: while current may still flow (the app sent Stop(SHUTDOWN) as
        it closed), keep the heartbeat going until the current is down (at most ``grace_s``),
        then disconnect. A UI that dies instead is a lost UI for the daemon."""
        deadline_s = time.monotonic() + grace_s
        while (self.connected and p.current_may_flow(self._snapshot)
               and time.monotonic() < deadline_s):
            self.submit(Heartbeat())
            time.sleep(1 / 15)
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            client = self._client
            if client is None:
                if not self._try_connect():
                    self._stop.wait(RECONNECT_PERIOD_S)
                continue
            try:
                readable, _w, _x = select.select([client.sock], [], [], 0.1)
                if not readable:
                    continue
                message = client.receive(0.001)
            except (ConnectionClosed, p.ProtocolError, OSError, ValueError) as error:
                self._link_down(client, str(error))
                continue
            if isinstance(message, p.SnapshotPush):
                self._snapshot = keep_identity(self._snapshot, message.snapshot)
                self._snapshot_received_s = client.snapshot_received_s
            elif isinstance(message, p.Answer | p.Reply) and self._settle(message):
                pass
            elif isinstance(message, p.Reply) and not message.accepted:
                _log.warning("control unit refused command %d: %s (%s)", message.seq,
                             message.code, message.text)
            client.replies.clear()
            client.answers.clear()

    def _try_connect(self) -> bool:
        try:
            client = ControlClient(self.path, role="control", name=self.name,
                                   timeout_s=self.connect_timeout_s)
        except (OSError, ConnectionClosed, p.ProtocolError) as error:
            if str(error) != self.last_error:
                _log.warning("control unit not answering on %s: %s", self.path, error)
            self.last_error = str(error)
            return False
        assert client.welcome is not None
        self.sim = client.welcome.sim
        self.fault_names = client.welcome.fault_names
        if client.snapshot is not None:
            self._snapshot = client.snapshot
            self._snapshot_received_s = client.snapshot_received_s
        self._client = client
        self.connects += 1
        self.last_error = None
        self._connected.set()
        _log.info("connected to the control unit on %s (pid %d)", self.path,
                  client.welcome.daemon_pid)
        return True

    def _settle(self, message: p.Answer | p.Reply) -> bool:
        """Hand an answer (or a query's refusal) to the waiting :meth:`query`."""
        with self._lock:
            pending = self._pending.pop(message.seq, None)
        if pending is None:
            return False
        if isinstance(message, p.Answer):
            pending.data = message.data
        else:
            pending.refusal = QueryRefused(message.code or p.UNKNOWN_QUERY, message.text or "")
        pending.done.set()
        return True

    def _link_down(self, client: ControlClient, why: str) -> None:
        with self._lock:
            pending, self._pending = list(self._pending.values()), {}
        for waiting in pending:
            waiting.refusal = QueryRefused(NOT_ANSWERING, f"control unit link lost: {why}")
            waiting.done.set()
        if self._client is client:
            self._client = None
            self._connected.clear()
            self.last_error = why
            _log.warning("control unit link lost: %s", why)
            client.close()
