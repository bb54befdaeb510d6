"""Stage 3, the galvanic current: the one screen where current flows.

Big live measured current beside the target; polarity by symbol, colour and words; contact
quality (load in kΩ as a bar) and the electrode voltage; dose against its cap; elapsed and
remaining time; the ramp state as a word on a colour band; a live plot of the last 60 s; +/- within
the caps; pause/resume; "client feels burning" (to zero within 2 s, recorded); STOP bottom right,
always. Everything shown comes from the control snapshot; the screen only sends commands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.control.codes import Reason
from kiosk.control.commands import AdjustCurrent, Pause, Resume, Stop, StopReason
from kiosk.control.snapshot import Snapshot, TreatmentState
from kiosk.i18n import _, numbers
from kiosk.screens import catalogue_view as cv
from kiosk.screens import theme
from kiosk.screens.base import KioskScreen
from kiosk.screens.flow import CURRENT_STEP_MA, Step
from kiosk.screens.plot import LivePlot
from kiosk.screens.registry import register
from kiosk.screens.texts import fault_texts, reason_text, state_word
from kiosk.screens.widgets import (
    Banner,
    Bar,
    FitLabel,
    KButton,
    Panel,
    PolarityBadge,
    ValueLabel,
    format_dose,
    format_ma,
    format_min_s,
)

FLOWING = (TreatmentState.CONTACT_CHECK, TreatmentState.RAMP_UP, TreatmentState.HOLD,
           TreatmentState.RAMP_DOWN)


def contact_quality(load_kohm: float | None, start_kohm: float,
                    loss_kohm: float) -> tuple[str, float, list[float]]:
    """(word, bar fraction, colour) for the load: good up to the start threshold, then falling."""
    if load_kohm is None:
        return _("no reading"), 0.0, theme.NEUTRAL
    fraction = max(0.05, min(1.0, 1.0 - load_kohm / loss_kohm))
    if load_kohm <= start_kohm * 0.6:
        return _("good"), fraction, theme.CONTACT_GOOD
    if load_kohm <= start_kohm:
        return _("fair"), fraction, theme.CONTACT_FAIR
    return _("poor"), fraction, theme.CONTACT_POOR


@register
class CurrentScreen(KioskScreen):
    name = "current"
    step = Step.CURRENT
    current_can_flow = True

    def title(self) -> str:
        return _("Galvanic current")

    def back_allowed(self) -> bool:
        return False  # leaving would hide STOP: the way out is "End current stage"

    def build_content(self) -> None:
        flow = self.app.flow
        program = cv.program_info(self.app.catalogue, flow)
        self._last_state: TreatmentState | None = None
        # reasons already in the snapshot when the screen opens are old news
        self._seen_reasons: list[Any] = [self.app.snapshot.last_refusal,
                                         self.app.snapshot.last_decision]
        self._reason_shown: ShownReason | None = None
        # the area's own expected sensations (the eye area: flashes of light mean stop) stand
        # in the band whenever no warning needs it: the client is told what to feel here
        own = self.app.catalogue.area(flow.area).expected_sensations
        self.area_note = cv.tr(own[0]) if own else None

        self.state_band = Panel(orientation="horizontal", size_hint_y=None, height=46,
                                padding=(12, 2), spacing=10)
        self.state_label = FitLabel(text="", ref="state_word", bold=True,
                                    max_font_px=theme.HEADING_PX - 2, size_hint_x=0.62)
        self.state_band.add_widget(self.state_label)
        self.state_band.add_widget(FitLabel(text=program.title, ref="program_title",
                                            halign="right", max_font_px=theme.SMALL_PX + 2))
        self.add_widget(self.state_band)

        self.program = program
        main = BoxLayout(orientation="horizontal", padding=(10, 6, 10, 0), spacing=12)
        left = BoxLayout(orientation="vertical", spacing=4, size_hint_x=None, width=530)
        figures = BoxLayout(orientation="horizontal", size_hint_y=None, height=92, spacing=6)
        self.measured_label = ValueLabel(text="0.00", ref="measured",
                                         font_size=theme.LIVE_CURRENT_PX, bold=True,
                                         halign="right", size_hint_x=None, width=176)
        figures.add_widget(self.measured_label)
        figures.add_widget(ValueLabel(text=_("mA"), font_size=28, valign="bottom",
                                      size_hint_x=None, width=50, padding=(0, 12)))
        targets = BoxLayout(orientation="vertical", size_hint_x=None, width=150)
        self.target_label = ValueLabel(text="", ref="target", font_size=theme.BODY_PX - 1)
        self.cap_label = ValueLabel(text="", ref="cap", color=theme.TEXT_DIM,
                                    font_size=theme.SMALL_PX)
        targets.add_widget(self.target_label)
        targets.add_widget(self.cap_label)
        figures.add_widget(targets)
        self.minus_button = KButton(text="−", ref="current_minus", font_size=40,
                                    size_hint=(None, None), size=(64, 64),
                                    on_tap=lambda: self.adjust(-CURRENT_STEP_MA))
        self.plus_button = KButton(text="+", ref="current_plus", font_size=40,
                                   size_hint=(None, None), size=(64, 64),
                                   on_tap=lambda: self.adjust(CURRENT_STEP_MA))
        figures.add_widget(self.minus_button)
        figures.add_widget(self.plus_button)
        left.add_widget(figures)
        self.banner = Banner()
        left.add_widget(self.banner)
        self.plot = LivePlot()
        left.add_widget(self.plot)
        main.add_widget(left)

        right = BoxLayout(orientation="vertical", spacing=3)
        right.add_widget(PolarityBadge(program.polarity, diameter_px=40, compact=True, height=50))
        self.contact_label = ValueLabel(text="", ref="contact", font_size=theme.SMALL_PX + 1,
                                        size_hint_y=None, height=26)
        self.contact_bar = Bar(height=12)
        self.voltage_label = ValueLabel(text="", ref="electrode_voltage",
                                        font_size=theme.SMALL_PX, color=theme.TEXT_DIM,
                                        size_hint_y=None, height=24)
        self.dose_label = ValueLabel(text="", ref="dose", font_size=theme.SMALL_PX + 1,
                                     size_hint_y=None, height=26)
        self.dose_bar = Bar(height=12, fill=theme.PLOT_TARGET)
        self.elapsed_label = ValueLabel(text="", ref="elapsed", font_size=theme.SMALL_PX + 1,
                                        size_hint_y=None, height=26)
        self.remaining_label = ValueLabel(text="", ref="remaining", bold=True,
                                          size_hint_y=None, height=28)
        for widget in (self.contact_label, self.contact_bar, self.voltage_label,
                       self.dose_label, self.dose_bar, self.elapsed_label,
                       self.remaining_label):
            right.add_widget(widget)
        right.add_widget(Widget())
        main.add_widget(right)
        self.add_widget(main)

        self.slot_a = KButton(text="", ref="slot_a", size_hint=(None, None), width=190,
                              height=theme.STOP_HEIGHT_PX)
        self.slot_b = KButton(text="", ref="slot_b", size_hint=(None, None), width=160,
                              height=theme.STOP_HEIGHT_PX)
        self.burning_button = KButton(text=_("Client feels burning"), ref="burning",
                                      kind="discomfort", on_tap=self.client_feels_burning,
                                      size_hint=(None, None), width=150,
                                      height=theme.STOP_HEIGHT_PX, bold=True)
        self.add_widget(self.action_bar(self.slot_a, self.slot_b, self.burning_button))

    # -- commands ---------------------------------------------------------------------------
    def start_current(self) -> None:
        """Contact check, then a fresh ramp from zero (also the way on after a fault)."""
        flow = self.app.flow
        self.app.submit(flow.start_command())  # with the day's dose so far (SR-053)
        flow.note_event(self.app.now_s(), "start_requested" if not flow.phase_started
                        else "restart_requested")
        flow.current_started = True
        flow.phase_started = True

    def adjust(self, delta_ma: float) -> None:
        self.app.submit(AdjustCurrent(delta_ma))
        self.app.flow.note_event(self.app.now_s(), "adjust", f"{delta_ma:+.2f} mA")

    def pause(self) -> None:
        self.app.submit(Pause())
        self.app.flow.note_event(self.app.now_s(), "pause")

    def resume(self) -> None:
        self.app.submit(Resume(self.app.flow.session_id))
        self.app.flow.note_event(self.app.now_s(), "resume")

    def client_feels_burning(self) -> None:
        """To zero within 2 s (the control layer), and on the record."""
        self.app.submit(Stop(StopReason.CLIENT_DISCOMFORT))
        flow = self.app.flow
        flow.sensation = "burning"
        flow.note_event(self.app.now_s(), "client_discomfort")
        self.app.records_view.add_sensation(flow, "burning")
        self._arrange_for(self.app.snapshot.state)

    def second_phase_next(self) -> bool:
        flow = self.app.flow
        program = self.app.catalogue.program(flow.area, flow.indication)
        return flow.second_phase_offered(program.second_phase is not None)

    def end_stage(self) -> None:
        """On to the tonic; after a main phase that ended normally, first the offer of the
        program's optional second phase (the acidic toner after deep cleansing)."""
        self.app.nav.go("second_phase" if self.second_phase_next() else "tonic")

    def skip_to_tonic(self) -> None:
        self.app.flow.note_event(self.app.now_s(), "second_phase_declined")
        self.app.nav.go("tonic")

    # -- display ----------------------------------------------------------------------------
    def _set_slot(self, slot: KButton, text: str | None, kind: str = "neutral",
                  action: Any = None) -> None:
        if text is None:
            slot.opacity = 0
            slot.disabled = True
            slot._on_tap = None
            return
        slot.opacity = 1
        slot.disabled = False
        slot.text = text
        slot.kind = kind
        slot._on_tap = action

    def _arrange_for(self, state: TreatmentState) -> None:
        started = self.app.flow.phase_started
        burnt = self.app.flow.burning_recorded()
        if not started and state is TreatmentState.DONE:
            # the second phase, chosen after the main one ended: its own start
            self._set_slot(self.slot_a, _("Check contact and start"), "primary",
                           self.start_current)
            self._set_slot(self.slot_b, _("Skip: tonic lotion"), "neutral", self.skip_to_tonic)
        elif burnt and state in (TreatmentState.IDLE, TreatmentState.PAUSED,
                                 TreatmentState.DONE):
            # after "client feels burning" the way on is to end the stage, not to start again
            self._set_slot(self.slot_a, _("End current stage"), "primary", self.end_stage)
            self._set_slot(self.slot_b, _("Check contact and start again"), "neutral",
                           self.start_current)
        elif state is TreatmentState.IDLE:
            self._set_slot(self.slot_a, _("Check contact and start again") if started
                           else _("Check contact and start"), "primary", self.start_current)
            self._set_slot(self.slot_b, _("End current stage") if started else None,
                           "neutral", self.end_stage)
        elif state is TreatmentState.PAUSED:
            self._set_slot(self.slot_a, _("Resume (new contact check)"), "primary", self.resume)
            self._set_slot(self.slot_b, _("End current stage"), "neutral", self.end_stage)
        elif state is TreatmentState.DONE:
            self._set_slot(self.slot_a, _("Next: optional second phase") if self.second_phase_next()
                           else _("Next: tonic lotion"), "primary", self.end_stage)
            self._set_slot(self.slot_b, None)
        elif state in (TreatmentState.CONTACT_CHECK, TreatmentState.RAMP_UP,
                       TreatmentState.HOLD):
            self._set_slot(self.slot_a, _("Pause"), "neutral", self.pause)
            self._set_slot(self.slot_b, None)
        else:  # ramp_down, fault
            self._set_slot(self.slot_a, None)
            self._set_slot(self.slot_b, None)
        self.burning_button.disabled = state not in FLOWING

    def on_snapshot(self, snapshot: Snapshot) -> None:
        state = snapshot.state
        if state is not self._last_state:
            self._last_state = state
            self._arrange_for(state)
            self.state_label.text = state_word(state)
            self.state_band.background = theme.STATE_COLOURS[state.value]
        ours = snapshot.session_id == self.app.flow.session_id
        self.measured_label.text = numbers.decimal(max(snapshot.measured_ma, 0.0), 2)
        target_ma = snapshot.target_ma if ours else self.program.target_ma
        cap_ma = snapshot.current_cap_ma if ours else self.program.current_cap_ma
        self.target_label.text = _("target {value}").format(value=format_ma(target_ma))
        self.cap_label.text = _("cap {value}").format(value=format_ma(cap_ma))
        adjustable = state in (TreatmentState.RAMP_UP, TreatmentState.HOLD)
        self.plus_button.disabled = not adjustable or \
            target_ma + CURRENT_STEP_MA > cap_ma + 1e-9
        self.minus_button.disabled = not adjustable or target_ma <= CURRENT_STEP_MA + 1e-9
        start_kohm, loss_kohm = self.app.contact_thresholds_kohm
        word, fraction, colour = contact_quality(snapshot.load_kohm, start_kohm, loss_kohm)
        load_text = "" if snapshot.load_kohm is None else \
            _(" ({value} kΩ)").format(value=numbers.decimal(snapshot.load_kohm, 0))
        self.contact_label.text = _("Contact: {quality}").format(quality=word) + load_text
        self.contact_bar.fraction = fraction
        self.contact_bar.fill = colour
        self.voltage_label.text = _("Electrode voltage {value} V").format(
            value=numbers.decimal(max(snapshot.electrode_v, 0.0), 1))
        dose_cap = snapshot.dose_cap_ma_min if ours else self.program.dose_cap_ma_min
        dose = snapshot.dose_ma_min if ours else 0.0
        self.dose_label.text = _("Dose {dose} of {cap}").format(dose=numbers.decimal(dose, 2),
                                                              cap=format_dose(dose_cap))
        self.dose_bar.fraction = dose / dose_cap if dose_cap > 0 else 0.0
        elapsed_s = snapshot.elapsed_s if ours else 0.0
        remaining_s = snapshot.remaining_s if ours else self.program.stage_s
        self.elapsed_label.text = _("Elapsed {time}").format(time=format_min_s(elapsed_s))
        self.remaining_label.text = _("Remaining {time}").format(time=format_min_s(remaining_s))
        self.plot.add_sample(snapshot.time_s, snapshot.measured_ma,
                             snapshot.setpoint_ma if ours else 0.0, cap_ma, target_ma=target_ma)
        self.plot.redraw()
        self._show_messages(snapshot)

    def _show_messages(self, snapshot: Snapshot) -> None:
        """The band shows what the newest snapshot (and the flow) says now, nothing older."""
        self._remember_reason(snapshot)
        message = band_message(snapshot, self.app.flow, self._reason_shown,
                               note=self.area_note)
        if message is None:
            self.banner.show(None)
        else:
            self.banner.show(message[0], level=message[1])

    def _remember_reason(self, snapshot: Snapshot) -> None:
        """A new refusal or decision is shown while the state it came in lasts (at most
        ``REASON_SHOWN_S``): "no current flows" from a failed check goes once a ramp starts."""
        for reason in (snapshot.last_refusal, snapshot.last_decision):
            if reason is None or any(reason is seen for seen in self._seen_reasons):
                continue
            self._seen_reasons = [*self._seen_reasons[-3:], reason]
            if reason.code in SHOWN_REASONS:
                self._reason_shown = ShownReason(reason, snapshot.state, snapshot.time_s)
        shown = self._reason_shown
        if shown is not None and (snapshot.state is not shown.state
                                  or snapshot.time_s - shown.since_s > REASON_SHOWN_S):
            self._reason_shown = None


REASON_SHOWN_S = 12.0
LIVE_FLOWING = (TreatmentState.RAMP_UP, TreatmentState.HOLD)


@dataclass(frozen=True)
class ShownReason:
    reason: Any
    state: TreatmentState
    since_s: float


def band_message(snapshot: Snapshot, flow: Any, shown: ShownReason | None, *,
                 note: str | None = None) -> tuple[str, str] | None:
    """(text, level) of the band for this snapshot, or None: every warning holds only while its
    cause is in the snapshot (a STOP, a zero voltage or a good contact clears it at once).
    ``note`` (the area's own expected sensation) is shown, as information, when nothing else
    is."""
    message = _band_warning(snapshot, flow, shown)
    if message is None and note is not None and snapshot.fault is None:
        return note, "info"
    return message


def _band_warning(snapshot: Snapshot, flow: Any,
                  shown: ShownReason | None) -> tuple[str, str] | None:
    flowing = snapshot.output_enabled and snapshot.state in LIVE_FLOWING
    if snapshot.compliance_warning and flowing and snapshot.electrode_v > 0.05:
        return (_("The electrode voltage is high: the ramp is held. Check and wet the "
                  "electrodes."), "medium")
    if snapshot.contact_poor and flowing:
        return (_("Contact is getting poor: check that the electrodes are wet and on the "
                  "skin."), "medium")
    if snapshot.fault is None and snapshot.state not in FLOWING:
        if flow.burning_recorded():
            return (_("Stopped: the client felt burning. Remove the electrodes and look at the "
                      "skin."), "medium")
        acknowledged = acknowledged_fault(flow)
        if acknowledged is not None:
            return (_("Acknowledged: {what} The current is off; check contact and start again "
                      "from zero.").format(what=fault_texts(Reason(acknowledged,
                                                                   acknowledged))[0]), "info")
    if shown is not None:
        reason = shown.reason
        if reason.code in LIVE_REASONS and not flowing:
            return None  # a warning about the flowing current ends with the current
        level = "medium" if reason.severity.value == "medium" else "info"
        return reason_text(reason), level
    return None


def acknowledged_fault(flow: Any) -> str | None:
    """The fault code the beautician acknowledged last, if nothing was started since."""
    for event in reversed(flow.events):
        if event.code.startswith("acknowledged:"):
            return str(event.code.split(":", 1)[1])
        if event.code in ("start_requested", "restart_requested", "resume"):
            return None
    return None


# reasons about the flowing current: they mean nothing once it stopped
LIVE_REASONS = {"compliance_limit", "contact_poor", "current_at_cap", "adjust_capped",
                "current_above_cap", "current_at_minimum"}

SHOWN_REASONS = {
    "contact_check_failed", "contact_check_open", "contact_check_short", "contact_poor",
    "compliance_limit", "current_at_cap", "current_above_cap", "current_at_minimum",
    "adjust_capped", "dose_cap_reached", "stage_time_reached", "treatment_done",
    "dose_cap_already_reached", "stage_time_used_up", "estop_pressed", "fault_latched",
    "screening_not_cleared", "caution_not_acknowledged", "selftest_required",
    "session_still_open", "consent_missing", "consent_stale",
}
