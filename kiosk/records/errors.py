"""What can go wrong with the records database, in words a salon and a technician can act on.

Every failure of the store surfaces as one :class:`StorageError` subclass with a plain message
that names the file. None of them is ever answered by creating a fresh, empty database in place
of the old one: a database that cannot be used is left exactly as it was found, so that a
technician can recover or export it.

``StorageFault`` is the non-exception form the writer thread keeps for the control core and the
UI to poll (the control thread must never see an exception from logging).
"""

from __future__ import annotations

import errno
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path


class StorageError(Exception):
    """The records database cannot be used as asked. ``code`` is stable, ``str()`` is plain."""

    code = "storage.error"

    def __init__(self, message: str, path: Path | str | None = None) -> None:
        super().__init__(message)
        self.path = Path(path) if path is not None else None


class StorageMissingError(StorageError):
    """The state directory is absent: an unmounted data partition must not get a fresh file."""

    code = "storage.missing"


class StorageCorruptError(StorageError):
    """The file is not a records database, or SQLite reports it damaged."""

    code = "storage.corrupt"


class StorageNewerSchemaError(StorageError):
    """Written by newer software (after a downgrade): we cannot know what it means, so no writes."""

    code = "storage.newer_schema"


class StorageReadOnlyError(StorageError):
    """File or directory cannot be written (read-only mount, permissions)."""

    code = "storage.read_only"


class StorageFullError(StorageError):
    """The file system is full."""

    code = "storage.disk_full"


class StorageIOError(StorageError):
    """The disk reported a read or write error (failing SD card, file size limit, ...)."""

    code = "storage.io_error"


class StorageBusyError(StorageError):
    """Another process held the database lock for longer than the busy timeout."""

    code = "storage.busy"


class StorageEmptyFileError(StorageCorruptError):
    """The records file exists but is empty (0 bytes): it is never turned into a fresh database,
    because a file that was there once held records (a cut copy, a failed restore)."""

    code = "storage.empty_file"


class StorageEventsLostError(StorageError):
    """The event log holds fewer events than its anchor (outside the database) says were
    written, or the anchored event differs: events were lost or the log was rewritten."""

    code = "storage.events_lost"


class StorageAnchorError(StorageError):
    """The chain anchor file cannot be read or is not an anchor (damaged, too large, junk)."""

    code = "storage.anchor_unreadable"


class StorageReplacedError(StorageError):
    """The database file or its WAL/shared-memory file was deleted or replaced under the
    running writer, or what another connection reads back differs from what was committed."""

    code = "storage.file_replaced"


class RecordNotFoundError(LookupError):
    """A client or session id that is not (or no longer) in the database."""


class SessionStateError(ValueError):
    """A session step out of order (program before a clear screening, a change after close)."""


@dataclass(frozen=True, slots=True)
class StorageFault:
    """A latched storage fault as the control core and the UI read it (``code``: stable)."""

    code: str
    text: str

    def __str__(self) -> str:
        return f"{self.code}: {self.text}"


# Primary SQLite result codes (the low byte of an extended code).
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_CORRUPT = 11
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14
_SQLITE_NOTADB = 26


def storage_error_from(exc: BaseException, path: Path | str, doing: str) -> StorageError:
    """Translate a ``sqlite3.Error`` or ``OSError`` raised while ``doing`` into a StorageError.

    SQLite's extended result code is the reliable signal (the message text varies between
    versions); for "cannot open" the file system is asked why, because SQLite does not say.
    """
    where = f"records database {path}"
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return StorageFullError(f"{where}: the disk is full ({doing}).", path)
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return StorageReadOnlyError(f"{where}: cannot write ({doing}): {exc.strerror}.", path)
        return StorageIOError(f"{where}: {doing} failed: {exc.strerror or exc}.", path)
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    detail = str(exc)
    if primary == _SQLITE_FULL:
        return StorageFullError(f"{where}: the disk is full ({doing}).", path)
    if primary == _SQLITE_READONLY:
        return StorageReadOnlyError(
            f"{where} is read-only ({doing}): check the file and its folder.", path)
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return StorageCorruptError(
            f"{where} is damaged ({detail}); it was left untouched for service.", path)
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return StorageBusyError(f"{where} is locked by another program ({doing}).", path)
    if primary == _SQLITE_CANTOPEN:
        folder = Path(path).parent
        if not os.access(folder, os.W_OK) or (
                Path(path).exists() and not os.access(path, os.W_OK)):
            return StorageReadOnlyError(
                f"{where} is read-only ({doing}): check the file and its folder.", path)
        return StorageIOError(f"{where} cannot be opened ({doing}): {detail}.", path)
    if primary == _SQLITE_IOERR:
        return StorageIOError(f"{where}: the disk reported an error ({doing}): {detail}.", path)
    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in detail:
        return StorageCorruptError(
            f"{where} is not a database; it was left untouched for service.", path)
    return StorageError(f"{where}: {doing} failed: {detail}.", path)


def fault_from(error: StorageError) -> StorageFault:
    """The pollable form of an error, for the writer's latched fault."""
    return StorageFault(error.code, str(error))
