"""The technician's work inside the core: calibration and salon limits (pure, no I/O).

:class:`ServiceWork` is what :class:`kiosk.control.core.ControlCore` delegates the service
commands to, once the core has checked that no current may flow for a treatment, no session is
open and no fault is latched (``service_not_now`` otherwise). It holds the calibration and the
salon limits in force, or the reason they cannot be trusted (a missing or refused file), which
blocks every start (``calibration_missing``, ``calibration_invalid``, ``salon_limits_invalid``).

An accepted change does not apply itself: it waits in :attr:`ServiceWork.outbox` until the
shell (:func:`kiosk.control.settings_keeper.SettingsKeeper`, on the control thread, after the
cycle) has written its file; only then is it applied to the board and the core, from the next
cycle, and logged with its old and new values. A file that cannot be written refuses the change
(``settings_not_stored``) and keeps the old values: what is in force is always what is stored.
A calibration is only written with the output open: a ``SaveCalibration`` that arrives while a
point is still driven ends the drive first and is stored once the output is off.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from kiosk.control.calibration import FACTORY, Calibration, MeterFigures, PointReading, fit
from kiosk.control.calibration_run import CalibrationRun
from kiosk.control.codes import Reason
from kiosk.control.commands import (
    CalibrationDrive,
    CalibrationEnd,
    SaveCalibration,
    SetSalonLimits,
)
from kiosk.control.cycle import Measurements
from kiosk.control.limits import SafetyConfig
from kiosk.control.reasons import Code, make
from kiosk.control.salon_limits import DEFAULTS, HARD_BOUNDS, SalonLimits, check


@dataclass(frozen=True, slots=True)
class PendingChange:
    """A checked change the shell must store before it is applied."""

    calibration: Calibration | None = None
    limits: SalonLimits | None = None


def utc_now_text() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class ServiceWork:
    """Calibration and limits in force, the calibration run, the changes waiting to be stored."""

    def __init__(self, calibration: Calibration, limits: SalonLimits, *,
                 calibration_problem: Reason | None = None,
                 limits_problem: Reason | None = None, relay_settle_s: float,
                 boost_settle_s: float, shunt_ohm: float = 100.0) -> None:
        self.calibration = calibration
        self.limits = limits
        self.calibration_problem = calibration_problem
        self.limits_problem = limits_problem
        self.shunt_ohm = shunt_ohm
        self.run = CalibrationRun(relay_settle_s=relay_settle_s, boost_settle_s=boost_settle_s)
        self.outbox: list[PendingChange] = []
        self._save_after_drive: Calibration | None = None
        self.clock_text = utc_now_text  # replaceable for deterministic tests

    @classmethod
    def for_core(cls, ma_per_code: float, config: SafetyConfig, relay_settle_s: float,
                 boost_settle_s: float) -> ServiceWork:
        """What a core built without files runs on (the pure-core rigs): the design DAC slope
        it was given, unit gains, and the default limits with its safety config."""
        calibration = Calibration(
            dac_ua_per_lsb=ma_per_code * 1000.0, dac_offset_ua=0.0, current_gain=1.0,
            current_offset_ma=0.0, electrode_gain=1.0, electrode_offset_v=0.0, boost_gain=1.0,
            boost_offset_v=0.0, setpoint_gain=1.0, setpoint_offset_ma=0.0,
            technician=FACTORY, date="")
        limits = replace(DEFAULTS, contact_start_max_kohm=config.contact_start_max_kohm,
                         contact_loss_kohm=config.contact_loss_kohm,
                         ui_heartbeat_timeout_s=config.ui_heartbeat_timeout_s)
        return cls(calibration, limits, relay_settle_s=relay_settle_s,
                   boost_settle_s=boost_settle_s)

    def start_blocker(self) -> Reason | None:
        """Why no treatment may start (a calibration or limits file that is missing or
        refused), else None."""
        return self.calibration_problem or self.limits_problem

    # --- commands (the core has checked the state) ----------------------------------------

    def handle(self, command: object, now_s: float, events: list[Reason]) -> None:
        if isinstance(command, CalibrationDrive):
            self.run.request(command.point, now_s)
        elif isinstance(command, CalibrationEnd):
            self.end_drive(now_s, events)
        elif isinstance(command, SaveCalibration):
            self._save_calibration(command, now_s, events)
        elif isinstance(command, SetSalonLimits):
            self._set_limits(command, events)

    def end_drive(self, now_s: float, events: list[Reason]) -> None:
        self.run.end(now_s)

    def _save_calibration(self, command: SaveCalibration, now_s: float,
                          events: list[Reason]) -> None:
        points = self.run.measured()
        for index, point in enumerate(points, start=1):
            if point is None:
                events.append(make(Code.CALIBRATION_POINT_MISSING, point=index))
                return
        assert points[0] is not None and points[1] is not None
        measured: tuple[PointReading, PointReading] = (points[0], points[1])
        meter = (MeterFigures(command.point1_current_ma, command.point1_voltage_v),
                 MeterFigures(command.point2_current_ma, command.point2_voltage_v))
        result = fit(measured, meter, self.calibration, technician=command.technician,
                     date=self.clock_text(), shunt_ohm=self.shunt_ohm)
        if isinstance(result, Reason):
            events.append(result)
            return
        if self.run.driving:
            self._save_after_drive = result
            self.run.end(now_s)
            return
        self.outbox.append(PendingChange(calibration=result))

    def _set_limits(self, command: SetSalonLimits, events: list[Reason]) -> None:
        values = {name: getattr(command, name) for name in HARD_BOUNDS}
        result = check(values, changed_by=command.changed_by, date=self.clock_text())
        if isinstance(result, Reason):
            events.append(result)
            return
        self.outbox.append(PendingChange(limits=result))

    # --- per cycle ------------------------------------------------------------------------

    def advance(self, now_s: float, m: Measurements, current_ma: float,
                events: list[Reason]) -> Reason | None:
        fault = self.run.advance(now_s, m, current_ma, self.calibration, events)
        if fault is None and not self.run.driving and self._save_after_drive is not None:
            self.outbox.append(PendingChange(calibration=self._save_after_drive))
            self._save_after_drive = None
        return fault

    def cut(self) -> None:
        self.run.cut()
        self._save_after_drive = None

    def take_outbox(self) -> list[PendingChange]:
        pending, self.outbox = self.outbox, []
        return pending
