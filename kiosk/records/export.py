"""Export of the records to a folder (the service mode points it at a USB stick).

Each table goes out twice, as CSV (spreadsheets) and JSON (tools), plus ``export.json`` (what,
when, schema version, counts, and the event chain's verification with its head hash, which is
the outside anchor for a later ``verify_chain(anchor=...)``), and ``MANIFEST.sha256`` in
``sha256sum`` format over all of them, so ``sha256sum -c MANIFEST.sha256`` on any computer shows
the copy is complete and unchanged. Everything is read in one snapshot, so the files agree with
each other even while the writer keeps appending.

Personal data stays out unless asked for: by default clients appear only by pseudonymous id and
sessions with their screening *result*; ``include_personal_data=True`` adds display names,
screening answers and sensations (a client's request for their data, or the salon's own
backup), and says so in ``export.json``.

A broken chain does not stop the export: a technician needs the records most when something is
wrong; the verdict travels with them.

Files are fsynced (and the folder) before :func:`export_to` returns, so pulling the stick right
after is safe.

An export is read by people with spreadsheets, so it must not attack them (SR-062): every CSV
text cell that a spreadsheet would take as a formula (starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return; the OWASP rule) gets a leading single quote; the JSON files keep
the exact text. The files are created 0600 and the folder 0700 (they hold personal data; on a
FAT stick the modes do not exist, which is the stick's limit, not ours).

The chain anchor (``anchor.py``: the newest durable event's sequence number and hash, as the
anchor file next to the database says) opens ``MANIFEST.sha256`` as a ``#`` comment line
(``sha256sum -c`` skips it), and the chain is verified against it before the export is written.

The device identity (``device``: serial, software and catalogue version, as the service mode
gathers them) goes out as ``device.json`` and in ``export.json``; the manifest covers it.

Order on the medium: every data file, then ``export.json``, then ``MANIFEST.sha256``, then the
folder's fsync: a folder without a manifest is incomplete by construction. The USB export
(``kiosk.usb.export_job``) writes into a temporary folder on the stick and renames it last.
``on_file_written(path)`` is called after each file is complete and synced (progress on the
screen; the tests pull the "stick" there).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from kiosk.records import anchor as chain_anchor
from kiosk.records.errors import StorageError
from kiosk.records.events import ChainReport, head, verify_chain
from kiosk.records.migrations import schema_version
from kiosk.records.store import RecordStore

EXPORT_FORMAT = "galvanic-kiosk-records-export"
EXPORT_FORMAT_VERSION = 1
MANIFEST_NAME = "MANIFEST.sha256"
METADATA_NAME = "export.json"
DEVICE_NAME = "device.json"
MAX_MANIFEST_BYTES = 64 * 1024  # a manifest lists a dozen files; a larger one is not ours
ANCHOR_LINE_PREFIX = "# event-chain-anchor "
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class ExportError(StorageError):
    """The export folder cannot be used or written (stick full, removed, read-only, not empty)."""

    code = "storage.export_failed"


@dataclass(frozen=True, slots=True)
class ExportResult:
    directory: Path
    files: tuple[Path, ...]  # every exported file except the manifest
    manifest: Path
    counts: dict[str, int]  # rows per table
    chain: ChainReport
    personal_data: bool


@dataclass(frozen=True, slots=True)
class _Table:
    """One exported table: its query, and which columns hold JSON text (parsed in JSON)."""

    name: str
    sql: str
    json_columns: tuple[str, ...] = ()
    personal: bool = False  # only with include_personal_data


def _tables(personal: bool) -> list[_Table]:
    client_name = ", display_name" if personal else ""
    tables = [
        _Table("events",
               "SELECT seq, wall_us, mono_us, boot_id, code, severity, reason, details,"
               " session_id, hash FROM events ORDER BY seq", ("details",)),
        _Table("sessions",
               "SELECT session_id, client_id, operator, status, started_wall_us, ended_wall_us,"
               " screening_result, area, indication, program_id, program_version, active,"
               " polarity, electrode_id, target_current_ma, mean_current_ma, peak_current_ma,"
               " dose_ma_min, current_stage_s, ramp_events, faults, stop_reason, anonymised,"
               " control_session_id, dose_recorded_wall_us"
               " FROM sessions ORDER BY started_wall_us, session_id",
               ("ramp_events", "faults")),
        _Table("operator_changes",
               "SELECT session_id, wall_us, what, old_value, new_value FROM operator_changes"
               " ORDER BY id"),
        _Table("clients",
               f"SELECT client_id, created_wall_us{client_name} FROM clients"
               " ORDER BY created_wall_us, client_id"),
        _Table("screening_answers",
               "SELECT session_id, item_id, answer_yes FROM screening_answers"
               " ORDER BY session_id, item_id", personal=True),
        _Table("sensations",
               "SELECT session_id, wall_us, sensation FROM sensations ORDER BY id",
               personal=True),
    ]
    return [table for table in tables if personal or not table.personal]


def export_to(store: RecordStore, directory: Path | str, *, include_personal_data: bool = False,
              wall_now_s: Callable[[], float] = time.time,
              device: Mapping[str, Any] | None = None,
              on_file_written: Callable[[Path], None] | None = None) -> ExportResult:
    """Write the export into ``directory`` (created if absent, must be empty if present)."""
    target = Path(directory)
    _prepare(target)
    written = on_file_written or (lambda _path: None)
    files: list[Path] = []
    counts: dict[str, int] = {}
    anchor_problem: str | None = None
    try:
        anchored = chain_anchor.read(chain_anchor.anchor_path(store.path))
    except StorageError as exc:  # a damaged anchor does not stop the export: it is reported
        anchored, anchor_problem = None, str(exc)
    try:
        with store.snapshot() as conn:
            chain = verify_chain(conn, None if anchored is None
                                 else (anchored.seq, anchored.hash))
            newest = head(conn)
            version = schema_version(conn)
            for table in _tables(include_personal_data):
                csv_path, json_path, count = _export_table(conn, table, target)
                files += [csv_path, json_path]
                counts[table.name] = count
                written(csv_path)
                written(json_path)
        if device is not None:
            device_path = target / DEVICE_NAME
            _write_synced(device_path, (json.dumps(dict(device), indent=2, ensure_ascii=False,
                                                   sort_keys=True) + "\n").encode("utf-8"))
            files.append(device_path)
            written(device_path)
        metadata = {
            "format": EXPORT_FORMAT,
            "format_version": EXPORT_FORMAT_VERSION,
            "created_utc": _utc(round(wall_now_s() * 1e6)),
            "schema_version": version,
            "personal_data": include_personal_data,
            "counts": counts,
            "event_chain": {key: (str(value) if key == "problem" and value is not None
                                  else value) for key, value in asdict(chain).items()},
            "event_chain_anchor": {"problem": anchor_problem} if anchor_problem else None
            if anchored is None else {
                "seq": anchored.seq, "hash": anchored.hash,
                "source": chain_anchor.anchor_path(store.path).name},
            "device": None if device is None else dict(device),
            "files": sorted(path.name for path in files),
        }
        meta_path = target / METADATA_NAME
        _write_synced(meta_path, (json.dumps(metadata, indent=2, ensure_ascii=False)
                                  + "\n").encode("utf-8"))
        files.append(meta_path)
        written(meta_path)
        manifest = target / MANIFEST_NAME
        # the anchor of the device (when there is one), else the head this export saw
        seq, hash_ = (anchored.seq, anchored.hash) if anchored is not None else newest
        lines = f"{ANCHOR_LINE_PREFIX}seq={seq} hash={hash_}\n" + "".join(
            f"{_sha256(path)}  {path.name}\n" for path in sorted(files, key=lambda p: p.name))
        _write_synced(manifest, lines.encode("ascii"))
        _fsync_dir(target)
        written(manifest)
    except OSError as exc:
        raise ExportError(f"The export to {target} failed: {exc.strerror or exc}.",
                          target) from exc
    return ExportResult(target, tuple(files), manifest, counts, chain, include_personal_data)


def verify_export(directory: Path | str) -> list[str]:
    """Problems with an export folder (missing, changed or extra files); empty when intact."""
    folder = Path(directory)
    try:
        lines = _manifest_lines(folder)
    except ExportError as exc:
        return [str(exc)]
    problems: list[str] = []
    listed: set[str] = set()
    for line in lines:
        if line.startswith("#"):
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or "/" in name:
            problems.append(f"malformed manifest line: {line!r}")
            continue
        listed.add(name)
        path = folder / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif _sha256(path) != digest:
            problems.append(f"{name} was changed (checksum differs)")
    extra = sorted(p.name for p in folder.iterdir() if p.name not in listed | {MANIFEST_NAME})
    problems += [f"{name} is not in the manifest" for name in extra]
    return problems


def export_anchor(directory: Path | str) -> chain_anchor.Anchor | None:
    """The chain anchor an export's manifest carries (None for exports made before it did);
    pass it to ``RecordStore.verify_chain(anchor=(seq, hash))`` on the device later."""
    for line in _manifest_lines(Path(directory)):
        if line.startswith(ANCHOR_LINE_PREFIX):
            return chain_anchor.parse(
                f"{chain_anchor.ANCHOR_FORMAT}\n{line[len(ANCHOR_LINE_PREFIX):]}\n",
                Path(directory) / MANIFEST_NAME)
    return None


def _manifest_lines(folder: Path) -> list[str]:
    manifest = folder / MANIFEST_NAME
    try:
        with manifest.open("rb") as handle:
            data = handle.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise ExportError(f"cannot read {manifest}: {exc.strerror or exc}.", manifest) from exc
    if len(data) > MAX_MANIFEST_BYTES:
        raise ExportError(f"{manifest} is larger than {MAX_MANIFEST_BYTES} bytes; it is not an"
                          " export manifest.", manifest)
    try:
        return data.decode("ascii").splitlines()
    except UnicodeDecodeError as exc:
        raise ExportError(f"{manifest} is not ASCII text; it is not an export manifest.",
                          manifest) from exc


def neutralise_formula(value: Any) -> Any:
    """OWASP CSV injection rule: a text cell starting with = + - @ tab or CR gets a leading
    single quote, so a spreadsheet shows it as text instead of running it."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _export_table(conn: sqlite3.Connection, table: _Table,
                  folder: Path) -> tuple[Path, Path, int]:
    cursor = conn.execute(table.sql)
    columns = [column[0] for column in cursor.description]
    out_columns = [_column_name(name) for name in columns]
    csv_path = folder / f"{table.name}.csv"
    json_path = folder / f"{table.name}.json"
    count = 0
    with _private_text(csv_path, newline="") as csv_file, _private_text(json_path) as json_file:
        writer = csv.writer(csv_file, lineterminator="\n")
        writer.writerow(out_columns)
        json_file.write("[")
        for values in _rows(cursor):
            csv_values, json_row = _convert(columns, values, table.json_columns)
            writer.writerow([neutralise_formula(value) for value in csv_values])
            json_file.write(("\n" if count == 0 else ",\n")
                            + json.dumps(dict(zip(out_columns, json_row, strict=True)),
                                         ensure_ascii=False))
            count += 1
        json_file.write("\n]\n" if count else "]\n")
        for handle in (csv_file, json_file):
            handle.flush()
            os.fsync(handle.fileno())
    return csv_path, json_path, count


def _rows(cursor: sqlite3.Cursor) -> Iterator[Sequence[Any]]:
    while batch := cursor.fetchmany(500):
        yield from batch


def _column_name(name: str) -> str:
    """Times leave as ISO 8601 UTC (``started_wall_us`` -> ``started_utc``); mono_us stays."""
    if name == "wall_us":
        return "time_utc"
    if name.endswith("_wall_us"):
        return name[: -len("_wall_us")] + "_utc"
    return name


def _convert(columns: Iterable[str], values: Sequence[Any],
             json_columns: tuple[str, ...]) -> tuple[list[Any], list[Any]]:
    csv_values: list[Any] = []
    json_values: list[Any] = []
    for name, value in zip(columns, values, strict=True):
        if name.endswith("wall_us"):
            value = None if value is None else _utc(int(value))
        if name in json_columns:
            csv_values.append(value)
            json_values.append(json.loads(value) if value is not None else None)
            continue
        if name == "answer_yes":
            value = bool(value)
        csv_values.append("" if value is None else value)
        json_values.append(value)
    return csv_values, json_values


def _utc(wall_us: int) -> str:
    return datetime.fromtimestamp(wall_us / 1e6, UTC).isoformat(timespec="microseconds")


def _prepare(target: Path) -> None:
    try:
        target.mkdir(mode=0o700, exist_ok=True)
        if any(target.iterdir()):
            raise ExportError(f"The export folder {target} is not empty; choose a new one.",
                              target)
        target.chmod(0o700)  # an empty folder given to us: personal data goes in it
    except OSError as exc:
        raise ExportError(f"The export folder {target} cannot be used:"
                          f" {exc.strerror or exc}.", target) from exc


def _private_text(path: Path, newline: str | None = None) -> TextIO:
    """A new text file, 0600 from its creation (never a moment readable by others)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    return open(fd, "w", encoding="utf-8", newline=newline)


def _write_synced(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()

