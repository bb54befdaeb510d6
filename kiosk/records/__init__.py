"""Records on disk: clients, sessions and a tamper-evident event log (SQLite, WAL).

Used by the app and the control core, uses nothing above it (never ``kiosk.control``,
``kiosk.app`` or ``kiosk.screens``): events arrive as plain values (:class:`LogEvent`).

- ``store``: where the file lives, opening, checks, PRAGMAs (:class:`RecordStore`)
- ``migrations``: schema versions (``PRAGMA user_version``)
- ``events``: the hash chain and :func:`verify_chain`
- ``writer``: :class:`RecordWriter`, the thread the control core posts to without blocking
- ``clients``, ``sessions``: the UI's API (pseudonymous clients, erasure, session records)
- ``anchor``: the chain head recorded outside the database (anchor file, journal, exports)
- ``export``: CSV + JSON + ``MANIFEST.sha256`` for the service mode's USB export
- ``errors``: :class:`StorageError` and its subclasses, :class:`StorageFault`
"""

from kiosk.records.clients import ClientRecord, ClientRegistry, ErasureReport
from kiosk.records.errors import (
    RecordNotFoundError,
    SessionStateError,
    StorageAnchorError,
    StorageBusyError,
    StorageCorruptError,
    StorageEmptyFileError,
    StorageError,
    StorageEventsLostError,
    StorageFault,
    StorageFullError,
    StorageIOError,
    StorageMissingError,
    StorageNewerSchemaError,
    StorageReadOnlyError,
    StorageReplacedError,
)
from kiosk.records.events import ChainProblem, ChainReport, EventRow, LogEvent
from kiosk.records.export import (
    ExportError,
    ExportResult,
    export_anchor,
    export_to,
    verify_export,
)
from kiosk.records.sessions import (
    ProgramChoice,
    ScreeningResult,
    Sensation,
    SessionBook,
    SessionRecord,
    SessionStatus,
    SessionSummary,
)
from kiosk.records.store import RecordStore, default_state_dir, records_path
from kiosk.records.writer import RecordWriter

__all__ = [
    "ChainProblem",
    "ChainReport",
    "ClientRecord",
    "ClientRegistry",
    "ErasureReport",
    "EventRow",
    "ExportError",
    "ExportResult",
    "LogEvent",
    "ProgramChoice",
    "RecordNotFoundError",
    "RecordStore",
    "RecordWriter",
    "ScreeningResult",
    "Sensation",
    "SessionBook",
    "SessionRecord",
    "SessionStateError",
    "SessionStatus",
    "SessionSummary",
    "StorageAnchorError",
    "StorageBusyError",
    "StorageCorruptError",
    "StorageEmptyFileError",
    "StorageError",
    "StorageEventsLostError",
    "StorageFault",
    "StorageFullError",
    "StorageIOError",
    "StorageMissingError",
    "StorageNewerSchemaError",
    "StorageReadOnlyError",
    "StorageReplacedError",
    "default_state_dir",
    "export_anchor",
    "export_to",
    "records_path",
    "verify_export",
]
