"""The kiosk application: wires the screens to the controller (commands out, snapshots in).

The UI never touches the board. It submits commands (never blocking) and reads the control
thread's latest immutable snapshot at the poll rate (15 Hz by the Kivy clock), sending a
``Heartbeat`` with every poll: if the UI freezes, the control layer's heartbeat supervision cuts
the current. Closing the app sends ``Stop(SHUTDOWN)``; the caller (``kiosk.cli``) then stops the
controller, which leaves the board in the safe state.

The controller is either the in-process one (``kiosk --in-process``, the UI tests, benches: a
virtual clock is possible) or :class:`kiosk.ipc.client.RemoteController`, a client of the control
daemon over its socket. A remote controller says whether its snapshot is ``live``; while it is
not (no connection, or the newest snapshot older than 0.5 s), the screen is covered by "control
unit not answering" and no screen is updated from a stale snapshot.

Render only when something changed: Kivy draws a frame only when an instruction of the canvas
changed, and assigning a colour (even the same one) counts as a change. The fault overlay's band
was assigned its flash colour on every poll (15 frames a second on an unchanging fault screen);
it is now assigned only when the flash changes. The poll itself draws nothing when nothing
changed.

Tests drive the same object without ``App.run()``: they build it into the one window of the test
process, run the control loop on a virtual clock and call :meth:`KioskApp.poll` between steps, so
a ten-minute stage takes seconds and every run is the same.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from kivy.app import App
from kivy.clock import Clock
from kivy.graphics import Color, Rectangle
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.widget import Widget

from kiosk import i18n
from kiosk.access.operators import OperatorBook, operators_file
from kiosk.access.service_access import ServiceAccess, pin_file
from kiosk.control.commands import Command, EndSession, Heartbeat, Stop, StopReason
from kiosk.control.limits import SafetyConfig
from kiosk.control.snapshot import Snapshot, current_may_flow, treatment_may_drive
from kiosk.records import RecordStore, StorageError
from kiosk.records.events import LogEvent, stamp
from kiosk.screens import registry, service_base, theme
from kiosk.screens.base import KioskScreen
from kiosk.screens.fault_overlay import FaultOverlay
from kiosk.screens.flow import TreatmentFlow
from kiosk.screens.link_overlay import LinkOverlay
from kiosk.screens.storage_banner import StorageBanner
from kiosk.screens.widgets import KButton, find_ref

POLL_HZ = 15.0


class Controller(Protocol):
    """What the UI needs of the control layer: the command queue, the latest snapshot and the
    service queries (``query(what, **args) -> dict``, raising ``QueryRefused``)."""

    def submit(self, command: Command) -> None: ...

    def query(self, what: str, **args: Any) -> dict[str, Any]: ...

    @property
    def snapshot(self) -> Snapshot: ...


def link_is_live(controller: Controller) -> bool:
    """In-process controllers are always live; a remote one says so (``RemoteController.live``)."""
    return bool(getattr(controller, "live", True))


class GcPolicy:
    """Python's garbage collector in small, frequent pieces, so it never holds the GIL for long.

    Why: the control thread shares the GIL with the UI. A full (generation 2) collection over
    the widgets of a few discarded screens took 17-70 ms here, and the control loop's supervisor
    latches "loop_stall" (current cut) after 50 ms without a cycle. A full collection costs in
    proportion to the objects it looks at, so: everything alive after start-up is frozen out of
    collection (fonts, catalogue, Kivy's own objects), automatic full collections are switched
    off, and a full collection runs every tick instead, when it only has the current screen and
    the one or two screens just left to look at (a few milliseconds). While current may flow the
    loop trips "loop_overrun" at 20 ms late, so then only the young generations are collected
    (screens are not rebuilt during the current stage; its garbage is small).
    """

    TICK_S = 0.25
    NO_AUTOMATIC_FULL = 1_000_000

    def __init__(self) -> None:
        self.active = False
        self._thresholds = gc.get_threshold()

    def start(self) -> None:
        gc.collect()
        gc.freeze()
        first, second, _third = self._thresholds
        gc.set_threshold(first, second, self.NO_AUTOMATIC_FULL)
        self.active = True

    def tick(self, *, current_may_flow: bool = False) -> None:
        if self.active:
            gc.collect(1 if current_may_flow else 2)

    def stop(self) -> None:
        if self.active:
            self.active = False
            gc.set_threshold(*self._thresholds)
            gc.unfreeze()


class KioskApp(App):
    """The beautician's kiosk. ``inject`` (the simulated board's fault injection) only in --sim."""

    title = "Galvanic kiosk"

    def __init__(self, *, controller: Controller, catalogue: Any, records_view: Any,
                 inject: Callable[..., None] | None = None,
                 fault_names: Sequence[str] = (), autopoll: bool = True,
                 poll_hz: float = POLL_HZ, language: str = i18n.DEFAULT_LANGUAGE,
                 state_dir: Path | None = None, wall_now_s: Callable[[], float] = time.time,
                 contact_thresholds_kohm: tuple[float, float] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.controller = controller
        self.service_user: Any = None  # service_base.ServiceUser while in service mode
        self.catalogue = catalogue
        self.records_view = records_view
        self.inject = inject
        self.fault_names = tuple(fault_names)
        self.autopoll = autopoll
        self.poll_period_s = 1.0 / poll_hz
        # Service mode (issue 13): the PIN vault and the operators live in the UI's state
        # folder; lock-outs are wall-clock times (they outlive a restart).
        self.wall_now_s = wall_now_s
        self.service_access = ServiceAccess(None if state_dir is None else pin_file(state_dir),
                                            record=self.record_event)
        self.operators, self.operators_problem = (OperatorBook(None), None) \
            if state_dir is None else OperatorBook.open_or_set_aside(operators_file(state_dir))
        if contact_thresholds_kohm is None:
            defaults = SafetyConfig()
            contact_thresholds_kohm = (defaults.contact_start_max_kohm,
                                       defaults.contact_loss_kohm)
        self.contact_thresholds_kohm = contact_thresholds_kohm
        self.flow = TreatmentFlow()
        self.snapshot: Snapshot = controller.snapshot
        self.polls = 0
        self.screen: KioskScreen | None = None
        self.dev_panel: Widget | None = None
        self._poll_event: Any = None
        self._gc_event: Any = None
        self.gc_policy = GcPolicy()
        self._noted_fault_at_s: float | None = None
        self._ended_session_id: str | None = None
        i18n.set_language(language)
        self.nav = registry.Navigator(self._show)

    # -- Kivy life cycle --------------------------------------------------------------------
    def build(self) -> Widget:
        registry.discover()
        root = FloatLayout(size=theme.SCREEN_SIZE_PX)
        with root.canvas.before:
            Color(*theme.BACKGROUND)
            self._background = Rectangle(pos=root.pos, size=root.size)
        root.bind(size=lambda *_a: setattr(self._background, "size", root.size))
        root.bind(on_touch_down=lambda *_a: self.service_access.touched(self.now_s()))
        self.screen_host = FloatLayout(size_hint=(1, 1))
        root.add_widget(self.screen_host)
        self.overlay = FaultOverlay(self)
        self.link_overlay = LinkOverlay(root)
        self.root_widget = root
        self.storage_banner = StorageBanner(self)  # records not saved: on every screen (SR-042)
        self.nav.reset("home")
        return root

    def on_start(self) -> None:
        if self.autopoll:
            self._poll_event = Clock.schedule_interval(self.poll, self.poll_period_s)
        self.gc_policy.start()
        self._gc_event = Clock.schedule_interval(
            lambda _dt: self.gc_policy.tick(current_may_flow=self.current_may_flow()),
            GcPolicy.TICK_S)

    def on_stop(self) -> None:
        """Closing the app ends the current (the controller's stop then opens the relay)."""
        if self._poll_event is not None:
            self._poll_event.cancel()
            self._poll_event = None
        if self._gc_event is not None:
            self._gc_event.cancel()
            self._gc_event = None
        self.submit(Stop(StopReason.SHUTDOWN))
        self.gc_policy.stop()

    # -- the seam -----------------------------------------------------------------------------
    def submit(self, command: Command) -> None:
        self.controller.submit(command)

    def current_may_flow(self) -> bool:
        return current_may_flow(self.snapshot)

    def treatment_may_drive(self) -> bool:
        return treatment_may_drive(self.snapshot)

    def now_s(self) -> float:
        """The control clock as of the newest snapshot (stage timers run on it)."""
        return self.snapshot.time_s

    def poll(self, _dt: float | None = None) -> Snapshot:
        """Read the newest snapshot, say we are alive, update the overlay and the screen.

        With no live link to the control unit: cover the screen at once and update nothing from
        the old snapshot; when the link is back, the newest snapshot (with any fault latched
        meanwhile) goes to the overlay and the screen as usual."""
        if not link_is_live(self.controller):
            self.submit(Heartbeat())  # dropped by a remote controller without a connection
            self.link_overlay.show()
            return self.snapshot
        self.link_overlay.hide()
        snapshot = self.controller.snapshot
        self.snapshot = snapshot
        self.polls += 1
        self.submit(Heartbeat())
        service_base.tick(self)  # leaves service mode when current may flow, or when idle
        if self.flow.current_started and snapshot.session_id == self.flow.session_id:
            self.flow.stats.observe(snapshot)  # only this client's session counts
        if snapshot.fault is not None and snapshot.fault.at_s != self._noted_fault_at_s:
            self._noted_fault_at_s = snapshot.fault.at_s
            if self.flow.current_started:
                self.flow.note_event(snapshot.fault.at_s, f"fault:{snapshot.fault.code}")
        self.storage_banner.update(snapshot)
        self.overlay.update(snapshot)
        if self.screen is not None:
            self.screen.on_snapshot(snapshot)
        return snapshot

    # -- screens ------------------------------------------------------------------------------
    def _show(self, visit: registry.Visit) -> None:
        if self.screen is not None:
            self.screen.on_leave()
            self.screen_host.remove_widget(self.screen)
            self.screen = None
        screen_class = registry.SCREENS[visit.name]
        screen = screen_class(self, **visit.params)
        screen.build()
        if self.nav.current is not visit:
            return  # it sent us elsewhere while building (the service gate): that one shows
        self.screen = screen
        service_base.shown(self, visit.name)  # home ends service mode
        self.screen_host.add_widget(screen)
        screen.on_snapshot(self.snapshot)
        self.storage_banner.update(self.snapshot)  # over the new title bar
        self.overlay.raise_to_top()
        self.link_overlay.raise_to_top()
        Clock.schedule_once(  # the old screen, now
            lambda _dt: self.gc_policy.tick(current_may_flow=self.current_may_flow()), 0)

    def title_extras(self) -> list[Widget]:
        """Widgets at the right end of every title bar: the developer menu under --sim only."""
        if self.inject is None:
            return []
        return [KButton(text="DEV", ref="dev_menu", on_tap=self.toggle_dev_panel,
                        size_hint=(None, None), width=64, height=56,
                        font_size=theme.SMALL_PX)]

    def toggle_dev_panel(self) -> None:
        from kiosk.screens.dev_menu import DevPanel

        if self.dev_panel is not None:
            self.root_widget.remove_widget(self.dev_panel)
            self.dev_panel = None
            return
        self.dev_panel = DevPanel(self)
        self.root_widget.add_widget(self.dev_panel)
        self.overlay.raise_to_top()
        self.link_overlay.raise_to_top()

    def set_language(self, code: str) -> None:
        i18n.set_language(code)
        self.nav.redisplay()
        self.overlay.rebuild()
        self.storage_banner.update(self.snapshot)

    def find(self, ref: str) -> Widget | None:
        """The widget called ``ref`` on the screen, the overlay or the developer panel."""
        return find_ref(self.root_widget, ref)

    def start_new_treatment(self) -> None:
        self.end_control_session()  # whatever the last treatment left open (issue 12 item 0)
        self.flow = TreatmentFlow()
        self.nav.go("client")

    def choose_client(self, client_id: str, label: str) -> None:
        """The treatment is for this client: open the session record, go to the screening."""
        self.flow.client_id = client_id
        self.flow.client_label = label
        self.records_view.operator = self.operators.session_operator()  # who treats (home)
        self.records_view.begin(self.flow)
        self.nav.go("screening")

    def finish_treatment(self) -> None:
        self.end_control_session()
        self.flow = TreatmentFlow()
        self.nav.reset("home")

    def record_event(self, event: LogEvent) -> bool:
        """Append a UI decision (service entry, PIN change, operators) to the event log, in the
        records database this UI has open; False when it cannot be recorded."""
        store = getattr(self.records_view, "store", None)
        if not isinstance(store, RecordStore):
            return False
        try:
            store.append_events([stamp(event, time.monotonic(), self.wall_now_s())],
                                durable=event.is_safety_event)
        except StorageError:
            return False
        return True

    def end_control_session(self) -> None:
        """Leaving a treatment ends its control session (issue 12 item 0, SR-049): the next
        client can never resume it, nor inherit its program, polarity, caps or dose.

        Sent when the treatment is left for good (the summary's "Done", the screening's "end
        session", and, as a safety net, when the next client's treatment begins), not at "End
        current stage": the tonic screen leads back to the current screen, and a session ended
        there would let the same client start again with the session's dose and time counted
        from zero. The control core refuses it while current may flow (the current screen
        cannot be left then); a session left open that way refuses the next client's start
        (``session_still_open``) instead of being inherited.
        """
        open_ids = {self.snapshot.session_id}
        if self.flow.current_started:
            open_ids.add(self.flow.session_id)
        open_ids.discard(self._ended_session_id)  # already sent (the snapshot may lag a poll)
        for session_id in sorted(i for i in open_ids if i is not None):
            self.submit(EndSession(session_id))
            self._ended_session_id = session_id
