"""Step 1b: a returning client: what was done in the last sessions, then on to the screening."""

from __future__ import annotations

import time

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.i18n import _
from kiosk.screens import catalogue_view as cv
from kiosk.screens import theme
from kiosk.screens.base import KioskScreen
from kiosk.screens.client import client_label
from kiosk.screens.flow import Step
from kiosk.screens.registry import register
from kiosk.screens.texts import outcome_words, sensation_word
from kiosk.screens.widgets import FitLabel, Panel, format_dose


def session_line(app: object, record: object) -> str:
    """"12.03.2025 · Face · Deep cleansing · finished normally · 3.2 mA·min · burning": how each
    session ended comes from the record's stop reason (an E-stop is named, never "normal")."""
    catalogue = app.catalogue  # type: ignore[attr-defined]
    date = time.strftime("%d.%m.%Y", time.localtime(record.started_wall_s))  # type: ignore
    parts = [date]
    program = record.program  # type: ignore[attr-defined]
    if program is not None:
        parts.append(cv.tr(catalogue.area(program.area).name))
        parts.append(cv.tr(catalogue.indication(program.indication).name))
    summary = record.summary  # type: ignore[attr-defined]
    if summary is not None:
        parts.append(outcome_words(summary.stop_reason))
    elif str(record.screening_result) == "blocked":  # type: ignore[attr-defined]
        parts.append(outcome_words("screening_blocked"))
    if summary is not None and summary.dose_ma_min is not None:
        parts.append(format_dose(summary.dose_ma_min))
    sensations = record.sensations  # type: ignore[attr-defined]
    if sensations:
        parts.append(sensation_word(sensations[-1].sensation.value))
    return " · ".join(parts)


@register
class ClientHistoryScreen(KioskScreen):
    name = "client_history"
    step = Step.CLIENT

    def title(self) -> str:
        return _("Returning client")

    def build_content(self) -> None:
        client_id = self.params["client_id"]
        record = self.app.records_view.get_client(client_id)
        self.label = client_label(record) if record is not None else client_id
        body = BoxLayout(orientation="vertical", padding=(14, 8), spacing=6)
        body.add_widget(FitLabel(text=self.label, ref="client_label", bold=True,
                                 max_font_px=theme.HEADING_PX - 4, size_hint_y=None, height=46))
        body.add_widget(FitLabel(text=_("Last sessions"), color=theme.TEXT_DIM,
                                 size_hint_y=None, height=30))
        sessions = self.app.records_view.last_sessions(client_id, 3)
        if not sessions:
            body.add_widget(FitLabel(text=_("No earlier sessions."), ref="no_sessions",
                                     size_hint_y=None, height=40))
        for index, session in enumerate(sessions):
            row = Panel(orientation="horizontal", padding=(10, 4), size_hint_y=None, height=56)
            row.add_widget(FitLabel(text=session_line(self.app, session),
                                    ref=f"session_{index}", max_font_px=theme.SMALL_PX + 2))
            body.add_widget(row)
        body.add_widget(Widget())
        self.add_widget(body)
        self.add_widget(self.action_bar(primary=self.primary_button(
            _("Continue with this client"), "continue_client",
            lambda: self.app.choose_client(client_id, self.label))))
