"""The board's GPIO lines as small devices with names that say what they do (hardware.md 7).

The same classes run on the Pi (gpiozero's default pin factory: lgpio on Bookworm) and on the
simulated board (the factory passes the simulation's pin factory through ``pin_factory``).
Nothing here sets gpiozero's global ``Device.pin_factory``.

Safety notes that shaped these classes:

- ``OutputRelay.open()`` is one GPIO write and takes no lock of ours: the shutdown path calls it
  from any thread (supervisor, gpiozero's callback thread) while the control thread may be stuck
  inside an I2C transaction.
- The E-stop is an NC loop to GND with a pull-up: gpiozero calls the device "active" while the
  loop is INTACT; a press or a broken wire deactivates it. Hence ``on_pressed`` hangs on
  ``when_deactivated`` (do not model it as a ``Button`` whose press means stop).
- HW_TRIP_N is low when tripped: with ``pull_up=True`` the device is "active" while tripped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import gpiozero
from gpiozero import LED, DigitalInputDevice, DigitalOutputDevice

from kiosk.hal.clock import Clock

TRIP_RESET_PULSE_S = 0.010  # hardware.md 7: a 10 ms high pulse clears the latch

Callback = Callable[[], None]


class _CallbackList:
    """Several listeners behind one gpiozero callback slot; a failing listener does not stop
    the others (the shutdown path must still run)."""

    def __init__(self) -> None:
        self._callbacks: list[Callback] = []
        self._lock = threading.Lock()

    def add(self, callback: Callback) -> None:
        with self._lock:
            self._callbacks.append(callback)

    def fire(self) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        errors: list[BaseException] = []
        for callback in callbacks:
            try:
                callback()
            except Exception as error:  # keep calling the rest, re-raise afterwards
                errors.append(error)
        if errors:
            raise errors[0]


class OutputRelay:
    """K1: energised = electrodes connected to the output stage (BCM 27 by default)."""

    def __init__(self, pin: int = 27, *, pin_factory: Any = None) -> None:
        self._device = DigitalOutputDevice(pin, active_high=True, initial_value=False,
                                           pin_factory=pin_factory)

    def open(self) -> None:
        """De-energise K1 (electrodes onto the 10 k bleeder). One GPIO write, no lock."""
        self._device.off()

    def close(self) -> None:
        """Energise K1. Only at zero current, with K2 settled (hardware.md 8)."""
        self._device.on()

    @property
    def is_closed(self) -> bool:
        """What the GPIO commands; the contacts follow after the relay's operate time, and
        the hardware paths (E-stop, trip, heartbeat) can hold the coil off regardless."""
        return bool(self._device.is_active)

    def release(self) -> None:
        """Give the pin back (the board's pull-down then holds K1 released)."""
        self._device.close()


class PolarityRelay:
    """K2: energised = reversed polarity (electrode B anode); switch only with K1 open."""

    def __init__(self, pin: int = 22, *, pin_factory: Any = None) -> None:
        self._device = DigitalOutputDevice(pin, initial_value=False, pin_factory=pin_factory)

    def set_reversed(self, reversed_polarity: bool) -> None:
        if reversed_polarity:
            self._device.on()
        else:
            self._device.off()

    @property
    def is_reversed(self) -> bool:
        return bool(self._device.is_active)

    def release(self) -> None:
        self._device.close()


class Boost:
    """BOOST_EN: the 30 V rail for the output stage (BCM 16)."""

    def __init__(self, pin: int = 16, *, pin_factory: Any = None) -> None:
        self._device = DigitalOutputDevice(pin, initial_value=False, pin_factory=pin_factory)

    def enable(self) -> None:
        self._device.on()

    def disable(self) -> None:
        self._device.off()

    @property
    def is_enabled(self) -> bool:
        return bool(self._device.is_active)

    def release(self) -> None:
        self._device.close()


class Heartbeat:
    """GPIO5 into the external retriggerable monostable: toggle once per control cycle; when
    toggles stop for ~100 ms the board drops K1 and BOOST_EN by itself."""

    def __init__(self, pin: int = 5, *, pin_factory: Any = None) -> None:
        self._device = DigitalOutputDevice(pin, initial_value=False, pin_factory=pin_factory)
        self._level = False

    def toggle(self) -> None:
        self._level = not self._level
        self._device.value = self._level

    def stop(self) -> None:
        """Stop toggling and park the line low (the monostable then times out)."""
        self._level = False
        self._device.off()

    def release(self) -> None:
        self._device.close()


class EStop:
    """The E-stop loop on BCM 17: NC button to GND, pull-up; high = pressed or wire broken."""

    def __init__(self, pin: int = 17, *, pin_factory: Any = None) -> None:
        self._device = DigitalInputDevice(pin, pull_up=True, pin_factory=pin_factory)
        self._on_pressed = _CallbackList()
        self._device.when_deactivated = self._on_pressed.fire

    @property
    def is_intact(self) -> bool:
        return bool(self._device.is_active)

    def on_pressed(self, callback: Callback) -> None:
        """Call ``callback()`` on every press (loop opening), from gpiozero's callback thread.
        The hardware has already cut K1's coil by then; the callback latches the fault."""
        self._on_pressed.add(callback)

    def release(self) -> None:
        self._device.close()


class HwTrip:
    """The hardware over-current latch: status on BCM 6 (low = tripped), reset on BCM 13."""

    def __init__(self, status_pin: int = 6, reset_pin: int = 13, *,
                 pin_factory: Any = None, reset_pulse_s: float = TRIP_RESET_PULSE_S) -> None:
        self.reset_pulse_s = reset_pulse_s  # board.toml [timing] trip_reset_pulse_ms
        self._status = DigitalInputDevice(status_pin, pull_up=True, pin_factory=pin_factory)
        self._reset = DigitalOutputDevice(reset_pin, initial_value=False,
                                          pin_factory=pin_factory)
        self._on_trip = _CallbackList()
        self._status.when_activated = self._on_trip.fire

    @property
    def is_tripped(self) -> bool:
        return bool(self._status.is_active)

    def on_trip(self, callback: Callback) -> None:
        """Call ``callback()`` when the latch trips (from gpiozero's callback thread)."""
        self._on_trip.add(callback)

    def reset_pulse(self, clock: Clock) -> bool:
        """Send the 10 ms reset pulse; True if the latch is clear afterwards. The board only
        accepts it with the DAC at zero and the E-stop loop intact."""
        self._reset.on()
        try:
            clock.sleep_s(self.reset_pulse_s)
        finally:
            self._reset.off()
        return not self.is_tripped

    def release(self) -> None:
        self._status.close()
        self._reset.close()


class TripTest:
    """PROPOSED trip-test line (BCM 12 by default, docs/hardware-proposals.md): high injects an
    offset into the over-current comparator's input (not into the shunt: no current flows
    anywhere), so the service self-test can prove the hardware trip latches. External
    pull-down: the line rests low whatever the SoC does."""

    def __init__(self, pin: int = 12, *, pin_factory: Any = None) -> None:
        self._device = DigitalOutputDevice(pin, initial_value=False, pin_factory=pin_factory)

    def inject(self) -> None:
        self._device.on()

    def remove(self) -> None:
        self._device.off()

    @property
    def is_injecting(self) -> bool:
        return bool(self._device.is_active)

    def release(self) -> None:
        self._device.close()


class Buzzer:
    """Active buzzer on BCM 24. Patterns are timed by the caller on its own clock."""

    def __init__(self, pin: int = 24, *, pin_factory: Any = None) -> None:
        self._device = gpiozero.Buzzer(pin, pin_factory=pin_factory)

    def on(self) -> None:
        self._device.on()

    def off(self) -> None:
        self._device.off()

    @property
    def is_on(self) -> bool:
        return bool(self._device.is_active)

    def release(self) -> None:
        self._device.close()


class StatusLed:
    """Status LED on BCM 23."""

    def __init__(self, pin: int = 23, *, pin_factory: Any = None) -> None:
        self._device = LED(pin, pin_factory=pin_factory)

    def on(self) -> None:
        self._device.on()

    def off(self) -> None:
        self._device.off()

    @property
    def is_lit(self) -> bool:
        return bool(self._device.is_active)

    def release(self) -> None:
        self._device.close()
