"""Pure control core figures: cycle cost, regulation quality, time to the safe state.

Prints:
1. the cost of one ``ControlCore.step`` (wall clock on this machine, p50/p99/max) while a
   treatment holds, against the 10 ms period (the shell adds the bus time on top);
2. regulation against the pure plant model of the tests (skin R-C + compliance, gain error of
   the DAC path, a finite output impedance): settling to 2 % after a set-point step and after a
   x2 load step, overshoot, steady-state error, ramp tracking error;
3. time from an injected fault to the cycle whose actuation is the safe state, per fault, on
   the virtual clock (add the shell's apply and the relay's release for the board figure).

Usage: .venv/bin/python bench/bench_core.py [--cycles N]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kiosk.control.regulator import CurrentRegulator, output_limit_ma
from tests.control.core_rig import Rig, inject_during_hold
from tests.control.plant_model import SkinPlant

PERIOD_S = 0.010


def cycle_cost(cycles: int) -> None:
    rig = Rig.ready()
    rig.start_and_hold(area="face", indication="pigmentation")
    costs_us: list[float] = []
    for _ in range(cycles):
        m = rig.measure()
        t0 = time.perf_counter()
        result = rig.core.step(rig.now_s, m, ())
        costs_us.append((time.perf_counter() - t0) * 1e6)
        rig.apply(result.actuation)
        rig._aux_next = result.read_aux_next
        rig.plant.apply(result.actuation.dac_ma, PERIOD_S, 2)
        rig.now_s = round(rig.now_s + PERIOD_S, 9)
        if len(costs_us) % 100 == 0:
            rig.core.step(rig.now_s, rig.measure(), ())  # keep the UI heartbeat fresh
    costs_us.sort()
    p99 = costs_us[int(0.99 * len(costs_us))]
    print(f"1. core step while holding, {cycles} cycles: p50 {statistics.median(costs_us):.0f} us,"
          f" p99 {p99:.0f} us, max {costs_us[-1]:.0f} us "
          f"({p99 / (PERIOD_S * 1e6) * 100:.1f} % of the 10 ms period at p99)")


def closed_loop(regulator: CurrentRegulator, plant: SkinPlant, setpoint: float, cycles: int
                ) -> list[float]:
    out = []
    for _ in range(cycles):
        limited = plant.electrode_v >= 26.6 and plant.current_ma < setpoint * 0.98
        command = regulator.update(setpoint, plant.current_ma, PERIOD_S, output_limit_ma(2.0),
                                   limited)
        plant.apply(command, PERIOD_S)
        out.append(plant.current_ma)
    return out


def settle_ms(readings: list[float], target: float) -> float:
    last = -1
    for n, value in enumerate(readings):
        if abs(value - target) > 0.02 * target:
            last = n
    return (last + 1) * PERIOD_S * 1000


def regulation() -> None:
    print("2. regulation against the plant model (settle = within 2 %):")
    for gain in (0.88, 1.0, 1.12):
        reg, plant = CurrentRegulator(), SkinPlant(gain=gain)
        closed_loop(reg, plant, 0.5, 100)
        step = closed_loop(reg, plant, 1.2, 100)
        error = abs(step[-1] - 1.2)
        print(f"   step 0.5 -> 1.2 mA, DAC path gain {gain:.2f}: settle {settle_ms(step, 1.2):.0f}"
              f" ms, overshoot {max(0.0, max(step) / 1.2 - 1) * 100:.2f} %, steady-state error "
              f"{error * 1000:.2f} uA ({error / 1.2 * 100:.3f} %)")
    for gain in (0.9, 1.02, 1.1):
        reg, plant = CurrentRegulator(), SkinPlant(gain=gain)
        step = closed_loop(reg, plant, 1.0, 100)
        print(f"   step 0 -> 1.0 mA (no trim learnt yet), gain {gain:.2f}: settle "
              f"{settle_ms(step, 1.0):.0f} ms, overshoot {max(0.0, max(step) - 1) * 100:.2f} %")
    for factor in (2.0, 0.5):
        reg, plant = CurrentRegulator(), SkinPlant(gain=0.95, rp_kohm=10.0, r_out_kohm=300.0)
        closed_loop(reg, plant, 1.0, 200)
        plant.rp_kohm *= factor
        plant.rs_kohm *= factor
        after = closed_loop(reg, plant, 1.0, 100)
        peak = max(abs(v - 1.0) for v in after)
        print(f"   load x{factor:g} at 1.0 mA (300 kOhm output impedance): settle "
              f"{settle_ms(after, 1.0):.0f} ms, largest deviation {peak * 1000:.1f} uA")
    reg, plant = CurrentRegulator(), SkinPlant(gain=0.9)
    worst, setpoint = 0.0, 0.0
    for _ in range(3000):
        setpoint = min(1.2, setpoint + 0.04 * PERIOD_S)
        command = reg.update(setpoint, plant.current_ma, PERIOD_S, output_limit_ma(1.5))
        plant.apply(command, PERIOD_S)
        if setpoint > 0.2:
            worst = max(worst, abs(plant.current_ma - setpoint))
    print(f"   ramp 0 -> 1.2 mA at 0.04 mA/s, gain 0.90: worst tracking error "
          f"{worst * 1000:.2f} uA")


FAULTS = [
    ("contact lost (open circuit)", "contact_lost",
     lambda r: setattr(r.plant, "open_circuit", True)),
    ("short circuit", "short_circuit", lambda r: setattr(r.plant, "short_circuit", True)),
    ("over-current (reading 0.86 mA, cap 0.8)", "over_current",
     lambda r: setattr(r, "stuck_current_ma", 0.86)),
    ("regulation (DAC path at 70 %)", "regulation", lambda r: setattr(r, "dac_gain", 0.7)),
    ("readings stop updating", "sensor_stale", lambda r: setattr(r, "stale", True)),
    ("reading not a number", "sensor_range", lambda r: setattr(r, "stuck_current_ma", math.nan)),
    ("current the wrong way", "sensor_sign", lambda r: setattr(r, "stuck_current_ma", -0.05)),
    ("DAC readback off by 0.2 mA", "dac_readback",
     lambda r: setattr(r, "readback_offset_ma", 0.2)),
    ("skin too resistive (compliance)", "compliance_saturation",
     lambda r: setattr(r.plant, "rp_kohm", 40.0)),
    ("E-stop input", "estop", lambda r: setattr(r, "estop_intact", False)),
    ("HW trip input", "hw_trip", lambda r: setattr(r, "hw_trip_ok", False)),
    ("screen silent", "ui_heartbeat_lost", lambda r: setattr(r, "auto_heartbeat", False)),
    ("boost at 27 V", "boost_out_of_range", lambda r: setattr(r, "boost_v_when_on", 27.0)),
]


def time_to_safe() -> None:
    print("3. injection -> safe actuation, virtual clock, injected during hold at 0.8 mA:")
    for label, code, inject in FAULTS:
        rig = Rig.ready()
        rig.start_and_hold(area="face", indication="pigmentation", current_ma=0.8)
        rig.run(0.5)
        outcome = inject_during_hold(rig, inject)
        fault = outcome.result.snapshot.fault
        got = fault.code if fault is not None else "none"
        mark = "" if got == code else f"  (expected {code})"
        print(f"   {label:42s} {got:22s} {outcome.detect_s * 1000:7.0f} ms{mark}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=20000)
    args = parser.parse_args()
    cycle_cost(args.cycles)
    regulation()
    time_to_safe()


if __name__ == "__main__":
    main()
