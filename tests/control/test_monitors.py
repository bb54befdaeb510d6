"""Each monitor of domain.md 6 at its threshold and its hold time, on 10 ms readings."""

from __future__ import annotations

import dataclasses
import math

import pytest

from kiosk.control.cycle import Measurements
from kiosk.control.limits import SafetyConfig
from kiosk.control.monitors import MonitorContext, MonitorReport, Persistence, SafetyMonitors

PERIOD_S = 0.010
HOLD = MonitorContext(relay_closed=True, relay_changed_at_s=-10.0, dac_ma=1.0, setpoint_ma=1.0,
                      current_cap_ma=1.5, regulating=True, boost_on_since_s=-10.0,
                      ma_per_code=0.0006197)
OPEN = dataclasses.replace(HOLD, relay_closed=False, dac_ma=0.0, setpoint_ma=0.0,
                           regulating=False, boost_on_since_s=None)


def reading(t: float, current_ma: float = 1.0, electrode_v: float = 21.9,
            **extra: object) -> Measurements:
    return Measurements(t, current_ma, electrode_v, True, True, **extra)  # type: ignore[arg-type]


def feed(samples: int, ctx: MonitorContext = HOLD, config: SafetyConfig | None = None,
         monitors: SafetyMonitors | None = None, **values: object) -> list[MonitorReport]:
    """``samples`` readings 10 ms apart, each judged at its own time."""
    monitors = monitors or SafetyMonitors(config or SafetyConfig())
    reports = []
    for n in range(samples):
        t = n * PERIOD_S
        reports.append(monitors.check(ctx, reading(t, **values), float(values.get(  # type: ignore[arg-type]
            "current_ma", 1.0)), t))
    return reports


def codes(reports: list[MonitorReport]) -> list[str]:
    return [f.code for r in reports for f in r.faults]


def first_fault_at(reports: list[MonitorReport], code: str) -> float | None:
    for n, report in enumerate(reports):
        if any(f.code == code for f in report.faults):
            return n * PERIOD_S
    return None


def test_persistence_counts_from_the_first_sample_that_saw_the_condition() -> None:
    hold = Persistence(0.050)
    results = [hold.update(True, n * PERIOD_S) for n in range(6)]
    assert results == [False] * 5 + [True]  # six samples in a row span 50 ms
    assert not hold.update(False, 0.06)
    assert not hold.update(True, 0.07)  # starts over


# --- over-current: > cap + 0.05 mA for > 50 ms ---

AT_CAP = dataclasses.replace(HOLD, setpoint_ma=1.5, dac_ma=1.5)


@pytest.mark.requirement("SR-006")
def test_over_current_at_exactly_cap_plus_margin_never_trips() -> None:
    assert codes(feed(100, ctx=AT_CAP, current_ma=1.55)) == []


@pytest.mark.requirement("SR-006")
def test_over_current_above_the_margin_trips_after_50_ms_not_before() -> None:
    reports = feed(6, ctx=AT_CAP, current_ma=1.551)
    assert first_fault_at(reports, "over_current") == pytest.approx(0.050)
    assert codes(feed(5, ctx=AT_CAP, current_ma=1.551)) == []
    fault = next(f for f in reports[-1].faults if f.code == "over_current")
    assert fault.detail("limit_ma") == pytest.approx(1.55)
    assert "1.55 mA" in fault.text


def test_over_current_uses_the_firmware_limit_when_no_program_is_loaded() -> None:
    idle = dataclasses.replace(HOLD, current_cap_ma=2.0, setpoint_ma=2.0, dac_ma=2.0)
    assert codes(feed(10, ctx=idle, current_ma=2.05)) == []
    assert "over_current" in codes(feed(6, ctx=idle, current_ma=2.06))


# --- contact loss: I < 50 % I_set for > 100 ms, or load > 100 kΩ ---

@pytest.mark.requirement("SR-011")
def test_contact_loss_at_exactly_half_the_setpoint_does_not_trip() -> None:
    assert "contact_lost" not in codes(feed(50, current_ma=0.5, electrode_v=11.0))


@pytest.mark.requirement("SR-011")
def test_contact_loss_below_half_trips_after_100_ms_not_before() -> None:
    reports = feed(11, current_ma=0.499, electrode_v=11.0)
    assert first_fault_at(reports, "contact_lost") == pytest.approx(0.100)
    assert "contact_lost" not in codes(feed(10, current_ma=0.499, electrode_v=11.0))


@pytest.mark.requirement("SR-011")
def test_the_current_sag_is_not_judged_below_a_0_05_ma_setpoint() -> None:
    # No current, but a load voltage a contacted skin can show (polarisation, under the 2 V
    # allowance of the open-load rule): the sag rule alone does not judge set-points < 0.05 mA.
    # (Before issue 12 this test fed 3.0 V and proved the blind spot: see test_contact_early.)
    low = dataclasses.replace(HOLD, setpoint_ma=0.049, dac_ma=0.049)
    assert "contact_lost" not in codes(feed(50, ctx=low, current_ma=0.0, electrode_v=1.99))


@pytest.mark.requirement("SR-010")
def test_a_load_above_the_loss_threshold_trips_after_100_ms() -> None:
    # 1 mA at 100.1 V/mA (V_OUT - 0.1 kΩ shunt drop): load just above 100 kΩ.
    over = feed(11, current_ma=1.0, electrode_v=100.2 + 0.1)
    assert "sensor_range" in codes(over)  # 100 V cannot be read: out of range first
    low_current = dataclasses.replace(HOLD, setpoint_ma=0.2, dac_ma=0.2)
    edge = feed(50, ctx=low_current, current_ma=0.2, electrode_v=0.2 * 100.0 + 0.02)
    assert "contact_lost" not in codes(edge)  # exactly 100 kΩ
    above = feed(11, ctx=low_current, current_ma=0.2, electrode_v=0.2 * 100.5 + 0.02)
    assert first_fault_at(above, "contact_lost") == pytest.approx(0.100)


def test_the_loss_threshold_follows_the_safety_config() -> None:
    low_current = dataclasses.replace(HOLD, setpoint_ma=0.2, dac_ma=0.2)
    config = SafetyConfig(contact_start_max_kohm=50.0, contact_loss_kohm=150.0)
    assert "contact_lost" not in codes(feed(50, ctx=low_current, config=config, current_ma=0.2,
                                            electrode_v=0.2 * 120 + 0.02))


@pytest.mark.requirement("SR-010")
def test_an_open_circuit_at_the_rail_trips_in_20_ms() -> None:
    reports = feed(3, current_ma=0.0, electrode_v=27.9)
    assert first_fault_at(reports, "contact_lost") == pytest.approx(0.020)
    assert "contact_lost" not in codes(feed(2, current_ma=0.0, electrode_v=27.9))


# --- compliance: warn at 24 V, saturated at the rail for > 1 s ---

@pytest.mark.requirement("SR-014")
def test_the_compliance_warning_starts_at_24_v() -> None:
    assert feed(1, electrode_v=24.0)[0].compliance_warning
    assert not feed(1, electrode_v=23.99)[0].compliance_warning


@pytest.mark.requirement("SR-015")
def test_saturation_at_the_rail_trips_after_1_s_and_suppresses_the_regulation_fault() -> None:
    reports = feed(101, current_ma=0.85, electrode_v=27.5)
    assert first_fault_at(reports, "compliance_saturation") == pytest.approx(1.0)
    assert "regulation" not in codes(reports)
    assert reports[0].compliance_limited
    assert "compliance_saturation" not in codes(feed(100, current_ma=0.85, electrode_v=27.5))


def test_at_the_rail_but_regulated_is_only_a_warning() -> None:
    reports = feed(150, current_ma=0.99, electrode_v=27.0)
    assert codes(reports) == [] and reports[-1].compliance_warning


# --- regulation: |I - I_set| > max(0.05 mA, 10 %) for > 500 ms ---

@pytest.mark.requirement("SR-023")
def test_a_regulation_error_at_the_tolerance_never_trips() -> None:
    assert codes(feed(100, current_ma=1.1)) == []
    assert codes(feed(100, current_ma=0.9)) == []


@pytest.mark.requirement("SR-023")
def test_a_regulation_error_above_tolerance_trips_after_500_ms_not_before() -> None:
    reports = feed(51, current_ma=1.101)
    assert first_fault_at(reports, "regulation") == pytest.approx(0.500)
    assert codes(feed(50, current_ma=1.101)) == []


@pytest.mark.requirement("SR-023")
def test_the_regulation_tolerance_is_0_05_ma_at_small_currents() -> None:
    small = dataclasses.replace(HOLD, setpoint_ma=0.3, dac_ma=0.3)
    assert codes(feed(100, ctx=small, current_ma=0.35, electrode_v=7.0)) == []
    assert "regulation" in codes(feed(51, ctx=small, current_ma=0.351, electrode_v=7.0))


# --- off-state current: |I| < 10 uA whenever the output is open ---

@pytest.mark.requirement("SR-024")
def test_off_state_current_below_10_ua_is_fine_and_at_10_ua_trips_in_two_samples() -> None:
    assert codes(feed(100, ctx=OPEN, current_ma=0.0099, electrode_v=0.0)) == []
    reports = feed(2, ctx=OPEN, current_ma=0.010, electrode_v=0.0)
    assert first_fault_at(reports, "unintended_output") == pytest.approx(0.010)
    assert "unintended_output" not in codes(feed(1, ctx=OPEN, current_ma=0.010, electrode_v=0.0))


@pytest.mark.requirement("SR-024")
def test_off_state_current_is_judged_only_after_the_relay_had_20_ms_to_open() -> None:
    opening = dataclasses.replace(OPEN, relay_changed_at_s=0.0)
    reports = feed(4, ctx=opening, current_ma=0.5, electrode_v=0.0)
    assert first_fault_at(reports, "unintended_output") == pytest.approx(0.030)


# --- sensors ---

@pytest.mark.requirement("SR-030")
def test_a_reading_older_than_100_ms_is_stale() -> None:
    monitors = SafetyMonitors(SafetyConfig())
    assert monitors.check(HOLD, reading(0.0), 1.0, 0.100).faults == []
    stale = monitors.check(HOLD, reading(0.0), 1.0, 0.1001).faults
    assert [f.code for f in stale] == ["sensor_stale"]


@pytest.mark.parametrize(("values", "signal"), [
    ({"current_ma": math.nan}, "current_ma"),
    ({"current_ma": 5.01}, "current_ma"),
    ({"electrode_v": 31.6}, "electrode_v"),
    ({"electrode_v": math.inf}, "electrode_v"),
    ({"boost_v": 32.0}, "boost_v"),
])
@pytest.mark.requirement("SR-030")
def test_a_reading_out_of_its_possible_range_is_named(values: dict[str, float],
                                                       signal: str) -> None:
    monitors = SafetyMonitors(SafetyConfig())
    fields = {"current_ma": 1.0, "electrode_v": 21.9} | values
    m = Measurements(0.0, fields.pop("current_ma"), fields.pop("electrode_v"), True, True,
                     **fields)  # type: ignore[arg-type]
    faults = monitors.check(HOLD, m, m.current_ma, 0.0).faults
    assert [f.code for f in faults] == ["sensor_range"]
    assert faults[0].detail("signal") == signal


@pytest.mark.requirement("SR-026")
def test_current_the_wrong_way_trips_after_20_ms() -> None:
    assert "sensor_sign" not in codes(feed(20, current_ma=-0.0099, electrode_v=1.0))
    reports = feed(3, current_ma=-0.011, electrode_v=1.0)
    assert first_fault_at(reports, "sensor_sign") == pytest.approx(0.020)


@pytest.mark.requirement("SR-029")
def test_dac_readback_within_5_percent_plus_two_codes_passes_and_beyond_trips() -> None:
    tolerance = 0.05 + 2 * 0.0006197
    ok = feed(1, setpoint_readback_ma=1.0 + tolerance - 1e-6)
    assert codes(ok) == []
    bad = feed(1, setpoint_readback_ma=1.0 + tolerance + 1e-4)[0].faults
    assert [f.code for f in bad] == ["dac_readback"]
    assert bad[0].detail("commanded_ma") == 1.0


def test_dac_readback_at_zero_command_allows_20_ua() -> None:
    assert codes(feed(1, ctx=OPEN, current_ma=0.0, electrode_v=0.0,
                      setpoint_readback_ma=0.021)) == []
    assert codes(feed(1, ctx=OPEN, current_ma=0.0, electrode_v=0.0,
                      setpoint_readback_ma=0.0225)) == ["dac_readback"]


# --- short circuit: load V < 0.5 V at I > 0.5 mA ---

@pytest.mark.requirement("SR-013")
def test_a_short_trips_after_20_ms_and_its_edges_do_not() -> None:
    reports = feed(3, current_ma=1.0, electrode_v=0.1 + 0.49)
    assert first_fault_at(reports, "short_circuit") == pytest.approx(0.020)
    assert "short_circuit" not in codes(feed(20, current_ma=1.0, electrode_v=0.1 + 0.5))
    at_half = dataclasses.replace(HOLD, setpoint_ma=0.5, dac_ma=0.5)
    assert "short_circuit" not in codes(feed(20, ctx=at_half, current_ma=0.5,
                                             electrode_v=0.05 + 0.2))


# --- boost: 30 V +- 5 % once settled ---

@pytest.mark.parametrize(("boost_v", "ok"), [(28.5, True), (28.49, False), (31.5, True),
                                             (31.51, False)])
@pytest.mark.requirement("SR-016")
def test_the_boost_must_read_30_v_within_5_percent(boost_v: float, ok: bool) -> None:
    found = codes(feed(1, boost_v=boost_v))
    assert (found == []) is ok
    if not ok:
        assert found == ["boost_out_of_range"]


@pytest.mark.requirement("SR-016")
def test_the_boost_is_not_judged_in_its_first_50_ms() -> None:
    starting = dataclasses.replace(HOLD, boost_on_since_s=0.0)
    assert codes(feed(1, ctx=starting, boost_v=5.0)) == []
