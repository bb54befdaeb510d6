"""SR-031: a shunt reading that stops changing while current flows is a stuck converter.

The pure rule (``FrozenReadingMonitor``), the core on the test plant with a quantised, noisy
ADC in front of it (a stuck value equal to the real current passes every other check), and the
simulated board's ``adc_stuck`` fault timed on the virtual clock.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

import pytest

from kiosk.control.commands import Heartbeat, ProgramRequest, StartTreatment
from kiosk.control.cycle import Measurements
from kiosk.control.monitors import FROZEN_READINGS_COUNT, FrozenReadingMonitor
from kiosk.control.service import build_controller
from kiosk.control.snapshot import TreatmentState
from kiosk.control.watchdog import SystemdWatchdog
from kiosk.hal.sim.clock import VirtualClock
from tests.consent_version import CONSENT
from tests.control.core_rig import PERIOD_S, Rig, inject_during_hold
from tools.traceability import FigureRecorder

pytestmark = pytest.mark.requirement("SR-031")

S = TreatmentState
LSB_MA = 0.00015625  # AIN0 at gain 8 over the 100 Ω shunt (hardware.md 5)


@dataclass
class NoisyAdcRig(Rig):
    """The core rig with AIN0 read like an ADS1115: Gaussian noise, then whole counts."""

    noise_lsb: float = 1.0
    rng: random.Random = field(default_factory=lambda: random.Random(31))

    def measure(self) -> Measurements:
        m = super().measure()
        if self.stuck_current_ma is not None:
            return m
        counts = round(m.current_ma / LSB_MA + self.rng.gauss(0.0, self.noise_lsb))
        return replace(m, current_ma=counts * LSB_MA)


def noisy_rig(noise_lsb: float = 1.0) -> NoisyAdcRig:
    rig = NoisyAdcRig.ready(noise_lsb=noise_lsb)
    rig.core.watch_frozen_readings()
    return rig


def test_the_threshold_trips_at_the_30th_identical_reading_not_before() -> None:
    monitor = FrozenReadingMonitor(FROZEN_READINGS_COUNT)
    trips = [monitor.update(True, 0.6, i * PERIOD_S) for i in range(FROZEN_READINGS_COUNT)]
    assert trips[:-1] == [None] * (FROZEN_READINGS_COUNT - 1)
    assert trips[-1] == pytest.approx((FROZEN_READINGS_COUNT - 1) * PERIOD_S)


def test_a_repeated_sample_time_is_not_a_new_reading() -> None:
    monitor = FrozenReadingMonitor(3)
    assert monitor.update(True, 0.6, 0.00) is None
    assert monitor.update(True, 0.6, 0.01) is None
    assert monitor.update(True, 0.6, 0.01) is None  # the same reading again (failed read)
    assert monitor.update(True, 0.6, 0.02) == pytest.approx(0.02)


def test_one_changed_reading_or_no_current_starts_the_count_over() -> None:
    monitor = FrozenReadingMonitor(3)
    monitor.update(True, 0.6, 0.00)
    monitor.update(True, 0.6, 0.01)
    assert monitor.update(True, 0.6 + LSB_MA, 0.02) is None
    assert monitor.update(False, 0.6 + LSB_MA, 0.03) is None
    assert monitor.update(True, 0.6 + LSB_MA, 0.04) is None
    assert monitor.update(True, 0.6 + LSB_MA, 0.05) is None


def test_a_reading_frozen_at_the_true_current_latches_sensor_stale_within_0_3_s(
        safety_figure: FigureRecorder) -> None:
    rig = noisy_rig()
    rig.start_and_hold(current_ma=0.6)
    frozen_ma = rig.measure().current_ma  # exactly what the converter showed last: plausible
    outcome = inject_during_hold(rig, lambda r: setattr(r, "stuck_current_ma", frozen_ma))
    fault = outcome.result.snapshot.fault
    assert fault is not None and fault.code == "sensor_stale"
    safe_after_ms = outcome.detect_s * 1000.0
    safety_figure("safe_after_ms", safe_after_ms, "ms", limit=500.0)
    assert safe_after_ms <= FROZEN_READINGS_COUNT * PERIOD_S * 1000.0 + 1.0
    assert not outcome.result.actuation.output_relay_closed
    assert outcome.result.actuation.dac_ma == 0.0


@pytest.mark.parametrize("noise_lsb", [1.0, 0.6])
def test_a_quiet_live_adc_holds_a_minute_without_a_false_trip(noise_lsb: float) -> None:
    rig = noisy_rig(noise_lsb)
    rig.plant_substeps = 2
    rig.start_and_hold(current_ma=0.6)
    rig.run(60.0)
    assert rig.core.fault is None
    assert rig.core.state is S.HOLD


def test_without_current_a_steady_reading_is_no_fault() -> None:
    rig = noisy_rig()
    rig.stuck_current_ma = 0.0  # idle: the output is open, zero is the right reading
    rig.run(2.0)
    assert rig.core.fault is None


def test_a_stuck_adc_on_the_board_reaches_the_safe_state_within_80_ms(
        safety_figure: FigureRecorder) -> None:
    """Every channel returns the same pin voltage: the DAC readback or the boost reading on the
    next aux cycle (every 5th) exposes it first, well before the frozen-reading count."""
    built = build_controller(sim=True, clock=VirtualClock(), seed=7,
                             notifier=SystemdWatchdog(env={}))
    try:
        built.submit(StartTreatment(ProgramRequest("face", "pigmentation", current_ma=0.6,
                                                   current_stage_s=120), "s1", True,
                                    consent_version=CONSENT))
        while built.snapshot.state is not S.HOLD:
            built.submit(Heartbeat())
            built.run_for(0.1)
            assert built.clock.now_s() < 60.0
        built.submit(Heartbeat())
        built.run_for(0.5)
        sim = built.board.sim
        assert sim is not None
        injected_at_s = built.clock.now_s()
        built.inject("adc_stuck", value_v=0.06)  # = 0.6 mA on the shunt: a plausible reading
        built.run_for(0.2)
        fault = built.snapshot.fault
        assert fault is not None and fault.code in {"dac_readback", "boost_out_of_range"}
        safe_at_s = sim.safe_state_reached_at_s(injected_at_s)
        assert safe_at_s is not None
        safe_after_ms = (safe_at_s - injected_at_s) * 1000.0
        safety_figure("safe_after_ms", safe_after_ms, "ms", limit=80.0)
        assert safe_after_ms < 80.0
    finally:
        built.close()
