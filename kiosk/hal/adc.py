"""The front-end ADC (ADS1115 at 0x48): shunt current, electrode and boost voltages, set-point.

Runs unchanged on the Pi (``busio.I2C``) and on the simulated board (``EmulatedI2C``), through
the Adafruit ``adafruit_ads1x15`` driver in SINGLE-SHOT mode at 860 SPS. Single-shot is not a
preference: in continuous mode the 3.0.5 driver ignores the requested channel and keeps
whatever MUX the chip already has (its ``_write_config`` re-reads the MUX), so alternating
channels would silently return the wrong signal.

Per-channel gain (hardware.md section 4): the driver writes the whole config word, gain
included, at the start of every single-shot read, so this class keeps one driver object per
PGA setting (gain 8 and gain 4) instead of changing ``ads.gain``, whose setter costs an extra
config read and write each time. The words on the bus are 0xC9E3, 0xD7E3, 0xE7E3 and 0xF9E3.

Hang policy: the driver busy-polls the OS bit with no timeout, and we keep it that way. An ADC
that never finishes a conversion blocks the calling (control) thread; the control layer's
supervisor, which watches the control thread's liveness from another thread, must catch that
and open the output relay by GPIO. Adding a timeout here would need the clock inside the
driver's loop and would still leave the thread stuck in a real hung ioctl.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from enum import Enum

from adafruit_ads1x15 import ADS1115, AnalogIn
from adafruit_ads1x15.ads1x15 import Mode

from kiosk.hal.clock import Clock, RealClock
from kiosk.hal.dac import I2CBus
from kiosk.hal.errors import BusError

DEFAULT_ADDRESS = 0x48
DATA_RATE_SPS = 860
ELECTRODE_DIVIDER_RATIO = 33.2 / (1000.0 + 33.2)  # 1 MOhm over 33.2 kOhm: 0.032133


class AdcChannel(Enum):
    """Input, driver gain (PGA) and signal of each ADS1115 channel on this board."""

    I_SHUNT = (0, 8)  # +-0.512 V: shunt voltage, 2.5 mA x 100 Ohm = 0.25 V
    V_OUT = (1, 4)  # +-1.024 V: output node through the 1M/33.2k divider
    V_BOOST = (2, 4)  # +-1.024 V: boost rail through the same divider
    VSET = (3, 8)  # +-0.512 V: DAC after the 120k/10k divider (set-point readback)

    @property
    def pin(self) -> int:
        return self.value[0]

    @property
    def gain(self) -> int:
        return self.value[1]


@dataclass(frozen=True)
class AdcCalibration:
    """Front-end values (hardware.md 5) and a per-channel gain/offset, applied after scaling.

    ``x_calibrated = gain x x_nominal + offset`` in the channel's unit (mA or V); the defaults
    are the design values, the two-point maintenance calibration replaces gain and offset.
    """

    shunt_ohm: float = 100.0
    rset_ohm: float = 100.0
    electrode_divider_ratio: float = ELECTRODE_DIVIDER_RATIO
    boost_divider_ratio: float = ELECTRODE_DIVIDER_RATIO
    current_gain: float = 1.0
    current_offset_ma: float = 0.0
    electrode_gain: float = 1.0
    electrode_offset_v: float = 0.0
    boost_gain: float = 1.0
    boost_offset_v: float = 0.0
    setpoint_gain: float = 1.0
    setpoint_offset_ma: float = 0.0

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not math.isfinite(value):
                raise ValueError(f"AdcCalibration.{field.name} must be finite, got {value}")
            if not field.name.endswith(("offset_ma", "offset_v")) and value <= 0:
                raise ValueError(f"AdcCalibration.{field.name} must be > 0, got {value}")

    def current_ma(self, shunt_v: float) -> float:
        return self.current_gain * shunt_v / self.shunt_ohm * 1000.0 + self.current_offset_ma

    def electrode_v(self, divided_v: float) -> float:
        return (self.electrode_gain * divided_v / self.electrode_divider_ratio
                + self.electrode_offset_v)

    def boost_v(self, divided_v: float) -> float:
        return self.boost_gain * divided_v / self.boost_divider_ratio + self.boost_offset_v

    def setpoint_ma(self, vset_v: float) -> float:
        return self.setpoint_gain * vset_v / self.rset_ohm * 1000.0 + self.setpoint_offset_ma


class FrontEndAdc:
    """Reads the four front-end signals in physical units, one single-shot conversion each."""

    def __init__(self, i2c: I2CBus, address: int = DEFAULT_ADDRESS,
                 cal: AdcCalibration = AdcCalibration(), clock: Clock | None = None) -> None:
        self._address = address
        self.cal = cal
        self._clock: Clock = clock if clock is not None else RealClock()
        try:
            drivers = {gain: ADS1115(i2c, gain=gain, data_rate=DATA_RATE_SPS, mode=Mode.SINGLE,
                                     address=address)
                       for gain in sorted({channel.gain for channel in AdcChannel})}
        except (OSError, ValueError) as error:  # the bus-device probe raises ValueError
            raise BusError(f"ADS1115 ADC not answering at 0x{address:02x}: {error}") from error
        self._inputs = {channel: AnalogIn(drivers[channel.gain], channel.pin)
                        for channel in AdcChannel}
        #: Seconds the last read took on the board's clock (bus plus conversion).
        self.last_read_s = 0.0

    @property
    def address(self) -> int:
        return self._address

    def read_volts(self, channel: AdcChannel) -> float:
        """One single-shot conversion of ``channel``, in volts at the ADC pin.

        Blocks until the conversion ends (the driver's busy-poll, no timeout: see module doc).
        """
        started_s = self._clock.now_s()
        try:
            volts = float(self._inputs[channel].voltage)
        except OSError as error:
            raise BusError(f"ADC read of {channel.name} failed: {error}") from error
        self.last_read_s = self._clock.now_s() - started_s
        return volts

    def read_current_ma(self) -> float:
        """Load current through the 100 Ohm shunt (AIN0)."""
        return self.cal.current_ma(self.read_volts(AdcChannel.I_SHUNT))

    def read_electrode_v(self) -> float:
        """Output node voltage V_OUT (AIN1); load voltage is this minus I x RSHUNT."""
        return self.cal.electrode_v(self.read_volts(AdcChannel.V_OUT))

    def read_boost_v(self) -> float:
        """Boost rail voltage (AIN2)."""
        return self.cal.boost_v(self.read_volts(AdcChannel.V_BOOST))

    def read_setpoint_readback_ma(self) -> float:
        """The current the DAC commands, from VSET / Rset (AIN3): stuck-DAC detection."""
        return self.cal.setpoint_ma(self.read_volts(AdcChannel.VSET))
