"""The simulated board's fault names and parameter checks, for reading scenario files.

The board (``kiosk.hal.sim.faults``) declares each fault's parameters once; the scenario reader
checks a file's ``[[event]]`` parameters against the same declarations BEFORE the run starts, so
a typo is exit code 2 with the line named, not a crash at minute five.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.hal.sim.faults import FAULT_PARAMS, FaultParam

ParamChecker = Callable[[dict[str, Any]], None]


def _checker(name: str, spec: tuple[FaultParam, ...]) -> ParamChecker:
    def check(params: dict[str, Any]) -> None:
        allowed = {param.name: param for param in spec}
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            valid = ", ".join(param.describe() for param in spec) or "none"
            raise ValueError(f"fault {name!r} does not take {', '.join(unknown)}; "
                             f"valid parameters: {valid}")
        for param in spec:
            if param.name in params:
                param.check(name, params[param.name])
            elif param.default is None:
                raise ValueError(f"fault {name!r} needs {param.describe()}")

    return check


def fault_param_checkers() -> dict[str, ParamChecker]:
    """Fault name -> checker raising ValueError with the reason (same words as the board)."""
    return {name: _checker(name, spec) for name, spec in FAULT_PARAMS.items()}
