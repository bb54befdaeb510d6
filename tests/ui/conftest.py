"""A real kiosk in a real Kivy window, driven by taps, on the virtual clock.

One window per test process (Kivy cannot make a second); every test builds a fresh ``KioskApp``
into it with its own controller (the real ``ControlLoop`` on the simulated board, on a
``VirtualClock``) and its own records folder, and removes it afterwards. The test's thread runs
everything: ``advance()`` runs the control loop for a slice of virtual time and then lets the app
poll the snapshot (as the Kivy clock does at 15 Hz on the device), rendering a frame now and then.
A ten-minute stage takes seconds and every run is the same.

Taps go to RESOLVED widgets: ``tap("stop")`` finds the widget whose ``ref`` is "stop", checks it
is on screen, visible and enabled, and presses and releases at its centre through Kivy's input
path (the same path a finger takes).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")

from kivy.config import Config

Config.set("graphics", "width", "800")
Config.set("graphics", "height", "480")
Config.set("graphics", "maxfps", "0")  # frames as fast as the test asks for them
Config.set("kivy", "keyboard_mode", "system")

from kivy.app import App  # noqa: E402
from kivy.base import EventLoop  # noqa: E402
from kivy.core.window import Window  # noqa: E402
from kivy.tests.common import UnitTestTouch  # noqa: E402

from kiosk import i18n  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = REPO / "docs" / "screenshots"
POLL_PERIOD_S = 1.0 / 15.0  # the app's poll rate on the device


class KioskDriver:
    """Taps, reads and advances time in the running kiosk."""

    def __init__(self, app: Any, controller: Any, shots_dir: Path) -> None:
        self.app = app
        self.controller = controller
        self.shots_dir = shots_dir

    # -- time ---------------------------------------------------------------------------------
    def frames(self, count: int = 2) -> None:
        for _ in range(count):
            EventLoop.idle()

    def advance(self, seconds: float, *, poll_s: float = POLL_PERIOD_S,
                frame_every_s: float = 1.0) -> None:
        """Run the control loop ``seconds`` of virtual time, polling at the app's rate."""
        done_s = 0.0
        since_frame_s = 0.0
        while done_s < seconds - 1e-9:
            step_s = min(poll_s, seconds - done_s)
            self.controller.run_for(step_s)
            self.app.poll()
            done_s += step_s
            since_frame_s += step_s
            if since_frame_s >= frame_every_s:
                self.frames(1)
                since_frame_s = 0.0
        self.frames(1)

    def advance_until(self, predicate: Any, *, timeout_s: float, poll_s: float = POLL_PERIOD_S,
                      frame_every_s: float = 1.0) -> float:
        """Advance until ``predicate(snapshot)``; returns the virtual seconds it took."""
        start_s = self.app.snapshot.time_s
        since_frame_s = 0.0
        while not predicate(self.app.snapshot):
            if self.app.snapshot.time_s - start_s > timeout_s:
                raise AssertionError(f"not reached within {timeout_s} s of virtual time; "
                                     f"snapshot: {self.app.snapshot}")
            self.controller.run_for(poll_s)
            self.app.poll()
            since_frame_s += poll_s
            if since_frame_s >= frame_every_s:
                self.frames(1)
                since_frame_s = 0.0
        self.frames(1)
        return self.app.snapshot.time_s - start_s

    # -- widgets ------------------------------------------------------------------------------
    def find(self, ref: str) -> Any:
        widget = self.app.find(ref)
        assert widget is not None, f"no widget {ref!r} on screen {self.screen}"
        return widget

    def has(self, ref: str) -> bool:
        widget = self.app.find(ref)
        return widget is not None and widget.opacity > 0

    def text(self, ref: str) -> str:
        return str(self.find(ref).text)

    def enabled(self, ref: str) -> bool:
        widget = self.find(ref)
        return not widget.disabled and widget.opacity > 0

    def tap(self, ref: str) -> None:
        """Press and release at the centre of the widget called ``ref``."""
        self.frames(1)
        widget = self.find(ref)
        assert widget.opacity > 0, f"{ref!r} is invisible"
        assert not widget.disabled, f"{ref!r} is disabled"
        x, y = widget.to_window(*widget.center)
        assert 0 <= x < Window.width and 0 <= y < Window.height, f"{ref!r} is off screen"
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        touch.touch_up()
        self.frames(2)

    def tap_and_hold(self, ref: str, hold_s: float) -> None:
        """A long press: down, ``hold_s`` of real frames (the Kivy clock), up."""
        import time

        widget = self.find(ref)
        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        end = time.monotonic() + hold_s
        while time.monotonic() < end:
            self.frames(1)
            time.sleep(0.02)
        touch.touch_up()
        self.frames(2)

    @property
    def screen(self) -> str:
        current = self.app.nav.current
        return current.name if current is not None else ""

    def screenshot(self, name: str) -> Path:
        """The window's pixels as ``<name>.png`` (and into docs/screenshots when asked)."""
        self.frames(3)
        produced = Path(Window.screenshot(name=str(self.shots_dir / f"{name}.png")))
        target = self.shots_dir / f"{name}.png"
        produced.replace(target)
        if os.environ.get("KIOSK_UPDATE_SCREENSHOTS") == "1":
            SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(target, SCREENSHOT_DIR / f"{name}.png")
        return target

    # -- flow shortcuts (each is a sequence of real taps) -------------------------------------
    def new_client_to_screening(self) -> None:
        self.tap("start_treatment")
        self.tap("new_client")
        self.give_consent()
        assert self.screen == "screening"

    def sign(self, ref: str = "signature_pad", points: int = 12) -> None:
        """Draw a stroke across the pad called ``ref`` with a real touch (down, moves, up)."""
        pad = self.find(ref)
        x0, y0 = pad.to_window(pad.x + 20, pad.y + pad.height * 0.4)
        touch = UnitTestTouch(x0, y0)
        touch.touch_down()
        for step in range(1, points + 1):
            touch.touch_move(x0 + step * (pad.width - 40) / points,
                             y0 + (step % 3) * pad.height * 0.15)
        touch.touch_up()
        self.frames(2)

    def give_consent(self) -> None:
        """On the consent screen (issue 11 item 6): every page, a signature, "agrees"."""
        if self.screen != "consent":
            return
        while self.has("consent_next"):
            self.tap("consent_next")
        self.sign()
        self.tap("consent_agree")

    def answer_all_screening_no(self) -> None:
        while self.screen == "screening":
            for item in self.app.screen.page_items:
                self.tap(f"no_{item.id}")
            self.tap("next")

    def answer_cautions_no(self) -> None:
        if self.screen == "caution":
            for item in self.app.catalogue.caution_items:
                self.tap(f"no_{item.id}")
            self.tap("next")

    def choose_area(self, area: str) -> None:
        """Tap the area, answer its own screening items "no" (domain.md 5: asked once the area
        is known) and the cautions "no": on to the indication."""
        self.tap(f"area_{area}")
        self.answer_all_screening_no()
        self.answer_cautions_no()
        assert self.screen == "indication", self.screen


@pytest.fixture(scope="session")
def kivy_window() -> Any:
    EventLoop.ensure_window()
    assert (Window.width, Window.height) == (800, 480)
    return Window


@pytest.fixture(scope="session")
def shots_dir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="kiosk-shots-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


WALL_START_S = 1_800_000_000.0  # the kiosk's wall clock in tests: this plus the virtual time


def build_kiosk(tmp_path: Path, shots_dir: Path, *, seed: int = 0,
                state_dir: Path | None = None, wall_start_s: float = WALL_START_S
                ) -> KioskDriver:
    """The real app, the real control loop on the simulated board, the real records.

    ``state_dir``: an existing folder (a restart on the same state); its wall clock (service
    PIN lock-outs) runs with the virtual clock from ``wall_start_s``."""
    from kiosk.app import KioskApp
    from kiosk.cli import fault_injector
    from kiosk.control import service as control_service
    from kiosk.control.catalogue import load_catalogue
    from kiosk.hal.sim.clock import VirtualClock
    from kiosk.records import records_path
    from kiosk.screens.records_view import RecordsView

    if state_dir is None:
        state_dir = tmp_path / "state"
        state_dir.mkdir()
    clock = VirtualClock()
    controller = control_service.build_controller(sim=True, clock=clock, seed=seed,
                                  state_dir=state_dir)
    records_view = RecordsView.open(records_path(state_dir),
                                    writer=getattr(controller, "writer", None))
    app = KioskApp(controller=controller, catalogue=load_catalogue(),
                   records_view=records_view, inject=fault_injector(controller),
                   fault_names=controller.fault_names, autopoll=False, language="en",
                   state_dir=state_dir, wall_now_s=lambda: wall_start_s + clock.now_s())
    app._run_prepare()  # what App.run() does before its loop: build, add to window, on_start
    driver = KioskDriver(app, controller, shots_dir)
    driver.advance(0.5)  # start-up: the self-test runs, the first snapshots arrive
    return driver


def close_kiosk(driver: KioskDriver) -> None:
    """Stop the app and its controller and take it out of the window (the fixture's end)."""
    app = driver.app
    app.dispatch("on_stop")
    driver.controller.run_for(3.0)  # the Stop(SHUTDOWN) is carried out
    for child in list(Window.children):
        Window.remove_widget(child)
    App._running_app = None
    close = getattr(driver.controller, "close", None)
    if callable(close):
        close()
    records = app.records_view
    if hasattr(records, "close_store"):
        records.close_store()
    i18n.set_language("en")


@pytest.fixture
def kiosk(kivy_window: Any, tmp_path: Path, shots_dir: Path) -> Iterator[KioskDriver]:
    driver = build_kiosk(tmp_path, shots_dir)
    try:
        yield driver
    finally:
        close_kiosk(driver)
