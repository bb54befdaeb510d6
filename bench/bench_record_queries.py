"""Service-query figures in REAL time on this machine: how long the event log viewer's queries
and the device record's save hold the thread that answers them (the daemon answers every client
from one socket thread, so every query must stay short).

Prints, for a log of N events (``--events``, default 50 000, written through the real writer):
1. ``events_page`` newest page, a middle page, the last page; with a kind + severity filter; with
   a date filter (each the median and max of ``--repeat`` calls);
2. one ``verify_log`` step (VERIFY_ROWS_PER_STEP rows) and the whole log in steps; against the
   one-shot ``RecordStore.verify_chain`` on the same file;
3. ``event_detail`` of a row with a session, ``device_record``;
4. one save of the usage counters (temp file, fsync, rename, fsync of the folder);
5. what counting costs the control thread: ``UsageCounter.observe`` per cycle (CPU time).

Usage: .venv/bin/python bench/bench_record_queries.py [--events N] [--repeat R]
The SD card of the device is slower than this machine's disk and its CPU slower too: run it on
the device for the figures that count.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.control.log_queries import VERIFY_ROWS_PER_STEP
from kiosk.control.service import build_controller
from kiosk.control.watchdog import SystemdWatchdog
from kiosk.hal.sim.clock import VirtualClock
from kiosk.records.events import LogEvent
from kiosk.records.store import RecordStore, records_path


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder)
        c = build_controller(sim=True, clock=VirtualClock(), state_dir=state,
                             notifier=SystemdWatchdog(env={}))
        try:
            c.run_for(0.3)
            writer = c.writer
            assert writer is not None
            severities = ("info", "medium", "high")
            for i in range(args.events):
                while not writer.post(LogEvent(f"service.bench_{i % 7}", f"bench event {i}",
                                                severities[i % 3], details={"i": i},
                                                session_id=f"s{i // 100}")):
                    writer.flush()
                if i % 500 == 499:
                    writer.flush()
            writer.flush()
            total = c.query("events_page")["total"]
            pages = c.query("events_page")["pages"]
            print(f"log: {total} events, {pages} pages of 8")
            cases: list[tuple[str, Callable[[], Any]]] = [
                ("events_page newest", lambda: c.query("events_page")),
                ("events_page middle", lambda: c.query("events_page", page=pages // 2)),
                ("events_page last", lambda: c.query("events_page", page=pages - 1)),
                ("events_page kind+severity", lambda: c.query("events_page", kind="service",
                                                              severity="high")),
                ("events_page date today", lambda: c.query(
                    "events_page", date_from=time.strftime("%Y-%m-%d"))),
                ("event_detail (session)", lambda: c.query("event_detail", seq=total // 2)),
                ("device_record", lambda: c.query("device_record")),
                ("verify_log one step", lambda: c.query("verify_log")),
            ]
            for name, call in cases:
                median, worst = timed(call, args.repeat)
                print(f"{name:28s} median {median:7.1f} ms  max {worst:7.1f} ms")

            def whole() -> int:
                answer = c.query("verify_log")
                steps = 1
                while not answer["done"]:
                    answer = c.query("verify_log", next_seq=answer["next_seq"],
                                     previous_hash=answer["previous_hash"])
                    steps += 1
                assert answer["ok"]
                return steps
            start = time.perf_counter()
            steps = whole()
            print(f"verify_log whole log         {(time.perf_counter() - start) * 1000:7.1f} ms"
                  f" in {steps} steps of {VERIFY_ROWS_PER_STEP}")
            store = RecordStore.open(records_path(state), read_only=True, check_integrity=False)
            start = time.perf_counter()
            assert store.verify_chain().ok
            print(f"verify_chain one shot        {(time.perf_counter() - start) * 1000:7.1f} ms")
            store.close()
            record = c.device_record
            assert record is not None
            median, worst = timed(record.save, args.repeat)
            print(f"{'counters save (fsync)':28s} median {median:7.1f} ms  max {worst:7.1f} ms")
            records: list[Any] = []
            c.loop.add_observer(records.append)
            c.run_for(1.0)
            cycles = len(records)
            start = time.process_time()
            for _ in range(10):
                for cycle in records:
                    record.counter.observe(cycle)
            per_cycle_us = (time.process_time() - start) / (10 * cycles) * 1e6
            print(f"{'observe() per cycle':28s} {per_cycle_us:7.1f} us CPU ({cycles} cycles x 10)")
        finally:
            c.close()


if __name__ == "__main__":
    main()
