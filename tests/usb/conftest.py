"""Fixtures for the USB export tests: the records tests' real faulty file systems (a tiny
tmpfs, a read-only bind mount; skipped with the reason where the machine cannot mount) and a
records database with a few events and a client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.records.clients import ClientRegistry
from kiosk.records.store import RecordStore
from tests.records.conftest import make_read_only, mount_tmpfs  # noqa: F401 (fixtures)
from tests.records.helpers import append


@pytest.fixture
def records(tmp_path: Path) -> Iterator[RecordStore]:
    state = tmp_path / "state"
    state.mkdir()
    with RecordStore.open(state / "records.sqlite3") as store:
        append(store, 40, durable=True)
        ClientRegistry(store).create_client("=HYPERLINK(\"http://x\")")
        yield store
