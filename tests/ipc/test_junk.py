"""Hypothesis-generated junk on the control socket, while a treatment holds its plateau: the
daemon never crashes, the controlling client is still served, and the current does not change
(judged from the simulated board's truth)."""

from __future__ import annotations

import socket
import time

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.control.snapshot import TreatmentState
from kiosk.ipc import protocol as p
from tests.ipc.daemon_rig import (
    PLATEAU_TIMEOUT_S,
    PROGRAM,
    Heartbeats,
    at_plateau,
    controlling,
    start_daemon,
    start_treatment,
    stop_daemon,
    wait_for,
)

pytestmark = pytest.mark.slow

KINDS = ["hello", "submit", "query", "inject", "clear", "welcome", "snapshot", "", "exit"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**64 - 1),
                    st.floats(allow_nan=True), st.text(max_size=20), st.binary(max_size=20))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)
structured = st.builds(
    lambda kind, fields: msgspec.msgpack.encode({"t": kind, **fields}),
    st.sampled_from(KINDS),
    st.dictionaries(st.sampled_from(["seq", "version", "schema", "role", "command", "body",
                                     "what", "args", "name", "params", "x"]), values,
                    max_size=6))
commands = st.builds(
    lambda seq, name, body: msgspec.msgpack.encode(
        {"t": "submit", "seq": seq, "command": name, "body": body}),
    st.integers(-5, 10), st.sampled_from([*p.COMMAND_TYPES, "Exec", ""]),
    st.dictionaries(st.sampled_from(["delta_ma", "reason", "fault_code", "program",
                                     "session_id", "screening_cleared"]), values, max_size=3))
packets = st.one_of(st.binary(min_size=1, max_size=300), structured, commands,
                    st.binary(min_size=p.MAX_CLIENT_MESSAGE_BYTES + 1,
                              max_size=p.MAX_CLIENT_MESSAGE_BYTES + 64))


@pytest.fixture(scope="module")
def holding():  # type: ignore[no-untyped-def]
    daemon = start_daemon()
    try:
        with controlling(daemon) as remote, Heartbeats(remote):
            start_treatment(remote, "junk-test")
            wait_for(remote, at_plateau, PLATEAU_TIMEOUT_S)
            yield daemon, remote
    finally:
        assert stop_daemon(daemon) == 0, daemon.log_text()[-3000:]


def _send_junk(path: str, hello_first: bool, junk: list[bytes]) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sock.settimeout(2.0)
    try:
        sock.connect(path)
        if hello_first:
            sock.send(p.encode(p.Hello(version=p.PROTOCOL_VERSION, schema=p.SCHEMA_ID,
                                       role="monitor", name="junk")))
        for packet in junk:
            sock.send(packet)
    except OSError:
        pass  # the daemon closed us: that is the point
    finally:
        sock.close()


@pytest.mark.requirement("SR-078")
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(hello_first=st.booleans(), junk=st.lists(packets, min_size=1, max_size=5))
def test_junk_never_crashes_the_daemon_nor_changes_the_current(
        holding, hello_first: bool, junk: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    daemon, remote = holding
    _send_junk(daemon.socket, hello_first, junk)
    assert daemon.alive(), daemon.log_text()[-3000:]
    snapshot = remote.snapshot
    assert remote.live and snapshot.state is TreatmentState.HOLD and snapshot.fault is None
    assert snapshot.target_ma == PROGRAM.current_ma


@pytest.mark.requirement("SR-078")
def test_after_the_junk_the_plateau_is_where_it_was(holding) -> None:  # type: ignore[no-untyped-def]
    daemon, remote = holding
    time.sleep(0.2)
    status = daemon.status()
    truth = status["board_truth"]
    assert status["state"] == "hold" and status["fault"] is None
    assert truth["k1_closed"] is True  # type: ignore[index]
    assert truth["true_current_ma"] == pytest.approx(PROGRAM.current_ma, abs=0.03)  # type: ignore[index]
    assert status["controlling_client"] is not None and remote.live
