"""Service: export the records to a USB stick (issue 13), for a technician or a salon manager.

The page finds the mounted removable drive (``kiosk.usb``: udisks2 on the device, a folder under
``--sim`` or the app's own ``usb_source`` in tests), writes the export with the device identity
on a worker thread (the screen keeps answering; the worker opens its own read-only connection to
the records, SQLite's one-connection-per-thread rule) and says, only once the export is complete,
read back, renamed to its final name, synced and the stick released, that the stick may be
pulled. Each failure gets its own plain sentence and the reassurance that the device's own log
lost nothing (the export only reads it); an incomplete export is never shown as complete.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.access.pins import Role
from kiosk.control.snapshot import Snapshot
from kiosk.i18n import _
from kiosk.records import LogEvent, RecordStore, StorageError
from kiosk.screens import theme
from kiosk.screens.registry import register
from kiosk.screens.service_base import ServicePage
from kiosk.screens.widgets import FitLabel, KButton, Panel
from kiosk.usb.export_job import (
    FULL,
    READ_ONLY,
    RECORDS_UNREADABLE,
    REMOVED,
    VERIFY_FAILED,
    DriveExport,
    UsbExportError,
    device_identity,
    export_to_drive,
)
from kiosk.usb.sources import DriveLookupError, DriveSource, source_from_environment
from kiosk.usb.udisks import Drive

NOTHING_LOST = "nothing_lost"


@dataclass
class _Job:
    """What the worker thread hands back (set on the worker, read by the UI at its poll)."""

    kind: str  # "lookup" or "export"
    done: bool = False
    drives: list[Drive] | None = None
    result: DriveExport | None = None
    error_code: str | None = None
    error_text: str = ""
    partial: Path | None = None
    writing: str = ""  # the file being written now


def failure_text(code: str, detail: str) -> str:
    """The plain sentence for an export that did not complete."""
    texts = {
        FULL: _("The stick is full. Free some space on it or use another stick."),
        READ_ONLY: _("The stick cannot be written: it is write-protected or read-only. Use "
                     "another stick."),
        REMOVED: _("The stick was pulled out before the export was complete. Put it back and "
                   "export again."),
        VERIFY_FAILED: _("The stick did not keep what was written (checked after writing). "
                         "Use another stick."),
        RECORDS_UNREADABLE: _("The records cannot be read: {detail}").format(detail=detail),
    }
    return texts.get(code, _("The stick reported an error while writing: {detail}").format(
        detail=detail))


@register
class ServiceExportScreen(ServicePage):
    name = "service_export"
    service_roles = (Role.TECHNICIAN, Role.MANAGER)
    service_order = 40

    def __init__(self, app: Any, **params: Any) -> None:
        super().__init__(app, **params)
        self.drives: list[Drive] = []
        self.lookup_problem = ""
        self.include_personal = False
        self.job: _Job | None = None
        self.shown_job: _Job | None = None
        self.outcome: str = ""  # "done", "failed" or ""
        self.message = ""
        self.look()

    # -- the source -------------------------------------------------------------------------
    def source(self) -> DriveSource:
        given = getattr(self.app, "usb_source", None)
        if given is not None:
            return given  # type: ignore[no-any-return]
        return source_from_environment(sim=self.app.inject is not None)

    def busy(self) -> bool:
        return self.job is not None and not self.job.done

    def title(self) -> str:
        return _("Export to USB")

    def back_allowed(self) -> bool:
        return not self.busy()

    # -- widgets ----------------------------------------------------------------------------
    def build_content(self) -> None:
        body = BoxLayout(orientation="vertical", padding=(16, 8), spacing=8)
        panel = Panel(orientation="vertical", padding=(12, 6), spacing=2, size_hint_y=None,
                      height=112)
        panel.add_widget(FitLabel(text=self.drive_text(), ref="usb_drive", bold=True,
                                  size_hint_y=None, height=44))
        panel.add_widget(FitLabel(text=self.contents_text(), ref="usb_contents",
                                  color=theme.TEXT_DIM, max_font_px=theme.SMALL_PX + 1))
        body.add_widget(panel)
        choice = BoxLayout(orientation="horizontal", spacing=10, size_hint_y=None,
                           height=theme.PRIMARY_HEIGHT_PX)
        choice.add_widget(KButton(
            text=_("Without client names"), ref="usb_anonymous",
            kind="neutral" if self.include_personal else "selected",
            on_tap=lambda: self.choose_personal(False), disabled=self.busy()))
        choice.add_widget(KButton(
            text=_("With client names and answers"), ref="usb_personal",
            kind="selected" if self.include_personal else "neutral",
            on_tap=lambda: self.choose_personal(True), disabled=self.busy()))
        body.add_widget(choice)
        colour = {"done": theme.CONTACT_GOOD, "failed": theme.ALARM_MEDIUM}.get(self.outcome,
                                                                                 theme.TEXT)
        self.message_label = FitLabel(text=self.message, ref="usb_message", color=colour,
                                      bold=self.outcome != "")
        body.add_widget(self.message_label)
        body.add_widget(Widget(size_hint_y=None, height=2))
        self.add_widget(body)
        refresh = KButton(text=_("Look again"), ref="usb_refresh", on_tap=self.look,
                          disabled=self.busy(), size_hint=(None, None), width=220,
                          height=theme.PRIMARY_HEIGHT_PX)
        export = self.primary_button(_("Export"), "usb_export", self.export,
                                     enabled=bool(self.drives) and not self.busy())
        self.add_widget(self.action_bar(refresh, Widget(), primary=export))

    def drive_text(self) -> str:
        if self.job is not None and self.job.kind == "lookup" and not self.job.done:
            return _("Looking for a USB stick…")
        if self.lookup_problem:
            return _("USB sticks cannot be listed: {detail}. Call service.").format(
                detail=self.lookup_problem)
        if not self.drives and self.outcome == "done":
            return _("The stick was written and released.")
        if not self.drives:
            return _("No USB stick found. Insert one and tap Look again.")
        return _("USB stick: {name}").format(name=self.drives[0].name)

    def contents_text(self) -> str:
        if self.include_personal:
            return _("Everything, with client names, screening answers and sensations: "
                     "personal data, keep the stick safe.")
        return _("Event log, sessions and clients by code only, with the device's serial, "
                 "versions and a checksum list.")

    def choose_personal(self, include: bool) -> None:
        self.include_personal = include
        self.build()

    # -- jobs -------------------------------------------------------------------------------
    def look(self) -> None:
        if self.busy():
            return
        job = _Job("lookup")
        self.job = job
        source = self.source()

        def work() -> None:
            try:
                job.drives = source.drives()
            except DriveLookupError as exc:
                job.error_code, job.error_text = exc.code, exc.text
            finally:
                job.done = True

        threading.Thread(target=work, name="usb-lookup", daemon=True).start()

    def export(self) -> None:
        if self.busy() or not self.drives:
            return
        store_path = getattr(getattr(self.app.records_view, "store", None), "path", None)
        identity = device_identity(getattr(self.app.controller, "query", None))
        drive, personal, source = self.drives[0], self.include_personal, self.source()
        job = _Job("export")
        self.job = job
        self.outcome, self.message = "", _("Writing… Do not pull the stick out.")

        def progress(path: Path) -> None:
            job.writing = path.name

        def work() -> None:
            try:
                if store_path is None:
                    raise UsbExportError(RECORDS_UNREADABLE, str(
                        getattr(self.app.records_view, "fault_reason", "")))
                try:
                    store = RecordStore.open(store_path, read_only=True)
                except StorageError as exc:
                    raise UsbExportError(RECORDS_UNREADABLE, str(exc)) from exc
                try:
                    job.result = export_to_drive(store, drive, identity,
                                                 include_personal_data=personal,
                                                 release=source.release,
                                                 on_file_written=progress)
                finally:
                    store.close()
            except UsbExportError as exc:
                job.error_code, job.error_text, job.partial = exc.code, exc.text, exc.partial
            except Exception as exc:  # the worker never dies silently: the screen says it
                job.error_code, job.error_text = "usb.write_failed", repr(exc)
            finally:
                job.done = True

        threading.Thread(target=work, name="usb-export", daemon=True).start()
        self.build()

    def on_snapshot(self, snapshot: Snapshot) -> None:
        job = self.job
        if job is None:
            return
        label = getattr(self, "message_label", None)
        if label is None:  # not admitted: the PIN pad took its place
            return
        if not job.done:
            if job.kind == "export" and job.writing:
                text = _("Writing {file}… Do not pull the stick out.").format(file=job.writing)
                if label.text != text:
                    label.text = text
            return
        if job is self.shown_job:
            return
        self.shown_job = job
        if job.kind == "lookup":
            self.drives = job.drives or []
            self.outcome, self.message = "", ""
            self.lookup_problem = job.error_text if job.error_code else ""
        else:
            self._finish_export(job)
        self.build()

    def _finish_export(self, job: _Job) -> None:
        result = job.result
        if result is not None:
            self.outcome = "done"
            checked = _("Export complete and checked: {files} files in {folder}.").format(
                files=result.files, folder=result.folder.name)
            if result.released:
                pull = _("You may pull the stick out now.")
            else:
                pull = _("Everything is written and flushed; the stick could not be released "
                         "({problem}). You may pull it out now.").format(
                    problem=result.release_problem or "-")
            self.message = f"{checked} {pull}"
            self._log("records.exported", "info", {"folder": result.folder.name,
                                                   "files": result.files,
                                                   "personal_data": self.include_personal})
            self.drives = []  # released: look again before the next export
            return
        self.outcome = "failed"
        parts = [failure_text(job.error_code or "", job.error_text),
                 _("Nothing was lost from the device's log.")]
        if job.partial is not None:
            parts.append(_("An incomplete folder {name} is left on the stick: delete it.")
                         .format(name=job.partial.name))
        self.message = " ".join(parts)
        self._log("records.export_failed", "medium", {"code": job.error_code,
                                                      "detail": job.error_text[:200]})

    def _log(self, code: str, severity: str, details: dict[str, Any]) -> None:
        """The export's outcome in the device's log, where this process has the writer."""
        writer = getattr(self.app.records_view, "writer", None)
        user = self.service_user
        if writer is not None:
            writer.post(LogEvent(code, self.message[:300], severity,
                                 {**details, "by": user.name if user else None,
                                  "role": user.role.value if user else None}, durable=True))
