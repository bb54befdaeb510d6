"""Records figures: append throughput and latency, and a 10 ms loop's timing under heavy logging.

Prints, for the database folder given (default: a temporary folder; on the Pi pass the SD card's
state directory, e.g. ``--dir /var/lib/kiosk/bench``):

1. raw store appends (no thread): durable (one ``synchronous=FULL`` commit, fsync, per event)
   and batched (100 events per ``NORMAL`` commit): events/s and per-commit p50/p99;
2. through the writer thread: the caller's cost of ``post()`` (what the control thread pays),
   batched events from post to commit, safety events (``severity=high`` via the non-blocking
   ``post()``) from post to durable commit, and ``post_durable()`` round trips;
3. STAND-IN control loop: a 10 ms periodic thread of this script (``StandInControlLoop``, NOT the
   real ControlLoop, which did not exist when this was written; re-point this section at
   ``kiosk.control`` ``ControlLoop`` on the wall clock once it does). It does a small fixed
   amount of work and posts an event every 10th cycle; its wake-up lateness p50/p99/max and
   overruns are printed idle and while another thread floods the writer.
4. issue 12, side by side in one run (two writers, events alternating between them): a safety
   event from ``post()`` to the end of its durable commit WITHOUT (the WAL fsync only: the
   behaviour before issue 12, ``anchor_and_checkpoint=False``) and WITH the checkpoint into
   the main file and the anchor (file written atomically + journal/log); the share of that
   cost, ``post_durable()`` round trips both ways, and the writer's periodic file check
   (inode/device of the three files + read-back of the last event through a fresh
   connection).

Usage: .venv/bin/python bench/bench_records.py [--dir DIR] [--quick] [--switch-interval-ms 1]
       [--only-durability]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, no install

from kiosk.hal.clock import RealClock
from kiosk.records import anchor as chain_anchor
from kiosk.records.events import LogEvent, stamp
from kiosk.records.store import RecordStore
from kiosk.records.writer import RecordWriter


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def line(label: str, values_s: list[float], unit: str = "ms", extra: str = "") -> None:
    scale = 1e3 if unit == "ms" else 1e6
    print(f"  {label:<44} p50 {percentile(values_s, 0.5) * scale:8.3f} {unit}"
          f"   p99 {percentile(values_s, 0.99) * scale:8.3f} {unit}"
          f"   max {max(values_s) * scale:8.3f} {unit}  {extra}")


def event(i: int, severity: str = "info") -> LogEvent:
    return LogEvent("bench.tick", "benchmark event", severity,
                    {"i": i, "current_ma": 0.8123, "load_kohm": 12.5, "state": "hold"})


def bench_store(folder: Path, durable_count: int, batched_commits: int) -> None:
    print("1. store appends (no writer thread)")
    with RecordStore.open(folder / "store.sqlite3") as store:
        times: list[float] = []
        for i in range(durable_count):
            stamped = [stamp(event(i), time.monotonic(), time.time())]
            start = time.perf_counter()
            store.append_events(stamped, durable=True)
            times.append(time.perf_counter() - start)
        line("durable, 1 event per FULL commit", times,
             extra=f"{durable_count / sum(times):9.0f} events/s")
        times = []
        for c in range(batched_commits):
            stamped = [stamp(event(c * 100 + i), time.monotonic(), time.time())
                       for i in range(100)]
            start = time.perf_counter()
            store.append_events(stamped, durable=False)
            times.append(time.perf_counter() - start)
        line("batched, 100 events per NORMAL commit", times,
             extra=f"{batched_commits * 100 / sum(times):9.0f} events/s")


class CommitClock:
    """Remembers when each sequence number was committed (the writer's on_commit)."""

    def __init__(self) -> None:
        self.committed_at: list[tuple[int, float]] = []

    def __call__(self, last_seq: int) -> None:
        self.committed_at.append((last_seq, time.perf_counter()))

    def time_of(self, seq: int) -> float:
        for last_seq, at in self.committed_at:
            if last_seq >= seq:
                return at
        return math.nan


def bench_writer(folder: Path, batched_count: int, durable_count: int) -> None:
    print("2. through the writer thread")
    commits = CommitClock()
    writer = RecordWriter(folder / "writer.sqlite3", queue_capacity=batched_count + 100,
                          on_commit=commits)
    writer.start()
    first_seq = writer.last_committed_seq + 1
    post_s: list[float] = []
    posted_at: list[float] = []
    start = time.perf_counter()
    for i in range(batched_count):
        t0 = time.perf_counter()
        writer.post(event(i))
        t1 = time.perf_counter()
        post_s.append(t1 - t0)
        posted_at.append(t0)
        if i % 100 == 99:
            time.sleep(0.001)  # a producer with pauses, not a tight loop
    writer.flush(timeout_s=60.0)
    elapsed = time.perf_counter() - start
    line("post() cost to the caller", post_s, "us")
    to_commit = [commits.time_of(first_seq + i) - posted_at[i] for i in range(batched_count)]
    line("batched: post -> committed", to_commit,
         extra=f"{batched_count / elapsed:9.0f} events/s incl. final flush")

    safety_s: list[float] = []
    for i in range(durable_count):
        seq = writer.last_committed_seq + 1
        t0 = time.perf_counter()
        writer.post(event(i, "high"))
        while writer.last_committed_seq < seq:
            time.sleep(0.0002)
        safety_s.append(commits.time_of(seq) - t0)
    line("safety via post(): post -> durable commit", safety_s)
    durable_s: list[float] = []
    for i in range(durable_count):
        t0 = time.perf_counter()
        writer.post_durable(event(i), timeout_s=10.0)
        durable_s.append(time.perf_counter() - t0)
    line("post_durable() round trip", durable_s,
         extra=f"{durable_count / sum(durable_s):9.0f} events/s")
    writer.stop()
    print(f"  healthy={writer.healthy or writer.fault is None} dropped={writer.dropped_events}")


class StandInControlLoop:
    """A 10 ms periodic thread standing in for the real control loop (see module docstring).

    Each cycle does a regulator-sized piece of arithmetic; every 10th cycle it posts one event,
    or ``events_per_cycle`` every cycle when it is the heavy producer itself.
    """

    def __init__(self, period_s: float, post: Callable[[LogEvent], bool],
                 events_per_cycle: int = 0, work_iterations: int = 300) -> None:
        self._period_s = period_s
        self._post = post
        self._events_per_cycle = events_per_cycle
        self._work = work_iterations
        self.lateness_s: list[float] = []
        self.post_s: list[float] = []
        self.overruns = 0

    def run(self, duration_s: float) -> None:
        clock = RealClock()
        deadline = clock.now_s()
        end = deadline + duration_s
        cycle = 0
        while deadline < end:
            deadline += self._period_s
            clock.sleep_until_s(deadline)
            self.lateness_s.append(clock.now_s() - deadline)
            acc = 0.0
            for k in range(self._work):
                acc += math.sin(k * 0.001) * 0.5
            if self._events_per_cycle:
                for i in range(self._events_per_cycle):
                    self._post(event(cycle * 1000 + i))
            elif cycle % 10 == 0:
                t0 = time.perf_counter()
                self._post(LogEvent("bench.loop", "state", details={"cycle": cycle, "acc": acc}))
                self.post_s.append(time.perf_counter() - t0)
            cycle += 1
            if clock.now_s() > deadline + self._period_s:
                self.overruns += 1


def flood(writer: RecordWriter, stop: threading.Event, accepted: list[int]) -> None:
    """Heavy logging from another thread: ~10 000 routine events/s offered, and a safety
    event (a durable, fsynced commit) every ~0.1 s."""
    i = 0
    while not stop.is_set():
        for _ in range(50):
            if writer.post(event(i)):
                accepted[0] += 1
            i += 1
        if i % 1000 == 0:
            writer.post(event(i, "high"))
        time.sleep(0.005)


def bench_loop(folder: Path, seconds: float) -> None:
    print(f"3. STAND-IN 10 ms loop ({seconds:.0f} s each; re-point at the real ControlLoop)")
    for case in ("writer idle", "loop itself posts 10 events/cycle",
                 "another thread floods the writer"):
        writer = RecordWriter(folder / f"loop-{len(case)}.sqlite3", queue_capacity=4096)
        writer.start()
        first_seq = writer.last_committed_seq
        stop = threading.Event()
        accepted = [0]
        flooder = threading.Thread(target=flood, args=(writer, stop, accepted), daemon=True)
        if case.startswith("another"):
            flooder.start()
        loop = StandInControlLoop(0.010, writer.post,
                                  events_per_cycle=10 if case.startswith("loop") else 0)
        loop.run(seconds)
        stop.set()
        if flooder.is_alive():
            flooder.join()
        writer.flush(timeout_s=30.0)
        written = writer.last_committed_seq - first_seq
        writer.stop(timeout_s=30.0)
        line(f"lateness, {case}", loop.lateness_s,
             extra=f"overruns {loop.overruns}/{len(loop.lateness_s)},"
                   f" {written / seconds:.0f} ev/s written, dropped {writer.dropped_events}")
        if loop.post_s:
            line("  one post() inside the loop", loop.post_s, "us")


def bench_durability(folder: Path, count: int) -> None:
    print(f"4. safety event to disk, before vs after issue 12 ({count} events each, alternating)")
    modes = {"before: WAL fsync only": False, "after: + checkpoint + anchor": True}
    writers: dict[str, RecordWriter] = {}
    clocks: dict[str, CommitClock] = {}
    for index, (label, protect) in enumerate(modes.items()):
        clocks[label] = CommitClock()
        (folder / f"mode{index}").mkdir()
        writers[label] = RecordWriter(folder / f"mode{index}" / "records.sqlite3",
                                      anchor_and_checkpoint=protect, on_commit=clocks[label],
                                      check_interval_s=3600.0)
        writers[label].start()
    to_disk: dict[str, list[float]] = {label: [] for label in modes}
    checkpoint_s: list[float] = []
    anchor_s: list[float] = []
    for i in range(count):
        for label, writer in writers.items():
            seq = writer.last_committed_seq + 1
            t0 = time.perf_counter()
            writer.post(event(i, "high"))
            while writer.last_committed_seq < seq:
                time.sleep(0.0002)
            to_disk[label].append(clocks[label].time_of(seq) - t0)
            if modes[label]:
                checkpoint_s.append(writer.last_checkpoint_s)
                anchor_s.append(writer.last_anchor_s)
            time.sleep(0.002)
    for label in modes:
        line(f"post -> durable, {label}", to_disk[label])
    line("of which the checkpoint (after)", checkpoint_s)
    line("of which the anchor file + journal (after)", anchor_s)
    for label, writer in writers.items():
        times: list[float] = []
        for i in range(count // 2):
            t0 = time.perf_counter()
            writer.post_durable(event(i), timeout_s=10.0)
            times.append(time.perf_counter() - t0)
        line(f"post_durable() round trip, {label}", times)
    for label, writer in writers.items():  # bytes the process sent to the disk (SD wear)
        before_bytes = _written_bytes()
        for i in range(count // 2):
            writer.post_durable(event(i, "high"), timeout_s=10.0)
        spent = _written_bytes() - before_bytes
        if spent >= 0:
            print(f"  disk writes per safety event, {label}: {spent / (count // 2) / 1024:.1f}"
                  " KiB (/proc/self/io write_bytes)")
    after = writers["after: + checkpoint + anchor"]
    identity = chain_anchor.FileIdentity.of(after.path)
    checks: list[float] = []
    for _ in range(count):
        t0 = time.perf_counter()
        problem = identity.problem(after.path) or after._read_back()  # the writer's own read-back
        checks.append(time.perf_counter() - t0)
        assert problem is None, problem
    line("periodic file check (3 stats + read-back)", checks)
    for label, writer in writers.items():
        wal = Path(f"{writer.path}-wal")
        size = wal.stat().st_size if wal.exists() else 0
        writer.stop()
        print(f"  {label}: WAL {size / 1024:.0f} KiB at the end, healthy={writer.fault is None}")


def _written_bytes() -> int:
    """This process's bytes sent to the block layer so far (-1 where /proc has no io file)."""
    try:
        for text in Path("/proc/self/io").read_text().splitlines():
            if text.startswith("write_bytes:"):
                return int(text.split()[1])
    except OSError:
        pass
    return -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None, help="database folder (must exist)")
    parser.add_argument("--quick", action="store_true", help="smaller counts, 3 s loops")
    parser.add_argument("--only-durability", action="store_true",
                        help="section 4 only (before/after issue 12)")
    parser.add_argument("--switch-interval-ms", type=float, default=None,
                        help="sys.setswitchinterval for the run (Python's default is 5 ms): how"
                             " long a thread holding the GIL may keep a waking loop waiting")
    args = parser.parse_args()
    if args.switch_interval_ms is not None:
        sys.setswitchinterval(args.switch_interval_ms / 1000.0)
    with tempfile.TemporaryDirectory(dir=args.dir) as folder_name:
        folder = Path(folder_name)
        print(f"records bench in {folder} (Python {sys.version.split()[0]},"
              f" GIL switch interval {sys.getswitchinterval() * 1000:.1f} ms)")
        quick = args.quick
        if args.only_durability:
            bench_durability(folder, 100 if quick else 300)
            return
        bench_store(folder, 100 if quick else 300, 50 if quick else 200)
        bench_writer(folder, 5_000 if quick else 20_000, 100 if quick else 300)
        bench_loop(folder, 3.0 if quick else 8.0)
        bench_durability(folder, 100 if quick else 300)


if __name__ == "__main__":
    main()
