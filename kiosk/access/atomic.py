"""One small file of the access layer written whole or not at all (PINs, operators)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, body: bytes, *, mode: int) -> None:
    """Atomic and durable: a temporary file in the same folder (created with ``mode``), fsync,
    rename, fsync the folder. A power cut leaves the old file or the new one, never half of one.
    """
    folder = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=folder)
    try:
        try:
            os.fchmod(fd, mode)
            if os.write(fd, body) != len(body):
                raise OSError(f"{tmp}: short write")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
