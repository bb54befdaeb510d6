"""The command intake of the real control loop on the simulated board (virtual clock): STOP never
waits behind a flood, the intake stays bounded, junk is refused at submit(), refusals reach the
log rate-limited, submit() is safe from many threads."""

from __future__ import annotations

import threading
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from kiosk.control.commands import (
    Acknowledge,
    AdjustCurrent,
    Heartbeat,
    Pause,
    ProgramRequest,
    Resume,
    StartTreatment,
    Stop,
    StopReason,
)
from kiosk.control.event_sink import LogRateLimit
from kiosk.control.intake import ACK_CAPACITY, NORMAL_LANE_CAPACITY, CommandIntake
from kiosk.control.loop import CycleRecord
from kiosk.control.service import Controller, build_controller
from kiosk.control.snapshot import TreatmentState
from kiosk.control.watchdog import SystemdWatchdog
from kiosk.hal.sim.board import SimBoard
from kiosk.hal.sim.clock import VirtualClock
from kiosk.records.events import LogEvent
from tests.consent_version import CONSENT
from tools.traceability import FigureRecorder

S = TreatmentState
PROGRAM = ProgramRequest("face", "pigmentation", current_ma=0.6, current_stage_s=120)
FLOOD = 100_000
STOP_LIMIT_S = 2.0
MEMORY_LIMIT_KIB = 64.0


class CollectingSink:
    """Stands in for the records writer: keeps what the loop posts."""

    def __init__(self) -> None:
        self.events: list[LogEvent] = []

    def post(self, event: LogEvent) -> bool:
        self.events.append(event)
        return True


@pytest.fixture
def controller() -> Iterator[Controller]:
    built = build_controller(sim=True, clock=VirtualClock(), notifier=SystemdWatchdog(env={}))
    yield built
    built.close()


def sim(controller: Controller) -> SimBoard:
    assert controller.board.sim is not None
    return controller.board.sim


def run_with_ui(controller: Controller, duration_s: float, until: S | None = None) -> None:
    end_s = controller.clock.now_s() + duration_s
    while controller.clock.now_s() < end_s - 1e-9:
        controller.submit(Heartbeat())
        controller.run_for(min(1 / 15, end_s - controller.clock.now_s()))
        if until is not None and controller.snapshot.state is until:
            return


def to_plateau(controller: Controller) -> None:
    controller.run_for(0.05)
    controller.submit(StartTreatment(PROGRAM, "session-1", screening_cleared=True,
                                     consent_version=CONSENT))
    run_with_ui(controller, 40.0, until=S.HOLD)
    run_with_ui(controller, 0.5)
    assert controller.snapshot.state is S.HOLD
    assert sim(controller).true_current_ma() == pytest.approx(0.6, abs=0.03)


def stop_outcome(controller: Controller, stop_at_s: float) -> tuple[float, float]:
    """Run with the UI alive until the board is safe; (set-point zero, safe state) in s after
    ``stop_at_s``, the safe state from the board's truth (K1 contacts open, DAC 0)."""
    zero_at_s: float | None = None

    def observe(record: CycleRecord) -> None:
        nonlocal zero_at_s
        if zero_at_s is None and record.snapshot.setpoint_ma == 0.0:
            zero_at_s = record.snapshot.time_s

    controller.loop.add_observer(observe)
    run_with_ui(controller, 5.0)
    safe_at_s = sim(controller).safe_state_reached_at_s(stop_at_s)
    assert zero_at_s is not None and safe_at_s is not None
    assert not sim(controller).k1_closed()
    assert abs(sim(controller).true_current_ma()) < 0.02  # the skin's back-current, bleeder
    return zero_at_s - stop_at_s, safe_at_s - stop_at_s


def mixed_flood(count: int) -> Iterator[object]:
    """Every kind of command a confused or hostile client could send, and junk."""
    kinds: list[object] = [
        Heartbeat(), AdjustCurrent(0.05), AdjustCurrent(-0.05), Resume("session-1"), Pause(),
        StartTreatment(PROGRAM, "other", True,
                       consent_version=CONSENT), Acknowledge("contact_lost"),
        AdjustCurrent(1e308), AdjustCurrent(float("nan")), object(), {"program": "x"}, None,
        Stop("not a reason"),  # type: ignore[arg-type]
    ]
    for index in range(count):
        yield kinds[index % len(kinds)]


@pytest.mark.requirement("SR-022", "SR-070", "SR-071")
def test_a_stop_after_100_000_heartbeats_reaches_zero_within_2_s(
        controller: Controller, safety_figure: FigureRecorder) -> None:
    to_plateau(controller)
    tracemalloc.start()
    try:
        for _ in range(FLOOD):
            controller.submit(Heartbeat())
        _, peak_b = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert controller.loop.intake.waiting == 1  # one coalesced heartbeat
    stop_at_s = controller.clock.now_s()
    controller.submit(Stop(StopReason.OPERATOR))

    zero_s, safe_s = stop_outcome(controller, stop_at_s)

    safety_figure("setpoint_zero_after_ms", zero_s * 1000, "ms", limit=STOP_LIMIT_S * 1000)
    safety_figure("safe_after_ms", safe_s * 1000, "ms", limit=STOP_LIMIT_S * 1000)
    safety_figure("flood_peak_memory_kib", peak_b / 1024, "KiB", limit=MEMORY_LIMIT_KIB)
    assert zero_s <= STOP_LIMIT_S
    assert safe_s <= STOP_LIMIT_S
    assert peak_b / 1024 < MEMORY_LIMIT_KIB
    assert controller.snapshot.state is S.PAUSED


@pytest.mark.requirement("SR-022", "SR-070", "SR-071", "SR-072")
def test_a_stop_after_100_000_mixed_commands_and_junk_reaches_zero_within_2_s(
        controller: Controller, safety_figure: FigureRecorder) -> None:
    to_plateau(controller)
    bound = NORMAL_LANE_CAPACITY + 3 + 1 + ACK_CAPACITY + 1
    refusals: dict[str, int] = {}
    tracemalloc.start()
    try:
        for command in mixed_flood(FLOOD):
            refusal = controller.loop.submit(command)
            if refusal is not None:
                refusals[refusal.code] = refusals.get(refusal.code, 0) + 1
        _, peak_b = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert controller.loop.intake.waiting <= bound
    assert set(refusals) == {"command_queue_full", "invalid_command"}
    stop_at_s = controller.clock.now_s()
    assert controller.loop.submit(Stop(StopReason.CLIENT_DISCOMFORT)) is None  # never refused

    zero_s, safe_s = stop_outcome(controller, stop_at_s)

    safety_figure("setpoint_zero_after_ms", zero_s * 1000, "ms", limit=STOP_LIMIT_S * 1000)
    safety_figure("safe_after_ms", safe_s * 1000, "ms", limit=STOP_LIMIT_S * 1000)
    safety_figure("flood_peak_memory_kib", peak_b / 1024, "KiB", limit=MEMORY_LIMIT_KIB)
    assert zero_s <= STOP_LIMIT_S
    assert safe_s <= STOP_LIMIT_S
    assert peak_b / 1024 < MEMORY_LIMIT_KIB
    assert controller.snapshot.fault is None  # junk never latched internal_error
    assert controller.stats.exceptions == 0


@pytest.mark.requirement("SR-070")
def test_a_start_submitted_just_before_a_stop_never_runs_after_it(
        controller: Controller) -> None:
    controller.run_for(0.05)
    controller.submit(StartTreatment(PROGRAM, "session-1", screening_cleared=True,
                                     consent_version=CONSENT))
    controller.submit(Stop(StopReason.OPERATOR))  # same cycle, after the start
    run_with_ui(controller, 2.0)
    assert controller.snapshot.state is S.IDLE
    assert not sim(controller).k1_closed()

    controller.submit(Stop(StopReason.OPERATOR))
    controller.submit(StartTreatment(PROGRAM, "session-1", screening_cleared=True,
                                     consent_version=CONSENT))
    run_with_ui(controller, 2.0)  # stop first (nothing to stop), then the start runs
    assert controller.snapshot.state in (S.CONTACT_CHECK, S.RAMP_UP)


@pytest.mark.requirement("SR-070")
def test_a_stop_of_the_same_reason_coalesces_at_the_newest_copy(
        controller: Controller) -> None:
    """Stop, Start, Stop in one cycle: the coalesced Stop stands where its newest copy was,
    so the start is still stopped."""
    controller.run_for(0.05)
    for command in (Stop(), StartTreatment(PROGRAM, "session-1", True,
                                           consent_version=CONSENT), Stop()):
        assert controller.submit(command) is None
    assert controller.loop.intake.waiting == 2
    run_with_ui(controller, 2.0)
    assert controller.snapshot.state is S.IDLE
    assert not sim(controller).k1_closed()


@pytest.mark.requirement("SR-071")
def test_the_normal_lane_refuses_the_command_after_its_capacity_and_takes_again_next_cycle(
        controller: Controller) -> None:
    to_plateau(controller)
    loop = controller.loop
    answers = [loop.submit(AdjustCurrent(-0.05)) for _ in range(NORMAL_LANE_CAPACITY + 1)]
    assert answers[:NORMAL_LANE_CAPACITY] == [None] * NORMAL_LANE_CAPACITY
    last = answers[-1]
    assert last is not None and last.code == "command_queue_full"
    assert last.detail("capacity") == NORMAL_LANE_CAPACITY
    for priority in (Stop(StopReason.OPERATOR), Pause(), Acknowledge("estop")):
        assert loop.submit(priority) is None  # the priority lane has room whatever the rest
    controller.run_for(0.01)
    assert loop.intake.waiting == 0
    assert loop.submit(AdjustCurrent(-0.05)) is None


def test_distinct_acknowledgements_are_bounded_but_a_repeated_one_coalesces() -> None:
    intake = CommandIntake()
    for index in range(ACK_CAPACITY):
        assert intake.submit(Acknowledge(f"code_{index}")) is None
    refusal = intake.submit(Acknowledge("one_more"))
    assert refusal is not None and refusal.code == "command_queue_full"
    assert intake.submit(Acknowledge("code_0")) is None  # the same one again: coalesced
    assert intake.submit(Stop(StopReason.SHUTDOWN)) is None
    taken = intake.take()
    assert taken[-2:] == [Acknowledge("code_0"), Stop(StopReason.SHUTDOWN)]
    assert len(taken) == ACK_CAPACITY + 1


JUNK: list[tuple[object, str]] = [
    (AdjustCurrent(1e308), "delta_ma"),
    (AdjustCurrent(float("inf")), "delta_ma"),
    (AdjustCurrent(float("nan")), "delta_ma"),
    (AdjustCurrent("0.05"), "delta_ma"),  # type: ignore[arg-type]
    (AdjustCurrent(True), "delta_ma"),
    (object(), "(object)"),
    ({"delta_ma": 0.05}, "(object)"),
    (None, "(object)"),
    (StartTreatment({"area": "face"}, "s", True,
                    consent_version=CONSENT), "program"),  # type: ignore[arg-type]
    (StartTreatment(PROGRAM, "s", "yes",
                    consent_version=CONSENT), "screening_cleared"),  # type: ignore[arg-type]
    (StartTreatment(PROGRAM, "x" * 10_000, True, consent_version=CONSENT), "session_id"),
    (StartTreatment(ProgramRequest("face", "pigmentation", current_ma=float("nan")), "s", True,
                    consent_version=CONSENT),
     "current_ma"),
    (Stop("operator"), "reason"),  # type: ignore[arg-type]
    (Acknowledge(["estop"]), "fault_code"),  # type: ignore[arg-type]
]


@pytest.mark.requirement("SR-072")
@pytest.mark.parametrize(("junk", "field"), JUNK, ids=[repr(j)[:40] for j, _ in JUNK])
def test_junk_is_refused_at_submit_and_the_treatment_goes_on(
        controller: Controller, junk: object, field: str) -> None:
    controller.run_for(0.05)
    controller.submit(StartTreatment(PROGRAM, "session-1", screening_cleared=True,
                                     consent_version=CONSENT))
    run_with_ui(controller, 3.0)
    assert controller.snapshot.state is S.RAMP_UP
    refusal = controller.loop.submit(junk)
    assert refusal is not None and refusal.code == "invalid_command"
    assert refusal.detail("field") == field
    assert controller.loop.intake.waiting == 0
    run_with_ui(controller, 0.5)
    assert controller.snapshot.last_refusal == refusal  # the screen sees why, too
    controller.submit(AdjustCurrent(-1.0))  # well formed; the core refuses it: newer
    run_with_ui(controller, 0.1)
    assert controller.snapshot.last_refusal is not None
    assert controller.snapshot.last_refusal.code != "invalid_command"
    assert controller.snapshot.state is S.RAMP_UP
    assert controller.snapshot.fault is None
    assert controller.stats.exceptions == 0


@pytest.mark.requirement("SR-071")
def test_refusals_reach_the_log_once_a_second_with_their_count() -> None:
    sink = CollectingSink()
    built = build_controller(sim=True, clock=VirtualClock(), notifier=SystemdWatchdog(env={}))
    built.loop.records = sink
    built.loop.events.records = sink
    try:
        built.run_for(0.05)
        refused = 0
        for _ in range(300):  # 3 s of a client sending junk every cycle
            for _ in range(50):
                refused += built.loop.submit(object()) is not None
            built.run_for(0.01)
        built.run_for(1.0)
    finally:
        built.close()
    rows = [e for e in sink.events if e.code == "invalid_command"]
    assert 3 <= len(rows) <= 5  # once a second, not 15 000 rows
    assert sum(int(e.details["refused_count"]) for e in rows) == refused == 15_000


@pytest.mark.requirement("SR-071")
def test_a_flood_of_refused_adjustments_is_rate_limited_in_the_log() -> None:
    """The core refuses each of these (at its cap): a full lane every cycle would be 1600 log
    rows a second, enough to fill the writer's queue (a storage fault)."""
    sink = CollectingSink()
    built = build_controller(sim=True, clock=VirtualClock(), notifier=SystemdWatchdog(env={}))
    built.loop.records = sink
    built.loop.events.records = sink
    records: list[CycleRecord] = []
    try:
        built.run_for(0.05)
        built.submit(StartTreatment(PROGRAM, "session-1", screening_cleared=True,
                                    consent_version=CONSENT))
        run_with_ui(built, 3.0)
        built.loop.add_observer(records.append)
        for _ in range(200):  # 2 s
            for _ in range(NORMAL_LANE_CAPACITY):
                built.loop.submit(AdjustCurrent(1.0))  # above this program's cap
            built.run_for(0.01)
    finally:
        built.close()
    seen = [e for r in records for e in r.events if e.code == "current_at_cap"]
    logged = [e for e in sink.events if e.code == "current_at_cap"]
    assert len(seen) >= 3000  # the cycle records are complete
    assert len(logged) <= 20 + 5 * 2 + 1  # burst, then 5 a second
    told = len(logged) + sum(int(e.details.get("suppressed_before", 0)) for e in logged)
    assert told <= len(seen)
    per_token = NORMAL_LANE_CAPACITY * 100 / 5  # refused between two admitted rows
    assert len(seen) - told <= per_token  # only the tail after the last row is not counted yet


def test_the_log_rate_limit_counts_what_it_left_out() -> None:
    limit = LogRateLimit(burst=2, rate_per_s=1.0)
    assert [limit.admit("x", 0.0) for _ in range(4)] == [0, 0, None, None]
    assert limit.admit("x", 0.5) is None
    assert limit.admit("x", 1.0) == 3  # one token back after 1 s; three were left out
    assert limit.admit("y", 1.0) == 0  # per code
    with pytest.raises(ValueError):
        LogRateLimit(burst=0)


@pytest.mark.requirement("SR-071")
def test_submit_is_safe_from_many_threads_at_once() -> None:
    intake = CommandIntake()
    results: list[list[Any]] = []
    start = threading.Barrier(8)

    def client(index: int) -> None:
        mine: list[Any] = []
        start.wait()
        for n in range(2_000):
            command: object = Heartbeat() if n % 2 else AdjustCurrent(0.05 * (1 + index % 3))
            mine.append(intake.submit(command))
        results.append(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    taken: list[object] = []
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        taken.extend(intake.take())
    for thread in threads:
        thread.join()
    taken.extend(intake.take())
    answers = [a for mine in results for a in mine]
    accepted_adjustments = sum(1 for mine in results for n, a in enumerate(mine)
                               if n % 2 == 0 and a is None)
    assert len(answers) == 16_000
    assert {a.code for a in answers if a is not None} <= {"command_queue_full"}
    assert sum(isinstance(c, AdjustCurrent) for c in taken) == accepted_adjustments
    assert intake.accepted + intake.refused == 16_000
    assert intake.waiting == 0
