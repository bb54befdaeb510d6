"""The technician's self-test (issue 13): the step list with pass/fail and each step's figure,
"run all", "run this step", the prompts a step needs, and the DAC EEPROM programming offer.

Logic lives in the control layer (``kiosk.control.selftest``): this page sends ``RunSelfTest``,
``ProgramDacEeprom`` and ``Stop`` as commands and reads the ``selftest_report`` query (every
half second, and at once after a tap). Texts are translated by the stable step and cause codes;
an unknown code shows the code itself rather than nothing.
"""

from __future__ import annotations

from typing import Any

from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout

from kiosk.control.commands import ProgramDacEeprom, RunSelfTest, Stop, StopReason
from kiosk.control.query_types import QueryRefused
from kiosk.control.snapshot import Snapshot
from kiosk.i18n import N_, _, numbers
from kiosk.screens import theme
from kiosk.screens.registry import register
from kiosk.screens.service_base import ServicePage
from kiosk.screens.widgets import FitLabel, KButton, Panel

REFRESH_S = 0.5
ROW_HEIGHT_PX = 58

STEP_TITLES: dict[str, str] = {
    "chips": N_("Chips answer"),
    "dac_eeprom": N_("DAC power-up memory"),
    "adc_noise": N_("ADC channels and noise"),
    "boost": N_("30 V supply"),
    "dac_linearity": N_("DAC readback"),
    "relays": N_("Relays K1 and K2"),
    "monostable": N_("Heartbeat cut-off"),
    "hw_trip": N_("Hardware current limit"),
    "estop": N_("Emergency stop"),
}

STEP_HELP: dict[str, str] = {
    "chips": N_("Both measuring chips (DAC and ADC) answer on the bus."),
    "dac_eeprom": N_("At power-up the DAC must start with its output off and at zero."),
    "adc_noise": N_("Each ADC channel reads its test signal with normal noise. Connect the "
                    "reference load."),
    "boost": N_("The electrode supply reaches 30 V within 5 %. Nothing is connected."),
    "dac_linearity": N_("The current setting reads back right at five points. Nothing is "
                        "connected."),
    "relays": N_("A test current of 0.05 mA into the reference load shows that K1 and K2 "
                 "switch. Connect the reference load."),
    "monostable": N_("Without the control heartbeat the board must cut the output by itself "
                     "within about 0.1 s. Connect the reference load."),
    "hw_trip": N_("The hardware current limit must latch and reset. It is tested through the "
                  "proposed trip-test input, which the board does not have yet."),
    "estop": N_("Press the emergency stop when asked, then release it."),
}

STATUS_WORDS: dict[str, str] = {
    "not_run": N_("not run"),
    "running": N_("running"),
    "passed": N_("passed"),
    "failed": N_("FAILED"),
    "skipped": N_("skipped"),
    "aborted": N_("stopped"),
}

CAUSE_TEXTS: dict[str, str] = {
    "dac_not_answering": N_("The DAC does not answer."),
    "adc_not_answering": N_("The ADC does not answer."),
    "eeprom_not_safe": N_("The DAC would start with its output on: program its memory."),
    "eeprom_write_failed": N_("Programming the DAC's memory failed."),
    "channel_dead": N_("ADC channel {channel} reads nothing."),
    "channel_stuck": N_("ADC channel {channel} shows no noise: the converter is stuck."),
    "channel_noisy": N_("ADC channel {channel} is too noisy."),
    "no_test_current": N_("No test current flows: see the relay step."),
    "current_not_measured": N_("The current flows but is not measured: see the ADC step."),
    "voltage_not_measured": N_("The electrode voltage is not measured: see the ADC step."),
    "boost_out_of_range": N_("The 30 V supply is out of range."),
    "readback_off": N_("The current setting reads back wrong."),
    "k1_stays_closed": N_("K1 stays closed: current flows with K1 released."),
    "k1_does_not_close": N_("K1 does not close."),
    "k2_stays_reversed": N_("K2 stays in the reversed position."),
    "k2_does_not_switch": N_("K2 does not switch."),
    "reference_load_missing": N_("The reference load is not connected."),
    "node_did_not_bleed": N_("The output did not discharge."),
    "k1_not_dropped": N_("K1 stayed closed without the heartbeat."),
    "dropped_too_early": N_("The output was cut too early."),
    "dropped_too_late": N_("The output was cut too late."),
    "latched_before_test": N_("The hardware limit was already tripped."),
    "no_trip_test_input": N_("This board has no trip-test input."),
    "trip_did_not_latch": N_("The hardware current limit did not trip."),
    "latch_did_not_hold": N_("The hardware current limit did not stay tripped."),
    "latch_did_not_reset": N_("The hardware current limit did not reset."),
    "estop_loop_open": N_("The emergency stop loop is open."),
    "no_press_seen": N_("No emergency stop press was seen."),
    "estop_not_released": N_("The emergency stop was not released."),
    "press_not_signalled": N_("The press did not reach the control."),
    "chips_not_answering": N_("Skipped: the chips do not answer."),
    "step_timeout": N_("The step took too long."),
    "trip_pending": N_("A safety cut-off happened during the step."),
    "bus_error": N_("Bus error during the step."),
    "stop": N_("Stopped with STOP."),
    "estop": N_("Stopped by the emergency stop."),
}

PROMPTS: dict[str, str] = {
    "press_estop": N_("Press the emergency stop now."),
    "release_estop": N_("Release the emergency stop now."),
}

REFUSALS: dict[str, str] = {
    "selftest_not_idle": N_("The self-test runs only when no treatment session is open."),
    "selftest_running": N_("A self-test is already running."),
    "selftest_unknown_step": N_("There is no such self-test step."),
    "selftest_fault_limits": N_("A fault is active ({fault_code}): only {allowed} can run. "
                                "Acknowledge the fault for the other steps."),
}

UNITS: dict[str, str] = {
    "V": N_("V"), "uA": N_("µA"), "kOhm": N_("kΩ"), "ms": N_("ms"), "s": N_("s"),
    "LSB": N_("LSB"), "chips": N_("of 2"), "code": N_("code"),
}


def figure_text(step: dict[str, Any]) -> str:
    figure = step.get("figure")
    if figure is None:
        return ""
    unit = str(step.get("unit", ""))
    places = 0 if unit in ("chips", "code") else (2 if unit in ("V", "LSB", "s") else 1)
    unit_text = _(UNITS[unit]) if unit in UNITS else unit
    return f"{numbers.decimal(float(figure), places)}\u00a0{unit_text}"  # never split


def cause_text(step: dict[str, Any]) -> str:
    cause = str(step.get("cause", ""))
    if not cause:
        return ""
    template = CAUSE_TEXTS.get(cause)
    if template is None:
        return cause
    try:
        return numbers.format_template(_(template), **dict(step.get("details", {})))
    except (KeyError, ValueError, IndexError):
        return cause


@register
class ServiceSelfTestScreen(ServicePage):
    name = "service_selftest"
    service_order = 10

    def title(self) -> str:
        return _("Self-test")

    def build_content(self) -> None:
        self._report: dict[str, Any] | None = None
        self._selected = "chips"
        self._refreshed_s = -1e9
        self._rows: dict[str, KButton] = {}
        self._refusal_before_tap = self.app.snapshot.last_refusal
        body = BoxLayout(orientation="vertical", padding=(theme.PADDING_PX, 6), spacing=6)
        grid = GridLayout(cols=3, spacing=6, size_hint_y=None,
                          height=3 * ROW_HEIGHT_PX + 2 * 6)
        for name in STEP_TITLES:
            row = KButton(text="", ref=f"selftest_step_{name}", height=ROW_HEIGHT_PX,
                          font_size=theme.SMALL_PX,
                          on_tap=lambda step=name: self._select(step))
            self._rows[name] = row
            grid.add_widget(row)
        body.add_widget(grid)
        panel = Panel(orientation="vertical", padding=(10, 2))
        self.message = FitLabel(text="", ref="selftest_message", max_font_px=theme.SMALL_PX + 1)
        panel.add_widget(self.message)
        body.add_widget(panel)
        self.add_widget(body)
        self.run_step = KButton(text=_("Run this step"), ref="selftest_run_step",
                                on_tap=self._run_selected, size_hint_x=None, width=170)
        self.program = KButton(text=_("Program DAC memory"), ref="selftest_program_eeprom",
                               kind="warning", on_tap=self._program_eeprom,
                               size_hint_x=None, width=200)
        self.run_all = self.primary_button(_("Run all"), "selftest_run_all", self._run_all)
        self.add_widget(self.action_bar(self.run_step, self.program, primary=self.run_all))
        self._refresh(force=True)

    # -- taps -----------------------------------------------------------------------------------
    def _select(self, step: str) -> None:
        self._selected = step
        self._show()

    def _run_selected(self) -> None:
        self._refusal_before_tap = self.app.snapshot.last_refusal
        self.app.submit(RunSelfTest(self._selected))
        self._refreshed_s = -1e9

    def _run_all(self) -> None:
        self._refusal_before_tap = self.app.snapshot.last_refusal
        if self._report is not None and self._report.get("active"):
            self.app.submit(Stop(StopReason.OPERATOR))  # STOP ends the run; the board goes safe
        else:
            self.app.submit(RunSelfTest(None))
        self._refreshed_s = -1e9

    def _program_eeprom(self) -> None:
        self._refusal_before_tap = self.app.snapshot.last_refusal
        self.app.submit(ProgramDacEeprom())
        self._refreshed_s = -1e9

    # -- the report -----------------------------------------------------------------------------
    def on_snapshot(self, snapshot: Snapshot) -> None:
        self._refresh(now_s=snapshot.time_s)

    def _refresh(self, *, now_s: float = 0.0, force: bool = False) -> None:
        if not force and now_s - self._refreshed_s < REFRESH_S:
            return
        self._refreshed_s = now_s
        try:
            self._report = self.app.controller.query("selftest_report")
        except QueryRefused:
            self._report = None
        self._show()

    def _show(self) -> None:
        report = self._report
        steps = {s["step"]: s for s in report["steps"]} if report else {}
        for name, row in self._rows.items():
            step = steps.get(name, {"status": "not_run"})
            status = str(step.get("status", "not_run"))
            result = " ".join(p for p in (_(STATUS_WORDS.get(status, status)),
                                          figure_text(step)) if p)
            row.text = f"{_(STEP_TITLES[name])}: {result}"
            row.kind = {"passed": "primary", "failed": "stop",
                        "running": "warning"}.get(status, "neutral")
            row.bold = name == self._selected  # the step "Run this step" runs
        active = bool(report and report.get("active"))
        self.run_all.text = _("Stop test") if active else _("Run all")
        self.run_all.kind = "stop" if active else "primary"
        self.run_step.disabled = active or report is None
        eeprom = steps.get("dac_eeprom", {})
        offer = eeprom.get("cause") == "eeprom_not_safe" and not active
        self.program.disabled = not offer
        self.program.opacity = 1.0 if offer else 0.0
        self.message.text, self.message.color = self._message(report, steps)

    def _message(self, report: dict[str, Any] | None,
                 steps: dict[str, dict[str, Any]]) -> tuple[str, Any]:
        if report is None:
            return _("The self-test report cannot be read now."), theme.ALARM_MEDIUM
        prompt = report.get("prompt")
        if prompt:
            return _(PROMPTS.get(prompt, prompt)), theme.ALARM_MEDIUM
        refusal = self.app.snapshot.last_refusal
        if refusal is not None and refusal.code in REFUSALS:
            try:
                text = numbers.format_template(_(REFUSALS[refusal.code]), **dict(refusal.details))
            except (KeyError, ValueError, IndexError):
                text = refusal.text
            if refusal != self._refusal_before_tap:  # refused since the last tap
                return text, theme.ALARM_MEDIUM
        step = steps.get(self._selected, {})
        lines = [f"{_(STEP_TITLES[self._selected])}: {_(STEP_HELP[self._selected])}"]
        cause = cause_text(step)
        if cause:
            lines.append(cause)
        colour = theme.ALARM_MEDIUM if step.get("status") == "failed" else theme.TEXT
        return "\n".join(lines), colour
