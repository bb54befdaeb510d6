"""The control daemon and its UI client (issue 14): printed figures, never asserted.

    .venv/bin/python bench/bench_daemon.py [--seconds 600] [--only latency,ui,loop]

1. Tap-to-command latency through the socket: from ``RemoteController.submit`` in this process to
   the pushed snapshot that shows the command's effect arriving back here (the full round trip:
   socket, the control loop's next cycle, the push). Two commands that the idle core refuses with
   different codes alternate, so every sample changes the snapshot and nothing else happens.
2. The UI process (``kiosk`` as a client) on its unchanging home screen in a real X window
   (Xvfb, Mesa llvmpipe; bench/bench_ui_idle.py): CPU over 20 s (all its threads), frames
   drawn, RSS; beside it the same UI forced to redraw every frame.
3. The loop side by side, each for ``--seconds`` at a 1.0 mA plateau on the simulated board
   (decollete.ageing; see PLATEAU_MA): (a) the daemon alone, a bench client holding the
   treatment; (b) in-process with the real Kivy window forcing a redraw every frame; (c) the
   daemon plus the UI client in its own process forcing a redraw every frame; (d) as (c) with
   a CPU hog on every core but the daemon's. Loop period p50/p99/max, overruns and faults over
   the whole run (ramp included); the ratios of (c) and (d) to (a). Targets: (c), (d) p99
   within 1 ms of 10 ms, no overrun, no
   fault.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kiosk.control.catalogue import load_catalogue

CONSENT = load_catalogue().consent_version  # the packaged catalogue's (a consenting client)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PYTHON = sys.executable
PLATEAU_TIMEOUT_S = 90.0
PLATEAU_MA = 1.0
"""Not the issue's 1.5 mA: the simulated board's default skin (about 21 kOhm) reaches the 24 V
compliance limit near 1.1 mA, and the ramp is then held below the plateau (compliance_warning)
for the whole run; 1.0 mA holds a true plateau."""


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", GPIOZERO_PIN_FACTORY="mock", KIVY_NO_ARGS="1",
               KIVY_NO_CONSOLELOG="1", KIVY_HOME=tempfile.mkdtemp(prefix="kivy-home-"))
    if not env.get("DISPLAY"):
        env.setdefault("SDL_VIDEODRIVER", "offscreen")
    env.update(extra)
    return env


def _program() -> Any:
    from kiosk.control.commands import ProgramRequest

    return ProgramRequest("decollete", "ageing", current_ma=PLATEAU_MA, current_stage_s=900)


def _start_daemon(cpu: int | None = None) -> tuple[subprocess.Popen[bytes], str]:
    folder = tempfile.mkdtemp(prefix="kiosk-bench-")
    path = os.path.join(folder, "control.sock")
    args = [PYTHON, "-m", "kiosk.control.daemon", "--sim", "--socket", path, "--ui-user", ""]
    if cpu is not None:
        args += ["--cpu", str(cpu)]
    with open(os.path.join(folder, "daemon.log"), "wb") as log:
        proc = subprocess.Popen(args, cwd=REPO, env=_env(), stdout=subprocess.DEVNULL,
                                stderr=log)
    from kiosk.ipc.client import ConnectionClosed, ControlClient

    deadline_s = time.monotonic() + 30
    while time.monotonic() < deadline_s:
        with contextlib.suppress(OSError, ConnectionClosed, TimeoutError), \
                ControlClient(path, timeout_s=1.0) as client:
            if client.query("selftest").get("passed"):
                return proc, path
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("daemon not ready")


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _daemon_figures(path: str) -> dict[str, Any]:
    from kiosk.ipc.client import ControlClient

    with ControlClient(path) as client:
        stats = client.query("loop_stats")
        events = client.query("events")["events"]
        status = client.query("status")
    stats["faults"] = sorted({e["code"] for e in events if e["severity"] == "high"})
    stats["fault_times"] = [f"{e['code']}@{e['at_s'] - status['time_s']:+.1f}s"
                            for e in events if e["severity"] == "high"]
    stats["state"] = status["state"]
    return stats


# ---------------------------------------------------------------------------- 1. latency


def bench_latency(samples: int = 400) -> None:
    from kiosk.control.commands import AdjustCurrent, Resume
    from kiosk.ipc.client import RemoteController

    proc, path = _start_daemon()
    remote = RemoteController(path, name="bench")
    remote.start()
    remote.wait_connected(5)
    latencies_ms: list[float] = []
    try:
        pairs = [(AdjustCurrent(0.05), None), (Resume("no-such-session"), None)]
        for index in range(samples):
            command = pairs[index % 2][0]
            before = remote.snapshot.last_refusal
            started_s = time.monotonic()
            remote.submit(command)
            while remote.snapshot.last_refusal is before or (
                    before is not None and remote.snapshot.last_refusal == before):
                if time.monotonic() - started_s > 1.0:
                    break
                time.sleep(0.0002)
            else:
                latencies_ms.append((time.monotonic() - started_s) * 1000)
            time.sleep(0.013)  # not in phase with the 10 ms loop
    finally:
        remote.stop()
        _stop(proc)
    latencies_ms.sort()
    p99 = latencies_ms[min(len(latencies_ms) - 1, int(0.99 * len(latencies_ms)))]
    print(f"tap-to-command through the socket ({len(latencies_ms)}/{samples} samples, submit "
          f"to the effect's snapshot back in the client): p50 "
          f"{statistics.median(latencies_ms):.1f} ms, p99 {p99:.1f} ms, max "
          f"{latencies_ms[-1]:.1f} ms (target p99 < 20 ms)")


# ---------------------------------------------------------------------------- 2. the UI process


def bench_ui_idle(window_s: float = 20.0, settle_s: float = 8.0) -> None:
    """The UI client on its home screen in a real X window: bench/bench_ui_idle.py's measure
    (CPU of every thread from /proc, frames drawn, RSS), as built and with a redraw forced."""
    import bench_ui_idle as idle

    display = os.environ["DISPLAY"]
    for label, force in (("UI client idle, as built", False),
                         ("UI client, redraw forced every frame", True)):
        idle.measure(label, str(REPO), display, force=force, settle_s=settle_s,
                     window_s=window_s)


# ---------------------------------------------------------------------------- 3. the loop


def _hold_with_client(path: str, seconds: float) -> None:
    """(a): a bench client (no window) starts the treatment and heartbeats at 15 Hz."""
    from kiosk.control.commands import Heartbeat, StartTreatment, Stop, StopReason
    from kiosk.control.snapshot import TreatmentState
    from kiosk.ipc.client import RemoteController

    remote = RemoteController(path, name="bench-a")
    remote.start()
    remote.wait_connected(5)
    remote.submit(StartTreatment(_program(), "bench-a", screening_cleared=True,
                                 consent_version=CONSENT))
    end_s = time.monotonic() + seconds + PLATEAU_TIMEOUT_S
    held_since: float | None = None
    while time.monotonic() < end_s:
        remote.submit(Heartbeat())
        if held_since is None and remote.snapshot.state is TreatmentState.HOLD:
            held_since = time.monotonic()
            end_s = held_since + seconds
        if remote.snapshot.fault is not None:
            break
        time.sleep(1 / 15)
    remote.submit(Stop(StopReason.SHUTDOWN))
    remote.close()


def ui_process_main(path: str, seconds: float) -> None:
    """(c), (d): the kiosk UI as a client in this process, a redraw forced every frame; it starts
    the treatment itself (as the beautician would) and holds the plateau for ``seconds``."""
    from kiosk.cli import configure_kivy

    configure_kivy(fullscreen=False)
    from kivy.clock import Clock
    from kivy.core.window import Window

    from kiosk.app import KioskApp
    from kiosk.control.catalogue import load_catalogue
    from kiosk.control.commands import StartTreatment
    from kiosk.control.snapshot import TreatmentState
    from kiosk.ipc.client import RemoteController
    from kiosk.records import records_path
    from kiosk.screens.records_view import RecordsView

    remote = RemoteController(path, name="bench-ui")
    remote.start()
    remote.wait_connected(5)
    app = KioskApp(controller=remote, catalogue=load_catalogue(),
                   records_view=RecordsView.open(records_path(tempfile.mkdtemp())))
    held: dict[str, float] = {}

    def tick(_dt: float) -> None:
        Window.canvas.ask_update()  # a redraw every frame, as with a live plot
        snapshot = remote.snapshot
        if "t" not in held and snapshot.state is TreatmentState.HOLD:
            held["t"] = time.monotonic()
        if snapshot.fault is not None or ("t" in held and time.monotonic() - held["t"] > seconds):
            app.stop()

    def start(_dt: float) -> None:
        app.submit(StartTreatment(_program(), "bench-ui", screening_cleared=True,
                                  consent_version=CONSENT))
        Clock.schedule_interval(tick, 0)

    Clock.schedule_once(start, 1.0)
    Clock.schedule_once(lambda _dt: app.stop(), seconds + PLATEAU_TIMEOUT_S)
    try:
        app.run()
    finally:
        remote.close()


def in_process_main(seconds: float, out: str) -> None:
    """(b): ``kiosk --in-process --sim`` as built today, a redraw forced every frame."""
    from kiosk.cli import configure_kivy, share_the_gil_with_the_control_thread

    configure_kivy(fullscreen=False)
    share_the_gil_with_the_control_thread()
    from kivy.clock import Clock
    from kivy.core.window import Window

    from kiosk.app import KioskApp
    from kiosk.control.catalogue import load_catalogue
    from kiosk.control.commands import StartTreatment
    from kiosk.control.service import build_controller
    from kiosk.control.snapshot import TreatmentState
    from kiosk.records import records_path
    from kiosk.screens.records_view import RecordsView

    state = tempfile.mkdtemp()
    controller = build_controller(sim=True, state_dir=Path(state))
    controller.start()
    app = KioskApp(controller=controller, catalogue=load_catalogue(),
                   records_view=RecordsView.open(records_path(state), writer=controller.writer))
    held: dict[str, float] = {}
    faults: set[str] = set()

    def tick(_dt: float) -> None:
        Window.canvas.ask_update()
        snapshot = controller.snapshot
        if snapshot.fault is not None:
            faults.add(snapshot.fault.code)
            app.stop()
        if "t" not in held and snapshot.state is TreatmentState.HOLD:
            held["t"] = time.monotonic()
        if "t" in held and time.monotonic() - held["t"] > seconds:
            app.stop()

    def start(_dt: float) -> None:
        app.submit(StartTreatment(_program(), "bench-b", screening_cleared=True,
                                  consent_version=CONSENT))
        Clock.schedule_interval(tick, 0)

    Clock.schedule_once(start, 1.0)
    Clock.schedule_once(lambda _dt: app.stop(), seconds + PLATEAU_TIMEOUT_S)
    try:
        app.run()
    finally:
        stats: dict[str, Any] = dict(controller.stats.summary())
        stats["faults"] = sorted(faults)
        stats["state"] = str(controller.snapshot.state)
        controller.close()
        Path(out).write_text(json.dumps(stats))


def _hogs(cpus: list[int]) -> list[subprocess.Popen[bytes]]:
    code = "import os,sys; os.sched_setaffinity(0, {int(sys.argv[1])})\nwhile True: pass"
    return [subprocess.Popen([PYTHON, "-c", code, str(cpu)]) for cpu in cpus]


def bench_loop(seconds: float, configs: str = "abcd") -> None:
    cpus = sorted(os.sched_getaffinity(0))
    daemon_cpu = cpus[-1]
    others = [c for c in cpus if c != daemon_cpu] or cpus
    results: dict[str, dict[str, Any]] = {}

    if "a" in configs:
        proc, path = _start_daemon()
        try:
            _hold_with_client(path, seconds)
            results["(a) loop alone (daemon)"] = _daemon_figures(path)
        finally:
            _stop(proc)

    if "b" in configs:
        out = tempfile.mktemp(suffix=".json")
        subprocess.run([PYTHON, __file__, "--in-process-child", str(seconds), out], cwd=REPO,
                       env=_env(), check=False, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        results["(b) in-process, window redrawing"] = json.loads(Path(out).read_text())

    for label, hog in (("(c) daemon + UI client redrawing", False),
                       ("(d) as (c) + CPU hog on other cores", True)):
        if label[1] not in configs:
            continue
        proc, path = _start_daemon(cpu=daemon_cpu)
        hogs = _hogs(others) if hog else []
        try:
            # The UI is not pinned: on a two-core machine shared with other work, a UI pinned to
            # the one other core was starved for 1.6 s (ui_heartbeat_lost); on the Pi it has
            # three cores (CPUAffinity=0-2 in its unit).
            subprocess.run([PYTHON, __file__, "--ui-child", str(seconds), path], cwd=REPO,
                           env=_env(), check=False, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            results[label] = _daemon_figures(path)
        finally:
            for h in hogs:
                h.kill()
            _stop(proc)

    base_p99 = results.get("(a) loop alone (daemon)", {}).get("period_ms_p99", 10.0)
    print(f"\nloop side by side, {seconds:.0f} s at the {PLATEAU_MA} mA plateau each (figures "
          f"over the whole run, ramp included); this machine: {len(cpus)} cores, load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"{'':38} {'cycles':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'overruns':>8} "
          f"{'p99/(a)':>7}  faults")
    for label, r in results.items():
        print(f"{label:38} {r['cycles']:7d} {r['period_ms_p50']:7.2f} {r['period_ms_p99']:7.2f} "
              f"{r['period_ms_max']:7.2f} {r['overruns']:8d} "
              f"{r['period_ms_p99'] / base_p99:7.2f}  "
              f"{', '.join(r.get('fault_times', r['faults'])) or '-'}"
              f" (ended {r['state']})")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--ui-child":
        ui_process_main(sys.argv[3], float(sys.argv[2]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--in-process-child":
        in_process_main(float(sys.argv[2]), sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0,
                        help="plateau time per configuration of the loop bench (600)")
    parser.add_argument("--only", default="latency,ui,loop")
    parser.add_argument("--configs", default="abcd", help="which of the loop runs (abcd)")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    import bench_ui_idle as idle

    with idle.display() as display:  # $DISPLAY, or an Xvfb of our own: windows as on a screen
        os.environ["DISPLAY"] = display
        print(f"bench_daemon: X display {display}; {os.cpu_count()} cores, load average "
              f"{os.getloadavg()[0]:.1f}", flush=True)
        if "latency" in parts:
            bench_latency()
        if "ui" in parts:
            bench_ui_idle()
        if "loop" in parts:
            bench_loop(args.seconds, args.configs)


if __name__ == "__main__":
    main()
