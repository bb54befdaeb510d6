"""Issue 12 item 6: the storage fault is on the screen at once, on every screen, in plain words,
until it clears (SR-042, SR-100; hazards H-25).

Reproduced on main before the banner: with the kiosk in a treatment, ``records.sqlite3-wal``
and ``-shm`` deleted under it (or the database replaced): the writer latched
``storage.file_replaced`` within a second, yet the current screen, the timers and the summary
said nothing; only home, after the treatment, showed "Records cannot be saved". No button
acknowledged the fault.

The faults are injected exactly as issue 12 describes them, into the real records folder of a
running kiosk (the real writer thread notices on the wall clock, every second); the test waits
for the writer's latch WITHOUT polling the app, then polls once: the banner must be there.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from kivy.core.window import Window

from kiosk import i18n
from kiosk.control.snapshot import TreatmentState
from tests.ui.layout_check import layout_problems
from tests.ui.test_treatment_flow import walk_to_current_screen

pytestmark = pytest.mark.ui

PLAIN_WORDS = ("Records are not being saved. A stage already running may finish; no new "
               "treatment can start. Call service.")


def _db(k: Any) -> Path:
    return Path(k.app.records_view.writer.path)


def _wait_for_the_writer_to_latch(k: Any, timeout_s: float = 10.0) -> None:
    """The writer checks its files every second (wall clock); the app is NOT polled here."""
    writer = k.app.records_view.writer
    end = time.monotonic() + timeout_s
    while writer.healthy:
        assert time.monotonic() < end, "the writer did not notice the fault"
        time.sleep(0.05)


def _banner_shown(k: Any) -> bool:
    banner = k.app.storage_banner
    return banner.visible and banner.parent is k.app.root_widget and k.has(
        "storage_banner_text")


def _box(widget: Any) -> tuple[float, float, float, float]:
    x0, y0 = widget.to_window(widget.x, widget.y)
    x1, y1 = widget.to_window(widget.right, widget.top)
    return x0, y0, x1, y1


def _overlap(a: Any, b: Any) -> bool:
    ax0, ay0, ax1, ay1 = _box(a)
    bx0, by0, bx1, by1 = _box(b)
    return ax0 < bx1 - 1e-6 and bx0 < ax1 - 1e-6 and ay0 < by1 - 1e-6 and by0 < ay1 - 1e-6


def _banner_hides_nothing_to_act_on(k: Any) -> None:
    """The banner covers the title and step only: Back, the title bar's buttons, STOP and the
    screen's content are uncovered; the banner's text is not clipped (the layout test's
    measure)."""
    k.frames(2)
    banner = k.app.storage_banner
    bar = k.app.screen.title_bar
    assert _box(banner)[1] >= _box(bar)[1] - 1e-6 and _box(banner)[3] <= _box(bar)[3] + 1e-6
    for ref in ("back", "dev_menu", "stop", "help"):
        widget = k.app.find(ref)
        if widget is not None and widget is not banner:
            assert not _overlap(banner, widget), f"the banner covers {ref!r} on {k.screen}"
    for child in bar.children:
        if getattr(child, "ref", "") not in ("title", "step"):
            assert not _overlap(banner, child), f"the banner covers {child} on {k.screen}"
    # the banner's own text (the screens' texts are the layout test's; home's are checked
    # where the fault is shown there)
    problems = layout_problems(banner, (Window.width, Window.height))
    assert problems == [], f"{k.screen}: {problems}"


@pytest.mark.requirement("SR-042", "SR-100", "SR-101")
def test_wal_and_shm_deleted_mid_stage_show_the_banner_within_one_poll_on_every_screen(
        kiosk: Any) -> None:
    k = kiosk
    walk_to_current_screen(k, indication="pigmentation")
    k.tap("slot_a")  # check contact and start
    k.advance_until(lambda s: s.state is TreatmentState.HOLD, timeout_s=120.0)
    assert not _banner_shown(k)
    db = _db(k)
    Path(f"{db}-wal").unlink()
    Path(f"{db}-shm").unlink()
    _wait_for_the_writer_to_latch(k)
    assert not _banner_shown(k)  # nothing polled yet
    k.app.poll()  # ONE poll
    k.frames(1)
    assert _banner_shown(k)
    assert k.text("storage_banner_text") == PLAIN_WORDS
    # the running stage goes on (SR-042) and STOP stays where it is, uncovered
    k.advance(3.0)
    assert k.app.snapshot.state is TreatmentState.HOLD and k.app.snapshot.output_enabled
    assert k.enabled("stop")
    assert not k.has("storage_acknowledge")  # a beautician calls service
    _banner_hides_nothing_to_act_on(k)
    k.screenshot("25_storage_banner_current")
    k.app.set_language("ru")
    k.frames(2)
    assert _banner_shown(k)
    assert k.text("storage_banner_text").startswith("Записи")
    _banner_hides_nothing_to_act_on(k)
    k.screenshot("26_storage_banner_current_ru")
    k.app.set_language("en")

    # the timers, the summary and home: the banner stays on each
    k.tap("stop")
    k.advance_until(lambda s: s.state is TreatmentState.PAUSED, timeout_s=5.0)
    k.tap("slot_b")  # End current stage
    assert k.screen == "tonic" and _banner_shown(k)
    _banner_hides_nothing_to_act_on(k)
    k.tap("next")
    assert k.screen == "summary" and _banner_shown(k)
    _banner_hides_nothing_to_act_on(k)
    k.tap("sensation_tingling")
    k.tap("save")
    # the record cannot be closed: the summary never says "Saved", says so in words and lets
    # her finish (she is never held on the summary), the banner says why
    assert not k.has("saved") and not k.has("done") and _banner_shown(k)
    assert "could not be saved" in k.text("save_failed")
    _banner_hides_nothing_to_act_on(k)
    for language in ("en", "ru"):
        k.app.set_language(language)
        k.frames(2)
        assert k.has("save_failed") and k.has("finish_unsaved")
        problems = layout_problems(k.app.screen, (Window.width, Window.height))
        assert problems == [], f"summary ({language}): {problems}"
        k.screenshot(f"27_summary_not_saved_{language}")
    k.app.set_language("en")
    k.tap("finish_unsaved")
    k.advance(1.0)
    assert k.screen == "home" and _banner_shown(k)
    assert not k.enabled("start_treatment")
    _banner_hides_nothing_to_act_on(k)
    for language in ("en", "ru"):  # home's own words for the fault fit in both languages
        k.app.set_language(language)
        k.frames(2)
        assert k.text("device_status_detail") != ""
        problems = layout_problems(k.app.screen, (Window.width, Window.height))
        assert problems == [], f"home ({language}): {problems}"
        k.screenshot(f"29_home_storage_fault_{language}")
    k.app.set_language("en")
    for _ in range(30):  # it stays: the fault is latched until a technician acknowledges
        k.advance(0.2)
    assert _banner_shown(k)


@pytest.mark.requirement("SR-042", "SR-100", "SR-102")
def test_only_a_technician_acknowledges_and_only_once_storage_works_again(kiosk: Any) -> None:
    from kiosk.access.pins import Role
    from kiosk.screens.service_base import ServiceUser

    k = kiosk
    writer = k.app.records_view.writer
    db = _db(k)
    # a replaced database: another SQLite file (no records schema) put in its place
    other = db.with_name("other.sqlite3")
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    os.replace(other, db)
    _wait_for_the_writer_to_latch(k)
    k.app.poll()
    k.frames(1)
    assert _banner_shown(k)
    assert k.text("storage_banner_text") == PLAIN_WORDS
    assert not k.has("storage_acknowledge")  # no service user: no button

    k.app.service_user = ServiceUser("manager", Role.MANAGER)
    k.advance(0.2)
    assert not k.has("storage_acknowledge")  # the manager is not the technician
    k.app.service_user = ServiceUser("tech", Role.TECHNICIAN)
    k.advance(0.2)
    assert k.has("storage_acknowledge")
    assert "storage.file_replaced" in k.text("storage_banner_text")  # the code, for service
    time.sleep(1.5)  # the writer tried to reopen: the replaced file is not a records database
    k.tap("storage_acknowledge")
    assert "still cannot be written" in k.text("storage_banner_text")
    k.advance(0.5)
    assert _banner_shown(k)
    assert not writer.healthy
    k.screenshot("27_storage_banner_service")


@pytest.mark.requirement("SR-100", "SR-102")
def test_the_banner_goes_when_a_technician_acknowledges_a_recovered_store(kiosk: Any) -> None:
    from kiosk.access.pins import Role
    from kiosk.screens.service_base import ServiceUser

    k = kiosk
    writer = k.app.records_view.writer
    db = _db(k)
    Path(f"{db}-wal").unlink()
    Path(f"{db}-shm").unlink()
    _wait_for_the_writer_to_latch(k)
    k.app.poll()
    assert _banner_shown(k)
    # the writer rescues the old WAL into the main file and reopens it: storage works again,
    # the recovery is written; the latch stays until a person acknowledges
    end = time.monotonic() + 10.0
    while not writer.storage_working:
        assert time.monotonic() < end
        time.sleep(0.05)
    for _ in range(10):
        k.advance(0.1)
    assert _banner_shown(k)
    k.app.service_user = ServiceUser("tech", Role.TECHNICIAN)
    k.advance(0.1)
    deadline = time.monotonic() + 10.0
    while True:  # the recovery row must be committed before the latch can go
        k.tap("storage_acknowledge")
        if writer.healthy:
            break
        assert time.monotonic() < deadline, k.text("storage_banner_text")
        time.sleep(0.2)
    k.advance(0.05)  # one control cycle (the core reads the writer's health) and one poll
    assert k.app.snapshot.storage_ok
    assert not _banner_shown(k)
    assert k.enabled("start_treatment")


@pytest.mark.requirement("SR-100")
def test_a_daemons_storage_fault_shows_the_banner_without_an_acknowledge_button(
        kiosk: Any) -> None:
    """The control daemon's writer (the UI as a client of kiosk-control) says only
    ``storage_ok`` False: the banner shows it, with no button this process could honour."""
    import dataclasses

    k = kiosk
    k.app.poll()
    assert not _banner_shown(k)
    from kiosk.screens.storage_banner import storage_alert

    stale = dataclasses.replace(k.app.snapshot, storage_ok=False)
    alert = storage_alert(k.app.records_view, stale)
    assert alert is not None and alert.code == "storage_fault" and not alert.can_acknowledge
    k.app.storage_banner.update(stale)
    k.frames(1)
    assert _banner_shown(k) and k.text("storage_banner_text") == PLAIN_WORDS
    assert storage_alert(k.app.records_view, k.app.snapshot) is None
    k.app.poll()
    assert not _banner_shown(k)


def teardown_module() -> None:
    i18n.set_language("en")
