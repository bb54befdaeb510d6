"""Queries about the device itself that every screen and export may ask: versions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import kiosk
from kiosk.control.queries import register_query
from kiosk.control.query_types import Param

if TYPE_CHECKING:
    from kiosk.control.service import Controller


@register_query("versions")
def versions(controller: Controller, args: Mapping[str, Param]) -> dict[str, Any]:
    """The software and treatment-catalogue versions the control layer runs, and whether its
    board is the simulated one."""
    return {"software_version": kiosk.__version__,
            "catalogue_version": controller.catalogue.version,
            "simulated_board": controller.board.sim is not None}
