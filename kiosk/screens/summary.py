"""Step 8: the summary: delivered dose, duration, events, the client's reported sensation; saved
to the session record with "Save and finish"."""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

from kiosk.i18n import _
from kiosk.screens import theme
from kiosk.screens.base import KioskScreen
from kiosk.screens.flow import NO_CURRENT_OUTCOME, SENSATIONS, Step, TreatmentFlow
from kiosk.screens.registry import register
from kiosk.screens.texts import event_words, sensation_word
from kiosk.screens.widgets import FitLabel, KButton, Panel, format_dose, format_ma, format_min_s

EVENTS_SHOWN = 4


def stop_reason(flow: TreatmentFlow) -> str:
    """Why the current stage ended, for the record: the most telling event wins."""
    if flow.without_current:  # peel, product and tonic after a screening "yes"
        return NO_CURRENT_OUTCOME
    codes = [event.code for event in flow.events]
    if "client_discomfort" in codes:
        return "client_discomfort"
    faults = [code.split(":", 1)[1] for code in codes if code.startswith("fault:")]
    if faults:
        return faults[-1]
    if not flow.current_started:
        return "no_current_stage"
    if flow.stats.last_state.value == "done":
        return "completed"
    if "stop_operator" in codes:
        return "operator"
    return "ended_early"


@register
class SummaryScreen(KioskScreen):
    name = "summary"
    step = Step.SUMMARY

    def title(self) -> str:
        client = self.app.flow.client_label
        return _("Summary: {client}").format(client=client) if client else _("Summary")

    def back_allowed(self) -> bool:
        return not self.app.flow.saved

    def build_content(self) -> None:
        flow = self.app.flow
        stats = flow.stats
        body = BoxLayout(orientation="horizontal", padding=(12, 8), spacing=12)
        left = BoxLayout(orientation="vertical", spacing=4)
        cap = self.app.snapshot.dose_cap_ma_min
        left.add_widget(FitLabel(
            text=_("Delivered dose: {dose}").format(dose=format_dose(stats.dose_ma_min))
            + (_(" (cap {cap})").format(cap=format_dose(cap)) if cap > 0 else ""),
            ref="summary_dose", bold=True, max_font_px=theme.BODY_PX + 1, size_hint_y=None,
            height=40))
        left.add_widget(FitLabel(text=_("Current-stage time: {time}").format(
            time=format_min_s(stats.elapsed_s)), ref="summary_duration", size_hint_y=None,
            height=34))
        left.add_widget(FitLabel(text=_("Mean {mean}, peak {peak}").format(
            mean=format_ma(stats.mean_ma), peak=format_ma(stats.peak_ma)),
            ref="summary_currents", size_hint_y=None, height=34))
        left.add_widget(FitLabel(text=_("What happened"), color=theme.TEXT_DIM,
                                 size_hint_y=None, height=30, max_font_px=theme.SMALL_PX + 1))
        shown = [e for e in flow.events if e.code != "adjust"][-EVENTS_SHOWN:]
        for index, event in enumerate(shown):
            left.add_widget(FitLabel(text=f"• {event_words(event.code, event.detail)}",
                                     ref=f"summary_event_{index}", size_hint_y=None, height=28,
                                     max_font_px=theme.SMALL_PX))
        left.add_widget(Widget())
        body.add_widget(left)
        right = Panel(orientation="vertical", padding=10, spacing=8, size_hint_x=None, width=300)
        if flow.saved:
            # saved: what was recorded, in words (not a greyed-out button to decode)
            right.add_widget(FitLabel(
                text=_("The client felt: {sensation}").format(
                    sensation=sensation_word(flow.sensation or "none")),
                ref="summary_sensation", bold=True, size_hint_y=None, height=64))
        else:
            right.add_widget(FitLabel(text=_("What did the client feel?"), bold=True,
                                      size_hint_y=None, height=60))
            grid = GridLayout(cols=2, spacing=8, size_hint_y=None, height=2 * 64 + 8)
            for sensation in SENSATIONS:
                grid.add_widget(KButton(text=sensation_word(sensation),
                                        ref=f"sensation_{sensation}",
                                        kind="selected" if flow.sensation == sensation
                                        else "neutral",
                                        on_tap=lambda s=sensation: self.choose(s)))
            right.add_widget(grid)
        failed = self.save_failed()
        if not failed:
            self.saved_label = FitLabel(text=_("Saved to the client's record.") if flow.saved
                                        else "", ref="saved", color=theme.CONTACT_GOOD,
                                        size_hint_y=None, height=60)
            right.add_widget(self.saved_label)
        else:  # in its place: the panel holds the sensations and this, no more
            right.add_widget(FitLabel(
                text=_("The record could not be saved. Write the dose down and call service."),
                ref="save_failed", color=theme.ALARM_HIGH, bold=True, size_hint_y=None,
                height=84))
        right.add_widget(Widget())
        body.add_widget(right)
        self.add_widget(body)
        if flow.saved:
            primary = self.primary_button(_("Done"), "done", self.app.finish_treatment)
        elif failed:  # storage is broken: she is never held on this screen
            primary = self.primary_button(_("Finish without saving"), "finish_unsaved",
                                          self.app.finish_treatment)
        else:
            primary = self.primary_button(_("Save and finish"), "save", self.save,
                                          enabled=flow.sensation is not None)
        self.add_widget(self.action_bar(primary=primary))

    def choose(self, sensation: str) -> None:
        self.app.flow.sensation = sensation
        self.build()

    def save(self) -> None:
        flow = self.app.flow
        records = self.app.records_view
        if flow.sensation in ("tingling", "warm", "burning") and not flow.burning_recorded():
            records.add_sensation(flow, flow.sensation)
        records.close(flow, stop_reason=stop_reason(flow))
        flow.save_failed = not flow.saved
        self.build()

    def save_failed(self) -> bool:
        """A save was tried and the store refused it (the banner says why)."""
        return self.app.flow.save_failed and not self.app.flow.saved
