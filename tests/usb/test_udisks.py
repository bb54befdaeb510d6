"""udisks2's GetManagedObjects answer, read (kiosk.usb.udisks): which objects are export drives.

The answers are shaped as udisks2 2.9/2.10 gives them on a Raspberry Pi OS (Bookworm) with a
USB stick in: the SD card's partitions (HintSystem, bus "sdio"), a USB stick's partition
(bus "usb", mounted under /media/...), an unmounted stick, a card reader slot. jeepney hands a
variant over as ``(signature, value)``; a plain value is read the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kiosk.usb.udisks import BLOCK, DRIVE, FILESYSTEM, mount_point, parse_managed_objects

pytestmark = pytest.mark.requirement("SR-103")


def ay(text: str) -> tuple[str, bytes]:
    return ("ay", text.encode() + b"\0")


def stick_answer(**block_changes: Any) -> dict[str, Any]:
    block = {
        "Device": ay("/dev/sda1"), "PreferredDevice": ay("/dev/sda1"),
        "Size": ("t", 15_376_000_000), "ReadOnly": ("b", False),
        "Drive": ("o", "/org/freedesktop/UDisks2/drives/SanDisk_Cruzer_123"),
        "IdLabel": ("s", "SALON"), "IdType": ("s", "vfat"),
        "HintSystem": ("b", False), "HintIgnore": ("b", False),
    }
    block.update(block_changes)
    return {
        "/org/freedesktop/UDisks2/block_devices/mmcblk0p2": {
            BLOCK: {"Device": ay("/dev/mmcblk0p2"), "HintSystem": ("b", True),
                    "Drive": ("o", "/org/freedesktop/UDisks2/drives/SD_card")},
            FILESYSTEM: {"MountPoints": ("aay", [b"/\0"])},
        },
        "/org/freedesktop/UDisks2/drives/SD_card": {
            DRIVE: {"ConnectionBus": ("s", "sdio"), "Removable": ("b", True),
                    "MediaRemovable": ("b", True)},
        },
        "/org/freedesktop/UDisks2/block_devices/sda1": {
            BLOCK: block,
            FILESYSTEM: {"MountPoints": ("aay", [b"/media/kiosk/SALON\0"]),
                         "Size": ("t", 15_376_000_000)},
            "org.freedesktop.UDisks2.Partition": {"Number": ("u", 1)},
        },
        "/org/freedesktop/UDisks2/drives/SanDisk_Cruzer_123": {
            DRIVE: {"ConnectionBus": ("s", "usb"), "Removable": ("b", True),
                    "MediaRemovable": ("b", False), "Vendor": ("s", "SanDisk"),
                    "Model": ("s", "Cruzer")},
        },
        "/org/freedesktop/UDisks2/Manager": {"org.freedesktop.UDisks2.Manager": {}},
    }


def test_the_usb_stick_is_found_and_the_system_card_is_not() -> None:
    drives = parse_managed_objects(stick_answer())
    assert len(drives) == 1
    drive = drives[0]
    assert drive.mount_point == Path("/media/kiosk/SALON")
    assert drive.label == "SALON" and drive.device == "/dev/sda1" and drive.fs_type == "vfat"
    assert drive.size_bytes == 15_376_000_000 and not drive.read_only
    assert drive.object_path == "/org/freedesktop/UDisks2/block_devices/sda1"
    assert drive.name == "SALON (/media/kiosk/SALON)"


def test_plain_values_read_like_variants() -> None:
    def plain(value: Any) -> Any:
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
            return value[1]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    assert parse_managed_objects(plain(stick_answer())) == parse_managed_objects(
        stick_answer())


@pytest.mark.parametrize(("change", "found"), [
    ({}, True),
    ({"HintSystem": ("b", True)}, False),
    ({"HintIgnore": ("b", True)}, False),
    ({"Drive": ("o", "/")}, False),  # a loop device or similar: no drive, not removable
    ({"Drive": ("o", "/org/freedesktop/UDisks2/drives/gone")}, False),
])
def test_what_makes_a_block_an_export_drive(change: dict[str, Any], found: bool) -> None:
    assert bool(parse_managed_objects(stick_answer(**change))) is found


@pytest.mark.parametrize(("bus", "removable", "media_removable", "found"), [
    ("usb", False, False, True),  # a USB disk that says it is fixed: still on the USB bus
    ("sdio", True, False, True),  # a card in a reader slot
    ("ata", False, True, True),
    ("ata", False, False, False),  # an internal disk
])
def test_a_drive_is_removable_by_bus_or_by_its_flags(bus: str, removable: bool,
                                                      media_removable: bool,
                                                      found: bool) -> None:
    answer = stick_answer()
    answer["/org/freedesktop/UDisks2/drives/SanDisk_Cruzer_123"][DRIVE].update(
        ConnectionBus=("s", bus), Removable=("b", removable),
        MediaRemovable=("b", media_removable))
    assert bool(parse_managed_objects(answer)) is found


def test_an_unmounted_stick_is_not_offered() -> None:
    answer = stick_answer()
    answer["/org/freedesktop/UDisks2/block_devices/sda1"][FILESYSTEM]["MountPoints"] = \
        ("aay", [])
    assert parse_managed_objects(answer) == []


def test_the_label_falls_back_to_the_model_then_the_device() -> None:
    assert parse_managed_objects(stick_answer(IdLabel=("s", "  ")))[0].label == \
        "SanDisk Cruzer"
    answer = stick_answer(IdLabel=("s", ""))
    answer["/org/freedesktop/UDisks2/drives/SanDisk_Cruzer_123"][DRIVE].update(
        Vendor=("s", ""), Model=("s", ""))
    assert parse_managed_objects(answer)[0].label == "/dev/sda1"


def test_a_write_protected_stick_says_so() -> None:
    assert parse_managed_objects(stick_answer(ReadOnly=("b", True)))[0].read_only


def test_two_sticks_come_sorted_by_mount_point() -> None:
    answer = stick_answer()
    second = dict(answer["/org/freedesktop/UDisks2/block_devices/sda1"])
    second[FILESYSTEM] = {"MountPoints": ("aay", [b"/media/kiosk/AAA\0"])}
    answer["/org/freedesktop/UDisks2/block_devices/sdb1"] = second
    assert [str(d.mount_point) for d in parse_managed_objects(answer)] == [
        "/media/kiosk/AAA", "/media/kiosk/SALON"]


@pytest.mark.parametrize("points", [
    ("aay", [b"relative/path\0"]),
    ("aay", [b"\0"]),
    ("aay", [b"/x" * 3000]),  # longer than any mount point
    ("aay", "not a list"),
    ("s", "/media/x"),  # a string where udisks2 gives bytes
    ("aay", [[300, 1]]),  # not bytes
    None,
])
def test_junk_mount_points_are_skipped(points: Any) -> None:
    assert mount_point({"MountPoints": points}) is None


@pytest.mark.parametrize("answer", [
    None, [], "junk", {1: {}}, {"/a": "junk"}, {"/a": {BLOCK: "junk", FILESYSTEM: {}}},
    {"/a": {BLOCK: {"Drive": 5, "HintSystem": "yes"}, FILESYSTEM: {"MountPoints": 7}}},
])
def test_junk_answers_give_no_drive_and_never_raise(answer: Any) -> None:
    assert parse_managed_objects(answer) == []


def test_a_mount_point_given_as_a_list_of_byte_values_is_read() -> None:
    assert mount_point({"MountPoints": ("aay", [list(b"/media/usb\0")])}) == Path("/media/usb")


def test_junk_sizes_are_unknown_not_wrong() -> None:
    assert parse_managed_objects(stick_answer(Size=("t", -1)))[0].size_bytes is None
    assert parse_managed_objects(stick_answer(Size=("b", True)))[0].size_bytes is None
