"""Builds the :class:`~kiosk.hal.board.Board` on the Pi or on the simulated board.

The same HAL classes in both cases; only the bus object and the gpiozero pin factory differ:

- Pi: ``adafruit_extended_bus.ExtendedI2C(config.i2c.bus)`` (``/dev/i2c-N``) and gpiozero's
  default pin factory (lgpio on Bookworm).
- Simulation: the ``SimBoard``'s emulated bus with the MCP4725 and ADS1115 models attached and
  its mock pin factory on the board clock. Its DAC EEPROM is programmed as the production step
  leaves it (PD = 01, code 0) unless ``fresh_dac=True`` asks for a part straight from the reel
  (PD = 00, mid-scale), which the boot self-test must then refuse.

This is the only module that imports ``kiosk.hal.sim``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kiosk.hal.adc import AdcCalibration, FrontEndAdc
from kiosk.hal.board import Board
from kiosk.hal.clock import Clock, RealClock
from kiosk.hal.config import BoardConfig
from kiosk.hal.dac import DacCalibration, SetpointDac
from kiosk.hal.errors import BusError
from kiosk.hal.gpio import (
    Boost,
    Buzzer,
    EStop,
    Heartbeat,
    HwTrip,
    OutputRelay,
    PolarityRelay,
    StatusLed,
    TripTest,
)

_log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from kiosk.hal.sim.board import SimBoard
    from kiosk.hal.sim.skin import SkinParams

    SimLoad = SkinParams
    """The simulated skin's parameters (``build_board(load=...)``), named here so that control
    reaches the simulated board only through this factory."""


def sim_fault_names() -> tuple[str, ...]:
    """The simulated board's fault names (``--inject``, the developer menu, the daemon's
    ``fault_names`` answer): control asks here, never ``kiosk.hal.sim`` itself."""
    from kiosk.hal.sim.faults import FAULT_NAMES

    return tuple(FAULT_NAMES)


def dac_calibration(config: BoardConfig) -> DacCalibration:
    """The design slope (hardware.md 5); the control layer puts the board's maintenance
    calibration (state folder) in its place before the first cycle."""
    return DacCalibration(ua_per_lsb=config.dac_design_ua_per_lsb, offset_ua=0.0)


def adc_calibration(config: BoardConfig) -> AdcCalibration:
    """The front end's design values with unit gains (replaced like the DAC's)."""
    f = config.frontend
    return AdcCalibration(
        shunt_ohm=f.rshunt_ohm, rset_ohm=f.rset_ohm,
        electrode_divider_ratio=config.vout_divider_ratio,
        boost_divider_ratio=config.vout_divider_ratio)


def open_pi_i2c(bus: int) -> Any:
    """``/dev/i2c-<bus>`` through Blinka; a clear BusError when it is not there."""
    device = f"/dev/i2c-{bus}"
    try:
        from adafruit_extended_bus import ExtendedI2C
    except Exception as error:  # ImportError, or Blinka refusing an unknown platform
        raise BusError(f"cannot load the I2C driver for {device} (adafruit-extended-bus / "
                       f"Blinka): {error}") from error
    try:
        return ExtendedI2C(bus)
    except (OSError, ValueError) as error:
        raise BusError(f"cannot open I2C bus {device}: {error}. On the Pi enable it with "
                       f"dtparam=i2c_arm=on in config.txt; on a development machine run the "
                       f"simulated board (--sim)") from error


def build_board(config: BoardConfig, *, sim: bool, clock: Clock | None = None, seed: int = 0,
                load: SkinParams | None = None, fresh_dac: bool = False) -> Board:
    """The board, real (``sim=False``) or simulated; ``clock`` defaults to the wall clock.

    ``seed`` (ADC noise) and ``load`` (the skin) only matter in simulation.
    """
    board_clock: Clock = clock if clock is not None else RealClock()
    sim_board: SimBoard | None = None
    if sim:
        from kiosk.hal.sim.board import SimBoard

        sim_board = SimBoard(config, board_clock, seed=seed, load=load, fresh_dac=fresh_dac)
        i2c: Any = sim_board.bus
        pin_factory: Any = sim_board.pin_factory
        _log.info("simulated board in place of /dev/i2c-%d", config.i2c.bus)
    else:
        i2c = open_pi_i2c(config.i2c.bus)  # before any pin is claimed: fail clean
        pin_factory = None

    undo: list[Callable[[], None]] = []
    try:
        g = config.gpio
        output_relay = OutputRelay(g.k1_output_en, pin_factory=pin_factory)
        undo.append(output_relay.release)
        polarity_relay = PolarityRelay(g.k2_polarity, pin_factory=pin_factory)
        undo.append(polarity_relay.release)
        boost = Boost(g.boost_en, pin_factory=pin_factory)
        undo.append(boost.release)
        heartbeat = Heartbeat(g.wdt_heartbeat, pin_factory=pin_factory)
        undo.append(heartbeat.release)
        estop = EStop(g.estop_loop, pin_factory=pin_factory)
        undo.append(estop.release)
        hw_trip = HwTrip(g.hw_trip_n, g.hw_trip_reset, pin_factory=pin_factory,
                         reset_pulse_s=config.trip_reset_pulse_s)
        undo.append(hw_trip.release)
        trip_test = TripTest(g.trip_test, pin_factory=pin_factory)
        undo.append(trip_test.release)
        buzzer = Buzzer(g.buzzer, pin_factory=pin_factory)
        undo.append(buzzer.release)
        status_led = StatusLed(g.status_led, pin_factory=pin_factory)
        undo.append(status_led.release)
        # ALERT/RDY is reserved (hardware.md 4: the driver polls the OS bit; nothing else may
        # take the pin). The simulated board models its pull-up from the same key.
        _log.debug("ADS1115 ALERT/RDY reserved on BCM %d", g.ads_alert_rdy)
        dac = SetpointDac(i2c, config.i2c.dac_address, dac_calibration(config),
                          clock=board_clock)
        adc = FrontEndAdc(i2c, config.i2c.adc_address, adc_calibration(config), board_clock)
    except BaseException:
        for step in reversed(undo):
            with contextlib.suppress(Exception):
                step()
        if sim_board is not None:
            sim_board.close()
        else:
            with contextlib.suppress(Exception):
                i2c.deinit()
        raise
    return Board(clock=board_clock, config=config, i2c=i2c, dac=dac, adc=adc,
                 output_relay=output_relay, polarity_relay=polarity_relay, boost=boost,
                 heartbeat=heartbeat, estop=estop, hw_trip=hw_trip, buzzer=buzzer,
                 status_led=status_led, trip_test=trip_test, sim=sim_board)
