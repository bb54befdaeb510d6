"""The technician's self-test page in a real Kivy window on the simulated board: run all with
the E-stop pressed and released when the page asks, a stuck relay shown as a failed step with
its cause, the DAC EEPROM offer, STOP mid-run, English and Russian (screenshots looked at)."""

from __future__ import annotations

from typing import Any

import pytest
from kivy.core.window import Window

from kiosk.access.pins import Role
from kiosk.screens.service_base import ServiceUser
from tests.ui.layout_check import layout_problems

pytestmark = [pytest.mark.ui]


def open_page(k: Any) -> None:
    k.controller.inject("reference_load")  # the technician clips the fixture on
    k.app.service_user = ServiceUser("tech", Role.TECHNICIAN)
    k.app.nav.go("service_selftest")
    k.frames(2)
    assert k.screen == "service_selftest"


def run_until_done(k: Any, timeout_s: float = 20.0) -> None:
    """Advance; press and release the E-stop when the page says so (as a technician would)."""
    sim = k.controller.board.sim
    waited_s = 0.0
    k.advance(0.1)
    while k.controller.loop.service.active:
        message = k.text("selftest_message")
        if message.startswith(("Press", "Нажмите")) and "estop_press" not in sim.faults.active:
            sim.inject("estop_press")
        elif message.startswith(("Release", "Отпустите")) and "estop_press" in sim.faults.active:
            sim.inject("estop_release")
        k.advance(0.1, frame_every_s=0.5)
        waited_s += 0.1
        assert waited_s < timeout_s, k.controller.query("selftest_report")
    k.advance(0.6)  # the page refreshes its report twice a second


def rows(k: Any) -> dict[str, str]:
    report = k.controller.query("selftest_report")
    return {s["step"]: k.text(f"selftest_step_{s['step']}") for s in report["steps"]}


@pytest.mark.requirement("SR-169")
@pytest.mark.parametrize("language", ["en", "ru"])
def test_run_all_on_a_healthy_board_shows_every_step_passed(kiosk: Any,
                                                            language: str) -> None:
    k = kiosk
    k.app.set_language(language)
    open_page(k)
    assert "not run" in k.text("selftest_step_relays") or language == "ru"
    k.tap("selftest_run_all")
    k.advance(0.7)
    assert k.text("selftest_run_all") in ("Stop test", "Остановить тест")
    run_until_done(k)
    texts = rows(k)
    word = "passed" if language == "en" else "пройден"
    assert all(word in text for text in texts.values()), texts
    ohm, volt = ("kΩ", " V") if language == "en" else ("кОм", " В")
    assert ohm in texts["relays"] and volt in texts["boost"]
    assert k.text("selftest_run_all") in ("Run all", "Запустить всё")
    assert not k.has("selftest_program_eeprom")
    assert layout_problems(k.app.root_widget, (Window.width, Window.height)) == []
    k.screenshot(f"service_selftest_passed_{language}")


@pytest.mark.requirement("SR-162")
@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_stuck_relay_shows_as_the_failed_step_with_its_cause(kiosk: Any,
                                                               language: str) -> None:
    k = kiosk
    k.app.set_language(language)
    open_page(k)
    k.controller.inject("relay_stuck", relay="k2", position="open")
    k.tap("selftest_step_relays")
    k.tap("selftest_run_step")
    run_until_done(k)
    assert ("FAILED" if language == "en" else "НЕ ПРОЙДЕН") in k.text("selftest_step_relays")
    message = k.text("selftest_message")
    assert ("K2 does not switch" if language == "en" else "K2 не переключается") in message
    assert layout_problems(k.app.root_widget, (Window.width, Window.height)) == []
    k.screenshot(f"service_selftest_relay_stuck_{language}")


@pytest.mark.requirement("SR-166")
def test_a_factory_fresh_dac_memory_is_offered_for_programming(kiosk: Any) -> None:
    k = kiosk
    open_page(k)
    board = k.controller.board
    assert board.i2c.try_lock()
    try:  # a replaced DAC: factory EEPROM, mid-scale with the output on (hardware.md 3)
        board.i2c.writeto(board.config.i2c.dac_address, bytes((0x60, 0x80, 0x00)))
    finally:
        board.i2c.unlock()
    k.advance(0.1)
    k.tap("selftest_step_dac_eeprom")
    k.tap("selftest_run_step")
    run_until_done(k)
    assert "FAILED" in k.text("selftest_step_dac_eeprom")
    assert k.enabled("selftest_program_eeprom")
    k.screenshot("service_selftest_eeprom_offer_en")
    k.tap("selftest_program_eeprom")
    run_until_done(k)
    assert "passed" in k.text("selftest_step_dac_eeprom")
    assert not k.has("selftest_program_eeprom")
    status = board.dac.read_status()
    assert (status.eeprom_pd, status.eeprom_code) == (1, 0)


@pytest.mark.requirement("SR-161")
def test_stop_on_the_page_ends_the_run_and_a_session_refusal_is_shown(kiosk: Any) -> None:
    k = kiosk
    open_page(k)
    k.tap("selftest_run_all")
    k.advance(0.3)
    assert k.controller.loop.service.active
    k.tap("selftest_run_all")  # now "Stop test"
    k.advance(0.7)
    assert not k.controller.loop.service.active
    report = k.controller.query("selftest_report")
    assert report["last_run"]["aborted"] == "stop"
    assert not k.controller.board.output_relay.is_closed
    assert "stopped" in " ".join(rows(k).values())
