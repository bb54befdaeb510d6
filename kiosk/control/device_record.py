"""The device record: what the device has done over its life, and when it needs service.

Usage counters
--------------
The control layer counts, from what the control thread already knows each cycle (a loop
observer: no extra bus access, a few additions under a lock held for microseconds):

- operating time: the control loop's clock between cycles (a gap counts at most
  :data:`MAX_GAP_S`: a suspended or stalled process is not "operating");
- time with current: cycles that began with the output relay K1 commanded closed;
- sessions: each control session once, when its output first closes (the last one counted is
  saved, so a session resumed after a restart is not counted twice);
- relay cycles: K1 closures and K2 switches as :class:`kiosk.control.board_io.BoardIO` applies
  them (the relays' contacts wear by switching, hardware.md 8);
- charge delivered: the rise of the session's measured dose (mA·min, the core's
  ``Snapshot.dose_ma_min``), never the set-point.

Durability: the counters are saved atomically (temporary file, fsync, rename, fsync of the
folder) in the state folder as ``device-counters.json`` with a SHA-256 of their content, every
:data:`SAVE_INTERVAL_S` of control time, when the output opens (a treatment's charge is on disk
when it ends) and when the controller closes. A SIGKILL loses at most one interval. Writing
never happens on the control thread on the wall clock: the control thread only signals the
saver thread; on a virtual clock (tests) the caller's thread saves at once, deterministically.
A damaged file is moved aside (``.damaged-<time>``) and counting restarts from zero with the
reason shown and logged: never a silent reset.

Maintenance reminders
---------------------
A calibration is due every ``calibration_days`` (30-730, default 365), a self-test every
``selftest_days`` (1-90, default 30). The technician sets both (``set_maintenance_intervals``);
they are kept in ``maintenance.json`` (same atomic write, checksum, bounds checked again on
load: a file outside them is refused and the defaults apply, with the reason shown), and each
change is a durable event with old and new values and who made it. The dates of the last
calibration and self-test come from the ``calibration`` and ``selftest_report`` queries (built
elsewhere) when they exist; :func:`reminder` decides "due" from a date, an interval and now.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import kiosk
from kiosk.control.queries import register_query
from kiosk.control.query_types import INVALID_QUERY, UNKNOWN_QUERY, Param, QueryRefused
from kiosk.records.events import LogEvent

if TYPE_CHECKING:
    from kiosk.control.board_io import BoardIO
    from kiosk.control.loop import CycleRecord
    from kiosk.control.service import Controller
    from kiosk.hal.board import Board

_log = logging.getLogger(__name__)

COUNTERS_FILE = "device-counters.json"
INTERVALS_FILE = "maintenance.json"
COUNTERS_FORMAT = "kiosk-device-counters 1"
INTERVALS_FORMAT = "kiosk-maintenance-intervals 1"
MAX_FILE_BYTES = 4096
SAVE_INTERVAL_S = 60.0
"""Counters are saved at least this often (control time): the most a SIGKILL can lose."""
MAX_GAP_S = 1.0
"""The most one gap between two cycles adds to the operating time."""
MA_MIN_TO_COULOMB = 0.06  # 1 mA for 1 min = 1e-3 A * 60 s
DAY_S = 86_400.0
FUTURE_TOLERANCE_S = 3600.0
"""A last date later than now by more than this is not believed (the clock or the record is
wrong): the reminder says so and counts as due."""

CALIBRATION_DAYS_BOUNDS = (30, 730)
SELFTEST_DAYS_BOUNDS = (1, 90)
DEFAULT_CALIBRATION_DAYS = 365
DEFAULT_SELFTEST_DAYS = 30

SIM_SERIAL = "SIM-00000001"
SERIAL_SOURCES = (Path("/sys/firmware/devicetree/base/serial-number"), Path("/proc/cpuinfo"))

INTERVALS_CHANGED_CODE = "device_record.intervals_changed"
COUNTERS_DAMAGED_CODE = "device_record.counters_damaged"
INTERVALS_REFUSED_CODE = "device_record.intervals_refused"


# ---------------------------------------------------------------------------- counters


@dataclass(frozen=True, slots=True)
class Counters:
    """The usage counters as saved (times in seconds, charge in mA·min)."""

    operating_s: float = 0.0
    current_s: float = 0.0
    sessions: int = 0
    k1_closures: int = 0
    k2_switches: int = 0
    charge_ma_min: float = 0.0
    last_session_id: str | None = None
    since_wall_s: float = 0.0  # when counting (re)started
    saved_wall_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Counters:
        """Refuses (ValueError) anything that is not exactly a counters record."""
        if not isinstance(data, dict) or set(data) != {f.name for f in fields(cls)}:
            raise ValueError("not a counters record (keys differ)")
        numbers = ("operating_s", "current_s", "charge_ma_min", "since_wall_s")
        whole = ("sessions", "k1_closures", "k2_switches")
        for name in numbers:
            _non_negative(data[name], name)
        for name in whole:
            value = data[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number >= 0")
        if data["saved_wall_s"] is not None:
            _non_negative(data["saved_wall_s"], "saved_wall_s")
        session = data["last_session_id"]
        if session is not None and (not isinstance(session, str) or len(session) > 64):
            raise ValueError("last_session_id must be text of at most 64 characters")
        saved = data["saved_wall_s"]
        return cls(operating_s=float(data["operating_s"]), current_s=float(data["current_s"]),
                   sessions=data["sessions"], k1_closures=data["k1_closures"],
                   k2_switches=data["k2_switches"], charge_ma_min=float(data["charge_ma_min"]),
                   last_session_id=session, since_wall_s=float(data["since_wall_s"]),
                   saved_wall_s=None if saved is None else float(saved))


def _non_negative(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0")


class UsageCounter:
    """Counts on the control thread (:meth:`observe`, a loop observer); read from any thread."""

    def __init__(self, start: Counters, io: BoardIO | None) -> None:
        self._lock = threading.Lock()
        self._counters = start
        self._io = io
        self._k1_seen = 0 if io is None else io.k1_closures
        self._k2_seen = 0 if io is None else io.k2_switches
        self._last_s: float | None = None
        self._output_was_on = False
        self._dose_session: str | None = None
        self._dose_seen = 0.0
        self.on_output_opened: Callable[[float], None] | None = None
        self.on_time: Callable[[float], None] | None = None

    @property
    def counters(self) -> Counters:
        with self._lock:
            return self._counters

    def observe(self, record: CycleRecord) -> None:
        """One cycle (control thread): see the module docstring for what counts."""
        now_s = record.started_s
        snapshot = record.snapshot
        output_on = bool(snapshot.output_enabled)
        io = self._io
        k1 = self._k1_seen if io is None else io.k1_closures
        k2 = self._k2_seen if io is None else io.k2_switches
        with self._lock:
            c = self._counters
            operating_s, current_s = c.operating_s, c.current_s
            if self._last_s is not None:
                gap_s = min(max(0.0, now_s - self._last_s), MAX_GAP_S)
                operating_s += gap_s
                if self._output_was_on:
                    current_s += gap_s
            self._last_s = now_s
            charge = c.charge_ma_min
            sessions, last_session = c.sessions, c.last_session_id
            session = snapshot.session_id
            if session is not None:
                dose = snapshot.dose_ma_min if math.isfinite(snapshot.dose_ma_min) else 0.0
                if session != self._dose_session or dose < self._dose_seen:
                    self._dose_session = session  # a new baseline: count only what rises now
                    self._dose_seen = dose
                elif dose > self._dose_seen:
                    charge += dose - self._dose_seen
                    self._dose_seen = dose
                if output_on and session != last_session:
                    sessions += 1
                    last_session = session
            self._counters = replace(
                c, operating_s=operating_s, current_s=current_s, sessions=sessions,
                last_session_id=last_session, charge_ma_min=charge,
                k1_closures=c.k1_closures + max(0, k1 - self._k1_seen),
                k2_switches=c.k2_switches + max(0, k2 - self._k2_seen))
            self._k1_seen, self._k2_seen = k1, k2
        opened = self._output_was_on and not output_on
        self._output_was_on = output_on
        if opened and self.on_output_opened is not None:
            self.on_output_opened(now_s)
        elif self.on_time is not None:
            self.on_time(now_s)

    def mark_saved(self, wall_s: float) -> Counters:
        with self._lock:
            self._counters = replace(self._counters, saved_wall_s=wall_s)
            return self._counters


# ---------------------------------------------------------------------------- files


def write_atomically(path: Path, payload: Mapping[str, Any], file_format: str) -> None:
    """``{"format", "content", "sha256"}`` as JSON: temp file (0600), fsync, rename, fsync the
    folder. After a power cut the file is the old one or the new one, never a torn one."""
    content = json.loads(json.dumps(payload, allow_nan=False))
    text = json.dumps({"format": file_format, "content": content, "sha256": _digest(content)},
                      sort_keys=True, indent=1)
    temp = path.with_name(path.name + ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def read_checked(path: Path, file_format: str) -> dict[str, Any] | None:
    """The content of a file :func:`write_atomically` wrote; None when there is none;
    ValueError naming what is wrong otherwise (size, JSON, format, checksum)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return None
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES} bytes")
    try:
        wrapper = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"not JSON ({error})") from error
    if not isinstance(wrapper, dict) or wrapper.get("format") != file_format:
        raise ValueError(f"not a '{file_format}' file")
    content = wrapper.get("content")
    if not isinstance(content, dict) or wrapper.get("sha256") != _digest(content):
        raise ValueError("its checksum does not match its content")
    return content


def _digest(content: Any) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------- intervals


@dataclass(frozen=True, slots=True)
class Intervals:
    """The maintenance intervals in days, who set them and when (None: the defaults)."""

    calibration_days: int = DEFAULT_CALIBRATION_DAYS
    selftest_days: int = DEFAULT_SELFTEST_DAYS
    changed_by: str | None = None
    changed_wall_s: float | None = None

    @classmethod
    def checked(cls, calibration_days: Any, selftest_days: Any, changed_by: Any,
                changed_wall_s: Any) -> Intervals:
        """Refuses (ValueError, with the allowed range) a value outside its bounds."""
        cal = _whole_within(calibration_days, "calibration_days", CALIBRATION_DAYS_BOUNDS)
        st = _whole_within(selftest_days, "selftest_days", SELFTEST_DAYS_BOUNDS)
        if changed_by is not None and (not isinstance(changed_by, str)
                                       or not 1 <= len(changed_by) <= 64
                                       or not changed_by.isprintable()):
            raise ValueError("changed_by must be a name of 1 to 64 printable characters")
        if changed_wall_s is not None:
            _non_negative(changed_wall_s, "changed_wall_s")
        return cls(cal, st, changed_by,
                   None if changed_wall_s is None else float(changed_wall_s))


def _whole_within(value: Any, name: str, bounds: tuple[int, int]) -> int:
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or value != int(value):
        raise ValueError(f"{name} must be a whole number of days ({low} to {high})")
    if not low <= int(value) <= high:
        raise ValueError(f"{name} must be {low} to {high} days, not {int(value)}")
    return int(value)


# ---------------------------------------------------------------------------- reminders


@dataclass(frozen=True, slots=True)
class Reminder:
    """Whether a maintenance step is due. ``status``: ``ok``, ``due``, ``never`` (no record
    of one), ``unknown`` (the record cannot be read) or ``date_in_future``; every status but
    ``ok`` counts as due."""

    status: str
    due: bool
    last_wall_s: float | None
    due_wall_s: float | None
    days_left: float | None


def reminder(last_wall_s: float | None, interval_days: int, now_wall_s: float, *,
             known: bool = True) -> Reminder:
    """Due from the moment the last one is exactly ``interval_days`` old (that instant
    included); never done, unknown, or dated in the future: due as well."""
    if not known:
        return Reminder("unknown", True, None, None, None)
    if last_wall_s is None or not math.isfinite(last_wall_s):
        return Reminder("never", True, None, None, None)
    due_wall_s = last_wall_s + interval_days * DAY_S
    if last_wall_s > now_wall_s + FUTURE_TOLERANCE_S:
        return Reminder("date_in_future", True, last_wall_s, due_wall_s, None)
    left_s = due_wall_s - now_wall_s
    if left_s <= 0.0:
        return Reminder("due", True, last_wall_s, due_wall_s, left_s / DAY_S)
    return Reminder("ok", False, last_wall_s, due_wall_s, left_s / DAY_S)


# ---------------------------------------------------------------------------- the record


def board_serial(board: Board, sources: tuple[Path, ...] = SERIAL_SOURCES) -> tuple[str, str]:
    """(serial, where it came from). The board (rev B) carries no ID chip, so the device is
    named by the Raspberry Pi's own serial (device tree, else ``/proc/cpuinfo``); the
    simulated board has a fixed one."""
    if board.sim is not None:
        return SIM_SERIAL, "simulated"
    for source in sources:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text = source.read_bytes()[:65536].decode("ascii", "replace")
            if source.name == "cpuinfo":
                for line in text.splitlines():
                    key, _sep, value = line.partition(":")
                    if key.strip().lower() == "serial" and value.strip():
                        return value.strip()[:64], str(source)
            elif text.strip("\x00\n "):
                return text.strip("\x00\n ")[:64], str(source)
    return "unknown", "none"


class DeviceRecord:
    """Counters and intervals of one state folder; see the module docstring."""

    def __init__(self, state_dir: Path, *, io: BoardIO | None, virtual: bool,
                 post: Callable[[LogEvent], bool] | None = None,
                 save_interval_s: float = SAVE_INTERVAL_S,
                 wall_now_s: Callable[[], float] = time.time) -> None:
        self.state_dir = Path(state_dir)
        self.counters_path = self.state_dir / COUNTERS_FILE
        self.intervals_path = self.state_dir / INTERVALS_FILE
        self._virtual = virtual
        self._post = post
        self._save_interval_s = save_interval_s
        self._wall_now_s = wall_now_s
        self.counters_problem: str | None = None
        self.intervals_problem: str | None = None
        self.save_problem: str | None = None
        self.saves = 0
        start = self._load_counters()
        self.counter = UsageCounter(start, io)
        self.counter.on_time = self._on_time
        self.counter.on_output_opened = self._on_output_opened
        self._intervals_lock = threading.Lock()
        self._intervals = self._load_intervals()
        self._save_lock = threading.Lock()
        self._last_save_s: float | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """On the wall clock: the saver thread (the control thread only signals it)."""
        if self._virtual or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="device-record", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """The final save (after the control loop stopped). Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self.save()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(timeout=2 * self._save_interval_s)
            self._wake.clear()
            if not self._stopping.is_set():
                self.save()

    # -- counting hooks (control thread) ----------------------------------------------------
    def _on_time(self, now_s: float) -> None:
        if self._last_save_s is None:
            self._last_save_s = now_s
        elif now_s - self._last_save_s >= self._save_interval_s:
            self._last_save_s = now_s
            self._request_save()

    def _on_output_opened(self, now_s: float) -> None:
        self._last_save_s = now_s
        self._request_save()

    def _request_save(self) -> None:
        if self._virtual:
            self.save()
        else:
            self._wake.set()

    # -- saving and loading -----------------------------------------------------------------
    def save(self) -> bool:
        """Write the counters now (any thread but the control thread on the wall clock)."""
        with self._save_lock:
            wall_s = self._wall_now_s()
            counters = replace(self.counter.counters, saved_wall_s=wall_s)
            try:
                write_atomically(self.counters_path, counters.to_json(), COUNTERS_FORMAT)
            except (OSError, ValueError) as error:
                self.save_problem = f"the counters cannot be saved: {error}"
                _log.error("device record: %s", self.save_problem)
                return False
            self.counter.mark_saved(wall_s)
            self.save_problem = None
            self.saves += 1
            return True

    def _load_counters(self) -> Counters:
        now_s = self._wall_now_s()
        try:
            content = read_checked(self.counters_path, COUNTERS_FORMAT)
            if content is not None:
                return Counters.from_json(content)
        except (OSError, ValueError) as error:
            kept = self._set_aside(self.counters_path, now_s)
            self.counters_problem = (
                f"The usage counters file was damaged ({error}); it was kept as {kept} and"
                " counting started again from zero.")
            _log.error("device record: %s", self.counters_problem)
            self._log(LogEvent(COUNTERS_DAMAGED_CODE, self.counters_problem, "medium",
                               details={"kept_as": kept}, durable=True))
        return Counters(since_wall_s=now_s)

    def _load_intervals(self) -> Intervals:
        try:
            content = read_checked(self.intervals_path, INTERVALS_FORMAT)
            if content is None:
                return Intervals()
            if set(content) != {f.name for f in fields(Intervals)}:
                raise ValueError("not a maintenance intervals record (keys differ)")
            return Intervals.checked(**content)
        except (OSError, ValueError, TypeError) as error:
            self.intervals_problem = (
                f"The maintenance intervals file was refused ({error}); the defaults apply"
                " until a technician sets them.")
            _log.error("device record: %s", self.intervals_problem)
            self._log(LogEvent(INTERVALS_REFUSED_CODE, self.intervals_problem, "medium",
                               durable=True))
            return Intervals()

    @staticmethod
    def _set_aside(path: Path, now_s: float) -> str:
        target = path.with_name(f"{path.name}.damaged-{int(now_s)}")
        try:
            os.replace(path, target)
        except OSError:
            return path.name
        return target.name

    def _log(self, event: LogEvent) -> None:
        if self._post is not None:
            with contextlib.suppress(Exception):
                self._post(event)

    # -- intervals --------------------------------------------------------------------------
    @property
    def intervals(self) -> Intervals:
        with self._intervals_lock:
            return self._intervals

    def set_intervals(self, calibration_days: Any, selftest_days: Any, by: Any) -> Intervals:
        """Check, store atomically, log old and new; ValueError (with the bounds) otherwise."""
        wall_s = self._wall_now_s()
        new = Intervals.checked(calibration_days, selftest_days, by, wall_s)
        if by is None:
            raise ValueError("changed_by (the technician) is required")
        with self._intervals_lock:
            old = self._intervals
            write_atomically(self.intervals_path, asdict(new), INTERVALS_FORMAT)
            self._intervals = new
            self.intervals_problem = None
        self._log(LogEvent(
            INTERVALS_CHANGED_CODE,
            f"Maintenance intervals changed by {new.changed_by}: calibration"
            f" {old.calibration_days} -> {new.calibration_days} days, self-test"
            f" {old.selftest_days} -> {new.selftest_days} days.", "info",
            details={"by": new.changed_by, "old_calibration_days": old.calibration_days,
                     "new_calibration_days": new.calibration_days,
                     "old_selftest_days": old.selftest_days,
                     "new_selftest_days": new.selftest_days}, durable=True))
        return new


# ---------------------------------------------------------------------------- queries


@dataclass(frozen=True, slots=True)
class LastDone:
    """The last calibration or self-test as another module reports it."""

    known: bool  # False: nothing answers for it on this software, or its answer was refused
    available: bool  # False: no module of this software answers the query at all
    wall_s: float | None
    technician: str | None
    passed: bool | None
    note: str | None


WALL_KEYS = ("wall_s", "date_wall_s", "calibrated_wall_s", "finished_wall_s", "at_wall_s",
             "ran_wall_s")
DATE_KEYS = ("date", "calibrated_at", "finished_at", "when", "at")


def last_done(controller: Controller, what: str) -> LastDone:
    """Ask the query ``what`` (``calibration``, ``selftest_report``) for its date.

    The contract read: a ``wall_s`` (or ``date_wall_s``, ...; epoch seconds) or a ``date`` (ISO
    8601) key, optionally ``technician`` and ``passed``. No such query: not known. A query that
    answers without a date: never done."""
    try:
        answer = controller.query(what)
    except QueryRefused as refusal:
        if refusal.code == UNKNOWN_QUERY:
            return LastDone(False, False, None, None, None, f"'{what}' is not available")
        return LastDone(False, True, None, None, None, refusal.text[:200])
    except Exception as error:  # another module's bug must not break this page
        _log.exception("query %r failed", what)
        return LastDone(False, True, None, None, None,
                        f"'{what}' failed: {type(error).__name__}")
    wall_s = _wall_of(answer)
    technician = answer.get("technician")
    passed = answer.get("passed")
    return LastDone(True, True, wall_s, technician[:64] if isinstance(technician, str) else None,
                    passed if isinstance(passed, bool) else None, None)


def _wall_of(answer: Mapping[str, Any]) -> float | None:
    for key in WALL_KEYS:
        value = answer.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) \
                and math.isfinite(value) and value > 0:
            return float(value)
    for key in DATE_KEYS:
        value = answer.get(key)
        if isinstance(value, str) and value:
            with contextlib.suppress(ValueError, OverflowError, OSError):
                return datetime.datetime.fromisoformat(value).timestamp()
    return None


def _reminder_json(last: LastDone, interval_days: int, now_wall_s: float) -> dict[str, Any]:
    due = reminder(last.wall_s, interval_days, now_wall_s, known=last.known)
    return {"status": due.status, "due": due.due, "last_wall_s": due.last_wall_s,
            "due_wall_s": due.due_wall_s, "days_left": due.days_left,
            "interval_days": interval_days, "technician": last.technician,
            "passed": last.passed, "note": last.note, "available": last.available}


@register_query("device_record")
def device_record(controller: Controller, args: Mapping[str, Param]) -> dict[str, Any]:
    """Versions, serial, usage counters, intervals and the two reminders."""
    if args:
        raise QueryRefused(INVALID_QUERY, "device_record takes no arguments")
    record: DeviceRecord | None = getattr(controller, "device_record", None)
    serial, serial_source = board_serial(controller.board)
    now_wall_s = time.time() if record is None else record._wall_now_s()
    intervals = Intervals() if record is None else record.intervals
    counters: dict[str, Any] | None = None
    if record is not None:
        c = record.counter.counters
        counters = {"operating_h": c.operating_s / 3600.0, "current_h": c.current_s / 3600.0,
                    "sessions": c.sessions, "k1_closures": c.k1_closures,
                    "k2_switches": c.k2_switches, "charge_ma_min": c.charge_ma_min,
                    "charge_c": c.charge_ma_min * MA_MIN_TO_COULOMB,
                    "since_wall_s": c.since_wall_s, "saved_wall_s": c.saved_wall_s}
    return {
        "software_version": kiosk.__version__,
        "catalogue_version": controller.catalogue.version,
        "simulated_board": controller.board.sim is not None,
        "serial": serial, "serial_source": serial_source,
        "counters": counters,
        "counters_problem": None if record is None else (record.counters_problem
                                                         or record.save_problem),
        "intervals": {"calibration_days": intervals.calibration_days,
                      "selftest_days": intervals.selftest_days,
                      "changed_by": intervals.changed_by,
                      "changed_wall_s": intervals.changed_wall_s,
                      "calibration_bounds": list(CALIBRATION_DAYS_BOUNDS),
                      "selftest_bounds": list(SELFTEST_DAYS_BOUNDS),
                      "editable": record is not None},
        "intervals_problem": None if record is None else record.intervals_problem,
        "calibration": _reminder_json(last_done(controller, "calibration"),
                                      intervals.calibration_days, now_wall_s),
        "selftest": _reminder_json(last_done(controller, "selftest_report"),
                                   intervals.selftest_days, now_wall_s),
    }


@register_query("set_maintenance_intervals")
def set_maintenance_intervals(controller: Controller,
                              args: Mapping[str, Param]) -> dict[str, Any]:
    """The technician's one write on this page (see docs/architecture.md, Device record):
    bounded, stored atomically, logged durably with old and new values and who."""
    allowed = {"calibration_days", "selftest_days", "technician"}
    if set(args) != allowed:
        raise QueryRefused(INVALID_QUERY,
                           "set_maintenance_intervals takes exactly calibration_days,"
                           " selftest_days and technician")
    record: DeviceRecord | None = getattr(controller, "device_record", None)
    if record is None:
        raise QueryRefused("device_record_unavailable",
                           "this control unit runs without a state folder")
    try:
        new = record.set_intervals(args["calibration_days"], args["selftest_days"],
                                   args["technician"])
    except ValueError as error:
        raise QueryRefused(INVALID_QUERY, str(error)) from error
    except OSError as error:
        raise QueryRefused("device_record_unavailable",
                           f"the intervals cannot be saved: {error.strerror or error}") from error
    return {"calibration_days": new.calibration_days, "selftest_days": new.selftest_days,
            "changed_by": new.changed_by, "changed_wall_s": new.changed_wall_s}
