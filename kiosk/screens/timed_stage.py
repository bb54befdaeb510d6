"""The shared shape of a stage without current (the AHA peel, the tonic lotion): steps + timer.

The timer runs on the control clock (the snapshot's time), lives in the flow, and keeps running
when the beautician leaves the screen; coming back shows it where it is. She can lengthen or
shorten it before starting and may go on at any time: it is an aid, not a lock.
"""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.control.commands import Chirp
from kiosk.control.snapshot import Snapshot
from kiosk.i18n import _
from kiosk.screens import theme
from kiosk.screens.base import KioskScreen
from kiosk.screens.flow import StageTimer
from kiosk.screens.widgets import Banner, Bar, FitLabel, KButton, Panel, ValueLabel, format_min_s

TIMER_STEP_S = 60.0


class TimedStageScreen(KioskScreen):
    """Instructions on the left, the timer on the right, "next" bottom right."""

    default_duration_s = 300.0
    timer_attr = ""  # "peel" or "tonic": the flow's StageTimer

    def instructions(self) -> list[str]:
        raise NotImplementedError

    def next_text(self) -> str:
        raise NotImplementedError

    def go_next(self) -> None:
        raise NotImplementedError

    def note_stage_end(self, stage: str) -> None:
        """On the record as it was: "<stage>_done" only when the timer ran out; otherwise
        "<stage>_ended_early" with the time left, or "<stage>_timer_not_used"."""
        timer = self.timer()
        now_s = self.app.now_s()
        if timer.finished(now_s):
            self.app.flow.note_event(now_s, f"{stage}_done")
        elif timer.started_at_s is None:
            self.app.flow.note_event(now_s, f"{stage}_timer_not_used")
        else:
            self.app.flow.note_event(now_s, f"{stage}_ended_early",
                                     _("{time} left").format(
                                         time=format_min_s(timer.remaining_s(now_s))))

    def timer(self) -> StageTimer:
        timer = getattr(self.app.flow, self.timer_attr)
        if timer is None:
            timer = StageTimer(self.default_duration_s)
            setattr(self.app.flow, self.timer_attr, timer)
        assert isinstance(timer, StageTimer)
        return timer

    def build_content(self) -> None:
        body = BoxLayout(orientation="horizontal", padding=(12, 8), spacing=14)
        steps = BoxLayout(orientation="vertical", spacing=4)
        for number, text in enumerate(self.instructions(), start=1):
            steps.add_widget(FitLabel(text=f"{number}. {text}", ref=f"instruction_{number}",
                                      size_hint_y=None, height=62))
        steps.add_widget(Widget())
        body.add_widget(steps)
        panel = Panel(orientation="vertical", padding=10, spacing=6, size_hint_x=None,
                      width=270)
        panel.add_widget(FitLabel(text=_("Timer"), color=theme.TEXT_DIM, size_hint_y=None,
                                  height=28))
        self.time_label = ValueLabel(text="", ref="timer_value", font_size=44, bold=True,
                                     halign="center", size_hint_y=None, height=60)
        panel.add_widget(self.time_label)
        self.progress = Bar(height=14, fill=theme.ALARM_INFO)
        panel.add_widget(self.progress)
        adjust = BoxLayout(orientation="horizontal", spacing=8, size_hint_y=None, height=60)
        self.minus = KButton(text=_("−1 min"), ref="timer_minus", height=58,
                             on_tap=lambda: self.change(-TIMER_STEP_S))
        self.plus = KButton(text=_("+1 min"), ref="timer_plus", height=58,
                            on_tap=lambda: self.change(+TIMER_STEP_S))
        adjust.add_widget(self.minus)
        adjust.add_widget(self.plus)
        panel.add_widget(adjust)
        self.start_button = KButton(text=_("Start timer"), ref="timer_start", height=64,
                                    on_tap=self.start_timer)
        panel.add_widget(self.start_button)
        panel.add_widget(Widget())
        body.add_widget(panel)
        self.add_widget(body)
        self.banner = Banner(height=44)
        self.add_widget(self.banner)
        self.add_widget(self.action_bar(primary=self.primary_button(
            self.next_text(), "next", self.go_next)))

    def change(self, delta_s: float) -> None:
        timer = self.timer()
        if timer.started_at_s is None:
            timer.duration_s = max(TIMER_STEP_S, timer.duration_s + delta_s)
            self.on_snapshot(self.app.snapshot)

    def start_timer(self) -> None:
        self.timer().start(self.app.now_s())
        self.on_snapshot(self.app.snapshot)

    def on_snapshot(self, snapshot: Snapshot) -> None:
        timer = self.timer()
        now_s = snapshot.time_s
        self.time_label.text = format_min_s(timer.remaining_s(now_s))
        self.progress.fraction = timer.elapsed_s(now_s) / timer.duration_s
        not_started = timer.started_at_s is None
        self.minus.disabled = not not_started or timer.duration_s <= TIMER_STEP_S
        self.plus.disabled = not not_started
        self.start_button.disabled = not not_started
        self.start_button.text = _("Start timer") if not_started else _("Timer running")
        if timer.finished(now_s):
            if not timer.chirped:
                timer.chirped = True
                self.app.submit(Chirp())  # one beep, information priority, besides the band
            self.banner.show(_("Time is up."), level="info")
            self.start_button.text = _("Timer done")
        else:
            self.banner.show(None)
