"""Which state folder a run uses, and the lock that keeps each folder to one running instance.

- ``--state-dir DIR``: that folder. It must exist: it is never created here, so a typo or an
  unmounted data partition is refused (exit 2) instead of silently getting a fresh, empty
  records database (the records store makes the same check for its own file).
- otherwise, on the simulated board: a fresh temporary folder per run (``kiosk-sim-*`` under
  ``$TMPDIR``), printed at start-up and kept after the run so its records can be read. Two
  ``kiosk --sim`` on one machine no longer share (and corrupt) one folder in the home directory.
- otherwise (the device): ``$KIOSK_STATE_DIR`` or ``/var/lib/kiosk`` (systemd's
  ``StateDirectory=`` creates it), with the same must-exist rule.

Whichever it is, :func:`claim_state_dir` takes an exclusive ``fcntl.flock`` on ``DIR/kiosk.lock``
before anything opens the records: a second instance on the same folder is refused with
:class:`~kiosk.entry.exit_codes.Busy` (exit code 3), naming the process that holds it. The kernel
drops the lock when its holder exits in any way (SIGKILL included), so there is never a stale
lock to clean up; the file itself stays (it only carries the holder's pid, for the message).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from kiosk.entry.exit_codes import Busy
from kiosk.files import BadInput, shown_path

LOCK_FILE_NAME = "kiosk.lock"
SIM_DIR_PREFIX = "kiosk-sim-"
_PID_BYTES = 32


@dataclass(frozen=True)
class StateDirChoice:
    path: Path
    fresh: bool  # a temporary folder made for this run


def choose_state_dir(explicit: Path | None, *, sim: bool) -> StateDirChoice:
    """The folder of this run (see the module docstring); makes only the fresh sim folder."""
    if explicit is not None:
        return StateDirChoice(Path(explicit), fresh=False)
    if sim:
        return StateDirChoice(Path(tempfile.mkdtemp(prefix=SIM_DIR_PREFIX)), fresh=True)
    from kiosk.records import default_state_dir

    return StateDirChoice(default_state_dir(), fresh=False)


class StateDirLock:
    """The held lock of one state folder; :meth:`release` (or process exit) lets it go."""

    def __init__(self, folder: Path, fd: int) -> None:
        self.folder = folder
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> StateDirLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def claim_state_dir(folder: Path) -> StateDirLock:
    """Lock ``folder`` for this process: :class:`BadInput` when it is missing or unusable,
    :class:`Busy` when another instance holds it."""
    shown = shown_path(folder)
    try:
        info = os.stat(folder)
    except FileNotFoundError:
        raise BadInput(f"state folder {shown} does not exist; it is not created (an unmounted "
                       f"data partition must not get a fresh, empty records database): create "
                       f"it, or give an existing folder with --state-dir") from None
    except OSError as error:
        raise BadInput(f"state folder {shown} cannot be used ({error.strerror or error}); "
                       f"give a readable, writable folder with --state-dir") from None
    if not stat.S_ISDIR(info.st_mode):
        raise BadInput(f"state folder {shown} is not a folder; give a folder with --state-dir")
    lock_path = folder / LOCK_FILE_NAME
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except OSError as error:
        raise BadInput(f"state folder {shown} is not writable: cannot open its lock file "
                       f"{LOCK_FILE_NAME} ({error.strerror or error}); the kiosk needs a "
                       f"folder it can write") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise Busy(f"state folder {shown} is in use by another running kiosk{holder}; one "
                   f"folder serves one instance: give this one its own --state-dir (under "
                   f"--sim, leave --state-dir out for a fresh one), or stop the other") from None
    except BaseException:
        os.close(fd)
        raise
    with contextlib.suppress(OSError):  # the pid is for the message only
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return StateDirLock(Path(folder), fd)


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, _PID_BYTES, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return f" (process {text})" if text.isdigit() else ""


def announce(choice: StateDirChoice, prog: str, *, stream: TextIO | None = None) -> None:
    """Say at start-up where this run's records go (always for a fresh folder)."""
    out = stream if stream is not None else sys.stderr
    if choice.fresh:
        print(f"{prog}: state folder of this run: {choice.path} (fresh, kept after exit; "
              f"--state-dir DIR to choose one)", file=out, flush=True)
    else:
        print(f"{prog}: state folder: {choice.path}", file=out, flush=True)


def open_state_dir(explicit: Path | None, *, sim: bool, prog: str) -> StateDirLock:
    """Choose, announce and lock this run's state folder (the entry points' one call)."""
    choice = choose_state_dir(explicit, sim=sim)
    announce(choice, prog)
    return claim_state_dir(choice.path)
