"""The packaged catalogue's consent version, for tests that start a treatment of a consenting
client (issue 11 item 6: the control core refuses a start without it)."""

from __future__ import annotations

from kiosk.control.catalogue import load_catalogue

CONSENT = load_catalogue().consent_version
