"""Both sides of the two contact rules that judge every set-point (issue 12 item 1, SR-048):
the open-load rule and the compliance-held rule of ``SafetyMonitors._contact``.

They came with the merge after the last mutation run; the threshold tests of
``test_thresholds_monitors.py`` exercise them only through readings far past their edges. Here
each is fed readings just under and just over its edge, with every other contact rule kept
silent (set-points under the 0.05 mA sag rule, loads under the high-load rule, voltages under the
25.2 V open-node rule), on 10 ms readings from a non-zero start. The expected voltages are worked
out by hand in the comments from domain.md section 6 ("Contact loss during current": 100 kΩ,
service range 50-200 kΩ), hardware.md 5 (0.1 kΩ shunt inside V_OUT) and the polarisation
allowance of 2 V (hardware.md 6: E_pol 0.5-1.5 V, plus 0.5 V).
"""

from __future__ import annotations

import dataclasses

import pytest

from kiosk.control.cycle import Measurements
from kiosk.control.limits import SafetyConfig
from kiosk.control.monitors import (
    COMPLIANCE_HELD_CONTACT_S,
    POLARISATION_ALLOWANCE_V,
    MonitorContext,
    MonitorReport,
    SafetyMonitors,
)

pytestmark = pytest.mark.requirement("SR-048")

PERIOD_S = 0.010
T0_S = 100.0
TINY = MonitorContext(relay_closed=True, relay_changed_at_s=T0_S - 10.0, dac_ma=0.02,
                      setpoint_ma=0.02, current_cap_ma=1.5, regulating=True,
                      boost_on_since_s=None, ma_per_code=0.0006197)
"""0.02 mA: the first seconds of a ramp, under the sag rule's 0.05 mA."""


def run(samples: int, ctx: MonitorContext, *, current_ma: float, electrode_v: float,
        monitors: SafetyMonitors | None = None, start_s: float = T0_S) -> list[MonitorReport]:
    monitors = monitors or SafetyMonitors(SafetyConfig())
    out = []
    for n in range(samples):
        t = round(start_s + n * PERIOD_S, 9)
        out.append(monitors.check(ctx, Measurements(t, current_ma, electrode_v, True, True),
                                  current_ma, t))
    return out


def trip_s(reports: list[MonitorReport]) -> float | None:
    for n, report in enumerate(reports):
        if any(f.code == "contact_lost" for f in report.faults):
            return round(n * PERIOD_S, 9)
    return None


def test_the_allowances_are_the_documented_figures() -> None:
    assert POLARISATION_ALLOWANCE_V == 2.0
    assert COMPLIANCE_HELD_CONTACT_S == 2.0


# --- the open-load rule: load voltage > I_meas x R_loss + 2 V for 20 ms ---------------------

def test_open_load_with_no_current_is_judged_against_the_allowance_alone() -> None:
    """No current at all: 0 x 100 kΩ + 2 V = 2.0 V. Exactly 2.0 V is not over it (3 s, no
    trip); 2.001 V is, and trips on the reading 20 ms after the first."""
    assert trip_s(run(300, TINY, current_ma=0.0, electrode_v=2.0)) is None
    reports = run(3, TINY, current_ma=0.0, electrode_v=2.001)
    assert trip_s(reports[:2]) is None
    assert trip_s(reports) == pytest.approx(0.020)
    assert reports[0].contact_doubt  # the doubt at once, before the hold


def test_open_load_edge_includes_the_shunt_drop_and_the_measured_current() -> None:
    """0.02 mA measured: the load may show 0.02 x 100 = 2.0 V + 2.0 V = 4.0 V; V_OUT adds the
    shunt's 0.02 x 0.1 = 0.002 V, so the edge is V_OUT = 4.002 V. 4.001 V (load 3.999 V) holds
    for 3 s; 4.003 V (load 4.001 V) trips at 20 ms."""
    assert trip_s(run(300, TINY, current_ma=0.02, electrode_v=4.001)) is None
    assert not run(1, TINY, current_ma=0.02, electrode_v=4.001)[0].contact_doubt
    assert trip_s(run(3, TINY, current_ma=0.02, electrode_v=4.003)) == pytest.approx(0.020)


def test_open_load_uses_the_configured_loss_threshold() -> None:
    """Service setting 60 kΩ (inside domain.md's 50-200 kΩ, above the 50 kΩ start limit):
    0.02 x 60 + 2 = 3.2 V of load, V_OUT edge 3.202 V."""
    config = SafetyConfig(contact_loss_kohm=60.0)
    assert trip_s(run(300, TINY, current_ma=0.02, electrode_v=3.201,
                      monitors=SafetyMonitors(config))) is None
    assert trip_s(run(3, TINY, current_ma=0.02, electrode_v=3.203,
                      monitors=SafetyMonitors(config))) == pytest.approx(0.020)


def test_a_negative_current_reading_counts_as_none() -> None:
    """Skin charge driving a little current back (-5 uA): the load may show only the 2 V
    allowance, not less (the current is not subtracted twice)."""
    assert trip_s(run(300, TINY, current_ma=-0.005, electrode_v=1.99)) is None
    # load = 2.0005 V (V_OUT 2.0 + 0.0005 V of the reversed shunt drop) > 2.0 V: trips
    assert trip_s(run(3, TINY, current_ma=-0.005, electrode_v=2.0)) == pytest.approx(0.020)


# --- the compliance-held rule: warning on and load voltage > I_set x R_loss + 2 V for 2 s ------

HELD_CONFIG = SafetyConfig(contact_loss_kohm=200.0)
"""200 kΩ (the top of the service range): the measured current's own rules stay silent, so
only the compliance-held rule can trip."""


def held(setpoint_ma: float) -> MonitorContext:
    return dataclasses.replace(TINY, setpoint_ma=setpoint_ma, dac_ma=setpoint_ma)


def test_compliance_held_edge_is_the_set_point_times_the_threshold_plus_the_allowance() -> None:
    """24.0 V (the compliance warning) with 0.15 mA measured: load 24.0 - 0.015 = 23.985 V.
    The edge set-point is (23.985 - 2) / 200 = 0.109925 mA: at 0.1100 mA (22 + 2 = 24.0 V
    allowed) it holds for 3 s; at 0.1099 mA (23.98 V allowed) it trips exactly 2 s after the
    first reading. (0.15 mA x 200 + 2 = 32 V: the open-load rule is silent; load 160 kΩ under
    200 kΩ; regulation error 0.04 mA under 0.05 mA.)"""
    monitors = SafetyMonitors(HELD_CONFIG)
    assert trip_s(run(300, held(0.1100), current_ma=0.15, electrode_v=24.0,
                      monitors=monitors)) is None
    reports = run(201, held(0.1099), current_ma=0.15, electrode_v=24.0,
                  monitors=SafetyMonitors(HELD_CONFIG))
    assert trip_s(reports[:200]) is None
    assert trip_s(reports) == pytest.approx(2.0)
    assert reports[0].contact_doubt and reports[0].compliance_warning


def test_compliance_held_needs_the_warning() -> None:
    """Just under the 24 V warning (23.99 V) a set-point far below the load's voltage is not this
    rule's business (0.075 mA: 17 V allowed, load 23.978 V; 0.12 mA measured: 26 V for the
    open-load rule, 199.8 kΩ): no trip in 3 s. At 24.0 V the same readings trip at 2 s."""
    assert trip_s(run(300, held(0.075), current_ma=0.12, electrode_v=23.99,
                      monitors=SafetyMonitors(HELD_CONFIG))) is None
    reports = run(201, held(0.075), current_ma=0.12, electrode_v=24.0,
                  monitors=SafetyMonitors(HELD_CONFIG))
    assert trip_s(reports) == pytest.approx(2.0)


def test_a_new_treatment_forgets_a_held_ramp() -> None:
    """1.5 s held, then ``reset_treatment`` (a new ramp starts clean): 1.5 s more do not trip;
    without the reset the same 3 s trip at 2.0 s."""
    monitors = SafetyMonitors(HELD_CONFIG)
    first = run(150, held(0.075), current_ma=0.12, electrode_v=24.0, monitors=monitors)
    monitors.reset_treatment()
    second = run(150, held(0.075), current_ma=0.12, electrode_v=24.0, monitors=monitors,
                 start_s=T0_S + 1.5)
    assert trip_s(first + second) is None
    unreset = run(300, held(0.075), current_ma=0.12, electrode_v=24.0,
                  monitors=SafetyMonitors(HELD_CONFIG))
    assert trip_s(unreset) == pytest.approx(2.0)


def test_compliance_held_at_exactly_its_edge_holds() -> None:
    """The edge itself is not over it. 0.125 mA asked (0.125 x 200 + 2 = 27.0 V allowed),
    0.15 mA measured, V_OUT 27.015 V: load voltage 27.015 - 0.015 = 27.0 V exactly (all three
    are exact in binary floating point here). 3 s: no trip. 1 mV more trips at 2 s. (Open-load
    rule: 0.15 x 200 + 2 = 32 V, silent; load 180 kΩ under 200 kΩ; shortfall negative, so no
    saturation above 26.6 V; regulation error 0.025 mA.)"""
    assert 27.015 - 0.15 * 0.1 == 0.125 * 200.0 + 2.0  # the edge, exactly
    assert trip_s(run(300, held(0.125), current_ma=0.15, electrode_v=27.015,
                      monitors=SafetyMonitors(HELD_CONFIG))) is None
    assert trip_s(run(201, held(0.125), current_ma=0.15, electrode_v=27.016,
                      monitors=SafetyMonitors(HELD_CONFIG))) == pytest.approx(2.0)
