"""ADS1115 16-bit ADC at register level (TI SBAS444E; hardware.md section 4).

Registers, pointer, OS/MODE semantics, conversion timing and the ALERT/RDY pin behave as the
data sheet says, so the real ``adafruit_ads1x15`` driver (busy-poll on OS included) runs against
this model unchanged, and its known traps (continuous mode ignoring the channel) show up here as
they do on the bench.

Evaluation is lazy: nothing runs between transactions. When someone looks (a bus transaction,
``alert_pin_low()``), every conversion whose end time has passed is completed in order, each
sampling ``analog_inputs(end_time_s)``: the analog front end answers with its state at that
time. A conversion samples at its END (the delta-sigma result is an average over the conversion;
the end is the closest single instant, and it is what makes late data visibly late).

The ALERT/RDY pin is evaluated the same way; ``on_alert_change(pin_low, time_s)`` is called for
every edge, in time order, when the model catches up (so possibly after the fact).
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable

from kiosk.hal.clock import Clock

AnalogInputs = Callable[[float], tuple[float, float, float, float]]

POINTER_CONVERSION = 0b00
POINTER_CONFIG = 0b01
POINTER_LO_THRESH = 0b10
POINTER_HI_THRESH = 0b11

CONFIG_RESET = 0x8583
LO_THRESH_RESET = 0x8000
HI_THRESH_RESET = 0x7FFF
GENERAL_CALL_RESET = 0x06

OS_BIT = 0x8000
MODE_SINGLE_SHOT_BIT = 0x0100

#: PGA field -> full-scale range in volts.
FSR_V = (6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256)
#: DR field -> samples per second.
DATA_RATE_SPS = (8, 16, 32, 64, 128, 250, 475, 860)
#: MUX field -> (positive input, negative input); None is GND.
MUX_INPUTS: tuple[tuple[int, int | None], ...] = (
    (0, 1), (0, 3), (1, 3), (2, 3), (0, None), (1, None), (2, None), (3, None))
#: COMP_QUE field -> conversions beyond threshold before ALERT asserts (3: comparator off).
QUEUE_LENGTH = (1, 2, 4)

WAKE_UP_S = 25e-6  # power-up before a single-shot conversion [hardware.md ref. 18]
READY_PULSE_S = 8e-6  # conversion-ready pulse in continuous mode
PIN_MARGIN_V = 0.3  # inputs are clamped to GND-0.3 V .. VDD+0.3 V by the ESD structure
MAX_RATE_ERROR = 0.10  # data-rate tolerance of the part
DEFAULT_RATE_ERROR_SPREAD = 0.03
MAX_CATCH_UP_CONVERSIONS = 64  # continuous mode left alone: only the last ones matter


def fsr_v_for_config(config: int) -> float:
    return FSR_V[(config >> 9) & 0x07]


def data_rate_sps_for_config(config: int) -> int:
    return DATA_RATE_SPS[(config >> 5) & 0x07]


def _signed16(value: int) -> int:
    return value - 0x10000 if value & 0x8000 else value


class _Conversion:
    __slots__ = ("end_s", "mux", "pga", "start_s")

    def __init__(self, start_s: float, end_s: float, config: int) -> None:
        self.start_s = start_s
        self.end_s = end_s
        self.mux = (config >> 12) & 0x07
        self.pga = (config >> 9) & 0x07


class Ads1115Model:
    """One ADS1115 on the emulated bus (implements the bus's ``I2CTarget`` protocol)."""

    def __init__(self, clock: Clock, analog_inputs: AnalogInputs, *, vdd_v: float = 3.3,
                 seed: int = 0, noise_lsb: float = 1.0, rate_error: float | None = None,
                 on_alert_change: Callable[[bool, float], None] | None = None) -> None:
        if noise_lsb < 0:
            raise ValueError(f"noise_lsb must be >= 0, got {noise_lsb}")
        self._rng = random.Random(seed)
        if rate_error is None:
            rate_error = self._rng.uniform(-DEFAULT_RATE_ERROR_SPREAD, DEFAULT_RATE_ERROR_SPREAD)
        if not -MAX_RATE_ERROR <= rate_error <= MAX_RATE_ERROR:
            raise ValueError(f"rate_error must be within +-{MAX_RATE_ERROR}, got {rate_error}")
        self._clock = clock
        self._analog_inputs = analog_inputs
        self.vdd_v = vdd_v
        self.noise_lsb = noise_lsb
        #: Fractional error of the conversion time: one conversion lasts (1 + rate_error) / DR.
        self.rate_error = rate_error
        self.on_alert_change = on_alert_change
        #: Fault ``adc_stuck``: every result is this voltage (at the PGA of that conversion).
        self.stuck_value_v: float | None = None
        #: Fault ``adc_channel_dead``: these AINx pins read 0 V (a broken trace or input).
        self.dead_channels: set[int] = set()
        self._never_ready = False
        self._pointer = POINTER_CONVERSION
        self._config = CONFIG_RESET & ~OS_BIT
        self._lo_thresh = LO_THRESH_RESET
        self._hi_thresh = HI_THRESH_RESET
        self._conversion_reg = 0
        self._conversion: _Conversion | None = None
        self._comparator_asserted = False
        self._queue_count = 0
        self._pulse_end_s = math.inf
        self._pin_low = False
        # One lock around every state change: the bus thread and whoever watches the ALERT pin
        # (a GPIO thread) both catch the model up. Alert edges are collected under the lock and
        # reported after it is released, so a callback may do anything, even bus traffic.
        self._lock = threading.RLock()
        self._edges: list[tuple[bool, float]] = []

    # ------------------------------------------------------------------ public state

    @property
    def never_ready(self) -> bool:
        """Fault ``adc_never_ready``: OS reads 0 forever and no conversion ever ends."""
        return self._never_ready

    @never_ready.setter
    def never_ready(self, value: bool) -> None:
        with self._lock:
            now_s = self._clock.now_s()
            if not value and self._never_ready and self._conversion is not None:
                # The stuck conversion starts over now rather than completing in the past.
                period_s = self.conversion_time_s(self._config)
                self._conversion = _Conversion(now_s, now_s + period_s, self._config)
            self._never_ready = value
            self._update_pin(now_s)
        self._report_edges()

    @property
    def config(self) -> int:
        """The config register as a read returns it (OS reflects the conversion state)."""
        with self._lock:
            self._advance(self._clock.now_s())
            value = self._config_readback()
        self._report_edges()
        return value

    @property
    def pointer(self) -> int:
        return self._pointer

    @property
    def conversion_register(self) -> int:
        return self._conversion_reg

    @property
    def lo_thresh(self) -> int:
        return self._lo_thresh

    @property
    def hi_thresh(self) -> int:
        return self._hi_thresh

    def is_converting(self) -> bool:
        with self._lock:
            self._advance(self._clock.now_s())
            converting = self._converting()
        self._report_edges()
        return converting

    def conversion_time_s(self, config: int) -> float:
        """One conversion at the data rate of ``config`` on this part (no wake-up time)."""
        return (1.0 + self.rate_error) / data_rate_sps_for_config(config)

    def alert_pin_low(self) -> bool:
        """Level of the open-drain ALERT/RDY pin with its pull-up: True when driven low."""
        with self._lock:
            self._advance(self._clock.now_s())
            low = self._pin_low
        self._report_edges()
        return low

    def reset(self) -> None:
        """Power-on reset: registers to their defaults, powered down."""
        with self._lock:
            self._reset_registers()
            self._update_pin(self._clock.now_s())
        self._report_edges()

    # ------------------------------------------------------------------ I2CTarget

    def write(self, data: bytes) -> None:
        """Pointer byte, then optionally MSB and LSB of that register (more bytes ignored)."""
        if not data:
            return
        with self._lock:
            self._write_locked(data)
        self._report_edges()

    def read(self, n: int) -> bytes:
        """MSB then LSB of the register the pointer holds (repeating if more are clocked)."""
        with self._lock:
            value = self._read_locked()
        self._report_edges()
        pair = ((value >> 8) & 0xFF, value & 0xFF)
        return bytes(pair[i % 2] for i in range(n))

    def general_call(self, data: bytes) -> None:
        if data and data[0] == GENERAL_CALL_RESET:
            self.reset()

    # ------------------------------------------------------------------ registers

    def _write_locked(self, data: bytes) -> None:
        now_s = self._clock.now_s()
        self._advance(now_s)
        self._pointer = data[0] & 0x03
        if len(data) < 3:
            return  # a lone pointer write, or an incomplete register write (not latched)
        value = (data[1] << 8) | data[2]
        if self._pointer == POINTER_CONFIG:
            self._write_config(value, now_s)
        elif self._pointer == POINTER_LO_THRESH:
            self._lo_thresh = value
        elif self._pointer == POINTER_HI_THRESH:
            self._hi_thresh = value
        # the conversion register is read-only
        self._update_pin(now_s)

    def _read_locked(self) -> int:
        now_s = self._clock.now_s()
        self._advance(now_s)
        if self._pointer == POINTER_CONVERSION:
            if self._comparator_latched():
                self._comparator_asserted = False
                self._queue_count = 0
                self._update_pin(now_s)
            return self._conversion_reg
        if self._pointer == POINTER_CONFIG:
            return self._config_readback()
        if self._pointer == POINTER_LO_THRESH:
            return self._lo_thresh
        return self._hi_thresh

    def _reset_registers(self) -> None:
        self._pointer = POINTER_CONVERSION
        self._config = CONFIG_RESET & ~OS_BIT
        self._lo_thresh = LO_THRESH_RESET
        self._hi_thresh = HI_THRESH_RESET
        self._conversion_reg = 0
        self._conversion = None
        self._comparator_asserted = False
        self._queue_count = 0
        self._pulse_end_s = math.inf

    def _config_readback(self) -> int:
        return self._config | (0 if self._converting() else OS_BIT)

    def _write_config(self, value: int, now_s: float) -> None:
        self._config = value & ~OS_BIT
        if self._conversion is not None:
            return  # running: single-shot ignores OS; continuous applies it at the next start
        if self._continuous() or value & OS_BIT:
            self._start_conversion(now_s + WAKE_UP_S, now_s)

    def _continuous(self) -> bool:
        return not self._config & MODE_SINGLE_SHOT_BIT

    def _converting(self) -> bool:
        return self._never_ready or self._conversion is not None

    def _start_conversion(self, begin_s: float, now_s: float) -> None:
        self._conversion = _Conversion(now_s, begin_s + self.conversion_time_s(self._config),
                                       self._config)

    # ------------------------------------------------------------------ time

    def _advance(self, now_s: float) -> None:
        """Complete every conversion (and pulse) that ended by ``now_s``, in time order."""
        self._skip_ahead_in_continuous_mode(now_s)
        while True:
            conversion = None if self._never_ready else self._conversion
            end_s = conversion.end_s if conversion is not None else math.inf
            if min(end_s, self._pulse_end_s) > now_s:
                break
            if self._pulse_end_s <= end_s:
                at_s, self._pulse_end_s = self._pulse_end_s, math.inf
                self._update_pin(at_s)
                continue
            assert conversion is not None
            self._complete(conversion)
            self._update_pin(end_s)
        self._update_pin(now_s)

    def _skip_ahead_in_continuous_mode(self, now_s: float) -> None:
        conversion = self._conversion
        if conversion is None or self._never_ready or not self._continuous():
            return
        period_s = self.conversion_time_s(self._config)
        behind = int((now_s - conversion.end_s) / period_s)
        if behind > MAX_CATCH_UP_CONVERSIONS:
            skip = behind - MAX_CATCH_UP_CONVERSIONS
            self._conversion = _Conversion(conversion.start_s + skip * period_s,
                                           conversion.end_s + skip * period_s, self._config)

    def _complete(self, conversion: _Conversion) -> None:
        end_s = conversion.end_s
        code = self._convert(conversion, end_s)
        self._conversion_reg = code & 0xFFFF
        self._conversion = None
        if self._ready_mode():
            if self._continuous():
                self._pulse_end_s = end_s + READY_PULSE_S
        else:
            self._update_comparator(code)
        if self._continuous():
            self._start_conversion(end_s, end_s)

    def _convert(self, conversion: _Conversion, end_s: float) -> int:
        fsr_v = FSR_V[conversion.pga]
        lsb_v = fsr_v / 32768.0
        if self.stuck_value_v is not None:
            counts = self.stuck_value_v / lsb_v
        else:
            inputs = tuple(0.0 if n in self.dead_channels else v
                           for n, v in enumerate(self._analog_inputs(end_s)))
            positive, negative = MUX_INPUTS[conversion.mux]
            v_diff = self._pin_v(inputs[positive]) - (
                0.0 if negative is None else self._pin_v(inputs[negative]))
            counts = v_diff / lsb_v
            if self.noise_lsb > 0:
                counts += self._rng.gauss(0.0, self.noise_lsb)
        return max(-32768, min(32767, round(counts)))

    def _pin_v(self, volts: float) -> float:
        return max(-PIN_MARGIN_V, min(self.vdd_v + PIN_MARGIN_V, volts))

    # ------------------------------------------------------------------ ALERT/RDY

    def _queue_field(self) -> int:
        return self._config & 0x03

    def _ready_mode(self) -> bool:
        return (self._hi_thresh & 0x8000 != 0 and self._lo_thresh & 0x8000 == 0
                and self._queue_field() != 0b11)

    def _comparator_latched(self) -> bool:
        return bool(self._config & 0x0004) and self._comparator_asserted

    def _update_comparator(self, code: int) -> None:
        if self._queue_field() == 0b11:
            return
        hi = _signed16(self._hi_thresh)
        lo = _signed16(self._lo_thresh)
        window = bool(self._config & 0x0010)
        latching = bool(self._config & 0x0004)
        beyond = (code > hi or code < lo) if window else code > hi
        self._queue_count = self._queue_count + 1 if beyond else 0
        if self._queue_count >= QUEUE_LENGTH[self._queue_field()]:
            self._comparator_asserted = True
        elif not latching:
            back_inside = (lo <= code <= hi) if window else code < lo
            if back_inside:
                self._comparator_asserted = False

    def _pin_asserted(self) -> bool:
        if self._ready_mode():
            if self._continuous():
                return self._pulse_end_s != math.inf
            return not self._converting()
        return self._comparator_asserted

    def _update_pin(self, at_s: float) -> None:
        if self._queue_field() == 0b11:
            low = False  # comparator off: pin high-Z, the pull-up holds it high
        else:
            active_high = bool(self._config & 0x0008)
            low = self._pin_asserted() != active_high
        if low != self._pin_low:
            self._pin_low = low
            self._edges.append((low, at_s))

    def _report_edges(self) -> None:
        with self._lock:
            edges, self._edges = self._edges, []
        if self.on_alert_change is not None:
            for low, at_s in edges:
                self.on_alert_change(low, at_s)
