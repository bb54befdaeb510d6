"""Issue 13: the calibration and limits pages in a real Kivy window, on the real control loop and
the simulated board (a technician typing the simulated meter's figures on the page's pad)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kiosk import i18n
from kiosk.access.pins import Role
from kiosk.control import salon_limits as sl
from kiosk.screens.service_base import ServiceUser

pytestmark = [pytest.mark.ui, pytest.mark.slow]


def type_figure(k: Any, prefix: str, value: str) -> None:
    for char in value:
        k.tap(f"{prefix}_key_{'point' if char == '.' else char}")


def sign_in(k: Any, role: Role = Role.TECHNICIAN, name: str = "tech") -> None:
    k.app.service_user = ServiceUser(name, role)


def until_held(k: Any, point: int) -> None:
    def held(_snapshot: Any = None) -> bool:
        run = k.app.controller.query("calibration")["run"]
        return run["step"] == "hold" and run["point"] == point

    k.advance_until(held, timeout_s=5.0)
    k.frames(2)


def type_meter(k: Any) -> None:
    reading = k.controller.board.sim.meter.reading()
    k.tap("cal_field_current")
    type_figure(k, "cal", f"{reading.current_ma:.4f}")
    k.tap("cal_field_voltage")
    type_figure(k, "cal", f"{reading.voltage_v:.3f}")


@pytest.mark.requirement("SR-150")
def test_a_technician_calibrates_on_the_touchscreen(kiosk: Any) -> None:
    k = kiosk
    sign_in(k, name="anna")
    k.app.nav.go("service_calibration")
    assert k.screen == "service_calibration"
    k.screenshot("21_service_calibration")
    sim = k.controller.board.sim
    sim.meter.connect_reference()
    sim.meter.set_error(current_fraction=0.02)
    k.tap("cal_primary")  # measure point 1
    until_held(k, 1)
    assert not k.enabled("cal_primary")  # nothing typed yet
    type_meter(k)
    k.screenshot("22_service_calibration_point")
    k.tap("cal_primary")  # measure point 2
    until_held(k, 2)
    type_meter(k)
    k.tap("cal_primary")  # compute
    assert k.has("cal_new_current_gain")
    shown = k.text("cal_new_current_gain")
    assert shown.startswith("1.02")
    k.screenshot("23_service_calibration_result")
    k.tap("cal_primary")  # accept
    k.advance_until(lambda _s: k.app.controller.query("calibration")["in_force"]["technician"]
                    == "anna", timeout_s=3.0)
    k.advance(0.2)
    assert "anna" in k.text("cal_status")
    assert k.app.controller.query("calibration")["in_force"]["current_gain"] == \
        pytest.approx(1.02, abs=0.003)
    assert not k.app.controller.query("calibration")["run"]["driving"]


@pytest.mark.requirement("SR-151")
def test_an_implausible_result_is_shown_refused_and_cannot_be_accepted(kiosk: Any) -> None:
    k = kiosk
    sign_in(k)
    k.app.nav.go("service_calibration")
    k.controller.board.sim.meter.connect_reference()
    k.controller.board.sim.meter.set_error(current_fraction=0.15)  # a broken meter
    k.tap("cal_primary")
    until_held(k, 1)
    type_meter(k)
    k.tap("cal_primary")
    until_held(k, 2)
    type_meter(k)
    k.tap("cal_primary")
    assert k.has("cal_refused")
    assert not k.enabled("cal_primary")
    in_force = k.app.controller.query("calibration")["in_force"]
    k.tap("cal_end")  # refuse: the current ends, back to the start
    k.advance_until(lambda _s: not k.app.controller.query("calibration")["run"]["driving"],
                    timeout_s=2.0)
    assert k.app.controller.query("calibration")["in_force"] == in_force


@pytest.mark.requirement("SR-153")
def test_a_client_on_the_electrodes_gets_no_calibration_current(kiosk: Any) -> None:
    k = kiosk  # the simulated skin, not the reference resistor
    sign_in(k)
    k.app.nav.go("service_calibration")
    k.tap("cal_primary")
    k.advance_until(lambda _s: k.app.snapshot.last_refusal is not None and
                    k.app.snapshot.last_refusal.code == "calibration_load_wrong", timeout_s=3.0)
    k.advance(0.3)
    assert "reference resistor" in k.text("cal_status")
    assert not k.controller.board.sim.k1_closed()


@pytest.mark.requirement("SR-154")
def test_a_limit_above_its_hard_bound_is_refused_in_the_ui_and_in_the_core(
        kiosk: Any, tmp_path: Path) -> None:
    k = kiosk
    sign_in(k, Role.MANAGER, "olga")
    k.app.nav.go("service_limits")
    assert k.screen == "service_limits"
    k.screenshot("24_service_limits")
    k.tap("lim_face_cap_ma")
    type_figure(k, "lim", "1.6")
    assert not k.enabled("lim_save")
    assert "1.50" in k.text("lim_message")
    k.screenshot("25_service_limits_refused")
    # the screen is not the only gate: the same command straight to the core is refused too
    from kiosk.control.commands import SetSalonLimits
    values = {**sl.DEFAULTS.values(), "face_cap_ma": 1.6}
    k.app.submit(SetSalonLimits("olga", *(values[f] for f in sl.HARD_BOUNDS)))
    k.advance(0.2)
    assert k.app.snapshot.last_refusal.code == "salon_limits_refused"
    assert k.app.controller.query("salon_limits")["in_force"]["face_cap_ma"] == 1.5
    # within the bound it is saved, in force, with who changed it
    k.tap("lim_key_erase")  # "1.6" -> "1."
    type_figure(k, "lim", "2")
    assert k.enabled("lim_save")
    k.tap("lim_save")
    k.advance(0.3)
    in_force = k.app.controller.query("salon_limits")["in_force"]
    assert (in_force["face_cap_ma"], in_force["changed_by"]) == (1.2, "olga")
    assert "olga" in k.text("lim_message")


def test_the_calibration_page_is_closed_to_a_manager(kiosk: Any) -> None:
    sign_in(kiosk, Role.MANAGER, "olga")
    kiosk.app.nav.go("service_calibration")
    assert kiosk.screen == "service_pin"


def test_russian_pages_are_translated(kiosk: Any) -> None:
    k = kiosk
    k.app.set_language("ru")  # on home, as a technician would before entering service mode
    sign_in(k)
    try:
        k.app.nav.go("service_calibration")
        k.frames(2)
        assert "резистор" in k.text("cal_status")
        k.screenshot("26_service_calibration_ru")
        k.app.nav.go("service_limits")
        k.frames(2)
        k.screenshot("27_service_limits_ru")
    finally:
        i18n.set_language("en")
