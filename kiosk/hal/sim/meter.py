"""The technician's bench on the simulated board: a reference resistor and a multimeter.

The calibration (kiosk/control/calibration.py) asks the technician to put a reference resistor
across the electrode leads and to type what a meter reads. On the simulated board the meter
reads the load model's truth (the current through the load, the voltage across it), optionally
with a meter error (``current_error_fraction``, ``voltage_error_fraction``: a meter reading
``truth x (1 + error)``), so the tests can show what a calibration against a wrong meter does.
``connect_reference(ohm)`` puts a pure resistor in place of the skin (no Rp drift, no
polarisation); ``disconnect_reference()`` gives the skin back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kiosk.hal.sim.skin import Skin, SkinParams

if TYPE_CHECKING:
    from kiosk.hal.sim.board import SimBoard

REFERENCE_OHM = 10_000.0
MAX_METER_ERROR = 0.2


@dataclass(frozen=True)
class MeterReading:
    current_ma: float  # through the load, in the direction the stage drives
    voltage_v: float  # across the electrode leads


class SimMeter:
    """Meter and reference resistor of one simulated board."""

    def __init__(self, board: SimBoard) -> None:
        self._board = board
        self._skin: Skin | None = None  # the client's skin while the resistor is connected
        self.current_error_fraction = 0.0
        self.voltage_error_fraction = 0.0

    def set_error(self, current_fraction: float = 0.0, voltage_fraction: float = 0.0) -> None:
        for value in (current_fraction, voltage_fraction):
            if not (math.isfinite(value) and abs(value) <= MAX_METER_ERROR):
                raise ValueError(f"meter error must be within +-{MAX_METER_ERROR}, got {value}")
        self.current_error_fraction = current_fraction
        self.voltage_error_fraction = voltage_fraction

    def reading(self) -> MeterReading:
        return MeterReading(
            current_ma=self._board.true_current_ma() * (1.0 + self.current_error_fraction),
            voltage_v=self._board.true_load_voltage_v() * (1.0 + self.voltage_error_fraction))

    @property
    def reference_connected(self) -> bool:
        return self._skin is not None

    def connect_reference(self, ohm: float = REFERENCE_OHM) -> None:
        """A pure resistor of ``ohm`` across the leads in place of the skin."""
        board = self._board
        resistor = Skin(SkinParams(rs_ohm=ohm - 1.0, rp_ohm=1.0, cp_nf=10.0, e_pol_v=0.0,
                                   rp_final_fraction=1.0))
        with board._lock:
            board.frontend.advance_to(board.clock.now_s())
            if self._skin is None:
                self._skin = board.frontend.skin
            board.frontend.skin = resistor
            board.frontend.skin_changed(board.clock.now_s())

    def disconnect_reference(self) -> None:
        board = self._board
        if self._skin is None:
            return
        with board._lock:
            board.frontend.advance_to(board.clock.now_s())
            board.frontend.skin = self._skin
            self._skin = None
            board.frontend.skin_changed(board.clock.now_s())
