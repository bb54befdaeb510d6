"""systemd notification: READY after the self-test, WATCHDOG=1 only from healthy control cycles.

A thin wrapper over the pure-Python ``sdnotify`` package (``kiosk.service`` is ``Type=notify``
with ``WatchdogSec=1s``, see ``systemd/``):

- ``READY=1`` is sent once, by the service, only after the board passed its start-up self-test
  (hardware.md 8 step 1). A board that fails it never reports ready: systemd fails the start and,
  after the start limit, shows the fault screen.
- ``WATCHDOG=1`` is sent by the control loop from healthy cycles only (completed on time, no
  exception), at most every half ``WATCHDOG_USEC``. A stalled or crashing loop stops the pings,
  and systemd aborts the process; the unit's ``ExecStopPost=`` stop helper then forces the safe
  state. This is the slow, last line (about 1 s): the client is protected long before by the
  supervisor and the heartbeat monostable.
- ``STATUS=`` lines say what the kiosk is doing (``systemctl status``).

Never blocking the control thread: the notification socket is made non-blocking, and sdnotify
swallows send errors (no systemd, full queue), so a ping costs one ``send`` syscall at most.
``WATCHDOG_PID``, when set, must name this process (systemd's rule); otherwise pings are off.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Protocol

import sdnotify


class Notifier(Protocol):
    """What the wrapper needs: ``sdnotify.SystemdNotifier`` has exactly this."""

    def notify(self, state: str) -> None: ...


def _watchdog_interval_s(env: Mapping[str, str]) -> float | None:
    """Half the watchdog timeout systemd announced, or None when there is no watchdog."""
    usec_text = env.get("WATCHDOG_USEC")
    if not usec_text:
        return None
    pid_text = env.get("WATCHDOG_PID")
    try:
        usec = int(usec_text)
        if pid_text and int(pid_text) != os.getpid():
            return None  # the watchdog belongs to another process (our parent, say)
    except ValueError:
        return None
    if usec <= 0:
        return None
    return usec / 2 / 1e6


def _systemd_notifier() -> sdnotify.SystemdNotifier:
    notifier = sdnotify.SystemdNotifier()
    sock = getattr(notifier, "socket", None)
    if isinstance(sock, socket.socket):
        sock.setblocking(False)  # a full queue drops a ping; it never stalls the control thread
    return notifier


class SystemdWatchdog:
    """READY / WATCHDOG / STATUS / STOPPING to the socket named by ``NOTIFY_SOCKET``."""

    def __init__(self, notifier: Notifier | None = None, *,
                 env: Mapping[str, str] | None = None) -> None:
        environment = os.environ if env is None else env
        self.enabled = bool(environment.get("NOTIFY_SOCKET"))
        self.ping_interval_s = _watchdog_interval_s(environment) if self.enabled else None
        self._notifier: Notifier | None = notifier
        if self._notifier is None and self.enabled:
            self._notifier = _systemd_notifier()
        self._last_ping_s: float | None = None
        self.ready_sent = False
        self.pings_sent = 0

    @property
    def watchdog_enabled(self) -> bool:
        return self.ping_interval_s is not None

    def ready(self, status: str) -> None:
        """Start-up done and the self-test passed: ``READY=1`` with a status line."""
        self._send(f"READY=1\nSTATUS={_one_line(status)}")
        self.ready_sent = True

    def status(self, text: str) -> None:
        self._send(f"STATUS={_one_line(text)}")

    def stopping(self, status: str) -> None:
        self._send(f"STOPPING=1\nSTATUS={_one_line(status)}")

    def healthy_cycle(self, now_s: float) -> bool:
        """Called by the control loop after each healthy cycle; pings when it is time.

        True when ``WATCHDOG=1`` was sent now.
        """
        interval_s = self.ping_interval_s
        if interval_s is None:
            return False
        last_s = self._last_ping_s
        if last_s is not None and now_s - last_s < interval_s:
            return False
        self._last_ping_s = now_s
        self._send("WATCHDOG=1")
        self.pings_sent += 1
        return True

    def _send(self, message: str) -> None:
        if self._notifier is not None:
            self._notifier.notify(message)


def _one_line(text: str) -> str:
    """STATUS= takes one line; a newline would start another (unknown) assignment."""
    return " ".join(text.split())
