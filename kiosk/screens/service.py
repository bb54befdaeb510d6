"""The service menu: the device's health at a glance, and every service page the role may open.

The pages are whatever is registered: every :class:`~kiosk.screens.service_base.ServicePage`
in the screen registry that admits the signed-in role, in ``service_order`` (then by name), so
a page added later appears without touching this file. "Leave service mode" ends it (and the
idle timeout or current that starts to flow end it on their own).
"""

from __future__ import annotations

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

from kiosk.access.pins import Role
from kiosk.control.snapshot import Snapshot
from kiosk.i18n import _
from kiosk.screens import theme
from kiosk.screens.registry import SCREENS, register
from kiosk.screens.service_base import ServicePage, ServiceUser, leave
from kiosk.screens.service_pin_change import role_name
from kiosk.screens.widgets import FitLabel, KButton, Panel

MENU_COLUMNS = 3
MENU_ROW_PX = 60


def menu_pages(user: ServiceUser | None) -> list[type[ServicePage]]:
    """The registered service pages ``user`` may open, in menu order."""
    pages = [cls for cls in SCREENS.values()
             if isinstance(cls, type) and issubclass(cls, ServicePage) and cls.in_menu
             and cls.admits(user)]
    return sorted(pages, key=lambda cls: (cls.service_order, cls.name))


@register
class ServiceScreen(ServicePage):
    name = "service"
    service_roles = (Role.TECHNICIAN, Role.MANAGER)
    service_order = 0
    in_menu = False

    def title(self) -> str:
        return _("Service")

    def build_content(self) -> None:
        records = self.app.records_view
        body = BoxLayout(orientation="vertical", padding=(12, 6), spacing=6)
        status = Panel(orientation="vertical", padding=(10, 2), size_hint_y=None, height=96)
        user = self.service_user
        status.add_widget(FitLabel(
            text=_("Signed in: {role}").format(role=role_name(user.role) if user else "-"),
            ref="service_role", size_hint_y=None, height=30, max_font_px=theme.SMALL_PX + 1))
        self.selftest = FitLabel(text="", ref="service_selftest", size_hint_y=None, height=30,
                                 max_font_px=theme.SMALL_PX + 1)
        status.add_widget(self.selftest)
        report = records.verify_chain() if records.healthy else None
        if not records.healthy:
            chain = _("Records: {reason}").format(reason=records.fault_reason)
        elif report is None:
            chain = _("Event log: cannot be read")
        elif report.ok:
            chain = _("Event log intact: {count} entries verified").format(
                count=report.rows_checked)
        else:
            chain = _("Event log broken at entry {seq}: {problem}").format(
                seq=report.first_bad_seq, problem=report.problem)
        status.add_widget(FitLabel(text=chain, ref="service_chain", size_hint_y=None,
                                   height=30, max_font_px=theme.SMALL_PX + 1,
                                   color=theme.TEXT if report is not None and report.ok
                                   else theme.ALARM_MEDIUM))
        body.add_widget(status)
        pages = menu_pages(user)
        rows = max(1, -(-len(pages) // MENU_COLUMNS))
        grid = GridLayout(cols=MENU_COLUMNS, spacing=8, size_hint_y=None,
                          height=rows * MENU_ROW_PX + (rows - 1) * 8)
        for page in pages:
            grid.add_widget(KButton(text=page(self.app).title(), ref=f"menu_{page.name}",
                                    height=MENU_ROW_PX, font_size=theme.SMALL_PX + 1,
                                    on_tap=lambda name=page.name: self.app.nav.go(name)))
        body.add_widget(grid)
        body.add_widget(Widget())
        self.add_widget(body)
        self.add_widget(self.action_bar(KButton(
            text=_("Leave service mode"), ref="service_leave", size_hint=(None, None),
            width=300, height=theme.PRIMARY_HEIGHT_PX, on_tap=lambda: leave(self.app))))

    def on_snapshot(self, snapshot: Snapshot) -> None:
        if snapshot.healthy and snapshot.fault is None:
            text = _("Self-test: passed")
        elif snapshot.fault is not None:
            text = _("Self-test / fault: {code}").format(code=snapshot.fault.code)
        else:
            text = _("Self-test: not passed")
        if self.selftest.text != text:
            self.selftest.text = text
