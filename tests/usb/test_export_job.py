"""One export onto a "stick" (kiosk.usb.export_job), with each way a stick fails done for real
where the machine allows it: a tiny tmpfs that fills up (ENOSPC from the kernel), a read-only
bind mount (EROFS), the folder pulled away in the middle of the writing. After each failure:
the code and the plain text, no complete-looking folder on the stick, and the device's log
unchanged (same events, chain intact).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kiosk.records import anchor as chain_anchor
from kiosk.records.events import head
from kiosk.records.export import (
    DEVICE_NAME,
    MANIFEST_NAME,
    METADATA_NAME,
    export_anchor,
    verify_export,
)
from kiosk.records.store import RecordStore
from kiosk.usb import export_job
from kiosk.usb.export_job import (
    FULL,
    INCOMPLETE_SUFFIX,
    READ_ONLY,
    REMOVED,
    UsbExportError,
    board_serial,
    classify,
    device_identity,
    export_to_drive,
)
from kiosk.usb.sources import FolderSource
from kiosk.usb.udisks import Drive
from tests.records.helpers import fill_disk

pytestmark = pytest.mark.requirement("SR-104")

IDENTITY = {"software_version": "0.1.0", "catalogue_version": "2026.11",
            "serial": "10000000abcd1234", "serial_source": "device-tree",
            "simulated_board": False}
WALL_S = 1_796_000_000.0


def stick(folder: Path) -> Drive:
    return FolderSource(folder).drives()[0]


def log_state(store: RecordStore) -> tuple[int, str, bool]:
    seq, hash_ = head(store.connection)
    return seq, hash_, store.verify_chain().ok


def test_a_complete_export_has_its_final_name_a_manifest_and_the_device(
        records: RecordStore, tmp_path: Path) -> None:
    folder = tmp_path / "stick"
    folder.mkdir()
    seen: list[str] = []
    done = export_to_drive(records, stick(folder), IDENTITY, wall_now_s=lambda: WALL_S,
                           on_file_written=lambda p: seen.append(p.name))
    assert done.folder.parent == folder and not done.folder.name.endswith(INCOMPLETE_SUFFIX)
    assert done.folder.name.startswith("kiosk-export-abcd1234-")
    assert [p.name for p in folder.iterdir()] == [done.folder.name]
    assert verify_export(done.folder) == []
    assert seen[-3:] == [DEVICE_NAME, METADATA_NAME, MANIFEST_NAME]  # manifest last
    device = json.loads((done.folder / DEVICE_NAME).read_text())
    assert device == IDENTITY
    meta = json.loads((done.folder / METADATA_NAME).read_text())
    assert meta["device"] == IDENTITY and DEVICE_NAME in meta["files"]
    anchor = export_anchor(done.folder)
    assert anchor is not None and anchor == chain_anchor.read(chain_anchor.anchor_path(
        records.path))
    assert done.chain_intact and done.files == len(list(done.folder.iterdir()))
    assert done.bytes_written == sum(p.stat().st_size for p in done.folder.iterdir())
    assert stat.S_IMODE((done.folder / DEVICE_NAME).stat().st_mode) == 0o600


def test_a_second_export_in_the_same_second_gets_its_own_folder(
        records: RecordStore, tmp_path: Path) -> None:
    folder = tmp_path / "stick"
    folder.mkdir()
    first = export_to_drive(records, stick(folder), IDENTITY, wall_now_s=lambda: WALL_S)
    second = export_to_drive(records, stick(folder), IDENTITY, wall_now_s=lambda: WALL_S)
    assert first.folder != second.folder and second.folder.name.endswith("-2")
    assert verify_export(first.folder) == [] and verify_export(second.folder) == []


def test_the_drive_is_released_after_the_export_and_a_refusal_is_reported(
        records: RecordStore, tmp_path: Path) -> None:
    folder = tmp_path / "stick"
    folder.mkdir()
    released: list[Drive] = []
    done = export_to_drive(records, stick(folder), IDENTITY,
                           release=lambda d: released.append(d) or None)
    assert done.released and released == [stick(folder)]
    busy = export_to_drive(records, stick(folder), IDENTITY,
                           release=lambda d: "target is busy")
    assert not busy.released and busy.release_problem == "target is busy"
    assert verify_export(busy.folder) == []  # written and synced all the same


def test_a_full_stick_is_said_and_leaves_nothing(
        records: RecordStore, mount_tmpfs: Callable[[int], Path]) -> None:
    """A 64 KiB tmpfs filled to the last byte: the kernel's ENOSPC."""
    folder = mount_tmpfs(64)
    filler = fill_disk(folder)
    before = log_state(records)
    with pytest.raises(UsbExportError) as caught:
        export_to_drive(records, stick(folder), IDENTITY)
    assert caught.value.code == FULL
    assert caught.value.partial is None
    assert sorted(p.name for p in folder.iterdir()) == [filler.name]
    assert log_state(records) == before


def test_a_stick_that_fills_up_in_the_middle_leaves_no_complete_looking_folder(
        records: RecordStore, tmp_path: Path, mount_tmpfs: Callable[[int], Path]) -> None:
    """Room for about half the export: the kernel's ENOSPC part-way through."""
    whole = export_to_drive(records, stick(_fresh(tmp_path / "measure")), IDENTITY)
    pages = sum(-(-p.stat().st_size // 4096) for p in whole.folder.iterdir())
    folder = mount_tmpfs(256)
    ballast = folder / "ballast.bin"
    with ballast.open("wb") as handle:
        handle.write(b"\0" * (256 * 1024 - (pages // 2) * 4096))
    before = log_state(records)
    written: list[str] = []
    with pytest.raises(UsbExportError) as caught:
        export_to_drive(records, stick(folder), IDENTITY,
                        on_file_written=lambda p: written.append(p.name))
    assert caught.value.code == FULL
    assert written, "the stick should have taken the first files"
    assert MANIFEST_NAME not in written
    assert sorted(p.name for p in folder.iterdir()) == [ballast.name]  # removed: space back
    assert log_state(records) == before


def _fresh(folder: Path) -> Path:
    folder.mkdir()
    return folder


def test_a_read_only_stick_is_said_and_changes_nothing(
        records: RecordStore, tmp_path: Path,
        make_read_only: Callable[[Path], None]) -> None:
    folder = tmp_path / "stick"
    folder.mkdir()
    (folder / "photo.jpg").write_bytes(b"\xff\xd8 a file of the salon's")
    make_read_only(folder)
    before = log_state(records)
    with pytest.raises(UsbExportError) as caught:
        export_to_drive(records, stick(folder), IDENTITY)
    assert caught.value.code == READ_ONLY
    assert sorted(p.name for p in folder.iterdir()) == ["photo.jpg"]
    assert log_state(records) == before


def test_a_write_protected_drive_is_refused_before_writing(records: RecordStore,
                                                           tmp_path: Path) -> None:
    folder = tmp_path / "stick"
    folder.mkdir()
    drive = Drive(folder, "LOCKED", "/dev/sdb1", "/x", None, read_only=True)
    with pytest.raises(UsbExportError) as caught:
        export_to_drive(records, drive, IDENTITY)
    assert caught.value.code == READ_ONLY and list(folder.iterdir()) == []


@pytest.mark.parametrize("after", ["events.csv", "sessions.json", "device.json", "export.json"])
def test_a_stick_pulled_mid_write_is_said_and_nothing_is_lost(
        records: RecordStore, tmp_path: Path, after: str) -> None:
    """The stick's folder disappears after ``after`` is written (the export's own folder with
    it): the next write fails, the error says the stick was removed, the log is unchanged."""
    folder = tmp_path / "stick"
    folder.mkdir()
    before = log_state(records)

    def pull(path: Path) -> None:
        if path.name == after:
            shutil.rmtree(folder)

    with pytest.raises(UsbExportError) as caught:
        export_to_drive(records, stick(folder), IDENTITY, on_file_written=pull)
    assert caught.value.code == REMOVED
    assert caught.value.partial is None
    assert not folder.exists()
    assert log_state(records) == before


def test_a_stick_pulled_and_put_back_before_the_rename_keeps_no_final_folder(
        records: RecordStore, tmp_path: Path) -> None:
    """The export folder is replaced right after the manifest (another stick with the same
    mount point): the rename finds nothing, nothing appears under the final name."""
    folder = tmp_path / "stick"
    folder.mkdir()

    def swap(path: Path) -> None:
        if path.name == MANIFEST_NAME:
            shutil.rmtree(path.parent)

    with pytest.raises(UsbExportError) as caught:
        export_to_drive(records, stick(folder), IDENTITY, on_file_written=swap)
    assert caught.value.code == REMOVED
    assert list(folder.iterdir()) == []


def test_a_stick_that_loses_a_write_is_found_by_the_read_back(
        records: RecordStore, tmp_path: Path) -> None:
    folder = tmp_path / "stick"
    folder.mkdir()

    def corrupt(path: Path) -> None:
        if path.name == MANIFEST_NAME:
            events = path.parent / "events.csv"
            events.write_bytes(events.read_bytes()[:-10])

    with pytest.raises(UsbExportError) as caught:
        export_to_drive(records, stick(folder), IDENTITY, on_file_written=corrupt)
    assert caught.value.code == "usb.verify_failed" and "events.csv" in caught.value.text
    assert list(folder.iterdir()) == []


def test_a_stick_gone_before_the_start(records: RecordStore, tmp_path: Path) -> None:
    gone = Drive(tmp_path / "nothing", "X", "", "", None, False)
    with pytest.raises(UsbExportError) as caught:
        export_to_drive(records, gone, IDENTITY)
    assert caught.value.code == REMOVED


@pytest.mark.parametrize(("number", "code"), [
    (errno.ENOSPC, FULL), (errno.EDQUOT, FULL), (errno.EROFS, READ_ONLY),
    (errno.EACCES, READ_ONLY), (errno.ENOENT, REMOVED), (errno.EIO, REMOVED),
    (errno.ENODEV, REMOVED), (errno.EINVAL, "usb.write_failed")])
def test_each_os_error_has_its_code(number: int, code: str) -> None:
    assert classify(OSError(number, os.strerror(number))) == code
    wrapped = RuntimeError("export failed")
    wrapped.__cause__ = OSError(number, os.strerror(number))
    assert classify(wrapped) == code
    assert classify(ValueError("no OS error at all")) == "usb.write_failed"


def test_an_injected_enospc_from_the_first_file_is_a_full_stick(
        records: RecordStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where no tmpfs can be mounted: the first data file's write refused with ENOSPC (the
    export's own file creation, replaced for this test, as a full FAT stick answers)."""
    from kiosk.records import export as export_module

    folder = tmp_path / "stick"
    folder.mkdir()
    real_open = export_module._private_text

    def full(path: Path, newline: str | None = None) -> Any:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(export_module, "_private_text", full)
    with pytest.raises(UsbExportError) as caught:
        export_to_drive(records, stick(folder), IDENTITY)
    assert caught.value.code == FULL and list(folder.iterdir()) == []
    monkeypatch.setattr(export_module, "_private_text", real_open)


# --- the device identity --------------------------------------------------------------------

@pytest.mark.requirement("SR-105")
def test_the_identity_comes_from_the_control_unit_and_the_device_tree(tmp_path: Path) -> None:
    serial = tmp_path / "serial-number"
    serial.write_bytes(b"10000000abcd1234\0")
    answer = {"software_version": "0.1.0", "catalogue_version": "2026.11",
              "simulated_board": False}
    identity = device_identity(lambda what: answer if what == "versions" else {}, (serial,))
    assert identity == {**answer, "serial": "10000000abcd1234",
                        "serial_source": "device-tree"}


@pytest.mark.requirement("SR-105")
def test_a_serial_the_control_unit_names_wins(tmp_path: Path) -> None:
    identity = device_identity(lambda what: {"software_version": "1", "board_serial": "GK-0042"},
                               (tmp_path / "none",))
    assert identity["serial"] == "GK-0042" and identity["serial_source"] == "control"


@pytest.mark.requirement("SR-105")
def test_what_cannot_be_had_is_said_never_made_up(tmp_path: Path) -> None:
    def refused(what: str) -> dict[str, Any]:
        raise ValueError("control_unit_not_answering: control unit not answering")

    identity = device_identity(refused, (tmp_path / "none",))
    assert identity["software_version"] is None and identity["serial"] is None
    assert "did not answer" in identity["problem"]
    assert identity["serial_source"].startswith("unknown")
    sim = device_identity(lambda what: {"software_version": "1", "simulated_board": True},
                          (tmp_path / "none",))
    assert sim["serial"] is None and sim["serial_source"] == "none: simulated board"
    assert device_identity(None, (tmp_path / "none",))["problem"] == "no control unit to ask"


@pytest.mark.parametrize("raw", [b"", b"\0", b"../../etc\0", b"x" * 100, b"\xff\xfe\0"])
def test_a_junk_serial_file_gives_no_serial(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "serial-number"
    path.write_bytes(raw)
    assert board_serial((path,)) is None


def test_the_export_name_has_no_path_in_it() -> None:
    name = export_job.export_name({"serial": "../../x/abcdef123456"}, WALL_S)
    assert "/" not in name and name.startswith("kiosk-export-")
