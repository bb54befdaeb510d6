"""Errors raised by the hardware layer.

The control layer catches :class:`HalError` (and so :class:`BusError`) around every chip access
and answers with the safe state; a Python ``OSError`` from the bus never leaks past the HAL.
"""

from __future__ import annotations


class HalError(Exception):
    """A chip did not do what it was told (EEPROM did not program, RDY never came, ...)."""


class BusError(HalError):
    """An I2C transaction failed (NACK, timeout, bus busy); wraps the ``OSError`` as cause."""
