"""Operators: the salon's beauticians by name (service page), and who treats now (from home).

The salon manager (or the technician) adds, renames and retires operators
(:class:`kiosk.access.operators.OperatorBook`, in the UI's state folder); every change is an event
(with the operator's id, never a name). On home the beautician chooses who treats; each session
record then carries that name (``KioskApp.choose_client``).
"""

from __future__ import annotations

from typing import Any

from kivy.core.text import Label as CoreLabel
from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk.access.operators import MAX_NAME_CHARS, OperatorCode, OperatorDecision
from kiosk.access.pins import Role
from kiosk.i18n import _
from kiosk.records.events import LogEvent
from kiosk.screens import theme
from kiosk.screens.base import KioskScreen
from kiosk.screens.client import KioskTextInput
from kiosk.screens.registry import register
from kiosk.screens.service_base import ServicePage
from kiosk.screens.widgets import FitLabel, KButton, Panel

ROWS_PER_PAGE = 4
CHOICES_PER_PAGE = 9
CHOICE_TEXT_PX = 220  # a third of the screen, less padding: the widest a name's word may be


ELLIPSIS = "\u2026"


def text_width_px(text: str, font_px: float) -> float:
    probe = CoreLabel(text=text, font_size=font_px)
    probe.refresh()
    return float(probe.content_width)


class NameLabel(Label):
    """An operator's name on one line: shrunk to the 18 px floor if it must, then cut with "…"
    (a name is up to 40 characters, a row has room for about 20)."""

    ref = StringProperty("")

    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(text=name, color=theme.TEXT, halign="left", valign="middle",
                         font_size=theme.BODY_PX, **kwargs)
        self.full_name = name
        self.bind(size=self._fit)

    def _fit(self, *_args: Any) -> None:
        if self.width <= 1:
            return
        for size_px in range(theme.BODY_PX, theme.FLOOR_PX - 1, -1):
            if text_width_px(self.full_name, size_px) <= self.width:
                self.font_size, self.text = size_px, self.full_name
                break
        else:
            self.font_size = theme.FLOOR_PX
            self.text = elided(self.full_name, self.width)
        self.text_size = (self.width, self.height)


def elided(name: str, width_px: float, font_px: float = theme.FLOOR_PX) -> str:
    """``name`` as it fits ``width_px`` at ``font_px``: whole, or cut with "…"."""
    if text_width_px(name, font_px) <= width_px:
        return name
    cut = len(name)
    while cut > 1 and text_width_px(name[:cut] + ELLIPSIS, font_px) > width_px:
        cut -= 1
    return name[:cut].rstrip() + ELLIPSIS


def refusal_text(code: OperatorCode) -> str:
    return {
        OperatorCode.NAME_EMPTY: _("Type a name first."),
        OperatorCode.NAME_TOO_LONG: _("A name has at most {count} characters.").format(
            count=MAX_NAME_CHARS),
        OperatorCode.NAME_INVALID: _("That name has characters that cannot be shown."),
        OperatorCode.NAME_TAKEN: _("An operator has that name already."),
        OperatorCode.UNKNOWN: _("That operator is no longer on the list."),
        OperatorCode.TOO_MANY: _("The list is full."),
    }.get(code, "")


def log_change(app: Any, decision: OperatorDecision) -> None:
    if decision.ok and decision.operator is not None:
        user = getattr(app, "service_user", None)
        app.record_event(LogEvent(decision.code.value, "The operators list changed.", "info",
                                  {"operator_id": decision.operator.operator_id,
                                   "by": None if user is None else user.role.value}))


@register
class ServiceOperatorsScreen(ServicePage):
    name = "service_operators"
    service_roles = (Role.TECHNICIAN, Role.MANAGER)
    service_order = 20

    def title(self) -> str:
        return _("Operators")

    def build_content(self) -> None:
        self.editing: str | None = None
        self.first_row = int(self.params.get("first_row", 0))
        body = BoxLayout(orientation="horizontal", padding=(12, 8), spacing=12)
        self.list_box = BoxLayout(orientation="vertical", spacing=6)
        body.add_widget(self.list_box)
        form = Panel(orientation="vertical", padding=10, spacing=8, size_hint_x=None,
                     width=270)
        self.form_title = FitLabel(text="", ref="operator_form_title", bold=True,
                                   size_hint_y=None, height=36)
        form.add_widget(self.form_title)
        self.name_input = KioskTextInput("operator_name", _("Name"))
        form.add_widget(self.name_input)
        self.save_button = KButton(text="", ref="operator_save", kind="primary",
                                   on_tap=self.save)
        form.add_widget(self.save_button)
        self.message = FitLabel(text="", ref="operator_message", color=theme.ALARM_MEDIUM,
                                max_font_px=theme.SMALL_PX + 1)
        form.add_widget(self.message)
        body.add_widget(form)
        self.add_widget(body)
        self._show_form(None)
        self._fill_list()

    def _show_form(self, operator_id: str | None) -> None:
        self.editing = operator_id
        found = None if operator_id is None else self.app.operators.get(operator_id)
        self.form_title.text = _("Rename") if found else _("New operator")
        self.save_button.text = _("Save name") if found else _("Add operator")
        self.name_input.text = found.name if found else ""

    def _fill_list(self) -> None:
        box = self.list_box
        box.clear_widgets()
        operators = self.app.operators.active()
        problem = self.app.operators_problem
        if problem:
            box.add_widget(FitLabel(text=_("The operators file could not be read; a new list "
                                           "replaces it."), color=theme.ALARM_MEDIUM,
                                    size_hint_y=None, height=56, max_font_px=theme.SMALL_PX))
        if not operators:
            box.add_widget(FitLabel(text=_("No operators yet. Sessions are recorded for the "
                                           "salon."), ref="operators_empty",
                                    color=theme.TEXT_DIM, size_hint_y=None, height=64))
        self.first_row = min(self.first_row, max(0, len(operators) - 1))
        self.first_row -= self.first_row % ROWS_PER_PAGE
        for operator in operators[self.first_row:self.first_row + ROWS_PER_PAGE]:
            row = Panel(orientation="horizontal", spacing=6, padding=(8, 4),
                        size_hint_y=None, height=60)
            row.add_widget(NameLabel(operator.name, ref=f"op_name_{operator.operator_id}"))
            row.add_widget(KButton(text=_("Rename"), ref=f"op_rename_{operator.operator_id}",
                                   size_hint=(None, None), width=120, height=52,
                                   font_size=theme.SMALL_PX,
                                   on_tap=lambda i=operator.operator_id: self._show_form(i)))
            row.add_widget(KButton(text=_("Retire"), ref=f"op_retire_{operator.operator_id}",
                                   size_hint=(None, None), width=120, height=52,
                                   font_size=theme.SMALL_PX,
                                   on_tap=lambda i=operator.operator_id: self.retire(i)))
            box.add_widget(row)
        box.add_widget(Widget())
        if len(operators) > ROWS_PER_PAGE:
            pager = BoxLayout(orientation="horizontal", spacing=8, size_hint_y=None,
                              height=52)
            pager.add_widget(KButton(text=_("Previous"), ref="operators_previous", height=52,
                                     disabled=self.first_row == 0,
                                     on_tap=lambda: self._page(-ROWS_PER_PAGE)))
            pager.add_widget(KButton(text=_("Next"), ref="operators_next", height=52,
                                     disabled=self.first_row + ROWS_PER_PAGE >= len(operators),
                                     on_tap=lambda: self._page(ROWS_PER_PAGE)))
            box.add_widget(pager)

    def _page(self, step: int) -> None:
        self.first_row = max(0, self.first_row + step)
        self._fill_list()

    def save(self) -> None:
        book = self.app.operators
        decision = book.add(self.name_input.text) if self.editing is None \
            else book.rename(self.editing, self.name_input.text)
        if not decision.ok:
            self.message.text = refusal_text(decision.code)
            return
        log_change(self.app, decision)
        self.message.text = ""
        self._show_form(None)
        self._fill_list()

    def retire(self, operator_id: str) -> None:
        decision = self.app.operators.retire(operator_id)
        if decision.ok:
            log_change(self.app, decision)
            if self.editing == operator_id:
                self._show_form(None)
            self.message.text = ""
        else:
            self.message.text = refusal_text(decision.code)
        self._fill_list()


@register
class OperatorChoiceScreen(KioskScreen):
    """Home's "who treats now": one tap on a name, back home."""

    name = "operator_choice"

    def title(self) -> str:
        return _("Who treats now?")

    def build_content(self) -> None:
        operators = self.app.operators.active()
        first = int(self.params.get("first", 0))
        shown = operators[first:first + CHOICES_PER_PAGE]
        body = BoxLayout(orientation="vertical", padding=(16, 10), spacing=10)
        grid = GridLayout(cols=3, spacing=10, size_hint_y=None, height=3 * 72 + 20)
        on_duty = self.app.operators.on_duty
        for operator in shown:
            grid.add_widget(KButton(
                text=elided(operator.name, CHOICE_TEXT_PX), ref=f"choose_{operator.operator_id}",
                height=72,
                kind="selected" if on_duty is not None
                and on_duty.operator_id == operator.operator_id else "neutral",
                on_tap=lambda i=operator.operator_id: self.choose(i)))
        body.add_widget(grid)
        if not operators:
            body.add_widget(FitLabel(text=_("No operators yet. The salon manager adds them in "
                                            "service mode."), ref="operators_empty",
                                     size_hint_y=None, height=64))
        body.add_widget(Widget())
        self.add_widget(body)
        if len(operators) > CHOICES_PER_PAGE:
            following = first + CHOICES_PER_PAGE if first + CHOICES_PER_PAGE < len(operators) \
                else 0
            self.add_widget(self.action_bar(primary=KButton(
                text=_("More names"), ref="operators_more", size_hint=(None, None),
                width=theme.STOP_WIDTH_PX, height=theme.PRIMARY_HEIGHT_PX,
                on_tap=lambda: self.app.nav.replace("operator_choice", first=following))))

    def choose(self, operator_id: str) -> None:
        decision = self.app.operators.choose(operator_id)
        log_change(self.app, decision)
        self.app.nav.back()
