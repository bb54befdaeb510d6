"""The board as the control layer sees it: chips and GPIO devices behind one object.

Built by ``kiosk.hal.factory.build_board`` from the board configuration, on the Pi or on the
simulated board; the objects are the same classes in both cases. ``sim`` is the simulated
board's truth and fault API (None on the Pi); only tests and the scenario runner touch it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kiosk.hal.adc import FrontEndAdc
from kiosk.hal.clock import Clock
from kiosk.hal.config import BoardConfig
from kiosk.hal.dac import SetpointDac
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

if TYPE_CHECKING:  # the HAL never imports hal.sim at run time; only the factory does
    from kiosk.hal.sim.board import SimBoard


@dataclass
class Board:
    clock: Clock
    config: BoardConfig
    i2c: Any  # busio-compatible: ExtendedI2C on the Pi, EmulatedI2C in simulation
    dac: SetpointDac
    adc: FrontEndAdc
    output_relay: OutputRelay
    polarity_relay: PolarityRelay
    boost: Boost
    heartbeat: Heartbeat
    estop: EStop
    hw_trip: HwTrip
    buzzer: Buzzer
    status_led: StatusLed
    trip_test: TripTest | None = None  # the proposed trip-test line (docs/hardware-proposals.md)
    sim: SimBoard | None = None
    _closed: bool = field(default=False, repr=False)

    def close(self) -> None:
        """Leave the board safe and give everything back: K1 open first (one GPIO write),
        then DAC zero (best effort: the bus may be the reason we are closing), boost off,
        then release the pins (external pull-downs keep every output off) and the bus."""
        if self._closed:
            return
        self._closed = True
        steps: list[Callable[[], None]] = [
            self.output_relay.open,
            self.dac.zero,
            self.boost.disable,
            self.heartbeat.stop,
        ]
        if self.trip_test is not None:
            steps.append(self.trip_test.remove)
        devices = (self.output_relay, self.polarity_relay, self.boost, self.heartbeat,
                   self.estop, self.hw_trip, self.buzzer, self.status_led)
        steps.extend(device.release for device in devices)
        if self.trip_test is not None:
            steps.append(self.trip_test.release)
        if self.sim is not None:
            steps.append(self.sim.close)
        deinit = getattr(self.i2c, "deinit", None)
        if callable(deinit):
            steps.append(deinit)
        interrupted: BaseException | None = None
        for step in steps:  # each step is independent: do them all, whatever fails
            try:
                step()
            except Exception:  # a failed step must not skip the next ones
                continue
            except BaseException as error:  # e.g. the end of simulated time: finish first
                interrupted = interrupted or error
        if interrupted is not None:
            raise interrupted
