"""The UI process's idle cost (issue 14, Figures): printed, never asserted.

    .venv/bin/python bench/bench_ui_idle.py [--seconds 20] [--settle 8] [--tree PATH ...]

The kiosk UI as on the device: ``kiosk-control --sim`` in one process, the touchscreen as its
client in another (``kiosk.ui_remote.run_remote_ui``, exactly what ``kiosk --socket`` runs), in a
real X window (Xvfb 800x480x24, started here when there is no ``$DISPLAY``; Mesa renders it with
llvmpipe, as the issue measured). After ``--settle`` seconds on the home screen, for
``--seconds``: the UI process's CPU (utime + stime of every thread, from ``/proc/<pid>/stat`` and
``/proc/<pid>/task/*/stat``, per thread name), the frames the window drew (``Window.on_flip``,
counted inside the UI process) and its RSS.

Two runs side by side, same machine, same minute:
- ``as built``: the UI as it is: it should draw only when something on the screen changed;
- ``redraw forced``: the same UI with ``Window.canvas.ask_update()`` every frame, i.e. what a
  UI that re-renders an unchanged screen costs here (the issue's "before": llvmpipe at 38 %).
``--tree PATH`` adds the same measurement for another checkout (e.g. a worktree of main before a
fix), so "before" and "after" are measured in one run.

Target (issue 14): under 10 % of one core on an unchanging screen, rendering only on change.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


# ---------------------------------------------------------------------------- in the UI process


def ui_child(tree: str, socket_path: str, state_dir: str, count_file: str, force: bool) -> None:
    """The UI as ``kiosk --sim --socket S --state-dir D`` runs it, plus a frame counter."""
    sys.path.insert(0, tree)
    from kiosk.cli import configure_kivy, parse_args

    configure_kivy(fullscreen=False)
    from kivy.clock import Clock
    from kivy.core.window import Window

    frames = [0]

    def flipped(*_args: object) -> None:
        frames[0] += 1

    Window.bind(on_flip=flipped)

    def report(_dt: float) -> None:  # a file write: changes no canvas, draws nothing
        Path(count_file).write_text(str(frames[0]))

    Clock.schedule_interval(report, 0.5)
    if force:
        Clock.schedule_interval(lambda _dt: Window.canvas.ask_update(), 0)
    from kiosk.ui_remote import run_remote_ui

    args = parse_args(["--sim", "--socket", socket_path, "--state-dir", state_dir])
    run_remote_ui(args)


# ---------------------------------------------------------------------------- measuring


def _ticks(stat_path: Path) -> tuple[str, int]:
    text = stat_path.read_text()
    name = text[text.index("(") + 1:text.rindex(")")]
    fields = text.rsplit(")", 1)[1].split()
    return name, int(fields[11]) + int(fields[12])  # utime + stime


def _threads(pid: int) -> dict[str, int]:
    """Ticks per thread name (threads of one name summed: llvmpipe-0, -1, ... by their name)."""
    per: dict[str, int] = defaultdict(int)
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError):
            name, ticks = _ticks(task / "stat")
            per[name] += ticks
    return dict(per)


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _frames(count_file: Path) -> int:
    try:
        return int(count_file.read_text() or 0)
    except (OSError, ValueError):
        return 0


def _env(display: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", GPIOZERO_PIN_FACTORY="mock", KIVY_NO_ARGS="1",
               KIVY_NO_CONSOLELOG="1", KIVY_HOME=tempfile.mkdtemp(prefix="kivy-home-"),
               DISPLAY=display)
    env.pop("SDL_VIDEODRIVER", None)
    env.pop("KIOSK_CONTROL_SOCKET", None)
    return env


def _start_daemon(tree: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    sys.path.insert(0, str(REPO))
    from kiosk.ipc.client import ConnectionClosed, ControlClient

    folder = tempfile.mkdtemp(prefix="kiosk-idle-")
    path = os.path.join(folder, "control.sock")
    proc = subprocess.Popen([PYTHON, "-m", "kiosk.control.daemon", "--sim", "--socket", path,
                             "--ui-user", ""], cwd=tree, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline_s = time.monotonic() + 60
    while time.monotonic() < deadline_s:
        with contextlib.suppress(OSError, ConnectionClosed, TimeoutError, ValueError), \
                ControlClient(path, timeout_s=1.0) as client:
            if client.query("selftest").get("passed"):
                return proc, path
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("daemon not ready in 60 s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def measure(label: str, tree: str, display: str, *, force: bool, settle_s: float,
            window_s: float) -> None:
    env = _env(display)
    daemon, path = _start_daemon(tree, env)
    state = tempfile.mkdtemp(prefix="kiosk-idle-state-")
    count_file = Path(tempfile.mkdtemp(prefix="kiosk-idle-frames-")) / "frames"
    ui = subprocess.Popen([PYTHON, str(Path(__file__).resolve()), "--ui-child", tree, path,
                           state, str(count_file), "1" if force else "0"],
                          cwd=tree, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    try:
        time.sleep(settle_s)
        if ui.poll() is not None:
            raise RuntimeError(f"{label}: the UI exited {ui.returncode} while settling")
        hz = os.sysconf("SC_CLK_TCK")
        _name, total_before = _ticks(Path(f"/proc/{ui.pid}/stat"))
        threads_before = _threads(ui.pid)
        frames_before = _frames(count_file)
        time.sleep(window_s)
        _name, total_after = _ticks(Path(f"/proc/{ui.pid}/stat"))
        threads_after = _threads(ui.pid)
        frames_after = _frames(count_file)
        rss = _rss_mib(ui.pid)
    finally:
        _stop(ui)
        _stop(daemon)
    cpu = 100 * (total_after - total_before) / hz / window_s
    per = {name: 100 * (ticks - threads_before.get(name, 0)) / hz / window_s
           for name, ticks in threads_after.items()}
    busiest = ", ".join(f"{name} {share:.1f}" for name, share in
                        sorted(per.items(), key=lambda item: -item[1])[:4] if share >= 0.05)
    print(f"{label:38} CPU {cpu:5.1f} % of one core  frames drawn {frames_after - frames_before:5d}"
          f" ({(frames_after - frames_before) / window_s:5.1f}/s)  RSS {rss:5.0f} MiB  "
          f"[threads %: {busiest or 'all idle'}]", flush=True)


@contextlib.contextmanager
def display() -> Iterator[str]:
    """``$DISPLAY``, or an Xvfb 800x480x24 of our own for the run."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "800x480x24",
                             "-nolisten", "tcp"], pass_fds=(write_fd,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    try:
        yield f":{number}"
    finally:
        xvfb.terminate()
        xvfb.wait()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--ui-child":
        ui_child(*sys.argv[2:6], force=sys.argv[6] == "1")
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measuring window (20)")
    parser.add_argument("--settle", type=float, default=8.0, help="before measuring (8)")
    parser.add_argument("--tree", action="append", default=[],
                        help="another checkout to measure as built (e.g. main before a fix)")
    parser.add_argument("--no-forced", action="store_true", help="skip the forced-redraw run")
    args = parser.parse_args()
    with display() as shown:
        print(f"UI process idle on the home screen (kiosk as a client of kiosk-control --sim, "
              f"X display {shown}, {args.seconds:.0f} s after {args.settle:.0f} s; "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}):", flush=True)
        for tree in args.tree:
            measure(f"as built in {Path(tree).name}", str(Path(tree).resolve()), shown,
                    force=False, settle_s=args.settle, window_s=args.seconds)
        measure("as built (this tree)", str(REPO), shown, force=False,
                settle_s=args.settle, window_s=args.seconds)
        if not args.no_forced:
            measure("redraw forced every frame", str(REPO), shown, force=True,
                    settle_s=args.settle, window_s=args.seconds)
    print("target: under 10 % of one core on an unchanging screen, drawing only on change")


if __name__ == "__main__":
    main()
