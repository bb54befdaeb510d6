"""A client's consent to the treatment, as signed on the screen (issue 11 item 6).

The consent is asked before a client's first treatment and again whenever the catalogue's consent
changes (its version, its text, or a screening question: ``Catalogue.consent_version`` carries a
digest of them). What is kept is what a person would need to show later what was agreed to:
the consent version, the catalogue version, the language, the very text shown, the signature the
client drew (strokes as small integer vectors, not an image), the operator and the time. A
``records.consent_given`` event goes into the hash-chained log (without the client's id, as every
event), so a consent row cannot be slipped in later without the log disagreeing.

Personal data: deleted with the client (:meth:`kiosk.records.clients.ClientRegistry
.delete_client`).
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kiosk.records.clients import normalise_pseudonymous_id
from kiosk.records.errors import RecordNotFoundError
from kiosk.records.events import LogEvent, append_events, stamp
from kiosk.records.store import RecordStore

CONSENT_GIVEN_CODE = "records.consent_given"
MAX_PAD_PX = 2000  # a signature pad is a few hundred pixels; larger figures are junk
MAX_SIGNATURE_POINTS = 4000  # ~20 s of drawing at 200 points/s; keeps a record a few KB
MIN_INK_PX = 40.0  # a tap or a dot is not a signature: at least this much drawn line
MAX_CONSENT_TEXT_CHARS = 20_000
MAX_VERSION_CHARS = 64


@dataclass(frozen=True, slots=True)
class Signature:
    """Strokes drawn on a pad of ``width_px`` x ``height_px``, each a run of integer points."""

    width_px: int
    height_px: int
    strokes: tuple[tuple[tuple[int, int], ...], ...]

    def __post_init__(self) -> None:
        for name in ("width_px", "height_px"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) \
                    or not 1 <= value <= MAX_PAD_PX:
                raise ValueError(f"{name} must be a whole number of pixels in 1..{MAX_PAD_PX}")
        if not self.strokes:
            raise ValueError("a signature needs at least one stroke")
        points = 0
        for stroke in self.strokes:
            if not stroke:
                raise ValueError("a stroke needs at least one point")
            for point in stroke:
                if len(point) != 2 or not all(
                        isinstance(v, int) and not isinstance(v, bool) for v in point):
                    raise ValueError("a point is two whole numbers")
                x, y = point
                if not (0 <= x <= self.width_px and 0 <= y <= self.height_px):
                    raise ValueError("a point lies outside the pad")
            points += len(stroke)
        if points > MAX_SIGNATURE_POINTS:
            raise ValueError(f"a signature has at most {MAX_SIGNATURE_POINTS} points")
        if self.ink_px < MIN_INK_PX:
            raise ValueError(f"a signature needs at least {MIN_INK_PX:g} px of drawn line")

    @property
    def ink_px(self) -> float:
        """The drawn length: a tap has none."""
        return sum(math.dist(a, b) for stroke in self.strokes
                   for a, b in itertools.pairwise(stroke))

    def to_json(self) -> str:
        return json.dumps({"w": self.width_px, "h": self.height_px,
                           "strokes": [[v for point in stroke for v in point]
                                       for stroke in self.strokes]},
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Signature:
        data = json.loads(text)
        strokes = tuple(tuple((int(flat[i]), int(flat[i + 1]))
                              for i in range(0, len(flat) - 1, 2))
                        for flat in data["strokes"])
        return cls(int(data["w"]), int(data["h"]), strokes)

    @classmethod
    def from_points(cls, width_px: float, height_px: float,
                    strokes: Sequence[Sequence[tuple[float, float]]]) -> Signature:
        """From a pad's float coordinates (origin bottom left, as Kivy gives them): rounded to
        whole pixels and clamped to the pad."""
        w, h = max(1, round(width_px)), max(1, round(height_px))
        return cls(w, h, tuple(
            tuple((min(w, max(0, round(x))), min(h, max(0, round(y)))) for x, y in stroke)
            for stroke in strokes if stroke))


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    consent_id: int
    client_id: str
    consent_version: str
    catalogue_version: str
    language: str
    text: str
    signature: Signature
    operator: str
    given_wall_s: float


class ConsentBook:
    """Record and look up consents (UI thread, on the UI's own :class:`RecordStore`)."""

    def __init__(self, store: RecordStore, wall_now_s: Callable[[], float] = time.time,
                 mono_now_s: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._wall_now_s = wall_now_s
        self._mono_now_s = mono_now_s

    def record_consent(self, client_id: str, *, consent_version: str, catalogue_version: str,
                       language: str, text: str, signature: Signature,
                       operator: str) -> ConsentRecord:
        """Store a signed consent (one durable transaction, with its event in the log)."""
        version = _short(consent_version, "consent_version")
        catalogue = _short(catalogue_version, "catalogue_version")
        language = _short(language, "language")
        operator = _short(operator, "operator")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_CONSENT_TEXT_CHARS:
            raise ValueError("the consent text must be the text shown (1 to 20 000 characters)")
        if not isinstance(signature, Signature):
            raise ValueError("a consent needs the client's signature")
        pid = normalise_pseudonymous_id(client_id)
        wall_s = self._wall_now_s()
        with self._store.transaction(durable=True) as conn:
            if conn.execute("SELECT 1 FROM clients WHERE client_id = ?", (pid,)).fetchone() \
                    is None:
                raise RecordNotFoundError(f"no client {client_id!r}")
            cursor = conn.execute(
                "INSERT INTO consents (client_id, consent_version, catalogue_version, language,"
                " text, signature, operator, given_wall_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (pid, version, catalogue, language, text, signature.to_json(), operator,
                 round(wall_s * 1e6)))
            consent_id = int(cursor.lastrowid or 0)
            note = LogEvent(CONSENT_GIVEN_CODE, "A client signed the consent.",
                            details={"consent_version": version, "language": language,
                                     "catalogue_version": catalogue}, durable=True)
            append_events(conn, [stamp(note, self._mono_now_s(), wall_s)], self._store.boot_id)
        return ConsentRecord(consent_id, pid, version, catalogue, language, text, signature,
                             operator, round(wall_s * 1e6) / 1e6)

    def consent_in_force(self, client_id: str, consent_version: str) -> ConsentRecord | None:
        """The client's newest consent to ``consent_version``; None when she has none."""
        return self._one("WHERE client_id = ? AND consent_version = ?",
                         (normalise_pseudonymous_id(client_id), consent_version))

    def latest(self, client_id: str) -> ConsentRecord | None:
        """The client's newest consent, whatever its version (to say when she last agreed)."""
        return self._one("WHERE client_id = ?", (normalise_pseudonymous_id(client_id),))

    def _one(self, where: str, params: tuple[str, ...]) -> ConsentRecord | None:
        row = self._store.connection.execute(
            "SELECT id, client_id, consent_version, catalogue_version, language, text,"
            f" signature, operator, given_wall_us FROM consents {where}"
            " ORDER BY given_wall_us DESC, id DESC LIMIT 1", params).fetchone()
        if row is None:
            return None
        return ConsentRecord(int(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]),
                             str(row[5]), Signature.from_json(row[6]), str(row[7]),
                             int(row[8]) / 1e6)


def _short(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_VERSION_CHARS \
            or not value.isprintable():
        raise ValueError(f"{name} must be 1 to {MAX_VERSION_CHARS} printable characters")
    return value.strip()
