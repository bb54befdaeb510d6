"""The ``selftest_report`` query: the technician's self-test as the UI and the device record
read it (each step's status, figure, unit and cause; the step running and its operator prompt;
the last run's summary with its wall time). Answered from the report the control thread
published; no bus access."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kiosk.control.queries import register_query
from kiosk.control.query_types import INVALID_QUERY, Param, QueryRefused

if TYPE_CHECKING:
    from kiosk.control.service import Controller


@register_query("selftest_report")
def selftest_report(controller: Controller, args: Mapping[str, Param]) -> dict[str, Any]:
    if args:
        raise QueryRefused(INVALID_QUERY, f"selftest_report takes no arguments "
                                          f"({', '.join(sorted(args))} given)")
    loop = controller.loop
    report = loop.service.report.to_dict()
    report["active"] = loop.service.active
    report["fault_code"] = controller.snapshot.fault.code if controller.snapshot.fault else None
    report["boot_selftest_passed"] = loop.selftest.passed if loop.selftest is not None else None
    return report
