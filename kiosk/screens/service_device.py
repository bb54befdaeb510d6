"""Service: the device record. Versions, serial, usage counters, last calibration and self-test
with their reminders, and the maintenance intervals (a technician changes them; a salon manager
only reads).

Everything comes from the control layer (``device_record`` and ``set_maintenance_intervals``:
``kiosk.control.device_record``), which checks the intervals' bounds again: the − and + buttons
stop at the bounds the answer names, the control layer refuses anything else.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.access.pins import Role
from kiosk.control.query_types import QueryRefused
from kiosk.i18n import _, numbers
from kiosk.screens import theme
from kiosk.screens.registry import register
from kiosk.screens.service_base import ServicePage
from kiosk.screens.widgets import FitLabel, KButton, Panel

_log = logging.getLogger(__name__)

CALIBRATION_STEP_DAYS = 30
SELFTEST_STEP_DAYS = 1


def day_text(wall_s: float | None) -> str:
    return "-" if wall_s is None else time.strftime("%d.%m.%Y", time.localtime(wall_s))


def reminder_text(what: str, answer: dict[str, Any]) -> tuple[str, str]:
    """(one line, level) for the calibration or self-test reminder; level ``ok`` or ``due``."""
    status = answer["status"]
    last = answer.get("last_wall_s")
    who = answer.get("technician")
    if status == "unknown" and not answer.get("available", True):
        return _("{what}: not recorded by this software. Check it by hand.").format(
            what=what), "due"
    if status == "unknown":
        return (_("{what}: the record cannot be read ({note}). Check it by hand.").format(
            what=what, note=answer.get("note") or "-"), "due")
    if status == "never":
        return _("{what}: never done. Due now.").format(what=what), "due"
    done = _("last {date}").format(date=day_text(last))
    if who:
        done += " " + _("by {name}").format(name=who)
    if status == "date_in_future":
        return (_("{what}: {done}, a date in the future. Check the clock; due now.").format(
            what=what, done=done), "due")
    if status == "due":
        return _("{what}: {done}. Due since {date}.").format(
            what=what, done=done, date=day_text(answer.get("due_wall_s"))), "due"
    return _("{what}: {done}. Next by {date} (in {days} days).").format(
        what=what, done=done, date=day_text(answer.get("due_wall_s")),
        days=int(answer.get("days_left") or 0)), "ok"


@register
class ServiceDeviceScreen(ServicePage):
    name = "service_device"
    service_order = 60
    service_roles = (Role.TECHNICIAN, Role.MANAGER)

    def title(self) -> str:
        return _("Device record")

    def build_content(self) -> None:
        self.message_text = getattr(self, "message_text", "")
        self.record: dict[str, Any] | None = None
        self.body = BoxLayout(orientation="horizontal", padding=(10, 6), spacing=10)
        self.add_widget(self.body)
        self.message = FitLabel(text="", ref="intervals_message", color=theme.ALARM_MEDIUM,
                                max_font_px=theme.SMALL_PX, size_hint_y=None,
                                height=theme.PRIMARY_HEIGHT_PX)
        self.save_button = self.primary_button(_("Save intervals"), "save_intervals",
                                               self.save_intervals)
        self.add_widget(self.action_bar(self.message, primary=self.save_button))
        self.show()

    @property
    def may_edit(self) -> bool:
        user = self.service_user
        return user is not None and user.role is Role.TECHNICIAN

    def show(self) -> None:
        self.body.clear_widgets()
        try:
            record: dict[str, Any] = self.app.controller.query("device_record")
        except Exception as error:  # a refusal, or a bug below: said, never a crash
            if not isinstance(error, QueryRefused):
                _log.exception("device_record failed")
            self.body.add_widget(FitLabel(
                text=_("The device record cannot be read: {reason}").format(
                    reason=error.text if isinstance(error, QueryRefused)
                    else repr(error)[:200]), ref="device_problem", color=theme.ALARM_MEDIUM))
            self.save_button.disabled = True
            return
        self.record = record
        if not hasattr(self, "calibration_days"):
            self.calibration_days = int(record["intervals"]["calibration_days"])
            self.selftest_days = int(record["intervals"]["selftest_days"])
        self.body.add_widget(self._usage(record))
        self.body.add_widget(self._maintenance(record))

    # -- left: what the device is and what it did --------------------------------------------
    def _usage(self, record: dict[str, Any]) -> Panel:
        panel = Panel(orientation="vertical", padding=(10, 6), spacing=2)
        # the simulated board's serial says so itself (SIM-...)
        software = _("Software {version}, catalogue {catalogue}").format(
            version=record["software_version"], catalogue=record["catalogue_version"])
        lines = [
            ("device_software", software),
            ("device_serial", _("Serial number: {serial}").format(serial=record["serial"])),
        ]
        counters = record["counters"]
        if counters is None:
            lines.append(("device_counters", _("Usage is not counted here (no state folder).")))
        else:
            lines += [
                ("device_operating", _("Operating hours: {hours} h").format(
                    hours=numbers.decimal(counters["operating_h"], 1))),
                ("device_current", _("Hours of current: {hours} h").format(
                    hours=numbers.decimal(counters["current_h"], 2))),
                ("device_sessions", _("Sessions: {count}").format(count=counters["sessions"])),
                ("device_relays", _("Relay cycles: output {k1}, polarity {k2}").format(
                    k1=counters["k1_closures"], k2=counters["k2_switches"])),
                ("device_charge", _("Charge delivered: {dose} mA·min ({charge} C)").format(
                    dose=numbers.decimal(counters["charge_ma_min"], 1),
                    charge=numbers.decimal(counters["charge_c"], 2))),
                ("device_since", _("Counted since {date}").format(
                    date=day_text(counters["since_wall_s"]))),
            ]
        for ref, text in lines:
            panel.add_widget(FitLabel(text=text, ref=ref, max_font_px=theme.SMALL_PX + 1))
        problem = record.get("counters_problem")
        if problem:
            panel.add_widget(FitLabel(text=problem, ref="device_counters_problem",
                                      color=theme.ALARM_MEDIUM, max_font_px=theme.SMALL_PX,
                                      size_hint_y=None, height=70))
        return panel

    # -- right: reminders and intervals ------------------------------------------------------
    def _maintenance(self, record: dict[str, Any]) -> BoxLayout:
        column = BoxLayout(orientation="vertical", spacing=6)
        for key, what in (("calibration", _("Calibration")), ("selftest", _("Self-test"))):
            text, level = reminder_text(what, record[key])
            due = level == "due"
            box = Panel(orientation="vertical", padding=(8, 2), size_hint_y=None, height=70)
            box.add_widget(FitLabel(
                text=text, ref=f"reminder_{key}", max_font_px=theme.SMALL_PX,
                color=theme.ALARM_MEDIUM if due else theme.TEXT))
            column.add_widget(box)
        intervals = record["intervals"]
        editable = self.may_edit and bool(intervals["editable"])
        column.add_widget(self._interval_row(
            "calibration", _("Calibrate every {days} days").format(days=self.calibration_days),
            self.calibration_days, intervals["calibration_bounds"], CALIBRATION_STEP_DAYS,
            editable))
        column.add_widget(self._interval_row(
            "selftest", _("Self-test every {days} days").format(days=self.selftest_days),
            self.selftest_days, intervals["selftest_bounds"], SELFTEST_STEP_DAYS, editable))
        changed = (self.calibration_days, self.selftest_days) != (
            intervals["calibration_days"], intervals["selftest_days"])
        self.save_button.disabled = not (editable and changed)
        self.save_button.opacity = 1 if editable else 0
        if not editable:
            column.add_widget(FitLabel(text=_("Only a technician can change the intervals."),
                                       ref="intervals_read_only", color=theme.TEXT_DIM,
                                       max_font_px=theme.SMALL_PX, size_hint_y=None,
                                       height=40))
        self.message.text = self.message_text or record.get("intervals_problem") or ""
        column.add_widget(Widget())
        return column

    def _interval_row(self, key: str, text: str, value: int, bounds: list[int], step: int,
                      editable: bool) -> BoxLayout:
        row = BoxLayout(orientation="horizontal", size_hint_y=None, height=56, spacing=6)
        row.add_widget(FitLabel(text=text, ref=f"interval_{key}", max_font_px=theme.SMALL_PX))
        if editable:
            low, high = int(bounds[0]), int(bounds[1])
            row.add_widget(KButton(text="−", ref=f"interval_{key}_less", size_hint_x=None,
                                   width=64, height=56, font_size=30, disabled=value <= low,
                                   on_tap=lambda: self.change(key, -step, low, high)))
            row.add_widget(KButton(text="+", ref=f"interval_{key}_more", size_hint_x=None,
                                   width=64, height=56, font_size=30, disabled=value >= high,
                                   on_tap=lambda: self.change(key, step, low, high)))
        return row

    # -- taps --------------------------------------------------------------------------------
    def change(self, key: str, delta: int, low: int, high: int) -> None:
        if not self.may_edit:
            return
        name = "calibration_days" if key == "calibration" else "selftest_days"
        setattr(self, name, min(high, max(low, int(getattr(self, name)) + delta)))
        self.message_text = ""
        self.show()

    def save_intervals(self) -> None:
        user = self.service_user
        if user is None or user.role is not Role.TECHNICIAN:
            return
        try:
            self.app.controller.query("set_maintenance_intervals",
                                      calibration_days=self.calibration_days,
                                      selftest_days=self.selftest_days, technician=user.name)
        except Exception as error:  # a refusal, or a bug below: said, never a crash
            if not isinstance(error, QueryRefused):
                _log.exception("set_maintenance_intervals failed")
            self.message_text = _("Not saved: {reason}").format(
                reason=error.text if isinstance(error, QueryRefused) else repr(error)[:200])
        else:
            self.message_text = _("Intervals saved.")
        self.show()
