"""A minimal service screen: the self-test result, the records' health, the last events of the
log with its hash-chain verification. The service issue fills the rest (calibration, export)."""

from __future__ import annotations

import time

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.control.snapshot import Snapshot
from kiosk.i18n import _
from kiosk.screens import theme
from kiosk.screens.base import KioskScreen
from kiosk.screens.registry import register
from kiosk.screens.widgets import FitLabel, Panel

EVENTS_SHOWN = 6


@register
class ServiceScreen(KioskScreen):
    name = "service"

    def title(self) -> str:
        return _("Service")

    def build_content(self) -> None:
        records = self.app.records_view
        body = BoxLayout(orientation="vertical", padding=(12, 6), spacing=4)
        status = Panel(orientation="vertical", padding=(10, 4), size_hint_y=None, height=110)
        self.selftest = FitLabel(text="", ref="service_selftest", size_hint_y=None, height=32)
        status.add_widget(self.selftest)
        status.add_widget(FitLabel(
            text=_("Records: working") if records.healthy else _("Records: {reason}").format(
                reason=records.fault_reason), ref="service_records", size_hint_y=None,
            height=32))
        report = records.verify_chain()
        if report is None:
            chain = _("Event log: cannot be read")
        elif report.ok:
            chain = _("Event log intact: {count} entries verified").format(
                count=report.rows_checked)
        else:
            chain = _("Event log broken at entry {seq}: {problem}").format(
                seq=report.first_bad_seq, problem=report.problem)
        status.add_widget(FitLabel(text=chain, ref="service_chain", size_hint_y=None, height=32,
                                   color=theme.TEXT if report is not None and report.ok
                                   else theme.ALARM_MEDIUM))
        body.add_widget(status)
        body.add_widget(FitLabel(text=_("Last events"), color=theme.TEXT_DIM, size_hint_y=None,
                                 height=28, max_font_px=theme.SMALL_PX + 1))
        for index, event in enumerate(records.last_events(EVENTS_SHOWN)):
            stamp = time.strftime("%d.%m %H:%M:%S", time.localtime(event.wall_us / 1e6))
            body.add_widget(FitLabel(text=f"#{event.seq}  {stamp}  {event.severity}  "
                                          f"{event.code}",
                                     ref=f"service_event_{index}", size_hint_y=None, height=26,
                                     max_font_px=theme.SMALL_PX, font_name="RobotoMono-Regular"))
        body.add_widget(Widget())
        self.add_widget(body)
        self.add_widget(self.action_bar())

    def on_snapshot(self, snapshot: Snapshot) -> None:
        if snapshot.healthy and snapshot.fault is None:
            self.selftest.text = _("Self-test: passed")
        elif snapshot.fault is not None:
            self.selftest.text = _("Self-test / fault: {code}").format(code=snapshot.fault.code)
        else:
            self.selftest.text = _("Self-test: not passed")
