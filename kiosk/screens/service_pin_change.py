"""Change a service PIN: forced after a factory PIN, and from the service menu at any time.

The new PIN is typed twice on the same pad. A weak PIN (six digits, not one repeated digit, not
a run of consecutive digits, not a PIN already in use: :func:`kiosk.access.pins.weakness`) is
refused with its reason before the second entry. A technician may set either PIN (the salon
manager's too); a manager only the manager's own.

Forced (``forced=True``, the factory PIN was just typed): nothing else of service mode is open,
and "Back" leaves service mode altogether.
"""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.access.pins import AccessCode, AccessDecision, PinWeakness, Role, weakness
from kiosk.i18n import _
from kiosk.screens import theme
from kiosk.screens.base import KioskScreen
from kiosk.screens.registry import register
from kiosk.screens.service_base import ServicePage, change_pin, leave
from kiosk.screens.service_pin import PinDots, PinPad, decision_text
from kiosk.screens.widgets import FitLabel, KButton


def role_name(role: Role) -> str:
    return _("Technician") if role is Role.TECHNICIAN else _("Salon manager")


def weakness_text(code: PinWeakness) -> str:
    return {
        PinWeakness.LENGTH: _("A PIN is exactly six digits."),
        PinWeakness.REPEATED: _("One digit repeated is too easy to guess."),
        PinWeakness.CONSECUTIVE: _("Consecutive digits are too easy to guess."),
        PinWeakness.REUSED: _("That PIN is already in use. Choose another."),
    }[code]


@register
class ServicePinChangeScreen(ServicePage):
    name = "service_pin_change"
    service_roles = (Role.TECHNICIAN, Role.MANAGER)
    service_order = 90

    @property
    def forced(self) -> bool:
        return bool(self.params.get("forced")) and \
            self.app.service_access.pending_change is not None

    def title(self) -> str:
        return _("Change the service PIN")

    def build(self) -> None:
        if self.forced:
            KioskScreen.build(self)  # only the factory PIN's holder, only this page
            return
        super().build()

    def back(self) -> None:
        if self.forced:
            leave(self.app)
        else:
            self.app.nav.back()

    def build_content(self) -> None:
        if self.forced:
            self._swap_back_button()
            role = self.app.service_access.pending_change
            self.roles: tuple[Role, ...] = (role,)
        else:
            user = self.service_user
            self.roles = (Role.TECHNICIAN, Role.MANAGER) \
                if user is not None and user.role is Role.TECHNICIAN else (Role.MANAGER,)
        self.target: Role = self.roles[0]
        self.first: str | None = None
        body = BoxLayout(orientation="horizontal", padding=(16, 8), spacing=16)
        left = BoxLayout(orientation="vertical", spacing=6)
        if self.forced:
            left.add_widget(FitLabel(
                text=_("This is the factory PIN. Choose a new PIN before anything else."),
                ref="pin_forced", color=theme.ALARM_MEDIUM, size_hint_y=None, height=64,
                max_font_px=theme.SMALL_PX + 1))
        if len(self.roles) > 1:
            choice = BoxLayout(orientation="horizontal", spacing=8, size_hint_y=None,
                               height=56)
            self.role_buttons = {}
            for role in self.roles:
                button = KButton(text=role_name(role), ref=f"pin_role_{role.value}",
                                 height=56, font_size=theme.SMALL_PX,
                                 on_tap=lambda r=role: self.choose_role(r))
                self.role_buttons[role] = button
                choice.add_widget(button)
            left.add_widget(choice)
        self.prompt = FitLabel(text="", ref="pin_prompt", size_hint_y=None, height=40)
        left.add_widget(self.prompt)
        self.dots = PinDots(size_hint_y=None, height=48)
        left.add_widget(self.dots)
        self.message = FitLabel(text="", ref="pin_message", color=theme.ALARM_MEDIUM,
                                size_hint_y=None, height=96)
        left.add_widget(self.message)
        left.add_widget(Widget())
        body.add_widget(left)
        self.pad = PinPad(self.dots, self.submit)
        body.add_widget(self.pad)
        self.add_widget(body)
        self.choose_role(self.target)

    def _swap_back_button(self) -> None:
        """Forced: "Back" leaves service mode (there is nothing behind this page to go to)."""
        for child in self.title_bar.children:
            if getattr(child, "ref", "") == "back":
                child._on_tap = self.back

    def choose_role(self, role: Role) -> None:
        self.target, self.first = role, None
        self.pad.clear()
        for other, button in getattr(self, "role_buttons", {}).items():
            button.kind = "selected" if other is role else "neutral"
        self.prompt.text = _("New PIN for: {role}").format(role=role_name(role))

    def submit(self, digits: str) -> None:
        if self.first is None:
            weak = weakness(digits)
            if weak is not None:
                self.message.text = weakness_text(weak)
                return
            self.first = digits
            self.message.text = ""
            self.prompt.text = _("Type the new PIN again.")
            return
        first, self.first = self.first, None
        if digits != first:
            self.message.text = _("The two PINs differ. Type the new PIN again from the "
                                  "start.")
            self.prompt.text = _("New PIN for: {role}").format(role=role_name(self.target))
            return
        was_forced = self.forced
        decision = change_pin(self.app, self.target, digits)
        if decision.code is AccessCode.CHANGED:
            if was_forced:
                self.app.nav.replace("service")
                return
            self.message.text = _("The PIN was changed: {role}.").format(
                role=role_name(self.target))
            self.prompt.text = _("New PIN for: {role}").format(role=role_name(self.target))
            return
        self.message.text = self._refusal(decision)
        self.prompt.text = _("New PIN for: {role}").format(role=role_name(self.target))

    def _refusal(self, decision: AccessDecision) -> str:
        if decision.weakness is not None:
            return weakness_text(decision.weakness)
        return decision_text(decision, self.app.wall_now_s())
