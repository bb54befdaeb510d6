"""Service: the two-point calibration a technician follows on the touchscreen (issue 13).

Steps: connect the reference resistor and the meter; measure point 1 (the device drives 0.5 mA
into the resistor) and type what the meter reads; point 2 (1.5 mA) the same; look at the gain
and offset computed for each channel against the ones in force; accept or refuse. Every action
is a command of the control layer (``CalibrationDrive``, ``CalibrationEnd``,
``SaveCalibration``); what the page shows comes from the ``calibration`` query (the computed
figures too, before anything is stored). The figures are typed on the page's own numeric pad.
"""

from __future__ import annotations

from typing import Any

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

from kiosk.access.pins import Role
from kiosk.control.commands import CalibrationDrive, CalibrationEnd, SaveCalibration
from kiosk.control.snapshot import Snapshot
from kiosk.i18n import N_, _, numbers
from kiosk.screens import theme
from kiosk.screens._service_numpad import NumPad, next_text, typed_value
from kiosk.screens.registry import register
from kiosk.screens.service_base import ServicePage
from kiosk.screens.texts import reason_text
from kiosk.screens.widgets import FitLabel, KButton

FIELDS = ("current", "voltage")
SHOWN_FIGURES = (  # (figure, label, decimals)
    ("dac_ua_per_lsb", N_("DAC, µA per code"), 5), ("dac_offset_ua", N_("DAC offset, µA"), 2),
    ("current_gain", N_("Current gain"), 5), ("current_offset_ma", N_("Current offset, mA"), 4),
    ("electrode_gain", N_("Voltage gain"), 5), ("electrode_offset_v", N_("Voltage offset, V"), 3),
)


def _fmt(value: float, places: int) -> str:
    return numbers.decimal(value, places)


@register
class ServiceCalibrationScreen(ServicePage):
    name = "service_calibration"
    service_roles = (Role.TECHNICIAN,)
    service_order = 20

    def title(self) -> str:
        return _("Calibration")

    # -- building ---------------------------------------------------------------------------
    def build_content(self) -> None:
        self.stage = "intro"  # intro | point1 | point2 | result | saved
        self.typed: dict[tuple[int, str], str] = {}
        self.selected = "current"
        self.preview: dict[str, Any] | None = None
        self.saved_before: str | None = None
        self.shown: tuple[Any, ...] | None = None
        body = BoxLayout(orientation="horizontal", padding=(theme.PADDING_PX, 4), spacing=10)
        left = BoxLayout(orientation="vertical", spacing=6)
        self.status = FitLabel(text="", ref="cal_status", size_hint_y=None, height=96)
        left.add_widget(self.status)
        self.middle = BoxLayout(orientation="vertical", spacing=6)
        left.add_widget(self.middle)
        self.note = FitLabel(text="", ref="cal_note", color=theme.TEXT_DIM, size_hint_y=None,
                             height=56, max_font_px=theme.SMALL_PX)
        left.add_widget(self.note)
        body.add_widget(left)
        self.pad = NumPad(self.key, prefix="cal", key_height_px=58, size_hint_x=None,
                          width=270)
        body.add_widget(self.pad)
        self.add_widget(body)
        self.end_button = KButton(text=_("End current"), ref="cal_end", on_tap=self.end_current,
                                  size_hint=(None, None), width=200)
        self.primary = self.primary_button("", "cal_primary", self.forward)
        self.add_widget(self.action_bar(self.end_button, primary=self.primary))
        self.show()

    # -- what the page shows ----------------------------------------------------------------
    def answer(self, **args: Any) -> dict[str, Any] | None:
        try:
            return self.app.controller.query("calibration", **args)
        except Exception as error:  # a refused query or a lost link: said on the page
            self.note.text = _("The control unit did not answer: {problem}").format(
                problem=str(error)[:120])
            return None

    def point(self) -> int:
        return 1 if self.stage == "point1" else 2

    def show(self, *, force: bool = True) -> None:
        info = self.answer()
        if info is None:
            return
        run = info["run"]
        refusal = self.app.snapshot.last_refusal
        meter = info["simulated_meter"]
        signature = (self.stage, run["step"], run["point"], run["driving"],
                     tuple(p is not None for p in run["points"]),
                     tuple(sorted(self.typed.items())), self.selected,
                     refusal.code if refusal is not None else None,
                     info["in_force"]["date"], (info["blocked"] or {}).get("code"))
        if not force and signature == self.shown:
            if meter is not None and self.stage in ("point1", "point2") \
                    and run["step"] == "hold":
                self.note.text = self.meter_text(meter)
            return
        self.shown = signature
        self.middle.clear_widgets()
        self.status.height = 96
        self.pad.disabled = True
        self.end_button.disabled = not run["driving"]
        self.primary.disabled = False
        self.end_button.text = _("End current")
        if self.stage == "intro":
            self.show_intro(info)
        elif self.stage in ("point1", "point2"):
            self.show_point(info, refusal)
        elif self.stage == "result":
            self.show_result(info)
        else:
            self.show_saved(info, refusal)

    def show_intro(self, info: dict[str, Any]) -> None:
        reference_kohm = info["reference_ohm"] / 1000.0
        self.status.text = _(
            "Take the electrodes away from any client. Connect the {kohm} kΩ reference "
            "resistor across the electrode leads, the meter in series for the current and "
            "across the resistor for the voltage.").format(kohm=_fmt(reference_kohm, 0))
        in_force = info["in_force"]
        self.middle.add_widget(FitLabel(
            text=_("In force: calibrated by {technician}, {date}.").format(
                technician=in_force["technician"], date=in_force["date"] or "-"),
            ref="cal_in_force", size_hint_y=None, height=40, max_font_px=theme.SMALL_PX + 1))
        blocked = info["blocked"]
        if blocked is not None:
            self.middle.add_widget(FitLabel(
                text=_("Treatments are blocked: {reason}").format(reason=blocked["text"]),
                ref="cal_blocked", color=theme.ALARM_MEDIUM, max_font_px=theme.SMALL_PX + 1))
        self.middle.add_widget(Widget())
        self.note.text = ""
        self.primary.text = _("Measure point 1")

    def show_point(self, info: dict[str, Any], refusal: Any) -> None:
        point = self.point()
        run = info["run"]
        measured = run["points"][point - 1]
        current_ma = info["points_ma"][point - 1]
        held = measured is not None and run["step"] == "hold" and run["point"] == point
        if held:
            self.status.text = _("Point {point}: {current} mA flows into the resistor. Type what "
                                 "the meter reads.").format(point=point,
                                                            current=_fmt(current_ma, 2))
        elif run["driving"]:
            self.status.text = _("Point {point}: driving {current} mA into the reference "
                                 "resistor and measuring...").format(
                point=point, current=_fmt(current_ma, 2))
        else:
            why = reason_text(refusal) if refusal is not None else ""
            self.status.text = _("No current: {why}").format(why=why) if why else \
                _("No current flows. Measure the point again.")
        grid = GridLayout(cols=2, spacing=6, size_hint_y=None, height=2 * 64 + 6)
        for field in FIELDS:
            label = _("Meter current, mA") if field == "current" else _("Meter voltage, V")
            grid.add_widget(FitLabel(text=label, size_hint_y=None, height=64))
            text = self.typed.get((point, field), "")
            grid.add_widget(KButton(
                text=text or _("tap to type"), ref=f"cal_field_{field}", disabled=not held,
                kind="primary" if held and field == self.selected else "neutral",
                height=64, size_hint_y=None, on_tap=lambda f=field: self.select(f)))
        self.middle.add_widget(grid)
        self.middle.add_widget(Widget())
        meter = info["simulated_meter"]
        self.note.text = self.meter_text(meter) if meter is not None and held else ""
        self.pad.disabled = not held
        complete = held and all(typed_value(self.typed.get((point, f), "")) is not None
                                for f in FIELDS)
        if not run["driving"] and not held:
            self.primary.text = _("Measure point {point}").format(point=point)
        else:
            self.primary.text = _("Measure point 2") if point == 1 else _("Compute")
            self.primary.disabled = not complete

    def show_result(self, info: dict[str, Any]) -> None:
        preview = self.preview or {}
        self.status.text = _("Computed from both points. Accept to store it and use it from "
                             "now on, or refuse to keep the calibration in force.")
        if not preview.get("ok"):
            refusal = preview.get("refusal") or {}
            self.middle.add_widget(FitLabel(
                text=_("Refused: {reason}").format(reason=refusal.get("text", "")),
                ref="cal_refused", color=theme.ALARM_MEDIUM, max_font_px=theme.SMALL_PX + 1))
            self.primary.text = _("Accept")
            self.primary.disabled = True
            self.note.text = _("Check the connections and the figures typed, then refuse and "
                               "start again.")
            self.end_button.text = _("Refuse")
            self.end_button.disabled = False
            return
        self.status.height = 72
        grid = GridLayout(cols=3, spacing=2, size_hint_y=None, height=7 * 26 + 12)
        for text in (_("Figure"), _("In force"), _("New")):
            grid.add_widget(FitLabel(text=text, color=theme.TEXT_DIM, size_hint_y=None,
                                     height=26, max_font_px=theme.SMALL_PX))
        for figure, label, places in SHOWN_FIGURES:
            grid.add_widget(FitLabel(text=_(label), size_hint_y=None, height=26,
                                     max_font_px=theme.SMALL_PX))
            grid.add_widget(FitLabel(text=_fmt(info["in_force"][figure], places),
                                     size_hint_y=None, height=26, max_font_px=theme.SMALL_PX))
            grid.add_widget(FitLabel(text=_fmt(preview["figures"][figure], places),
                                     ref=f"cal_new_{figure}", size_hint_y=None, height=26,
                                     max_font_px=theme.SMALL_PX))
        self.middle.add_widget(grid)
        self.middle.add_widget(Widget())
        self.note.text = ""
        self.primary.text = _("Accept")
        self.end_button.text = _("Refuse")
        self.end_button.disabled = False

    def show_saved(self, info: dict[str, Any], refusal: Any) -> None:
        in_force = info["in_force"]
        saved = in_force["date"] != self.saved_before and in_force["technician"] == self.who()
        if saved:
            self.status.text = _("Calibration saved by {technician} and in force.").format(
                technician=in_force["technician"])
        elif refusal is not None and refusal.code in ("calibration_refused",
                                                      "settings_not_stored"):
            self.status.text = reason_text(refusal)
        else:
            self.status.text = _("Storing the calibration...")
        self.primary.text = _("Done")
        self.primary.disabled = not saved and info["run"]["driving"]
        self.note.text = ""
        self.middle.add_widget(Widget())

    @staticmethod
    def meter_text(meter: dict[str, Any]) -> str:
        """Only on the simulated board: what its meter (the load model's truth) reads."""
        return _("Simulated meter: {current} mA, {voltage} V").format(
            current=_fmt(meter["current_ma"], 4), voltage=_fmt(meter["voltage_v"], 3))

    # -- actions ----------------------------------------------------------------------------
    def who(self) -> str:
        user = self.service_user
        return user.name if user is not None else ""

    def select(self, field: str) -> None:
        self.selected = field
        self.show()

    def key(self, key: str) -> None:
        slot = (self.point(), self.selected)
        self.typed[slot] = next_text(self.typed.get(slot, ""), key)
        self.show()

    def figures(self) -> dict[str, float]:
        values = {}
        for point in (1, 2):
            for field in FIELDS:
                value = typed_value(self.typed.get((point, field), ""))
                unit = "ma" if field == "current" else "v"
                values[f"point{point}_{field}_{unit}"] = value if value is not None else -1.0
        return values

    def forward(self) -> None:
        if self.stage == "intro":
            self.typed.clear()
            self.stage = "point1"
            self.selected = "current"
            self.app.submit(CalibrationDrive(1))
        elif self.stage in ("point1", "point2"):
            info = self.answer()
            if info is not None and not info["run"]["driving"]:
                self.app.submit(CalibrationDrive(self.point()))  # again, after a refusal
            elif self.stage == "point1":
                self.stage = "point2"
                self.selected = "current"
                self.app.submit(CalibrationDrive(2))
            else:
                self.preview = (self.answer(**self.figures()) or {}).get("preview")
                self.stage = "result"
        elif self.stage == "result":
            info = self.answer()
            self.saved_before = info["in_force"]["date"] if info is not None else None
            figures = self.figures()
            self.app.submit(SaveCalibration(self.who(), figures["point1_current_ma"],
                                            figures["point1_voltage_v"],
                                            figures["point2_current_ma"],
                                            figures["point2_voltage_v"]))
            self.stage = "saved"
        else:
            self.stage = "intro"
        self.show()

    def end_current(self) -> None:
        self.app.submit(CalibrationEnd())
        if self.stage in ("result", "saved"):
            self.stage = "intro"
            self.preview = None
        self.show()

    def on_snapshot(self, snapshot: Snapshot) -> None:
        if hasattr(self, "stage"):  # built (a refused visit goes to the PIN pad instead)
            self.show(force=False)

    def on_leave(self) -> None:
        if hasattr(self, "stage"):
            self.app.submit(CalibrationEnd())  # never leave a calibration current behind
