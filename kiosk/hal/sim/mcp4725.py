"""MCP4725 12-bit DAC at register level (Microchip DS22039D; hardware.md section 3).

The model keeps what the chip keeps: a volatile DAC register (code + PD bits), an EEPROM with
the same fields, and the EEPROM programming cycle during which the chip ignores every write.
It answers the command formats byte for byte, so the real ``adafruit_mcp4725`` driver and our
raw production/self-test transactions run against it unchanged. The output voltage is what the
analog front end reads (through ``on_output_change``).
"""

from __future__ import annotations

from collections.abc import Callable

from kiosk.hal.clock import Clock

FULL_SCALE_CODE = 4095
EEPROM_WRITE_MAX_S = 0.050  # datasheet maximum

GENERAL_CALL_RESET = 0x06
GENERAL_CALL_WAKE_UP = 0x09

#: Power-down mode -> resistance from VOUT to GND (the output amplifier is off).
PD_LOAD_OHM: dict[int, float] = {1: 1_000.0, 2: 100_000.0, 3: 500_000.0}


class Mcp4725Model:
    """One MCP4725 on the emulated bus (implements the bus's ``I2CTarget`` protocol)."""

    def __init__(self, clock: Clock, *, vdd_v: float = 3.3, eeprom_code: int = 0x800,
                 eeprom_pd: int = 0, eeprom_write_s: float = 0.025,
                 on_output_change: Callable[[float], None] | None = None) -> None:
        if not 0 <= eeprom_code <= FULL_SCALE_CODE:
            raise ValueError(f"eeprom_code must be 0..4095, got {eeprom_code}")
        if eeprom_pd not in (0, 1, 2, 3):
            raise ValueError(f"eeprom_pd must be 0..3, got {eeprom_pd}")
        if not 0 < eeprom_write_s <= EEPROM_WRITE_MAX_S:
            raise ValueError(
                f"eeprom_write_s must be > 0 and at most {EEPROM_WRITE_MAX_S * 1000:.0f} ms "
                f"(datasheet maximum), got {eeprom_write_s} s")
        if vdd_v <= 0:
            raise ValueError(f"vdd_v must be positive, got {vdd_v}")
        self._clock = clock
        self.vdd_v = vdd_v
        self.eeprom_write_s = eeprom_write_s
        self.on_output_change = on_output_change
        self._eeprom_code = eeprom_code
        self._eeprom_pd = eeprom_pd
        # (code, PD) replaced as one tuple: readers on other threads (the front end) never see
        # a code from one write with the PD bits of another.
        self._register = (eeprom_code, eeprom_pd)
        self.por = False
        #: Fault ``dac_ignores_writes``: the chip ACKs every byte but nothing changes.
        self.ignore_writes = False
        self._eeprom_busy_until_s = float("-inf")
        self._eeprom_pending: tuple[int, int] | None = None
        self.power_on_reset()

    # ------------------------------------------------------------------ public state

    @property
    def dac_code(self) -> int:
        """12-bit code in the volatile DAC register."""
        return self._register[0]

    @property
    def pd_mode(self) -> int:
        """PD1:PD0 of the DAC register: 0 driving, 1/2/3 off into 1 k/100 k/500 k."""
        return self._register[1]

    def output_v(self) -> float:
        """VOUT: VDD x code / 4096, or 0 V while powered down (pulled to GND)."""
        code, pd = self._register
        if pd != 0:
            return 0.0
        return self.vdd_v * code / 4096.0

    def output_load_ohm(self) -> float | None:
        """Resistance to GND in power-down (1 k / 100 k / 500 k), None while driving."""
        return PD_LOAD_OHM.get(self._register[1])

    @property
    def eeprom_code(self) -> int:
        """Code stored in the EEPROM (a write in progress counts once it has finished)."""
        self._finish_eeprom_write_if_due()
        return self._eeprom_code

    @property
    def eeprom_pd(self) -> int:
        self._finish_eeprom_write_if_due()
        return self._eeprom_pd

    def eeprom_busy(self) -> bool:
        """True while an EEPROM write is in progress (RDY/BSY reads 0)."""
        self._finish_eeprom_write_if_due()
        return self._eeprom_pending is not None

    def power_on_reset(self) -> None:
        """Supply comes up: the EEPROM (code and PD) is loaded into the DAC register.

        An EEPROM write still in progress is lost (the EEPROM keeps its old contents).
        """
        self._finish_eeprom_write_if_due()
        self._eeprom_busy_until_s = float("-inf")
        self._eeprom_pending = None
        self.por = True
        self._load_eeprom_into_dac()

    # ------------------------------------------------------------------ I2CTarget

    def write(self, data: bytes) -> None:
        """One write transaction: a sequence of fast (2-byte) or 3-byte commands."""
        index = 0
        while index < len(data):
            first = data[index]
            if first & 0xC0 == 0x00:  # fast write: C2 C1 = 00
                if index + 2 > len(data):
                    return  # incomplete pair: nothing latched
                self._fast_write(first, data[index + 1])
                index += 2
            else:
                if index + 3 > len(data):
                    return  # incomplete command: nothing latched
                self._three_byte_command(first, data[index + 1], data[index + 2])
                index += 3

    def read(self, n: int) -> bytes:
        """The 5-byte status/DAC/EEPROM record, repeated while the master keeps reading."""
        record = self._read_record()
        return bytes(record[i % len(record)] for i in range(n))

    def general_call(self, data: bytes) -> None:
        for command in data:
            if self.ignore_writes or self.eeprom_busy():
                return
            if command == GENERAL_CALL_RESET:
                self.power_on_reset()
            elif command == GENERAL_CALL_WAKE_UP:
                self._set_dac(self.dac_code, 0)

    # ------------------------------------------------------------------ internals

    def _fast_write(self, first: int, second: int) -> None:
        if self._write_blocked():
            return
        pd = (first >> 4) & 0x03
        code = ((first & 0x0F) << 8) | second
        self._set_dac(code, pd)

    def _three_byte_command(self, first: int, upper: int, lower: int) -> None:
        command = (first >> 5) & 0x07
        if command not in (0b010, 0b011):
            return  # 100-111 reserved: ignored
        if self._write_blocked():
            return
        pd = (first >> 1) & 0x03
        code = (upper << 4) | (lower >> 4)
        self._set_dac(code, pd)
        if command == 0b011:
            self._eeprom_pending = (code, pd)
            self._eeprom_busy_until_s = self._clock.now_s() + self.eeprom_write_s

    def _write_blocked(self) -> bool:
        return self.ignore_writes or self.eeprom_busy()

    def _finish_eeprom_write_if_due(self) -> None:
        if self._eeprom_pending is not None and self._clock.now_s() >= self._eeprom_busy_until_s:
            self._eeprom_code, self._eeprom_pd = self._eeprom_pending
            self._eeprom_pending = None

    def _read_record(self) -> bytes:
        ready = 0 if self.eeprom_busy() else 1
        code, pd = self._register
        status = (ready << 7) | (int(self.por) << 6) | (pd << 1)
        return bytes((
            status,
            (code >> 4) & 0xFF,
            (code & 0x0F) << 4,
            (self.eeprom_pd << 5) | ((self.eeprom_code >> 8) & 0x0F),
            self.eeprom_code & 0xFF,
        ))

    def _load_eeprom_into_dac(self) -> None:
        self._set_dac(self.eeprom_code, self.eeprom_pd, force_notify=True)

    def _set_dac(self, code: int, pd: int, *, force_notify: bool = False) -> None:
        before = self._register
        self._register = (code & 0xFFF, pd & 0x03)
        if (force_notify or self._register != before) and self.on_output_change:
            self.on_output_change(self._clock.now_s())
