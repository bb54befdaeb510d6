"""How fast can a control cycle go through the real drivers on the emulated bus, in real time?

One cycle = what the control loop does every period: two single-shot ADC channels at 860 SPS
(shunt current and electrode voltage) and one DAC fast write, through the HAL classes and so
through the real Adafruit drivers (busy-poll included) on ``EmulatedI2C`` with the wall clock.
Bus wire time is spent for real (400 kHz); conversions last their real 1/DR.

Prints cycles/s and per-cycle p50/p99 next to the physical ceilings: 860 SPS shared by two
channels is 430 cycles/s at most; hardware.md estimates 220-290 Hz on the Pi with bus and
Python/ioctl overhead (the emulator has no ioctl, so expect to land between the two).

Usage: .venv/bin/python bench/bench_sim_bus.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, no install

from kiosk.hal.adc import FrontEndAdc
from kiosk.hal.clock import RealClock
from kiosk.hal.dac import SetpointDac
from kiosk.hal.sim.ads1115 import Ads1115Model
from kiosk.hal.sim.i2c_bus import EmulatedI2C
from kiosk.hal.sim.mcp4725 import Mcp4725Model

DAC_DIVIDER = 10.0 / 130.0
ELECTRODE_DIVIDER = 33.2 / 1033.2
LOAD_OHM = 10_000.0


def build() -> tuple[EmulatedI2C, SetpointDac, FrontEndAdc]:
    clock = RealClock()
    bus = EmulatedI2C(clock)
    dac_chip = Mcp4725Model(clock, eeprom_code=0, eeprom_pd=1)

    def inputs(_time_s: float) -> tuple[float, float, float, float]:
        vset = dac_chip.output_v() * DAC_DIVIDER
        current_a = vset / 100.0
        return (current_a * 100.0, current_a * (LOAD_OHM + 100.0) * ELECTRODE_DIVIDER,
                30.0 * ELECTRODE_DIVIDER, vset)

    bus.attach(0x62, dac_chip)
    bus.attach(0x48, Ads1115Model(clock, inputs, seed=0))
    return bus, SetpointDac(bus, clock=clock), FrontEndAdc(bus, clock=clock)


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, int(fraction * len(sorted_values)))
    return sorted_values[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    bus, dac, adc = build()
    cycle_s: list[float] = []
    code = 0
    started = time.perf_counter()
    while time.perf_counter() - started < args.seconds:
        t0 = time.perf_counter()
        adc.read_current_ma()
        adc.read_electrode_v()
        code = (code + 7) % 3000
        dac.set_code(code)
        cycle_s.append(time.perf_counter() - t0)
    total_s = time.perf_counter() - started

    ordered = sorted(cycle_s)
    print(f"cycles: {len(cycle_s)} in {total_s:.1f} s real time "
          f"(2 single-shot channels at 860 SPS + 1 DAC fast write per cycle)")
    print(f"reached:   {len(cycle_s) / total_s:7.1f} cycles/s")
    print(f"per cycle: p50 {percentile(ordered, 0.50) * 1e3:.3f} ms, "
          f"p99 {percentile(ordered, 0.99) * 1e3:.3f} ms, "
          f"max {ordered[-1] * 1e3:.3f} ms, mean {statistics.fmean(ordered) * 1e3:.3f} ms")
    print("ceiling:   430 cycles/s (860 SPS shared by two channels, no bus time);")
    print("           hardware.md estimate on the Pi: 220-290 cycles/s (3.5-4.5 ms per cycle)")
    print(f"bus log:   {len(bus.log)} recent transactions kept")


if __name__ == "__main__":
    main()
