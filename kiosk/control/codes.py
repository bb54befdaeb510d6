"""Stable codes and plain reasons for every decision, refusal and fault.

A code never changes meaning once shipped: the event log, the service export, the screens and the
tests key on it. The reason is one plain sentence for the screen and the log (the UI translates it
by code). Add new codes; never reuse or rename one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """Alarm priority as IEC 60601-1-8 uses it."""

    HIGH = "high"  # current cut, fault latched
    MEDIUM = "medium"  # warning: compliance, contact quality, ramp held
    INFO = "info"  # stage finished, decision taken


@dataclass(frozen=True, slots=True)
class Reason:
    """A decision, refusal or fault: a stable ``code`` and a plain sentence."""

    code: str
    text: str
    severity: Severity = Severity.INFO

    def __str__(self) -> str:
        return f"{self.code}: {self.text}"
