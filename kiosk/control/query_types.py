"""What both sides of a service query share: the argument type and the refusal.

A *query* asks the control layer something by name (``"status"``, ``"calibration"``, an event
page, ...) with a few plain arguments and gets a dict back. The in-process controller answers
it directly (:meth:`kiosk.control.service.Controller.query`); over the socket the daemon answers
the same handlers (:mod:`kiosk.control.queries`) and the UI's
:meth:`kiosk.ipc.client.RemoteController.query` waits for the answer. A query changes nothing:
technician actions that change the device are commands (``kiosk.control.commands``), so they
take the command intake's checks and the core's refusals like every other command.
"""

from __future__ import annotations

Param = str | float | bool
"""One query argument (msgspec encodes these losslessly)."""

UNKNOWN_QUERY = "unknown_query"
INVALID_QUERY = "invalid_query"


class QueryRefused(ValueError):
    """The query was refused: ``code`` (stable) and a plain ``text`` for a person."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text
