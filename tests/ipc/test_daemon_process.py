"""The control daemon as a real process, driven only through its socket (issue 14, "Done when").

Each test starts ``kiosk-control --sim`` (tests/ipc/daemon_rig.py) and judges the safe state from
the simulated board's truth that the daemon's ``status`` answer carries in ``--sim`` (true
current, K1, DAC output, and the first time K1 was open with the DAC at zero since a given time,
on CLOCK_MONOTONIC, which every process of the machine shares).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kiosk.control.commands import Acknowledge, Pause
from kiosk.control.daemon import FLOW_MARKER_NAME
from kiosk.control.snapshot import TreatmentState
from kiosk.ipc import protocol as p
from kiosk.ipc.client import STALE_AFTER_S, ConnectionClosed, ControlClient
from tests.ipc.daemon_rig import (
    PLATEAU_TIMEOUT_S,
    PROGRAM,
    REPO,
    Daemon,
    Heartbeats,
    controlling,
    start_daemon,
    start_treatment,
    stop_daemon,
    wait_for,
)

pytestmark = pytest.mark.slow

LOST_UI_LIMIT_S = 0.025
STAND_IN = str(REPO / "tests" / "ipc" / "ui_stand_in.py")


@pytest.fixture
def daemon():  # type: ignore[no-untyped-def]
    running = start_daemon()
    yield running
    assert stop_daemon(running) == 0, running.log_text()[-3000:]


def _first_line(proc: subprocess.Popen[str], timeout_s: float) -> str:
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()),  # type: ignore[union-attr]
                              daemon=True)
    reader.start()
    reader.join(timeout_s)
    return lines[0] if lines else f"(nothing in {timeout_s} s)"


def _wait_safe_since(daemon: Daemon, since_s: float, timeout_s: float = 2.0) -> dict:  # type: ignore[type-arg]
    deadline_s = time.monotonic() + timeout_s
    while True:
        status = daemon.status(since_s=since_s)
        truth = status["board_truth"]
        assert isinstance(truth, dict)
        if truth.get("safe_since_s") is not None and status["fault"] is not None:
            return status
        assert time.monotonic() < deadline_s, f"not safe within {timeout_s} s: {status}"
        time.sleep(0.02)


@pytest.mark.requirement("SR-075")
def test_a_ui_killed_at_the_plateau_is_safe_within_25_ms_and_a_reconnect_shows_the_fault(
        daemon: Daemon, safety_figure) -> None:  # type: ignore[no-untyped-def]
    ui = subprocess.Popen([sys.executable, STAND_IN, daemon.socket, "kill-test"], cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = _first_line(ui, PLATEAU_TIMEOUT_S)  # the stand-in says when it sees the plateau
        assert line.startswith("plateau"), f"{line!r}; daemon: {daemon.status()}"
        truth = daemon.status()["board_truth"]
        assert isinstance(truth, dict)
        assert truth["k1_closed"] is True
        assert truth["true_current_ma"] == pytest.approx(PROGRAM.current_ma, abs=0.05)
        killed_s = time.monotonic()  # the socket closes when the kernel reaps the process: later
        os.kill(ui.pid, signal.SIGKILL)
        ui.wait(timeout=5)
    finally:
        if ui.poll() is None:
            ui.kill()
    status = _wait_safe_since(daemon, killed_s)
    truth = status["board_truth"]
    assert isinstance(truth, dict)
    safe_after_s = truth["safe_since_s"] - killed_s
    safety_figure("ui_killed_to_safe_ms", safe_after_s * 1000, "ms",
                  limit=LOST_UI_LIMIT_S * 1000)
    assert safe_after_s <= LOST_UI_LIMIT_S
    assert status["fault"]["code"] == "ui_connection_lost"  # type: ignore[index]
    assert truth["k1_closed"] is False and truth["dac_output_v"] == 0.0
    assert truth["true_current_ma"] < 0.01  # nothing driven (the skin's stored charge may bleed)
    assert daemon.alive()
    # The UI comes back (a new process, as systemd restarts it): the fault latched while it was
    # away is the first thing it sees, and a person can acknowledge it.
    with controlling(daemon, name="ui-restarted") as remote:
        shown = wait_for(remote, lambda s: s.fault is not None, 5.0)
        assert shown.fault is not None and shown.fault.code == "ui_connection_lost"
        assert shown.state is TreatmentState.FAULT and not shown.output_enabled
        remote.submit(Acknowledge("ui_connection_lost"))
        wait_for(remote, lambda s: s.fault is None, 5.0)


@pytest.mark.requirement("SR-075")
def test_a_controlling_client_that_leaves_while_paused_changes_nothing(daemon: Daemon) -> None:
    """No current may flow while paused: the close is not a lost UI; the session waits."""
    with controlling(daemon) as remote, Heartbeats(remote):
        start_treatment(remote, "pause-test")
        wait_for(remote, lambda s: s.state is TreatmentState.RAMP_UP, 20.0)
        remote.submit(Pause())
        wait_for(remote, lambda s: s.state is TreatmentState.PAUSED, PLATEAU_TIMEOUT_S)
    time.sleep(0.2)
    status = daemon.status()
    assert status["state"] == "paused" and status["fault"] is None
    assert status["lost_ui_at_s"] is None


@pytest.mark.requirement("SR-077")
def test_a_second_controlling_client_is_refused_and_a_monitor_only_reads(
        daemon: Daemon) -> None:
    with controlling(daemon) as remote:
        with pytest.raises(ConnectionClosed) as refused:
            ControlClient(daemon.socket, role="control", name="second")
        assert refused.value.code == p.CONTROL_TAKEN
        with daemon.monitor() as monitor:
            reply = monitor.submit(Pause())
            assert (reply.accepted, reply.code) == (False, p.NOT_CONTROLLING)
            assert monitor.query("status")["controlling_client"] is not None
            assert monitor.inject("adc_stuck").code == p.NOT_CONTROLLING
        assert remote.connected
    # control is free again once the first one left
    with ControlClient(daemon.socket, role="control", name="third") as third:
        assert third.welcome is not None and third.welcome.role == "control"


def _handshake_as(uid: int, path: str) -> str:
    """Fork, become ``uid``, say hello; the child reports how the daemon answered."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no exec (the interpreter may not be readable by that user)
        outcome = "child failed"
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            try:
                with ControlClient(path, role="monitor", name="other-uid", timeout_s=3.0):
                    outcome = "welcome"
            except ConnectionClosed as error:
                outcome = f"refused {error.code}"
            except OSError as error:
                outcome = f"oserror {error}"
        finally:
            os.write(write_end, outcome.encode())
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        outcome = pipe.read().decode()
    os.waitpid(pid, 0)
    return outcome


@pytest.mark.requirement("SR-076")
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another user")
def test_a_client_of_another_uid_is_refused_by_its_peer_credentials(daemon: Daemon) -> None:
    """The socket is 0666 here, so only SO_PEERCRED stands between 'nobody' and the daemon."""
    assert _handshake_as(65534, daemon.socket) == f"refused {p.PEER_NOT_ALLOWED}"
    assert "uid 65534" in daemon.log_text()
    with daemon.monitor() as monitor:  # root still may
        assert monitor.query("status")["state"] == "idle"


@pytest.mark.requirement("SR-078")
@pytest.mark.parametrize(("packets", "code"), [
    ([b"\x81\xa1t\xa5hello" + b"x" * p.MAX_CLIENT_MESSAGE_BYTES], p.OVERSIZED),
    ([b"\xc1not msgpack"], p.MALFORMED),
    ([p.encode(p.Hello(version=1, schema=p.SCHEMA_ID, role="monitor")), b"\x81\xa1t\xa4exit"],
     p.MALFORMED),
    ([p.encode(p.Query(seq=1, what="status"))], p.OUT_OF_ORDER),
    ([p.encode(p.Hello(version=1, schema=p.SCHEMA_ID, role="monitor")),
      p.encode(p.Query(seq=5, what="status")), p.encode(p.Query(seq=5, what="status"))],
     p.OUT_OF_ORDER),
    ([p.encode(p.Hello(version=1, schema=p.SCHEMA_ID, role="monitor")),
      p.encode(p.Hello(version=1, schema=p.SCHEMA_ID, role="monitor"))], p.OUT_OF_ORDER),
], ids=["oversized", "not-msgpack", "unknown-kind", "before-hello", "seq-repeated",
        "second-hello"])
def test_a_bad_message_closes_that_connection_only(daemon: Daemon, packets: list[bytes],
                                                   code: str) -> None:
    import socket

    with daemon.monitor() as bystander:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sock.settimeout(3.0)
        sock.connect(daemon.socket)
        for packet in packets:
            sock.send(packet)
        received = []
        while (data := sock.recv(p.MAX_DAEMON_MESSAGE_BYTES)) != b"":
            received.append(p.decode_daemon(data))
        sock.close()
        byes = [m for m in received if isinstance(m, p.Bye)]
        assert [b.code for b in byes] == [code]
        assert f"{code}" in daemon.log_text()
        assert bystander.query("status")["state"] == "idle"  # the other connection still works


@pytest.mark.requirement("SR-078")
def test_a_wrong_version_or_schema_is_refused_at_the_handshake(daemon: Daemon) -> None:
    with pytest.raises(ConnectionClosed) as refused:
        ControlClient(daemon.socket, version=2)
    assert refused.value.code == p.VERSION_MISMATCH
    with pytest.raises(ConnectionClosed) as refused:
        ControlClient(daemon.socket, schema="0" * 16)
    assert refused.value.code == p.SCHEMA_MISMATCH


@pytest.mark.requirement("SR-079")
def test_a_client_that_stops_reading_is_dropped_and_never_blocks_the_daemon(
        daemon: Daemon) -> None:
    import socket

    with controlling(daemon) as remote:
        sleeper = ControlClient(daemon.socket, role="monitor", name="never-reads")
        sleeper.sock.setblocking(False)
        sent = 0
        started_s = time.monotonic()
        # ask for answers and never read them: the daemon's buffer for us fills, then its
        # bounded queue, then we are dropped. Meanwhile the controlling client is served.
        while time.monotonic() - started_s < 20.0:
            try:
                sleeper.send_message(p.Query(seq=sleeper.next_seq(), what="status"))
                sent += 1
            except BlockingIOError:
                time.sleep(0.01)
            except (BrokenPipeError, ConnectionResetError):
                break
            if sent % 50 == 0:
                assert remote.live, "the controlling client's snapshots stopped"
                if "slow_reader" in daemon.log_text():
                    break
        assert "slow_reader" in daemon.log_text(), f"{sent} queries sent, not dropped"
        assert remote.live
        sleeper.sock.settimeout(2.0)
        with pytest.raises((ConnectionClosed, OSError, socket.timeout)):
            for _ in range(100_000):
                sleeper.receive(2.0, raise_on_timeout=True)
        sleeper.close()
    assert daemon.alive()


def test_kiosk_ctl_reads_the_status_without_taking_control(daemon: Daemon, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with controlling(daemon) as remote:  # a UI controls; the technician's tool only reads
        shown = subprocess.run([sys.executable, "-m", "kiosk.ipc.ctl", "--socket",
                                daemon.socket], cwd=REPO, capture_output=True, text=True,
                               timeout=30)
        assert shown.returncode == 0, shown.stderr
        assert "state       idle" in shown.stdout and "fault       none" in shown.stdout
        assert "sim truth" in shown.stdout and "period ms p50" in shown.stdout
        assert "controlling: #" in shown.stdout
        assert remote.connected
    raw = subprocess.run([sys.executable, "-m", "kiosk.ipc.ctl", "loop", "--json", "--socket",
                          daemon.socket], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert '"overruns"' in raw.stdout
    gone = subprocess.run([sys.executable, "-m", "kiosk.ipc.ctl", "--socket",
                           str(tmp_path / "none.sock")], cwd=REPO, capture_output=True,
                          text=True, timeout=30)
    assert gone.returncode == 3 and "not answering" in gone.stderr


def _wait_gone(path: Path, timeout_s: float) -> bool:
    deadline_s = time.monotonic() + timeout_s
    while path.exists():
        if time.monotonic() > deadline_s:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.requirement("SR-111")
@pytest.mark.requirement("SR-080")
def test_a_daemon_killed_at_the_plateau_is_seen_at_once_and_its_restart_shows_the_fault(
        tmp_path: Path, safety_figure) -> None:  # type: ignore[no-untyped-def]
    """The daemon crashes (SIGKILL: no goodbye, no clean-up) while the current holds. The client
    loses its link on the socket's EOF, not after the snapshot goes stale; systemd starts the
    daemon again on the same state folder, idle: the fault it latches at start (the flow marker
    left by the dead run) is the first thing the reconnected client sees."""
    state = tmp_path / "state"
    state.mkdir()
    marker = state / FLOW_MARKER_NAME
    first = start_daemon(state_dir=state)
    second: Daemon | None = None
    try:
        with controlling(first) as remote, Heartbeats(remote):
            assert not marker.exists()  # idle: nothing may flow
            start_treatment(remote, "crash-test")
            wait_for(remote, lambda s: s.state is TreatmentState.HOLD, PLATEAU_TIMEOUT_S)
            assert marker.exists() and "crash-test" in marker.read_text()
            killed_s = time.monotonic()
            first.proc.send_signal(signal.SIGKILL)
            while remote.connected and time.monotonic() - killed_s < 5.0:
                time.sleep(0.001)
            down_after_s = time.monotonic() - killed_s
            first.proc.wait(5)
            safety_figure("daemon_killed_to_ui_link_down_ms", down_after_s * 1000, "ms",
                          limit=STALE_AFTER_S * 1000)
            assert not remote.connected and not remote.live
            assert down_after_s < STALE_AFTER_S  # the EOF, not the staleness rule
            assert marker.exists()  # the dead run could not remove it
            second = start_daemon(state_dir=state, socket=first.socket)
            shown = wait_for(remote, lambda s: s.fault is not None, 15.0)
            assert remote.connects == 2
            assert shown.fault is not None and shown.fault.code == "internal_error"
            assert "restarted" in shown.fault.reason.text
            assert shown.state is TreatmentState.FAULT and not shown.output_enabled
            truth = second.status()["board_truth"]
            assert isinstance(truth, dict) and truth["k1_closed"] is False
            assert "ended while current could flow" in second.log_text()
            remote.submit(Acknowledge("internal_error"))
            wait_for(remote, lambda s: s.fault is None and s.state is TreatmentState.IDLE, 5.0)
            assert _wait_gone(marker, 2.0)
    finally:
        if second is not None:
            assert stop_daemon(second) == 0, second.log_text()[-3000:]
        stop_daemon(first)


@pytest.mark.requirement("SR-111")
def test_a_daemon_killed_at_idle_comes_back_idle_without_a_fault(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    first = start_daemon(state_dir=state)
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(5)
    assert not (state / FLOW_MARKER_NAME).exists()
    second = start_daemon(state_dir=state, socket=first.socket)
    try:
        with controlling(second) as remote:
            shown = wait_for(remote, lambda s: s.healthy, 10.0)
            time.sleep(0.3)  # the restart trip would land on the first cycles after the self-test
            assert shown.fault is None and remote.snapshot.fault is None
            assert remote.snapshot.state is TreatmentState.IDLE
    finally:
        assert stop_daemon(second) == 0, second.log_text()[-3000:]


UI_FROZEN_LIMIT_S = 1.0 + 0.2  # the 1 s heartbeat rule (SR-035), from the last heartbeat sent


@pytest.mark.requirement("SR-035")
def test_a_ui_frozen_at_the_plateau_with_its_socket_open_is_cut_by_the_heartbeat_rule(
        daemon: Daemon, safety_figure) -> None:  # type: ignore[no-untyped-def]
    """SIGSTOP: the UI process hangs with its socket open (no EOF, no lost-UI trip). Its
    heartbeats stop; the daemon cuts within the 1 s rule and keeps running; the UI, thawed,
    finds the fault (not a live treatment) and a kill afterwards changes nothing more."""
    ui = subprocess.Popen([sys.executable, STAND_IN, daemon.socket, "freeze-test"], cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = _first_line(ui, PLATEAU_TIMEOUT_S)
        assert line.startswith("plateau"), f"{line!r}; daemon: {daemon.status()}"
        frozen_s = time.monotonic()
        os.kill(ui.pid, signal.SIGSTOP)
        status = _wait_safe_since(daemon, frozen_s, timeout_s=5.0)
        truth = status["board_truth"]
        assert isinstance(truth, dict)
        safe_after_s = truth["safe_since_s"] - frozen_s
        safety_figure("ui_frozen_to_safe_ms", safe_after_s * 1000, "ms",
                      limit=UI_FROZEN_LIMIT_S * 1000)
        assert safe_after_s <= UI_FROZEN_LIMIT_S
        assert status["fault"]["code"] == "ui_heartbeat_lost"  # type: ignore[index]
        assert status["controlling_client"] is not None  # still connected: not a lost UI
        assert status["lost_ui_at_s"] is None
        assert truth["k1_closed"] is False and truth["dac_output_v"] == 0.0
        os.kill(ui.pid, signal.SIGCONT)
        os.kill(ui.pid, signal.SIGKILL)
        ui.wait(timeout=5)
        time.sleep(0.2)
        after = daemon.status()
        assert after["fault"]["code"] == "ui_heartbeat_lost"  # type: ignore[index]
        assert after["lost_ui_at_s"] is None  # nothing could flow when it closed
        assert daemon.alive()
    finally:
        if ui.poll() is None:
            os.kill(ui.pid, signal.SIGCONT)
            ui.kill()
            ui.wait(timeout=5)


@pytest.mark.requirement("SR-112")
def test_silent_connections_and_monitors_cannot_lock_the_ui_out(daemon: Daemon) -> None:
    """A connection that never says hello is closed (hello_timeout); monitors never take the
    last connection, so the UI can always connect; past that, every newcomer is refused."""
    import socket

    from kiosk.ipc.server import HELLO_TIMEOUT_S, MAX_CONNECTIONS, MAX_MONITORS

    silent = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    silent.settimeout(HELLO_TIMEOUT_S + 3.0)
    silent.connect(daemon.socket)
    first = p.decode_daemon(silent.recv(p.MAX_DAEMON_MESSAGE_BYTES))
    assert isinstance(first, p.Bye) and first.code == p.HELLO_TIMEOUT
    assert silent.recv(p.MAX_DAEMON_MESSAGE_BYTES) == b""  # then closed
    silent.close()
    monitors = [daemon.monitor() for _ in range(MAX_MONITORS)]
    try:
        with pytest.raises(ConnectionClosed) as refused:
            daemon.monitor()
        assert refused.value.code == p.TOO_MANY_CLIENTS
        with ControlClient(daemon.socket, role="control", name="the-ui") as ui:
            assert ui.welcome is not None and ui.welcome.role == "control"
            assert MAX_MONITORS + 1 == MAX_CONNECTIONS
            with pytest.raises(ConnectionClosed) as refused:
                ControlClient(daemon.socket, role="control", name="one-more")
            assert refused.value.code == p.TOO_MANY_CLIENTS
            assert ui.query("status")["connections"] == MAX_CONNECTIONS
    finally:
        for monitor in monitors:
            monitor.close()
    assert "hello_timeout" in daemon.log_text() and daemon.alive()


@pytest.mark.requirement("SR-113")
def test_a_treatment_through_the_socket_holds_its_plateau_and_stops_to_zero(
        daemon: Daemon) -> None:
    """The whole way over the socket, judged from the board's truth: start, ramp, the plateau
    (the true current at the target, K1 closed), STOP (to zero within 2 s, then the relay
    opens)."""
    from kiosk.control.commands import Stop, StopReason

    with controlling(daemon) as remote, Heartbeats(remote):
        start_treatment(remote, "plateau-test")
        wait_for(remote, lambda s: s.state is TreatmentState.RAMP_UP, 20.0)
        held = wait_for(remote, lambda s: s.state is TreatmentState.HOLD, PLATEAU_TIMEOUT_S)
        assert held.target_ma == PROGRAM.current_ma and held.output_enabled
        assert held.session_id == "plateau-test" and held.fault is None
        time.sleep(0.5)  # half a second of plateau
        status = daemon.status()
        truth = status["board_truth"]
        assert isinstance(truth, dict) and status["state"] == "hold"
        assert truth["k1_closed"] is True
        assert truth["true_current_ma"] == pytest.approx(PROGRAM.current_ma, abs=0.03)
        assert status["measured_ma"] == pytest.approx(truth["true_current_ma"], abs=0.03)
        stopped_s = time.monotonic()
        remote.submit(Stop(StopReason.OPERATOR))
        wait_for(remote, lambda s: not s.output_enabled and s.state is not
                 TreatmentState.RAMP_DOWN, 5.0)
        status = _wait_safe_since_ok(daemon, stopped_s)
        truth = status["board_truth"]
        assert isinstance(truth, dict)
        assert truth["safe_since_s"] - stopped_s <= 2.5  # to zero within 2 s, then K1 opens
        assert status["fault"] is None and status["state"] == "paused"
        assert truth["true_current_ma"] < 0.01
    assert daemon.status()["lost_ui_at_s"] is None  # leaving while paused is no lost UI


def _wait_safe_since_ok(daemon: Daemon, since_s: float, timeout_s: float = 5.0) -> dict:  # type: ignore[type-arg]
    """The status once K1 is open and the DAC at zero (no fault expected)."""
    deadline_s = time.monotonic() + timeout_s
    while True:
        status = daemon.status(since_s=since_s)
        truth = status["board_truth"]
        assert isinstance(truth, dict)
        if truth.get("safe_since_s") is not None:
            return status
        assert time.monotonic() < deadline_s, f"not safe within {timeout_s} s: {status}"
        time.sleep(0.02)
