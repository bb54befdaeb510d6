"""``kiosk``: the console entry point (``kiosk --sim`` on the simulated board, or on the device).

``kiosk --headless [--sim] [--config FILE] [--state-dir DIR]`` runs the control service without
a screen (:func:`kiosk.control.service.run_headless`: self-test, READY and watchdog pings to
systemd, safe state on SIGTERM), so the systemd unit and the README use one entry point. It is
routed before anything of Kivy is imported.

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

SIM_STATE_DIR = Path.home() / ".local" / "state" / "galvanic-kiosk-sim"
DEFAULT_SERVICE_PIN = "2468"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kiosk", description="The galvanic treatment kiosk.")
    parser.add_argument("--sim", action="store_true",
                        help="run on the simulated board (a window of the device's size, "
                             "developer menu with fault injection)")
    parser.add_argument("--fullscreen", action="store_true",
                        help="full screen (the device's 7-inch panel)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated board")
    parser.add_argument("--config", type=Path, default=None, help="board configuration (TOML)")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="records and calibration folder (default: /var/lib/kiosk, or "
                             f"{SIM_STATE_DIR} under --sim)")
    parser.add_argument("--language", choices=sorted(i18n.LANGUAGES),
                        default=i18n.DEFAULT_LANGUAGE)
    parser.add_argument("--in-process", action="store_true",
                        help="run the control loop inside this process (development; the "
                             "default is a client of the kiosk-control daemon)")
    parser.add_argument("--socket", default=None,
                        help="the control daemon's socket (default $KIOSK_CONTROL_SOCKET or "
                             "/run/kiosk/control.sock)")
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


def state_dir_for(args: argparse.Namespace) -> Path:
    if args.state_dir is not None:
        return Path(args.state_dir)
    if args.sim:
        SIM_STATE_DIR.mkdir(parents=True, exist_ok=True)
        return SIM_STATE_DIR
    from kiosk.records import default_state_dir

    return default_state_dir()


def fault_injector(controller: Any) -> Any:
    """The simulated board's ``inject(name, **params)`` through the controller, or None."""
    if getattr(getattr(controller, "board", None), "sim", None) is None:
        return None
    return controller.inject


def wants_headless(argv: list[str]) -> bool:
    return "--headless" in argv


def main(argv: list[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if wants_headless(arguments):
        from kiosk.control.service import run_headless

        return run_headless(arguments)
    args = parse_args(arguments)
    configure_kivy(fullscreen=args.fullscreen)
    if not args.in_process:
        from kiosk.ui_remote import run_remote_ui

        return run_remote_ui(args)
    share_the_gil_with_the_control_thread()
    from kiosk.app import KioskApp
    from kiosk.control.catalogue import load_catalogue
    from kiosk.control.limits import SafetyConfig
    from kiosk.control.service import build_controller
    from kiosk.records import records_path
    from kiosk.screens.records_view import RecordsView

    state_dir = state_dir_for(args)
    controller = build_controller(sim=args.sim, seed=args.seed, config_path=args.config,
                                  state_dir=state_dir)
    records_view = RecordsView.open(records_path(state_dir),
                                    writer=getattr(controller, "writer", None))
    safety = getattr(controller, "safety_config", None) or SafetyConfig()
    thresholds = (safety.contact_start_max_kohm, safety.contact_loss_kohm)
    controller.start()
    try:
        app = KioskApp(controller=controller, catalogue=load_catalogue(),
                       records_view=records_view,
                       inject=fault_injector(controller) if args.sim else None,
                       fault_names=getattr(controller, "fault_names", ()),
                       language=args.language,
                       service_pin=os.environ.get("KIOSK_SERVICE_PIN", DEFAULT_SERVICE_PIN),
                       contact_thresholds_kohm=thresholds)
        signal.signal(signal.SIGTERM, lambda *_a: app.stop())
        app.run()
    finally:
        controller.close()  # stops the loop (current to zero, relay open), writer, board
        if isinstance(records_view, RecordsView):
            records_view.close_store()
    return 0


if __name__ == "__main__":
    sys.exit(main())
