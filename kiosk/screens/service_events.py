"""Service: the event log viewer. Pages newest first, filters by kind, severity and date, a
detail with the plain reason and the session the event belongs to, and "Verify log" (the hash
chain and its anchor, step by step).

Everything comes from the control layer's queries (``events_page``, ``event_detail``,
``verify_log``: ``kiosk.control.log_queries``): on the device this process cannot read the
daemon's records. A refused query (no records, the link down) is shown as its reason, never a
crash. Severity is a colour band AND a word (ui-guide: colour is never the only cue).
"""

from __future__ import annotations

import datetime
import logging
import time
from typing import Any

from kivy.clock import Clock
from kivy.graphics import Color, Rectangle
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.control.codes import Reason
from kiosk.control.query_types import QueryRefused
from kiosk.i18n import N_, _
from kiosk.screens import theme
from kiosk.screens.registry import register
from kiosk.screens.service_base import ServicePage
from kiosk.screens.texts import FAULT_TEXTS, fault_texts, reason_text
from kiosk.screens.widgets import FitLabel, KButton, Panel

_log = logging.getLogger(__name__)

ROWS_PER_PAGE = 4  # with the filters and the verdict, what 800x480 holds at 48 px a row
MAX_VALUES_CHARS = 180  # the recorded values shown in the detail (the export has them all)
KIND_CHOICES: tuple[str | None, ...] = (None, "fault", "refusal", "decision", "storage",
                                        "service", "other")
SEVERITY_CHOICES: tuple[str | None, ...] = (None, "high", "medium", "info")
DATE_CHOICES: tuple[str, ...] = ("any", "today", "week", "month", "day")

KIND_WORDS = {None: N_("all"), "fault": N_("faults"), "refusal": N_("refusals"),
              "decision": N_("decisions"), "storage": N_("records"), "service": N_("service"),
              "other": N_("other")}
SEVERITY_WORDS = {None: N_("all"), "high": N_("high"), "medium": N_("medium"),
                  "info": N_("information")}
DATE_WORDS = {"any": N_("any date"), "today": N_("today"), "week": N_("last 7 days"),
              "month": N_("last 30 days"), "day": N_("one day")}
SEVERITY_COLOURS = {"high": (theme.ALARM_HIGH, theme.TEXT),
                    "medium": (theme.ALARM_MEDIUM, theme.TEXT_DARK),
                    "info": (theme.ALARM_INFO, theme.TEXT_DARK)}
PROBLEM_WORDS = {"missing": N_("deleted"), "altered": N_("altered"),
                 "truncated": N_("cut off"),
                 "anchor_mismatch": N_("differs from the anchor recorded outside the log")}


def date_range(choice: str, today: datetime.date,
               day: datetime.date | None = None) -> dict[str, str]:
    """The query arguments of a date choice (local days, both ends included); ``day`` is the
    day the "one day" choice shows."""
    if choice == "day" and day is not None:
        return {"date_from": day.isoformat(), "date_to": day.isoformat()}
    if choice == "today":
        return {"date_from": today.isoformat(), "date_to": today.isoformat()}
    if choice in ("week", "month"):
        days = 6 if choice == "week" else 29
        return {"date_from": (today - datetime.timedelta(days=days)).isoformat(),
                "date_to": today.isoformat()}
    return {}


def plain_reason(code: str, recorded: str, details: dict[str, Any] | None = None) -> str:
    """The event in the current language when the UI knows its code; else the sentence the
    control layer recorded (never blank)."""
    if code in FAULT_TEXTS:
        return fault_texts(Reason(code, recorded))[0]
    values = tuple((str(k), v) for k, v in (details or {}).items()
                   if isinstance(v, str | int | float | bool))
    return reason_text(Reason(code, recorded, details=values)) or code


def _short(value: Any) -> str:
    """A recorded value for a person: floats to 3 decimals, nothing longer than 40 chars."""
    text = f"{value:.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
    return text if len(text) <= 40 else text[:39] + "…"


def when_text(wall_s: float) -> str:
    return time.strftime("%d.%m.%Y %H:%M:%S", time.localtime(wall_s))


ROW_MAX_CHARS = 58
"""A list row is one line: its text is cut (whole words where it can) to what fits the row at the
small font in either language; the detail shows all of it."""


def one_line(text: str, max_chars: int = ROW_MAX_CHARS) -> str:
    text = " ".join(text.splitlines()).strip()
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars - 1]
    space = cut.rfind(" ")
    if space >= max_chars // 2:
        cut = cut[:space]
    return cut.rstrip(" .,;:") + "…"


class SeverityBadge(FitLabel):
    """The severity's word on its colour (high red, medium yellow, information cyan)."""

    def __init__(self, severity: str, **kwargs: Any) -> None:
        background, text = SEVERITY_COLOURS.get(severity, (theme.NEUTRAL, theme.TEXT))
        kwargs.setdefault("halign", "center")
        super().__init__(text=_(SEVERITY_WORDS.get(severity, severity)), color=text,
                         max_font_px=theme.SMALL_PX, bold=True, **kwargs)
        self.severity = severity
        self.background = background
        with self.canvas.before:
            Color(*background)
            self._rect = Rectangle(pos=self.pos, size=self.size)
        self.bind(pos=self._sync, size=self._sync)

    def _sync(self, *_args: Any) -> None:
        self._rect.pos = self.pos
        self._rect.size = self.size


@register
class ServiceEventsScreen(ServicePage):
    name = "service_events"
    service_order = 50

    def title(self) -> str:
        return _("Event log")

    # -- state kept across a rebuild (language switch): the screen's own attributes ---------
    page = 0
    kind: str | None = None
    severity: str | None = None
    date_choice = "any"
    day: datetime.date | None = None  # the day the "one day" choice shows
    session: str | None = None
    detail_seq: int | None = None
    verify_text = ""
    verify_level = "info"
    _verify_event: Any = None  # the next verification step, while one runs

    def build_content(self) -> None:
        self._verify_event: Any = None
        self.body = BoxLayout(orientation="vertical", padding=(10, 6), spacing=6)
        self.add_widget(self.body)
        self.bar = BoxLayout(orientation="horizontal", size_hint_y=None, height=80,
                             spacing=theme.PADDING_PX,
                             padding=(theme.PADDING_PX, 6, theme.PADDING_PX, theme.PADDING_PX))
        self.add_widget(self.bar)
        self.show()

    def on_leave(self) -> None:
        if self._verify_event is not None:
            self._verify_event.cancel()
            self._verify_event = None

    # -- the two views -----------------------------------------------------------------------
    def show(self) -> None:
        self.body.clear_widgets()
        self.bar.clear_widgets()
        if self.detail_seq is not None:
            self._show_detail(self.detail_seq)
        else:
            self._show_list()

    def _query(self, what: str, **args: Any) -> dict[str, Any] | None:
        try:
            answer: dict[str, Any] = self.app.controller.query(what, **args)
        except Exception as error:  # a refusal, or a bug below: said, never a crash
            reason = error.text if isinstance(error, QueryRefused) else repr(error)[:200]
            if not isinstance(error, QueryRefused):
                _log.exception("query %r failed", what)
            self.body.add_widget(FitLabel(
                text=_("The event log cannot be read: {reason}").format(reason=reason),
                ref="events_problem", color=theme.ALARM_MEDIUM, size_hint_y=None, height=80))
            return None
        return answer

    def _filter_args(self) -> dict[str, Any]:
        args: dict[str, Any] = date_range(self.date_choice, datetime.date.today(), self.day)
        if self.kind is not None:
            args["kind"] = self.kind
        if self.severity is not None:
            args["severity"] = self.severity
        if self.session is not None:
            args["session"] = self.session
        return args

    def _show_list(self) -> None:
        filters = BoxLayout(orientation="horizontal", size_hint_y=None, height=52, spacing=6)
        filters.add_widget(KButton(
            text=_("Kind: {value}").format(value=_(KIND_WORDS[self.kind])), ref="filter_kind",
            font_size=theme.SMALL_PX, height=52, on_tap=self.next_kind))
        filters.add_widget(KButton(
            text=_("Severity: {value}").format(value=_(SEVERITY_WORDS[self.severity])),
            ref="filter_severity", font_size=theme.SMALL_PX, height=52,
            on_tap=self.next_severity))
        date_word = _(DATE_WORDS[self.date_choice])
        if self.date_choice == "day" and self.day is not None:
            date_word = self.day.strftime("%d.%m.%Y")
        filters.add_widget(KButton(
            text=_("Date: {value}").format(value=date_word),
            ref="filter_date", font_size=theme.SMALL_PX, height=52, on_tap=self.next_date))
        if self.date_choice == "day":
            filters.add_widget(KButton(text="‹", ref="day_earlier", size_hint_x=None,
                                       width=theme.MIN_TOUCH_PX + 8, height=52, font_size=30,
                                       on_tap=lambda: self.step_day(-1)))
            filters.add_widget(KButton(text="›", ref="day_later", size_hint_x=None,
                                       width=theme.MIN_TOUCH_PX + 8, height=52, font_size=30,
                                       disabled=self.day is None
                                       or self.day >= datetime.date.today(),
                                       on_tap=lambda: self.step_day(1)))
        if self.session is not None:
            filters.add_widget(KButton(text=_("All sessions"), ref="filter_session_clear",
                                       kind="selected", font_size=theme.SMALL_PX, height=52,
                                       on_tap=self.clear_session))
        self.body.add_widget(filters)
        answer = self._query("events_page", page=self.page, page_size=ROWS_PER_PAGE,
                             **self._filter_args())
        self.answer = answer
        if answer is not None:
            self.page = int(answer["page"])
            if not answer["rows"]:
                self.body.add_widget(FitLabel(text=_("No events match these filters."),
                                              ref="events_empty", size_hint_y=None, height=48))
            for index, row in enumerate(answer["rows"]):
                self.body.add_widget(self._row(index, row))
        self.body.add_widget(Widget())
        self.verify_label = FitLabel(text=self.verify_text, ref="verify_result",
                                     size_hint_y=None, height=34, max_font_px=theme.SMALL_PX,
                                     color=self._verify_colour())
        self.body.add_widget(self.verify_label)
        pages = 1 if answer is None else int(answer["pages"])
        newer = KButton(text=_("Newer"), ref="page_newer", size_hint_x=None, width=150,
                        disabled=self.page <= 0, on_tap=lambda: self.go_page(self.page - 1))
        older = KButton(text=_("Older"), ref="page_older", size_hint_x=None, width=150,
                        disabled=self.page >= pages - 1,
                        on_tap=lambda: self.go_page(self.page + 1))
        total = 0 if answer is None else int(answer["total"])
        self.page_label = FitLabel(
            text=_("Page {page} of {pages} ({total} events)").format(
                page=self.page + 1, pages=pages, total=total),
            ref="page_label", halign="center", max_font_px=theme.SMALL_PX)
        self.bar.add_widget(newer)
        self.bar.add_widget(self.page_label)
        self.bar.add_widget(older)
        self.bar.add_widget(KButton(text=_("Verify log"), ref="verify_log", kind="primary",
                                    size_hint_x=None, width=200, bold=True,
                                    disabled=self._verify_event is not None,
                                    on_tap=self.start_verify))

    def _row(self, index: int, row: dict[str, Any]) -> BoxLayout:
        line = BoxLayout(orientation="horizontal", size_hint_y=None, height=theme.MIN_TOUCH_PX,
                         spacing=6)
        line.add_widget(SeverityBadge(row["severity"], ref=f"event_severity_{index}",
                                      size_hint_x=None, width=140))
        text = one_line("#{seq}  {when}  {what}".format(
            seq=row["seq"], when=time.strftime("%d.%m %H:%M", time.localtime(row["wall_s"])),
            what=plain_reason(row["code"], row["reason"])))
        line.add_widget(KButton(text=text, ref=f"event_row_{index}", height=theme.MIN_TOUCH_PX,
                                font_size=theme.SMALL_PX, halign="left",
                                on_tap=lambda seq=row["seq"]: self.open_detail(seq)))
        return line

    def _show_detail(self, seq: int) -> None:
        detail = self._query("event_detail", seq=seq)
        if detail is not None:
            self.detail = detail
            head = BoxLayout(orientation="horizontal", size_hint_y=None, height=40, spacing=8)
            head.add_widget(SeverityBadge(detail["severity"], ref="detail_severity",
                                          size_hint_x=None, width=140))
            head.add_widget(FitLabel(
                text=_("Event {seq}, {when}").format(seq=detail["seq"],
                                                     when=when_text(detail["wall_s"])),
                ref="detail_heading", bold=True))
            self.body.add_widget(head)
            self.body.add_widget(FitLabel(
                text=plain_reason(detail["code"], detail["reason"], detail["details"]),
                ref="detail_reason", size_hint_y=None, height=56))
            if detail["code"] in FAULT_TEXTS:
                self.body.add_widget(FitLabel(
                    text=_("What to do: {action}").format(
                        action=fault_texts(Reason(detail["code"], detail["reason"]))[1]),
                    ref="detail_action", size_hint_y=None, height=50,
                    max_font_px=theme.SMALL_PX))
            values = ", ".join(f"{key} = {_short(value)}" for key, value
                               in sorted(detail["details"].items()))
            if len(values) > MAX_VALUES_CHARS:
                values = values[:MAX_VALUES_CHARS - 1] + "…"
            self.body.add_widget(FitLabel(
                text=_("Code {code} ({kind}). {values}").format(
                    code=detail["code"], kind=_(KIND_WORDS.get(detail["kind"], "other")),
                    values=values),
                ref="detail_code", color=theme.TEXT_DIM, max_font_px=theme.SMALL_PX))
            self.body.add_widget(self._session_panel(detail))
        else:
            self.body.add_widget(Widget())
        self.bar.add_widget(KButton(text=_("Back to the list"), ref="detail_close",
                                    size_hint_x=None, width=260, on_tap=self.close_detail))
        self.bar.add_widget(Widget())

    def _session_panel(self, detail: dict[str, Any]) -> Widget:
        panel = Panel(orientation="horizontal", padding=(10, 4), spacing=8, size_hint_y=None,
                      height=76)
        session_id = detail.get("session_id")
        session = detail.get("session")
        counts = detail.get("session_events")
        if session_id is None:
            text = _("This event belongs to no treatment session.")
        elif session is None:
            text = _("Session {id}: no session record names it.").format(id=session_id)
        else:
            ended = session.get("ended_wall_us")
            text = _("Session of {start}: {program}, {status}, operator {operator}").format(
                start=when_text(session["started_wall_us"] / 1e6),
                program=session.get("program_id") or _("no program chosen"),
                status=(_("ended {when}").format(when=when_text(ended / 1e6)) if ended
                        else _("still open")),
                operator=session.get("operator") or "-")
            if session.get("stop_reason"):
                text += " · " + _("stop reason: {reason}").format(reason=session["stop_reason"])
        panel.add_widget(FitLabel(text=text, ref="detail_session",
                                  max_font_px=theme.SMALL_PX))
        if session_id is not None and counts:
            panel.add_widget(KButton(
                text=_("Its {count} events").format(count=counts["count"]),
                ref="detail_session_events", size_hint_x=None, width=200, height=60,
                font_size=theme.SMALL_PX, on_tap=lambda: self.filter_session(session_id)))
        return panel

    # -- taps --------------------------------------------------------------------------------
    def next_kind(self) -> None:
        self.kind = KIND_CHOICES[(KIND_CHOICES.index(self.kind) + 1) % len(KIND_CHOICES)]
        self.page = 0
        self.show()

    def next_severity(self) -> None:
        self.severity = SEVERITY_CHOICES[(SEVERITY_CHOICES.index(self.severity) + 1)
                                         % len(SEVERITY_CHOICES)]
        self.page = 0
        self.show()

    def next_date(self) -> None:
        self.date_choice = DATE_CHOICES[(DATE_CHOICES.index(self.date_choice) + 1)
                                        % len(DATE_CHOICES)]
        if self.date_choice == "day":
            self.day = datetime.date.today()
        self.page = 0
        self.show()

    def step_day(self, days: int) -> None:
        """One day earlier or later in the "one day" choice (never past today)."""
        today = datetime.date.today()
        self.day = min(today, (self.day or today) + datetime.timedelta(days=days))
        self.page = 0
        self.show()

    def go_page(self, page: int) -> None:
        self.page = max(0, page)
        self.show()

    def open_detail(self, seq: int) -> None:
        self.detail_seq = seq
        self.show()

    def close_detail(self) -> None:
        self.detail_seq = None
        self.show()

    def filter_session(self, session_id: str) -> None:
        self.session = session_id
        self.detail_seq = None
        self.kind = self.severity = None
        self.date_choice = "any"
        self.page = 0
        self.show()

    def clear_session(self) -> None:
        self.session = None
        self.page = 0
        self.show()

    # -- verification, one bounded step per frame ---------------------------------------------
    def start_verify(self) -> None:
        if self._verify_event is not None:
            return
        self.verify_text = _("Checking the log...")
        self.verify_level = "info"
        self.show()
        self._verify_event = Clock.schedule_once(lambda _dt: self._verify_step({}), 0)

    def _verify_step(self, cursor: dict[str, Any]) -> None:
        try:
            answer = self.app.controller.query("verify_log", **cursor)
        except Exception as error:  # a refusal, or a bug below: said, never a crash
            if not isinstance(error, QueryRefused):
                _log.exception("verify_log failed")
            self._verify_done(_("The log could not be checked: {reason}").format(
                reason=error.text if isinstance(error, QueryRefused) else repr(error)[:200]),
                "medium")
            return
        if not answer["done"]:
            self.verify_label.text = _("Checking the log: {count} events so far...").format(
                count=answer["rows_checked"])
            self.verify_text = self.verify_label.text
            next_cursor = {"next_seq": answer["next_seq"],
                           "previous_hash": answer["previous_hash"]}
            self._verify_event = Clock.schedule_once(lambda _dt: self._verify_step(next_cursor),
                                                     0)
            return
        if answer["ok"]:
            anchor = answer["anchor_seq"]
            text = _("Log intact: {count} events verified.").format(count=answer["rows_checked"])
            text += " " + (_("The anchor outside the log (event {seq}) matches.").format(
                seq=anchor) if anchor is not None else _("No anchor outside the log yet."))
            self._verify_done(text, "ok")
        else:
            problem = _(PROBLEM_WORDS.get(str(answer["problem"]), str(answer["problem"])))
            self._verify_done(_("Log broken at event {seq}: {problem}. Call service and keep"
                                " the device's records.").format(seq=answer["first_bad_seq"],
                                                                 problem=problem), "high")

    def _verify_done(self, text: str, level: str) -> None:
        self._verify_event = None
        self.verify_text = text
        self.verify_level = level
        if self.detail_seq is None:
            self.show()

    def _verify_colour(self) -> list[float]:
        return {"ok": theme.CONTACT_GOOD, "high": theme.ALARM_HIGH,
                "medium": theme.ALARM_MEDIUM}.get(self.verify_level, theme.TEXT_DIM)

    @property
    def verifying(self) -> bool:
        return self._verify_event is not None
