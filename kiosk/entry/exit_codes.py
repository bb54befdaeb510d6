"""Exit codes shared by every entry point (docs/exit-codes.md is the table users read).

``kiosk``, ``kiosk --headless``, ``kiosk-scenario`` and ``python -m kiosk.safe_stop`` all say
the same thing with the same number, so systemd, CI and a technician can tell "the input is
wrong" from "it ran and failed" from "a bug" without reading the text. :func:`guarded` is the
outermost frame of each ``main``: a refused input becomes one line on stderr and code 2, never a
traceback; only an unexpected exception (a bug) prints one, with code 70.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import TextIO

from kiosk.files import BadInput, one_line

OK = 0
"""It did what was asked: the run ended normally (SIGTERM, window closed), the scenario's
expectations held, every step of the safe stop was confirmed."""
FAILED = 1
"""It ran, and the result is a failure: a scenario expectation not met or an unexpected fault,
the start-up self-test failed (output held safe), a safe-stop step not confirmed."""
BAD_INPUT = 2
"""Refused before doing anything: a bad command line, a file that cannot be used (board
configuration, scenario), a state folder that does not exist. The message names what and why."""
BUSY = 3
"""The state folder is in use by another running instance (its lock is held)."""
INTERNAL_ERROR = 70
"""An unexpected exception: a bug (sysexits EX_SOFTWARE). The traceback follows the message."""

ALL = {OK: "ok", FAILED: "failed", BAD_INPUT: "bad input", BUSY: "busy",
       INTERNAL_ERROR: "internal error"}  # the names of docs/exit-codes.md


class Busy(RuntimeError):
    """Another instance holds what this one needs (exit code :data:`BUSY`)."""


def guarded(prog: str, body: Callable[[], int], *, stderr: TextIO | None = None) -> int:
    """Run an entry point's body and map what escapes it to the shared exit codes."""
    err = stderr if stderr is not None else sys.stderr
    try:
        return body()
    except BadInput as error:
        print(f"{prog}: {error}", file=err)
        return BAD_INPUT
    except Busy as error:
        print(f"{prog}: {error}", file=err)
        return BUSY
    except Exception as error:  # a bug: say so, with the traceback, and a code of its own
        traceback.print_exc(file=err)
        print(one_line(f"{prog}: internal error ({type(error).__name__}: {error}); this is a "
                       f"bug, the traceback is above"), file=err)
        return INTERNAL_ERROR
