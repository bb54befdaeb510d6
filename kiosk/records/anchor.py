"""The event chain's anchor outside the database: the sequence number and hash of the newest
durable event, so that a log cut short or rewritten inside the database file is noticed.

The hash chain (``events.py``) proves that the rows present belong together; it cannot prove
that none are missing at the end: delete the newest rows and set ``chain_head`` back with one
UPDATE, or lose the WAL to a flipped bit, and what is left verifies. The anchor is the
outside witness. After every durable commit the writer records ``(seq, hash)`` in three places:

1. the anchor file next to the database (``records.sqlite3.anchor``), written atomically
   (temporary file, fsync, rename, fsync of the folder): after a power cut it holds either the
   old or the new anchor, never a torn one;
2. the systemd journal (native protocol, fields ``KIOSK_RECORDS_ANCHOR_SEQ`` and ``..._HASH``)
   when the journal socket exists, else the Python log (which systemd also collects): a copy
   the device's own database file cannot rewrite;
3. every export's ``MANIFEST.sha256`` (a ``#`` comment line, which ``sha256sum -c`` skips).

At start-up the writer compares the database with the anchor file (:func:`check`): fewer
events than anchored, or a different hash at the anchored sequence number, latches a storage
fault with a plain reason; what is left is kept as it is.

The file is tiny and is read with a size limit: junk in it is a refusal, never a crash.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from kiosk.records.errors import (
    StorageAnchorError,
    StorageEventsLostError,
    StorageReplacedError,
    storage_error_from,
)

ANCHOR_SUFFIX = ".anchor"
ANCHOR_FORMAT = "kiosk-records-anchor 1"
MAX_ANCHOR_BYTES = 512  # the file is ~120 bytes; anything larger is not ours
JOURNAL_SOCKET = Path("/run/systemd/journal/socket")
_LINE = re.compile(r"^seq=(\d{1,18}) hash=([0-9a-f]{64})$")
_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Anchor:
    """The newest durable event as recorded outside the database."""

    seq: int
    hash: str

    def text(self) -> str:
        return f"seq={self.seq} hash={self.hash}"


def anchor_path(db_path: Path | str) -> Path:
    """``records.sqlite3`` -> ``records.sqlite3.anchor`` in the same (state) directory."""
    path = Path(db_path)
    return path.with_name(path.name + ANCHOR_SUFFIX)


def parse(text: str, where: Path | str) -> Anchor:
    """An anchor from its file text; StorageAnchorError naming ``where`` if it is not one."""
    lines = text.splitlines()
    if len(lines) != 2 or lines[0] != ANCHOR_FORMAT or not _LINE.match(lines[1]):
        raise StorageAnchorError(
            f"The chain anchor {where} is not an anchor (expected '{ANCHOR_FORMAT}' and"
            " 'seq=N hash=<64 hex>'); it was left untouched for service.", where)
    match = _LINE.match(lines[1])
    assert match is not None
    return Anchor(int(match.group(1)), match.group(2))


def read(path: Path | str) -> Anchor | None:
    """The anchor in ``path`` (None when there is no file); refuses junk and oversized files."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_ANCHOR_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageAnchorError(
            f"The chain anchor {path} cannot be read: {exc.strerror or exc}.", path) from exc
    if len(data) > MAX_ANCHOR_BYTES:
        raise StorageAnchorError(
            f"The chain anchor {path} is larger than {MAX_ANCHOR_BYTES} bytes; it is not an"
            " anchor and was left untouched for service.", path)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise StorageAnchorError(
            f"The chain anchor {path} is not ASCII text; it was left untouched for service.",
            path) from exc
    return parse(text, path)


def write(path: Path | str, anchor: Anchor) -> None:
    """Replace the anchor file atomically: temp file (0600), fsync, rename, fsync the folder."""
    path = Path(path)
    temp = path.with_name(path.name + ".tmp")
    data = f"{ANCHOR_FORMAT}\n{anchor.text()}\n".encode("ascii")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise storage_error_from(exc, path, "writing the chain anchor") from exc


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def to_journal(anchor: Anchor, db_path: Path | str,
               socket_path: Path = JOURNAL_SOCKET) -> bool:
    """Send the anchor to the systemd journal (native protocol); else to the Python log.

    True when the journal took it. Never raises: the journal copy is a second witness, the
    anchor file is the one compared at start-up.
    """
    message = (f"records chain anchor {anchor.text()} ({db_path})")
    if socket_path.exists():
        payload = "".join(f"{key}={value}\n" for key, value in (
            ("MESSAGE", message), ("PRIORITY", "6"), ("SYSLOG_IDENTIFIER", "kiosk-records"),
            ("KIOSK_RECORDS_ANCHOR_SEQ", str(anchor.seq)),
            ("KIOSK_RECORDS_ANCHOR_HASH", anchor.hash),
            ("KIOSK_RECORDS_PATH", str(db_path)))).encode("utf-8")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(payload, str(socket_path))
            return True
        except OSError:
            pass
    _log.info("%s", message)
    return False


def check(conn: sqlite3.Connection, anchor: Anchor, db_path: Path | str) -> None:
    """Raise StorageEventsLostError if the log does not reach the anchor or differs at it."""
    try:
        head_seq = int(conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])
        row = conn.execute("SELECT hash FROM events WHERE seq = ?", (anchor.seq,)).fetchone()
    except sqlite3.Error as exc:
        raise storage_error_from(exc, db_path, "comparing with the chain anchor") from exc
    if anchor.seq == 0:
        return
    if head_seq < anchor.seq or row is None:
        raise StorageEventsLostError(
            f"The records database {db_path} ends at event {head_seq}, but event {anchor.seq}"
            " was written (chain anchor): events were lost. What is left was kept; call"
            " service.", db_path)
    if str(row[0]) != anchor.hash:
        raise StorageEventsLostError(
            f"Event {anchor.seq} in {db_path} differs from the one written (chain anchor): the"
            " log was rewritten. What is left was kept; call service.", db_path)


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """Device and inode of the database and its side files, taken right after opening."""

    files: tuple[tuple[str, int, int], ...]  # (name, st_dev, st_ino)

    @classmethod
    def of(cls, db_path: Path) -> FileIdentity:
        entries = []
        for path in side_files(db_path):
            try:
                stat = os.stat(path)
            except FileNotFoundError:
                continue
            entries.append((path.name, stat.st_dev, stat.st_ino))
        return cls(tuple(entries))

    def problem(self, db_path: Path) -> StorageReplacedError | None:
        """What changed since this identity was taken, as an error naming the file."""
        for name, dev, ino in self.files:
            path = db_path.with_name(name)
            try:
                stat = os.stat(path)
            except FileNotFoundError:
                return StorageReplacedError(
                    f"The records file {path} was deleted while the kiosk was running; records"
                    " are no longer saved. Call service.", path)
            except OSError as exc:
                return StorageReplacedError(
                    f"The records file {path} cannot be checked: {exc.strerror or exc}.", path)
            if (stat.st_dev, stat.st_ino) != (dev, ino):
                return StorageReplacedError(
                    f"The records file {path} was replaced while the kiosk was running; records"
                    " are no longer saved to it. Call service.", path)
        return None


def side_files(db_path: Path) -> tuple[Path, Path, Path]:
    return (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm"))
