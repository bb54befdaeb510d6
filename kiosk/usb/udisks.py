"""udisks2's answer, read: which mounted file systems are removable drives the export may use.

Pure: no D-Bus, no I/O. :func:`parse_managed_objects` takes the body of
``org.freedesktop.DBus.ObjectManager.GetManagedObjects`` on ``/org/freedesktop/UDisks2``
(``a{oa{sa{sv}}}``: object path -> interface -> property -> value) as jeepney returns it (a
variant is a ``(signature, value)`` pair) or as plain values, and returns the drives, sorted by
mount point. Junk in the answer (a wrong type, a missing property, a relative or undecodable
mount point) skips that object; it never raises.

What counts as an export drive (udisks2's D-Bus API, interfaces ``Block``, ``Filesystem`` and
``Drive``):

- a block device with a ``Filesystem`` interface that is mounted (``MountPoints`` not empty;
  the first mount point is used);
- not marked for the system or to be ignored (``Block.HintSystem``, ``Block.HintIgnore``: the
  Pi's own SD card partitions carry ``HintSystem``);
- whose ``Block.Drive`` object is removable: ``Drive.ConnectionBus == "usb"``, or
  ``Drive.Removable`` / ``Drive.MediaRemovable`` true.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BLOCK = "org.freedesktop.UDisks2.Block"
FILESYSTEM = "org.freedesktop.UDisks2.Filesystem"
DRIVE = "org.freedesktop.UDisks2.Drive"
MAX_MOUNT_POINT_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Drive:
    """A mounted removable file system the export can write to."""

    mount_point: Path
    label: str  # the file system's label, else the drive's model, else the device
    device: str  # /dev/sda1 (empty when unknown, e.g. a folder under --sim)
    object_path: str  # the udisks2 block object ("" for a folder)
    size_bytes: int | None
    read_only: bool  # the medium says it cannot be written (a write-protect switch)
    fs_type: str = ""

    @property
    def name(self) -> str:
        """What the screen shows: the label and where it is mounted."""
        return f"{self.label} ({self.mount_point})" if self.label else str(self.mount_point)


def _plain(value: Any) -> Any:
    """jeepney gives a variant as ``(signature, value)``; anything else is already plain."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        return value[1]
    return value


def _props(interfaces: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    found = interfaces.get(name)
    return found if isinstance(found, Mapping) else None


def _get(props: Mapping[str, Any], key: str, kind: type | tuple[type, ...],
         default: Any = None) -> Any:
    value: Any = _plain(props.get(key, default))
    return value if isinstance(value, kind) else default


def _bytes_text(value: Any) -> str | None:
    """An ``ay`` path (NUL-terminated bytes) as text; None when it is not one."""
    value = _plain(value)
    if isinstance(value, list | tuple) and all(isinstance(b, int) and 0 <= b < 256
                                               for b in value):
        value = bytes(value)
    if not isinstance(value, bytes | bytearray) or len(value) > MAX_MOUNT_POINT_BYTES:
        return None
    raw = bytes(value).split(b"\0", 1)[0]
    if not raw:
        return None
    try:
        return os.fsdecode(raw)
    except (UnicodeDecodeError, ValueError):
        return None


def mount_point(filesystem: Mapping[str, Any]) -> Path | None:
    """The first absolute mount point of a ``Filesystem`` interface's properties."""
    points = _plain(filesystem.get("MountPoints"))
    if not isinstance(points, list | tuple):
        return None
    for point in points:
        text = _bytes_text(point)
        if text is not None and text.startswith("/") and "\0" not in text:
            return Path(text)
    return None


def _removable(drive: Mapping[str, Any] | None) -> bool:
    if drive is None:
        return False
    return (_get(drive, "ConnectionBus", str, "") == "usb"
            or _get(drive, "Removable", bool, False) is True
            or _get(drive, "MediaRemovable", bool, False) is True)


def _drive_label(block: Mapping[str, Any], drive: Mapping[str, Any] | None,
                 device: str) -> str:
    label = str(_get(block, "IdLabel", str, "")).strip()
    if label:
        return label
    if drive is not None:
        model = " ".join(part for part in (_get(drive, "Vendor", str, "").strip(),
                                           _get(drive, "Model", str, "").strip()) if part)
        if model:
            return model
    return device


def parse_managed_objects(objects: Any) -> list[Drive]:
    """The removable, mounted drives in a ``GetManagedObjects`` answer (see the module)."""
    if not isinstance(objects, Mapping):
        return []
    drives: list[Drive] = []
    for path, interfaces in objects.items():
        if not isinstance(path, str) or not isinstance(interfaces, Mapping):
            continue
        block = _props(interfaces, BLOCK)
        filesystem = _props(interfaces, FILESYSTEM)
        if block is None or filesystem is None:
            continue
        if _get(block, "HintSystem", bool, False) or _get(block, "HintIgnore", bool, False):
            continue
        drive_path = _get(block, "Drive", str, "/")
        drive_interfaces = objects.get(drive_path) if drive_path != "/" else None
        drive = _props(drive_interfaces, DRIVE) if isinstance(drive_interfaces, Mapping) \
            else None
        if not _removable(drive):
            continue
        where = mount_point(filesystem)
        if where is None:
            continue
        device = _bytes_text(block.get("PreferredDevice")) or _bytes_text(
            block.get("Device")) or ""
        size = _get(block, "Size", int, None)
        if isinstance(size, bool) or (isinstance(size, int) and size < 0):
            size = None
        drives.append(Drive(
            mount_point=where, label=_drive_label(block, drive, device), device=device,
            object_path=path, size_bytes=size,
            read_only=bool(_get(block, "ReadOnly", bool, False)),
            fs_type=_get(block, "IdType", str, "")))
    return sorted(drives, key=lambda d: str(d.mount_point))
