"""Step 1: the client, new or returning, by the pseudonymous id or the name the salon chooses.

A new client gets a random pseudonymous id (``K7QM-3XPA``, for the client's card); the name is
optional. A returning client is found by the start of the id or a part of the name.
"""

from __future__ import annotations

from typing import Any

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.textinput import TextInput
from kivy.uix.widget import Widget

from kiosk.i18n import _
from kiosk.screens import theme
from kiosk.screens.base import KioskScreen
from kiosk.screens.flow import Step
from kiosk.screens.registry import register
from kiosk.screens.widgets import FitLabel, KButton, Panel

MATCHES_SHOWN = 4


def client_label(record: Any) -> str:
    return f"{record.client_id} · {record.display_name}" if record.display_name \
        else record.client_id


class KioskTextInput(TextInput):
    """A one-line text field at the kiosk's sizes (the on-screen keyboard docks below it)."""

    def __init__(self, ref: str, hint: str, **kwargs: Any) -> None:
        super().__init__(multiline=False, hint_text=hint, font_size=theme.BODY_PX,
                         size_hint_y=None, height=56, padding=(10, 12), write_tab=False,
                         **kwargs)
        self.ref = ref


@register
class ClientScreen(KioskScreen):
    name = "client"
    step = Step.CLIENT

    def title(self) -> str:
        return _("Client")

    def build_content(self) -> None:
        body = BoxLayout(orientation="horizontal", padding=(10, 8), spacing=12)
        new = Panel(orientation="vertical", padding=10, spacing=8)
        new.add_widget(FitLabel(text=_("New client"), bold=True, max_font_px=theme.BODY_PX + 3,
                                size_hint_y=None, height=40))
        new.add_widget(FitLabel(text=_("A pseudonymous id is created for the client's card. A "
                                       "name is optional."),
                                color=theme.TEXT_DIM, max_font_px=theme.SMALL_PX + 1,
                                size_hint_y=None, height=72))
        self.name_input = KioskTextInput("new_name", _("Name (optional)"))
        new.add_widget(self.name_input)
        new.add_widget(Widget())
        new.add_widget(KButton(text=_("Create new client"), ref="new_client", kind="primary",
                               on_tap=self.create, bold=True))
        body.add_widget(new)
        returning = Panel(orientation="vertical", padding=10, spacing=6)
        returning.add_widget(FitLabel(text=_("Returning client"), bold=True,
                                      max_font_px=theme.BODY_PX + 3, size_hint_y=None,
                                      height=40))
        self.search_input = KioskTextInput("search", _("Card id or name"))
        self.search_input.bind(text=lambda *_a: self.show_matches())
        returning.add_widget(self.search_input)
        self.matches = BoxLayout(orientation="vertical", spacing=6)
        returning.add_widget(self.matches)
        body.add_widget(returning)
        self.add_widget(body)
        self.show_matches()
        self.add_widget(self.action_bar())

    def show_matches(self) -> None:
        self.matches.clear_widgets()
        found = self.app.records_view.find_clients(self.search_input.text, MATCHES_SHOWN)
        if not found:
            self.matches.add_widget(FitLabel(text=_("No client found."), ref="no_match",
                                             color=theme.TEXT_DIM, size_hint_y=None, height=40))
        for record in found:
            self.matches.add_widget(KButton(
                text=client_label(record), ref=f"client_{record.client_id}", height=52,
                font_size=theme.SMALL_PX + 1,
                on_tap=lambda cid=record.client_id: self.app.nav.go("client_history",
                                                                    client_id=cid)))
        self.matches.add_widget(Widget())

    def create(self) -> None:
        record = self.app.records_view.new_client(self.name_input.text or None)
        if record is None:
            self.app.nav.reset("home")  # storage fault: home says "service needed"
            return
        from kiosk.screens.consent import continue_with_client

        continue_with_client(self.app, record.client_id, client_label(record))
