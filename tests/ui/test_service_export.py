"""Issue 13, "Export to USB", in a real kiosk window: the technician's page finds the stick,
writes the export with the device identity, says only then that the stick may be pulled; a
read-only, full or vanished stick gets its own sentence and nothing in the log is lost.

The stick is a folder standing for its mount point (``app.usb_source``, the FolderSource the
simulator uses), made read-only by a bind mount and full by a tiny tmpfs where the machine
allows it (skipped with the reason otherwise, as in the records tests).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kiosk.access.pins import Role
from kiosk.records.export import DEVICE_NAME, verify_export
from kiosk.screens.service_base import ServiceUser
from kiosk.usb.sources import FolderSource
from tests.records.conftest import make_read_only, mount_tmpfs  # noqa: F401 (fixtures)
from tests.records.helpers import fill_disk

pytestmark = [pytest.mark.ui, pytest.mark.requirement("SR-106")]


def open_page(k: Any, stick: Path, role: Role = Role.TECHNICIAN) -> None:
    k.app.usb_source = FolderSource(stick)
    k.app.service_user = ServiceUser("tech", role)
    k.app.nav.go("service_export")
    wait_idle(k)


def wait_idle(k: Any, timeout_s: float = 30.0) -> None:
    """Poll (as the Kivy clock does) until the page's worker is done and shown."""
    end = time.monotonic() + timeout_s
    while True:
        k.advance(0.1)
        screen = k.app.screen
        if getattr(screen, "job", None) is None or (screen.job.done
                                                     and screen.shown_job is screen.job):
            return
        assert time.monotonic() < end, "the export page's worker did not finish"
        time.sleep(0.02)


def events(k: Any) -> list[str]:
    writer = k.app.records_view.writer
    assert writer.flush()
    return [e.code for e in k.app.records_view.last_events(50)]


def test_export_to_a_stick_says_when_it_may_be_pulled(kiosk: Any, tmp_path: Path) -> None:
    k = kiosk
    stick = tmp_path / "SALON"
    open_page(k, stick)
    assert "No USB stick found" in k.text("usb_drive")
    assert not k.enabled("usb_export")
    stick.mkdir()
    k.tap("usb_refresh")
    wait_idle(k)
    assert k.text("usb_drive") == f"USB stick: SALON ({stick})"
    k.screenshot("28_service_export")
    before = k.app.records_view.verify_chain()
    k.tap("usb_export")
    wait_idle(k)
    message = k.text("usb_message")
    assert "Export complete and checked" in message
    assert message.endswith("You may pull the stick out now.")
    exports = list(stick.iterdir())
    assert len(exports) == 1 and not exports[0].name.endswith(".incomplete")
    assert verify_export(exports[0]) == []
    device = json.loads((exports[0] / DEVICE_NAME).read_text())
    versions = k.app.controller.query("versions")
    assert device["software_version"] == versions["software_version"]
    assert device["catalogue_version"] == versions["catalogue_version"]
    assert device["simulated_board"] is True and device["serial"] is None
    assert device["serial_source"] == "none: simulated board"
    assert "records.exported" in events(k)
    after = k.app.records_view.verify_chain()
    assert after.ok and after.last_seq > before.last_seq  # the log grew, lost nothing
    assert not k.enabled("usb_export")  # released: look again before another export
    k.screenshot("29_service_export_done")


@pytest.mark.requirement("SR-104")
def test_a_read_only_stick_is_said_and_nothing_is_lost(
        kiosk: Any, tmp_path: Path,
        make_read_only: Callable[[Path], None]) -> None:  # noqa: F811 (the fixture)
    k = kiosk
    stick = tmp_path / "LOCKED"
    stick.mkdir()
    make_read_only(stick)
    open_page(k, stick)
    k.tap("usb_export")
    wait_idle(k)
    message = k.text("usb_message")
    assert "cannot be written" in message and "Nothing was lost" in message
    assert "Export complete" not in message and "pull the stick out now" not in message
    assert list(stick.iterdir()) == []
    assert "records.export_failed" in events(k)
    assert k.app.records_view.verify_chain().ok


@pytest.mark.requirement("SR-104")
def test_a_full_stick_is_said_in_russian_too(
        kiosk: Any, mount_tmpfs: Callable[[int], Path]) -> None:  # noqa: F811 (the fixture)
    k = kiosk
    stick = mount_tmpfs(64)
    filler = fill_disk(stick)
    k.app.set_language("ru")
    open_page(k, stick)
    k.tap("usb_export")
    wait_idle(k)
    message = k.text("usb_message")
    assert message.startswith("Флешка заполнена")
    assert [p.name for p in stick.iterdir()] == [filler.name]
    k.screenshot("30_service_export_full_ru")
    k.app.set_language("en")


@pytest.mark.requirement("SR-104")
def test_a_stick_pulled_before_the_export_is_said(kiosk: Any, tmp_path: Path) -> None:
    k = kiosk
    stick = tmp_path / "SALON"
    stick.mkdir()
    open_page(k, stick)
    assert k.enabled("usb_export")
    shutil.rmtree(stick)
    k.tap("usb_export")
    wait_idle(k)
    message = k.text("usb_message")
    assert "pulled out before the export was complete" in message
    assert "Nothing was lost" in message


def test_a_manager_may_export_and_a_beautician_meets_the_pin_pad(kiosk: Any,
                                                                tmp_path: Path) -> None:
    k = kiosk
    k.app.service_user = None
    k.app.nav.go("service_export")
    assert k.screen == "service_pin"
    k.app.nav.reset("home")
    open_page(k, tmp_path, role=Role.MANAGER)
    assert k.screen == "service_export" and k.enabled("usb_export")
