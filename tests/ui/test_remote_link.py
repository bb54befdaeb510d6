"""The kiosk as a client of a real control daemon (kiosk.ipc.client.RemoteController): the
screen says "control unit not answering" as soon as the daemon is gone and shows nothing of the
old snapshot as live, reconnects by itself, and then shows the fault latched while it was away.

The daemon is a real process on the wall clock; the app is the real KioskApp in this process's
window, polled by the test as the Kivy clock would (15 Hz)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest
from kivy.app import App
from kivy.base import EventLoop
from kivy.core.window import Window

from kiosk import i18n
from kiosk.ipc.client import RemoteController
from kiosk.screens.widgets import find_ref
from tests.ipc.daemon_rig import start_daemon, stop_daemon

pytestmark = [pytest.mark.ui, pytest.mark.slow]


def _poll_until(app: Any, predicate: Any, timeout_s: float) -> float:
    started_s = time.monotonic()
    while time.monotonic() - started_s < timeout_s:
        app.poll()
        EventLoop.idle()
        if predicate():
            return time.monotonic() - started_s
        time.sleep(1 / 15)
    raise AssertionError(f"not within {timeout_s} s")


def _top_widget(app: Any) -> Any:
    return app.root_widget.children[0]  # Kivy: the first child is drawn last, on top


@pytest.mark.requirement("SR-080")
def test_no_daemon_covers_the_screen_at_once_then_reconnect_shows_the_fault_latched_meanwhile(
        kivy_window: Any, tmp_path: Path) -> None:
    from kiosk.app import KioskApp
    from kiosk.control.catalogue import load_catalogue
    from kiosk.records import records_path
    from kiosk.screens.records_view import RecordsView

    daemon = start_daemon()
    remote = RemoteController(daemon.socket, name="ui-test")
    remote.start()
    assert remote.wait_connected(10)
    records = RecordsView.open(records_path(tmp_path))
    app = KioskApp(controller=remote, catalogue=load_catalogue(), records_view=records,
                   inject=remote.inject, fault_names=remote.fault_names, autopoll=False,
                   language="en")
    app._run_prepare()
    second = None
    try:
        _poll_until(app, lambda: find_ref(app.root_widget, "device_status") is not None
                    and find_ref(app.root_widget, "device_status").text == "Ready", 5.0)
        assert not app.link_overlay.visible
        # The daemon dies (a crash: no goodbye). The next polls cover the screen.
        daemon.proc.send_signal(signal.SIGKILL)
        daemon.proc.wait(5)
        _poll_until(app, lambda: app.link_overlay.visible, 2.0)
        assert _top_widget(app) is app.link_overlay
        heading = find_ref(app.root_widget, "link_heading")
        assert heading is not None and heading.text == "Control unit not answering"
        polls = app.polls
        stale = app.snapshot
        for _ in range(5):  # nothing of the old snapshot reaches the screens meanwhile
            app.poll()
        assert app.polls == polls and app.snapshot is stale
        # systemd restarts the daemon; an E-stop is pressed before the screen is back.
        second = start_daemon("--inject", "estop_press@0.3", socket=daemon.socket)
        _poll_until(app, lambda: remote.live and app.overlay.visible, 15.0)
        assert not app.link_overlay.visible
        assert app.overlay.fault is not None and app.overlay.fault.code == "estop"
        assert find_ref(app.root_widget, "fault_heading") is not None
        assert remote.connects == 2
    finally:
        app.dispatch("on_stop")
        for child in list(Window.children):
            Window.remove_widget(child)
        App._running_app = None
        remote.stop()
        records.close_store()
        i18n.set_language("en")
        if second is not None:
            stop_daemon(second)
        stop_daemon(daemon)


@pytest.mark.requirement("SR-111")
@pytest.mark.requirement("SR-080")
def test_a_daemon_crash_at_the_plateau_covers_the_screen_at_once_and_its_restart_shows_the_fault(
        kivy_window: Any, tmp_path: Path) -> None:
    """The daemon is SIGKILLed while the current holds: the very next poll covers the screen
    (the link went down on the socket's EOF); systemd's restart on the same state folder latches
    the fault, and the screen shows it as soon as the link is back."""
    from kiosk.app import KioskApp
    from kiosk.control.catalogue import load_catalogue
    from kiosk.control.snapshot import TreatmentState
    from kiosk.records import records_path
    from kiosk.screens.records_view import RecordsView
    from tests.ipc.daemon_rig import PLATEAU_TIMEOUT_S, start_treatment

    state = tmp_path / "state"
    state.mkdir()
    daemon = start_daemon(state_dir=state)
    remote = RemoteController(daemon.socket, name="ui-test")
    remote.start()
    assert remote.wait_connected(10)
    records = RecordsView.open(records_path(tmp_path))
    app = KioskApp(controller=remote, catalogue=load_catalogue(), records_view=records,
                   inject=remote.inject, fault_names=remote.fault_names, autopoll=False,
                   language="en")
    app._run_prepare()
    second = None
    try:
        start_treatment(remote, "ui-crash-test")  # the app's polls carry the heartbeat
        _poll_until(app, lambda: app.snapshot.state is TreatmentState.HOLD, PLATEAU_TIMEOUT_S)
        assert not app.link_overlay.visible
        daemon.proc.send_signal(signal.SIGKILL)
        daemon.proc.wait(5)
        time.sleep(0.05)  # the reader thread sees the EOF (the process test measures it)
        app.poll()  # the very next poll: no waiting for the snapshot to go stale
        assert app.link_overlay.visible and _top_widget(app) is app.link_overlay
        second = start_daemon(state_dir=state, socket=daemon.socket)
        _poll_until(app, lambda: remote.live and app.overlay.visible, 15.0)
        assert not app.link_overlay.visible
        assert app.overlay.fault is not None and app.overlay.fault.code == "internal_error"
        assert find_ref(app.root_widget, "fault_heading") is not None
        assert not app.snapshot.output_enabled and remote.connects == 2
    finally:
        app.dispatch("on_stop")
        for child in list(Window.children):
            Window.remove_widget(child)
        App._running_app = None
        remote.stop()
        records.close_store()
        i18n.set_language("en")
        if second is not None:
            stop_daemon(second)
        stop_daemon(daemon)
