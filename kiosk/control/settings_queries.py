"""Service queries of the calibration and the salon limits (read-only; any thread).

``calibration``: the calibration in force (figures, technician, date: the device record's "last
calibration"), why treatments are blocked if they are, the calibration run (step, point driven,
each point's averaged nominal readings), the points' currents, the reference resistor, the
plausible bounds and, on the simulated board only, what the simulated meter reads now.
``salon_limits``: the limits in force, who set them and when, each one's hard bounds and the
defaults, and the file's refusal if any.

Everything read here is a reference the control thread replaces whole (frozen objects), so a
query never sees half an update and never touches the bus.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kiosk.control.calibration import BOUNDS, MeterFigures, as_details, fit
from kiosk.control.calibration_run import POINTS_MA, REFERENCE_OHM
from kiosk.control.codes import Reason
from kiosk.control.queries import register_query
from kiosk.control.query_types import INVALID_QUERY, Param, QueryRefused
from kiosk.control.salon_limits import DEFAULTS, HARD_BOUNDS
from kiosk.control.salon_limits import as_details as limits_details

if TYPE_CHECKING:
    from kiosk.control.service import Controller


def _reason(reason: Reason | None) -> dict[str, Any] | None:
    if reason is None:
        return None
    return {"code": reason.code, "text": reason.text,
            "details": {key: value for key, value in reason.details}}


@register_query("calibration")
def calibration(controller: Controller, args: Mapping[str, Param]) -> dict[str, Any]:
    service = controller.core.service
    status = service.run.status
    points: list[dict[str, Any] | None] = []
    for index, reading in enumerate(status.measured, start=1):
        points.append(None if reading is None else {
            "point": index, "dac_code": reading.dac_code,
            "device_ma": reading.nominal_current_ma, "device_v": reading.nominal_node_v})
    meter: dict[str, Any] | None = None
    sim = controller.board.sim
    if sim is not None:
        reading_now = sim.meter.reading()
        meter = {"current_ma": reading_now.current_ma, "voltage_v": reading_now.voltage_v,
                 "reference_connected": sim.meter.reference_connected,
                 "current_error_fraction": sim.meter.current_error_fraction}
    problem = service.calibration_problem
    preview = _preview(controller, args) if args else None
    return {
        "preview": preview,
        "in_force": as_details(service.calibration),
        "blocked": _reason(service.start_blocker()),
        "problem": _reason(problem),
        "run": {"step": str(status.step), "driving": status.driving, "point": status.point,
                "load_kohm": status.load_kohm, "points": points},
        "points_ma": list(POINTS_MA),
        "reference_ohm": REFERENCE_OHM,
        "bounds": {name: list(bounds) for name, bounds in BOUNDS.items()},
        "simulated_meter": meter,
    }


PREVIEW_ARGS = ("point1_current_ma", "point1_voltage_v", "point2_current_ma",
                "point2_voltage_v")


def _preview(controller: Controller, args: Mapping[str, Param]) -> dict[str, Any]:
    """What ``SaveCalibration`` with these typed figures would store, or its refusal: the
    screen shows it before the technician accepts (nothing changes here)."""
    figures: list[float] = []
    for name in PREVIEW_ARGS:
        value = args.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise QueryRefused(INVALID_QUERY, f"calibration preview needs {name} as a number")
        figures.append(float(value))
    service = controller.core.service
    first, second = service.run.status.measured
    if first is None or second is None:
        return {"ok": False, "refusal": {"code": "calibration_point_missing",
                                         "text": "measure both points first"}}
    result = fit((first, second), (MeterFigures(figures[0], figures[1]),
                                   MeterFigures(figures[2], figures[3])),
                 service.calibration, technician="", date="", shunt_ohm=service.shunt_ohm)
    if isinstance(result, Reason):
        return {"ok": False, "refusal": _reason(result)}
    return {"ok": True, "figures": result.figures()}


@register_query("salon_limits")
def salon_limits(controller: Controller, args: Mapping[str, Param]) -> dict[str, Any]:
    service = controller.core.service
    return {
        "in_force": limits_details(service.limits),
        "hard_bounds": {name: list(bounds) for name, bounds in HARD_BOUNDS.items()},
        "defaults": DEFAULTS.values(),
        "problem": _reason(service.limits_problem),
    }
