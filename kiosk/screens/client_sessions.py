"""The whole history of a client, page by page (issue 11 item 5, SR-135).

Every session, newest first, not only the last few: date and time, area, indication, product;
then current, current-stage time, dose, operator and how it ended: finished normally, STOP,
client discomfort, the fault named (an E-stop included), the screening block with the question
that blocked it, or interrupted with the dose durably recorded before the cut.
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
from kiosk.screens.flow import Step
from kiosk.screens.registry import register
from kiosk.screens.texts import outcome_words
from kiosk.screens.widgets import FitLabel, KButton, Panel, format_dose, format_ma, format_min_s

ROWS_PER_PAGE = 4


def what_line(app: Any, record: Any) -> str:
    """Date and time, area, indication, product."""
    parts = [time.strftime("%d.%m.%Y %H:%M", time.localtime(record.started_wall_s))]
    program = record.program
    if program is not None:
        parts += [cv.tr(app.catalogue.area(program.area).name),
                  cv.tr(app.catalogue.indication(program.indication).name),
                  cv.tr(program.active)]
    else:
        parts.append(_("no program chosen"))
    return " · ".join(parts)


def how_line(app: Any, record: Any) -> str:
    """Current, time, dose, operator, and how the session ended."""
    parts: list[str] = []
    summary = record.summary
    if record.program is not None and summary is not None and summary.dose_ma_min:
        current = summary.mean_current_ma if summary.mean_current_ma is not None \
            else record.program.target_current_ma
        parts.append(format_ma(current))
        if summary.current_stage_s is not None:
            parts.append(format_min_s(summary.current_stage_s))
        if record.status.value == "interrupted" and summary.dose_recorded_wall_s is not None:
            parts.append(_("at least {dose} (recorded {time})").format(
                dose=format_dose(summary.dose_ma_min),
                time=time.strftime("%H:%M", time.localtime(summary.dose_recorded_wall_s))))
        else:
            parts.append(format_dose(summary.dose_ma_min))
    parts.append(record.operator)
    parts.append(outcome(app, record))
    return " · ".join(parts)


def outcome(app: Any, record: Any) -> str:
    summary = record.summary
    if str(record.screening_result) == "blocked":
        questions = {item.id: item.question for item in app.catalogue.screening_items}
        yes = [item for item, answer in record.screening_answers.items() if answer]
        words = outcome_words("screening_blocked")
        if yes:  # an erased client's answers are gone: the block stays, its reason cannot
            words += ": " + cv.tr(questions.get(yes[0], yes[0]))
            if len(yes) > 1:
                words += " " + _("and {count} more").format(count=len(yes) - 1)
        return words
    if record.status.value == "open":
        return outcome_words(None)
    return outcome_words(summary.stop_reason if summary is not None else None)


@register
class ClientSessionsScreen(KioskScreen):
    name = "client_sessions"
    step = Step.CLIENT

    def title(self) -> str:
        return _("All sessions: {client}").format(client=self.params.get("label", ""))

    @property
    def page(self) -> int:
        return int(self.params.get("page", 0))

    def build_content(self) -> None:
        app = self.app
        client_id = self.params["client_id"]
        total = app.records_view.count_sessions(client_id)
        pages = max(1, (total + ROWS_PER_PAGE - 1) // ROWS_PER_PAGE)
        records = app.records_view.client_sessions(client_id, ROWS_PER_PAGE,
                                                   self.page * ROWS_PER_PAGE)
        body = BoxLayout(orientation="vertical", padding=(10, 4), spacing=4)
        if not records:
            body.add_widget(FitLabel(text=_("No earlier sessions."), ref="no_sessions",
                                     size_hint_y=None, height=40))
        for index, record in enumerate(records):
            row = Panel(orientation="vertical", padding=(10, 2), size_hint_y=None, height=76)
            row.add_widget(FitLabel(text=what_line(app, record), ref=f"session_{index}",
                                    bold=True, max_font_px=theme.SMALL_PX + 1,
                                    size_hint_y=None, height=28))
            row.add_widget(FitLabel(text=how_line(app, record), ref=f"session_{index}_how",
                                    max_font_px=theme.SMALL_PX + 1, color=theme.TEXT_DIM))
            body.add_widget(row)
        body.add_widget(Widget())
        self.add_widget(body)
        newer = KButton(text=_("Newer"), ref="newer", size_hint=(None, None), width=160,
                        disabled=self.page == 0, on_tap=lambda: self._turn(-1, pages))
        older = KButton(text=_("Older"), ref="older", size_hint=(None, None), width=160,
                        disabled=self.page >= pages - 1, on_tap=lambda: self._turn(1, pages))
        where = FitLabel(text=_("Page {n} of {total}").format(n=self.page + 1, total=pages),
                         ref="sessions_page", color=theme.TEXT_DIM, halign="center",
                         max_font_px=theme.SMALL_PX + 1, size_hint_y=None,
                         height=theme.PRIMARY_HEIGHT_PX)
        self.add_widget(self.action_bar(newer, older, where))

    def _turn(self, delta: int, pages: int) -> None:
        self.params["page"] = min(max(0, self.page + delta), pages - 1)
        self.build()
