"""One export onto a drive: a temporary folder on the stick, verified, renamed last, synced.

Order of the writes, so that a partial export is never taken for a complete one:

1. ``<name>.incomplete/`` on the stick; every data file, ``device.json``, ``export.json`` and
   last ``MANIFEST.sha256`` are written and fsynced in it (:func:`kiosk.records.export_to`);
2. the folder is read back from the stick and checked against its manifest
   (:func:`kiosk.records.verify_export`): a stick that loses writes is found here;
3. it is renamed to ``<name>/`` and the stick's root folder is fsynced: only now does a complete
   export exist under its final name. Then the drive is released (unmounted through udisks2 on
   the device) and the screen says the stick may be pulled.

A failure at any step (the stick pulled, full, read-only, a write error) is an
:class:`UsbExportError` with a stable code and a plain text; the ``.incomplete`` folder is
removed when the stick is still there (a full stick gets its space back), and otherwise keeps its
name. The export only reads the records (one SQLite read snapshot on its own connection), so
nothing in the device's log is changed or lost by an export, whatever happens to the stick.
"""

from __future__ import annotations

import errno
import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kiosk.records.export import ExportError, export_to, verify_export
from kiosk.records.store import RecordStore
from kiosk.usb.udisks import Drive

INCOMPLETE_SUFFIX = ".incomplete"
SERIAL_FILES = (Path("/sys/firmware/devicetree/base/serial-number"),
                Path("/proc/device-tree/serial-number"))
MAX_SERIAL_BYTES = 64

# Stable codes of the export's outcome (the screen's texts are keyed by them).
FULL = "usb.full"
READ_ONLY = "usb.read_only"
REMOVED = "usb.removed"
NO_DRIVE = "usb.no_drive"
VERIFY_FAILED = "usb.verify_failed"
WRITE_FAILED = "usb.write_failed"
RECORDS_UNREADABLE = "usb.records_unreadable"

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_READ_ONLY_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM}
_REMOVED_ERRNOS = {errno.ENOENT, errno.ENODEV, errno.ENXIO, errno.ESTALE, errno.ENOTDIR,
                   errno.EIO, errno.ENOTCONN}


class UsbExportError(Exception):
    """The export did not complete. ``code`` is stable; ``text`` is plain; ``partial`` names a
    folder left on the stick under its ``.incomplete`` name (None: nothing left)."""

    def __init__(self, code: str, text: str, partial: Path | None = None) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text
        self.partial = partial


@dataclass(frozen=True, slots=True)
class DriveExport:
    """A complete export on the stick."""

    folder: Path
    files: int  # the manifest included
    bytes_written: int
    chain_intact: bool
    released: bool  # unmounted through the drive source
    release_problem: str | None = None
    device: Mapping[str, Any] = field(default_factory=dict)


def classify(exc: BaseException) -> str:
    """The stable code of an OS error (or of the OSError an ExportError wraps)."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, OSError):
        cause = cause.__cause__
    number = cause.errno if isinstance(cause, OSError) else None
    if number in _FULL_ERRNOS:
        return FULL
    if number in _READ_ONLY_ERRNOS:
        return READ_ONLY
    if number in _REMOVED_ERRNOS:
        return REMOVED
    return WRITE_FAILED


def board_serial(paths: tuple[Path, ...] = SERIAL_FILES) -> str | None:
    """The Raspberry Pi's serial number from the device tree (NUL-terminated ASCII), or None."""
    for path in paths:
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_SERIAL_BYTES + 1)
        except OSError:
            continue
        text = raw.split(b"\0", 1)[0].decode("ascii", "replace").strip()
        if text and len(raw) <= MAX_SERIAL_BYTES and text.isalnum():
            return text
    return None


def device_identity(query: Callable[..., Mapping[str, Any]] | None,
                    serial_paths: tuple[Path, ...] = SERIAL_FILES) -> dict[str, Any]:
    """Serial, software and catalogue version for the export (``device.json``).

    The versions come from the control layer (``query("versions")``); the serial from the
    control layer when it names one, else the board's device tree. What cannot be had is said
    (``problem``, ``serial_source``), never filled in."""
    identity: dict[str, Any] = {"software_version": None, "catalogue_version": None,
                                "simulated_board": None, "serial": None,
                                "serial_source": None}
    if query is None:
        identity["problem"] = "no control unit to ask"
    else:
        try:
            answer = dict(query("versions"))
        except (ValueError, OSError, TimeoutError) as exc:
            identity["problem"] = f"the control unit did not answer: {exc}"
        else:
            for key in ("software_version", "catalogue_version", "simulated_board"):
                identity[key] = answer.get(key)
            for key in ("serial", "board_serial"):
                if isinstance(answer.get(key), str) and answer[key]:
                    identity["serial"], identity["serial_source"] = answer[key], "control"
                    break
    if identity["serial"] is None:
        serial = board_serial(serial_paths)
        if serial is not None:
            identity["serial"], identity["serial_source"] = serial, "device-tree"
        elif identity.get("simulated_board"):
            identity["serial_source"] = "none: simulated board"
        else:
            identity["serial_source"] = "unknown: no device-tree serial number"
    return identity


def export_name(identity: Mapping[str, Any], wall_s: float) -> str:
    serial = identity.get("serial")
    tag = "".join(c for c in str(serial) if c.isalnum())[-8:] if serial else "device"
    stamp = datetime.fromtimestamp(wall_s, UTC).strftime("%Y%m%d-%H%M%S")
    return f"kiosk-export-{tag}-{stamp}"


def export_to_drive(store: RecordStore, drive: Drive, identity: Mapping[str, Any], *,
                    include_personal_data: bool = False,
                    wall_now_s: Callable[[], float] = time.time,
                    release: Callable[[Drive], str | None] | None = None,
                    on_file_written: Callable[[Path], None] | None = None) -> DriveExport:
    """Export onto ``drive`` (see the module); :class:`UsbExportError` when it did not
    complete."""
    root = drive.mount_point
    if drive.read_only:
        raise UsbExportError(READ_ONLY, f"{drive.name} is write-protected")
    if not root.is_dir():
        raise UsbExportError(REMOVED, f"{root} is not there any more")
    name = export_name(identity, wall_now_s())
    final = root / name
    n = 1
    while final.exists() or (root / f"{final.name}{INCOMPLETE_SUFFIX}").exists():
        n += 1
        final = root / f"{name}-{n}"
    partial = root / f"{final.name}{INCOMPLETE_SUFFIX}"
    try:
        result = export_to(store, partial, include_personal_data=include_personal_data,
                           wall_now_s=wall_now_s, device=identity,
                           on_file_written=on_file_written)
        if not partial.is_dir():
            raise UsbExportError(REMOVED, f"{partial} is not on the stick any more", partial)
        problems = verify_export(partial)
        if problems:
            raise UsbExportError(VERIFY_FAILED, "read back from the stick: "
                                 + "; ".join(problems[:3]), partial)
        os.rename(partial, final)
        _fsync_dir(root)
    except UsbExportError as exc:
        raise _cleaned(exc, partial) from exc
    except ExportError as exc:
        raise _cleaned(UsbExportError(classify(exc), str(exc), partial), partial) from exc
    except OSError as exc:
        raise _cleaned(UsbExportError(classify(exc), f"{exc.strerror or exc} ({final})",
                                      partial), partial) from exc
    size = sum(p.stat().st_size for p in final.iterdir())
    problem = release(drive) if release is not None else None
    return DriveExport(folder=final, files=len(result.files) + 1, bytes_written=size,
                       chain_intact=result.chain.ok,
                       released=release is not None and problem is None,
                       release_problem=problem, device=dict(identity))


def _cleaned(error: UsbExportError, partial: Path) -> UsbExportError:
    """Remove the incomplete folder if the stick still has it; say whether anything is left."""
    if partial.exists():
        shutil.rmtree(partial, ignore_errors=True)
    left = partial if partial.exists() else None
    return UsbExportError(error.code, error.text, left)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
