"""Checks on a BUILT SD card image: partitions, boot files, config.txt, the kiosk unit, pins.

The image build takes about ten minutes and needs root, so CI does not run it; these tests run
against an image when one exists: ``$KIOSK_IMAGE`` or ``image_build/out/kiosk-rpi4-arm64.img``
(what ``sudo image_build/build.sh`` writes). Otherwise they skip, saying so. The image is read in
place, without loop devices or root: the partition table with ``struct``, the FAT boot partition
with mtools, the ext4 partitions with ``debugfs`` at an offset.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IMAGE_BUILD = REPO / "image_build"
DEFAULT_IMAGE = IMAGE_BUILD / "out" / "kiosk-rpi4-arm64.img"
IMAGE = Path(os.environ.get("KIOSK_IMAGE", DEFAULT_IMAGE))
SECTOR = 512
MAX_IMAGE_BYTES = 1_500_000_000  # the target: under 1.5 GB raw

pytestmark = [
    pytest.mark.skipif(not IMAGE.is_file(),
                       reason=f"no built image at {IMAGE} (run sudo image_build/build.sh, or set "
                              "KIOSK_IMAGE): image checks skipped"),
    pytest.mark.skipif(shutil.which("debugfs") is None or shutil.which("mtype") is None,
                       reason="debugfs (e2fsprogs) and mtools are needed to read the image"),
]


def image_conf() -> dict[str, str]:
    values = {}
    for line in (IMAGE_BUILD / "image.conf").read_text().splitlines():
        match = re.fullmatch(r"([A-Z_0-9]+)=(\S*)", line.strip())
        if match:
            values[match.group(1)] = match.group(2)
    return values


CONF = image_conf()


@dataclass(frozen=True)
class Partition:
    number: int
    bootable: bool
    type_id: int
    start_sector: int
    sectors: int

    @property
    def offset(self) -> int:
        return self.start_sector * SECTOR


def read_partitions() -> tuple[int, list[Partition]]:
    with IMAGE.open("rb") as image:
        mbr = image.read(SECTOR)
    assert mbr[510:512] == b"\x55\xaa", "no DOS boot signature"
    disk_id = struct.unpack_from("<I", mbr, 440)[0]
    partitions = []
    for index in range(4):
        entry = mbr[446 + 16 * index: 446 + 16 * (index + 1)]
        status, type_id = entry[0], entry[4]
        start, sectors = struct.unpack_from("<II", entry, 8)
        if type_id:
            partitions.append(Partition(index + 1, status == 0x80, type_id, start, sectors))
    return disk_id, partitions


def ext4(partition: Partition, command: str) -> str:
    """One debugfs request on the ext4 file system at the partition's offset (read-only)."""
    result = subprocess.run(["debugfs", "-R", command, f"{IMAGE}?offset={partition.offset}"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def ext4_cat(partition: Partition, path: str) -> str:
    return ext4(partition, f"cat {path}")


def fat_cat(partition: Partition, path: str) -> str:
    result = subprocess.run(["mtype", "-i", f"{IMAGE}@@{partition.offset}", f"::{path}"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def fat_names(partition: Partition, folder: str = "") -> set[str]:
    result = subprocess.run(["mdir", "-b", "-i", f"{IMAGE}@@{partition.offset}", f"::{folder}"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return {line.strip().removeprefix("::/").rstrip("/") for line in result.stdout.splitlines()}


@pytest.fixture(scope="module")
def parts() -> dict[str, Partition]:
    _, partitions = read_partitions()
    return {"boot": partitions[0], "root": partitions[1], "data": partitions[2]}


def test_partition_table_is_the_fixed_dos_layout():
    disk_id, partitions = read_partitions()

    assert disk_id == int(CONF["DISK_ID"], 16)
    assert [(p.number, p.type_id, p.bootable) for p in partitions] == [
        (1, 0x0C, True), (2, 0x83, False), (3, 0x83, False)]
    assert partitions[0].sectors == int(CONF["BOOT_SIZE_MIB"]) * 2048
    assert partitions[2].sectors == int(CONF["DATA_SIZE_MIB"]) * 2048
    for before, after in itertools.pairwise(partitions):
        assert before.start_sector + before.sectors <= after.start_sector
    end = partitions[-1].start_sector + partitions[-1].sectors
    assert IMAGE.stat().st_size == end * SECTOR


def test_image_is_under_the_size_target():
    assert IMAGE.stat().st_size < MAX_IMAGE_BYTES


def test_checksum_file_matches_the_image():
    sums = IMAGE.with_name(IMAGE.name + ".sha256")
    if not sums.is_file():
        pytest.skip(f"no {sums.name} beside the image")
    digest = hashlib.sha256()
    with IMAGE.open("rb") as image:
        for block in iter(lambda: image.read(1 << 20), b""):
            digest.update(block)
    assert sums.read_text().split()[0] == digest.hexdigest()


def test_boot_partition_holds_the_pi4_firmware_kernel_and_overlay(parts):
    names = fat_names(parts["boot"])

    for required in ("start4.elf", "fixup4.dat", "bcm2711-rpi-4-b.dtb", "config.txt",
                     "cmdline.txt", "overlays"):
        assert required in names, f"{required} missing from the boot partition: {sorted(names)}"
    assert any(n.startswith("vmlinuz") for n in names)
    assert any(n.startswith("initrd.img") for n in names)
    overlays = {Path(n).name for n in fat_names(parts["boot"], "overlays")}
    assert "kiosk-i2c1-400k.dtbo" in overlays


def test_config_txt_sets_i2c_400khz_watchdog_and_quiet_boot(parts):
    lines = {line.strip() for line in fat_cat(parts["boot"], "config.txt").splitlines()}

    for setting in ("arm_64bit=1", "dtparam=i2c_arm=on", "dtparam=i2c_arm_baudrate=400000",
                    "dtoverlay=kiosk-i2c1-400k", "dtparam=watchdog=on", "disable_splash=1"):
        assert setting in lines, f"{setting} missing from config.txt"


def test_overlay_sets_i2c1_to_400khz_on_the_pi4_device_tree(parts, tmp_path):
    if shutil.which("fdtoverlay") is None or shutil.which("fdtget") is None:
        pytest.skip("fdtoverlay/fdtget (device-tree-compiler) not installed")
    image = f"{IMAGE}@@{parts['boot'].offset}"
    for name in ("bcm2711-rpi-4-b.dtb", "overlays/kiosk-i2c1-400k.dtbo"):
        subprocess.run(["mcopy", "-n", "-i", image, f"::{name}", str(tmp_path / Path(name).name)],
                       check=True, timeout=60)
    merged = tmp_path / "merged.dtb"
    subprocess.run(["fdtoverlay", "-i", str(tmp_path / "bcm2711-rpi-4-b.dtb"), "-o", str(merged),
                    str(tmp_path / "kiosk-i2c1-400k.dtbo")], check=True, timeout=60)

    frequency = subprocess.run(["fdtget", str(merged), "/soc/i2c@7e804000", "clock-frequency"],
                               capture_output=True, text=True, check=True, timeout=60)
    assert frequency.stdout.strip() == "400000"


def test_kernel_command_line_mounts_the_root_read_only_by_partuuid_quietly(parts):
    words = fat_cat(parts["boot"], "cmdline.txt").split()

    assert f"root=PARTUUID={CONF['DISK_ID']}-02" in words
    assert [w for w in words if w in ("ro", "rw")][-1] == "ro"
    assert "quiet" in words
    assert not any(w in ("console=tty0", "console=tty1") for w in words)


@pytest.mark.parametrize("unit", ["kiosk-control.service", "kiosk-ui.service"])
def test_both_kiosk_units_are_the_committed_ones_and_enabled(parts, unit):
    root = parts["root"]
    commit = dict(line.split("=", 1) for line in
                  ext4_cat(root, "/usr/share/kiosk-image/build-info").split())["GIT_COMMIT"]
    shipped = ext4_cat(root, f"/usr/lib/systemd/system/{unit}")
    committed = subprocess.run(["git", "-C", str(REPO), "show", f"{commit}:systemd/{unit}"],
                               capture_output=True, text=True)
    if committed.returncode == 0:
        assert shipped == committed.stdout
    assert "ExecStart=/opt/kiosk/venv/bin/kiosk" in shipped

    wants = ext4(root, f"stat /etc/systemd/system/multi-user.target.wants/{unit}")
    assert "Type: symlink" in wants
    assert re.search(rf'Fast link dest: "(/usr)?/lib/systemd/system/{unit}"', wants)


def test_the_panel_getty_is_masked_and_the_loop_core_kept_free(parts):
    root = parts["root"]
    getty = ext4(root, "stat /etc/systemd/system/getty@tty1.service")
    assert 'Fast link dest: "/dev/null"' in getty
    cpus = ext4_cat(root, "/etc/systemd/system.conf.d/50-kiosk-cpus.conf")
    assert "CPUAffinity=0-2" in cpus.splitlines()
    assert "kiosk.service" not in ext4(root, "ls -p /usr/lib/systemd/system")  # the old unit


def _accounts(root: Partition) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    passwd = {line.split(":")[0]: line.split(":")
              for line in ext4_cat(root, "/etc/passwd").splitlines() if line}
    group = {line.split(":")[0]: line.split(":")
             for line in ext4_cat(root, "/etc/group").splitlines() if line}
    return passwd, group


def test_accounts_have_the_fixed_ids_and_the_ui_no_hardware_group(parts):
    passwd, group = _accounts(parts["root"])

    assert passwd["kiosk"][2:4] == ["990", "990"]
    assert passwd["kiosk-ui"][2:4] == ["989", "989"]
    members = {name: set(fields[3].split(",")) for name, fields in group.items()}
    assert "kiosk-ui" not in members["i2c"] | members["gpio"]
    assert {"kiosk-ui"} <= members["video"] & members["input"] & members["render"]
    assert "kiosk" in members["i2c"] & members["gpio"] & members["kiosk-ui"]


def test_package_manifest_equals_the_pinned_list(parts):
    pinned = [line for line in (IMAGE_BUILD / "packages.lock").read_text().splitlines()
              if line and not line.startswith("#")]
    shipped = ext4_cat(parts["root"], "/usr/share/kiosk-image/packages.manifest").splitlines()

    assert shipped == pinned


def test_python_packages_are_the_hash_pinned_versions(parts):
    shipped = {line.split("==")[0].lower().replace("_", "-"): line.split("==")[1]
               for line in ext4_cat(parts["root"], "/usr/share/kiosk-image/python.manifest")
               .splitlines() if "==" in line}
    pinned = re.findall(r"^([a-z0-9-]+)==(\S+) \\$",
                        (IMAGE_BUILD / "requirements-aarch64.txt").read_text(), re.MULTILINE)

    assert pinned, "no pins found in requirements-aarch64.txt"
    for name, version in pinned:
        assert shipped.get(name) == version, f"{name}: pinned {version}, image {shipped.get(name)}"
    assert "galvanic-kiosk" in shipped


def test_root_is_read_only_and_records_go_to_the_data_partition(parts):
    fstab = ext4_cat(parts["root"], "/etc/fstab")
    root_line = next(line.split() for line in fstab.splitlines()
                     if line.split()[1:2] == ["/"])
    assert root_line[0] == f"PARTUUID={CONF['DISK_ID']}-02"
    assert "ro" in root_line[3].split(",")
    assert re.search(r"^/data/kiosk\s+/var/lib/kiosk\s+none\s+bind", fstab, re.MULTILINE)
    assert re.search(r"^/data/journal\s+/var/log/journal\s+none\s+bind", fstab, re.MULTILINE)

    records = ext4(parts["data"], "stat /kiosk")
    assert re.search(r"User:\s+990\s+Group:\s+990", records)
    assert re.search(r"^/data/kiosk-ui\s+/var/lib/kiosk-ui\s+none\s+bind", fstab, re.MULTILINE)
    ui_state = ext4(parts["data"], "stat /kiosk-ui")
    assert re.search(r"User:\s+989\s+Group:\s+989", ui_state)


def test_board_configuration_is_in_etc_kiosk(parts):
    listing = ext4(parts["root"], "ls -l /etc/kiosk")
    assert "board.toml" in listing


def test_machine_id_is_the_fixed_one_so_the_journal_keeps_one_directory(parts):
    assert ext4_cat(parts["root"], "/etc/machine-id").strip() == CONF["MACHINE_ID"]
