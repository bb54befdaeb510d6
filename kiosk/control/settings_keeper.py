"""The calibration and salon limits files, from start-up to every change (the shell's side).

At start-up (:func:`load_settings`) the state folder's ``calibration.toml`` and
``salon_limits.toml`` are read through their stores; a missing calibration on the simulated
board is replaced by its factory calibration (installed as a file, logged), on the real board it
blocks treatments like a refused file does. Without a state folder (tests, the developer's
single process) nothing is read or written: the simulated board's factory calibration and the
default limits are in force in memory; the real board is blocked.

After each cycle (:class:`SettingsKeeper`, a control-loop observer on the control thread) the
changes the core accepted are written to their files and only then applied: the DAC and ADC
conversions on the board (read by the next cycle's measurement and DAC write) and the core's
DAC slope, monitors and ramp. The event (``calibration_saved``, ``salon_limits_saved``) carries
the old and the new value of every figure and who made the change; it is logged durably.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.control.calibration import (
    Calibration,
    CalibrationFileError,
    CalibrationStore,
    factory_calibration,
)
from kiosk.control.calibration import changes as calibration_changes
from kiosk.control.codes import Reason
from kiosk.control.reasons import Code, make
from kiosk.control.salon_limits import (
    DEFAULTS,
    SalonLimits,
    SalonLimitsFileError,
    SalonLimitsStore,
)
from kiosk.control.salon_limits import changes as limits_changes
from kiosk.control.service_work import ServiceWork, utc_now_text
from kiosk.hal.board import Board
from kiosk.hal.config import BoardConfig

if TYPE_CHECKING:
    from kiosk.control.core import ControlCore
    from kiosk.control.loop import CycleRecord

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LoadedSettings:
    calibration: Calibration
    calibration_problem: Reason | None
    limits: SalonLimits
    limits_problem: Reason | None
    events: tuple[Reason, ...]


def load_settings(state_dir: Path | None, config: BoardConfig, *, sim: bool) -> LoadedSettings:
    """What the core starts with; see the module docstring."""
    factory = factory_calibration(config, utc_now_text())
    events: list[Reason] = []
    calibration, calibration_problem = factory, None
    limits, limits_problem = DEFAULTS, None
    if state_dir is None:
        if not sim:
            calibration_problem = make(Code.CALIBRATION_MISSING, file="(no state folder)")
        return LoadedSettings(calibration, calibration_problem, limits, limits_problem, ())
    store = CalibrationStore(state_dir)
    try:
        calibration = store.load()
    except CalibrationFileError as error:
        calibration_problem = error.reason
        if sim and error.reason.code == Code.CALIBRATION_MISSING:
            try:
                store.save(factory)
                calibration_problem = None
                events.append(make(Code.CALIBRATION_FACTORY_INSTALLED, file=str(store.path),
                                   **calibration_changes(None, factory)))
            except OSError as oserror:
                _log.error("cannot install the factory calibration: %s", oserror)
    if calibration_problem is not None:
        _log.error("treatments blocked: %s", calibration_problem.text)
    try:
        limits = SalonLimitsStore(state_dir).load()
    except SalonLimitsFileError as error:
        limits_problem = error.reason
        _log.error("treatments blocked: %s", limits_problem.text)
    return LoadedSettings(calibration, calibration_problem, limits, limits_problem,
                          tuple(events))


def service_work(loaded: LoadedSettings, config: BoardConfig) -> ServiceWork:
    return ServiceWork(loaded.calibration, loaded.limits,
                       calibration_problem=loaded.calibration_problem,
                       limits_problem=loaded.limits_problem,
                       relay_settle_s=config.relay_settle_s,
                       boost_settle_s=config.boost_settle_s,
                       shunt_ohm=config.frontend.rshunt_ohm)


def apply_to_board(board: Board, config: BoardConfig, calibration: Calibration) -> None:
    """The board's conversions from ``calibration`` (atomic reference swaps; control thread)."""
    board.dac.cal = calibration.dac()
    board.adc.cal = calibration.adc(config)


class SettingsKeeper:
    """Stores and applies what the core accepted (a control-loop observer)."""

    def __init__(self, core: ControlCore, board: Board, config: BoardConfig,
                 state_dir: Path | None) -> None:
        self.core = core
        self.board = board
        self.config = config
        self.calibration_store = CalibrationStore(state_dir) if state_dir is not None else None
        self.limits_store = SalonLimitsStore(state_dir) if state_dir is not None else None

    def __call__(self, record: CycleRecord) -> None:
        for change in self.core.service.take_outbox():
            if change.calibration is not None:
                self._calibration(change.calibration)
            if change.limits is not None:
                self._limits(change.limits)

    def _calibration(self, new: Calibration) -> None:
        old = self.core.service.calibration
        if self.calibration_store is not None:
            try:
                self.calibration_store.save(new)
            except OSError as error:
                self.core.apply_settings(event=make(Code.SETTINGS_NOT_STORED,
                                                    what="calibration", problem=str(error)))
                return
        apply_to_board(self.board, self.config, new)
        self.core.apply_settings(calibration=new, event=make(
            Code.CALIBRATION_SAVED, **calibration_changes(old, new)))

    def _limits(self, new: SalonLimits) -> None:
        old = self.core.service.limits
        if self.limits_store is not None:
            try:
                self.limits_store.save(new)
            except OSError as error:
                self.core.apply_settings(event=make(Code.SETTINGS_NOT_STORED,
                                                    what="salon limits", problem=str(error)))
                return
        self.core.apply_settings(limits=new, event=make(Code.SALON_LIMITS_SAVED,
                                                        **limits_changes(old, new)))
