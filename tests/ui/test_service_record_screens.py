"""The service mode's event log viewer and device record, in a real Kivy window on the real
control loop and records (the in-process controller answers the same queries as the daemon):
paging and filters over hundreds of events, the detail and the session of a fault, the log
verified intact and then broken, the reminders and the intervals as a technician and as a
manager, both languages without clipped text, screenshots."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kivy.core.window import Window

from kiosk.access.pins import Role
from kiosk.control import queries
from kiosk.control.commands import Acknowledge, Heartbeat, ProgramRequest, StartTreatment
from kiosk.control.device_record import DAY_S
from kiosk.control.snapshot import TreatmentState
from kiosk.i18n import set_language
from kiosk.records.events import LogEvent
from kiosk.records.sessions import ProgramChoice
from kiosk.screens import theme
from kiosk.screens.service_base import ServiceUser
from kiosk.screens.service_events import ROWS_PER_PAGE
from tests.consent_version import CONSENT
from tests.records.helpers import raw_connection
from tests.ui.layout_check import layout_problems

pytestmark = [pytest.mark.ui]

TECH = ServiceUser("Ivan", Role.TECHNICIAN)
MANAGER = ServiceUser("Olga", Role.MANAGER)


def post_events(k: Any, count: int) -> None:
    writer = k.controller.writer
    severities = ("info", "medium", "high")
    for i in range(count):
        assert writer.post(LogEvent(f"service.test_{i % 3}", f"test event {i}",
                                    severities[i % 3], details={"i": i}))
        if i % 200 == 199:
            assert writer.flush()
    assert writer.flush()


def open_page(k: Any, name: str, user: ServiceUser = TECH) -> None:
    k.app.service_user = user
    k.app.nav.go(name)
    k.frames(2)


def no_layout_problems(k: Any, where: str) -> None:
    problems = layout_problems(k.app.root_widget, (Window.width, Window.height))
    assert not problems, f"{where}: " + "; ".join(map(str, problems))


def badges(k: Any) -> list[str]:
    return [k.find(f"event_severity_{i}").severity for i in range(ROWS_PER_PAGE)
            if k.app.find(f"event_severity_{i}") is not None]


def rows(k: Any) -> list[str]:
    return [k.text(f"event_row_{i}") for i in range(ROWS_PER_PAGE) if k.app.find(f"event_row_{i}")]


@pytest.mark.slow
@pytest.mark.requirement("SR-170")
def test_paging_and_filters_over_hundreds_of_events(kiosk: Any) -> None:
    k = kiosk
    post_events(k, 300)
    open_page(k, "service_events")
    assert k.screen == "service_events"
    total = k.app.controller.query("events_page")["total"]
    pages = -(-total // ROWS_PER_PAGE)
    assert k.text("page_label") == f"Page 1 of {pages} ({total} events)"
    assert not k.enabled("page_newer") and k.enabled("page_older")
    assert rows(k)[0].startswith(f"#{total} ")
    k.screenshot("50_service_events")
    k.tap("page_older")
    assert rows(k)[0].startswith(f"#{total - ROWS_PER_PAGE} ")
    k.tap("page_newer")
    assert rows(k)[0].startswith(f"#{total} ")
    k.app.screen.go_page(pages - 1)  # the last page: what a hundred taps on "Older" reach
    k.frames(2)
    assert not k.enabled("page_older") and k.enabled("page_newer")
    assert rows(k)[-1].startswith("#1 ")
    k.tap("filter_severity")  # high
    assert k.text("filter_severity") == "Severity: high"
    assert set(badges(k)) == {"high"}
    assert "(100 events)" in k.text("page_label")
    high = k.find("event_severity_0")
    assert high.background == theme.ALARM_HIGH and high.text == "high"  # colour and word
    k.tap("filter_severity")  # medium
    assert set(badges(k)) == {"medium"}
    assert k.find("event_severity_0").background == theme.ALARM_MEDIUM
    k.tap("filter_severity")  # information
    k.tap("filter_kind")  # faults
    assert k.text("filter_kind") == "Kind: faults"
    assert k.has("events_empty")  # no information-severity faults
    k.tap("filter_severity")  # all
    k.tap("filter_kind")  # refusals
    k.tap("filter_kind")  # decisions
    assert "selftest" in " ".join(rows(k)).lower() or rows(k)
    k.tap("filter_date")  # today
    assert k.text("filter_date") == "Date: today"
    today = k.text("page_label")
    k.tap("filter_date")
    k.tap("filter_date")
    assert k.text("page_label") == today  # the last 30 days hold nothing older here
    k.tap("filter_date")  # one day, starting today
    assert k.text("filter_date") == "Date: " + time.strftime("%d.%m.%Y")
    assert k.text("page_label") == today and not k.enabled("day_later")
    k.tap("day_earlier")  # yesterday: nothing was logged then
    assert k.has("events_empty") and "(0 events)" in k.text("page_label")
    no_layout_problems(k, "service_events one day")
    k.tap("day_later")
    assert k.text("page_label") == today and not k.enabled("day_later")
    k.tap("filter_date")
    assert k.text("filter_date") == "Date: any date" and not k.has("day_earlier")
    no_layout_problems(k, "service_events list")


@pytest.mark.slow
@pytest.mark.requirement("SR-170")
def test_a_faults_detail_shows_its_plain_reason_and_its_session(kiosk: Any) -> None:
    k = kiosk
    app = k.app
    view = app.records_view
    client = view.clients.create_client("Anna Example")
    sid = view.sessions.start_session(client.client_id, "Marta", control_session_id="ui-42")
    view.sessions.record_screening(sid, {"pregnancy": False})
    view.sessions.record_program(sid, ProgramChoice(
        area="face", indication="pigmentation", program_id="face.pigmentation",
        program_version="1", active="vitamin_c", polarity="negative", electrode_id="roller",
        target_current_ma=0.6))
    k.controller.submit(StartTreatment(ProgramRequest("face", "pigmentation", current_ma=0.6,
                                                      current_stage_s=120), "ui-42", True,
                                       consent_version=CONSENT))
    k.advance_until(lambda s: s.state is TreatmentState.RAMP_UP, timeout_s=10.0)
    k.advance(2.0)
    app.inject("contact_loss")
    k.advance_until(lambda s: s.fault is not None, timeout_s=5.0)
    app.inject("contact_restore")
    k.advance(3.0)
    k.controller.submit(Acknowledge("contact_lost"))
    k.controller.submit(Heartbeat())
    k.advance(0.5)
    assert app.snapshot.fault is None
    assert k.controller.writer.flush()
    open_page(k, "service_events")
    k.tap("filter_kind")  # faults
    assert "Contact lost: the current was cut." in rows(k)[0]
    k.tap("event_row_0")
    assert k.text("detail_reason") == "Contact lost: the current was cut."
    assert k.text("detail_action").startswith("What to do: Wet the sponges")
    assert k.find("detail_severity").text == "high"
    session = k.text("detail_session")
    assert "face.pigmentation" in session and "Marta" in session and "still open" in session
    assert "Anna" not in session and client.client_id not in session
    k.screenshot("51_service_event_detail")
    no_layout_problems(k, "service_events detail")
    k.tap("detail_session_events")
    assert k.has("filter_session_clear") and k.text("filter_kind") == "Kind: all"
    shown = k.app.controller.query("events_page", session="ui-42")["total"]
    assert f"({shown} events)" in k.text("page_label") and shown >= 3
    k.tap("filter_session_clear")
    assert not k.has("filter_session_clear")


def verify_by_tap(k: Any) -> str:
    k.tap("verify_log")
    for _ in range(200):
        if not k.app.screen.verifying:
            break
        k.frames(1)
    assert not k.app.screen.verifying
    k.frames(1)
    return k.text("verify_result")


@pytest.mark.slow
@pytest.mark.requirement("SR-171")
def test_verify_log_says_intact_then_names_the_altered_event(kiosk: Any) -> None:
    k = kiosk
    post_events(k, 2500)  # more than one verification step
    open_page(k, "service_events")
    text = verify_by_tap(k)
    total = k.app.controller.query("events_page")["total"]
    assert text.startswith(f"Log intact: {total} events verified.")
    assert "matches" in text
    assert k.find("verify_result").color == theme.CONTACT_GOOD
    k.screenshot("52_service_events_verified")
    # this test's database is a throw-away copy: alter one old row behind the writer's back
    raw_connection(k.controller.writer.path).execute(
        "UPDATE events SET reason = 'nothing happened' WHERE seq = 7")
    text = verify_by_tap(k)
    assert text.startswith("Log broken at event 7: altered.")
    assert k.find("verify_result").color == theme.ALARM_HIGH
    no_layout_problems(k, "service_events broken")


@pytest.fixture
def fixture_dates() -> Iterator[Callable[[str, Any], None]]:
    """``calibration`` and ``selftest_report`` answered with this test's own dates (the real
    queries are other engineers'; whatever is registered is put back)."""
    queries.load_handlers()
    kept = {name: queries.HANDLERS.get(name) for name in ("calibration", "selftest_report")}

    def install(name: str, answer: dict[str, Any]) -> None:
        queries.HANDLERS[name] = lambda controller, args: dict(answer)
    yield install
    for name, handler in kept.items():
        if handler is None:
            queries.HANDLERS.pop(name, None)
        else:
            queries.HANDLERS[name] = handler


@pytest.mark.slow
@pytest.mark.requirement("SR-174")
def test_the_device_record_reminds_and_the_technician_sets_the_intervals(
        kiosk: Any, fixture_dates: Callable[[str, Any], None]) -> None:
    k = kiosk
    now = time.time()
    fixture_dates("calibration", {"wall_s": now - 400 * DAY_S, "technician": "Ivan"})
    fixture_dates("selftest_report", {"wall_s": now - 10 * DAY_S, "passed": True})
    k.advance(2.0)
    open_page(k, "service_device")
    assert k.screen == "service_device"
    assert k.text("device_serial") == "Serial number: SIM-00000001"
    assert k.text("device_software").startswith("Software ")
    assert k.text("device_operating").startswith("Operating hours: ")
    cal = k.find("reminder_calibration")
    assert "Due since" in cal.text and "by Ivan" in cal.text
    assert cal.color == theme.ALARM_MEDIUM
    st = k.find("reminder_selftest")
    assert "in 19 days" in st.text or "in 20 days" in st.text
    assert st.color == theme.TEXT
    assert not k.enabled("save_intervals")
    k.screenshot("60_service_device")
    no_layout_problems(k, "service_device")
    for _ in range(30):  # + until the bound: the button stops there
        if not k.enabled("interval_calibration_more"):
            break
        k.tap("interval_calibration_more")
    assert k.text("interval_calibration") == "Calibrate every 730 days"
    assert not k.enabled("interval_calibration_more")
    for _ in range(40):
        if not k.enabled("interval_selftest_less"):
            break
        k.tap("interval_selftest_less")
    assert k.text("interval_selftest") == "Self-test every 1 days"
    k.tap("save_intervals")
    assert k.text("intervals_message") == "Intervals saved."
    intervals = k.app.controller.query("device_record")["intervals"]
    assert (intervals["calibration_days"], intervals["selftest_days"], intervals["changed_by"]) \
        == (730, 1, "Ivan")
    assert "in 19 days" not in k.text("reminder_selftest")  # 10 days > 1 day: now due
    assert k.find("reminder_selftest").color == theme.ALARM_MEDIUM
    assert "Due since" not in k.text("reminder_calibration")  # 400 days < 730


@pytest.mark.slow
@pytest.mark.requirement("SR-174")
def test_a_manager_reads_the_record_and_cannot_change_or_open_the_log(kiosk: Any) -> None:
    k = kiosk
    open_page(k, "service_device", MANAGER)
    assert k.screen == "service_device"
    assert k.has("intervals_read_only")
    assert not k.has("save_intervals") and not k.has("interval_calibration_more")
    assert k.find("save_intervals").disabled
    k.app.screen.change("calibration", 30, 30, 730)  # even called directly: nothing changes
    assert k.text("interval_calibration") == "Calibrate every 365 days"
    open_page(k, "service_events", MANAGER)
    assert k.screen == "service_pin"  # the log is the technician's
    k.app.service_user = None
    k.app.nav.go("service_device")
    assert k.screen == "service_pin"


@pytest.mark.slow
@pytest.mark.requirement("SR-170")
@pytest.mark.requirement("SR-174")
def test_both_pages_fit_in_russian(kiosk: Any, fixture_dates: Callable[[str, Any], None]) -> None:
    k = kiosk
    fixture_dates("calibration", {"technician": "Ivan"})  # never calibrated
    post_events(k, 20)
    set_language("ru")
    k.app.set_language("ru")
    open_page(k, "service_events")
    assert k.text("filter_kind") != "Kind: all"  # translated
    no_layout_problems(k, "service_events ru")
    k.screenshot("50_service_events_ru")
    k.tap("filter_severity")
    k.tap("event_row_0")
    no_layout_problems(k, "service_events detail ru")
    k.tap("detail_close")
    text = verify_by_tap(k)
    assert text and not text.startswith("Log")
    no_layout_problems(k, "service_events verified ru")
    open_page(k, "service_device")
    no_layout_problems(k, "service_device ru")
    k.screenshot("60_service_device_ru")
    open_page(k, "service_device", MANAGER)
    no_layout_problems(k, "service_device manager ru")


@pytest.mark.slow
@pytest.mark.requirement("SR-172")
@pytest.mark.requirement("SR-174")
def test_refusals_are_shown_not_raised(kiosk: Any) -> None:
    k = kiosk
    open_page(k, "service_device")
    screen = k.app.screen
    screen.calibration_days = 1000  # what a faulty screen could send: the control layer refuses
    screen.save_intervals()
    k.frames(2)
    assert k.text("intervals_message") == (
        "Not saved: calibration_days must be 30 to 730 days, not 1000")
    assert k.app.controller.query("device_record")["intervals"]["calibration_days"] == 365
    writer, k.controller.writer = k.controller.writer, None  # records unavailable
    try:
        open_page(k, "service_events")
        assert k.text("events_problem").startswith("The event log cannot be read: ")
        k.tap("verify_log")
        for _ in range(20):
            k.frames(1)
        assert k.text("verify_result").startswith("The log could not be checked: ")
        no_layout_problems(k, "service_events without records")
    finally:
        k.controller.writer = writer
