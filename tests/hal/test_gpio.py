"""HAL GPIO devices on the simulation's pin factory (virtual clock, model-driven inputs)."""

from __future__ import annotations

import pytest
from gpiozero import Device

from kiosk.hal.gpio import (
    Boost,
    Buzzer,
    EStop,
    Heartbeat,
    HwTrip,
    OutputRelay,
    PolarityRelay,
    StatusLed,
)
from kiosk.hal.sim.clock import VirtualClock
from kiosk.hal.sim.gpio import SimPinFactory

OUTPUTS = (27, 22, 16, 5, 13, 23, 24)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(start_s=100.0)


@pytest.fixture
def pins(clock: VirtualClock) -> SimPinFactory:
    factory = SimPinFactory(clock, external_pull_downs=OUTPUTS)
    factory.drive(17, False)  # E-stop loop intact
    factory.drive(6, True)  # HW trip latch clear
    return factory


def levels(pins: SimPinFactory, bcm: int) -> list[tuple[float, bool]]:
    return [(e.time_s, e.level) for e in pins.history if e.bcm == bcm]


def test_output_relay_starts_open_and_follows_open_close(pins: SimPinFactory,
                                                         clock: VirtualClock) -> None:
    relay = OutputRelay(27, pin_factory=pins)
    assert not relay.is_closed and not pins.level(27)
    relay.close()
    clock.sleep_s(0.5)
    relay.open()
    assert levels(pins, 27) == [(100.0, True), (100.5, False)]
    assert not relay.is_closed


def test_opening_the_output_relay_is_a_single_gpio_write(pins: SimPinFactory) -> None:
    relay = OutputRelay(27, pin_factory=pins)
    relay.close()
    before = len(pins.history)
    relay.open()
    assert len(pins.history) == before + 1


def test_released_outputs_fall_to_their_external_pull_downs(pins: SimPinFactory) -> None:
    relay, boost = OutputRelay(27, pin_factory=pins), Boost(16, pin_factory=pins)
    relay.close()
    boost.enable()
    relay.release()
    boost.release()
    assert not pins.level(27) and not pins.level(16)


def test_polarity_relay_and_boost_report_what_they_drive(pins: SimPinFactory) -> None:
    polarity, boost = PolarityRelay(22, pin_factory=pins), Boost(16, pin_factory=pins)
    polarity.set_reversed(True)
    boost.enable()
    assert polarity.is_reversed and pins.level(22)
    assert boost.is_enabled and pins.level(16)
    polarity.set_reversed(False)
    boost.disable()
    assert not pins.level(22) and not pins.level(16)


def test_heartbeat_toggles_on_every_call_and_stop_parks_it_low(pins: SimPinFactory,
                                                               clock: VirtualClock) -> None:
    heartbeat = Heartbeat(5, pin_factory=pins)
    for _ in range(3):
        heartbeat.toggle()
        clock.sleep_s(0.01)
    heartbeat.stop()
    assert [level for _, level in levels(pins, 5)] == [True, False, True, False]


def test_estop_callback_runs_on_a_press_with_the_virtual_time(pins: SimPinFactory,
                                                              clock: VirtualClock) -> None:
    estop = EStop(17, pin_factory=pins)
    pressed_at: list[float] = []
    estop.on_pressed(lambda: pressed_at.append(clock.now_s()))
    assert estop.is_intact
    clock.sleep_s(2.0)
    pins.drive(17, True)  # loop opens
    assert not estop.is_intact
    assert pressed_at == [102.0]
    pins.drive(17, False)
    assert estop.is_intact and pressed_at == [102.0]


def test_a_failing_estop_listener_does_not_stop_the_next_one(pins: SimPinFactory) -> None:
    estop = EStop(17, pin_factory=pins)
    calls: list[str] = []

    def broken() -> None:
        calls.append("broken")
        raise RuntimeError("listener bug")

    estop.on_pressed(broken)
    estop.on_pressed(lambda: calls.append("shutdown"))
    with pytest.raises(RuntimeError):
        pins.drive(17, True)
    assert calls == ["broken", "shutdown"]


def test_hw_trip_status_and_callback_follow_the_latch_line(pins: SimPinFactory) -> None:
    trip = HwTrip(6, 13, pin_factory=pins)
    tripped: list[bool] = []
    trip.on_trip(lambda: tripped.append(True))
    assert not trip.is_tripped
    pins.drive(6, False)
    assert trip.is_tripped and tripped == [True]


def test_trip_reset_pulse_is_10_ms_high_on_the_board_clock(pins: SimPinFactory,
                                                           clock: VirtualClock) -> None:
    trip = HwTrip(6, 13, pin_factory=pins)
    assert trip.reset_pulse(clock)  # nothing tripped: clear afterwards
    assert levels(pins, 13) == [(100.0, True), (pytest.approx(100.010), False)]


def test_buzzer_and_led_switch(pins: SimPinFactory) -> None:
    buzzer, led = Buzzer(24, pin_factory=pins), StatusLed(23, pin_factory=pins)
    buzzer.on()
    led.on()
    assert buzzer.is_on and led.is_lit and pins.level(24) and pins.level(23)
    buzzer.off()
    led.off()
    assert not buzzer.is_on and not led.is_lit


def test_gpiozero_timing_uses_the_board_clock(pins: SimPinFactory, clock: VirtualClock) -> None:
    estop = EStop(17, pin_factory=pins)
    clock.sleep_s(3.0)
    assert estop._device.active_time == pytest.approx(3.0)


def test_pin_state_history_is_bounded(pins: SimPinFactory) -> None:
    heartbeat = Heartbeat(5, pin_factory=pins)
    for _ in range(3000):
        heartbeat.toggle()
    assert len(pins.pin(5).states) <= 1000


def test_the_global_pin_factory_is_never_set(pins: SimPinFactory) -> None:
    before = Device.pin_factory
    OutputRelay(27, pin_factory=pins).close()
    EStop(17, pin_factory=pins)
    assert Device.pin_factory is before
