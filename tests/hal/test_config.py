"""Board configuration: shipped defaults, site overlays, and errors that name file, key, range."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from kiosk.hal.config import (
    DEFAULT_CONFIG_PATH,
    BoardConfig,
    ConfigError,
    load_board_config,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "board.toml"
    path.write_text(text)
    return path


def test_defaults_carry_every_pin_of_hardware_md() -> None:
    config = load_board_config()
    assert dataclasses.asdict(config.gpio) == {
        "estop_loop": 17, "k1_output_en": 27, "k2_polarity": 22, "status_led": 23,
        "buzzer": 24, "ads_alert_rdy": 25, "wdt_heartbeat": 5, "hw_trip_n": 6,
        "hw_trip_reset": 13, "boost_en": 16,
        "trip_test": 12}  # proposed, docs/hardware-proposals.md (the self-test's trip input)
    assert (config.i2c.bus, config.i2c.dac_address, config.i2c.adc_address) == (1, 0x62, 0x48)


def test_defaults_give_the_hardware_md_front_end_figures() -> None:
    config = load_board_config()
    assert config.clamp_ma == pytest.approx(2.5)
    assert config.vout_divider_ratio == pytest.approx(0.032133, rel=1e-4)
    assert config.vset_divider_ratio == pytest.approx(0.076923, rel=1e-5)
    ua_per_lsb = config.frontend.dac_vdd_v / 4096 * config.vset_divider_ratio \
        / config.frontend.rset_ohm * 1e6
    assert ua_per_lsb == pytest.approx(0.6197, rel=1e-4)
    assert config.dac_design_ua_per_lsb == pytest.approx(ua_per_lsb)


def test_shipped_file_lists_every_declared_option_once() -> None:
    with DEFAULT_CONFIG_PATH.open("rb") as handle:
        document = tomllib.load(handle)
    config = load_board_config()
    assert "calibration" not in document  # measured per board: the state folder's file
    for section in ("i2c", "gpio", "frontend", "timing"):
        declared = {f.name for f in dataclasses.fields(getattr(config, section))}
        assert set(document[section]) == declared


def test_site_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    config = load_board_config(write(tmp_path, "[i2c]\nbus = 3\n[gpio]\nbuzzer = 26\n"))
    assert config.i2c.bus == 3
    assert config.gpio.buzzer == 26
    assert config.gpio.k1_output_en == 27
    assert str(tmp_path / "board.toml") in config.source


def test_integer_is_accepted_where_a_number_is_declared(tmp_path: Path) -> None:
    config = load_board_config(write(tmp_path, "[frontend]\nrset_ohm = 100\n"))
    assert isinstance(config.frontend.rset_ohm, float)


def test_unknown_key_names_file_section_and_allowed_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "[gpio]\nk1_output = 27\n")
    with pytest.raises(ConfigError) as error:
        load_board_config(path)
    message = str(error.value)
    assert message.startswith(f"{path}: unknown key [gpio] k1_output")
    assert "k1_output_en" in message


def test_unknown_section_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown section \[limits\]"):
        load_board_config(write(tmp_path, "[limits]\nmax_ma = 5\n"))


def test_out_of_range_value_names_file_key_and_range(tmp_path: Path) -> None:
    path = write(tmp_path, "[frontend]\nboost_v = 48.0\n")
    with pytest.raises(ConfigError) as error:
        load_board_config(path)
    assert str(error.value) == (f"{path}: [frontend] boost_v = 48 is out of range; "
                                "allowed 5..30 V")


def test_address_out_of_range_is_shown_in_hex(tmp_path: Path) -> None:
    path = write(tmp_path, "[i2c]\nadc_address = 0x62\n")
    with pytest.raises(ConfigError) as error:
        load_board_config(path)
    assert str(error.value) == (f"{path}: [i2c] adc_address = 0x62 is out of range; "
                                "allowed 0x48..0x4B")


def test_i2c_pins_cannot_be_used_as_board_signals(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[gpio\] estop_loop = 3 is out of range; "
                                          r"allowed 4\.\.27 \(BCM\)"):
        load_board_config(write(tmp_path, "[gpio]\nestop_loop = 3\n"))


def test_duplicated_pin_names_both_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "[gpio]\nbuzzer = 27\n")
    with pytest.raises(ConfigError) as error:
        load_board_config(path)
    message = str(error.value)
    assert message.startswith(f"{path}: [gpio] buzzer = 27 is already used by [gpio] "
                              "k1_output_en")
    assert "4..27 (BCM), all distinct" in message


@pytest.mark.parametrize(("text", "expected"), [
    ('[i2c]\nbus = "1"\n', "[i2c] bus = '1' must be an integer (allowed 0..22)"),
    ("[i2c]\nbus = 1.0\n", "[i2c] bus = 1.0 must be an integer (allowed 0..22)"),
    ("[i2c]\nbus = true\n", "[i2c] bus = True must be an integer (allowed 0..22)"),
    ("[frontend]\nrset_ohm = true\n",
     "[frontend] rset_ohm = True must be a number (allowed 50..1000 Ohm)"),
    ("[frontend]\nrset_ohm = nan\n",
     "[frontend] rset_ohm = nan must be finite (allowed 50..1000 Ohm)"),
])
def test_wrong_type_names_key_and_range(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_board_config(path)
    assert str(error.value) == f"{path}: {expected}"


def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError) as error:
        load_board_config(path)
    assert str(error.value) == (f"{path}: no such file; a board configuration must be an "
                                f"existing file")


@pytest.mark.requirement("SR-065")
def test_invalid_toml_is_named_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[i2c]\nbus = 1\n[gpio\nbuzzer = 24\n")
    with pytest.raises(ConfigError) as error:
        load_board_config(path)
    assert str(error.value) == (f"{path}:3: not valid TOML: Expected ']' at the end of a table "
                                f"declaration (column 6); a board configuration is TOML "
                                f"(https://toml.io)")


def refusal(path: Path) -> str:
    with pytest.raises(ConfigError) as error:
        load_board_config(path)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"{path}")
    return message


@pytest.mark.requirement("SR-065")
@pytest.mark.parametrize(("data", "expected"), [
    (b"[i2c]\nbus = 1 # caf\xe9\n", ":2: is not UTF-8 text (byte 0xE9 at offset 19); a board "
                                     "configuration is UTF-8 text (TOML)"),
    (b"\x7fELF\x02\x01\x01\x00\x00", ":1: is a binary file (NUL byte at offset 7); a board "
                                    "configuration is UTF-8 text (TOML)"),
    (b"[i2c]\nbus = 1\n\x00", ":3: is a binary file (NUL byte at offset 14)"),
    (b"\xff\xfe[\x00i\x00", ":1: is a binary file (NUL byte at offset 3)"),  # UTF-16
])
def test_a_file_that_is_not_utf8_text_is_refused_with_the_first_bad_byte(
        tmp_path: Path, data: bytes, expected: str) -> None:
    path = tmp_path / "board.toml"
    path.write_bytes(data)
    assert refusal(path).startswith(f"{path}{expected}")


@pytest.mark.requirement("SR-065")
@pytest.mark.parametrize("text", ["", "\n\n  \t\n", "# only a comment\n\n# another\n"])
def test_an_empty_file_is_refused_saying_what_it_must_hold(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    message = refusal(path)
    assert "is empty" in message or "has only comments" in message
    assert "[i2c], [gpio], [frontend], [timing]" in message
    assert "give no configuration file at all" in message


@pytest.mark.requirement("SR-065")
def test_size_is_checked_before_reading_on_both_sides_of_the_limit(tmp_path: Path) -> None:
    from kiosk.hal.config import MAX_CONFIG_BYTES

    path = tmp_path / "board.toml"
    head = b"[i2c]\nbus = 3\n"
    path.write_bytes(head + b"#" * (MAX_CONFIG_BYTES - len(head) - 1) + b"\n")
    assert path.stat().st_size == MAX_CONFIG_BYTES
    assert load_board_config(path).i2c.bus == 3  # exactly the limit: read
    with path.open("ab") as handle:
        handle.write(b"\n")
    assert refusal(path) == (f"{path}: is 64.0 KiB ({MAX_CONFIG_BYTES + 1} bytes); a board "
                             f"configuration is at most 64.0 KiB ({MAX_CONFIG_BYTES} bytes)")


@pytest.mark.requirement("SR-065")
def test_a_200_mb_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    import tracemalloc

    path = tmp_path / "board.toml"
    with path.open("wb") as handle:
        handle.truncate(200 * 1024 * 1024)  # sparse: costs no disk
    tracemalloc.start()
    try:
        message = refusal(path)
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert message == (f"{path}: is 200.0 MiB (209715200 bytes); a board configuration is at "
                       f"most 64.0 KiB (65536 bytes)")
    assert peak_bytes < 1024 * 1024  # nothing of the file was pulled into memory


@pytest.mark.requirement("SR-065")
def test_a_folder_a_device_and_a_pipe_are_refused(tmp_path: Path) -> None:
    import os

    assert refusal(tmp_path) == f"{tmp_path}: is a folder; a board configuration must be a file"
    assert refusal(Path("/dev/zero")) == (
        "/dev/zero: is not a regular file (a device, pipe or socket); a board configuration "
        "must be a plain file")
    fifo = tmp_path / "board.fifo"
    os.mkfifo(fifo)  # opening must not wait for a writer
    assert "is not a regular file" in refusal(fifo)


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "board.toml"
    path.write_bytes(b"\xef\xbb\xbf[i2c]\nbus = 4\n")
    assert load_board_config(path).i2c.bus == 4


def test_compliance_must_stay_below_the_rail(tmp_path: Path) -> None:
    path = write(tmp_path, "[frontend]\nboost_v = 24.0\n")
    with pytest.raises(ConfigError, match=r"compliance_v = 28 must be below boost_v = 24"):
        load_board_config(path)


def test_trip_threshold_must_stay_above_the_analog_clamp(tmp_path: Path) -> None:
    path = write(tmp_path, "[frontend]\nhw_trip_ma = 2.4\n")
    with pytest.raises(ConfigError, match=r"hw_trip_ma = 2.4 must be above the analog clamp "
                                          r"\(2.5 mA"):
        load_board_config(path)


def test_config_is_frozen() -> None:
    config: BoardConfig = load_board_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.i2c.bus = 2  # type: ignore[misc]
