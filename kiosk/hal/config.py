"""Board configuration: I2C addresses, the GPIO map, front-end values and calibration defaults.

The shipped defaults live in ``kiosk/hal/board.toml`` (next to this module). A site file (e.g.
``/etc/kiosk/board.toml``) only needs the keys it changes; it is laid over the defaults.

Each option is declared ONCE, as a field of the frozen dataclasses below, with its type and its
allowed range in the field metadata (Klipper's ranged options). The loader walks those
declarations, so a new option cannot forget its check. Anything doubtful stops start-up with a
:class:`ConfigError` that names the file, the key and what is allowed: an unknown section or key,
a wrong type, a value out of range, a GPIO used twice, two chips on one address. Every key
must also be READ by the code it configures: the sections record which keys a component
read, and once the board, the core and the loop are built :func:`check_unused` refuses
start-up naming any key nobody read (Klipper's ``configfile.check_unused_options``), so a
setting that configures nothing cannot sit in the
file looking authoritative while the code uses a constant of its own. The file itself
is read by the shared reader (:mod:`kiosk.files`): a missing, unreadable, oversized (over
:data:`MAX_CONFIG_BYTES`, checked before reading), non-UTF-8, binary, empty or comment-only file,
or TOML that does not parse (with its line), is refused the same way. A device that drives
current into a face does not start on a guessed setting.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

from kiosk.files import BadInput, InputFileError, read_toml_file

DEFAULT_CONFIG_PATH = Path(__file__).with_name("board.toml")


MAX_CONFIG_BYTES = 64 * 1024
"""The shipped file is about 3 KiB; a site file lists fewer keys. Larger is not a board file."""


class ConfigError(BadInput):
    """The board configuration cannot be used; the one-line message says where and why
    (a :class:`~kiosk.files.BadInput`: exit code 2 at every entry point)."""


@dataclass(frozen=True)
class Option:
    """Allowed range of one option (inclusive) and what it means."""

    minimum: float
    maximum: float
    unit: str = ""
    excluded: tuple[int, ...] = ()
    doc: str = ""

    def describe(self) -> str:
        def fmt(value: float) -> str:
            return f"{value:g}" if isinstance(value, float) else str(value)

        text = f"{fmt(self.minimum)}..{fmt(self.maximum)}"
        if self.unit:
            text += f" {self.unit}"
        if self.excluded:
            text += f" (not {', '.join(str(v) for v in self.excluded)})"
        return text


def option(minimum: float, maximum: float, unit: str = "", *, excluded: tuple[int, ...] = (),
           doc: str = "") -> Any:
    """Declare a dataclass field as a ranged option (no default: the TOML holds defaults)."""
    return dataclasses.field(
        metadata={"option": Option(minimum, maximum, unit, excluded, doc)})


def hex_option(minimum: int, maximum: int, doc: str = "") -> Any:
    return dataclasses.field(metadata={"option": Option(minimum, maximum, "", (), doc),
                                       "hex": True})


# BCM 0/1 carry the HAT ID EEPROM, 2/3 are I2C-1 (hardware.md 7): never a board signal.
_GPIO_RANGE = Option(4, 27, "(BCM)")


def _gpio(doc: str) -> Any:
    return option(_GPIO_RANGE.minimum, _GPIO_RANGE.maximum, _GPIO_RANGE.unit, doc=doc)


class _Tracked:
    """A config section that remembers which of its keys were read (after loading)."""

    def __getattribute__(self, name: str) -> Any:
        if not name.startswith("_"):
            reads = object.__getattribute__(self, "__dict__").get("_reads")
            if reads is not None:
                reads.add(name)
        return object.__getattribute__(self, name)


@dataclass(frozen=True)
class I2cConfig(_Tracked):
    bus: int = option(0, 22, doc="Linux I2C bus number: /dev/i2c-N")
    dac_address: int = hex_option(0x60, 0x67, "MCP4725 7-bit address (0x62 on Adafruit #935)")
    adc_address: int = hex_option(0x48, 0x4B, "ADS1115 7-bit address (ADDR to GND: 0x48)")


@dataclass(frozen=True)
class GpioConfig(_Tracked):
    estop_loop: int = _gpio("E-stop NC loop, pull-up, high = pressed or broken")
    k1_output_en: int = _gpio("K1 output relay driver, high = connected")
    k2_polarity: int = _gpio("K2 polarity relay driver, high = reversed")
    status_led: int = _gpio("status LED")
    buzzer: int = _gpio("active buzzer")
    ads_alert_rdy: int = _gpio("ADS1115 ALERT/RDY, open drain (reserved)")
    wdt_heartbeat: int = _gpio("heartbeat into the external monostable")
    hw_trip_n: int = _gpio("HW-trip latch status, low = tripped")
    hw_trip_reset: int = _gpio("HW-trip reset, 10 ms high pulse")
    boost_en: int = _gpio("30 V boost enable, high = on")
    trip_test: int = _gpio("trip-test input of the over-current comparator, high = inject "
                           "(service self-test; docs/hardware-proposals.md)")


@dataclass(frozen=True)
class FrontEndConfig(_Tracked):
    dac_vdd_v: float = option(3.0, 3.6, "V", doc="3V3_A rail: the MCP4725's reference")
    vset_divider_top_kohm: float = option(50.0, 500.0, "kOhm")
    vset_divider_bottom_kohm: float = option(1.0, 50.0, "kOhm")
    vset_clamp_v: float = option(0.1, 0.3, "V", doc="analog clamp on VSET")
    rset_ohm: float = option(50.0, 1000.0, "Ohm", doc="V-to-I stage set resistor")
    rshunt_ohm: float = option(10.0, 1000.0, "Ohm", doc="current shunt in the load return")
    vout_divider_top_kohm: float = option(100.0, 10000.0, "kOhm")
    vout_divider_bottom_kohm: float = option(1.0, 1000.0, "kOhm")
    boost_v: float = option(5.0, 30.0, "V", doc="boost rail; 30 V is the domain limit")
    compliance_v: float = option(5.0, 30.0, "V", doc="usable node voltage below the rail")
    hw_trip_ma: float = option(2.0, 3.0, "mA", doc="over-current comparator threshold")


@dataclass(frozen=True)
class TimingConfig(_Tracked):
    relay_settle_ms: float = option(5.0, 50.0, "ms", doc="wait after any relay coil change")
    heartbeat_timeout_ms: float = option(20.0, 500.0, "ms", doc="external monostable period")
    boost_settle_ms: float = option(10.0, 500.0, "ms", doc="wait after BOOST_EN before AIN2")
    trip_reset_pulse_ms: float = option(5.0, 50.0, "ms", doc="HW-trip reset pulse width")


@dataclass(frozen=True)
class BoardConfig:
    i2c: I2cConfig
    gpio: GpioConfig
    frontend: FrontEndConfig
    timing: TimingConfig
    source: str = "<defaults>"  # the file(s) it came from, for messages and the event log

    @property
    def clamp_ma(self) -> float:
        return self.frontend.vset_clamp_v / self.frontend.rset_ohm * 1000.0

    @property
    def vout_divider_ratio(self) -> float:
        f = self.frontend
        return f.vout_divider_bottom_kohm / (f.vout_divider_top_kohm + f.vout_divider_bottom_kohm)

    @property
    def vset_divider_ratio(self) -> float:
        f = self.frontend
        return f.vset_divider_bottom_kohm / (f.vset_divider_top_kohm + f.vset_divider_bottom_kohm)

    @property
    def dac_design_ua_per_lsb(self) -> float:
        """hardware.md 5: VDD / 4096 x the VSET divider / Rset (0.6197 uA per code): the DAC
        slope before any calibration (the factory calibration of the simulated board)."""
        f = self.frontend
        return f.dac_vdd_v / 4096.0 * self.vset_divider_ratio / f.rset_ohm * 1e6

    @property
    def relay_settle_s(self) -> float:
        return self.timing.relay_settle_ms * 1e-3

    @property
    def boost_settle_s(self) -> float:
        return self.timing.boost_settle_ms * 1e-3

    @property
    def trip_reset_pulse_s(self) -> float:
        return self.timing.trip_reset_pulse_ms * 1e-3

    @property
    def heartbeat_timeout_s(self) -> float:
        return self.timing.heartbeat_timeout_ms * 1e-3


def unused_keys(config: BoardConfig) -> list[str]:
    """``[section] key`` of every option no component has read since the file was loaded."""
    unused = []
    for name in _SECTIONS:
        section = getattr(config, name)
        reads = object.__getattribute__(section, "__dict__").get("_reads", set())
        unused += [f"[{name}] {field.name}" for field in dataclasses.fields(section)
                   if field.name not in reads]
    return unused


def check_unused(config: BoardConfig) -> None:
    """ConfigError naming every key that configured nothing (call once everything that reads
    the configuration is built)."""
    unused = unused_keys(config)
    if unused:
        raise ConfigError(f"{config.source}: {', '.join(unused)} configure nothing: no part "
                          f"of the device read them. Remove them, or make the code that they "
                          f"claim to configure read them (one source of truth)")


_SECTIONS: dict[str, type[Any]] = {
    "i2c": I2cConfig,
    "gpio": GpioConfig,
    "frontend": FrontEndConfig,
    "timing": TimingConfig,
}
_REQUIRED = (f"a board configuration lists the keys it changes under one of the sections "
             f"{', '.join(f'[{name}]' for name in _SECTIONS)} (e.g. [i2c] bus = 1); to run on "
             f"the shipped defaults give no configuration file at all")

T = TypeVar("T")


def load_board_config(path: Path | None = None) -> BoardConfig:
    """The shipped defaults, overlaid with ``path`` when given (None: defaults only)."""
    values: dict[str, dict[str, tuple[Any, Path]]] = {}
    _overlay(values, DEFAULT_CONFIG_PATH)
    sources = [str(DEFAULT_CONFIG_PATH)]
    if path is not None:
        _overlay(values, Path(path))
        sources.append(str(path))
    sections = {name: _build(cls, name, values.get(name, {})) for name, cls in _SECTIONS.items()}
    config = BoardConfig(**sections, source=" + ".join(sources))
    _check_cross_field(config, values)
    for section in sections.values():  # from here on, reads are what components consume
        object.__setattr__(section, "_reads", set())
    return config


def _read_toml(path: Path) -> dict[str, Any]:
    """The document of one board configuration file, through the shared reader
    (:mod:`kiosk.files`): size limit before reading, UTF-8, TOML with its line, not empty."""
    try:
        document, _text = read_toml_file(path, what="board configuration",
                                         max_bytes=MAX_CONFIG_BYTES, required=_REQUIRED)
    except InputFileError as error:
        raise ConfigError(str(error)) from None
    return document


def _overlay(values: dict[str, dict[str, tuple[Any, Path]]], path: Path) -> None:
    document = _read_toml(path)
    for section, table in document.items():
        cls = _SECTIONS.get(section)
        if cls is None:
            raise ConfigError(f"{path}: unknown section [{section}]; allowed sections: "
                              f"{', '.join(f'[{name}]' for name in _SECTIONS)}")
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [{section}] must be a table of keys")
        known = {field.name for field in dataclasses.fields(cls)}
        for key, value in table.items():
            if key not in known:
                raise ConfigError(f"{path}: unknown key [{section}] {key}; allowed keys: "
                                  f"{', '.join(sorted(known))}")
            values.setdefault(section, {})[key] = (value, path)


def _build(cls: type[T], section: str, given: dict[str, tuple[Any, Path]]) -> T:
    hints = get_type_hints(cls)
    arguments: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        spec: Option = field.metadata["option"]
        if field.name not in given:
            raise ConfigError(f"{DEFAULT_CONFIG_PATH}: missing key [{section}] {field.name} "
                              f"(allowed {spec.describe()})")
        value, path = given[field.name]
        arguments[field.name] = _checked(value, hints[field.name], spec, path,
                                         f"[{section}] {field.name}",
                                         bool(field.metadata.get("hex")))
    return cls(**arguments)


def _checked(value: Any, kind: type[Any], spec: Option, path: Path, key: str,
             as_hex: bool) -> Any:
    def shown(v: float) -> str:
        return f"0x{int(v):02X}" if as_hex else f"{v:g}" if isinstance(v, float) else str(v)

    allowed = (f"{shown(spec.minimum)}..{shown(spec.maximum)}" if as_hex else spec.describe())
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: {key} = {value!r} must be an integer "
                              f"(allowed {allowed})")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path}: {key} = {value!r} must be a number (allowed {allowed})")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"{path}: {key} = {value!r} must be finite (allowed {allowed})")
    else:  # pragma: no cover - a declaration error, caught by the tests of every option
        raise TypeError(f"unsupported option type {kind!r} for {key}")
    if not spec.minimum <= value <= spec.maximum or value in spec.excluded:
        raise ConfigError(f"{path}: {key} = {shown(value)} is out of range; allowed {allowed}")
    return value


def _check_cross_field(config: BoardConfig,
                       values: dict[str, dict[str, tuple[Any, Path]]]) -> None:
    def where(section: str, key: str) -> Path:
        return values[section][key][1]

    seen: dict[int, str] = {}
    for field in dataclasses.fields(GpioConfig):
        bcm = getattr(config.gpio, field.name)
        if bcm in seen:
            raise ConfigError(f"{where('gpio', field.name)}: [gpio] {field.name} = {bcm} is "
                              f"already used by [gpio] {seen[bcm]}; every signal needs its own "
                              f"GPIO (allowed {_GPIO_RANGE.describe()}, all distinct)")
        seen[bcm] = field.name
    # Two chips on one address cannot pass the ranges: the MCP4725 family answers only at
    # 0x60-0x67 and the ADS1115 only at 0x48-0x4B, so a copied address fails as out of range.
    f = config.frontend
    if f.compliance_v >= f.boost_v:
        raise ConfigError(f"{where('frontend', 'compliance_v')}: [frontend] compliance_v = "
                          f"{f.compliance_v:g} must be below boost_v = {f.boost_v:g} V "
                          f"(the stage needs headroom); allowed 5..{f.boost_v:g} V exclusive")
    if f.hw_trip_ma <= config.clamp_ma:
        raise ConfigError(f"{where('frontend', 'hw_trip_ma')}: [frontend] hw_trip_ma = "
                          f"{f.hw_trip_ma:g} must be above the analog clamp "
                          f"({config.clamp_ma:g} mA from vset_clamp_v / rset_ohm), or normal "
                          f"operation would trip; allowed {config.clamp_ma:g}..3 mA exclusive")
