"""Stable codes and plain reasons for every decision, refusal and fault.

A code never changes meaning once shipped: the event log, the service export, the screens and the
tests key on it. The reason is one plain sentence for the screen and the log (the UI translates it
by code). Add new codes; never reuse or rename one. The full list, with each code's sentence and
severity, lives in :mod:`kiosk.control.reasons`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

DetailValue = str | float | int | bool
"""A value named in a reason: what the sentence refers to (a cap, a measured load, a state)."""


class Severity(StrEnum):
    """Alarm priority as IEC 60601-1-8 uses it."""

    HIGH = "high"  # current cut, fault latched
    MEDIUM = "medium"  # warning: compliance, contact quality, ramp held
    INFO = "info"  # stage finished, decision taken


@dataclass(frozen=True, slots=True)
class Reason:
    """A decision, refusal or fault: a stable ``code`` and a plain sentence.

    ``details`` carries the values the sentence names (``("cap_ma", 1.5)``, ...) so a translated
    screen or the event log can show them without parsing the English text.
    """

    code: str
    text: str
    severity: Severity = Severity.INFO
    details: tuple[tuple[str, DetailValue], ...] = ()

    def detail(self, key: str) -> DetailValue | None:
        """The value named ``key`` in this reason, or None."""
        for name, value in self.details:
            if name == key:
                return value
        return None

    def __str__(self) -> str:
        return f"{self.code}: {self.text}"
