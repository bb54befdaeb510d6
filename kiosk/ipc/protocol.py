"""Messages of the control socket (protocol version 1), encoded with msgspec as MessagePack.

One socket packet (``SOCK_SEQPACKET``: the kernel keeps message boundaries) is one message: a
tagged msgspec struct. Commands travel generically: the class name of a member of the
``Command`` union and its fields, decoded into that very dataclass with msgspec's type checks;
a command added to the union needs no change here (the schema hash in the handshake changes).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import typing
from typing import Any, Literal

import msgspec

from kiosk.control.commands import Command
from kiosk.control.query_types import UNKNOWN_QUERY as UNKNOWN_QUERY  # re-exported
from kiosk.control.query_types import Param as Param  # re-exported
from kiosk.control.snapshot import Snapshot
from kiosk.control.snapshot import current_may_flow as current_may_flow  # re-exported (a lost UI)

PROTOCOL_VERSION = 1
SOCKET_ENV = "KIOSK_CONTROL_SOCKET"
DEFAULT_SOCKET_PATH = "/run/kiosk/control.sock"
MAX_CLIENT_MESSAGE_BYTES = 4096
MAX_DAEMON_MESSAGE_BYTES = 65536
PUSH_HZ = 20.0

Role = Literal["control", "monitor"]

COMMAND_TYPES: dict[str, type[Any]] = {cls.__name__: cls for cls in typing.get_args(Command)}
"""``"AdjustCurrent" -> AdjustCurrent``: every member of the Command union, by class name."""


def _schema_id() -> str:
    """A short hash of the command and snapshot types: both ends must be built alike."""
    types = [COMMAND_TYPES[name] for name in sorted(COMMAND_TYPES)] + [Snapshot]
    _schemas, components = msgspec.json.schema_components(types)
    text = msgspec.json.encode(components, order="sorted") + b"|" + ",".join(
        sorted(COMMAND_TYPES)).encode()
    return hashlib.sha256(text).hexdigest()[:16]


SCHEMA_ID = _schema_id()


def socket_path(explicit: str | os.PathLike[str] | None = None) -> str:
    """The flag, else ``$KIOSK_CONTROL_SOCKET``, else ``/run/kiosk/control.sock``."""
    if explicit is not None:
        return os.fspath(explicit)
    return os.environ.get(SOCKET_ENV) or DEFAULT_SOCKET_PATH


# --------------------------------------------------------------------------- client -> daemon



class Hello(msgspec.Struct, tag="hello", tag_field="t", forbid_unknown_fields=True):
    version: int
    schema: str
    role: Role
    name: str = ""


class Submit(msgspec.Struct, tag="submit", tag_field="t", forbid_unknown_fields=True):
    seq: int
    command: str
    body: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b"\x80"))


class Query(msgspec.Struct, tag="query", tag_field="t", forbid_unknown_fields=True):
    seq: int
    what: str
    args: dict[str, Param] = msgspec.field(default_factory=dict)


class Inject(msgspec.Struct, tag="inject", tag_field="t", forbid_unknown_fields=True):
    seq: int
    name: str
    params: dict[str, Param] = msgspec.field(default_factory=dict)


class Clear(msgspec.Struct, tag="clear", tag_field="t", forbid_unknown_fields=True):
    seq: int
    name: str


ClientMessage = Hello | Submit | Query | Inject | Clear

# --------------------------------------------------------------------------- daemon -> client


class Welcome(msgspec.Struct, tag="welcome", tag_field="t"):
    version: int
    schema: str
    role: Role
    sim: bool
    fault_names: tuple[str, ...]
    push_hz: float
    daemon_pid: int


class Refused(msgspec.Struct, tag="refused", tag_field="t"):
    code: str
    text: str


class Reply(msgspec.Struct, tag="reply", tag_field="t"):
    seq: int
    accepted: bool
    code: str | None = None
    text: str | None = None


class Answer(msgspec.Struct, tag="answer", tag_field="t"):
    seq: int
    what: str
    data: dict[str, Any]


class SnapshotPush(msgspec.Struct, tag="snapshot", tag_field="t"):
    snapshot: Snapshot
    sent_s: float  # the daemon's monotonic clock when sent


class Bye(msgspec.Struct, tag="bye", tag_field="t"):
    code: str
    text: str


DaemonMessage = Welcome | Refused | Reply | Answer | SnapshotPush | Bye

QUERIES = ("status", "selftest", "loop_stats", "events", "fault_names")
"""The daemon's own queries; the service queries of :mod:`kiosk.control.queries` come after."""

# --------------------------------------------------------------------------- codes

# Handshake refusals and reply refusals (stable; docs/control-socket.md).
PEER_NOT_ALLOWED = "peer_not_allowed"
VERSION_MISMATCH = "version_mismatch"
SCHEMA_MISMATCH = "schema_mismatch"
CONTROL_TAKEN = "control_taken"
TOO_MANY_CLIENTS = "too_many_clients"
NOT_CONTROLLING = "not_controlling"
UNKNOWN_COMMAND = "unknown_command"
INVALID_VALUE = "invalid_value"
SIM_ONLY = "sim_only"
QUEUE_FULL = "queue_full"
# Reasons a connection was closed (logged; sent in ``bye`` when possible).
OVERSIZED = "oversized"
MALFORMED = "malformed"
OUT_OF_ORDER = "out_of_order"
SLOW_READER = "slow_reader"
HELLO_TIMEOUT = "hello_timeout"

# --------------------------------------------------------------------------- encode / decode

_client_decoder = msgspec.msgpack.Decoder(ClientMessage)
_daemon_decoder = msgspec.msgpack.Decoder(DaemonMessage)
_encoder = msgspec.msgpack.Encoder()


class ProtocolError(ValueError):
    """A message that cannot be accepted; ``code`` says why (oversized, malformed, ...)."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text


def encode(message: msgspec.Struct) -> bytes:
    return _encoder.encode(message)


def decode_client(data: bytes) -> ClientMessage:
    if len(data) > MAX_CLIENT_MESSAGE_BYTES:
        raise ProtocolError(OVERSIZED, f"{len(data)} bytes, at most {MAX_CLIENT_MESSAGE_BYTES}")
    try:
        return _client_decoder.decode(data)
    except msgspec.DecodeError as error:
        raise ProtocolError(MALFORMED, str(error)[:200]) from None


def decode_daemon(data: bytes) -> DaemonMessage:
    if len(data) > MAX_DAEMON_MESSAGE_BYTES:
        raise ProtocolError(OVERSIZED, f"{len(data)} bytes, at most {MAX_DAEMON_MESSAGE_BYTES}")
    try:
        return _daemon_decoder.decode(data)
    except msgspec.DecodeError as error:
        raise ProtocolError(MALFORMED, str(error)[:200]) from None


def submit_message(seq: int, command: Command) -> Submit:
    """The ``submit`` message carrying ``command`` (a member of the Command union)."""
    name = type(command).__name__
    if COMMAND_TYPES.get(name) is not type(command):
        raise TypeError(f"{name} is not a member of the Command union")
    return Submit(seq=seq, command=name, body=msgspec.Raw(_encoder.encode(command)))


def decode_command(message: Submit) -> Command:
    """The command a ``submit`` carries: ProtocolError(unknown_command | invalid_value)."""
    cls = COMMAND_TYPES.get(message.command)
    if cls is None:
        raise ProtocolError(UNKNOWN_COMMAND, f"no command called {message.command[:40]!r}")
    try:
        command = msgspec.msgpack.decode(message.body, type=cls)
    except msgspec.DecodeError as error:
        raise ProtocolError(INVALID_VALUE, str(error)[:200]) from None
    bad = _non_finite_field(command)
    if bad is not None:
        raise ProtocolError(INVALID_VALUE, f"{message.command}.{bad} is not a finite number")
    return typing.cast(Command, command)


def _non_finite_field(value: object, path: str = "") -> str | None:
    """The first float field (at any depth) that is NaN or infinite, by its dotted name."""
    if isinstance(value, float):
        return path or "value" if not math.isfinite(value) else None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            found = _non_finite_field(getattr(value, field.name),
                                      f"{path}.{field.name}" if path else field.name)
            if found is not None:
                return found
    return None
