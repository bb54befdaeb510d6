"""``kiosk-ctl``: the status tool for the technician on the serial console, and for tests.

Read-only by default: it connects as a monitor (never takes control) and prints the state, the
current, the latched fault, the loop figures and the last events. ``--json`` prints the raw
answers; ``--watch`` prints a line per snapshot until Ctrl-C.

    kiosk-ctl [--socket PATH] [status|selftest|loop|events|watch] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from kiosk.ipc import protocol as p
from kiosk.ipc.client import ConnectionClosed, ControlClient

EXIT_UNREACHABLE = 3


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kiosk-ctl", description=__doc__.split("\n\n")[0])
    parser.add_argument("what", nargs="?", default="status",
                        choices=["status", "selftest", "loop", "events", "watch"])
    parser.add_argument("--socket", default=None,
                        help=f"control socket (default ${p.SOCKET_ENV} or "
                             f"{p.DEFAULT_SOCKET_PATH})")
    parser.add_argument("--json", action="store_true", help="print the raw answer as JSON")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds to wait (2)")
    return parser.parse_args(list(argv) if argv is not None else None)


def _fmt_status(data: dict[str, Any]) -> list[str]:
    fault = data.get("fault")
    lines = [
        f"state       {data['state']}{' / ' + data['step'] if data.get('step') else ''}",
        f"current     {data['measured_ma']:.3f} mA measured, {data['setpoint_ma']:.3f} mA set, "
        f"{data['target_ma']:.3f} mA target, output {'ON' if data['output_enabled'] else 'off'}",
        f"fault       {'none' if fault is None else fault['code'] + ': ' + fault['text']}",
        f"healthy     {data['healthy']}",
        f"session     {data.get('session_id') or '-'}  program {data.get('program_id') or '-'}",
        f"daemon      pid {data['daemon_pid']}, up {data['uptime_s']:.0f} s, "
        f"{data['connections']} connection(s), controlling: {data['controlling_client'] or '-'}",
        "process     " + ", ".join(f"{k}: {v}" for k, v in data.get("process", {}).items()),
    ]
    truth = data.get("board_truth")
    if truth:
        lines.append(f"sim truth   {truth['true_current_ma']:.3f} mA true, "
                     f"K1 {'closed' if truth['k1_closed'] else 'open'}, "
                     f"DAC {truth['dac_output_v']:.3f} V")
    return lines


def _fmt_loop(data: dict[str, Any]) -> list[str]:
    return [f"cycles {data['cycles']}, overruns {data['overruns']}, "
            f"unhealthy {data['unhealthy_cycles']}, i2c errors {data['i2c_errors']}",
            f"period ms p50 {data['period_ms_p50']:.2f} p99 {data['period_ms_p99']:.2f} "
            f"max {data['period_ms_max']:.2f}; lateness ms p99 {data['lateness_ms_p99']:.2f} "
            f"max {data['lateness_ms_max']:.2f}",
            f"priority {data.get('priority')}, supervisor worst gap "
            f"{data.get('supervisor_worst_gap_ms', 0.0):.1f} ms"]


def _fmt_events(data: dict[str, Any]) -> list[str]:
    return [f"{e['at_s']:12.3f}  {e['severity']:6}  {e['code']}: {e['text']}"
            for e in data["events"]] or ["(no events since the daemon started)"]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        client = ControlClient(args.socket, role="monitor", name="kiosk-ctl",
                               timeout_s=args.timeout)
    except (OSError, ConnectionClosed) as error:
        print(f"kiosk-ctl: control unit not answering on {p.socket_path(args.socket)}: {error}",
              file=sys.stderr)
        return EXIT_UNREACHABLE
    with client:
        if args.what == "watch":
            try:
                while True:
                    client.receive(1.0)
                    s = client.snapshot
                    if s is not None:
                        print(f"{time.strftime('%H:%M:%S')} {s.state:13} "
                              f"{s.measured_ma:6.3f} mA  fault "
                              f"{s.fault.code if s.fault else '-'}", flush=True)
            except (KeyboardInterrupt, ConnectionClosed):
                return 0
        query = {"loop": "loop_stats"}.get(args.what, args.what)
        data = client.query(query)
        if args.json:
            print(json.dumps(data, indent=2, sort_keys=True, default=str))
            return 0
        if args.what == "status":
            lines = _fmt_status(data)
            lines += ["", *_fmt_loop(client.query("loop_stats")), "", "last events:",
                      *_fmt_events(client.query("events"))[-10:]]
        elif args.what == "loop":
            lines = _fmt_loop(data)
        elif args.what == "events":
            lines = _fmt_events(data)
        else:
            lines = [f"{k}: {v}" for k, v in data.items()]
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
