"""Builds the controller (board + core + control loop + records) and runs it headless.

``build_controller`` is what the UI (``kiosk``, ``kiosk --sim``), its tests and ``kiosk
--headless`` use: one object with the command queue, the latest snapshot, start/stop on the wall
clock and ``run_for`` on a virtual clock. ``run_headless`` is the systemd service without a
screen: the self-test of hardware.md 8 step 1 on the first cycle, ``READY=1`` only when it
passed, ``WATCHDOG=1`` from healthy cycles, SIGTERM -> a normal stop and the safe state.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from kiosk.control import queries
from kiosk.control.catalogue import Catalogue, load_catalogue
from kiosk.control.codes import Reason
from kiosk.control.commands import Command
from kiosk.control.core import ControlCore, SelfTestResult
from kiosk.control.limits import DEFAULT_UI_HEARTBEAT_TIMEOUT_S, SafetyConfig
from kiosk.control.loop import ControlLoop, LoopStats
from kiosk.control.loop_timing import PERIOD_S
from kiosk.control.query_types import Param
from kiosk.control.service_work import ServiceWork
from kiosk.control.settings_keeper import (
    SettingsKeeper,
    apply_to_board,
    load_settings,
    service_work,
)
from kiosk.control.snapshot import Snapshot
from kiosk.control.watchdog import SystemdWatchdog
from kiosk.hal.board import Board
from kiosk.hal.clock import Clock, RealClock
from kiosk.hal.config import BoardConfig, ConfigError, check_unused, load_board_config
from kiosk.hal.factory import build_board, sim_fault_names

if TYPE_CHECKING:
    from kiosk.control.device_record import DeviceRecord
    from kiosk.entry.arguments import HeadlessArgs
    from kiosk.hal.factory import SimLoad
    from kiosk.records.writer import RecordWriter

_log = logging.getLogger(__name__)

BOARD_CONFIG_ENV = "KIOSK_BOARD_CONFIG"
UI_HEARTBEAT_TIMEOUT_S = DEFAULT_UI_HEARTBEAT_TIMEOUT_S
"""Kept for older callers: the one default lives in :mod:`kiosk.control.limits`; the value in
force is the salon's (``salon_limits.toml``, service mode)."""
HEARTBEAT_MARGIN_PERIODS = 3
"""The external monostable ([timing] heartbeat_timeout_ms) must outlast this many control
periods, or a single late cycle would drop K1 in hardware."""
SELFTEST_WAIT_S = 5.0


class Controller:
    """The control layer as the UI sees it; see the module docstring."""

    def __init__(self, *, board: Board, core: ControlCore, loop: ControlLoop,
                 catalogue: Catalogue, safety_config: SafetyConfig,
                 writer: RecordWriter | None,
                 device_record: DeviceRecord | None = None) -> None:
        self.board = board
        self.core = core
        self.loop = loop
        self.catalogue = catalogue
        self.safety_config = safety_config
        self.writer = writer
        self.device_record = device_record  # usage counters and maintenance intervals
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

    def query(self, what: str, **args: Param) -> dict[str, Any]:
        """Answer a service query (:mod:`kiosk.control.queries`); :class:`QueryRefused`
        when it is unknown or its arguments are wrong."""
        return queries.answer(self, what, args)

    # --- running ------------------------------------------------------------------------------
    def start(self) -> None:
        """Wall clock: the control thread and the supervisor start. A virtual clock has no
        thread: its owner calls :meth:`run_for` (this is then a no-op, so ``kiosk`` code can
        call start() either way)."""
        if not self.clock.is_virtual:
            self.loop.start()
        if self.device_record is not None:
            self.device_record.start()

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
            if self.device_record is not None:
                self.device_record.close()  # the final save, after the last cycle
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


def board_config_path(given: Path | None) -> Path | None:
    """``given``, else ``$KIOSK_BOARD_CONFIG`` when set, else None (the shipped defaults)."""
    if given is None and os.environ.get(BOARD_CONFIG_ENV):
        return Path(os.environ[BOARD_CONFIG_ENV])
    return given


def build_controller(*, sim: bool, clock: Clock | None = None, seed: int = 0,
                     config_path: Path | None = None, state_dir: Path | None = None,
                     load: SimLoad | None = None,
                     safety_config: SafetyConfig | None = None,
                     notifier: SystemdWatchdog | None = None,
                     install_factory_calibration: bool | None = None) -> Controller:
    """Board (real or simulated) + core + control loop (+ records when ``state_dir`` is given).

    ``config_path`` defaults to ``$KIOSK_BOARD_CONFIG`` when set, else the shipped defaults.
    ``clock`` defaults to the wall clock; pass a ``VirtualClock`` to drive it with ``run_for``.
    The self-test runs on the loop's first cycle; ``READY=1`` goes out when it passed.
    A state folder without a calibration file gets the simulated board's factory calibration
    (``install_factory_calibration``, default: only on the simulated board); the real board is
    blocked until a technician calibrates it.
    """
    config = load_board_config(board_config_path(config_path))
    board = build_board(config, sim=sim, clock=clock if clock is not None else RealClock(),
                        seed=seed, load=load)
    writer: RecordWriter | None = None
    device_record: DeviceRecord | None = None
    try:
        check_heartbeat_timing(config)
        catalogue = load_catalogue()
        loaded = load_settings(state_dir, config, sim=sim if install_factory_calibration is None
                               else install_factory_calibration)
        service = service_work(loaded, config)
        if safety_config is not None:  # a caller's own thresholds (tests): limits follow them
            service.limits = ServiceWork.for_core(loaded.calibration.ma_per_code, safety_config,
                                                  config.relay_settle_s,
                                                  config.boost_settle_s).limits
        safety = service.limits.safety_config()
        apply_to_board(board, config, loaded.calibration)
        core = ControlCore(catalogue, safety, loaded.calibration.ma_per_code, service=service,
                           relay_settle_s=config.relay_settle_s,
                           boost_settle_s=config.boost_settle_s)
        for event in loaded.events:
            core.apply_settings(event=event)
        if state_dir is not None:
            from kiosk.records import RecordWriter, records_path

            writer = RecordWriter(records_path(state_dir))
            if not writer.start():
                _log.error("records storage fault: %s", writer.fault_reason)
        loop = ControlLoop(board, core, records=writer,
                           notifier=notifier if notifier is not None else SystemdWatchdog())
        if state_dir is not None:
            from kiosk.control.device_record import DeviceRecord

            device_record = DeviceRecord(state_dir, io=loop.io, virtual=board.clock.is_virtual,
                                         post=None if writer is None else writer.post)
            loop.add_observer(device_record.counter.observe)
        loop.add_observer(SettingsKeeper(core, board, config, state_dir))
        check_unused(config)  # everything that reads the board configuration is built
    except BaseException:
        if writer is not None:
            writer.stop()
        board.close()
        raise
    return Controller(board=board, core=core, loop=loop, catalogue=catalogue,
                      safety_config=safety, writer=writer, device_record=device_record)


def check_heartbeat_timing(config: BoardConfig) -> None:
    """The loop toggles the heartbeat once per period: the monostable must outlast a few."""
    if config.heartbeat_timeout_s < HEARTBEAT_MARGIN_PERIODS * PERIOD_S:
        raise ConfigError(f"{config.source}: [timing] heartbeat_timeout_ms = "
                          f"{config.timing.heartbeat_timeout_ms:g} is shorter than "
                          f"{HEARTBEAT_MARGIN_PERIODS} control periods of {PERIOD_S * 1e3:g} ms: "
                          f"one late cycle would drop the output in hardware")


# ---------------------------------------------------------------------------- headless


def run_headless(argv: Sequence[str] | None = None) -> int:
    """The control service without a screen; exit codes as on every entry point
    (docs/exit-codes.md): 0 after SIGTERM/SIGINT (board left safe), 1 when the self-test fails
    (no READY: systemd fails the start), 2 for a bad argument or file, 3 when the state folder
    is in use by another instance, 70 for a bug."""
    from kiosk.entry.arguments import parse_headless_args
    from kiosk.entry.exit_codes import guarded

    args = parse_headless_args(argv)  # exits 2 with the reason for a bad argument
    return guarded("kiosk --headless", lambda: _run_headless(args))


def _run_headless(args: HeadlessArgs) -> int:
    from kiosk.entry.state_dir import open_state_dir

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    state_lock = open_state_dir(args.state_dir, sim=args.sim, prog="kiosk --headless")
    notifier = SystemdWatchdog()
    try:
        controller = build_controller(sim=args.sim, seed=args.seed, config_path=args.config,
                                      state_dir=state_lock.folder, notifier=notifier)
    except BaseException:
        state_lock.release()
        raise
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    timers: list[threading.Timer] = []
    try:
        controller.start()
        for injection in args.injections:
            timer = threading.Timer(injection.at_s, controller.inject, args=(injection.name,),
                                    kwargs=dict(injection.params))
            timer.daemon = True
            timer.start()
            timers.append(timer)
        waited_s = 0.0
        while controller.selftest is None and waited_s < SELFTEST_WAIT_S and not stop.is_set():
            stop.wait(0.05)
            waited_s += 0.05
        result = controller.selftest
        if result is None or not result.passed:
            why = "no result" if result is None else ", ".join(result.failed_checks)
            print(f"self-test failed: {why}", file=sys.stderr)
            notifier.status(f"self-test failed: {why}; output held safe")
            return 1
        print("self-test passed; control loop running", file=sys.stderr)
        while not stop.wait(0.5):
            pass
        notifier.stopping("stopping: output to zero, relay open")
        return 0
    finally:
        for timer in timers:
            timer.cancel()
        controller.close()
        state_lock.release()
        for sig, handler in previous.items():
            with contextlib.suppress(Exception):
                signal.signal(sig, handler)


def main() -> None:
    sys.exit(run_headless())


if __name__ == "__main__":
    main()
