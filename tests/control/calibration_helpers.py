"""Drive the calibration procedure on the simulated board as a technician would (issue 13)."""

from __future__ import annotations

from kiosk.control.commands import CalibrationDrive, CalibrationEnd, Heartbeat, SaveCalibration
from kiosk.control.service import Controller
from kiosk.hal.sim.board import SimBoard


def sim(controller: Controller) -> SimBoard:
    assert controller.board.sim is not None
    return controller.board.sim


def run(controller: Controller, duration_s: float) -> None:
    end_s = controller.clock.now_s() + duration_s
    while controller.clock.now_s() < end_s - 1e-9:
        controller.submit(Heartbeat())
        controller.run_for(min(1 / 15, end_s - controller.clock.now_s()))


def run_until(controller: Controller, done: object, limit_s: float = 5.0) -> None:
    end_s = controller.clock.now_s() + limit_s
    while not done():  # type: ignore[operator]
        assert controller.clock.now_s() < end_s, "the calibration run did not get there"
        run(controller, 1 / 15)


def measure_point(controller: Controller, point: int) -> tuple[float, float]:
    """Drive ``point`` until it is measured and held; the simulated meter's figures then."""
    controller.submit(CalibrationDrive(point))
    run(controller, 0.02)  # the command is handled by the next cycle
    run_until(controller, lambda: controller.query("calibration")["run"]["points"][point - 1]
              is not None and controller.query("calibration")["run"]["step"] == "hold")
    reading = sim(controller).meter.reading()
    return reading.current_ma, reading.voltage_v


def calibrate(controller: Controller, technician: str = "tech",
              typed: tuple[float, float, float, float] | None = None) -> None:
    """Both points, the meter's figures typed (or ``typed``), saved; output left open."""
    p1 = measure_point(controller, 1)
    p2 = measure_point(controller, 2)
    figures = typed or (p1[0], p1[1], p2[0], p2[1])
    controller.submit(SaveCalibration(technician, *figures))
    run(controller, 0.3)  # accepted: the drive ends and the file is stored; refused: it holds
    end_drive(controller)
    run(controller, 0.1)


def end_drive(controller: Controller) -> None:
    controller.submit(CalibrationEnd())
    run_until(controller, lambda: not controller.query("calibration")["run"]["driving"])
