"""The stop helper: after ANY exit of the kiosk process, put the output stage in the safe state.

systemd runs ``python -m kiosk.safe_stop`` as ``ExecStopPost=`` of ``kiosk.service`` whatever
ended the process: a clean stop, an exception, the watchdog's SIGABRT, a segfault, SIGKILL. So
this module assumes nothing about the process that died. It imports no control code, builds no
board (no self-test that could refuse to run), and opens the two things it needs directly: the
GPIO lines of the output stage and the I2C bus of the DAC.

Order and independence follow hardware.md section 8 (fault stop): K1 (output relay) low first, by
GPIO, with no I2C dependency; BOOST_EN low; K2 (polarity relay) low; then the DAC to code 0 in
power-down (PD = 01, 1 kOhm to GND) and a read-back that proves it. Every step runs even when an
earlier one failed: a dead bus must not keep the relay closed, a missing GPIO chip must not keep
the DAC driving. The exit status says whether every step succeeded, for the journal.

With ``--fault-screen`` (``kiosk-fault.service``, after the kiosk failed its start limit) it also
writes a plain-text fault screen to standard output, which systemd points at the panel's tty1.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

from kiosk.hal.dac import FAST_WRITE_POWER_DOWN_1K, DacStatus

#: ``ioctl`` request of Linux i2c-dev that sets the target address for read()/write().
I2C_SLAVE = 0x0703
DAC_POWER_DOWN_1K = 1  # PD1:PD0 = 01


@dataclass(frozen=True)
class SafeStopWiring:
    """Where the output stage is: hardware.md sections 2 and 7 (BCM numbering)."""

    i2c_bus: int = 1
    dac_address: int = 0x62
    output_relay_pin: int = 27
    boost_enable_pin: int = 16
    polarity_relay_pin: int = 22


@dataclass(frozen=True)
class WiringChoice:
    wiring: SafeStopWiring
    note: str  # one line for the journal: where the wiring came from, or why not
    exit_code: int = 0  # 0, or the code of a refused configuration (the stop still runs)


def wiring_from_config(path: Path | None) -> tuple[SafeStopWiring, str]:
    """(wiring, note) of :func:`choose_wiring`."""
    choice = choose_wiring(path)
    return choice.wiring, choice.note


def choose_wiring(path: Path | None) -> WiringChoice:
    """The wiring named in the board configuration, or hardware.md's defaults when the file
    cannot be used: a broken configuration must not stop the stop. A refused file (a
    :class:`~kiosk.files.BadInput`) is reported with exit code 2, anything else as a bug (70),
    after every step has run."""
    from kiosk.entry import exit_codes

    try:
        from kiosk.files import BadInput
        from kiosk.hal.config import load_board_config

        try:
            config = load_board_config(path)
        except BadInput as error:
            return WiringChoice(SafeStopWiring(), f"board configuration refused: {error}; "
                                                  f"hardware.md defaults used",
                                exit_codes.BAD_INPUT)
    except Exception as error:  # a broken package: still stop, on the defaults
        return WiringChoice(SafeStopWiring(), f"board configuration unusable "
                                              f"({type(error).__name__}: {error}); hardware.md "
                                              f"defaults used", exit_codes.INTERNAL_ERROR)
    wiring = SafeStopWiring(
        i2c_bus=config.i2c.bus,
        dac_address=config.i2c.dac_address,
        output_relay_pin=config.gpio.k1_output_en,
        boost_enable_pin=config.gpio.boost_en,
        polarity_relay_pin=config.gpio.k2_polarity,
    )
    return WiringChoice(wiring, f"wiring from {config.source}")


@dataclass(frozen=True)
class StepResult:
    """One step of the stop: what it did, whether it did it, and why not."""

    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class SafeStopReport:
    steps: tuple[StepResult, ...]

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)

    def lines(self) -> list[str]:
        return [f"safe_stop: {step.name}: {'ok' if step.ok else 'FAILED'}"
                + (f" ({step.detail})" if step.detail else "") for step in self.steps]


class DacBus(Protocol):
    """The two busio-style calls the stop needs (``EmulatedI2C`` and :class:`LinuxI2C`)."""

    def writeto(self, address: int, buffer: bytes) -> None: ...

    def readfrom_into(self, address: int, buffer: bytearray) -> None: ...


class LinuxI2C:
    """A minimal i2c-dev client: no Blinka, no board detection, nothing that can refuse to start.

    One plain write and one plain read, each its own transaction, as the MCP4725 needs.
    """

    def __init__(self, bus_number: int) -> None:
        self._fd = os.open(f"/dev/i2c-{bus_number}", os.O_RDWR)

    def _target(self, address: int) -> None:
        fcntl.ioctl(self._fd, I2C_SLAVE, address)

    def writeto(self, address: int, buffer: bytes) -> None:
        self._target(address)
        written = os.write(self._fd, buffer)
        if written != len(buffer):
            raise OSError(f"short I2C write: {written} of {len(buffer)} bytes")

    def readfrom_into(self, address: int, buffer: bytearray) -> None:
        self._target(address)
        data = os.read(self._fd, len(buffer))
        if len(data) != len(buffer):
            raise OSError(f"short I2C read: {len(data)} of {len(buffer)} bytes")
        buffer[:] = data

    def close(self) -> None:
        os.close(self._fd)


def _step(name: str, action: Callable[[], str | None]) -> StepResult:
    try:
        detail = action()
    except Exception as error:  # every step must run whatever the one before did
        return StepResult(name, False, f"{type(error).__name__}: {error}")
    return StepResult(name, True, detail or "")


def _drive_low(claim: Callable[[], Any], switch_off: Callable[[Any], None], pin: int) -> str:
    """Claim the line (the HAL devices drive it low on construction), command off, release.

    Released, the line returns to an input and the board's pull-down keeps it low.
    """
    device = claim()
    try:
        switch_off(device)
    finally:
        device.release()
    return f"BCM{pin} low"


def _dac_to_safe_zero(open_dac_bus: Callable[[int], DacBus], bus_number: int,
                      address: int) -> str:
    bus = open_dac_bus(bus_number)
    try:
        bus.writeto(address, FAST_WRITE_POWER_DOWN_1K)
        raw = bytearray(5)
        bus.readfrom_into(address, raw)
    finally:
        close = getattr(bus, "close", None)
        if close is not None:
            close()
    status = DacStatus.from_bytes(raw)
    if status.dac_code != 0 or status.dac_pd != DAC_POWER_DOWN_1K:
        raise RuntimeError(f"read back code {status.dac_code} PD {status.dac_pd}, "
                           f"wanted code 0 PD {DAC_POWER_DOWN_1K}")
    return f"0x{address:02x} code 0, PD=01 (1 kOhm to GND), read back"


def force_safe_state(wiring: SafeStopWiring, *, pin_factory: Any,
                     open_dac_bus: Callable[[int], DacBus]) -> SafeStopReport:
    """Output relay, boost and polarity relay low, then the DAC to code 0 in power-down.

    ``pin_factory``: gpiozero's (None = its default: lgpio on the Pi, from
    ``GPIOZERO_PIN_FACTORY``). ``open_dac_bus(bus_number)`` opens the DAC's bus.
    """
    from kiosk.hal.gpio import Boost, OutputRelay, PolarityRelay

    k1, boost, k2 = wiring.output_relay_pin, wiring.boost_enable_pin, wiring.polarity_relay_pin
    steps = [
        _step("output relay K1 open", lambda: _drive_low(
            lambda: OutputRelay(k1, pin_factory=pin_factory), lambda d: d.open(), k1)),
        _step("boost off", lambda: _drive_low(
            lambda: Boost(boost, pin_factory=pin_factory), lambda d: d.disable(), boost)),
        _step("polarity relay K2 released", lambda: _drive_low(
            lambda: PolarityRelay(k2, pin_factory=pin_factory),
            lambda d: d.set_reversed(False), k2)),
        _step("DAC zero", lambda: _dac_to_safe_zero(
            open_dac_bus, wiring.i2c_bus, wiring.dac_address)),
    ]
    return SafeStopReport(tuple(steps))


def fault_screen_text(reason: str, report: SafeStopReport) -> str:
    """The panel's text when the kiosk could not be kept running: what happened, what to do."""
    if report.ok:
        output = "The output is switched off (relay open, current source at zero)."
    else:
        output = ("The output could NOT be confirmed off. Remove the electrodes from the client "
                  "and switch the device off at the mains.")
    return "\n".join([
        "\033[2J\033[H",
        "  DEVICE FAULT - SERVICE REQUIRED",
        "",
        "  The treatment program stopped repeatedly and will not restart by itself.",
        f"  {output}",
        "",
        "  Do not use the device on a client. Switch it off and call service.",
        f"  Reason for service: {reason}",
        "",
    ])


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m kiosk.safe_stop",
        description="Force the output stage safe (K1 open, boost off, K2 released, DAC 0).")
    parser.add_argument("--config", type=Path, default=None,
                        help="board configuration (TOML), as given to the kiosk")
    parser.add_argument("--reason", default="",
                        help="why the stop runs (systemd passes $SERVICE_RESULT and exit codes)")
    parser.add_argument("--fault-screen", action="store_true",
                        help="also print the fault screen (stdout goes to the panel's tty1)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Exit codes (docs/exit-codes.md): every step runs first, whatever the code. 0: every step
    confirmed; 1: a step not confirmed (the output may not be off; this wins over the others);
    2: the board configuration was refused (the stop ran on hardware.md's wiring), or a bad
    argument; 70: a bug on the way (the stop ran on hardware.md's wiring)."""
    return stop_and_report(_parse_args(argv), pin_factory=None, open_dac_bus=LinuxI2C)


def stop_and_report(args: argparse.Namespace, *, pin_factory: Any,
                    open_dac_bus: Callable[[int], DacBus], log: TextIO | None = None) -> int:
    """The whole helper after its arguments: wiring, every step, the journal lines, the code."""
    from kiosk.entry import exit_codes

    out = log if log is not None else sys.stderr
    choice = choose_wiring(args.config)
    report = force_safe_state(choice.wiring, pin_factory=pin_factory, open_dac_bus=open_dac_bus)
    print(f"safe_stop: reason {args.reason or 'not given'}; {choice.note}", file=out)
    for line in report.lines():
        print(line, file=out)
    if args.fault_screen:
        print(fault_screen_text(args.reason or "unknown", report), flush=True)
    if not report.ok:
        return exit_codes.FAILED
    return choice.exit_code


if __name__ == "__main__":
    sys.exit(main())
