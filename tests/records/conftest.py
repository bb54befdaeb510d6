"""Fixtures for the records tests: a database in a temporary folder, and real faulty file systems.

Faults are produced for real wherever the machine allows it: a full disk is a tiny tmpfs filled
to the last byte (SQLite sees ENOSPC), a read-only folder is a read-only bind mount (as root,
permission bits do not stop writes, so chmod alone would test nothing). Without the privilege to
mount, those tests are skipped with the reason rather than faked.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kiosk.records.store import RecordStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "records.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Iterator[RecordStore]:
    with RecordStore.open(db_path) as opened:
        yield opened


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=False)


@pytest.fixture
def mount_tmpfs(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    """``mount_tmpfs(size_kib)``: a fresh, real tmpfs of that size (skips without privilege)."""
    mounted: list[Path] = []

    def mount(size_kib: int) -> Path:
        point = tmp_path / f"tmpfs{len(mounted)}"
        point.mkdir()
        result = _run("mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0755", "tmpfs",
                      str(point))
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        _run("umount", "-l", str(point))


@pytest.fixture
def make_read_only() -> Iterator[Callable[[Path], None]]:
    """``make_read_only(folder)``: the folder and its files become unwritable for this process."""
    undo: list[Callable[[], None]] = []

    def make(folder: Path) -> None:
        if os.geteuid() != 0:
            modes = {p: p.stat().st_mode for p in [folder, *folder.iterdir()]}
            for path in modes:
                path.chmod(0o555 if path.is_dir() else 0o444)
            undo.append(lambda: [p.chmod(m) for p, m in modes.items()])
            return
        bind = _run("mount", "--bind", str(folder), str(folder))
        if bind.returncode != 0:
            pytest.skip(f"cannot bind-mount read-only here: {bind.stderr.strip()}")
        undo.append(lambda: _run("umount", "-l", str(folder)))
        remount = _run("mount", "-o", "remount,ro,bind", str(folder))
        if remount.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {remount.stderr.strip()}")

    yield make
    for action in reversed(undo):
        action()
