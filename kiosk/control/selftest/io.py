"""The board as the self-test's steps see it: a few verbs on the real HAL objects.

Only the control thread calls it (the loop owns the bus and hands its cycle to the runner).
Energising refuses while the shutdown path holds a trip the core has not seen (``Blocked``):
a STOP, an E-stop or a fault always wins over a step. ``make_safe`` is the one way back to the
safe state after every step, at any failure, STOP or E-stop.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from kiosk.control.core import SelfTestReadings
from kiosk.hal.adc import AdcChannel
from kiosk.hal.board import Board
from kiosk.hal.errors import HalError

ADC_FULL_SCALE_V_AT_GAIN_1 = 4.096


class Blocked(Exception):
    """A trip is pending: the step may not energise anything."""


def lsb_v(channel: AdcChannel) -> float:
    """One count of ``channel`` at the PGA this board uses (hardware.md 4)."""
    return ADC_FULL_SCALE_V_AT_GAIN_1 / channel.gain / 32768.0


@dataclass
class StepIO:
    board: Board
    boot_readings: Callable[[], SelfTestReadings]  # BoardIO.selftest_readings: the boot checks
    trip_pending: Callable[[], bool]
    heartbeat_allowed: bool = True
    expected_trip: str | None = None  # a trip code the running step causes on purpose
    trips_seen: list[tuple[str, float]] = field(default_factory=list)

    @property
    def now_s(self) -> float:
        return self.board.clock.now_s()

    # ---------------------------------------------------------------- outputs
    def _may_energise(self) -> None:
        if self.trip_pending():
            raise Blocked

    def k1(self, closed: bool) -> None:
        if closed:
            self._may_energise()
            self.board.output_relay.close()
        else:
            self.board.output_relay.open()

    def k2(self, reversed_polarity: bool) -> None:
        if reversed_polarity:
            self._may_energise()
        self.board.polarity_relay.set_reversed(reversed_polarity)

    def boost(self, on: bool) -> None:
        if on:
            self._may_energise()
            self.board.boost.enable()
        else:
            self.board.boost.disable()

    def dac_ma(self, current_ma: float) -> None:
        if current_ma > 0:
            self._may_energise()
        self.board.dac.set_current_ma(current_ma)

    def trip_test(self, inject: bool) -> bool:
        """Raise or drop the proposed trip-test line; False when the board has none."""
        line = self.board.trip_test
        if line is None:
            return False
        if inject:
            line.inject()
        else:
            line.remove()
        return True

    def make_safe(self) -> None:
        """K1 open first (GPIO), DAC zero (bus errors ignored: K1 is open), boost off, the
        trip-test line down, the heartbeat allowed again. K2 is released by the runner once
        K1 had its settle time."""
        board = self.board
        board.output_relay.open()
        with contextlib.suppress(HalError):
            board.dac.zero()
        board.boost.disable()
        if board.trip_test is not None:
            board.trip_test.remove()
        board.buzzer.off()
        self.heartbeat_allowed = True
        self.expected_trip = None

    # ---------------------------------------------------------------- inputs
    def current_ma(self, samples: int = 2) -> float:
        return _mean([self.board.adc.read_current_ma() for _ in range(samples)])

    def electrode_v(self, samples: int = 2) -> float:
        return _mean([self.board.adc.read_electrode_v() for _ in range(samples)])

    def boost_v(self, samples: int = 2) -> float:
        return _mean([self.board.adc.read_boost_v() for _ in range(samples)])

    def readback_ma(self, samples: int = 2) -> float:
        return _mean([self.board.adc.read_setpoint_readback_ma() for _ in range(samples)])

    def pin_v(self, channel: AdcChannel) -> float:
        return self.board.adc.read_volts(channel)

    @property
    def estop_intact(self) -> bool:
        return self.board.estop.is_intact

    @property
    def hw_tripped(self) -> bool:
        return self.board.hw_trip.is_tripped

    def reset_trip(self) -> bool:
        """The 10 ms reset pulse (the board accepts it with DAC 0 and the E-stop intact)."""
        return self.board.hw_trip.reset_pulse(self.board.clock)

    def poll(self, condition: Callable[[], bool], max_s: float,
             period_s: float = 0.0005) -> bool:
        """Watch ``condition`` inside this cycle for at most ``max_s`` (kept well below the
        10 ms period), sleeping ``period_s`` between looks: a timing figure finer than the
        cycle. True as soon as it holds."""
        clock = self.board.clock
        end_s = clock.now_s() + max_s
        while not condition():
            if clock.now_s() >= end_s:
                return False
            clock.sleep_s(period_s)
        return True

    def saw_trip(self, code: str) -> float | None:
        for seen, at_s in self.trips_seen:
            if seen == code:
                return at_s
        return None


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values)
