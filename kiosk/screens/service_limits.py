"""Service: the salon's limits, edited only within the device's hard bounds (issue 13).

Each limit shows its value in force and its hard bounds (from the ``salon_limits`` query: the
control layer's own definition, domain.md 6). A value typed outside them is refused here at once
(the row says why, Save stays off); Save sends ``SetSalonLimits`` with who is signed in, and the
control core checks every bound again (``salon_limits_refused``) before anything is stored.
"""

from __future__ import annotations

from typing import Any

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout

from kiosk.access.pins import Role
from kiosk.control.commands import SetSalonLimits
from kiosk.control.snapshot import Snapshot
from kiosk.i18n import N_, _, numbers
from kiosk.screens import theme
from kiosk.screens._service_numpad import NumPad, next_text, typed_value
from kiosk.screens.registry import register
from kiosk.screens.service_base import ServicePage
from kiosk.screens.texts import reason_text
from kiosk.screens.widgets import FitLabel, KButton

LIMITS: tuple[tuple[str, str, int], ...] = (  # (field, label, decimals)
    ("face_cap_ma", N_("Face cap, mA"), 2),
    ("neck_cap_ma", N_("Neck cap, mA"), 2),
    ("decollete_cap_ma", N_("Décolleté cap, mA"), 2),
    ("eye_area_cap_ma", N_("Eye area cap, mA"), 2),
    ("contact_start_max_kohm", N_("Contact to start, kΩ at most"), 0),
    ("contact_loss_kohm", N_("Contact lost above, kΩ"), 0),
    ("ramp_time_s", N_("Ramp time, s"), 0),
    ("ui_heartbeat_timeout_s", N_("Screen silent for, s"), 1),
)
ROW_PX = 36


@register
class ServiceLimitsScreen(ServicePage):
    name = "service_limits"
    service_roles = (Role.TECHNICIAN, Role.MANAGER)
    service_order = 30

    def title(self) -> str:
        return _("Salon limits")

    def build_content(self) -> None:
        self.typed: dict[str, str] = {}
        self.selected = LIMITS[0][0]
        self.sent = False
        self.sent_over: tuple[Any, str] = (None, "")  # (last refusal, date in force) at Save
        self.info: dict[str, Any] = {}
        body = BoxLayout(orientation="horizontal", padding=(theme.PADDING_PX, 4), spacing=10)
        self.rows = GridLayout(cols=3, spacing=(6, 4), size_hint_y=None,
                               height=len(LIMITS) * (ROW_PX + 4) - 4)
        column = BoxLayout(orientation="vertical")
        column.add_widget(self.rows)
        column.add_widget(BoxLayout())
        body.add_widget(column)
        right = BoxLayout(orientation="vertical", size_hint_x=None, width=270, spacing=6)
        right.add_widget(NumPad(self.key, prefix="lim", key_height_px=54, size_hint_y=None,
                                height=4 * 54 + 18))
        self.message = FitLabel(text="", ref="lim_message", color=theme.ALARM_MEDIUM,
                                max_font_px=theme.SMALL_PX)
        right.add_widget(self.message)
        body.add_widget(right)
        self.add_widget(body)
        self.save = self.primary_button(_("Save"), "lim_save", self.submit_limits)
        self.undo = KButton(text=_("Undo changes"), ref="lim_undo", on_tap=self.reset,
                            size_hint=(None, None), width=220)
        self.add_widget(self.action_bar(self.undo, primary=self.save))
        self.refresh()

    # -- state --------------------------------------------------------------------------------
    def refresh(self) -> None:
        try:
            self.info = self.app.controller.query("salon_limits")
        except Exception as error:  # a refused query or a lost link: said on the page
            self.message.text = _("The control unit did not answer: {problem}").format(
                problem=str(error)[:120])
            return
        self.show()

    def value(self, field: str) -> float | None:
        if field in self.typed:
            return typed_value(self.typed[field])
        return float(self.info["in_force"][field])

    def problem(self, field: str) -> str | None:
        """Why the value typed for ``field`` cannot be saved (the hard bounds), else None."""
        value = self.value(field)
        low, high = self.info["hard_bounds"][field]
        places = dict((f, p) for f, _l, p in LIMITS)[field]
        label = _(dict((f, lbl) for f, lbl, _p in LIMITS)[field])
        if value is None:
            return _("{limit}: type a number.").format(limit=label)
        if not low - 1e-9 <= value <= high + 1e-9:
            return _("{limit}: {value} is outside the device's hard bounds {low} to {high}."
                     ).format(limit=label, value=numbers.decimal(value, max(places, 2)),
                              low=numbers.decimal(low, places), high=numbers.decimal(high, places))
        start, loss = self.value("contact_start_max_kohm"), self.value("contact_loss_kohm")
        if field == "contact_loss_kohm" and start is not None and loss is not None \
                and loss <= start:
            return _("Contact lost must be above contact to start.")
        return None

    def show(self) -> None:
        if not self.info:
            return
        self.rows.clear_widgets()
        problems = []
        for field, label, places in LIMITS:
            low, high = self.info["hard_bounds"][field]
            problem = self.problem(field)
            if problem is not None:
                problems.append(problem)
            self.rows.add_widget(FitLabel(text=_(label), size_hint_y=None, height=ROW_PX,
                                          max_font_px=theme.SMALL_PX + 1))
            value = self.value(field)
            text = self.typed.get(field, "") if field in self.typed else \
                numbers.decimal(value if value is not None else 0.0, places)
            self.rows.add_widget(KButton(
                text=text or "-", ref=f"lim_{field}", height=ROW_PX, size_hint=(None, None),
                width=96, font_size=theme.SMALL_PX + 1,
                kind="stop" if problem is not None
                else "primary" if field == self.selected else "neutral",
                on_tap=lambda f=field: self.select(f)))
            self.rows.add_widget(FitLabel(
                text=f"{numbers.decimal(low, places)}-{numbers.decimal(high, places)}",
                ref=f"lim_bounds_{field}", color=theme.TEXT_DIM, size_hint=(None, None),
                width=96, height=ROW_PX, max_font_px=theme.SMALL_PX))
        changed = any(self.value(f) != float(self.info["in_force"][f]) for f, _l, _p in LIMITS)
        self.save.disabled = bool(problems) or not changed
        self.undo.disabled = not self.typed
        refusal = self.app.snapshot.last_refusal
        if self.sent and self.info["in_force"]["date"] != self.sent_over[1]:
            self.sent = False  # stored and in force
        if problems:
            self.message.text = problems[0]
            self.message.color = theme.ALARM_MEDIUM
        elif self.sent and refusal is not None and refusal is not self.sent_over[0] \
                and refusal.code in ("salon_limits_refused", "service_not_now",
                                     "settings_not_stored"):
            self.message.text = reason_text(refusal)
            self.message.color = theme.ALARM_MEDIUM
        elif self.info.get("problem") is not None:
            self.message.text = _("The stored limits were refused; save them again.")
            self.message.color = theme.ALARM_MEDIUM
        else:
            by = self.info["in_force"]["changed_by"]
            self.message.text = _("Set by {who}.").format(who=by) if by else \
                _("The device's default limits.")
            self.message.color = theme.TEXT_DIM

    # -- actions ------------------------------------------------------------------------------
    def select(self, field: str) -> None:
        self.selected = field
        self.show()

    def key(self, key: str) -> None:
        self.typed[self.selected] = next_text(self.typed.get(self.selected, ""), key)
        self.sent = False
        self.show()

    def reset(self) -> None:
        self.typed.clear()
        self.show()

    def submit_limits(self) -> None:
        user = self.service_user
        values = [self.value(field) for field, _l, _p in LIMITS]
        if user is None or any(v is None for v in values):
            return
        self.sent_over = (self.app.snapshot.last_refusal, self.info["in_force"]["date"])
        self.app.submit(SetSalonLimits(user.name, *(float(v) for v in values if v is not None)))
        self.typed.clear()
        self.sent = True

    def on_snapshot(self, snapshot: Snapshot) -> None:
        if getattr(self, "sent", False):
            self.refresh()
