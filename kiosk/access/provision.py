"""The per-device factory service PIN, drawn once: ``python -m kiosk.access.provision DIR``.

On the device a first-boot oneshot unit (``image_build/service-pin/``) runs this as the UI's
account on the UI's state folder, with its standard output on the serial console only (never
the journal): the technician reads the PIN there and writes it on the service label. Under
``--sim`` the kiosk calls :func:`provision_for_sim` at start-up and the PIN is printed in the
terminal. Either way the factory PIN grants nothing but its own change (``pin_must_change``).

Exit codes (docs/exit-codes.md): 0 a PIN was drawn and printed, or the folder already has one
(nothing printed, the file untouched: a second boot never shows or changes it); 2 the folder
is missing or not writable; 1 the file could not be written.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TextIO

from kiosk.access.pins import PinStoreError, PinVault
from kiosk.access.service_access import pin_file

BANNER_RULE = "=" * 60


def banner(pin: str, where: Path) -> str:
    """What the console shows: the PIN spaced for reading aloud, and what to do with it."""
    spaced = " ".join(pin)
    return "\n".join((
        BANNER_RULE,
        "  Factory service PIN of this device:",
        f"      {spaced}",
        "  Write it on the service label. It opens only the PIN change:",
        "  the technician must choose a new PIN at the first service entry.",
        f"  (kept only as a salted hash in {where})",
        BANNER_RULE,
    ))


def provision(state_dir: Path, *, now_s: float | None = None) -> str | None:
    """Draw and store the factory PIN in ``state_dir``; returns it, or None if one exists."""
    path = pin_file(state_dir)
    if path.exists():
        return None
    _vault, pin = PinVault.provision(path, time.time() if now_s is None else now_s)
    return pin


def provision_for_sim(state_dir: Path, out: TextIO | None = None) -> str | None:
    """``kiosk --sim``: a factory PIN for this state folder, printed in the terminal."""
    pin = provision(state_dir)
    if pin is not None:
        print(banner(pin, pin_file(state_dir)), file=out or sys.stdout, flush=True)
    return pin


def main(argv: list[str] | None = None, *, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kiosk.access.provision",
        description="Draw the device's factory service PIN at first boot and print it once.")
    parser.add_argument("state_dir", type=Path, help="the UI's state folder")
    args = parser.parse_args(argv)
    out = out or sys.stdout
    err = err or sys.stderr
    folder: Path = args.state_dir
    if not folder.is_dir():
        print(f"provision: {folder}: no such folder (the UI's state folder must exist)",
              file=err)
        return 2
    try:
        pin = provision(folder)
    except PermissionError as exc:
        print(f"provision: {folder}: cannot write ({exc.strerror})", file=err)
        return 2
    except (OSError, PinStoreError) as exc:
        print(f"provision: {folder}: {exc}", file=err)
        return 1
    if pin is None:
        print(f"provision: {pin_file(folder)} exists; nothing changed", file=err)
        return 0
    print(banner(pin, pin_file(folder)), file=out, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
