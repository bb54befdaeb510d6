"""One injected fault per test: the fault latched, its code, and the time to the safe state.

Times are on the virtual clock from the injection to the cycle whose actuation is the safe
state (relay open, DAC 0, boost off, alarm on): the shell applies it right after that cycle.
They include the one-sample delay of the reading where the fault acts on the plant.
"""

from __future__ import annotations

import math

import pytest

from kiosk.control.codes import Reason
from kiosk.control.commands import Acknowledge
from kiosk.control.core import Measurements, SelfTestReadings
from kiosk.control.cycle import CycleResult
from kiosk.control.reasons import Code, make
from kiosk.control.snapshot import TreatmentState as S
from tests.control.core_rig import PERIOD_S, FaultOutcome, Rig, inject_during_hold


def held(**program: object) -> Rig:
    rig = Rig.ready()
    program.setdefault("area", "face")
    program.setdefault("indication", "pigmentation")
    program.setdefault("current_ma", 0.8)
    rig.start_and_hold(**program)
    rig.run(0.5)
    return rig


def assert_safe(result: CycleResult) -> None:
    a = result.actuation
    assert not a.output_relay_closed and a.dac_ma == 0.0 and not a.boost_on
    assert a.buzzer_on and not a.heartbeat_ok
    assert result.snapshot.state is S.FAULT and not result.snapshot.output_enabled


def assert_fault(outcome: FaultOutcome, code: str, within_s: float) -> Reason:
    assert_safe(outcome.result)
    fault = outcome.result.snapshot.fault
    assert fault is not None and fault.code == code
    assert outcome.detect_s <= within_s + 1e-9, outcome.detect_s
    return fault.reason


@pytest.mark.requirement("SR-010")
def test_contact_loss_latches_contact_lost_within_100_ms() -> None:
    rig = held()
    outcome = inject_during_hold(rig, lambda r: setattr(r.plant, "open_circuit", True))
    assert_fault(outcome, "contact_lost", 0.100)
    assert outcome.detect_s <= 0.030  # V_OUT at the rail with no current: the 20 ms path


@pytest.mark.requirement("SR-011")
def test_a_partial_contact_loss_without_rail_latches_after_100_ms() -> None:
    rig = held()
    outcome = inject_during_hold(rig, lambda r: setattr(r, "stuck_current_ma", 0.3))
    assert_fault(outcome, "contact_lost", 0.100)
    assert outcome.detect_s >= 0.100


@pytest.mark.requirement("SR-013")
def test_a_short_circuit_latches_short_circuit_within_30_ms() -> None:
    rig = held()
    outcome = inject_during_hold(rig, lambda r: setattr(r.plant, "short_circuit", True))
    reason = assert_fault(outcome, "short_circuit", 0.030)
    assert float(reason.detail("load_v")) < 0.5  # type: ignore[arg-type]


@pytest.mark.requirement("SR-006")
def test_a_runaway_current_latches_over_current_after_50_ms() -> None:
    rig = held()
    outcome = inject_during_hold(rig, lambda r: setattr(r, "stuck_current_ma", 0.86))
    reason = assert_fault(outcome, "over_current", 0.050)
    assert outcome.detect_s >= 0.050
    assert reason.detail("limit_ma") == pytest.approx(0.85)


@pytest.mark.requirement("SR-023")
def test_a_dac_path_the_trim_cannot_correct_latches_regulation_after_500_ms() -> None:
    rig = held(current_ma=0.6)
    outcome = inject_during_hold(rig, lambda r: setattr(r, "dac_gain", 0.7), limit_s=2.0)
    assert_fault(outcome, "regulation", 0.52)
    assert outcome.detect_s >= 0.500


@pytest.mark.requirement("SR-030")
def test_readings_that_stop_updating_latch_sensor_stale_after_100_ms() -> None:
    rig = held()
    outcome = inject_during_hold(rig, lambda r: setattr(r, "stale", True))
    assert_fault(outcome, "sensor_stale", 0.100)


@pytest.mark.requirement("SR-030")
def test_a_reading_that_is_not_a_number_latches_sensor_range_at_once() -> None:
    rig = held()
    outcome = inject_during_hold(rig, lambda r: setattr(r, "stuck_current_ma", math.nan))
    reason = assert_fault(outcome, "sensor_range", 0.0)
    assert reason.detail("signal") == "current_ma"


@pytest.mark.requirement("SR-026")
def test_current_read_the_wrong_way_latches_sensor_sign_in_20_ms() -> None:
    rig = held()
    outcome = inject_during_hold(rig, lambda r: setattr(r, "stuck_current_ma", -0.05))
    assert_fault(outcome, "sensor_sign", 0.020)


@pytest.mark.requirement("SR-029")
def test_a_dac_readback_disagreeing_latches_dac_readback_within_one_aux_period() -> None:
    rig = held()
    outcome = inject_during_hold(rig, lambda r: setattr(r, "readback_offset_ma", 0.2))
    assert_fault(outcome, "dac_readback", 0.100)


@pytest.mark.requirement("SR-030")
def test_a_missing_dac_readback_latches_sensor_stale() -> None:
    rig = held()
    original = rig.measure

    def without_aux() -> Measurements:
        m = original()
        return Measurements(m.sample_time_s, m.current_ma, m.electrode_v, m.estop_intact,
                            m.hw_trip_ok)

    outcome = inject_during_hold(rig, lambda r: setattr(r, "measure", without_aux))
    assert_fault(outcome, "sensor_stale", 0.4)


@pytest.mark.requirement("SR-015")
def test_a_skin_too_resistive_for_the_current_latches_compliance_saturation_after_1_s() -> None:
    rig = held(current_ma=0.8)
    outcome = inject_during_hold(rig, lambda r: setattr(r.plant, "rp_kohm", 40.0))
    assert_fault(outcome, "compliance_saturation", 1.1)
    assert outcome.detect_s >= 1.0
    assert "regulation" not in rig.codes()


@pytest.mark.requirement("SR-039")
def test_the_emergency_stop_latches_estop_in_the_cycle_that_sees_it() -> None:
    rig = held()
    outcome = inject_during_hold(rig, lambda r: setattr(r, "estop_intact", False))
    assert_fault(outcome, "estop", 0.0)


@pytest.mark.requirement("SR-007")
def test_the_hardware_trip_latches_hw_trip_in_the_cycle_that_sees_it() -> None:
    rig = held()
    outcome = inject_during_hold(rig, lambda r: setattr(r, "hw_trip_ok", False))
    assert_fault(outcome, "hw_trip", 0.0)


def test_a_silent_screen_while_current_flows_latches_ui_heartbeat_lost_after_its_timeout(
) -> None:
    # The one default of the timeout (issue 13: one source of truth): kiosk.control.limits.
    from kiosk.control.limits import DEFAULT_UI_HEARTBEAT_TIMEOUT_S as timeout_s

    rig = held()
    outcome = inject_during_hold(rig, lambda r: setattr(r, "auto_heartbeat", False))
    assert_fault(outcome, "ui_heartbeat_lost", timeout_s + PERIOD_S)
    assert outcome.detect_s >= timeout_s - PERIOD_S  # silence from the last heartbeat


def test_a_late_cycle_with_the_output_closed_latches_loop_stall() -> None:
    rig = held()
    outcome = inject_during_hold(rig, lambda r: setattr(r, "now_s", r.now_s + 0.15))
    assert_fault(outcome, "loop_stall", 0.15)


@pytest.mark.requirement("SR-024")
def test_current_after_the_output_opened_latches_unintended_output_in_20_ms() -> None:
    rig = Rig.ready()
    rig.start(area="face", indication="pigmentation", current_stage_s=60.0)
    rig.run_until_state(S.DONE, 100.0)
    rig.run(0.1)
    outcome = inject_during_hold(rig, lambda r: setattr(r, "stuck_current_ma", 0.02))
    assert_fault(outcome, "unintended_output", 0.020)


@pytest.mark.requirement("SR-016")
def test_a_wrong_boost_voltage_during_hold_latches_boost_out_of_range() -> None:
    rig = held()
    outcome = inject_during_hold(rig, lambda r: setattr(r, "boost_v_when_on", 27.0))
    reason = assert_fault(outcome, "boost_out_of_range", 0.100)
    assert reason.detail("boost_v") == 27.0


@pytest.mark.requirement("SR-016")
def test_a_wrong_boost_voltage_stops_the_contact_check_before_the_relay_closes() -> None:
    rig = Rig.ready(boost_v_when_on=31.7)
    rig.run(1.1)
    rig.start()
    result = rig.run_until(lambda r: r.snapshot.fault is not None, 2.0)
    assert_fault(FaultOutcome(result, 0.0), "boost_out_of_range", 0.0)
    assert not any(r.actuation.output_relay_closed for r in rig.results)


@pytest.mark.requirement("SR-026")
def test_a_polarity_relay_reading_back_the_other_way_stops_the_contact_check() -> None:
    rig = Rig.ready(polarity_readback_inverted=True)
    rig.run(1.1)
    rig.start(area="eye_area", indication="puffiness")
    result = rig.run_until(lambda r: r.snapshot.fault is not None, 2.0)
    assert_fault(FaultOutcome(result, 0.0), "polarity_mismatch", 0.0)
    assert not any(r.actuation.dac_ma > 0 for r in rig.results)


@pytest.mark.requirement("SR-026")
def test_test_current_read_the_wrong_way_is_a_polarity_mismatch() -> None:
    rig = Rig.ready()
    rig.run(1.1)
    rig.start()
    rig.run_until(lambda r: r.snapshot.step == "test", 2.0)
    rig.stuck_current_ma = -0.05
    result = rig.run_until(lambda r: r.snapshot.fault is not None, 1.0)
    assert result.snapshot.fault is not None
    assert result.snapshot.fault.code in {"polarity_mismatch", "sensor_sign"}
    assert_safe(result)


def test_an_exception_inside_the_core_latches_internal_error_and_the_safe_state() -> None:
    rig = held()
    broken = Measurements(rig.now_s, None, 20.0, True, True)  # type: ignore[arg-type]
    result = rig.core.step(rig.now_s, broken, ())
    assert_safe(result)
    assert result.snapshot.fault is not None and result.snapshot.fault.code == "internal_error"
    assert "TypeError" in result.snapshot.fault.reason.text
    assert not result.snapshot.healthy


@pytest.mark.requirement("SR-001")
def test_a_fault_the_shell_reports_gives_the_safe_actuation_at_once() -> None:
    rig = held()
    safe = rig.core.latch_fault(make(Code.I2C_ERROR), rig.now_s)
    assert not safe.output_relay_closed and safe.dac_ma == 0.0 and not safe.boost_on
    rig.apply(safe)
    result = rig.tick()
    assert_safe(result)
    assert result.snapshot.fault is not None and result.snapshot.fault.code == "i2c_error"
    assert "i2c_error" in [e.code for e in result.events]


@pytest.mark.requirement("SR-008")
def test_a_failed_self_test_latches_and_blocks_every_start() -> None:
    rig = Rig.ready()
    outcome = rig.core.self_test(SelfTestReadings(True, True, 0, 0x800, True, True, 0.0, 0.0),
                                 rig.now_s)
    assert not outcome.passed and outcome.failed_checks == ("dac_eeprom_not_safe",)
    assert "dac_eeprom_not_safe" in outcome.reason.text
    rig.tick()
    rig.tick([Acknowledge("selftest_failed")])
    refused = rig.start()
    assert refused.snapshot.state is S.IDLE
    assert refused.snapshot.last_refusal is not None
    assert refused.snapshot.last_refusal.code == "selftest_required"
    assert not refused.snapshot.healthy


@pytest.mark.requirement("SR-012")
def test_after_contact_loss_a_reconnect_brings_no_current_back() -> None:
    rig = held()
    inject_during_hold(rig, lambda r: setattr(r.plant, "open_circuit", True))
    rig.plant.open_circuit = False  # the electrode touches the skin again
    rig.run(10.0)
    assert rig.core.state is S.FAULT
    assert all(not r.actuation.output_relay_closed and r.actuation.dac_ma == 0.0
               for r in rig.results[-1000:])
    assert rig.plant.current_ma == 0.0


@pytest.mark.requirement("SR-002")
def test_a_second_fault_is_logged_but_the_first_stays_latched() -> None:
    rig = held()
    inject_during_hold(rig, lambda r: setattr(r.plant, "open_circuit", True))
    rig.estop_intact = False
    result = rig.tick()
    assert result.snapshot.fault is not None and result.snapshot.fault.code == "contact_lost"
    assert "estop" in [e.code for e in result.events]
    rig.run(1.0)
    assert rig.codes().count("estop") == 1  # logged once, not every cycle
