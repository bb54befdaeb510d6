"""The storage-fault banner: "records are not being saved", on every screen, until it clears.

Why a banner and not only the home screen's status: a storage fault latched during a treatment
(the records' ``-wal``/``-shm`` deleted, the database replaced, the disk full) changes nothing
on the current screen, the timers or the summary, so the beautician would go on believing that
the session is being recorded. The decision of issue 12 item 6 (SR-042, hazards H-25) is that a
current stage already running may finish (the client's current safety does not depend on the
disk; the monitors and limits keep running) while no new treatment can start; this banner says
exactly that, in plain words, within one UI poll of the fault.

Where it sits: over the title and the step of the screen's title bar (the title bar's own code
is untouched), never over Back, the title bar's buttons at the right (the help, the developer
menu), the screen's content or STOP. Everything the beautician acts on stays visible and usable;
what she loses while the fault lasts is the screen's title, which the content below repeats.
The fault overlay and the "control unit not answering" cover are drawn over it (they say more
urgent things). It is placed again after every screen change and language switch.

What it reads: the UI's records view (``healthy`` / ``fault_reason``, and its ``writer``'s
``fault_code`` when the records writer runs in this process) and the control snapshot's
``storage_ok`` (the control daemon's own writer, when the control runs in another process).

How it goes: the writer's fault is latched until storage works again and a person acknowledges
it (``RecordWriter.acknowledge_fault()``). The banner offers that acknowledgement to a
technician in service mode only (a beautician is asked to call service): acknowledging after
lost events moves the chain anchor on, which accepts the loss, so it is a technician's decision.
A refused acknowledgement (storage still failing) is said on the banner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kivy.clock import Clock
from kivy.graphics import Color, Rectangle
from kivy.uix.boxlayout import BoxLayout

from kiosk import i18n
from kiosk.access.pins import Role
from kiosk.control.snapshot import Snapshot
from kiosk.i18n import _
from kiosk.screens import theme
from kiosk.screens.widgets import FitLabel, KButton

if TYPE_CHECKING:
    from kiosk.app import KioskApp

DAEMON_STORAGE_CODE = "storage_fault"  # the control daemon says only "storage not ok"


@dataclass(frozen=True, slots=True)
class StorageAlert:
    """What the banner shows: the stable code for service, and whether this process can
    acknowledge it (its records writer runs here)."""

    code: str
    can_acknowledge: bool


def storage_alert(records_view: Any, snapshot: Snapshot) -> StorageAlert | None:
    """The storage fault to show now, or None when records are being saved.

    Any doubt counts as a fault: a records view that cannot say whether it is healthy is not."""
    writer = getattr(records_view, "writer", None)
    try:
        records_ok = bool(records_view.healthy)
    except Exception:  # a records view that cannot answer is not a working one
        records_ok = False
    if not records_ok:
        code = None
        if writer is not None:
            code = getattr(writer, "fault_code", None)
        problem = getattr(records_view, "problem", None)
        if code is None and problem is not None:
            code = "storage.ui_records"  # the UI's own connection to the records failed
        return StorageAlert(str(code or "storage.error"),
                            can_acknowledge=writer is not None and problem is None)
    if not snapshot.storage_ok:
        return StorageAlert(DAEMON_STORAGE_CODE, can_acknowledge=False)
    return None


class StorageBanner(BoxLayout):
    """The strip; ``update(snapshot)`` at every poll shows, refreshes or hides it."""

    def __init__(self, app: KioskApp) -> None:
        super().__init__(orientation="horizontal", size_hint=(None, None),
                         height=theme.TITLE_BAR_HEIGHT_PX, padding=(10, 2, 4, 2), spacing=6)
        self.app = app
        self.alert: StorageAlert | None = None
        self.refusal_text = ""
        self.visible = False
        self._shown_for: tuple[Any, ...] | None = None
        self._followed: list[Any] = []  # the title bar labels whose place the banner follows
        self._place_soon = Clock.create_trigger(lambda _dt: self.place())
        with self.canvas.before:
            Color(*theme.ALARM_MEDIUM)  # medium priority: records, not the current, failed
            self._band = Rectangle()
        self.bind(pos=self._sync, size=self._sync)

    def _sync(self, *_args: Any) -> None:
        self._band.pos = self.pos
        self._band.size = self.size

    # -- state ----------------------------------------------------------------------------
    def update(self, snapshot: Snapshot) -> None:
        alert = storage_alert(self.app.records_view, snapshot)
        if alert is None:
            if self.visible:
                self._hide()
            return
        if alert != self.alert:
            self.refusal_text = ""
        self.alert = alert
        if not self.visible:
            self.visible = True
            self.app.root_widget.add_widget(self, index=_index_above(
                self.app.root_widget, self.app.screen_host))
        self.place()
        key = (alert, self._technician(), self.refusal_text, i18n.current_language())
        if key != self._shown_for:  # rebuild only when what it says changes (no redraw/poll)
            self._shown_for = key
            self.rebuild()

    def _technician(self) -> bool:
        user = getattr(self.app, "service_user", None)
        return getattr(user, "role", None) is Role.TECHNICIAN

    # -- widgets --------------------------------------------------------------------------
    def rebuild(self) -> None:
        self.clear_widgets()
        if self.alert is None:
            return
        acknowledge = self.alert.can_acknowledge and self._technician()
        if self.refusal_text:
            text = self.refusal_text
        elif acknowledge:  # the technician: what and the code
            text = _("Records are not being saved (code {code}).").format(code=self.alert.code)
        else:
            text = _("Records are not being saved. A stage already running may finish; no new "
                     "treatment can start. Call service.")
        self.add_widget(FitLabel(text=text, ref="storage_banner_text", bold=True,
                                 color=theme.TEXT_DARK, max_font_px=theme.SMALL_PX + 1))
        if acknowledge:
            self.add_widget(KButton(text=_("Acknowledge"), ref="storage_acknowledge",
                                    kind="neutral", on_tap=self.acknowledge,
                                    size_hint=(None, None), width=170,
                                    height=theme.TITLE_BAR_HEIGHT_PX - 8))

    def acknowledge(self) -> None:
        """A technician acknowledges: the writer clears the latch only if storage works."""
        writer = getattr(self.app.records_view, "writer", None)
        if writer is None:
            return
        if writer.acknowledge_fault():
            self.refusal_text = ""
        else:
            self.refusal_text = _("Records still cannot be written: the fault stays until "
                                  "storage works again.")
        self.update(self.app.snapshot)

    # -- placement ------------------------------------------------------------------------
    def place(self) -> None:
        """Over the title and step of the screen's title bar, in window coordinates."""
        if not self.visible:
            return
        self._follow(_title_labels(self.app))
        left, right, bottom, top = _title_span(self.app)
        box = (left, bottom, right - left, top - bottom)
        if (self.x, self.y, self.width, self.height) != box:
            self.pos = (left, bottom)
            self.size = (right - left, top - bottom)

    def _follow(self, labels: list[Any]) -> None:
        """A new screen's title bar is laid out a frame later: follow its labels' moves."""
        if labels == self._followed:
            return
        for label in self._followed:
            label.unbind(pos=self._place_soon, size=self._place_soon)
        for label in labels:
            label.bind(pos=self._place_soon, size=self._place_soon)
        self._followed = labels

    def _hide(self) -> None:
        self._follow([])
        self.visible = False
        self.alert = None
        self.refusal_text = ""
        self._shown_for = None
        self.clear_widgets()
        if self.parent is not None:
            self.parent.remove_widget(self)


def _title_span(app: Any) -> tuple[float, float, float, float]:
    """(left, right, bottom, top) of the title and step labels of the shown screen's title bar;
    the whole top strip when the screen has none."""
    root = app.root_widget
    fallback = (root.x, root.right, root.top - theme.TITLE_BAR_HEIGHT_PX, root.top)
    bar = getattr(app.screen, "title_bar", None)
    labels = _title_labels(app)
    if bar is None or not labels:
        return fallback
    corners = [w.to_window(w.x, w.y) for w in labels] + \
        [w.to_window(w.right, w.top) for w in labels]
    bar_bottom = bar.to_window(bar.x, bar.y)[1]
    bar_top = bar.to_window(bar.right, bar.top)[1]
    return (min(x for x, _ in corners), max(x for x, _ in corners), bar_bottom, bar_top)


def _title_labels(app: Any) -> list[Any]:
    bar = getattr(app.screen, "title_bar", None)
    if bar is None:
        return []
    return [w for w in bar.children if getattr(w, "ref", "") in ("title", "step")]


def _index_above(root: Any, widget: Any) -> int:
    """Kivy's index for ``add_widget`` that draws just above ``widget`` (children[0] is drawn
    last): every overlay already above it stays above the banner."""
    return root.children.index(widget)
