"""``kiosk``: the console entry point (``kiosk --sim`` on the simulated board, or on the device).

``kiosk --headless [--sim] [--config FILE] [--state-dir DIR]`` runs the control service without
a screen (:func:`kiosk.control.service.run_headless`: self-test, READY and watchdog pings to
systemd, safe state on SIGTERM), so the systemd unit and the README use one entry point. It is
routed before anything of Kivy is imported.

Before any window: the state folder is chosen and locked (:mod:`kiosk.entry.state_dir`: under
``--sim`` a fresh temporary folder per run, printed; a second instance on one folder is refused,
exit 3) and the board configuration is read; a bad argument or file is one line on stderr and
exit 2, never a traceback (exit codes: docs/exit-codes.md, the same on every entry point).

Order matters: Kivy reads its window settings when the window is created, so the 800x480 size
(or full screen on the device) is set before anything imports the window. The controller is
built and started before the first screen, and whatever way the app ends (window closed, SIGTERM
from systemd, an exception in the UI), ``finally`` stops the controller, which leaves the board
in the safe state (output relay open, DAC at zero). The systemd stop helper is the second line.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import Any

from kiosk import i18n
from kiosk.entry import exit_codes
from kiosk.entry.arguments import STATE_DIR_HELP, add_board_arguments

PROG = "kiosk"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG, description="The galvanic treatment kiosk (--sim: on the simulated board, "
                               "a window of the device's size, developer menu with fault "
                               "injection). Exit codes: docs/exit-codes.md.")
    add_board_arguments(parser, state_dir_help=STATE_DIR_HELP)
    parser.add_argument("--fullscreen", action="store_true",
                        help="full screen (the device's 7-inch panel)")
    parser.add_argument("--language", choices=sorted(i18n.LANGUAGES),
                        default=i18n.DEFAULT_LANGUAGE)
    parser.add_argument("--in-process", action="store_true",
                        help="run the control loop inside this process even when a control "
                             "socket is named (the default without one)")
    parser.add_argument("--socket", default=None,
                        help="be a client of the kiosk-control daemon on this socket (also "
                             "$KIOSK_CONTROL_SOCKET); without one the loop runs in this process")
    parser.add_argument("--headless", action="store_true",
                        help="the control service without a screen (with --sim, --seed, "
                             "--config, --state-dir; see 'kiosk --headless --help')")
    return parser.parse_args(argv)


def configure_kivy(*, fullscreen: bool) -> None:
    """Window settings; must run before ``kivy.core.window`` is imported."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kivy.config import Config

    Config.set("graphics", "width", "800")
    Config.set("graphics", "height", "480")
    Config.set("graphics", "resizable", "0")
    Config.set("graphics", "fullscreen", "auto" if fullscreen else "0")
    Config.set("graphics", "show_cursor", "0" if fullscreen else "1")
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("kivy", "keyboard_mode", "systemanddock" if fullscreen else "system")
    Config.set("input", "mouse", "mouse,disable_multitouch")


GIL_SWITCH_INTERVAL_S = 0.0005


def share_the_gil_with_the_control_thread() -> None:
    """Let the control thread in within half a millisecond of asking, not Python's 5 ms.

    Why: the simulated board's I2C transactions yield the GIL while they wait on the wire, and
    every yield lets the UI thread run for a whole switch interval when it is busy (building a
    screen, laying out text). Ten transactions a cycle at 5 ms each stretch a 10 ms cycle past
    the supervisor's 50 ms stall limit, and the current is cut with "loop_stall" (seen in
    bench/bench_ui.py). A shorter interval costs the UI a little throughput, nothing else.
    """
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)


def fault_injector(controller: Any) -> Any:
    """The simulated board's ``inject(name, **params)`` through the controller, or None."""
    if getattr(getattr(controller, "board", None), "sim", None) is None:
        return None
    return controller.inject


def wants_client(args: argparse.Namespace) -> bool:
    """A client of the control daemon when a socket is named (``--socket`` or
    ``$KIOSK_CONTROL_SOCKET``: the UI unit, ./run-sim) and ``--in-process`` is not given; else
    the controller runs in this process (development, the entry-point tests)."""
    return not args.in_process and bool(args.socket or os.environ.get("KIOSK_CONTROL_SOCKET"))


def wants_headless(argv: list[str]) -> bool:
    return "--headless" in argv


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if wants_headless(arguments):
        from kiosk.control.service import run_headless

        return run_headless(arguments)
    args = parse_args(arguments)  # a bad argument: exit 2 with the reason (argparse)
    if wants_client(args):  # the UI as a client of kiosk-control (which owns the state folder)
        from kiosk.ui_remote import run_remote_ui

        return exit_codes.guarded(PROG, lambda: run_remote_ui(args))
    return exit_codes.guarded(PROG, lambda: run_kiosk(args))


def run_kiosk(args: argparse.Namespace) -> int:
    """The kiosk with its window; what fails before the window opens is refused with its code."""
    from kiosk.control.service import board_config_path
    from kiosk.entry.state_dir import open_state_dir
    from kiosk.hal.config import load_board_config

    state_lock = open_state_dir(args.state_dir, sim=args.sim, prog=PROG)
    try:
        config_path = board_config_path(args.config)
        load_board_config(config_path)  # a bad file is refused here, before Kivy and a window
        return _run_app(args, config_path, state_lock.folder)
    finally:
        state_lock.release()


def _run_app(args: argparse.Namespace, config_path: Path | None, state_dir: Path) -> int:
    configure_kivy(fullscreen=args.fullscreen)
    share_the_gil_with_the_control_thread()
    from kiosk.access.provision import provision_for_sim
    from kiosk.app import KioskApp
    from kiosk.control.catalogue import load_catalogue
    from kiosk.control.limits import SafetyConfig
    from kiosk.control.service import build_controller
    from kiosk.records import records_path
    from kiosk.screens.records_view import RecordsView

    controller = build_controller(sim=args.sim, seed=args.seed, config_path=config_path,
                                  state_dir=state_dir)
    records_view = RecordsView.open(records_path(state_dir),
                                    writer=getattr(controller, "writer", None))
    safety = getattr(controller, "safety_config", None) or SafetyConfig()
    thresholds = (safety.contact_start_max_kohm, safety.contact_loss_kohm)
    if args.sim:  # the device's factory PIN comes from its first boot (image_build/service-pin)
        provision_for_sim(state_dir)
    controller.start()
    try:
        app = KioskApp(controller=controller, catalogue=load_catalogue(),
                       records_view=records_view,
                       inject=fault_injector(controller) if args.sim else None,
                       fault_names=getattr(controller, "fault_names", ()),
                       language=args.language,
                       state_dir=state_dir, contact_thresholds_kohm=thresholds)
        signal.signal(signal.SIGTERM, lambda *_a: app.stop())
        app.run()
    finally:
        controller.close()  # stops the loop (current to zero, relay open), writer, board
        if isinstance(records_view, RecordsView):
            records_view.close_store()
    return exit_codes.OK


if __name__ == "__main__":
    sys.exit(main())
