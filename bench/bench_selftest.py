"""The technician's self-test in REAL time on this machine: the real control thread, the real
drivers on the emulated bus, the simulated board with the reference load clipped on.

Prints:
1. each step's wall-clock duration and figure in a full run (the E-stop is pressed and released
   by this script as soon as the report asks), and the loop's period statistics meanwhile
   (p99, max, overruns: the steps must never block a cycle);
2. time to the safe state (K1 contacts open and DAC at zero, as the simulated board sees it)
   after STOP in the middle of the relay step, with the test current flowing (target < 25 ms).

Usage: .venv/bin/python bench/bench_selftest.py [--repeat N]
Pessimistic for the bus (the chip models run in this process), optimistic for the Pi's CPU.
"""

from __future__ import annotations

import argparse
import time

from kiosk.control.commands import RunSelfTest, Stop
from kiosk.control.service import build_controller

POLL_S = 0.01


def full_run() -> None:
    controller = build_controller(sim=True)
    controller.start()
    try:
        time.sleep(0.3)
        controller.inject("reference_load")
        before = controller.stats.overruns
        started = time.monotonic()
        controller.submit(RunSelfTest())
        sim = controller.board.sim
        assert sim is not None
        time.sleep(0.05)
        while controller.loop.service.active:
            prompt = controller.loop.service.report.prompt
            if prompt is not None and str(prompt) == "press_estop" \
                    and "estop_press" not in sim.faults.active:
                sim.inject("estop_press")
            elif prompt is not None and str(prompt) == "release_estop" \
                    and "estop_press" in sim.faults.active:
                sim.inject("estop_release")
            time.sleep(POLL_S)
        total_s = time.monotonic() - started
        report = controller.query("selftest_report")
        previous = report["last_run"]["started_s"]
        print("step            status   figure        wall duration")
        for step in report["steps"]:
            done = step["finished_s"]
            figure = "-" if step["figure"] is None else f"{step['figure']:g} {step['unit']}"
            print(f"{step['step']:15} {step['status']:8} {figure:13} "
                  f"{(done - previous) * 1000:7.0f} ms")
            previous = done
        stats = controller.loop.stats
        print(f"full run: {total_s:.2f} s, passed={report['last_run']['passed']}, "
              f"overruns during it: {stats.overruns - before}")
        summary = stats.summary() if hasattr(stats, "summary") else None
        if summary is not None:
            print(f"loop: {summary}")
    finally:
        controller.close()


def stop_mid_relays() -> float:
    controller = build_controller(sim=True)
    controller.start()
    try:
        time.sleep(0.3)
        controller.inject("reference_load")
        sim = controller.board.sim
        assert sim is not None
        controller.submit(RunSelfTest("relays"))
        deadline = time.monotonic() + 5.0
        while sim.true_current_ma() < 0.04:
            assert time.monotonic() < deadline, "the test current never flowed"
            time.sleep(0.0005)
        t0 = controller.clock.now_s()
        controller.submit(Stop())
        time.sleep(0.1)
        safe_at = sim.safe_state_reached_at_s(t0)
        assert safe_at is not None
        return (safe_at - t0) * 1000
    finally:
        controller.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    full_run()
    figures = sorted(stop_mid_relays() for _ in range(args.repeat))
    print(f"STOP mid relay step -> safe: min {figures[0]:.1f} ms, max {figures[-1]:.1f} ms "
          f"({args.repeat} runs; target < 25 ms)")


if __name__ == "__main__":
    main()
