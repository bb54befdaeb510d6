"""``kiosk-control``: the control daemon. Owns the board (I2C, GPIO), the control loop, the
supervisor, the shutdown path and the safety-event writer; serves the UI and ``kiosk-ctl`` on the
control socket (``docs/control-socket.md``).

Process set-up, in order: every thread SCHED_FIFO at a low priority (see DAEMON_FIFO_PRIORITY),
the CPU core (``--cpu``, else whatever ``CPUAffinity=`` gave us), memory locked (``mlockall``),
the socket, the controller (the loop thread raises itself to ``SCHED_FIFO`` 50),
the self-test on the first cycle, then the start-up heap frozen out of the garbage collector. Each
of the privileged steps that the OS refuses (a laptop, a container, a unit without the limits) is
logged once and the daemon runs anyway.

systemd: ``Type=notify``; READY=1 once the self-test passed (the loop sends it), WATCHDOG=1 from
healthy cycles, SIGTERM -> a normal stop and the safe state. The self-test failing exits 1 (no
READY: systemd fails the start and shows the fault screen), as ``kiosk --headless`` does.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import gc
import json
import logging
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from kiosk.control import queries
from kiosk.control.commands import Command
from kiosk.control.loop import CycleRecord
from kiosk.control.reasons import Code, make
from kiosk.control.service import SELFTEST_WAIT_S, Controller, build_controller
from kiosk.control.snapshot import Snapshot
from kiosk.control.supervisor import raise_thread_priority
from kiosk.control.watchdog import SystemdWatchdog
from kiosk.entry.arguments import Injection, headless_parser, parse_injection
from kiosk.entry.exit_codes import guarded
from kiosk.entry.state_dir import open_state_dir
from kiosk.ipc import protocol
from kiosk.ipc.server import ControlServer, allowed_uids, change_key

_log = logging.getLogger(__name__)

SOCKET_GROUP_ENV = "KIOSK_SOCKET_GROUP"
UI_USER_ENV = "KIOSK_UI_USER"
DEFAULT_UI_USER = "kiosk-ui"
PROG = "kiosk-control"
RECENT_EVENTS = 50
DAEMON_FIFO_PRIORITY = 10
"""Every thread of the daemon runs SCHED_FIFO, at this priority unless it raises its own (loop 50,
supervisor above it, socket 40): threads inherit it from the main thread, which takes it before
any is started. Why: the threads share one GIL. A thread at normal priority that holds the GIL
when the OS preempts it for another process keeps the real-time loop waiting for the GIL: seen
here (load 13 on two cores) as a 58 ms gap and ``loop_stall`` at idle while the records writer
and the socket thread ran at normal priority. On the device the daemon has its core to itself."""
SOCKET_FIFO_PRIORITY = 40
"""The socket thread runs real-time too, below the loop (50) and the supervisor. Why: it takes
the GIL every 10 ms; at normal priority on a busy machine the OS can preempt it while it holds
the GIL, and the loop then waits for the GIL (a priority inversion through the GIL: seen as
loop_stall / loop_overrun with the daemon under nice and load 17 here)."""
MCL_CURRENT = 1
MCL_FUTURE = 2
FLOW_MARKER_NAME = "control-current-may-flow"
FLOW_MARKER_PERIOD_S = 0.02
"""How often the daemon's main thread brings the flow marker up to date (never the loop's
thread: a file write and an fsync have no place in a 10 ms cycle)."""
RESTARTED_WHAT = "the control unit stopped while current could flow and was restarted"


# ---------------------------------------------------------------------------- the flow marker


class FlowMarker:
    """A file in the state folder that exists while current may flow (output enabled, or contact
    check, ramp or hold), written and removed by the daemon's main thread, fsynced.

    A daemon that ends with the file present (crash, SIGKILL, watchdog abort, OOM, power loss, or
    a stop while a treatment ran) left a treatment cut without a word to the person at the
    device: the next start finds the file and latches a fault (``internal_error``, "the control
    unit stopped while current could flow and was restarted"), which every client, the UI after
    its reconnect first of all, shows until a person acknowledges it. A daemon that ends at idle
    leaves no file and comes back idle with no fault. What the file says is for the journal; its
    presence alone decides (a damaged one counts)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / FLOW_MARKER_NAME
        self.left_by_previous_run: str | None = None
        try:
            self.left_by_previous_run = self.path.read_text(errors="replace")[:200] or "(empty)"
        except FileNotFoundError:
            pass
        except OSError as error:  # unreadable, a folder in its place...: still present
            self.left_by_previous_run = f"(unreadable: {error})"
        self.present = self.left_by_previous_run is not None

    def update(self, current_may_flow: bool, snapshot: Snapshot | None = None) -> None:
        """Make the file say ``current_may_flow``; a failure is logged and tried again on the
        next call (the loop's own safety never depends on this file)."""
        if current_may_flow == self.present:
            return
        try:
            if current_may_flow:
                note = {"pid": os.getpid(), "wall_time": time.time(),
                        "session_id": None if snapshot is None else snapshot.session_id,
                        "state": None if snapshot is None else str(snapshot.state)}
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
                try:
                    os.write(fd, json.dumps(note).encode())
                    os.fsync(fd)
                finally:
                    os.close(fd)
            else:
                self.path.unlink(missing_ok=True)
            self._sync_folder()
        except OSError as error:
            _log.warning("flow marker %s not updated (%s); trying again", self.path, error)
            return
        self.present = current_may_flow

    def _sync_folder(self) -> None:
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ---------------------------------------------------------------------------- process set-up


def pin_to_cpu(cpu: int | None) -> str:
    """Run this process (and every thread it starts later) on core ``cpu``; refused: logged."""
    if cpu is None:
        try:
            return f"cpus {sorted(os.sched_getaffinity(0))} (inherited)"
        except (AttributeError, OSError):
            return "unknown"
    try:
        os.sched_setaffinity(0, {cpu})
    except (AttributeError, OSError) as error:
        _log.warning("CPU affinity to core %d refused (%s); running on any core", cpu, error)
        return f"refused: {error}"
    return f"cpu {cpu}"


def make_process_realtime(priority: int) -> str | None:
    """SCHED_FIFO for the calling (main) thread, inherited by every thread it starts; None and
    one log line when the OS refuses (no CAP_SYS_NICE / LimitRTPRIO, RestrictRealtime=)."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (AttributeError, OSError) as error:
        _log.warning("real-time scheduling refused (%s); the control loop runs at normal "
                     "priority, anyway", error)
        return None
    return f"SCHED_FIFO {priority}"


def lock_memory() -> str:
    """``mlockall(MCL_CURRENT | MCL_FUTURE)``: no page of the daemon is ever paged out (a page
    fault on the loop's path is a late cycle). Refused (no CAP_IPC_LOCK, a small
    ``LimitMEMLOCK``): logged once, runs anyway."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        if libc.mlockall(MCL_CURRENT | MCL_FUTURE) != 0:
            errno = ctypes.get_errno()
            _log.warning("mlockall refused (%s); memory not locked, running anyway",
                         os.strerror(errno))
            return f"refused: {os.strerror(errno)}"
    except (OSError, AttributeError) as error:
        _log.warning("mlockall unavailable (%s); memory not locked, running anyway", error)
        return f"unavailable: {error}"
    return "locked"


def freeze_heap() -> str:
    """After start-up: everything alive now is moved out of the collector's sight, so a full
    collection later only looks at what the daemon allocates while running (little).

    No ``gc.collect()`` first: a full collection over the start-up heap holds the GIL for tens
    of milliseconds, longer than the supervisor's 50 ms stall limit on a busy machine (seen: a
    ``loop_stall`` at idle). ``gc.freeze()`` only moves the generation lists (constant time)."""
    gc.freeze()
    return f"{gc.get_freeze_count()} objects frozen"


# ---------------------------------------------------------------------------- the port


class DaemonPort:
    """What the socket server may do with the controller (kiosk.ipc.server.ControlPort)."""

    def __init__(self, controller: Controller, *, process: Mapping[str, str]) -> None:
        self.controller = controller
        self.sim = controller.board.sim is not None
        self.fault_names: tuple[str, ...] = tuple(controller.fault_names)
        self.process = dict(process)
        self.started_s = time.monotonic()
        self.events: deque[dict[str, Any]] = deque(maxlen=RECENT_EVENTS)
        self.on_change: Callable[[], None] | None = None
        self._last_key: tuple[object, ...] | None = None
        controller.loop.add_observer(self._observe)

    def _observe(self, record: CycleRecord) -> None:
        """On the control thread, after each cycle; short and never blocking: a few appends when
        the cycle had events, and one byte to the socket thread when the state changed (a
        non-blocking pipe write), so a command's effect is pushed without waiting for a tick."""
        key = change_key(record.snapshot)
        if key != self._last_key:
            self._last_key = key
            if self.on_change is not None:
                self.on_change()
        if record.events:
            for reason in record.events:
                self.events.append({"code": reason.code, "text": reason.text,
                                    "severity": str(reason.severity),
                                    "at_s": record.snapshot.time_s})

    # --- ControlPort ---------------------------------------------------------------------
    def submit(self, command: Command) -> bool | None:
        submit: Any = self.controller.submit  # a bounded queue may answer False (full)
        result = submit(command)
        return result if isinstance(result, bool) else None

    @property
    def snapshot(self) -> Snapshot:
        return self.controller.snapshot

    def lost_ui(self, why: str) -> None:
        self.controller.trip(make(Code.UI_CONNECTION_LOST, why=why[:80]), "ui_socket")

    def inject(self, name: str, params: Mapping[str, protocol.Param]) -> None:
        if name not in self.fault_names:
            raise ValueError(f"no simulated fault called {name!r}")
        self.controller.inject(name, **dict(params))

    def clear(self, name: str) -> None:
        if name not in self.fault_names:
            raise ValueError(f"no simulated fault called {name!r}")
        self.controller.clear(name)

    def query(self, what: str, args: Mapping[str, protocol.Param]) -> dict[str, Any]:
        if what == "status":
            return self.status(args)
        if what == "selftest":
            result = self.controller.selftest
            if result is None:
                return {"done": False}
            return {"done": True, "passed": result.passed,
                    "failed_checks": list(result.failed_checks),
                    "code": result.reason.code, "text": result.reason.text}
        if what == "loop_stats":
            stats: dict[str, Any] = dict(self.controller.stats.summary())
            stats["priority"] = self.controller.loop.priority_raised
            stats["supervisor_worst_gap_ms"] = \
                self.controller.loop.supervisor.worst_gap_s * 1000
            return stats
        if what == "events":
            return {"events": list(self.events)}
        if what == "fault_names":
            return {"fault_names": list(self.fault_names)}
        return queries.answer(self.controller, what, args)

    def status(self, args: Mapping[str, protocol.Param]) -> dict[str, Any]:
        s = self.controller.snapshot
        data: dict[str, Any] = {
            "state": str(s.state), "step": s.step, "time_s": s.time_s, "cycle": s.cycle,
            "session_id": s.session_id, "program_id": s.program_id,
            "target_ma": s.target_ma, "setpoint_ma": s.setpoint_ma,
            "measured_ma": s.measured_ma, "output_enabled": s.output_enabled,
            "healthy": s.healthy, "ui_heartbeat_age_s": s.ui_heartbeat_age_s,
            "fault": None if s.fault is None else {
                "code": s.fault.code, "text": s.fault.reason.text, "at_s": s.fault.at_s},
            "last_refusal": None if s.last_refusal is None else s.last_refusal.code,
            "daemon_pid": os.getpid(), "uptime_s": time.monotonic() - self.started_s,
            "sim": self.sim, "process": self.process,
        }
        sim = self.controller.board.sim
        if sim is not None:
            truth: dict[str, Any] = {
                "true_current_ma": sim.true_current_ma(), "k1_closed": sim.k1_closed(),
                "dac_output_v": sim.dac_output_v(), "hw_tripped": sim.hw_tripped(),
                "true_charge_mc": sim.true_charge_mc(),
                "now_s": self.controller.clock.now_s()}
            since_s = args.get("since_s")
            if isinstance(since_s, int | float) and not isinstance(since_s, bool):
                truth["safe_since_s"] = sim.safe_state_reached_at_s(float(since_s))
            data["board_truth"] = truth
        return data


# ---------------------------------------------------------------------------- command line


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """``kiosk --headless``'s checked arguments (kiosk.entry.arguments) plus the socket's;
    a bad one exits 2 with the reason."""
    parser = headless_parser()
    parser.prog = "kiosk-control"
    parser.description = ("The control daemon: board, control loop, supervisor, safety events; "
                          "serves the UI on the control socket (docs/control-socket.md).")
    parser.add_argument("--socket", default=None,
                        help=f"control socket (default ${protocol.SOCKET_ENV} or "
                             f"{protocol.DEFAULT_SOCKET_PATH})")
    parser.add_argument("--socket-group", default=os.environ.get(SOCKET_GROUP_ENV, "kiosk-ui"),
                        help="group of the socket (default $KIOSK_SOCKET_GROUP or kiosk-ui)")
    parser.add_argument("--socket-mode", type=lambda text: int(text, 8), default=0o660,
                        help="permission bits of the socket, octal (default 0660)")
    parser.add_argument("--ui-user", default=os.environ.get(UI_USER_ENV, DEFAULT_UI_USER),
                        help="the user besides root and our own allowed to connect "
                             "(default $KIOSK_UI_USER or kiosk-ui)")
    parser.add_argument("--cpu", type=int, default=None, help="pin the daemon to this core")
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.inject and not args.sim:
        parser.error("--inject needs --sim (faults exist only on the simulated board)")
    injections: list[Injection] = []
    for text in args.inject:
        try:
            injections.append(parse_injection(text))
        except ValueError as error:
            parser.error(f"--inject {text!r}: {error}")
    args.injections = tuple(injections)
    return args


def run_daemon(argv: Sequence[str] | None = None) -> int:
    """Exit codes as every entry point (docs/exit-codes.md): 0 after SIGTERM/SIGINT (board left
    safe), 1 when the self-test fails, 2 for a bad argument or file, 3 when the state folder is
    in use, 70 for a bug."""
    args = parse_args(argv)
    return guarded(PROG, lambda: _run_daemon(args))


def _run_daemon(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    realtime = make_process_realtime(DAEMON_FIFO_PRIORITY)
    process = {"affinity": pin_to_cpu(args.cpu), "memory": lock_memory(),
               "threads": realtime or "normal priority (real time refused)"}
    state_lock = open_state_dir(args.state_dir, sim=args.sim, prog=PROG)
    marker = FlowMarker(state_lock.folder)  # read before anything of this run can write it
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
    server: ControlServer | None = None
    try:
        port = DaemonPort(controller, process=process)
        server = ControlServer(port, protocol.socket_path(args.socket),
                               uids=allowed_uids(args.ui_user), group=args.socket_group,
                               mode=args.socket_mode,
                               on_thread_start=lambda: raise_thread_priority(
                                   SOCKET_FIFO_PRIORITY))
        server.start()
        port.on_change = server.notify_changed
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
        priority = controller.loop.priority_raised
        process["loop_priority"] = str(priority)
        if realtime is not None and (priority is None or not priority.startswith("SCHED_FIFO")):
            _log.warning("real-time scheduling refused for the control loop (%s); running "
                         "anyway at normal priority", priority or "no raise permitted")
        if marker.left_by_previous_run is not None:
            _log.error("the previous run ended while current could flow (%s): fault latched",
                       marker.left_by_previous_run)
            controller.trip(make(Code.INTERNAL_ERROR, what=RESTARTED_WHAT), "restart")
        process["heap"] = freeze_heap()
        port.process.update(process)
        summary = ", ".join(f"{key}: {value}" for key, value in process.items())
        print(f"self-test passed; control loop running ({summary})", file=sys.stderr)
        while not stop.wait(FLOW_MARKER_PERIOD_S):
            snapshot = controller.snapshot
            marker.update(protocol.current_may_flow(snapshot), snapshot)
        # Once more as the stop begins: a treatment that ended a moment ago (a closing UI's
        # Stop(SHUTDOWN), then ./run-sim's SIGTERM) must not be reported as cut at the next start;
        # one still running now was cut by this stop, and the marker stays.
        snapshot = controller.snapshot
        marker.update(protocol.current_may_flow(snapshot), snapshot)
        notifier.stopping("stopping: output to zero, relay open")
        return 0
    finally:
        for timer in timers:
            timer.cancel()
        if server is not None:
            with contextlib.suppress(Exception):
                server.stop()
        controller.close()
        state_lock.release()
        for sig, handler in previous.items():
            with contextlib.suppress(Exception):
                signal.signal(sig, handler)


def main() -> None:
    sys.exit(run_daemon())


if __name__ == "__main__":
    main()
