"""Builds the controller (board + core + control loop + records) and runs it headless.

``build_controller`` is what the UI (``kiosk``, ``kiosk --sim``), its tests and ``kiosk
--headless`` use: one object with the command queue, the latest snapshot, start/stop on the wall
clock and ``run_for`` on a virtual clock. ``run_headless`` is the systemd service without a
screen: the self-test of hardware.md 8 step 1 on the first cycle, ``READY=1`` only when it
passed, ``WATCHDOG=1`` from healthy cycles, SIGTERM -> a normal stop and the safe state.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.control.catalogue import Catalogue, load_catalogue
from kiosk.control.codes import Reason
from kiosk.control.commands import Command
from kiosk.control.core import ControlCore, SelfTestResult
from kiosk.control.limits import SafetyConfig
from kiosk.control.loop import ControlLoop, LoopStats
from kiosk.control.snapshot import Snapshot
from kiosk.control.watchdog import SystemdWatchdog
from kiosk.hal.board import Board
from kiosk.hal.clock import Clock, RealClock
from kiosk.hal.config import load_board_config
from kiosk.hal.factory import build_board, sim_fault_names

if TYPE_CHECKING:
    from kiosk.hal.factory import SimLoad
    from kiosk.records.writer import RecordWriter

_log = logging.getLogger(__name__)

BOARD_CONFIG_ENV = "KIOSK_BOARD_CONFIG"
UI_HEARTBEAT_TIMEOUT_S = 1.0
"""The UI polls at 15 Hz and sends a heartbeat each time; 1 s without any command while current
flows means the screen froze (and STOP may not work): cut. SafetyConfig bounds it to 0.5-5 s."""
SELFTEST_WAIT_S = 5.0


class Controller:
    """The control layer as the UI sees it; see the module docstring."""

    def __init__(self, *, board: Board, core: ControlCore, loop: ControlLoop,
                 catalogue: Catalogue, safety_config: SafetyConfig,
                 writer: RecordWriter | None) -> None:
        self.board = board
        self.core = core
        self.loop = loop
        self.catalogue = catalogue
        self.safety_config = safety_config
        self.writer = writer
        self._closed = False

    @property
    def clock(self) -> Clock:
        return self.board.clock

    # --- the seam ---------------------------------------------------------------------------
    def submit(self, command: Command) -> None:
        self.loop.submit(command)

    @property
    def snapshot(self) -> Snapshot:
        return self.loop.snapshot

    # --- running ------------------------------------------------------------------------------
    def start(self) -> None:
        """Wall clock: the control thread and the supervisor start. A virtual clock has no
        thread: its owner calls :meth:`run_for` (this is then a no-op, so ``kiosk`` code can
        call start() either way)."""
        if not self.clock.is_virtual:
            self.loop.start()

    def run_for(self, duration_s: float) -> None:
        self.loop.run_for(duration_s)

    def stop(self) -> None:
        """Current to zero (within 2 s), cycles stopped, board in the safe state."""
        self.loop.stop()

    def close(self) -> None:
        """Stop, then give back the board and the records writer. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self.loop.close()
        finally:
            if self.writer is not None:
                self.writer.stop()
            self.board.close()

    @property
    def selftest(self) -> SelfTestResult | None:
        return self.loop.selftest

    @property
    def stats(self) -> LoopStats:
        return self.loop.stats

    def trip(self, reason: Reason, source: str) -> None:
        """Cut the current now, from any thread (the one shutdown path: relay open by GPIO,
        DAC zero, boost off); the core latches ``reason`` on the loop's next cycle."""
        self.loop.shutdown.trip(reason, source)

    # --- simulated board only -----------------------------------------------------------------
    @property
    def fault_names(self) -> tuple[str, ...]:
        if self.board.sim is None:
            return ()
        return sim_fault_names()

    def inject(self, name: str, **params: Any) -> None:
        """A fault of the simulated board (developer menu, scenarios); refused on the device."""
        if self.board.sim is None:
            raise RuntimeError("fault injection exists only on the simulated board (--sim)")
        self.board.sim.inject(name, **params)

    def clear(self, name: str) -> None:
        if self.board.sim is None:
            raise RuntimeError("fault injection exists only on the simulated board (--sim)")
        self.board.sim.clear(name)


def build_controller(*, sim: bool, clock: Clock | None = None, seed: int = 0,
                     config_path: Path | None = None, state_dir: Path | None = None,
                     load: SimLoad | None = None,
                     safety_config: SafetyConfig | None = None,
                     notifier: SystemdWatchdog | None = None) -> Controller:
    """Board (real or simulated) + core + control loop (+ records when ``state_dir`` is given).

    ``config_path`` defaults to ``$KIOSK_BOARD_CONFIG`` when set, else the shipped defaults.
    ``clock`` defaults to the wall clock; pass a ``VirtualClock`` to drive it with ``run_for``.
    The self-test runs on the loop's first cycle; ``READY=1`` goes out when it passed.
    """
    if config_path is None and os.environ.get(BOARD_CONFIG_ENV):
        config_path = Path(os.environ[BOARD_CONFIG_ENV])
    config = load_board_config(config_path)
    board = build_board(config, sim=sim, clock=clock if clock is not None else RealClock(),
                        seed=seed, load=load)
    writer: RecordWriter | None = None
    try:
        catalogue = load_catalogue()
        safety = safety_config or SafetyConfig(ui_heartbeat_timeout_s=UI_HEARTBEAT_TIMEOUT_S)
        core = ControlCore(catalogue, safety, board.dac.cal.ua_per_lsb / 1000.0)
        if state_dir is not None:
            from kiosk.records import RecordWriter, records_path

            Path(state_dir).mkdir(parents=True, exist_ok=True)
            writer = RecordWriter(records_path(state_dir))
            if not writer.start():
                _log.error("records storage fault: %s", writer.fault_reason)
        loop = ControlLoop(board, core, records=writer,
                           notifier=notifier if notifier is not None else SystemdWatchdog())
    except BaseException:
        if writer is not None:
            writer.stop()
        board.close()
        raise
    return Controller(board=board, core=core, loop=loop, catalogue=catalogue,
                      safety_config=safety, writer=writer)


# ---------------------------------------------------------------------------- headless


def _parse_injection(text: str) -> tuple[str, dict[str, Any], float]:
    try:
        spec, at_text = text.rsplit("@", 1)
        at_s = float(at_text)
        name, _, params_text = spec.partition(":")
        params: dict[str, Any] = {}
        for item in filter(None, params_text.split(",")):
            key, value = item.split("=", 1)
            try:
                params[key] = float(value)
            except ValueError:
                params[key] = value
    except ValueError as error:
        raise SystemExit(f"--inject {text!r}: expected NAME[:key=value,...]@SECONDS") from error
    return name, params, at_s


def run_headless(argv: Sequence[str] | None = None) -> int:
    """The control service without a screen and without the socket (``kiosk --headless``): the
    daemon of :mod:`kiosk.control.daemon` with ``serve=False``. Exit 0 after SIGTERM/SIGINT
    (board left safe), 1 when the self-test fails (no READY: systemd fails the start), 2 for bad
    arguments."""
    from kiosk.control.daemon import run_daemon

    return run_daemon(argv, serve=False)


def main() -> None:
    sys.exit(run_headless())


if __name__ == "__main__":
    main()
