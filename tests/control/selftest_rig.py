"""A rig for the technician's self-test: the real control loop on the simulated board, on a
virtual clock, with the reference load clipped on and a technician who presses and releases
the E-stop when the screen asks (the ``selftest_report``'s prompt)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kiosk.control.catalogue import load_catalogue
from kiosk.control.codes import Reason
from kiosk.control.commands import Command, RunSelfTest
from kiosk.control.core import ControlCore
from kiosk.control.limits import SafetyConfig
from kiosk.control.loop import ControlLoop, CycleRecord
from kiosk.control.service import Controller
from kiosk.hal.config import load_board_config
from kiosk.hal.factory import build_board
from kiosk.hal.sim.board import SimBoard
from kiosk.hal.sim.clock import VirtualClock

SLICE_S = 0.02


@dataclass
class SelfTestRig:
    controller: Controller
    events: list[Reason] = field(default_factory=list)
    max_true_current_ma: float = 0.0
    press_estop: bool = True

    @property
    def sim(self) -> SimBoard:
        sim = self.controller.board.sim
        assert sim is not None
        return sim

    @property
    def clock(self) -> VirtualClock:
        clock = self.controller.clock
        assert isinstance(clock, VirtualClock)
        return clock

    def observe(self, record: CycleRecord) -> None:
        self.events.extend(record.events)
        self.max_true_current_ma = max(self.max_true_current_ma,
                                       abs(self.sim.true_current_ma()))

    def report(self) -> dict[str, Any]:
        return self.controller.query("selftest_report")

    def submit(self, command: Command) -> None:
        self.controller.submit(command)

    def run_for(self, seconds: float) -> None:
        end_s = self.clock.now_s() + seconds
        while self.clock.now_s() < end_s - 1e-9:
            self.controller.run_for(SLICE_S)
            self._technician()

    def _technician(self) -> None:
        prompt = self.controller.loop.service.report.prompt
        if not self.press_estop or prompt is None:
            return
        if str(prompt) == "press_estop" and "estop_press" not in self.sim.faults.active:
            self.sim.inject("estop_press")
        elif str(prompt) == "release_estop" and "estop_press" in self.sim.faults.active:
            self.sim.inject("estop_release")

    def run_selftest(self, step: str | None = None, timeout_s: float = 30.0) -> dict[str, Any]:
        self.submit(RunSelfTest(step))
        self.run_for(SLICE_S)
        waited_s = 0.0
        while self.controller.loop.service.active:
            assert waited_s < timeout_s, f"self-test still running: {self.report()}"
            self.run_for(SLICE_S)
            waited_s += SLICE_S
        self.run_for(SLICE_S)
        return self.report()

    def steps(self, report: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
        return {s["step"]: s for s in (report or self.report())["steps"]}

    def codes(self) -> list[str]:
        return [e.code for e in self.events]

    def close(self) -> None:
        self.controller.close()


def make_rig(*, reference_load: bool = True, fresh_dac: bool = False,
             seed: int = 0) -> SelfTestRig:
    """Like ``build_controller(sim=True)``, with the DAC's factory EEPROM when asked."""
    clock = VirtualClock()
    board = build_board(load_board_config(), sim=True, clock=clock, seed=seed,
                        fresh_dac=fresh_dac)
    catalogue = load_catalogue()
    safety = SafetyConfig(ui_heartbeat_timeout_s=1.0)
    core = ControlCore(catalogue, safety, board.dac.cal.ua_per_lsb / 1000.0)
    loop = ControlLoop(board, core)
    controller = Controller(board=board, core=core, loop=loop, catalogue=catalogue,
                            safety_config=safety, writer=None)
    rig = SelfTestRig(controller)
    loop.add_observer(rig.observe)
    rig.run_for(0.1)  # the boot self-test runs on the first cycle
    if reference_load:
        rig.sim.inject("reference_load")
    return rig
