"""Step 1c: the client's consent, before her first treatment and whenever its text changes.

The consent text is the catalogue's (``Catalogue.consent``, in the screen's language), page by
page; on the last page the client signs with a finger and the beautician taps "The client
agrees", which is possible only with a signature. The records keep the very text shown, the
signature, the consent and catalogue versions and the time; the flow carries the consent version
to the start command, and the control core refuses a start without the one in force (SR-130).

A client whose consent is in force is not asked again (:func:`continue_with_client`); one who
agreed to an earlier text is told that the text changed.
"""

from __future__ import annotations

import time
from typing import Any

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk import i18n
from kiosk.i18n import _
from kiosk.screens import theme
from kiosk.screens.base import KioskScreen
from kiosk.screens.flow import Step, TreatmentFlow
from kiosk.screens.registry import register
from kiosk.screens.signature import SignaturePad
from kiosk.screens.widgets import FitLabel, KButton, Panel


def continue_with_client(app: Any, client_id: str, label: str) -> None:
    """The beautician chose this client: on to the screening if her consent is in force, else
    to the consent. Choosing another client than the flow's starts a fresh flow (the earlier
    client's consent, session record and answers never carry over)."""
    flow = app.flow
    if flow.client_id is not None and flow.client_id != client_id:
        if not flow.current_started:
            app.records_view.close(flow, stop_reason="no_current_stage")
        app.flow = flow = TreatmentFlow()
    consent = app.records_view.consent_in_force(client_id, app.catalogue.consent_version)
    if consent is None:
        flow.consent_version = None
        app.nav.go("consent", client_id=client_id, label=label)
        return
    flow.consent_version = consent.consent_version
    app.choose_client(client_id, label)


def when(wall_s: float) -> str:
    return time.strftime("%d.%m.%Y %H:%M", time.localtime(wall_s))


@register
class ConsentScreen(KioskScreen):
    name = "consent"
    step = Step.CLIENT

    def title(self) -> str:
        return _("Consent: {client}").format(client=self.params.get("label", ""))

    @property
    def page(self) -> int:
        return int(self.params.get("page", 0))

    def build_content(self) -> None:
        app = self.app
        client_id = self.params["client_id"]
        text = app.catalogue.consent.text(i18n.current_language())
        self.pages = len(text.pages)
        given = app.records_view.consent_in_force(client_id, app.catalogue.consent_version)
        if given is not None:
            self._build_given(given)
            return
        if self.page < self.pages:
            self._build_page(text, client_id)
        else:
            self._build_signing(text)

    def _build_given(self, given: Any) -> None:
        body = BoxLayout(orientation="vertical", padding=(16, 12), spacing=8)
        body.add_widget(FitLabel(
            text=_("The client signed the consent on {when}.").format(when=when(
                given.given_wall_s)), ref="consent_given", bold=True, size_hint_y=None,
            height=60))
        body.add_widget(Widget())
        self.add_widget(body)
        self.add_widget(self.action_bar(primary=self.primary_button(
            _("Continue"), "consent_continue", self._continue)))

    def _build_page(self, text: Any, client_id: str) -> None:
        body = BoxLayout(orientation="vertical", padding=(16, 6), spacing=6)
        if self.page == 0:
            earlier = self.app.records_view.latest_consent(client_id)
            if earlier is not None:
                band = Panel(orientation="horizontal", padding=(10, 2), size_hint_y=None,
                             height=52, background=theme.ALARM_MEDIUM)
                band.add_widget(FitLabel(
                    text=_("The consent text has changed since the client signed it on "
                           "{when}: ask her to read and sign it again.").format(
                        when=when(earlier.given_wall_s)),
                    ref="consent_changed", color=theme.TEXT_DARK,
                    max_font_px=theme.SMALL_PX + 1))
                body.add_widget(band)
            body.add_widget(FitLabel(text=text.title, ref="consent_title", bold=True,
                                     max_font_px=theme.BODY_PX + 3, size_hint_y=None,
                                     height=40))
        body.add_widget(FitLabel(text=text.pages[self.page], ref="consent_text",
                                 max_font_px=theme.BODY_PX, valign="top"))
        self.add_widget(body)
        back = KButton(text=_("Previous page"), ref="consent_previous",
                       on_tap=lambda: self._turn(-1), size_hint=(None, None), width=220,
                       disabled=self.page == 0)
        pages = FitLabel(text=_("Page {n} of {total}").format(n=self.page + 1,
                                                             total=self.pages + 1),
                         ref="consent_page", color=theme.TEXT_DIM, halign="center",
                         max_font_px=theme.SMALL_PX + 1, size_hint_y=None,
                         height=theme.PRIMARY_HEIGHT_PX)
        self.add_widget(self.action_bar(back, pages, primary=self.primary_button(
            _("Next page"), "consent_next", lambda: self._turn(1))))

    def _build_signing(self, text: Any) -> None:
        body = BoxLayout(orientation="vertical", padding=(16, 6), spacing=6)
        body.add_widget(FitLabel(text=text.confirm, ref="consent_confirm", bold=True,
                                 size_hint_y=None, height=44, max_font_px=theme.BODY_PX + 1))
        body.add_widget(FitLabel(text=_("The client signs here with a finger:"),
                                 color=theme.TEXT_DIM, size_hint_y=None, height=30,
                                 max_font_px=theme.SMALL_PX + 1))
        row = BoxLayout(orientation="horizontal", spacing=10)
        self.pad = SignaturePad(on_change=self._signature_changed)
        row.add_widget(self.pad)
        row.add_widget(KButton(text=_("Clear"), ref="signature_clear", on_tap=self.pad.clear,
                               size_hint=(None, None), width=150))
        body.add_widget(row)
        self.add_widget(body)
        back = KButton(text=_("Previous page"), ref="consent_previous",
                       on_tap=lambda: self._turn(-1), size_hint=(None, None), width=220)
        self.agree = self.primary_button(_("The client agrees"), "consent_agree", self.agree_now,
                                         enabled=False)
        self.add_widget(self.action_bar(back, Widget(size_hint_y=None, height=1),
                                        primary=self.agree))

    def _signature_changed(self) -> None:
        self.agree.disabled = self.pad.signature() is None

    def _turn(self, delta: int) -> None:
        self.params["page"] = min(max(0, self.page + delta), self.pages)
        self.build()

    def agree_now(self) -> None:
        signature = self.pad.signature()
        if signature is None:  # the button is disabled then; a stray call records nothing
            return
        app = self.app
        record = app.records_view.give_consent(self.params["client_id"], app.catalogue,
                                               i18n.current_language(), signature)
        if record is None:
            app.nav.reset("home")  # storage fault: home says "service needed"
            return
        self._continue()

    def _continue(self) -> None:
        continue_with_client(self.app, self.params["client_id"], self.params.get("label", ""))
