"""The exit codes of docs/exit-codes.md, from the real entry points run as a user runs them.

Each bad file and each bad argument is tried on every entry point that reads it: ``kiosk``
(refused before Kivy or a window), ``kiosk --headless``, ``kiosk-scenario`` and the stop helper.
A refusal is exit code 2 and ONE line on stderr that names the file and what is allowed, never a
traceback; a scenario that latched a fault it did not expect is exit 1 with the fault named.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiosk.entry import exit_codes
from kiosk.hal.config import MAX_CONFIG_BYTES
from kiosk.scenario.spec import MAX_SCENARIO_BYTES

pytestmark = pytest.mark.slow  # about a second per process; the fast lane leaves them out

REPO_ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 60


def console_script(name: str, module: str) -> list[str]:
    """The installed console script; without an installed project, the module."""
    script = Path(sys.executable).with_name(name)
    return [str(script)] if script.exists() else [sys.executable, "-m", module]


KIOSK = console_script("kiosk", "kiosk.cli")
SCENARIO = console_script("kiosk-scenario", "kiosk.scenario")
SAFE_STOP = [sys.executable, "-m", "kiosk.safe_stop"]


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str

    @property
    def last_line(self) -> str:
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else ""


def run(command: list[str], tmp_path: Path, *args: str,
        env_extra: dict[str, str] | None = None) -> Ran:
    env = dict(os.environ, TMPDIR=str(tmp_path), KIVY_NO_ARGS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                        os.environ.get("PYTHONPATH")])))
    env.pop("KIOSK_BOARD_CONFIG", None)
    env.pop("NOTIFY_SOCKET", None)
    env.update(env_extra or {})
    done = subprocess.run([*command, *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT_S, check=False)
    return Ran(done.returncode, done.stdout, done.stderr)


def assert_refused(ran: Ran, prog: str, *fragments: str) -> None:
    assert ran.code == exit_codes.BAD_INPUT, ran.stderr
    assert "Traceback" not in ran.stderr, ran.stderr
    assert ran.last_line.startswith(f"{prog}: "), ran.stderr
    for fragment in fragments:
        assert fragment in ran.last_line, ran.stderr


# ---------------------------------------------------------------------------- bad files

BAD_CONFIGS: dict[str, tuple[bytes, str]] = {
    "latin1": (b"[i2c]\nbus = 1  # caf\xe9\n", ":2: is not UTF-8 text (byte 0xE9"),
    "binary": (b"\x7fELF\x02\x01\x01\x00\x00\x00", ":1: is a binary file (NUL byte"),
    "empty": (b"", ": is empty; a board configuration lists the keys it changes"),
    "comments": (b"# nothing here yet\n", ": has only comments; a board configuration"),
    "toml": (b"[i2c]\nbus = = 1\n", ":2: not valid TOML"),
    "range": (b"[gpio]\nk1_output_en = 99\n", ": [gpio] k1_output_en = 99 is out of range; "
                                              "allowed 4..27"),
    "key": (b"[gpio]\nk1_output = 27\n", ": unknown key [gpio] k1_output; allowed keys:"),
}


def bad_config(tmp_path: Path, kind: str) -> tuple[Path, str]:
    if kind == "oversized":
        path = tmp_path / "board.toml"
        with path.open("wb") as handle:
            handle.truncate(200 * 1024 * 1024)  # sparse: 200 MB that cost no disk
        return path, f": is 200.0 MiB (209715200 bytes); a board configuration is at most " \
                     f"{MAX_CONFIG_BYTES // 1024}.0 KiB"
    data, fragment = BAD_CONFIGS[kind]
    path = tmp_path / "board.toml"
    path.write_bytes(data)
    return path, fragment


CONFIG_KINDS = [*BAD_CONFIGS, "oversized"]


@pytest.mark.requirement("SR-065")
@pytest.mark.requirement("SR-066")
@pytest.mark.parametrize("kind", CONFIG_KINDS)
def test_kiosk_refuses_a_bad_board_configuration_before_any_window(
        tmp_path: Path, kind: str) -> None:
    path, fragment = bad_config(tmp_path, kind)
    ran = run(KIOSK, tmp_path, "--sim", "--config", str(path))
    assert_refused(ran, "kiosk", f"{path}{fragment}")
    # Refused before Kivy was imported (it logs a dozen lines): the start-up line and the refusal.
    first, refusal = ran.stderr.strip().splitlines()
    assert first.startswith(f"kiosk: state folder of this run: {tmp_path}/kiosk-sim-")
    assert refusal.startswith(f"kiosk: {path}")


@pytest.mark.requirement("SR-065")
@pytest.mark.requirement("SR-066")
@pytest.mark.parametrize("kind", CONFIG_KINDS)
def test_the_headless_service_refuses_a_bad_board_configuration(
        tmp_path: Path, kind: str) -> None:
    path, fragment = bad_config(tmp_path, kind)
    ran = run(KIOSK, tmp_path, "--headless", "--sim", "--config", str(path))
    assert_refused(ran, "kiosk --headless", f"{path}{fragment}")
    assert "self-test" not in ran.stderr  # nothing was started


@pytest.mark.requirement("SR-066")
def test_the_configuration_named_by_the_environment_is_read_the_same_way(
        tmp_path: Path) -> None:
    path, fragment = bad_config(tmp_path, "binary")
    ran = run(KIOSK, tmp_path, "--headless", "--sim",
              env_extra={"KIOSK_BOARD_CONFIG": str(path)})
    assert_refused(ran, "kiosk --headless", f"{path}{fragment}")
    ran = run(KIOSK, tmp_path, "--sim", env_extra={"KIOSK_BOARD_CONFIG": str(path)})
    assert_refused(ran, "kiosk", f"{path}{fragment}")


@pytest.mark.requirement("SR-066")
def test_the_stop_helper_still_runs_every_step_on_a_refused_configuration(
        tmp_path: Path) -> None:
    """Here there is no I2C bus, so the DAC step fails and 1 wins over 2 (the in-process test
    below proves 2 with every step confirmed)."""
    path, fragment = bad_config(tmp_path, "binary")
    ran = run(SAFE_STOP, tmp_path, "--config", str(path), "--reason", "test")
    assert "Traceback" not in ran.stderr, ran.stderr
    lines = ran.stderr.strip().splitlines()
    assert lines[0].startswith("safe_stop: reason test; board configuration refused: "
                               f"{path}{fragment}")
    assert lines[0].endswith("hardware.md defaults used")
    steps = [line for line in lines[1:] if line.startswith("safe_stop: ")]
    assert len(steps) == 4, ran.stderr  # K1, boost, K2, DAC: every step ran
    assert ran.code == exit_codes.FAILED


@pytest.mark.requirement("SR-066")
@pytest.mark.parametrize(("bad_config_text", "code"), [
    (None, exit_codes.OK),
    (b"\x00", exit_codes.BAD_INPUT),
    (b"[gpio]\nk1_output_en = 99\n", exit_codes.BAD_INPUT),
])
def test_the_stop_helper_confirms_every_step_then_reports_the_refused_configuration(
        tmp_path: Path, bad_config_text: bytes | None, code: int) -> None:
    import argparse
    import io

    from kiosk.hal.sim.clock import VirtualClock
    from kiosk.hal.sim.gpio import SimPinFactory
    from kiosk.hal.sim.i2c_bus import EmulatedI2C
    from kiosk.hal.sim.mcp4725 import Mcp4725Model
    from kiosk.safe_stop import SafeStopWiring, stop_and_report

    wiring = SafeStopWiring()
    clock = VirtualClock()
    pins = SimPinFactory(clock, external_pull_downs=(wiring.output_relay_pin,
                                                     wiring.boost_enable_pin,
                                                     wiring.polarity_relay_pin))
    bus = EmulatedI2C(clock)
    dac = Mcp4725Model(clock, eeprom_code=0, eeprom_pd=1)
    bus.attach(wiring.dac_address, dac)
    bus.writeto(wiring.dac_address, bytes((0x07, 0xD0)))  # left driving: code 2000
    config = None
    if bad_config_text is not None:
        config = tmp_path / "board.toml"
        config.write_bytes(bad_config_text)
    log = io.StringIO()
    try:
        result = stop_and_report(argparse.Namespace(config=config, reason="t",
                                                    fault_screen=False),
                                 pin_factory=pins, open_dac_bus=lambda _n: bus, log=log)
    finally:
        pins.close()
    assert result == code, log.getvalue()
    assert dac.dac_code == 0 and dac.pd_mode == 1  # the stop happened either way
    assert log.getvalue().count(": ok") == 4, log.getvalue()


# ---------------------------------------------------------------------------- scenarios

PROGRAM = '[program]\narea = "face"\nindication = "pigmentation"\n'


@pytest.mark.requirement("SR-065")
@pytest.mark.requirement("SR-066")
@pytest.mark.parametrize(("data", "fragment"), [
    (b"\x00\x01\x02binary", ":1: is a binary file (NUL byte at offset 0); a scenario file is "
                            "UTF-8 text (TOML)"),
    ((PROGRAM + "# caf\xe9\n").encode("latin-1"), ":4: is not UTF-8 text (byte 0xE9"),
    (b"", ": is empty; a scenario file needs at least a [program] table"),
    (b"\n  \n", ": is empty; a scenario file needs at least a [program] table"),
    (b"[program\n", ":1: not valid TOML"),
])
def test_kiosk_scenario_refuses_a_bad_file_with_exit_2(
        tmp_path: Path, data: bytes, fragment: str) -> None:
    path = tmp_path / "s.toml"
    path.write_bytes(data)
    ran = run(SCENARIO, tmp_path, str(path))
    assert_refused(ran, "kiosk-scenario", f"{path}{fragment}")
    assert ran.stdout == ""  # no summary of a run that never was


@pytest.mark.requirement("SR-065")
def test_kiosk_scenario_size_limit_on_both_sides(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    text = 'duration_s = 0.5\n' + PROGRAM
    path.write_text(text + "#" * (MAX_SCENARIO_BYTES - len(text) - 1) + "\n")
    assert path.stat().st_size == MAX_SCENARIO_BYTES
    assert run(SCENARIO, tmp_path, str(path)).code == exit_codes.OK
    with path.open("a") as handle:
        handle.write("\n")
    assert_refused(run(SCENARIO, tmp_path, str(path)), "kiosk-scenario",
                   f"{path}: is 256.0 KiB ({MAX_SCENARIO_BYTES + 1} bytes); a scenario file is "
                   f"at most 256.0 KiB")


@pytest.mark.requirement("SR-066")
def test_kiosk_scenario_refuses_a_trace_it_cannot_write(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('duration_s = 0.5\n' + PROGRAM)
    trace = tmp_path / "no-such-folder" / "trace.csv"
    assert_refused(run(SCENARIO, tmp_path, str(path), "--trace", str(trace)), "kiosk-scenario",
                   f"{trace}: cannot write the trace")


@pytest.mark.requirement("SR-066")
@pytest.mark.parametrize(("expect", "code"), [
    ("", exit_codes.FAILED),  # no [expect] at all: the fault is unexpected
    ('[expect]\nmax_true_peak_current_ma = 2.0\n', exit_codes.FAILED),  # names no fault
    ('[expect]\nfault = "estop"\n', exit_codes.OK),
    ('[expect]\nfaults = ["estop"]\n', exit_codes.OK),
])
def test_a_scenario_that_latched_a_fault_it_did_not_name_fails(
        tmp_path: Path, expect: str, code: int) -> None:
    path = tmp_path / "s.toml"
    path.write_text('duration_s = 4\n' + PROGRAM
                    + '[[event]]\nat_s = 2.0\nkind = "estop_press"\n' + expect)
    ran = run(SCENARIO, tmp_path, str(path))
    assert ran.code == code, ran.stderr
    assert "Traceback" not in ran.stderr
    if code == exit_codes.FAILED:
        assert ran.last_line.startswith(f"kiosk-scenario: {path}: expectation not met: "
                                        f"unexpected fault 'estop' latched at 2.0"), ran.stderr
        assert "add fault = 'estop' if it is meant" in ran.last_line


@pytest.mark.requirement("SR-066")
def test_a_scenario_without_expect_and_without_a_fault_passes(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('duration_s = 4\n' + PROGRAM)
    ran = run(SCENARIO, tmp_path, str(path))
    assert ran.code == exit_codes.OK, ran.stderr


# ---------------------------------------------------------------------------- arguments

@pytest.mark.requirement("SR-066")
@pytest.mark.parametrize(("inject", "fragment"), [
    ("gremlins@1", "unknown fault 'gremlins'; faults of the simulated board: i2c_nack,"),
    ("contact_loss@nan", "time nan is out of range; allowed 0..86400 s"),
    ("contact_loss@inf", "time inf is out of range"),
    ("contact_loss@-1", "time -1 is out of range"),
    ("contact_loss@86400.5", "time 86400.5 is out of range"),
    ("contact_loss@soon", "time 'soon' is not a number"),
    ("contact_loss", "no @SECONDS; expected NAME[:key=value,...]@SECONDS"),
    ("loop_stall:ms=nan@1", "fault 'loop_stall': ms=nan must be a number"),
    ("loop_stall@1", "fault 'loop_stall' needs ms="),
    ("i2c_nack:device=psu@1", "device='psu' is not one of 'dac', 'adc'"),
    ("short_circuit:ohm=47,ohm=10@1", "parameter 'ohm' given twice"),
    ("short_circuit:ohm@1", "parameter 'ohm' is not key=value"),
    ("contact_loss:strength=3@1", "does not take strength"),
])
def test_inject_is_checked_when_the_command_line_is_parsed(
        tmp_path: Path, inject: str, fragment: str) -> None:
    ran = run(KIOSK, tmp_path, "--headless", "--sim", "--inject", inject)
    assert ran.code == exit_codes.BAD_INPUT, ran.stderr
    assert "Traceback" not in ran.stderr
    assert ran.last_line.startswith(f"kiosk --headless: error: --inject {inject!r}: "), \
        ran.stderr
    assert fragment in ran.last_line, ran.stderr
    assert "self-test" not in ran.stderr and "state folder" not in ran.stderr  # nothing ran


def test_inject_accepts_both_ends_of_its_time_range() -> None:
    from kiosk.entry.arguments import parse_headless_args

    args = parse_headless_args(["--sim", "--inject", "contact_loss@0",
                                "--inject", "loop_stall:ms=5@86400",
                                "--inject", "i2c_nack:device=adc@1.5"])
    assert [(i.name, dict(i.params), i.at_s) for i in args.injections] == [
        ("contact_loss", {}, 0.0), ("loop_stall", {"ms": 5.0}, 86400.0),
        ("i2c_nack", {"device": "adc"}, 1.5)]


@pytest.mark.requirement("SR-066")
def test_inject_without_the_simulated_board_is_refused(tmp_path: Path) -> None:
    ran = run(KIOSK, tmp_path, "--headless", "--inject", "contact_loss@1")
    assert ran.code == exit_codes.BAD_INPUT
    assert "--inject needs --sim" in ran.last_line


@pytest.mark.requirement("SR-066")
@pytest.mark.parametrize(("command", "args"), [
    (KIOSK, ("--language", "klingon")),
    (KIOSK, ("--headless", "--seed", "many")),
    (SCENARIO, ()),
    (SAFE_STOP, ("--colour",)),
])
def test_a_bad_command_line_is_exit_2_on_every_entry_point(
        tmp_path: Path, command: list[str], args: tuple[str, ...]) -> None:
    ran = run(command, tmp_path, *args)
    assert ran.code == exit_codes.BAD_INPUT, ran.stderr
    assert "Traceback" not in ran.stderr
    assert "error:" in ran.last_line


def test_the_documented_table_matches_the_code() -> None:
    text = (REPO_ROOT / "docs" / "exit-codes.md").read_text(encoding="utf-8")
    for code, name in exit_codes.ALL.items():
        assert f"| {code} | {name} |" in text


def test_a_bug_is_exit_70_with_its_traceback_and_one_line_saying_so() -> None:
    import io

    def broken() -> int:
        raise KeyError("oops")

    err = io.StringIO()
    assert exit_codes.guarded("kiosk", broken, stderr=err) == exit_codes.INTERNAL_ERROR
    lines = err.getvalue().strip().splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[-1] == ("kiosk: internal error (KeyError: 'oops'); this is a bug, the "
                         "traceback is above")
