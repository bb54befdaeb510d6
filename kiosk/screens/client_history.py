"""Step 1b: a returning client: her course per program, the consent, notes; then on.

The course (issue 11 item 5, domain.md 2): for each program she had current with, which session
the next one would be against the catalogue's plan ("session 3 of 4-6"), the days since the last
one, a warning when it would be sooner than the plan's interval (guidance: the current is not
refused), and the products, currents and doses of the earlier sessions. "All sessions" opens the
whole history (``client_sessions``); free notes are kept dated with the client.
"""

from __future__ import annotations

import time
from typing import Any

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.i18n import _
from kiosk.screens import catalogue_view as cv
from kiosk.screens import theme
from kiosk.screens.base import KioskScreen
from kiosk.screens.client import KioskTextInput, client_label
from kiosk.screens.flow import Step
from kiosk.screens.registry import register
from kiosk.screens.widgets import FitLabel, KButton, Panel, format_dose, format_ma

COURSES_SHOWN = 2
EARLIER_SHOWN = 2


def course_heading(app: Any, course: Any) -> str:
    """"Deep cleansing, face: next is session 3 of 4-6 · 5 days since the last"."""
    program = app.catalogue.program(course.area, course.indication)
    name = f"{cv.tr(program.name)}, {cv.tr(app.catalogue.area(course.area).name).lower()}"
    plan = course.plan
    if plan is None:
        number = _("next is session {n}").format(n=course.next_number)
    elif plan.sessions_min == plan.sessions_max:
        number = _("next is session {n} of {max}").format(n=course.next_number,
                                                          max=plan.sessions_max)
    else:
        number = _("next is session {n} of {min}-{max}").format(
            n=course.next_number, min=plan.sessions_min, max=plan.sessions_max)
    days = _("{days} days since the last").format(days=course.days_since_last)
    return f"{name}: {number} · {days}"


def course_warning(course: Any) -> str | None:
    """The warning a course needs now, or None."""
    plan = course.plan
    if plan is None:
        return None
    if course.too_soon:
        return _("Too soon: the plan is one session every {days} days.").format(
            days=plan.interval_days)
    if course.past_plan:
        return _("The course plan of {max} sessions is complete.").format(max=plan.sessions_max)
    return None


def earlier_line(course: Any) -> str:
    """The products, currents and doses of the course's latest sessions."""
    parts = []
    for record in course.sessions[:EARLIER_SHOWN]:
        summary = record.summary
        current = summary.mean_current_ma if summary is not None and \
            summary.mean_current_ma is not None else record.program.target_current_ma
        dose = summary.dose_ma_min if summary is not None and summary.dose_ma_min else 0.0
        parts.append(f"{time.strftime('%d.%m', time.localtime(record.started_wall_s))}: "
                     f"{cv.tr(record.program.active)}, {format_ma(current)}, "
                     f"{format_dose(dose)}")
    return "\n".join(parts)


@register
class ClientHistoryScreen(KioskScreen):
    name = "client_history"
    step = Step.CLIENT

    def title(self) -> str:
        return _("Returning client")

    def build_content(self) -> None:
        app = self.app
        client_id = self.params["client_id"]
        record = app.records_view.get_client(client_id)
        self.label = client_label(record) if record is not None else client_id
        body = BoxLayout(orientation="horizontal", padding=(12, 6), spacing=10)
        left = BoxLayout(orientation="vertical", spacing=4)
        left.add_widget(FitLabel(text=self.label, ref="client_label", bold=True,
                                 max_font_px=theme.HEADING_PX - 6, size_hint_y=None, height=40))
        consent = app.records_view.consent_in_force(client_id, app.catalogue.consent_version)
        left.add_widget(FitLabel(
            text=_("Consent signed on {date}.").format(date=time.strftime(
                "%d.%m.%Y", time.localtime(consent.given_wall_s))) if consent is not None
            else _("Consent to be signed before the treatment."),
            ref="consent_status", color=theme.TEXT_DIM, size_hint_y=None, height=30,
            max_font_px=theme.SMALL_PX + 1))
        courses = app.records_view.courses(client_id, app.catalogue)
        if not courses:
            left.add_widget(FitLabel(text=_("No earlier sessions with current."),
                                     ref="no_sessions", size_hint_y=None, height=40))
        for index, course in enumerate(courses[:COURSES_SHOWN]):
            left.add_widget(self._course(course, detailed=index == 0))
        if not courses:
            left.add_widget(Widget())
        body.add_widget(left)
        body.add_widget(self._notes(client_id))
        self.add_widget(body)
        count = app.records_view.count_sessions(client_id)
        all_sessions = KButton(text=_("All sessions ({count})").format(count=count),
                               ref="all_sessions", size_hint=(None, None), width=260,
                               disabled=count == 0,
                               on_tap=lambda: app.nav.go("client_sessions",
                                                         client_id=client_id,
                                                         label=self.label))
        self.add_widget(self.action_bar(all_sessions, Widget(size_hint_y=None, height=1),
                                        primary=self.primary_button(
            _("Continue with this client"), "continue_client", self.continue_client)))

    def _course(self, course: Any, *, detailed: bool) -> Panel:
        """The latest program's course in full (heading, warning, earlier sessions); another
        program's as its heading (its warning shown there too), in the room that is left."""
        panel = Panel(orientation="vertical", padding=(8, 4), spacing=2)
        if not detailed:
            panel.size_hint_y = None
            panel.height = 56
        heading = course_heading(self.app, course)
        if course.too_soon and not detailed:
            heading += " · " + _("too soon")
        panel.add_widget(FitLabel(text=heading, ref=f"course_{course.program_id}", bold=True,
                                  max_font_px=theme.SMALL_PX + 1, size_hint_y=None, height=48))
        warning = course_warning(course)
        if warning is not None and detailed:
            band = Panel(orientation="horizontal", padding=(6, 0), size_hint_y=None, height=32,
                         background=theme.ALARM_MEDIUM if course.too_soon else theme.ALARM_INFO)
            band.add_widget(FitLabel(text=warning, ref=f"course_warning_{course.program_id}",
                                     color=theme.TEXT_DARK, max_font_px=theme.SMALL_PX))
            panel.add_widget(band)
        if detailed:
            panel.add_widget(FitLabel(text=earlier_line(course),
                                      ref=f"course_earlier_{course.program_id}",
                                      color=theme.TEXT_DIM, max_font_px=theme.SMALL_PX,
                                      valign="top"))
        return panel

    def _notes(self, client_id: str) -> Panel:
        panel = Panel(orientation="vertical", padding=8, spacing=4, size_hint_x=None, width=250)
        panel.add_widget(FitLabel(text=_("Notes"), bold=True, size_hint_y=None, height=30))
        notes = self.app.records_view.notes(client_id)
        for index, note in enumerate(notes[:2]):
            panel.add_widget(FitLabel(
                text=f"{time.strftime('%d.%m', time.localtime(note.wall_s))} {note.text}",
                ref=f"note_{index}", max_font_px=theme.SMALL_PX, valign="top"))
        if not notes:
            panel.add_widget(FitLabel(text=_("No notes yet."), ref="no_notes",
                                      color=theme.TEXT_DIM, max_font_px=theme.SMALL_PX))
        self.note_input = KioskTextInput("note_input", _("New note"))
        self.note_input.font_size = theme.SMALL_PX
        panel.add_widget(self.note_input)
        panel.add_widget(KButton(text=_("Add note"), ref="add_note", height=52,
                                 on_tap=lambda: self.add_note(client_id)))
        return panel

    def add_note(self, client_id: str) -> None:
        if self.app.records_view.add_note(client_id, self.note_input.text) is not None:
            self.build()

    def continue_client(self) -> None:
        from kiosk.screens.consent import continue_with_client

        continue_with_client(self.app, self.params["client_id"], self.label)
