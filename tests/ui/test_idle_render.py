"""Render only when something changed (issue 14, Figures: the idle UI under 10 % of a core).

Kivy draws a frame only when an instruction of the window's canvas changed
(``Window.canvas.needs_redraw``, which ``EventLoop.idle`` checks before every frame; frames are
counted here by the window's ``on_flip``). The home
screen is polled 15 times a second with a new snapshot each time (the control loop's cycle and
time always move); a poll that changes nothing visible must leave the canvas as it was, so the
frame is not drawn (redrawing this screen every frame cost a whole core here, Mesa's llvmpipe
at 71 frames/s, against 2 % as built: bench/bench_ui_idle.py). Both sides: a fault latching is
drawn. Caught: a label given two colours per poll (the bug home.py's comment tells of).

Two ways in: the in-process controller, and the snapshot as the UI client gets it over the
socket (encoded and decoded by the control socket's protocol, each push a new object, the
fault/refusal/decision objects kept by ``keep_identity`` exactly as ``RemoteController`` does).
"""

from __future__ import annotations

from typing import Any

import pytest
from kivy.base import EventLoop
from kivy.core.window import Window

from kiosk.control.snapshot import Snapshot
from kiosk.ipc import protocol as p
from kiosk.ipc.client import keep_identity

pytestmark = pytest.mark.ui

POLLS = 45  # three seconds at 15 Hz


class OverTheWire:
    """The in-process controller's snapshots as the UI client receives them: every poll a
    freshly decoded push (as ``RemoteController`` keeps the newest)."""

    live = True

    def __init__(self, controller: Any) -> None:
        self.controller = controller
        self._snapshot: Snapshot | None = None

    def submit(self, command: Any) -> None:
        self.controller.submit(command)

    def query(self, what: str, **args: Any) -> dict[str, Any]:
        return dict(self.controller.query(what, **args))

    @property
    def snapshot(self) -> Snapshot:
        push = p.decode_daemon(p.encode(p.SnapshotPush(snapshot=self.controller.snapshot,
                                                       sent_s=0.0)))
        assert isinstance(push, p.SnapshotPush)
        new = push.snapshot if self._snapshot is None else keep_identity(self._snapshot,
                                                                          push.snapshot)
        self._snapshot = new
        return new


def _redraws_over_polls(kiosk: Any, polls: int = POLLS) -> list[int]:
    """Polls (by number) after which the window drew a frame: each poll is followed by one turn
    of Kivy's event loop (the clock's callbacks, e.g. a label's texture update, then the frame
    if the canvas asked for one), as ``App.run()`` does between polls."""
    kiosk.frames(3)  # whatever was pending is drawn
    drawn: list[int] = []
    number = -1

    def flipped(*_args: Any) -> None:
        drawn.append(number)

    Window.bind(on_flip=flipped)
    try:
        for number in range(polls):  # noqa: B007 (read by flipped)
            kiosk.controller.run_for(1 / 15)
            kiosk.app.poll()
            EventLoop.idle()
    finally:
        Window.unbind(on_flip=flipped)
    return sorted(set(drawn))


@pytest.mark.parametrize("wire", [False, True], ids=["in-process", "over-the-wire"])
def test_an_unchanging_home_screen_asks_for_no_frame(kiosk: Any, wire: bool) -> None:
    if wire:
        kiosk.app.controller = OverTheWire(kiosk.controller)
    assert kiosk.screen == "home" and kiosk.text("device_status") == "Ready"
    first = kiosk.app.snapshot
    assert _redraws_over_polls(kiosk) == []
    assert kiosk.app.snapshot is not first and kiosk.app.snapshot.cycle > first.cycle
    assert kiosk.app.polls >= POLLS


@pytest.mark.parametrize("wire", [False, True], ids=["in-process", "over-the-wire"])
def test_a_change_that_shows_asks_for_a_frame(kiosk: Any, wire: bool) -> None:
    """The other side: a fault latching is drawn (the test above cannot pass by never
    looking)."""
    if wire:
        kiosk.app.controller = OverTheWire(kiosk.controller)
    kiosk.frames(3)
    kiosk.app.inject("estop_press")
    asked = _redraws_over_polls(kiosk, polls=15)
    assert asked, "a latched fault was never drawn"
    assert kiosk.app.overlay.visible and kiosk.app.overlay.fault.code == "estop"
