"""The pure control core: one call per 10 ms cycle, values in, values out, no I/O, no clock.

The shell (control thread) reads the board into :class:`Measurements`, calls :meth:`ControlCore
.step` with the cycle time and the commands that arrived, applies the :class:`Actuation` and
publishes the :class:`Snapshot`. Faults the shell sees itself (I2C error, loop overrun, E-stop
edge, supervisor trip) enter through :meth:`ControlCore.latch_fault`. Everything here is
deterministic, so the whole treatment runs in tests on a virtual clock and a plant model.

Per cycle, in this order:
1. the monitors judge the reading against what was commanded when it was taken;
   any fault latches and the outputs go to the safe state in this same cycle;
2. the dose integrates the measured current;
3. the commands are handled (each refusal comes back as a Reason, never an exception);
4. the sequences advance (contact check, ramp and end planning, closing);
5. the outputs are computed (ramp, PI) and checked against the invariants; a violated
   invariant is a bug and ends as an ``internal_error`` fault, never as a wrong output.

Not thread-safe: call it from the control thread only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from kiosk.control import domain_limits as lim
from kiosk.control.calibration import Calibration
from kiosk.control.catalogue import Catalogue
from kiosk.control.codes import Reason
from kiosk.control.commands import (
    SERVICE_COMMAND_TYPES,
    Acknowledge,
    AdjustCurrent,
    CalibrationEnd,
    Chirp,
    Command,
    EndSession,
    Heartbeat,
    Pause,
    Polarity,
    ProgramDacEeprom,
    Resume,
    RunSelfTest,
    ServiceCommand,
    StartTreatment,
    Stop,
    StopReason,
)
from kiosk.control.cycle import Actuation, CycleResult, Measurements
from kiosk.control.dose import DoseIntegrator
from kiosk.control.limits import (
    ResolvedProgram,
    SafetyConfig,
    boost_window_v,
    resolve_adjustment,
    resolve_program,
)
from kiosk.control.monitors import (
    FROZEN_READINGS_COUNT,
    MonitorContext,
    MonitorReport,
    SafetyMonitors,
)
from kiosk.control.ramp import SetpointRamp, normal_ramp_duration_s
from kiosk.control.reasons import DEVICE_FAULT_CODES, Code, Kind, make, spec_of
from kiosk.control.regulator import CurrentRegulator, RegulatorTuning, output_limit_ma
from kiosk.control.salon_limits import SalonLimits
from kiosk.control.selftest.admission import admit
from kiosk.control.service_work import ServiceWork
from kiosk.control.session import Session
from kiosk.control.snapshot import CURRENT_MAY_FLOW_STATES, FaultInfo, Snapshot, TreatmentState
from kiosk.control.state_machine import (
    CURRENT_STATES,
    Drive,
    StateTracker,
    Step,
    TransitionError,
    output_plan,
)
from kiosk.control.validation import validate_command

__all__ = [
    "Actuation",
    "ControlCore",
    "CycleResult",
    "Measurements",
    "SelfTestReadings",
    "SelfTestResult",
]

S = TreatmentState
DEFAULT_MA_PER_CODE = 0.0006197
"""hardware.md 5: 3.30 V / 4096 x 0.076923 / 100 Ω per DAC code."""
AUX_EVERY_CYCLES = 5
"""AIN2 / AIN3 are read on every 5th cycle. hardware.md 5 suggests every 10th; every 5th halves
the time a stuck ADC or DAC stays unseen (the readback is what exposes ``adc_stuck``: ~50 ms
instead of ~100 ms to the safe state) at the same worst cycle (~2 ms longer, as before) and
~0.2 ms more bus time per cycle on average."""
SETTLE_MARGIN_S = 0.001
"""A reading counts as 'after the action settled' only if taken this much past the settle time:
the action is applied a little after the cycle time that decided it."""
HW_TRIP_RESET_GRACE_S = 0.2
DOSE_PROJECTION_MARGIN = 1.03
"""The ramp-down's dose is projected 3 % high, so the ramp-down ends at, not past, the cap."""
MIN_REMAINING_DOSE_MA_MIN = lim.MIN_TARGET_MA * lim.RAMP_MIN_DURATION_S / 60.0
"""A 30 s ramp up and down at 0.05 mA: less dose left than this is no treatment."""
CONTACT_POOR_FACTOR = 2.0
CONTACT_POOR_CLEAR_FACTOR = 1.5
CHIRP_S = 0.15  # one short information beep (a timer ran out)


@dataclass(frozen=True, slots=True)
class SelfTestReadings:
    """hardware.md 8 step 1, as the shell read it with the DAC at zero and the relay open."""

    dac_answers: bool
    adc_answers: bool
    dac_eeprom_power_down: int | None  # PD bits stored in the EEPROM (must be 1: 1 kΩ to GND)
    dac_eeprom_code: int | None  # code stored in the EEPROM (must be 0)
    hw_trip_ok: bool
    estop_intact: bool
    current_ma: float | None  # AIN0 (must be < 10 uA)
    electrode_v: float | None  # AIN1 (must be < 0.5 V)


@dataclass(frozen=True, slots=True)
class SelfTestResult:
    passed: bool
    failed_checks: tuple[str, ...]
    reason: Reason


def boot_check_failures(readings: SelfTestReadings) -> tuple[str, ...]:
    """hardware.md 8 step 1: the names of the checks ``readings`` fail (empty: all pass).
    One definition for the boot self-test and the technician's self-test steps."""
    failed: list[str] = []
    if not readings.dac_answers:
        failed.append("dac_not_answering")
    if not readings.adc_answers:
        failed.append("adc_not_answering")
    if readings.dac_eeprom_power_down != 1 or readings.dac_eeprom_code != 0:
        failed.append("dac_eeprom_not_safe")
    if not readings.hw_trip_ok:
        failed.append("hw_trip_latched")
    if not readings.estop_intact:
        failed.append("estop_loop_open")
    if readings.current_ma is None or not math.isfinite(readings.current_ma) \
            or abs(readings.current_ma) >= lim.OFF_STATE_CURRENT_MA:
        failed.append("current_at_rest")
    if readings.electrode_v is None or not math.isfinite(readings.electrode_v) \
            or abs(readings.electrode_v) >= 0.5:
        failed.append("electrode_voltage_at_rest")
    return tuple(failed)


class ControlCore:
    """The treatment's brain; see the module docstring for the cycle."""

    def __init__(self, catalogue: Catalogue, safety_config: SafetyConfig | None = None,
                 dac_calibration_ma_per_code: float | None = None, *,
                 shunt_sign_follows_polarity: bool = False,
                 regulator_tuning: RegulatorTuning | None = None,
                 service: ServiceWork | None = None,
                 relay_settle_s: float = lim.RELAY_SETTLE_S,
                 boost_settle_s: float = lim.BOOST_SETTLE_S) -> None:
        self.catalogue = catalogue
        self.config = safety_config or SafetyConfig()
        self.ma_per_code = dac_calibration_ma_per_code or DEFAULT_MA_PER_CODE
        if not (math.isfinite(self.ma_per_code) and 0 < self.ma_per_code < 0.01):
            raise ValueError(f"dac_calibration_ma_per_code = {self.ma_per_code} is implausible")
        # Hardware timing from the board configuration (hardware.md 8), not a second constant.
        self.relay_settle_s = relay_settle_s
        self.boost_settle_s = boost_settle_s
        # Calibration and salon limits: kiosk.control.service_work (issue 13).
        self.service = service or ServiceWork.for_core(self.ma_per_code, self.config,
                                                       relay_settle_s, boost_settle_s)
        self.shunt_sign_follows_polarity = shunt_sign_follows_polarity
        self._monitors = SafetyMonitors(self.config)
        self._regulator = CurrentRegulator(regulator_tuning)
        self._ramp = SetpointRamp(duration_s=self.service.limits.ramp_time_s)
        self._dose = DoseIntegrator()
        self._tracker = StateTracker()
        self._cycle = 0
        self._last_now_s: float | None = None
        self._fault: FaultInfo | None = None
        self._fault_cycle = -1
        self._fault_codes_active: set[str] = set()
        self._pending: list[Reason] = []
        self._program: ResolvedProgram | None = None
        self._target_ma = 0.0
        self._session: Session | None = None
        self._resumable = False
        self._resuming = False
        self._after_close: TreatmentState = S.IDLE
        self._selftest_passed = False
        self._last_ui_s: float | None = None
        self._applied = Actuation(0.0, False, False, False, False, False)
        self._applied_setpoint_ma = 0.0
        self._relay_changed_at_s: float | None = None
        self._boost_on_since_s: float | None = None
        self._quiet_since_s: float | None = None
        self._last_readback_s: float | None = None
        self._boost_v = 0.0
        self._measured_ma = 0.0
        self._electrode_v = 0.0
        self._estop_intact = True
        self._storage_ok = True
        self._hw_trip_ok = True
        self._hw_reset_until_s = -math.inf
        self._hw_reset_now = False
        self._chirp_until_s = -math.inf  # the buzzer's information beep sounds until then
        self._test_samples: list[tuple[float, float]] = []
        self._compliance_warning = False
        self._best_load_kohm: float | None = None
        self._contact_poor = False
        self._last_refusal: Reason | None = None
        self._last_decision: Reason | None = None
        self._report = MonitorReport()
        self._service_request: ServiceCommand | None = None  # taken by the loop's runner
        self._service_active = False  # the self-test runner owns the board (hold_for_service)
        self._snapshot = self._make_snapshot(0.0, self._applied)

    # --- public API -------------------------------------------------------------------------

    @property
    def state(self) -> TreatmentState:
        return self._tracker.state

    @property
    def fault(self) -> FaultInfo | None:
        return self._fault

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @property
    def last_actuation(self) -> Actuation:
        return self._applied

    def step(self, now_s: float, measurements: Measurements,
             commands: Sequence[Command] = ()) -> CycleResult:
        """One control cycle. Never raises: an internal error becomes a latched fault."""
        events: list[Reason] = self._pending
        self._pending = []
        try:
            return self._step(now_s, measurements, commands, events)
        except Exception as exc:  # the safe path: whatever went wrong, the output goes off
            return self._internal_error(now_s, exc, events)

    def watch_frozen_readings(self, count: int = FROZEN_READINGS_COUNT) -> None:
        """SR-031: latch ``sensor_stale`` after ``count`` bit-identical shunt readings in a row
        while current flows. The control loop switches it on for every board (real or
        simulated: both converters are noisy); off by default because a noise-free plant model
        (the pure-core test rigs) repeats a steady reading exactly, as no real ADC does."""
        self._monitors.watch_frozen_readings(count)

    def latch_fault(self, reason: Reason, now_s: float) -> Actuation:
        """A fault the shell detected (I2C error, loop overrun, E-stop edge, supervisor...).

        Latches it (unless one is already latched: then it is logged) and returns the safe
        actuation the shell must apply at once; the event comes out with the next cycle.
        """
        events: list[Reason] = []
        self._latch(reason, now_s, events)
        self._pending.extend(events)
        safe = self._safe_actuation(now_s)
        self._remember_applied(safe, 0.0, now_s)
        return safe

    def take_service_request(self) -> ServiceCommand | None:
        """The technician's self-test command this cycle admitted (kiosk.control.selftest),
        for the loop's runner; None when there is none."""
        request, self._service_request = self._service_request, None
        return request

    def hold_for_service(self, active: bool) -> None:
        """While the self-test runner owns the board, the monitors and the input checks pause
        (the runner judges its own steps against its own limits, and a test current or an
        expected trip is no fault), and treatments are refused (``selftest_running``). An
        unexpected trip still reaches :meth:`latch_fault` and ends the run."""
        self._service_active = active

    def self_test(self, readings: SelfTestReadings, now_s: float) -> SelfTestResult:
        """hardware.md 8 step 1 judged from the shell's readings; a failure latches
        ``selftest_failed`` and no treatment can start until a later self-test passes."""
        failed = boot_check_failures(readings)
        if failed:
            self._selftest_passed = False
            reason = make(Code.SELFTEST_FAILED, failed=", ".join(failed))
            self.latch_fault(reason, now_s)
            return SelfTestResult(False, failed, reason)
        self._selftest_passed = True
        reason = make(Code.SELFTEST_PASSED)
        self._pending.append(reason)
        self._last_decision = reason
        return SelfTestResult(True, (), reason)

    # --- the cycle ----------------------------------------------------------------------------

    def _step(self, now_s: float, m: Measurements, commands: Sequence[Command],
              events: list[Reason]) -> CycleResult:
        self._cycle += 1
        if not math.isfinite(now_s):
            raise ValueError(f"cycle time {now_s!r} is not a number")
        dt_s = 0.0 if self._last_now_s is None else now_s - self._last_now_s
        if dt_s < 0:
            raise ValueError(f"the clock went backwards by {-dt_s:.6f} s")
        self._last_now_s = now_s
        self._hw_reset_now = False

        sign = -1.0 if (self.shunt_sign_follows_polarity and self._applied.polarity_reversed) \
            else 1.0
        current_ma = m.current_ma * sign if math.isfinite(m.current_ma) else m.current_ma
        self._note_readings(m, current_ma)

        # 1. monitors, against what was commanded while the reading was taken
        if self._service_active:  # the self-test runner owns the board and judges it
            report = MonitorReport()
        else:
            report = self._monitors.check(self._context(), m, current_ma, now_s)
            self._check_inputs(m, now_s, dt_s, report)
        self._report = report
        if self._fault is None:
            for reason in report.faults:
                self._latch(reason, now_s, events)
        else:
            fresh = [r for r in report.faults if r.code not in self._fault_codes_active]
            events.extend(fresh)
        self._fault_codes_active = {r.code for r in report.faults}

        # 2. dose from the measured current
        self._integrate_dose(m, current_ma)

        # 3. commands
        for command in commands:
            self._handle(command, now_s, events)

        # 4. sequences
        if self._fault is None:
            self._advance(now_s, dt_s, m, current_ma, report, events)
        if self._fault is None and self.service.run.driving:
            fault = self.service.advance(now_s, m, current_ma, events)
            if fault is not None:
                self._latch(fault, now_s, events)

        # 5. outputs
        actuation, setpoint_ma = self._outputs(now_s, dt_s, current_ma, report)
        self._remember_applied(actuation, setpoint_ma, now_s)
        self._report_progress(now_s, events)
        read_aux = self._cycle % AUX_EVERY_CYCLES == AUX_EVERY_CYCLES - 1 or self._wants_boost(
            now_s)
        for reason in events:
            kind = spec_of(reason.code).kind
            if kind is Kind.REFUSAL:
                self._last_refusal = reason
            elif kind is Kind.DECISION and reason.code != Code.STATE_CHANGED:
                self._last_decision = reason
        self._snapshot = self._make_snapshot(now_s, actuation)
        return CycleResult(actuation, self._snapshot, tuple(events), read_aux)

    def _note_readings(self, m: Measurements, current_ma: float) -> None:
        if math.isfinite(current_ma):
            self._measured_ma = current_ma
            quiet = abs(current_ma) < lim.OFF_STATE_CURRENT_MA
            if not quiet:
                self._quiet_since_s = None
            elif self._quiet_since_s is None:
                self._quiet_since_s = m.sample_time_s
        if math.isfinite(m.electrode_v):
            self._electrode_v = m.electrode_v
        if m.boost_v is not None and math.isfinite(m.boost_v):
            self._boost_v = m.boost_v
        if m.setpoint_readback_ma is not None:
            self._last_readback_s = m.sample_time_s
        self._estop_intact = m.estop_intact
        self._hw_trip_ok = m.hw_trip_ok
        self._storage_ok = m.storage_ok

    def _check_inputs(self, m: Measurements, now_s: float, dt_s: float,
                      report: MonitorReport) -> None:
        """Faults the core judges beside the monitors: E-stop, HW trip, the UI and the loop."""
        if not m.estop_intact:
            report.faults.insert(0, make(Code.ESTOP))
        if not m.hw_trip_ok and now_s > self._hw_reset_until_s:
            report.faults.insert(0, make(Code.HW_TRIP))
        current_flows = self._tracker.state in CURRENT_STATES
        if current_flows and self._last_ui_s is not None:
            age_s = now_s - self._last_ui_s
            if age_s > self.config.ui_heartbeat_timeout_s:
                report.faults.append(make(Code.UI_HEARTBEAT_LOST, age_s=age_s))
        if self._applied.output_relay_closed and dt_s > lim.SENSOR_STALE_S:
            report.faults.append(make(Code.LOOP_STALL))
        if current_flows and self._last_readback_s is not None \
                and now_s - self._last_readback_s > AUX_EVERY_CYCLES * 0.01 + lim.AUX_TIMEOUT_S:
            report.faults.append(make(Code.SENSOR_STALE, age_s=now_s - self._last_readback_s))

    def _integrate_dose(self, m: Measurements, current_ma: float) -> None:
        if self._session is None or self._program is None or not math.isfinite(current_ma):
            return
        before = self._dose.dose_ma_min
        counted = current_ma if self._applied.output_relay_closed else 0.0
        added = self._dose.add_sample(m.sample_time_s, counted) - before
        if added > 0:
            self._session.add_dose(self._program.area, added)
        if self._applied.output_relay_closed:
            self._session.note_current(current_ma)

    def _report_progress(self, now_s: float, events: list[Reason]) -> None:
        """Issue 12 item 5: a durable ``dose_progress`` every 10 s while current may flow and
        at every state change of an open session (the records rebuild a cut session's dose
        from the last one)."""
        session = self._session
        if session is None:
            return
        state = self._tracker.state
        why = session.progress_due(now_s, state, state in CURRENT_MAY_FLOW_STATES)
        if why is not None:
            events.append(session.progress(now_s, state, self._program, why))

    # --- commands -------------------------------------------------------------------------

    def _handle(self, command: object, now_s: float, events: list[Reason]) -> None:
        checked = validate_command(command)
        if isinstance(checked, Reason):
            # Junk is refused before anything acts on it and is no proof that the screen is
            # alive (it must not keep a session going that the heartbeat rule would end).
            self._refuse(events, checked)
            return
        command = checked
        self._last_ui_s = now_s  # any command proves the screen is alive
        if isinstance(command, Heartbeat):
            return
        if isinstance(command, Chirp):
            self._chirp_until_s = now_s + CHIRP_S
            return
        if isinstance(command, Acknowledge):
            self._acknowledge(command, now_s, events)
            return
        if isinstance(command, Stop):
            self._stop(command.reason, now_s, events)
            return
        if isinstance(command, EndSession):
            self._end_session(command.session_id, now_s, events)
            return
        if isinstance(command, RunSelfTest | ProgramDacEeprom):
            self._admit_service(command, events)
            return
        if isinstance(command, SERVICE_COMMAND_TYPES):
            self._service_command(command, now_s, events)
            return
        if self._fault is not None:
            self._refuse(events, make(Code.FAULT_LATCHED, fault_code=self._fault.code))
            return
        if isinstance(command, StartTreatment):
            self._start(command, now_s, events)
        elif isinstance(command, Resume):
            self._resume(command.session_id, now_s, events)
        elif isinstance(command, Pause):
            self._pause(now_s, events)
        elif isinstance(command, AdjustCurrent):
            self._adjust(command.delta_ma, events)
        else:  # pragma: no cover - the Command union is closed
            raise TypeError(f"unknown command {command!r}")

    def _admit_service(self, command: ServiceCommand, events: list[Reason]) -> None:
        fault = self._fault
        refusal = admit(command, state=self._tracker.state, session_open=self._session is not None,
                        fault_code=fault.code if fault is not None else None,
                        running=self._service_active or self._service_request is not None)
        if refusal is not None:
            self._refuse(events, refusal)
        else:
            self._service_request = command

    def _refuse(self, events: list[Reason], reason: Reason) -> None:
        events.append(reason)

    def _service_command(self, command: object, now_s: float, events: list[Reason]) -> None:
        """Issue 13: technician work only with no fault, no session and no treatment current;
        a calibration current also needs the self-test, the E-stop loop and the trip latch."""
        if isinstance(command, CalibrationEnd):
            self.service.end_drive(now_s, events)
            return
        state = self._tracker.state
        if self._fault is not None or self._session is not None or state is not S.IDLE:
            what = f"fault {self._fault.code}" if self._fault is not None else str(state)
            self._refuse(events, make(Code.SERVICE_NOT_NOW, state=what))
            return
        blocker = (make(Code.SELFTEST_REQUIRED) if not self._selftest_passed
                   else make(Code.ESTOP_PRESSED) if not self._estop_intact
                   else make(Code.HW_TRIP_ACTIVE) if not self._hw_trip_ok else None)
        if blocker is not None:
            self._refuse(events, blocker)
            return
        self.service.handle(command, now_s, events)

    def apply_settings(self, calibration: Calibration | None = None,
                       limits: SalonLimits | None = None, *, event: Reason | None = None
                       ) -> None:
        """The shell stored a change (kiosk.control.settings_keeper): in force from the next
        cycle; ``event`` is logged with it."""
        if calibration is not None:
            self.service.calibration = calibration
            self.service.calibration_problem = None
            self.ma_per_code = calibration.ma_per_code
        if limits is not None:
            self.service.limits = limits
            self.service.limits_problem = None
            self.config = limits.safety_config()
            self._monitors.config = self.config
            self._ramp.duration_s = limits.ramp_time_s
        if event is not None:
            self._pending.append(event)

    def _not_now(self, events: list[Reason], command: str) -> None:
        self._refuse(events, make(Code.NOT_IN_THIS_STATE, command=command,
                                  state=str(self._tracker.state)))

    def _start_blocker(self) -> Reason | None:
        if self._service_active:
            return make(Code.SELFTEST_RUNNING)
        if not self._selftest_passed:
            return make(Code.SELFTEST_REQUIRED)
        settings = self.service.start_blocker()  # calibration or limits file missing/refused
        if settings is not None:
            return settings
        if not self._estop_intact:
            return make(Code.ESTOP_PRESSED)
        if not self._hw_trip_ok:
            return make(Code.HW_TRIP_ACTIVE)
        if not self._storage_ok:
            # SR-042: a treatment whose record cannot be kept does not start. Not a fault:
            # nothing is wrong with the output, and a current already flowing is not cut by a
            # logging problem (an abrupt cut is itself felt; the monitors keep the client safe).
            return make(Code.STORAGE_FAULT)
        return None

    def _start(self, command: StartTreatment, now_s: float, events: list[Reason]) -> None:
        if self._tracker.state not in (S.IDLE, S.DONE, S.PAUSED):
            self._not_now(events, "start")
            return
        if not command.screening_cleared:
            self._refuse(events, make(Code.SCREENING_NOT_CLEARED))
            return
        consent = self._consent_refusal(command.consent_version)
        if consent is not None:
            self._refuse(events, consent)
            return
        blocker = self._start_blocker()
        if blocker is not None:
            self._refuse(events, blocker)
            return
        if self.service.run.driving:
            self._refuse(events, make(Code.SERVICE_NOT_NOW, state="calibration"))
            return
        resolved = resolve_program(
            command.program, self.catalogue,
            salon_area_cap_ma=self.service.limits.area_cap_ma(command.program.area),
            delivered_today_ma_min=command.delivered_today_ma_min,
            delivered_today_charge_density_ma_min_per_cm2=(
                command.delivered_today_charge_density_ma_min_per_cm2))
        if isinstance(resolved, Reason):
            self._refuse(events, resolved)
            return
        session = self._session
        if session is not None and session.session_id != command.session_id:
            # Issue 12 item 0: another client's session is still open (paused, done, or idle
            # after a fault). Refused rather than ended here: ending it silently would hide
            # that the screen never closed it; the screen ends it (EndSession) first.
            self._refuse(events, make(Code.SESSION_STILL_OPEN))
            return
        if session is None:
            session = Session(command.session_id)
        exhausted = self._exhausted(session, resolved)
        if exhausted is not None:
            self._refuse(events, exhausted)
            return
        self._session = session
        self._program = resolved
        self._target_ma = resolved.target_ma
        self._dose.reset()
        events.extend(resolved.decisions)
        events.append(make(Code.TREATMENT_STARTED, program_id=resolved.program_id,
                           target_ma=resolved.target_ma, cap_ma=resolved.current_cap_ma,
                           limit=resolved.current_limit, stage_min=resolved.stage_time_s / 60,
                           dose_cap_ma_min=resolved.dose_cap_ma_min,
                           polarity=str(resolved.polarity)))
        self._begin_contact_check(now_s, events, resuming=False)

    def _consent_refusal(self, given: str | None) -> Reason | None:
        """Issue 11 item 6: no current without the client's consent to the consent in force."""
        expected = self.catalogue.consent_version
        if not given:
            return make(Code.CONSENT_MISSING)
        if given != expected:
            return make(Code.CONSENT_STALE, given=given, expected=expected)
        return None

    def _exhausted(self, session: Session, program: ResolvedProgram) -> Reason | None:
        """Refuse a start or resume with too little dose or time left for even one ramp up
        and down at the smallest current (the stage time counts across the session; the dose
        across the client's day on this area, SR-053: ``program.dose_cap_ma_min`` is what the
        earlier programs of the day left)."""
        if self._remaining_dose(session, program) < MIN_REMAINING_DOSE_MA_MIN:
            dose = program.delivered_today_ma_min + session.area_dose_ma_min.get(program.area,
                                                                                 0.0)
            return make(Code.DOSE_CAP_ALREADY_REACHED, dose_ma_min=round(dose, 6),
                        cap_ma_min=program.day_dose_cap_ma_min, budget="day",
                        delivered_today_ma_min=program.delivered_today_ma_min,
                        left_ma_min=round(max(0.0, self._remaining_dose(session, program)), 6))
        elapsed = session.elapsed_s.get(program.program_id, 0.0)
        if program.stage_time_s - elapsed < lim.MIN_STAGE_TIME_S:
            return make(Code.STAGE_TIME_USED_UP, program_id=program.program_id)
        return None

    @staticmethod
    def _remaining_dose(session: Session, program: ResolvedProgram) -> float:
        area_left = program.dose_cap_ma_min - session.area_dose_ma_min.get(program.area, 0.0)
        device_left = lim.DEVICE_DOSE_CAP_MA_MIN - session.total_dose_ma_min
        return min(area_left, device_left)

    def _resume(self, session_id: str, now_s: float, events: list[Reason]) -> None:
        state = self._tracker.state
        if self._session is not None and self._session.session_id != session_id:
            self._refuse(events, make(Code.RESUME_WRONG_SESSION, session_id=session_id))
            return
        if not (self._resumable and state in (S.PAUSED, S.IDLE)) or self._program is None \
                or self._session is None:
            self._refuse(events, make(Code.NOTHING_TO_RESUME))
            return
        blocker = self._start_blocker() or self._exhausted(self._session, self._program)
        if blocker is not None:
            self._refuse(events, blocker)
            return
        self._decide(events, make(Code.RESUMED))
        self._begin_contact_check(now_s, events, resuming=True)

    def _end_session(self, session_id: str, now_s: float, events: list[Reason]) -> None:
        """Issue 12 item 0: close the session; nothing of it is left for the next client."""
        session, state = self._session, self._tracker.state
        if session is None or session.session_id != session_id:
            self._refuse(events, make(Code.SESSION_NOT_OPEN, session_id=session_id))
            return
        if state in CURRENT_MAY_FLOW_STATES:
            self._refuse(events, make(Code.SESSION_CURRENT_FLOWING, state=str(state)))
            return
        program = self._program
        dose = session.area_dose_ma_min.get(program.area, 0.0) if program is not None else 0.0
        if state in (S.PAUSED, S.DONE):
            self._go(S.IDLE, Step.NONE, now_s, events)
        events.append(session.progress(now_s, self._tracker.state, program, "state_change"))
        self._decide(events, make(Code.SESSION_ENDED, dose_ma_min=dose, session_id=session_id))
        self._session = None
        self._program = None
        self._target_ma = 0.0
        self._resumable = False
        self._resuming = False
        self._after_close = S.IDLE
        self._dose.reset()
        self._ramp.cut()
        self._regulator.reset()
        self._best_load_kohm = None
        self._contact_poor = False
        self._compliance_warning = False
        self._test_samples = []

    def _begin_contact_check(self, now_s: float, events: list[Reason], resuming: bool) -> None:
        self._resuming = resuming
        self._after_close = S.PAUSED if resuming else S.IDLE
        self._test_samples = []
        self._go(S.CONTACT_CHECK, Step.QUIET, now_s, events)

    def _pause(self, now_s: float, events: list[Reason]) -> None:
        state = self._tracker.state
        if state in (S.RAMP_UP, S.HOLD):
            self._ramp.ramp_down_normally()
            self._after_close = S.PAUSED
            self._go(S.RAMP_DOWN, Step.RAMP, now_s, events)
        elif state is S.CONTACT_CHECK:
            self._abort_contact_check(now_s, events)
        else:
            self._not_now(events, "pause")

    def _stop(self, why: StopReason, now_s: float, events: list[Reason]) -> None:
        state, step = self._tracker.state, self._tracker.step
        if self._fault is not None or state in (S.IDLE, S.DONE):
            return  # nothing flows: STOP is always harmless and never refused
        self._decide(events, make(Code.STOPPED, stop_reason=str(why)))
        if state in (S.RAMP_UP, S.HOLD) or (state is S.RAMP_DOWN and step is Step.RAMP):
            self._ramp.ramp_down_fast()
            if state is not S.RAMP_DOWN or why is StopReason.SHUTDOWN:
                self._after_close = S.DONE if why is StopReason.SHUTDOWN else S.PAUSED
            self._go(S.RAMP_DOWN, Step.RAMP, now_s, events)
        elif state is S.RAMP_DOWN:
            if why is StopReason.SHUTDOWN:
                self._after_close = S.DONE
        elif state is S.CONTACT_CHECK:
            shutdown_final = S.DONE if self._resuming else S.IDLE
            self._abort_contact_check(
                now_s, events, shutdown_final if why is StopReason.SHUTDOWN else None)
        elif state is S.PAUSED:
            self._finish(now_s, events, S.DONE)

    def _abort_contact_check(self, now_s: float, events: list[Reason],
                             final: TreatmentState | None = None) -> None:
        """Stop the contact check: drain and open if the relay is closed, then ``final``
        (by default back where the check started: paused when resuming, else idle)."""
        self._after_close = final or (S.PAUSED if self._resuming else S.IDLE)
        if self._tracker.step in (Step.DRAIN, Step.RELAY_OPEN):
            return
        if self._applied.output_relay_closed:
            self._tracker.set_step(Step.DRAIN, now_s)
        else:
            self._finish(now_s, events, self._after_close)

    def _adjust(self, delta_ma: float, events: list[Reason]) -> None:
        state = self._tracker.state
        if state not in (S.CONTACT_CHECK, S.RAMP_UP, S.HOLD, S.PAUSED) or self._program is None:
            self._not_now(events, "adjust current")
            return
        if delta_ma > 0 and self._compliance_warning:
            self._refuse(events, make(Code.COMPLIANCE_LIMIT, electrode_v=self._electrode_v))
            return
        adjustment = resolve_adjustment(self._target_ma, delta_ma, self._program)
        if not adjustment.accepted:
            self._refuse(events, adjustment.reason)
            return
        self._target_ma = adjustment.target_ma
        self._decide(events, adjustment.reason)
        if state in (S.RAMP_UP, S.HOLD):
            self._ramp.ramp_up_to(self._target_ma)

    def _acknowledge(self, command: Acknowledge, now_s: float, events: list[Reason]) -> None:
        fault = self._fault
        if fault is None:
            self._refuse(events, make(Code.NOTHING_TO_ACKNOWLEDGE))
            return
        if command.fault_code != fault.code:
            self._refuse(events, make(Code.ACK_CODE_MISMATCH, given=command.fault_code,
                                      fault_code=fault.code))
            return
        if self._fault_cycle == self._cycle:
            self._refuse(events, make(Code.ACK_TOO_EARLY))
            return
        if not self._estop_intact:
            self._refuse(events, make(Code.ACK_CONDITION_PRESENT,
                                      condition="emergency stop pressed"))
            return
        if fault.code == Code.HW_TRIP and not self._hw_trip_ok:
            self._hw_reset_now = True
            self._hw_reset_until_s = now_s + HW_TRIP_RESET_GRACE_S
            self._decide(events, make(Code.HW_TRIP_RESET_REQUESTED))
        self._fault = None
        self._fault_codes_active = set()
        self._monitors.reset_treatment()
        self._tracker.go(S.IDLE, Step.NONE, now_s)
        events.append(make(Code.STATE_CHANGED, from_state=str(S.FAULT), to_state=str(S.IDLE)))
        self._decide(events, make(Code.FAULT_ACKNOWLEDGED, fault_code=fault.code))

    # --- sequences --------------------------------------------------------------------------

    def _settled(self, m: Measurements, action_at_s: float, wait_s: float) -> bool:
        """The reading was taken at least ``wait_s`` after the action of ``action_at_s``."""
        return m.sample_time_s >= action_at_s + wait_s + SETTLE_MARGIN_S

    def _advance(self, now_s: float, dt_s: float, m: Measurements, current_ma: float,
                 report: MonitorReport, events: list[Reason]) -> None:
        state, step = self._tracker.state, self._tracker.step
        if step in (Step.DRAIN, Step.RELAY_OPEN):
            self._advance_closing(now_s, m, current_ma, events)
        elif state is S.CONTACT_CHECK:
            self._advance_contact_check(now_s, m, current_ma, events)
        elif state in CURRENT_STATES:
            self._advance_current(now_s, dt_s, current_ma, report, events)

    def _advance_contact_check(self, now_s: float, m: Measurements, current_ma: float,
                               events: list[Reason]) -> None:
        tracker = self._tracker
        at = tracker.step_at_s
        program = self._program
        if program is None:
            raise TransitionError("contact check without a program")
        if tracker.step is Step.QUIET:
            quiet = self._quiet_since_s
            if quiet is not None and m.sample_time_s - quiet >= lim.QUIET_BEFORE_POLARITY_S:
                tracker.set_step(Step.BOOST, now_s)
        elif tracker.step is Step.BOOST:
            if m.boost_v is not None and self._settled(m, at, self.boost_settle_s):
                low, high = boost_window_v()
                if not low <= m.boost_v <= high:
                    self._latch(make(Code.BOOST_OUT_OF_RANGE, boost_v=m.boost_v, low_v=low,
                                     high_v=high), now_s, events)
                    return
                tracker.set_step(Step.POLARITY, now_s)
            elif now_s - at > self.boost_settle_s + lim.AUX_TIMEOUT_S:
                self._latch(make(Code.SENSOR_STALE, age_s=now_s - at), now_s, events)
        elif tracker.step is Step.POLARITY:
            if self._settled(m, at, self.relay_settle_s):
                tracker.set_step(Step.OUTPUT, now_s)
        elif tracker.step is Step.OUTPUT:
            if self._settled(m, at, self.relay_settle_s):
                if abs(current_ma) >= lim.OFF_STATE_CURRENT_MA:
                    self._latch(make(Code.UNINTENDED_OUTPUT, measured_ma=abs(current_ma)),
                                now_s, events)
                    return
                wanted_k2 = program.polarity is Polarity.POSITIVE
                readback = m.polarity_reversed_readback
                if readback is not None and readback != wanted_k2:
                    self._latch(make(Code.POLARITY_MISMATCH), now_s, events)
                    return
                self._test_samples = []
                tracker.set_step(Step.TEST, now_s)
        elif tracker.step is Step.TEST:
            if self._settled(m, at, lim.TEST_SETTLE_S):
                self._test_samples.append((current_ma, m.electrode_v))
            if len(self._test_samples) >= lim.TEST_SAMPLES:
                self._judge_contact(now_s, events)

    def _judge_contact(self, now_s: float, events: list[Reason]) -> None:
        samples = self._test_samples
        current = sum(s[0] for s in samples) / len(samples)
        volts = sum(s[1] for s in samples) / len(samples)
        half = 0.5 * lim.TEST_CURRENT_MA
        if current <= -half:
            self._latch(make(Code.POLARITY_MISMATCH), now_s, events)
            return
        if current < half:
            self._refuse(events, make(Code.CONTACT_CHECK_OPEN))
            self._abort_contact_check(now_s, events)
            return
        load = (volts - current * lim.SHUNT_KOHM) / current
        if load > self.config.contact_start_max_kohm:
            self._refuse(events, make(Code.CONTACT_CHECK_FAILED, load_kohm=load,
                                      limit_kohm=self.config.contact_start_max_kohm))
            self._abort_contact_check(now_s, events)
            return
        if load < lim.CONTACT_CHECK_SHORT_KOHM:
            self._refuse(events, make(Code.CONTACT_CHECK_SHORT, load_kohm=load))
            self._abort_contact_check(now_s, events)
            return
        self._decide(events, make(Code.CONTACT_CHECK_PASSED, load_kohm=load))
        self._best_load_kohm = load
        self._contact_poor = False
        self._compliance_warning = False
        self._monitors.reset_treatment()
        self._regulator.reset()
        self._ramp.cut()
        self._ramp.ramp_up_to(self._target_ma)
        self._after_close = S.DONE
        self._resumable = True
        # AIN3 readbacks must keep arriving from here on (the stuck-DAC check).
        self._last_readback_s = max(self._last_readback_s or -math.inf, now_s)
        self._go(S.RAMP_UP, Step.RAMP, now_s, events)

    def _advance_current(self, now_s: float, dt_s: float, current_ma: float,
                         report: MonitorReport, events: list[Reason]) -> None:
        program, session = self._program, self._session
        if program is None or session is None:
            raise TransitionError("current stage without a program")
        pid = program.program_id
        session.elapsed_s[pid] = session.elapsed_s.get(pid, 0.0) + dt_s
        self._watch_compliance(report, events)
        self._watch_contact_quality(report, events)
        state = self._tracker.state
        remaining_dose = self._remaining_dose(session, program)
        if remaining_dose <= 0.0:
            self._ramp.cut()
            self._after_close = S.DONE
            self._decide(events, make(Code.DOSE_CAP_HARD_STOP, cap_ma_min=program.dose_cap_ma_min))
            self._go(S.RAMP_DOWN, Step.DRAIN, now_s, events)
            return
        if state in (S.RAMP_UP, S.HOLD):
            level = max(self._ramp.setpoint_ma, current_ma)
            down_s = normal_ramp_duration_s(level, self._ramp.duration_s)
            remaining_s = program.stage_time_s - session.elapsed_s[pid]
            down_dose = level * down_s / 2 / 60 * DOSE_PROJECTION_MARGIN + level * 0.01 / 60
            if remaining_dose <= down_dose:
                self._end_normally(now_s, events, make(Code.DOSE_CAP_REACHED,
                                                       cap_ma_min=program.dose_cap_ma_min))
                return
            if remaining_s <= down_s:
                self._end_normally(now_s, events, make(Code.STAGE_TIME_REACHED))
                return
            if state is S.RAMP_UP and self._ramp.settled:
                self._go(S.HOLD, Step.RAMP, now_s, events)
            elif state is S.HOLD and self._ramp.rising:
                self._go(S.RAMP_UP, Step.RAMP, now_s, events)
        elif state is S.RAMP_DOWN and self._ramp.setpoint_ma <= 0.0:
            self._tracker.set_step(Step.DRAIN, now_s)

    def _end_normally(self, now_s: float, events: list[Reason], why: Reason) -> None:
        self._ramp.ramp_down_normally()
        self._after_close = S.DONE
        self._decide(events, why)
        self._go(S.RAMP_DOWN, Step.RAMP, now_s, events)

    def _watch_compliance(self, report: MonitorReport, events: list[Reason]) -> None:
        if report.compliance_warning and not self._compliance_warning:
            self._decide(events, make(Code.COMPLIANCE_WARNING, electrode_v=self._electrode_v))
        elif self._compliance_warning and not report.compliance_warning:
            self._decide(events, make(Code.COMPLIANCE_CLEARED, electrode_v=self._electrode_v))
        self._compliance_warning = report.compliance_warning

    def _watch_contact_quality(self, report: MonitorReport, events: list[Reason]) -> None:
        """hardware.md 6: a load above twice its best value this stage = partial contact."""
        load = report.load_kohm
        if load is None or self._ramp.setpoint_ma < lim.CONTACT_LOSS_MIN_SETPOINT_MA:
            return
        best = self._best_load_kohm
        if best is None or load < best:
            self._best_load_kohm = best = load
        if not self._contact_poor and load > CONTACT_POOR_FACTOR * best:
            self._contact_poor = True
            self._decide(events, make(Code.CONTACT_POOR, load_kohm=load, baseline_kohm=best))
        elif self._contact_poor and load < CONTACT_POOR_CLEAR_FACTOR * best:
            self._contact_poor = False

    def _advance_closing(self, now_s: float, m: Measurements, current_ma: float,
                         events: list[Reason]) -> None:
        tracker = self._tracker
        at = tracker.step_at_s
        if tracker.step is Step.DRAIN:
            drained = abs(current_ma) < lim.OFF_STATE_CURRENT_MA
            if drained and self._settled(m, at, 0.0):
                tracker.set_step(Step.RELAY_OPEN, now_s)
            elif now_s - at > lim.DRAIN_TIMEOUT_S:
                self._latch(make(Code.UNINTENDED_OUTPUT, measured_ma=abs(current_ma)), now_s,
                            events)
        elif tracker.step is Step.RELAY_OPEN and self._settled(m, at, self.relay_settle_s):
            self._finish(now_s, events, self._after_close)

    def _finish(self, now_s: float, events: list[Reason], final: TreatmentState) -> None:
        self._ramp.cut()
        self._regulator.reset()
        self._compliance_warning = False
        self._contact_poor = False
        if final is S.PAUSED:
            self._resumable = True
            self._decide(events, make(Code.PAUSED))
        elif final is S.DONE:
            self._resumable = False
            session, program = self._session, self._program
            if session is not None and program is not None:
                self._decide(events, make(
                    Code.TREATMENT_DONE,
                    dose_ma_min=session.area_dose_ma_min.get(program.area, 0.0),
                    elapsed_min=session.elapsed_s.get(program.program_id, 0.0) / 60))
        self._go(final, Step.NONE, now_s, events)

    # --- outputs ----------------------------------------------------------------------------

    def _outputs(self, now_s: float, dt_s: float, current_ma: float, report: MonitorReport
                 ) -> tuple[Actuation, float]:
        if self._fault is not None:
            return self._safe_actuation(now_s), 0.0
        state, step = self._tracker.state, self._tracker.step
        if state is S.IDLE and self.service.run.driving:  # a technician's calibration point
            actuation = self.service.run.actuation(self.service.calibration,
                                                   now_s < self._chirp_until_s)
            self._guard(actuation, state, step, lim.FIRMWARE_MAX_CURRENT_MA)
            return actuation, 0.0
        program = self._program
        reversed_k2 = program is not None and program.polarity is Polarity.POSITIVE
        plan = output_plan(state, step, reversed_k2, k2_may_release=True)
        cap = program.current_cap_ma if program is not None else lim.FIRMWARE_MAX_CURRENT_MA
        setpoint = 0.0
        if plan.drive is Drive.REGULATE:
            setpoint = self._ramp.advance(dt_s, hold_rise=report.compliance_warning)
            dac = self._regulator.update(setpoint, current_ma, dt_s, output_limit_ma(cap),
                                         report.compliance_limited)
        elif plan.drive is Drive.TEST:
            self._regulator.reset()
            dac = lim.TEST_CURRENT_MA
        else:
            self._regulator.reset()
            dac = 0.0
        k2 = self._applied.polarity_reversed if plan.polarity_reversed is None \
            else plan.polarity_reversed
        actuation = Actuation(dac_ma=dac, output_relay_closed=plan.relay_closed,
                              polarity_reversed=k2, boost_on=plan.boost_on,
                              buzzer_on=now_s < self._chirp_until_s,
                              heartbeat_ok=plan.heartbeat, hw_trip_reset=self._hw_reset_now)
        self._guard(actuation, state, step, cap)
        return actuation, setpoint

    def _guard(self, a: Actuation, state: TreatmentState, step: Step, cap_ma: float) -> None:
        """The invariants; a violation is a bug and must never reach the board."""
        prev = self._applied
        if not a.output_relay_closed and a.dac_ma != 0.0:
            raise TransitionError("DAC commanded with the output relay open")
        if a.polarity_reversed != prev.polarity_reversed and (
                prev.output_relay_closed or a.output_relay_closed or prev.dac_ma > 0
                or a.dac_ma > 0):
            raise TransitionError("polarity change while the output is connected")
        if a.dac_ma > min(output_limit_ma(cap_ma), lim.DAC_RANGE_MAX_MA) or a.dac_ma < 0:
            raise TransitionError(f"DAC command {a.dac_ma} mA outside 0..limit")
        drives = state in CURRENT_STATES or (state is S.CONTACT_CHECK and step is Step.TEST) \
            or (state is S.IDLE and self.service.run.driving)
        if a.dac_ma > 0 and not drives:
            raise TransitionError(f"current commanded in {state}/{step}")
        if a.output_relay_closed and not a.heartbeat_ok:
            raise TransitionError("output relay closed without the heartbeat")
        if self._ramp.setpoint_ma > cap_ma + 1e-9:
            raise TransitionError("set-point above the cap")

    def _safe_actuation(self, now_s: float) -> Actuation:
        """Relay open, DAC 0, boost off, alarm on; K2 released once K1 had 10 ms to open."""
        fault_at = self._fault.at_s if self._fault is not None else now_s
        opened_at = self._relay_changed_at_s if not self._applied.output_relay_closed else None
        since = max(fault_at, opened_at if opened_at is not None else -math.inf)
        k2_free = not self._applied.output_relay_closed and \
            now_s - since >= self.relay_settle_s + SETTLE_MARGIN_S
        k2 = False if k2_free else self._applied.polarity_reversed
        return Actuation(dac_ma=0.0, output_relay_closed=False, polarity_reversed=k2,
                         boost_on=False, buzzer_on=True, heartbeat_ok=False)

    def _remember_applied(self, actuation: Actuation, setpoint_ma: float, now_s: float) -> None:
        prev = self._applied
        if actuation.output_relay_closed != prev.output_relay_closed:
            self._relay_changed_at_s = now_s
        if actuation.boost_on and not prev.boost_on:
            self._boost_on_since_s = now_s
        elif not actuation.boost_on:
            self._boost_on_since_s = None
        self._applied = actuation
        self._applied_setpoint_ma = setpoint_ma

    def _context(self) -> MonitorContext:
        program = self._program
        cap = program.current_cap_ma if program is not None and self._tracker.state in (
            S.CONTACT_CHECK, *CURRENT_STATES) else lim.FIRMWARE_MAX_CURRENT_MA
        return MonitorContext(
            relay_closed=self._applied.output_relay_closed,
            relay_changed_at_s=self._relay_changed_at_s,
            dac_ma=self._applied.dac_ma,
            setpoint_ma=self._applied_setpoint_ma,
            current_cap_ma=cap,
            regulating=self._applied_setpoint_ma > 0.0,
            boost_on_since_s=self._boost_on_since_s,
            ma_per_code=self.ma_per_code,
        )

    def _wants_boost(self, now_s: float) -> bool:
        tracker = self._tracker
        return tracker.state is S.CONTACT_CHECK and tracker.step is Step.BOOST \
            and now_s - tracker.step_at_s >= self.boost_settle_s - 0.0105

    # --- faults and state ---------------------------------------------------------------------

    def _latch(self, reason: Reason, now_s: float, events: list[Reason]) -> None:
        events.append(reason)
        if self._fault is not None:
            return
        self._fault = FaultInfo(reason, now_s)
        self._fault_cycle = self._cycle
        previous = self._tracker.state
        self._tracker.force_fault(now_s)
        events.append(make(Code.STATE_CHANGED, from_state=str(previous), to_state=str(S.FAULT)))
        self._ramp.cut()
        self._regulator.reset()
        self._monitors.reset_treatment()
        self.service.cut()
        self._compliance_warning = False
        if previous in CURRENT_STATES or previous is S.CONTACT_CHECK:
            self._resumable = self._program is not None and self._session is not None

    def _internal_error(self, now_s: float, exc: Exception, events: list[Reason]) -> CycleResult:
        what = f"{type(exc).__name__}: {exc}"[:200]
        try:
            self._latch(make(Code.INTERNAL_ERROR, what=what), now_s, events)
        except Exception:  # the safe path must complete whatever happens
            self._fault = FaultInfo(Reason(Code.INTERNAL_ERROR.value, what,
                                           spec_of(Code.INTERNAL_ERROR).severity), now_s)
            self._tracker.force_fault(now_s)
        safe = Actuation(0.0, False, self._applied.polarity_reversed, False, True, False)
        try:
            self._remember_applied(safe, 0.0, now_s)
            self._snapshot = self._make_snapshot(now_s, safe)
        except Exception:  # a snapshot is not worth a second failure
            pass
        return CycleResult(safe, self._snapshot, tuple(events), False)

    def _go(self, state: TreatmentState, step: Step, now_s: float, events: list[Reason]) -> None:
        previous = self._tracker.go(state, step, now_s)
        if previous is not state:
            events.append(make(Code.STATE_CHANGED, from_state=str(previous),
                               to_state=str(state)))

    def _decide(self, events: list[Reason], reason: Reason) -> None:
        events.append(reason)

    # --- snapshot -----------------------------------------------------------------------------

    def _make_snapshot(self, now_s: float, actuation: Actuation) -> Snapshot:
        """The published view (one immutable object per cycle)."""
        program, session = self._program, self._session
        elapsed = dose = 0.0
        dose_cap = 0.0
        stage_s = 0.0
        if program is not None and session is not None:
            elapsed = session.elapsed_s.get(program.program_id, 0.0)
            dose = session.area_dose_ma_min.get(program.area, 0.0)
            device_left = lim.DEVICE_DOSE_CAP_MA_MIN - session.total_dose_ma_min
            dose_cap = min(program.dose_cap_ma_min, dose + device_left)
            stage_s = program.stage_time_s
        state = self._tracker.state
        load = self._report.load_kohm if actuation.output_relay_closed else None
        contact_ok = actuation.output_relay_closed and state in CURRENT_STATES \
            and not self._report.contact_doubt \
            and (load is None or load <= self.config.contact_loss_kohm)
        ui_age = now_s - self._last_ui_s if self._last_ui_s is not None else 0.0
        healthy = self._selftest_passed and (
            self._fault is None or self._fault.code not in DEVICE_FAULT_CODES)
        return Snapshot(
            cycle=self._cycle,
            time_s=now_s,
            state=state,
            session_id=session.session_id if session is not None else None,
            program_id=program.program_id if program is not None else None,
            polarity=program.polarity if program is not None else None,
            target_ma=self._target_ma if program is not None else 0.0,
            setpoint_ma=self._ramp.setpoint_ma,
            measured_ma=self._measured_ma,
            electrode_v=self._electrode_v,
            boost_v=self._boost_v,
            load_kohm=load,
            contact_ok=contact_ok,
            current_cap_ma=program.current_cap_ma if program is not None else 0.0,
            dose_ma_min=dose,
            dose_cap_ma_min=dose_cap,
            elapsed_s=elapsed,
            remaining_s=max(0.0, stage_s - elapsed),
            output_enabled=actuation.output_relay_closed,
            compliance_warning=self._compliance_warning,
            fault=self._fault,
            last_refusal=self._last_refusal,
            last_decision=self._last_decision,
            ui_heartbeat_age_s=ui_age,
            healthy=healthy,
            electrode_id=program.electrode_id if program is not None else None,
            step=str(self._tracker.step),
            stage_time_s=stage_s,
            second_phase=program.second_phase if program is not None else False,
            current_limit=program.current_limit if program is not None else None,
            contact_poor=self._contact_poor,
            storage_ok=self._storage_ok,
            resumable=self._resumable and state in (S.PAUSED, S.IDLE)
            and self._fault is None,
        )

