"""The daemon's side of the control socket: one thread, non-blocking, never in the loop's way.

Runs on its own thread (never the control loop's) and reaches the control layer only through a
:class:`ControlPort` (``submit`` hands a command to the loop's queue; ``snapshot`` reads the
latest published one). It never waits on a client: sockets are non-blocking, each client has a
bounded queue, snapshots are coalesced to the newest, and a client whose packets stay unsent for
``SLOW_READER_S`` (or whose queue overflows) is dropped.

Safety across the boundary: when the controlling connection closes for any reason (EOF, error,
dropped) while current may flow, :meth:`ControlPort.lost_ui` runs at once on this thread; the
daemon trips the shutdown path there (relay open by GPIO, DAC zero) and the fault latches.
"""

from __future__ import annotations

import contextlib
import grp
import logging
import os
import pwd
import selectors
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from kiosk.control.commands import Command
from kiosk.control.query_types import INVALID_QUERY, QueryRefused
from kiosk.control.snapshot import Snapshot
from kiosk.ipc import protocol as p

_log = logging.getLogger(__name__)

MAX_CONNECTIONS = 16
MAX_MONITORS = MAX_CONNECTIONS - 1
"""Monitors (kiosk-ctl, tests) never take the last connection: it is kept for the controlling
client, so a technician's tools left open cannot lock the UI out."""
HELLO_TIMEOUT_S = 2.0
"""A connection that has not said hello by then is closed (hello_timeout): silent connections
cannot hold the connection slots (MAX_CONNECTIONS) against the UI."""
MAX_QUEUED_PER_CLIENT = 64
SLOW_READER_S = 2.0
READS_PER_WAKEUP = 32
BACKPRESSURE_QUEUED = 8
"""A client with this many replies waiting unsent is not read from until it reads: a client that
floods requests without reading its answers cannot keep the daemon busy (in --sim a status
answer reads the simulated board, whose lock the loop also takes); it is dropped as a slow
reader instead."""
WATCH_PERIOD_S = 0.010  # how often the snapshot is looked at for a change of state
def change_key(snapshot: Snapshot) -> tuple[object, ...]:
    """What makes a snapshot worth pushing at once (not waiting for the 20 Hz tick)."""
    return (snapshot.state, snapshot.step, snapshot.fault, snapshot.last_refusal,
            snapshot.last_decision, snapshot.output_enabled, snapshot.session_id,
            snapshot.healthy, snapshot.resumable, snapshot.storage_ok)


class ControlPort(Protocol):
    """What the server needs of the daemon (kiosk.control.daemon implements it)."""

    sim: bool
    fault_names: tuple[str, ...]

    def submit(self, command: Command) -> bool | None: ...

    @property
    def snapshot(self) -> Snapshot: ...

    def query(self, what: str, args: Mapping[str, p.Param]) -> dict[str, Any]: ...

    def inject(self, name: str, params: Mapping[str, p.Param]) -> None: ...

    def clear(self, name: str) -> None: ...

    def lost_ui(self, why: str) -> None: ...


@dataclass(frozen=True, slots=True)
class PeerCredentials:
    pid: int
    uid: int
    gid: int


def peer_credentials(sock: socket.socket) -> PeerCredentials:
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", raw)
    return PeerCredentials(pid, uid, gid)


def _drain(sock: socket.socket, limit: int = 64) -> None:
    """Read what the peer already sent, so that closing after a refusal or a ``bye`` ends its
    reading with that message and EOF: closing a Unix socket with unread data resets the peer,
    which may then lose the message that says why."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
    for _ in range(limit):
        try:
            if not sock.recv(p.MAX_CLIENT_MESSAGE_BYTES + 1, socket.MSG_DONTWAIT):
                return
        except OSError:
            return


def allowed_uids(ui_user: str | None) -> frozenset[int]:
    """root, the daemon's own user, and the UI user when it exists on this machine."""
    uids = {0, os.geteuid()}
    if ui_user:
        try:
            uids.add(pwd.getpwnam(ui_user).pw_uid)
        except KeyError:
            _log.info("control socket: no user %r here; only root and uid %d may connect",
                      ui_user, os.geteuid())
    return frozenset(uids)


@dataclass(eq=False)
class Connection:
    sock: socket.socket
    peer: PeerCredentials
    number: int
    role: p.Role | None = None  # None until the hello
    name: str = ""
    last_seq: int = -1
    outbox: deque[bytes] = field(default_factory=deque)
    pending_snapshot: bytes | None = None
    blocked_since_s: float | None = None
    closing: bool = False
    accepted_s: float = 0.0

    def describe(self) -> str:
        return (f"#{self.number} pid {self.peer.pid} uid {self.peer.uid} "
                f"{self.role or 'no-hello'} {self.name!r}")


class ControlServer:
    """The socket server (see the module docstring). ``start`` binds and runs the thread."""

    def __init__(self, port: ControlPort, path: str, *, uids: Iterable[int],
                 group: str | None = None, mode: int = 0o660, push_hz: float = p.PUSH_HZ,
                 clock: Callable[[], float] = time.monotonic,
                 on_thread_start: Callable[[], object] | None = None) -> None:
        self.port = port
        self._on_thread_start = on_thread_start
        self.path = path
        self.uids = frozenset(uids)
        self.group = group
        self.mode = mode
        self.push_period_s = 1.0 / push_hz
        self.push_hz = push_hz
        self._now = clock
        self._selector = selectors.DefaultSelector()
        self._listener: socket.socket | None = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)  # notify_changed() must never block its caller
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._connections: dict[int, Connection] = {}
        self._controller: Connection | None = None
        self._numbers = 0
        self._last_push_s = -1.0
        self._last_key: tuple[object, ...] | None = None
        self._last_snapshot: Snapshot | None = None
        #: Daemon monotonic time of the last lost-UI trip (tests and the status answer).
        self.lost_ui_at_s: float | None = None
        self.closed_reasons: deque[tuple[str, str]] = deque(maxlen=32)  # (who, why)
        self.thread_priority: object = None

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with contextlib.suppress(FileNotFoundError):
            if os.path.exists(self.path) and not os.path.isdir(self.path):
                os.unlink(self.path)  # a stale socket from a crashed daemon
        old_umask = os.umask(0o177)  # never world-accessible, even for an instant
        try:
            listener.bind(self.path)
        finally:
            os.umask(old_umask)
        if self.group:
            try:
                os.chown(self.path, -1, grp.getgrnam(self.group).gr_gid)
            except KeyError:
                _log.warning("control socket: no group %r here; the socket keeps the daemon's "
                             "group", self.group)
            except PermissionError as error:
                _log.warning("control socket: cannot give it group %r: %s", self.group, error)
        os.chmod(self.path, self.mode)
        listener.listen(8)
        listener.setblocking(False)
        self._listener = listener
        self._selector.register(listener, selectors.EVENT_READ, None)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread = threading.Thread(target=self._run, name="control-socket", daemon=True)
        self._thread.start()
        _log.info("control socket listening on %s (mode %o, group %s, uids %s)", self.path,
                  self.mode, self.group, sorted(self.uids))

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        for conn in list(self._connections.values()):
            self._close(conn, "daemon stopping", lost_ui_rule=False)
        if self._listener is not None:
            with contextlib.suppress(Exception):
                self._selector.unregister(self._listener)
            self._listener.close()
            self._listener = None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        with contextlib.suppress(Exception):
            self._selector.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def notify_changed(self) -> None:
        """Any thread (the control loop's observer): a snapshot worth pushing at once was
        published. One non-blocking byte into a pipe; a full pipe already means "wake up"."""
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"c")

    @property
    def controlling(self) -> bool:
        return self._controller is not None

    def connection_count(self) -> int:
        return len(self._connections)

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        if self._on_thread_start is not None:
            self.thread_priority = self._on_thread_start()
        while not self._stop.is_set():
            try:
                events = self._selector.select(timeout=WATCH_PERIOD_S)
            except OSError:
                if self._stop.is_set():
                    return
                raise
            for key, mask in events:
                if key.fileobj is self._listener:
                    self._accept()
                elif key.fileobj == self._wake_r:
                    with contextlib.suppress(OSError):
                        os.read(self._wake_r, 4096)
                else:
                    conn = key.data
                    if not isinstance(conn, Connection) or conn.closing:
                        continue
                    if mask & selectors.EVENT_READ:
                        self._read(conn)
                    if mask & selectors.EVENT_WRITE and not conn.closing:
                        self._flush(conn)
            try:
                self._push_if_due()
                self._close_silent()
            except Exception:  # the server must survive anything; the loop is not affected
                _log.exception("control socket: snapshot push failed")

    def _accept(self) -> None:
        assert self._listener is not None
        for _ in range(8):
            try:
                sock, _addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                _log.warning("control socket: accept failed: %s", error)
                return
            sock.setblocking(False)
            try:
                peer = peer_credentials(sock)
            except OSError as error:
                _log.warning("control socket: no peer credentials (%s); refused", error)
                sock.close()
                continue
            self._numbers += 1
            conn = Connection(sock, peer, self._numbers, accepted_s=self._now())
            if peer.uid not in self.uids:
                self._refuse_and_close(conn, p.PEER_NOT_ALLOWED,
                                       f"uid {peer.uid} may not use the control socket")
                continue
            if len(self._connections) >= MAX_CONNECTIONS:
                self._refuse_and_close(conn, p.TOO_MANY_CLIENTS,
                                       f"at most {MAX_CONNECTIONS} connections")
                continue
            self._connections[sock.fileno()] = conn
            self._selector.register(sock, selectors.EVENT_READ, conn)
            _log.info("control socket: connection %s", conn.describe())

    def _refuse_and_close(self, conn: Connection, code: str, text: str) -> None:
        _log.warning("control socket: refused %s: %s (%s)", conn.describe(), code, text)
        self.closed_reasons.append((conn.describe(), code))
        with contextlib.suppress(OSError):
            conn.sock.send(p.encode(p.Refused(code=code, text=text)))
        _drain(conn.sock)
        if conn.sock.fileno() in self._connections:
            self._close(conn, code, lost_ui_rule=True)
        else:
            conn.sock.close()

    # ------------------------------------------------------------------ reading

    def _read(self, conn: Connection) -> None:
        for _ in range(READS_PER_WAKEUP):
            if len(conn.outbox) >= BACKPRESSURE_QUEUED:
                self._want_write(conn, True)  # read again once it has taken its answers
                return
            try:
                data = conn.sock.recv(p.MAX_CLIENT_MESSAGE_BYTES + 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                self._close(conn, f"receive failed: {error}", lost_ui_rule=True)
                return
            if not data:
                self._close(conn, "closed by the client", lost_ui_rule=True)
                return
            try:
                message = p.decode_client(data)
                self._handle(conn, message)
            except p.ProtocolError as error:
                self._violation(conn, error.code, error.text)
                return
            except Exception as error:  # a bug of ours must not take the daemon down
                _log.exception("control socket: handling a message of %s", conn.describe())
                self._violation(conn, p.MALFORMED, f"could not be handled: {error!r}"[:200])
                return
            if conn.closing:
                return

    def _violation(self, conn: Connection, code: str, text: str) -> None:
        _log.warning("control socket: closing %s: %s (%s)", conn.describe(), code, text)
        with contextlib.suppress(OSError):
            conn.sock.send(p.encode(p.Bye(code=code, text=text)))
        _drain(conn.sock)
        self._close(conn, f"{code}: {text}", lost_ui_rule=True)

    def _handle(self, conn: Connection, message: p.ClientMessage) -> None:
        if isinstance(message, p.Hello):
            self._hello(conn, message)
            return
        if conn.role is None:
            raise p.ProtocolError(p.OUT_OF_ORDER, f"{type(message).__name__} before hello")
        if message.seq <= conn.last_seq:
            raise p.ProtocolError(p.OUT_OF_ORDER,
                                  f"seq {message.seq} not above {conn.last_seq}")
        conn.last_seq = message.seq
        if isinstance(message, p.Submit):
            self._submit(conn, message)
        elif isinstance(message, p.Query):
            self._query(conn, message)
        elif isinstance(message, p.Inject | p.Clear):
            self._sim_action(conn, message)

    def _hello(self, conn: Connection, hello: p.Hello) -> None:
        if conn.role is not None:
            raise p.ProtocolError(p.OUT_OF_ORDER, "a second hello")
        if hello.version != p.PROTOCOL_VERSION:
            self._refuse_and_close(conn, p.VERSION_MISMATCH,
                                   f"protocol {hello.version}; this daemon speaks "
                                   f"{p.PROTOCOL_VERSION}")
            return
        if hello.schema != p.SCHEMA_ID:
            self._refuse_and_close(conn, p.SCHEMA_MISMATCH,
                                   f"schema {hello.schema[:32]!r}; this daemon has "
                                   f"{p.SCHEMA_ID}: client and daemon are different builds")
            return
        if hello.role == "control" and self._controller is not None:
            self._refuse_and_close(conn, p.CONTROL_TAKEN,
                                   f"another client controls ({self._controller.describe()}); "
                                   "connect as a monitor to read status")
            return
        monitors = sum(1 for c in self._connections.values() if c.role == "monitor")
        if hello.role == "monitor" and monitors >= MAX_MONITORS:
            self._refuse_and_close(conn, p.TOO_MANY_CLIENTS,
                                   f"at most {MAX_MONITORS} monitors (the last connection is "
                                   "kept for the controlling client)")
            return
        conn.role = hello.role
        conn.name = hello.name[:64]
        if hello.role == "control":
            self._controller = conn
        _log.info("control socket: hello from %s", conn.describe())
        self._send(conn, p.encode(p.Welcome(
            version=p.PROTOCOL_VERSION, schema=p.SCHEMA_ID, role=hello.role, sim=self.port.sim,
            fault_names=tuple(self.port.fault_names), push_hz=self.push_hz,
            daemon_pid=os.getpid())))
        snapshot = self.port.snapshot
        conn.pending_snapshot = p.encode(p.SnapshotPush(snapshot=snapshot, sent_s=self._now()))
        self._flush(conn)

    def _submit(self, conn: Connection, message: p.Submit) -> None:
        if conn is not self._controller:
            self._reply(conn, message.seq, p.NOT_CONTROLLING,
                        "this connection only reads status (another client, or none, controls)")
            return
        try:
            command = p.decode_command(message)
        except p.ProtocolError as error:
            self._reply(conn, message.seq, error.code, error.text)
            return
        try:
            taken = self.port.submit(command)
        except Exception as error:
            self._reply(conn, message.seq, p.QUEUE_FULL, f"not queued: {error!r}"[:200])
            return
        if taken is False:
            self._reply(conn, message.seq, p.QUEUE_FULL, "the command queue is full")
            return
        self._reply(conn, message.seq, None, None)

    def _reply(self, conn: Connection, seq: int, code: str | None, text: str | None) -> None:
        self._send(conn, p.encode(p.Reply(seq=seq, accepted=code is None, code=code,
                                          text=text)))

    def _query(self, conn: Connection, message: p.Query) -> None:
        try:
            data = self.port.query(message.what, message.args)
        except QueryRefused as refusal:
            self._reply(conn, message.seq, refusal.code, refusal.text[:200])
            return
        except Exception as error:  # a handler's bug must not take the socket thread down
            _log.exception("query %r failed", message.what)
            self._reply(conn, message.seq, INVALID_QUERY,
                        f"query {message.what!r} failed: {type(error).__name__}")
            return
        if message.what == "status":
            data["lost_ui_at_s"] = self.lost_ui_at_s
            data["controlling_client"] = (self._controller.describe()
                                          if self._controller is not None else None)
            data["connections"] = len(self._connections)
        try:
            encoded = p.encode(p.Answer(seq=message.seq, what=message.what, data=data))
        except (TypeError, msgspec.EncodeError) as error:
            self._reply(conn, message.seq, p.UNKNOWN_QUERY, f"answer not encodable: {error}")
            return
        self._send(conn, encoded)

    def _sim_action(self, conn: Connection, message: p.Inject | p.Clear) -> None:
        if conn is not self._controller:
            self._reply(conn, message.seq, p.NOT_CONTROLLING, "only the controlling client")
            return
        if not self.port.sim:
            self._reply(conn, message.seq, p.SIM_ONLY, "fault injection exists only in --sim")
            return
        try:
            if isinstance(message, p.Inject):
                self.port.inject(message.name, message.params)
            else:
                self.port.clear(message.name)
        except (ValueError, TypeError, KeyError, RuntimeError) as error:
            self._reply(conn, message.seq, p.INVALID_VALUE, str(error)[:200])
            return
        self._reply(conn, message.seq, None, None)

    # ------------------------------------------------------------------ writing

    def _push_if_due(self) -> None:
        snapshot = self.port.snapshot
        now_s = self._now()
        if snapshot is self._last_snapshot and now_s - self._last_push_s < self.push_period_s:
            return
        key = change_key(snapshot)
        if key == self._last_key and now_s - self._last_push_s < self.push_period_s:
            return
        self._last_key = key
        self._last_snapshot = snapshot
        self._last_push_s = now_s
        readers = [c for c in self._connections.values() if c.role is not None]
        if not readers:
            return
        encoded = p.encode(p.SnapshotPush(snapshot=snapshot, sent_s=now_s))
        for conn in readers:
            conn.pending_snapshot = encoded  # coalesced: only the newest waits
            self._flush(conn)
        self._drop_slow_readers(now_s)

    def _send(self, conn: Connection, data: bytes) -> None:
        if conn.closing:
            return
        if len(conn.outbox) >= MAX_QUEUED_PER_CLIENT:
            self._close(conn, f"{p.SLOW_READER}: {len(conn.outbox)} messages unread",
                        lost_ui_rule=True)
            return
        conn.outbox.append(data)
        self._flush(conn)

    def _flush(self, conn: Connection) -> None:
        while not conn.closing:
            if conn.outbox:
                data = conn.outbox[0]
            elif conn.pending_snapshot is not None:
                data = conn.pending_snapshot
            else:
                break
            try:
                conn.sock.send(data)
            except (BlockingIOError, InterruptedError):
                if conn.blocked_since_s is None:
                    conn.blocked_since_s = self._now()
                self._want_write(conn, True)
                return
            except OSError as error:
                self._close(conn, f"send failed: {error}", lost_ui_rule=True)
                return
            if conn.outbox and conn.outbox[0] is data:
                conn.outbox.popleft()
            else:
                conn.pending_snapshot = None
        conn.blocked_since_s = None
        self._want_write(conn, False)

    def _want_write(self, conn: Connection, on: bool) -> None:
        if not on:
            events = selectors.EVENT_READ
        elif len(conn.outbox) >= BACKPRESSURE_QUEUED:
            events = selectors.EVENT_WRITE  # a hang-up is still reported (EPOLLHUP)
        else:
            events = selectors.EVENT_READ | selectors.EVENT_WRITE
        with contextlib.suppress(KeyError, ValueError):
            if self._selector.get_key(conn.sock).events != events:
                self._selector.modify(conn.sock, events, conn)

    def _close_silent(self) -> None:
        now_s = self._now()
        for conn in list(self._connections.values()):
            if conn.role is None and not conn.closing \
                    and now_s - conn.accepted_s > HELLO_TIMEOUT_S:
                self._violation(conn, p.HELLO_TIMEOUT,
                                f"no hello within {HELLO_TIMEOUT_S:.0f} s of connecting")

    def _drop_slow_readers(self, now_s: float) -> None:
        for conn in list(self._connections.values()):
            if conn.blocked_since_s is not None and now_s - conn.blocked_since_s > SLOW_READER_S:
                self._close(conn, f"{p.SLOW_READER}: nothing read for "
                                  f"{now_s - conn.blocked_since_s:.1f} s", lost_ui_rule=True)

    # ------------------------------------------------------------------ closing

    def _close(self, conn: Connection, why: str, *, lost_ui_rule: bool) -> None:
        if conn.closing:
            return
        conn.closing = True
        was_controller = conn is self._controller
        if was_controller:
            self._controller = None
            if lost_ui_rule and p.current_may_flow(self.port.snapshot):
                self.lost_ui_at_s = self._now()
                _log.error("control socket: the controlling client went away while current may "
                           "flow (%s): lost UI, current cut", why)
                try:
                    self.port.lost_ui(why)
                except Exception:
                    _log.exception("control socket: the lost-UI trip raised")
        fileno = conn.sock.fileno()
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)
        self._connections.pop(fileno, None)
        conn.sock.close()
        self.closed_reasons.append((conn.describe(), why))
        _log.info("control socket: closed %s: %s", conn.describe(), why)
