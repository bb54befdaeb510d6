"""The systemd notify wrapper against a real AF_UNIX datagram socket (what systemd listens on)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.control.watchdog import SystemdWatchdog


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    path = tmp_path / "notify.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(path))
    server.settimeout(1.0)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    yield server
    server.close()


def received(server: socket.socket) -> list[str]:
    messages = []
    server.setblocking(False)
    try:
        while True:
            messages.append(server.recv(4096).decode())
    except BlockingIOError:
        pass
    finally:
        server.settimeout(1.0)
    return messages


def test_ready_carries_a_one_line_status(notify_socket: socket.socket) -> None:
    watchdog = SystemdWatchdog()
    watchdog.ready("self-test passed\non the simulated board")
    assert notify_socket.recv(4096).decode() == (
        "READY=1\nSTATUS=self-test passed on the simulated board")
    assert watchdog.ready_sent


def test_pings_at_half_the_watchdog_timeout(notify_socket: socket.socket) -> None:
    watchdog = SystemdWatchdog()
    assert watchdog.ping_interval_s == pytest.approx(0.5)
    sent = [watchdog.healthy_cycle(t / 100) for t in range(0, 151)]  # 1.5 s of 10 ms cycles
    assert [i for i, ping in enumerate(sent) if ping] == [0, 50, 100, 150]
    assert received(notify_socket) == ["WATCHDOG=1"] * 4


@pytest.mark.requirement("SR-034")
def test_no_pings_without_healthy_cycles(notify_socket: socket.socket) -> None:
    watchdog = SystemdWatchdog()
    watchdog.healthy_cycle(0.0)
    watchdog.status("control loop stalled")
    assert received(notify_socket) == ["WATCHDOG=1", "STATUS=control loop stalled"]


def test_watchdog_of_another_process_is_not_pinged(notify_socket: socket.socket,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    watchdog = SystemdWatchdog()
    assert not watchdog.watchdog_enabled
    assert not watchdog.healthy_cycle(0.0)
    watchdog.ready("up")
    assert received(notify_socket) == ["READY=1\nSTATUS=up"]


def test_without_systemd_nothing_is_sent_and_nothing_fails(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    watchdog = SystemdWatchdog()
    assert not watchdog.enabled
    watchdog.ready("up")
    assert not watchdog.healthy_cycle(0.0)


def test_a_vanished_socket_never_raises_into_the_control_thread(
        notify_socket: socket.socket, tmp_path: Path) -> None:
    watchdog = SystemdWatchdog()
    notify_socket.close()
    (tmp_path / "notify.sock").unlink()
    assert watchdog.healthy_cycle(0.0)  # the send fails inside sdnotify; the loop goes on


def test_stopping_is_announced(notify_socket: socket.socket) -> None:
    SystemdWatchdog().stopping("operator shut down")
    assert received(notify_socket) == ["STOPPING=1\nSTATUS=operator shut down"]
