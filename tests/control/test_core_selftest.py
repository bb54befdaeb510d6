"""hardware.md 8 step 1: the start-up self-test judged by the core."""

from __future__ import annotations

import dataclasses

import pytest

from kiosk.control.commands import Acknowledge
from kiosk.control.core import ControlCore, SelfTestReadings
from kiosk.control.snapshot import TreatmentState as S
from tests.control.core_rig import Rig, catalogue

GOOD = SelfTestReadings(dac_answers=True, adc_answers=True, dac_eeprom_power_down=1,
                        dac_eeprom_code=0, hw_trip_ok=True, estop_intact=True, current_ma=0.0,
                        electrode_v=0.0)


def test_a_good_board_passes_and_the_snapshot_turns_healthy() -> None:
    rig = Rig(ControlCore(catalogue()))
    assert not rig.tick().snapshot.healthy
    result = rig.core.self_test(GOOD, rig.now_s)
    assert result.passed and result.failed_checks == ()
    snap = rig.tick().snapshot
    assert snap.healthy and "selftest_passed" in rig.codes()


@pytest.mark.parametrize(("change", "check"), [
    ({"dac_answers": False}, "dac_not_answering"),
    ({"adc_answers": False}, "adc_not_answering"),
    ({"dac_eeprom_power_down": 0}, "dac_eeprom_not_safe"),  # factory default PD = 00
    ({"dac_eeprom_code": 0x800}, "dac_eeprom_not_safe"),  # would command 1.27 mA at power-up
    ({"dac_eeprom_power_down": None, "dac_eeprom_code": None}, "dac_eeprom_not_safe"),
    ({"hw_trip_ok": False}, "hw_trip_latched"),
    ({"estop_intact": False}, "estop_loop_open"),
    ({"current_ma": 0.010}, "current_at_rest"),
    ({"current_ma": None}, "current_at_rest"),
    ({"electrode_v": 0.5}, "electrode_voltage_at_rest"),
])
@pytest.mark.requirement("SR-008")
def test_each_failed_check_is_named_and_latches_selftest_failed(change: dict[str, object],
                                                                 check: str) -> None:
    rig = Rig(ControlCore(catalogue()))
    result = rig.core.self_test(dataclasses.replace(GOOD, **change), rig.now_s)  # type: ignore[arg-type]
    assert not result.passed and result.failed_checks == (check,)
    assert result.reason.code == "selftest_failed" and check in result.reason.text
    snap = rig.tick().snapshot
    assert snap.state is S.FAULT and not snap.healthy
    assert snap.fault is not None and snap.fault.code == "selftest_failed"


def test_the_edges_of_the_rest_readings_pass() -> None:
    rig = Rig(ControlCore(catalogue()))
    assert rig.core.self_test(dataclasses.replace(GOOD, current_ma=0.0099, electrode_v=0.499),
                              0.0).passed


def test_a_later_passing_self_test_restores_health_after_acknowledgement() -> None:
    rig = Rig(ControlCore(catalogue()))
    rig.core.self_test(dataclasses.replace(GOOD, estop_intact=False), rig.now_s)
    rig.tick()
    rig.tick([Acknowledge("selftest_failed")])
    assert rig.core.self_test(GOOD, rig.now_s).passed
    assert rig.tick().snapshot.healthy


def test_a_patient_side_fault_does_not_make_the_device_unhealthy() -> None:
    rig = Rig.ready()
    rig.start_and_hold()
    rig.plant.open_circuit = True
    faulted = rig.run_until(lambda r: r.snapshot.fault is not None, 1.0).snapshot
    assert faulted.fault is not None and faulted.fault.code == "contact_lost"
    assert faulted.healthy
    rig.stuck_current_ma = float("nan")
    rig.tick([Acknowledge("contact_lost")])
    device = rig.tick().snapshot
    assert device.fault is not None and device.fault.code == "sensor_range"
    assert not device.healthy
