"""Step 2: contraindication screening, every blocking item of domain.md 5 as yes/no.

In the order domain.md 5 asks for: the general items (``scope = "general"`` in the catalogue:
pregnancy, implants, epilepsy, ...) before the area is chosen; the items "in the area"
(``scope = "area"``) once it is known, so the answer is about that area (the area screen opens
this screen again with ``scope="area"``; another area asks them again). Four questions a page
(no scrolling, no swipe), each answered by a tap on "Yes" or "No". Any "yes" ends on the
"treatment with current not possible" screen, which names the reasons and records them. After the
area's items, the caution items: a warning to acknowledge, which halves the caps.
"""

from __future__ import annotations

from typing import Any

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.i18n import _
from kiosk.screens import catalogue_view as cv
from kiosk.screens import theme
from kiosk.screens.base import KioskScreen
from kiosk.screens.flow import Step
from kiosk.screens.registry import register
from kiosk.screens.widgets import FitLabel, KButton, Panel

PAGE_SIZE = 4


class YesNoRow(Panel):
    """A question with Yes / No; the chosen answer is highlighted (and named in words)."""

    def __init__(self, item_id: str, question: str, answer: bool | None,
                 on_answer: Any, **kwargs: Any) -> None:
        super().__init__(orientation="horizontal", padding=(8, 1), spacing=6,
                         size_hint_y=None, height=68, **kwargs)
        self.add_widget(FitLabel(text=question, ref=f"question_{item_id}"))
        self.buttons: dict[bool, KButton] = {}
        for value, word in ((True, _("Yes")), (False, _("No"))):
            button = KButton(text=word, ref=f"{'yes' if value else 'no'}_{item_id}",
                             size_hint=(None, None), width=76, height=58,
                             on_tap=lambda value=value: on_answer(item_id, value))
            self.buttons[value] = button
            self.add_widget(button)
        self.show(answer)

    def show(self, answer: bool | None) -> None:
        """Highlight the chosen answer (yes: warning yellow, no: cyan; bold as well)."""
        for value, button in self.buttons.items():
            chosen = answer is value
            button.kind = ("warning" if value else "selected") if chosen else "neutral"
            button.bold = chosen


@register
class ScreeningScreen(KioskScreen):
    name = "screening"
    step = Step.SCREENING

    @property
    def scope(self) -> str:
        return "area" if self.params.get("scope") == "area" else "general"

    def title(self) -> str:
        if self.scope == "area":
            area = self.app.catalogue.area(self.app.flow.area)
            return _("Contraindications: {area}").format(area=cv.tr(area.name))
        return _("Contraindications")

    def items(self) -> list[Any]:
        return list(self.app.catalogue.screening_for(self.scope))

    def build_content(self) -> None:
        page = int(self.params.get("page", 0))
        items = self.items()
        shown = items[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]
        self.page_items = shown
        body = BoxLayout(orientation="vertical", padding=(10, 4), spacing=4)
        hint = _("Ask about the treated area. Questions {first}-{last} of {total}.") \
            if self.scope == "area" else _("Ask the client. Questions {first}-{last} of {total}.")
        body.add_widget(FitLabel(
            text=hint.format(first=page * PAGE_SIZE + 1, last=page * PAGE_SIZE + len(shown),
                             total=len(items)),
            ref="screening_page", color=theme.TEXT_DIM, size_hint_y=None, height=26,
            max_font_px=theme.SMALL_PX + 1))
        answers = self.app.flow.screening_answers
        self.rows: dict[str, YesNoRow] = {}
        for item in shown:
            self.rows[item.id] = YesNoRow(item.id, cv.tr(item.question), answers.get(item.id),
                                          self.answer)
            body.add_widget(self.rows[item.id])
        body.add_widget(Widget())
        self.add_widget(body)
        self.next_button = self.primary_button(_("Next"), "next", self.next_page)
        self.add_widget(self.action_bar(primary=self.next_button))
        self._update_next()

    def _update_next(self) -> None:
        self.next_button.disabled = bool(self.app.flow.unanswered(list(self.rows)))

    def answer(self, item_id: str, yes: bool) -> None:
        """One tap, one row updated (a rebuild per tap made garbage the collector then paid
        for while holding the GIL)."""
        self.app.flow.answer(item_id, yes, about_area=self.scope == "area")
        self.rows[item_id].show(yes)
        self._update_next()

    def next_page(self) -> None:
        flow = self.app.flow
        page = int(self.params.get("page", 0))
        new_yes = any(flow.screening_answers.get(i.id) for i in self.page_items)
        if new_yes and not (flow.without_current and flow.without_current_allowed()):
            self.app.records_view.store_screening(flow, self.app.catalogue)
            self.app.nav.go("screening_blocked", scope=self.scope, page=page)
        else:
            continue_screening(self.app, self.scope, page)


def continue_screening(app: Any, scope: str, page: int) -> None:
    """On from a page all of whose answers may go on: the next page, else the area (after the
    general items) or what follows the area's items. Also the way on of a session without
    current from the block screen: the rest of the screening is still asked."""
    flow = app.flow
    if (page + 1) * PAGE_SIZE < len(app.catalogue.screening_for(scope)):
        app.nav.go("screening", page=page + 1, scope=scope)
        return
    if scope == "area":
        flow.area_screened(flow.area)
    app.records_view.store_screening(flow, app.catalogue)
    app.nav.go("area" if scope == "general" else after_area_screening(app))


def after_area_screening(app: Any) -> str:
    """Where the flow goes once the area's own items are answered "no": the cautions (they
    are about the treated area too), else the indication."""
    return "caution" if app.catalogue.caution_items else "indication"
