"""Random command streams into the REAL control loop on the simulated board (virtual clock):
floods, junk objects, extreme numbers, NaN and infinities, wrong types, valid commands in any
order, with a STOP somewhere in the middle (issue 12, "done when").

Checked from the board's own truth, not from the snapshot:
- the STOP brings the board to the safe state (K1 contacts open, DAC at zero) within 2 s of its
  submission, whatever came before or after it;
- nothing in the stream ever cuts the current as an internal error (no ``internal_error`` in
  any cycle, no exception in the loop), and no command, however malformed, latches any fault.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kiosk.control.catalogue import load_catalogue
from kiosk.control.commands import (
    Acknowledge,
    AdjustCurrent,
    EndSession,
    Heartbeat,
    Pause,
    ProgramRequest,
    Resume,
    StartTreatment,
    Stop,
    StopReason,
)
from kiosk.control.loop import CycleRecord
from kiosk.control.service import Controller, build_controller
from kiosk.control.snapshot import TreatmentState
from kiosk.control.watchdog import SystemdWatchdog
from kiosk.hal.sim.board import SimBoard
from kiosk.hal.sim.clock import VirtualClock
from tests.consent_version import CONSENT

S = TreatmentState
SESSION = "session-1"
STOP_LIMIT_S = 2.0
PROGRAMS = [(p.area, p.indication, p.cap_current_ma) for p in load_catalogue().programs]


def resume() -> Resume:
    return Resume(SESSION)


# ---------------------------------------------------------------------------- strategies

EXTREME = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 5e-324, -0.0, 1e-12, 0.05 + 1e-9, 2.0001, 1e6]),
    st.integers(min_value=-(2**70), max_value=2**70),
)
WRONG_TYPE = st.one_of(st.none(), st.text(max_size=12), st.binary(max_size=8),
                       st.lists(st.integers(), max_size=3), st.booleans(),
                       st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))
ANYTHING = st.one_of(EXTREME, WRONG_TYPE)


def junk_program() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.dictionaries(st.sampled_from(["area", "indication", "current_ma"]), ANYTHING,
                        max_size=3),
        st.builds(ProgramRequest, area=st.one_of(st.sampled_from(["face", "neck"]), ANYTHING),
                  indication=st.one_of(st.just("pigmentation"), ANYTHING),
                  current_ma=st.one_of(EXTREME, st.none()),
                  current_stage_s=st.one_of(EXTREME, st.none())),
        WRONG_TYPE,
    )


JUNK = st.one_of(
    WRONG_TYPE,
    EXTREME,
    st.builds(object),
    st.builds(AdjustCurrent, ANYTHING),
    st.builds(Stop, st.one_of(st.text(max_size=12), st.none(), st.integers())),
    st.builds(Acknowledge, st.one_of(st.text(min_size=129, max_size=300), st.integers(),
                                     st.none(), st.lists(st.text(max_size=3), max_size=2))),
    st.builds(Resume, ANYTHING),
    st.builds(EndSession, ANYTHING),
    st.builds(StartTreatment, junk_program(), st.one_of(st.just(SESSION), ANYTHING),
              st.one_of(st.just(True), ANYTHING)),
)


@st.composite
def valid_start(draw: st.DrawFn) -> StartTreatment:
    area, indication, cap_ma = draw(st.sampled_from(PROGRAMS))
    fraction = draw(st.sampled_from([0.3, 1.0, 1.5]))
    current_ma = max(0.05, round(cap_ma * fraction / 0.05) * 0.05)
    request = ProgramRequest(area, indication, current_ma=current_ma, current_stage_s=60.0)
    return StartTreatment(request, draw(st.sampled_from([SESSION, "session-2"])),
                          screening_cleared=True, consent_version=CONSENT)


VALID = st.one_of(
    st.just(Heartbeat()),
    st.builds(EndSession, st.sampled_from([SESSION, "session-2"])),
    st.builds(AdjustCurrent, st.sampled_from([round(k * 0.05, 2) for k in range(-4, 11)])),
    st.just(Pause()),
    st.builds(resume),
    valid_start(),
    st.builds(Acknowledge, st.sampled_from(["estop", "contact_lost", "internal_error"])),
    st.builds(Stop, st.sampled_from(list(StopReason))),
)


@st.composite
def flood(draw: st.DrawFn) -> tuple[str, object, int]:
    return ("flood", draw(st.one_of(VALID, JUNK)), draw(st.sampled_from([50, 2_000, 30_000])))


ITEM = st.one_of(
    st.tuples(st.just("one"), JUNK),
    st.tuples(st.just("one"), VALID),
    flood(),
    st.tuples(st.just("wait"), st.sampled_from([0.0, 0.01, 0.05, 0.3])),
)
STREAM = st.lists(ITEM, max_size=8)


# ---------------------------------------------------------------------------- the rig


class Rig:
    def __init__(self) -> None:
        self.clock = VirtualClock()
        self.controller: Controller = build_controller(sim=True, clock=self.clock,
                                                       notifier=SystemdWatchdog(env={}))
        sim = self.controller.board.sim
        assert sim is not None
        self.sim: SimBoard = sim
        self.internal_errors: list[str] = []
        self.faults: set[str] = set()
        self.controller.loop.add_observer(self._observe)

    def _observe(self, record: CycleRecord) -> None:
        for reason in record.events:
            if reason.code == "internal_error":
                self.internal_errors.append(reason.text)
        if record.snapshot.fault is not None:
            self.faults.add(record.snapshot.fault.code)

    def wait(self, duration_s: float) -> None:
        """Time passes with the screen alive (a heartbeat with every 15 Hz poll)."""
        end_s = self.clock.now_s() + duration_s
        while self.clock.now_s() < end_s - 1e-9:
            self.controller.submit(Heartbeat())
            self.controller.run_for(min(1 / 15, end_s - self.clock.now_s()))

    def play(self, items: list[tuple[Any, ...]]) -> None:
        loop = self.controller.loop
        for item in items:
            if item[0] == "wait":
                self.wait(item[1])
            elif item[0] == "one":
                loop.submit(item[1])  # never raises: refused or accepted
            else:
                _, command, count = item
                for _ in range(count):
                    loop.submit(command)


@pytest.mark.slow
@pytest.mark.requirement("SR-072", "SR-070", "SR-022")
@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(into_treatment_s=st.sampled_from([1.0, 3.0, 6.0, 35.0]),  # 35 s: at the plateau
       before=STREAM,
       reason=st.sampled_from([StopReason.OPERATOR, StopReason.CLIENT_DISCOMFORT]),
       after=STREAM)
def test_stop_always_reaches_the_safe_state_within_2_s_and_junk_never_cuts_as_an_error(
        into_treatment_s: float, before: list[tuple[Any, ...]], reason: StopReason,
        after: list[tuple[Any, ...]]) -> None:
    rig = Rig()
    try:
        rig.controller.run_for(0.05)
        rig.controller.submit(StartTreatment(
            ProgramRequest("face", "pigmentation", current_ma=0.6, current_stage_s=120),
            SESSION, screening_cleared=True, consent_version=CONSENT))
        rig.wait(into_treatment_s)
        rig.play(before)
        event(f"state at the stop: {rig.controller.snapshot.state}")
        stop_at_s = rig.clock.now_s()
        assert rig.controller.loop.submit(Stop(reason)) is None  # a STOP is never refused
        rig.play(after)
        rig.wait(max(0.0, stop_at_s + STOP_LIMIT_S + 0.5 - rig.clock.now_s()))

        safe_at_s = rig.sim.safe_state_reached_at_s(stop_at_s)
        assert safe_at_s is not None, "K1 closed or DAC driving 2.5 s after the STOP"
        assert safe_at_s - stop_at_s <= STOP_LIMIT_S
        assert rig.internal_errors == []
        assert rig.controller.stats.exceptions == 0
        assert rig.faults == set(), rig.faults  # no command latches any fault
    finally:
        rig.controller.close()
