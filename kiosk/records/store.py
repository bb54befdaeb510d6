"""Opening the records database: where it lives, what is checked, which PRAGMAs, migrations.

One SQLite file (``records.sqlite3``) in the device's state directory (``/var/lib/kiosk`` or
``$KIOSK_STATE_DIR``; tests pass a temporary directory). Opening it is where most faults show up,
and each one ends in a :class:`~kiosk.records.errors.StorageError` with the file named and the
file left exactly as it was: never a silent fresh database that hides the old one. In order:

1. the state directory must exist (an unmounted data partition must not get a new, empty file);
2. an existing file must start with the SQLite header and carry our application id;
3. a file from newer software (``user_version`` above ours) is refused, not "fixed";
4. ``PRAGMA quick_check`` must say ok (a damaged page is reported, not written over);
5. write access to file and folder (WAL needs its side files), then the migrations.

PRAGMAs and why: ``journal_mode=WAL`` (readers never block the writer, a commit is one
sequential append, a crash never damages committed data); ``synchronous=FULL`` by default and for
every safety event (the WAL is fsynced at commit: survives power loss), ``NORMAL`` only for the
writer's batched commits (survives a crash of the program, may lose the last batch on power
loss; the next FULL commit makes every earlier one durable too); ``foreign_keys=ON``;
``secure_delete=ON`` (erased personal data is overwritten, not just unlinked);
``journal_size_limit`` keeps the WAL from growing without bound on the SD card.

A :class:`RecordStore` wraps one connection and belongs to the thread that opened it (SQLite's
own rule): the UI thread has one for clients and sessions, the writer thread another.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from urllib.parse import quote

from kiosk.records import anchor as chain_anchor
from kiosk.records import events as event_log
from kiosk.records.errors import (
    StorageCorruptError,
    StorageEmptyFileError,
    StorageError,
    StorageEventsLostError,
    StorageMissingError,
    StorageNewerSchemaError,
    StorageReadOnlyError,
    storage_error_from,
)
from kiosk.records.migrations import APPLICATION_ID, LATEST_VERSION, migrate, schema_version

RECORDS_FILE_NAME = "records.sqlite3"
STATE_DIR_ENV = "KIOSK_STATE_DIR"
DEFAULT_STATE_DIR = Path("/var/lib/kiosk")
WAL_SIZE_LIMIT_BYTES = 4 * 1024 * 1024
_SQLITE_MAGIC = b"SQLite format 3\x00"


def default_state_dir(environ: dict[str, str] | None = None) -> Path:
    """``$KIOSK_STATE_DIR`` if set, else ``/var/lib/kiosk`` (created by systemd StateDirectory)."""
    env = os.environ if environ is None else environ
    value = env.get(STATE_DIR_ENV, "").strip()
    return Path(value) if value else DEFAULT_STATE_DIR


def records_path(state_dir: Path | str | None = None) -> Path:
    """The records database inside ``state_dir`` (default: :func:`default_state_dir`)."""
    return Path(state_dir if state_dir is not None else default_state_dir()) / RECORDS_FILE_NAME


class RecordStore:
    """One open connection to the records database; use :meth:`open`, from one thread only."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, read_only: bool,
                 created: bool, migrated_from: int | None) -> None:
        self._conn = conn
        self.path = path
        self.read_only = read_only
        self.created = created  # this open created the file
        self.migrated_from = migrated_from  # version before this open migrated it, if it did
        self.boot_id = event_log.current_boot_id()
        self._synchronous_full = True
        # the files this connection uses: a write into a deleted or replaced -wal would reach
        # nobody, so every write transaction checks them before it commits (SR-060)
        self.identity: chain_anchor.FileIdentity | None = (
            None if read_only else chain_anchor.FileIdentity.of(path))

    @classmethod
    def open(cls, path: Path | str, *, read_only: bool = False, create: bool = True,
             check_integrity: bool = True, busy_timeout_s: float = 5.0) -> RecordStore:
        """Open (creating only if absent and ``create``) and migrate; raises a StorageError.

        ``read_only`` is the service mode's way into a database that cannot be written (full
        disk, read-only file): it reads and exports, never migrates or writes.
        """
        path = Path(path)
        folder = path.parent
        if not folder.is_dir():
            raise StorageMissingError(
                f"The state directory {folder} does not exist (is the data partition mounted?);"
                " no new records database is created in its place.", path)
        exists = path.exists()
        if exists:
            _check_header(path)
        if (read_only or not create) and not exists:
            raise StorageMissingError(f"There is no records database at {path}.", path)
        if read_only:
            return cls._open_read_only(path, check_integrity, busy_timeout_s)
        if exists and not (os.access(path, os.W_OK) and os.access(folder, os.W_OK)):
            raise StorageReadOnlyError(
                f"The records database {path} or its folder is read-only; records cannot be"
                " written (a read-only export is still possible).", path)
        if not exists:
            anchored = chain_anchor.read(chain_anchor.anchor_path(path))
            if anchored is not None and anchored.seq > 0:
                raise StorageEventsLostError(
                    f"The records database {path} is missing, but its chain anchor says"
                    f" {anchored.seq} events were written; no new database is created in its"
                    " place. Call service.", path)
            _create_atomically(path, busy_timeout_s)
        _make_private(path)
        try:
            conn = sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None)
        except sqlite3.Error as exc:
            raise storage_error_from(exc, path, "opening") from exc
        try:
            version = _identify(conn, path, must_exist=True)
            if check_integrity:
                _quick_check(conn, path)
            _apply_pragmas(conn, path)
            applied = migrate(conn)
            store = cls(conn, path, read_only=False, created=not exists,
                        migrated_from=version if applied else None)
            store._record_opening(applied, version)
            return store
        except BaseException as exc:
            conn.close()
            if isinstance(exc, sqlite3.Error):
                raise storage_error_from(exc, path, "opening") from exc
            raise

    @classmethod
    def _open_read_only(cls, path: Path, check_integrity: bool,
                        busy_timeout_s: float) -> RecordStore:
        uri = f"file:{quote(str(path.resolve()))}"
        conn: sqlite3.Connection | None = None
        try:
            try:
                conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=busy_timeout_s,
                                       isolation_level=None)
                conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
            except sqlite3.OperationalError:
                # WAL on read-only media without its -shm file: nothing can be writing there,
                # so SQLite may treat the file as immutable.
                if conn is not None:
                    conn.close()
                conn = sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)
            _identify(conn, path)
            if schema_version(conn) < LATEST_VERSION:
                raise StorageError(
                    f"The records database {path} is at schema version {schema_version(conn)};"
                    f" open it writable once to bring it to version {LATEST_VERSION}.", path)
            if check_integrity:
                _quick_check(conn, path)
            conn.execute("PRAGMA query_only = ON")
        except BaseException as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, sqlite3.Error):
                raise storage_error_from(exc, path, "opening read-only") from exc
            raise
        return cls(conn, path, read_only=True, created=False, migrated_from=None)

    @property
    def connection(self) -> sqlite3.Connection:
        """The raw connection, for this package's modules (autocommit mode)."""
        return self._conn

    @property
    def schema_version(self) -> int:
        return schema_version(self._conn)

    @contextlib.contextmanager
    def transaction(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; durable commits are fsynced before returning.

        SQLite errors leave as StorageError subclasses (full disk, I/O error, read-only, busy);
        constraint violations stay ``sqlite3.IntegrityError`` (a caller's mistake, not a fault).
        """
        if self.read_only:
            raise StorageReadOnlyError(f"{self.path} was opened read-only.", self.path)
        conn = self._conn
        try:
            self._set_synchronous(full=durable)
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise storage_error_from(exc, self.path, "starting a write") from exc
        try:
            yield conn
            problem = None if self.identity is None else self.identity.problem(self.path)
            if problem is not None:
                raise problem
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.IntegrityError):
                raise storage_error_from(exc, self.path, "writing") from exc
            raise

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees the same committed state (exports)."""
        conn = self._conn
        try:
            conn.execute("BEGIN")
        except sqlite3.Error as exc:
            raise storage_error_from(exc, self.path, "reading") from exc
        try:
            yield conn
        except sqlite3.Error as exc:
            raise storage_error_from(exc, self.path, "reading") from exc
        finally:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("COMMIT")

    def append_events(self, events: Sequence[event_log.StampedEvent], durable: bool,
                      pause: Callable[[], None] | None = None) -> int:
        """Append in one transaction; returns the last sequence number (``pause``: see
        :func:`kiosk.records.events.append_events`)."""
        with self.transaction(durable=durable) as conn:
            return event_log.append_events(conn, events, self.boot_id, pause)

    def verify_chain(self, anchor: tuple[int, str] | None = None, *,
                     use_anchor_file: bool = True) -> event_log.ChainReport:
        """Check the event log's hash chain (service mode: "verify log").

        Without an explicit ``anchor``, the anchor file next to the database is used when there
        is one, so a log cut short inside the file (rows deleted and ``chain_head`` set back)
        does not verify as intact. An unreadable anchor file raises StorageAnchorError.
        """
        if anchor is None and use_anchor_file:
            found = chain_anchor.read(chain_anchor.anchor_path(self.path))
            anchor = None if found is None else (found.seq, found.hash)
        with self.snapshot() as conn:
            return event_log.verify_chain(conn, anchor)

    def checkpoint(self) -> bool:
        """Copy the WAL into the database file and truncate it; False if a reader prevented it.

        After an erasure this is what removes the old page images (with the personal data) from
        the WAL file.
        """
        try:
            busy, _, _ = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error as exc:
            raise storage_error_from(exc, self.path, "checkpointing") from exc
        return int(busy) == 0

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> RecordStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _set_synchronous(self, full: bool) -> None:
        if full != self._synchronous_full:
            self._conn.execute(f"PRAGMA synchronous = {'FULL' if full else 'NORMAL'}")
            self._synchronous_full = full

    def _record_opening(self, applied: list[int], version_before: int) -> None:
        """Start or continue the log with how the file came to be: a replaced database shows."""
        notes: list[event_log.LogEvent] = []
        if 1 in applied:  # this open built the schema (another process may race to it)
            notes.append(event_log.LogEvent(
                "records.database_created", "A new records database was created.",
                details={"path": str(self.path), "schema_version": LATEST_VERSION,
                         "anchor": chain_anchor.anchor_path(self.path).name},
                durable=True))
        elif applied:
            notes.append(event_log.LogEvent(
                "records.schema_migrated", "The records database was brought up to date.",
                details={"from_version": version_before, "to_version": LATEST_VERSION},
                durable=True))
        if notes:
            stamped = [event_log.stamp(note, time.monotonic(), time.time()) for note in notes]
            self.append_events(stamped, durable=True)


def _create_atomically(path: Path, busy_timeout_s: float) -> None:
    """Build a new database under a temporary name and link it into place complete.

    Schema, application id and the ``records.database_created`` event are written and
    checkpointed into the file before it appears under its real name, so ``records.sqlite3``
    is never an empty or half-built file (a crash during creation leaves only the temporary
    file, removed at the next try). The file is 0600 (health data; SQLite would use 0644, and
    its -wal and -shm files take the database's mode).
    """
    temp = path.with_name(path.name + ".creating")
    _remove_new_file(temp)
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
    except OSError as exc:
        raise storage_error_from(exc, path, "creating the database") from exc
    try:
        conn = sqlite3.connect(temp, timeout=busy_timeout_s, isolation_level=None)
        try:
            _apply_pragmas(conn, path)
            applied = migrate(conn)
            creating = RecordStore(conn, path, read_only=False, created=True,
                                   migrated_from=None)
            creating._record_opening(applied, 0)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            seq, hash_ = event_log.head(conn)
        finally:
            conn.close()  # the last connection: SQLite removes the -wal and -shm files
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        # link fails if another process created the file meanwhile: theirs is kept
        # the anchor goes first: a database never exists without one (SR-058)
        chain_anchor.write(chain_anchor.anchor_path(path), chain_anchor.Anchor(seq, hash_))
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)
        os.unlink(temp)
        _fsync_dir(path.parent)
    except BaseException as exc:
        _remove_new_file(temp)
        if isinstance(exc, sqlite3.Error | OSError):
            raise storage_error_from(exc, path, "creating the database") from exc
        raise


def _make_private(path: Path) -> None:
    """Database files are 0600: a file found readable by others is tightened (it is ours)."""
    for side in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            mode = side.stat().st_mode & 0o777
            if mode & 0o077:
                side.chmod(mode & 0o700)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise storage_error_from(exc, path, "making the database private") from exc


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_new_file(path: Path) -> None:
    """Undo a creation that failed half-way (e.g. disk full): leave the folder as it was."""
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        with contextlib.suppress(OSError):
            leftover.unlink()


def _check_header(path: Path) -> None:
    try:
        with path.open("rb") as handle:
            header = handle.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise storage_error_from(exc, path, "reading the header") from exc
    if not header:
        raise StorageEmptyFileError(
            f"{path} is empty (0 bytes), not a records database; it was left untouched for"
            " service. Only a missing file is created fresh.", path)
    if header != _SQLITE_MAGIC:
        raise StorageCorruptError(
            f"{path} is not a records database (its header is not SQLite's); it was left"
            " untouched for service.", path)


def _identify(conn: sqlite3.Connection, path: Path, must_exist: bool = False) -> int:
    """The file's schema version, after making sure it is ours and not from the future.

    ``must_exist``: the file was there before this open (not one we are building), so it must
    already be a records database: an SQLite file without our schema (e.g. its schema only in a
    lost WAL) is refused, never built up into a fresh, empty database.
    """
    version = schema_version(conn)
    application_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    if version > LATEST_VERSION:
        raise StorageNewerSchemaError(
            f"The records database {path} was written by newer software (schema version"
            f" {version}, this software knows up to {LATEST_VERSION}). Update the software;"
            " the file was not changed.", path)
    if application_id != APPLICATION_ID:
        tables = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchone()[0]
        if version != 0 or tables:
            raise StorageCorruptError(
                f"{path} is an SQLite file of another program, not a records database; it was"
                " left untouched.", path)
    if must_exist and (version == 0 or application_id != APPLICATION_ID):
        raise StorageCorruptError(
            f"{path} is an SQLite file without the records schema (a cut copy, or its WAL was"
            " lost); it was left untouched for service. Only a missing file is created"
            " fresh.", path)
    return version


def _quick_check(conn: sqlite3.Connection, path: Path) -> None:
    rows = conn.execute("PRAGMA quick_check(5)").fetchall()
    if rows != [("ok",)]:
        problems = "; ".join(str(row[0]) for row in rows)
        raise StorageCorruptError(
            f"The records database {path} is damaged ({problems}); it was left untouched for"
            " service.", path)


def _apply_pragmas(conn: sqlite3.Connection, path: Path) -> None:
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise StorageError(f"{path}: SQLite refused WAL mode (got {mode!r}).", path)
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA secure_delete = ON")
    conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT_BYTES}")
