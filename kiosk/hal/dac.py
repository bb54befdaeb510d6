"""The set-point DAC (MCP4725 at 0x62): current commands in, 12-bit codes out.

Runs unchanged on the Pi (``busio.I2C``) and on the simulated board (``EmulatedI2C``). The
Adafruit driver does what it can (fast write through ``raw_value``, the 3-byte read); the
transactions it lacks (5-byte status read, DAC+EEPROM write with PD bits, power-down) are raw
``I2CDevice`` transactions laid out as in hardware.md section 3.

Threads: only the control thread may call the driver-backed methods (the driver shares one
class-level buffer between all instances). ``zero()`` and ``power_down()`` are the exception:
they are the shutdown path's DAC step, callable from any thread, so they use their own
immutable buffers and wait a bounded time for the bus instead of spinning forever.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import adafruit_mcp4725
from adafruit_bus_device.i2c_device import I2CDevice

from kiosk.hal.clock import Clock, RealClock
from kiosk.hal.errors import BusError, HalError

DEFAULT_ADDRESS = 0x62
MAX_CODE = 4095
#: Fast write, PD = 00, code 0: the DAC drives 0 V (shutdown step 2).
FAST_WRITE_ZERO = bytes((0x00, 0x00))
#: Fast write, PD = 01, code 0: output off, 1 kOhm to GND.
FAST_WRITE_POWER_DOWN_1K = bytes((0x10, 0x00))
#: Write DAC + EEPROM, PD = 01, code 0: the production step (power-up lands safe).
WRITE_EEPROM_SAFE = bytes((0x62, 0x00, 0x00))
SAFE_EEPROM_PD = 1
SAFE_EEPROM_CODE = 0
EEPROM_READY_TIMEOUT_S = 0.060  # datasheet max 50 ms plus margin
EEPROM_POLL_PERIOD_S = 0.002
BUS_LOCK_TIMEOUT_S = 0.005  # longest sane transaction is ~0.2 ms; a stalled bus is a fault
BUS_LOCK_RETRY_S = 20e-6


class I2CBus(Protocol):
    """What the HAL needs from a bus: ``busio.I2C`` on the Pi, ``EmulatedI2C`` in simulation."""

    def try_lock(self) -> bool: ...

    def unlock(self) -> None: ...

    def writeto(self, address: int, buffer: bytes, *, start: int = 0,
                end: int | None = None) -> None: ...

    def readfrom_into(self, address: int, buffer: bytearray, *, start: int = 0,
                      end: int | None = None) -> None: ...

    def writeto_then_readfrom(self, address: int, buffer_out: bytes, buffer_in: bytearray, *,
                              out_start: int = 0, out_end: int | None = None,
                              in_start: int = 0, in_end: int | None = None) -> None: ...


@dataclass(frozen=True)
class DacCalibration:
    """Code <-> commanded current: I = code x ua_per_lsb + offset_ua (hardware.md 5).

    0.6197 uA per LSB = 3.30 V / 4096 x 0.076923 / 100 Ohm; a maintenance calibration replaces
    both values with measured ones.
    """

    ua_per_lsb: float = 0.6197
    offset_ua: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.ua_per_lsb) and self.ua_per_lsb > 0):
            raise ValueError(f"ua_per_lsb must be a positive number, got {self.ua_per_lsb}")
        if not math.isfinite(self.offset_ua):
            raise ValueError(f"offset_ua must be finite, got {self.offset_ua}")

    def code_for_current_ma(self, current_ma: float) -> int:
        """Nearest code for ``current_ma``, clamped to 0..4095; negative or not finite raises."""
        if not math.isfinite(current_ma) or current_ma < 0:
            raise ValueError(f"current must be a finite number >= 0 mA, got {current_ma!r}")
        code = round((current_ma * 1000.0 - self.offset_ua) / self.ua_per_lsb)
        return max(0, min(MAX_CODE, code))

    def current_ma_for_code(self, code: int) -> float:
        return (code * self.ua_per_lsb + self.offset_ua) / 1000.0


@dataclass(frozen=True)
class DacStatus:
    """The MCP4725's 5-byte read: status, DAC register and EEPROM contents."""

    ready: bool
    por: bool
    dac_code: int
    dac_pd: int
    eeprom_code: int
    eeprom_pd: int

    @classmethod
    def from_bytes(cls, raw: bytes | bytearray) -> DacStatus:
        if len(raw) < 5:
            raise ValueError(f"need the 5 status bytes, got {len(raw)}")
        return cls(
            ready=bool(raw[0] & 0x80),
            por=bool(raw[0] & 0x40),
            dac_code=(raw[1] << 4) | (raw[2] >> 4),
            dac_pd=(raw[0] >> 1) & 0x03,
            eeprom_code=((raw[3] & 0x0F) << 8) | raw[4],
            eeprom_pd=(raw[3] >> 5) & 0x03,
        )

    @property
    def eeprom_is_safe(self) -> bool:
        """Power-up lands in the safe state: EEPROM PD = 01 (1 kOhm to GND), code 0."""
        return self.eeprom_pd == SAFE_EEPROM_PD and self.eeprom_code == SAFE_EEPROM_CODE


def validate_code(code: object) -> int:
    """``code`` as a DAC code, or ValueError saying why it is not one."""
    if isinstance(code, bool) or not isinstance(code, int):
        raise ValueError(f"DAC code must be an int 0..{MAX_CODE}, got {code!r}")
    if not 0 <= code <= MAX_CODE:
        raise ValueError(f"DAC code must be 0..{MAX_CODE}, got {code}")
    return code


class SetpointDac:
    """The MCP4725 that sets the output current (open-loop set-point of the V-to-I stage)."""

    def __init__(self, i2c: I2CBus, address: int = DEFAULT_ADDRESS,
                 cal: DacCalibration = DacCalibration(), *, clock: Clock | None = None) -> None:
        self._i2c = i2c
        self._address = address
        self.cal = cal
        self._clock: Clock = clock if clock is not None else RealClock()
        try:
            self._driver = adafruit_mcp4725.MCP4725(i2c, address=address)
        except (OSError, ValueError) as error:  # the bus-device probe raises ValueError
            raise BusError(f"MCP4725 DAC not answering at 0x{address:02x}: {error}") from error
        self._device = I2CDevice(i2c, address, probe=False)

    @property
    def address(self) -> int:
        return self._address

    def set_current_ma(self, current_ma: float) -> int:
        """Command ``current_ma`` (clamped to the DAC's range); returns the code written."""
        code = self.cal.code_for_current_ma(current_ma)
        self.set_code(code)
        return code

    def set_code(self, code: int) -> None:
        """Fast write of ``code`` with PD = 00 (also wakes a powered-down part)."""
        valid = validate_code(code)
        try:
            self._driver.raw_value = valid
        except OSError as error:
            raise BusError(f"DAC write of code {valid} failed: {error}") from error

    def read_code(self) -> int:
        """The DAC register's code (the driver's 3-byte read)."""
        try:
            return int(self._driver.raw_value)
        except OSError as error:
            raise BusError(f"DAC read failed: {error}") from error

    def zero(self) -> None:
        """Fast write code 0, PD = 00: one write, no read; safe from any thread.

        This is step 2 of the shutdown path (after the relay opened by GPIO). It never spins
        forever on a bus another thread holds: after ``BUS_LOCK_TIMEOUT_S`` it raises BusError,
        which the shutdown path ignores.
        """
        self._write_raw_bounded(FAST_WRITE_ZERO, "DAC zero")

    def power_down(self) -> None:
        """Fast write PD = 01, code 0: output off with 1 kOhm to GND (raw, the driver has none)."""
        self._write_raw_bounded(FAST_WRITE_POWER_DOWN_1K, "DAC power-down")

    def read_status(self) -> DacStatus:
        """The 5-byte read: RDY, POR, DAC code and PD, EEPROM code and PD."""
        raw = bytearray(5)
        try:
            with self._device as device:
                device.readinto(raw)
        except OSError as error:
            raise BusError(f"DAC status read failed: {error}") from error
        return DacStatus.from_bytes(raw)

    def eeprom_is_safe(self) -> bool:
        """Boot self-test: the EEPROM holds PD = 01, code 0 (power-up lands safe)."""
        return self.read_status().eeprom_is_safe

    def program_safe_power_on(self, timeout_s: float = EEPROM_READY_TIMEOUT_S) -> None:
        """Production step: store PD = 01, code 0 in the EEPROM, wait for RDY, verify.

        The same write also loads the DAC register (output off). Never call it from the control
        loop: the EEPROM lasts about a million writes. Raises HalError when RDY does not return
        within ``timeout_s`` on the board's clock, or when the EEPROM does not read back safe.
        """
        try:
            with self._device as device:
                device.write(WRITE_EEPROM_SAFE)
        except OSError as error:
            raise BusError(f"DAC EEPROM write failed: {error}") from error
        deadline_s = self._clock.now_s() + timeout_s
        while not self._status_ready():
            if self._clock.now_s() >= deadline_s:
                raise HalError(f"DAC EEPROM still busy {timeout_s * 1000:.0f} ms after writing")
            self._clock.sleep_s(EEPROM_POLL_PERIOD_S)
        status = self.read_status()
        if not status.eeprom_is_safe:
            raise HalError(
                f"DAC EEPROM reads PD={status.eeprom_pd} code={status.eeprom_code} after "
                f"programming PD={SAFE_EEPROM_PD} code={SAFE_EEPROM_CODE}")

    def _status_ready(self) -> bool:
        status = bytearray(1)
        try:
            with self._device as device:
                device.readinto(status)
        except OSError as error:
            raise BusError(f"DAC RDY poll failed: {error}") from error
        return bool(status[0] & 0x80)

    def _write_raw_bounded(self, data: bytes, what: str) -> None:
        deadline_s = self._clock.now_s() + BUS_LOCK_TIMEOUT_S
        while not self._i2c.try_lock():
            if self._clock.now_s() >= deadline_s:
                raise BusError(f"{what}: I2C bus busy for more than "
                               f"{BUS_LOCK_TIMEOUT_S * 1000:.0f} ms")
            self._clock.sleep_s(BUS_LOCK_RETRY_S)
        try:
            self._i2c.writeto(self._address, data)
        except OSError as error:
            raise BusError(f"{what} failed: {error}") from error
        finally:
            self._i2c.unlock()
