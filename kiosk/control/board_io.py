"""The control loop's board I/O: read the board into :class:`Measurements`, apply an
:class:`Actuation`, read the self-test's readings. Only the control thread calls it (it owns the
bus); the shutdown path is the only other thing that touches the outputs, from any thread.

Reading: AIN0 (shunt current) and AIN1 (electrode voltage) every cycle, AIN2 (boost) and AIN3
(DAC readback) on the cycles the core asked for; the E-stop loop, the trip latch, K2's state and
the records' health. On a bus error: the last good readings with their old time (the core calls
them stale after 100 ms) and the shutdown path tripped once per episode of bus errors.

Applying: K1 opens first and closes last; nothing is energised while a trip is pending, and a
trip that slips in while applying is applied again at once; K2 moves only dry (K1 commanded open
for at least the relay settle time: a second line behind the core's own sequencing).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable
from dataclasses import replace

from kiosk.control.core import SelfTestReadings
from kiosk.control.cycle import Actuation, Measurements
from kiosk.control.loop_timing import LoopStats
from kiosk.control.reasons import Code, make
from kiosk.control.shutdown import ShutdownPath
from kiosk.hal.board import Board
from kiosk.hal.errors import HalError

_log = logging.getLogger(__name__)

RELAY_SETTLE_S = 0.010
"""hardware.md 8: 10 ms after any coil change. Only the default of :class:`BoardIO`'s
``relay_settle_s``; a running loop uses the board configuration's ``[timing] relay_settle_ms``."""


class BoardIO:
    """Measure and apply for the control loop; see the module docstring."""

    def __init__(self, board: Board, shutdown: ShutdownPath, stats: LoopStats,
                 storage_ok: Callable[[], bool]) -> None:
        self.board = board
        self.clock = board.clock
        self._shutdown = shutdown
        self._stats = stats
        self._storage_ok = storage_ok
        self.read_aux = True  # the core asks for AIN2/AIN3 one cycle ahead
        self._last: Measurements | None = None
        self._i2c_failing = False
        self._bus_error_this_cycle = False
        self._k1_commanded_closed = False
        self._k1_opened_at_s: float = -math.inf
        # relay wear, counted where the coils are switched (kiosk.control.device_record)
        self.k1_closures = 0
        self.k2_switches = 0
        self.relay_settle_s = board.config.relay_settle_s  # [timing] relay_settle_ms

    # ------------------------------------------------------------------ per cycle

    def begin_cycle(self) -> None:
        self._bus_error_this_cycle = False

    def end_cycle(self) -> None:
        """An episode of bus errors lasts as long as cycles in a row have one."""
        self._i2c_failing = self._bus_error_this_cycle

    @property
    def i2c_failing(self) -> bool:
        return self._i2c_failing

    @property
    def k1_commanded_closed(self) -> bool:
        return self._k1_commanded_closed

    @property
    def last_measurements(self) -> Measurements | None:
        return self._last

    # ------------------------------------------------------------------ reading

    def rest_measurements(self, now_s: float) -> Measurements:
        return Measurements(sample_time_s=now_s, current_ma=0.0, electrode_v=0.0,
                            estop_intact=self.board.estop.is_intact,
                            hw_trip_ok=not self.board.hw_trip.is_tripped)

    def measure(self) -> tuple[Measurements, bool]:
        """This cycle's readings and whether the bus answered (see the module docstring)."""
        board = self.board
        estop_intact = board.estop.is_intact
        hw_trip_ok = not board.hw_trip.is_tripped
        polarity = board.polarity_relay.is_reversed
        storage_ok = self._storage_ok()
        try:
            current_ma = board.adc.read_current_ma()
            sample_time_s = self.clock.now_s()
            electrode_v = board.adc.read_electrode_v()
            boost_v = readback_ma = None
            if self.read_aux:
                boost_v = board.adc.read_boost_v()
                readback_ma = board.adc.read_setpoint_readback_ma()
        except HalError as error:
            self._i2c_fault(error)
            last = self._last or self.rest_measurements(self.clock.now_s())
            return replace(last, estop_intact=estop_intact, hw_trip_ok=hw_trip_ok,
                           boost_v=None, setpoint_readback_ma=None,
                           polarity_reversed_readback=polarity, storage_ok=storage_ok), False
        measurements = Measurements(
            sample_time_s=sample_time_s, current_ma=current_ma, electrode_v=electrode_v,
            estop_intact=estop_intact, hw_trip_ok=hw_trip_ok, boost_v=boost_v,
            setpoint_readback_ma=readback_ma, polarity_reversed_readback=polarity,
            storage_ok=storage_ok)
        self._last = measurements
        return measurements, True

    def _i2c_fault(self, error: HalError) -> None:
        """Trip once per episode of bus errors (cycles in a row with one); the core holds the
        fault after that, and a dead chip must not flood the log at 100 Hz. The trip reaches
        the core as an input at the latest before the next step."""
        self._stats.i2c_errors += 1
        self._bus_error_this_cycle = True
        if not self._i2c_failing:
            self._i2c_failing = True
            self._shutdown.trip(make(Code.I2C_ERROR), "control_loop")
            _log.error("I2C error, output cut: %s", error)

    # ------------------------------------------------------------------ applying

    def apply(self, a: Actuation) -> tuple[int | None, bool]:
        """Apply ``a`` (see the module docstring); the DAC code written (None: the write
        failed) and whether the bus answered."""
        board = self.board
        shutdown = self._shutdown
        hw_trip_reset = a.hw_trip_reset  # only ever asked with DAC 0 and K1 open
        blocked = shutdown.pending
        if blocked:
            a = Actuation(dac_ma=0.0, output_relay_closed=False,
                          polarity_reversed=board.polarity_relay.is_reversed, boost_on=False,
                          buzzer_on=True, heartbeat_ok=False)
        now_s = self.clock.now_s()
        ok = True
        if not a.output_relay_closed:
            board.output_relay.open()
            if self._k1_commanded_closed:
                self._k1_opened_at_s = now_s
            self._k1_commanded_closed = False
        dac_code: int | None = None
        try:
            dac_code = board.dac.set_current_ma(a.dac_ma)
        except HalError as error:
            ok = False
            self._i2c_fault(error)
        if a.boost_on:
            board.boost.enable()
        else:
            board.boost.disable()
        self._apply_polarity(a.polarity_reversed, now_s)
        if a.buzzer_on:
            board.buzzer.on()
        else:
            board.buzzer.off()
        if a.output_relay_closed and ok and not shutdown.pending:
            board.output_relay.close()
            if not self._k1_commanded_closed:
                self.k1_closures += 1
            self._k1_commanded_closed = True
        if shutdown.pending and not blocked:  # a trip arrived while applying
            board.output_relay.open()
            self._k1_commanded_closed = False
            board.boost.disable()
            with contextlib.suppress(HalError):
                board.dac.zero()
        if hw_trip_reset:
            board.hw_trip.reset_pulse(self.clock)
        return dac_code, ok

    def _apply_polarity(self, reversed_polarity: bool, now_s: float) -> None:
        relay = self.board.polarity_relay
        if relay.is_reversed == reversed_polarity:
            return
        if self._k1_commanded_closed or now_s - self._k1_opened_at_s < self.relay_settle_s:
            return
        relay.set_reversed(reversed_polarity)
        self.k2_switches += 1

    def toggle_heartbeat(self) -> None:
        self.board.heartbeat.toggle()

    # ------------------------------------------------------------------ self-test

    def selftest_readings(self) -> SelfTestReadings:
        """hardware.md 8 step 1: output open, boost off, DAC zeroed and its EEPROM read, the
        converter's readings at rest."""
        board = self.board
        board.output_relay.open()
        board.boost.disable()
        dac_answers = adc_answers = True
        eeprom_pd: int | None = None
        eeprom_code: int | None = None
        current_ma: float | None = None
        electrode_v: float | None = None
        try:
            board.dac.zero()
            status = board.dac.read_status()
            eeprom_pd, eeprom_code = status.eeprom_pd, status.eeprom_code
        except HalError:
            dac_answers = False
        try:
            current_ma = board.adc.read_current_ma()
            electrode_v = board.adc.read_electrode_v()
        except HalError:
            adc_answers = False
        return SelfTestReadings(
            dac_answers=dac_answers, adc_answers=adc_answers, dac_eeprom_power_down=eeprom_pd,
            dac_eeprom_code=eeprom_code, hw_trip_ok=not board.hw_trip.is_tripped,
            estop_intact=board.estop.is_intact, current_ma=current_ma, electrode_v=electrode_v)
