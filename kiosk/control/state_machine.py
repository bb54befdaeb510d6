"""The treatment state machine: states, the transitions allowed between them, the sub-steps of
the contact check and of closing the output, and what each step drives on the board.

Why a table: the allowed transitions are the safety argument in one place (a fault is reachable
from everywhere, leaves only to idle through an acknowledgement, and current only flows in
ramp_up / hold / ramp_down or as the contact-check test current). A transition not in the table
is a bug, raised as :class:`TransitionError`; the core turns it into an ``internal_error`` fault.

Sequences (hardware.md 8), each step waiting on readings taken after its action settled:

contact check  quiet (|I| < 10 uA for >= 1 s: K2 may switch) -> boost (BOOST_EN, 50 ms,
               AIN2 = 30 V +- 5 %) -> polarity (DAC 0, heartbeat, K2, 10 ms) -> output (K1 on,
               10 ms, |I| < 10 uA) -> test (~50 uA test current, load <= start threshold)
current stage  ramp (PI on the ramped set-point) in ramp_up / hold / ramp_down
closing        drain (DAC 0, |I| < 10 uA within 200 ms) -> relay_open (K1 off, 10 ms) -> then
               K2 off and boost off in the final state (paused, done or idle)
fault          K1 off, DAC 0, boost off at once; K2 released once K1 has had 10 ms to open
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from kiosk.control.snapshot import CURRENT_MAY_FLOW_STATES, TreatmentState

S = TreatmentState


class TransitionError(RuntimeError):
    """A transition the table does not allow: a bug in the core, never a user error."""


class Step(StrEnum):
    NONE = ""
    QUIET = "quiet"
    BOOST = "boost"
    POLARITY = "polarity"
    OUTPUT = "output"
    TEST = "test"
    RAMP = "ramp"
    DRAIN = "drain"
    RELAY_OPEN = "relay_open"


class Drive(StrEnum):
    """What the DAC does in a step."""

    OFF = "off"  # code 0
    TEST = "test"  # the contact-check test current, open loop
    REGULATE = "regulate"  # PI on the ramped set-point


ALLOWED_TRANSITIONS: Mapping[TreatmentState, frozenset[TreatmentState]] = MappingProxyType({
    S.IDLE: frozenset({S.CONTACT_CHECK, S.FAULT}),
    S.CONTACT_CHECK: frozenset({S.RAMP_UP, S.IDLE, S.PAUSED, S.DONE, S.FAULT}),
    S.RAMP_UP: frozenset({S.HOLD, S.RAMP_DOWN, S.FAULT}),
    S.HOLD: frozenset({S.RAMP_UP, S.RAMP_DOWN, S.FAULT}),
    S.RAMP_DOWN: frozenset({S.PAUSED, S.DONE, S.FAULT}),
    S.PAUSED: frozenset({S.CONTACT_CHECK, S.DONE, S.IDLE, S.FAULT}),  # idle: EndSession
    S.DONE: frozenset({S.CONTACT_CHECK, S.IDLE, S.FAULT}),
    S.FAULT: frozenset({S.IDLE}),
})

CURRENT_STATES = CURRENT_MAY_FLOW_STATES - {S.CONTACT_CHECK}
"""States in which the regulated treatment current may flow (``CURRENT_MAY_FLOW_STATES``, from
``kiosk.control.snapshot``, adds the contact check's test current: a session cannot be ended in
them, and the dose is reported every 10 s in them)."""

STEPS_OF: Mapping[TreatmentState, frozenset[Step]] = MappingProxyType({
    S.IDLE: frozenset({Step.NONE}),
    S.CONTACT_CHECK: frozenset({Step.QUIET, Step.BOOST, Step.POLARITY, Step.OUTPUT, Step.TEST,
                                Step.DRAIN, Step.RELAY_OPEN}),
    S.RAMP_UP: frozenset({Step.RAMP}),
    S.HOLD: frozenset({Step.RAMP}),
    S.RAMP_DOWN: frozenset({Step.RAMP, Step.DRAIN, Step.RELAY_OPEN}),
    S.PAUSED: frozenset({Step.NONE}),
    S.DONE: frozenset({Step.NONE}),
    S.FAULT: frozenset({Step.NONE}),
})


@dataclass(frozen=True, slots=True)
class OutputPlan:
    """What the board does in a step. ``polarity_reversed`` None keeps K2 where it is."""

    boost_on: bool
    heartbeat: bool
    relay_closed: bool
    polarity_reversed: bool | None
    drive: Drive


_ALL_OFF = OutputPlan(boost_on=False, heartbeat=False, relay_closed=False,
                      polarity_reversed=False, drive=Drive.OFF)


def output_plan(state: TreatmentState, step: Step, program_reversed: bool,
                k2_may_release: bool) -> OutputPlan:
    """The board outputs for ``state``/``step``; ``program_reversed`` is the program's K2."""
    if state is S.FAULT:
        return OutputPlan(boost_on=False, heartbeat=False, relay_closed=False,
                          polarity_reversed=False if k2_may_release else None, drive=Drive.OFF)
    if state in (S.IDLE, S.PAUSED, S.DONE):
        return _ALL_OFF
    if step is Step.QUIET:
        return OutputPlan(False, False, False, None, Drive.OFF)
    if step is Step.BOOST:
        return OutputPlan(True, False, False, None, Drive.OFF)
    if step is Step.POLARITY:
        return OutputPlan(True, True, False, program_reversed, Drive.OFF)
    if step is Step.OUTPUT:
        return OutputPlan(True, True, True, program_reversed, Drive.OFF)
    if step is Step.TEST:
        return OutputPlan(True, True, True, program_reversed, Drive.TEST)
    if step is Step.RAMP:
        return OutputPlan(True, True, True, program_reversed, Drive.REGULATE)
    if step is Step.DRAIN:
        return OutputPlan(True, True, True, None, Drive.OFF)
    if step is Step.RELAY_OPEN:
        return OutputPlan(True, True, False, None, Drive.OFF)
    raise TransitionError(f"no output plan for {state}/{step}")


class StateTracker:
    """The current state and step, with the time each was entered; refuses illegal moves."""

    def __init__(self) -> None:
        self.state: TreatmentState = S.IDLE
        self.step: Step = Step.NONE
        self.entered_at_s = 0.0
        self.step_at_s = 0.0

    def go(self, state: TreatmentState, step: Step, now_s: float) -> TreatmentState:
        """Move to ``state``/``step``; returns the state left. Raises on an illegal move."""
        previous = self.state
        if state is not previous and state not in ALLOWED_TRANSITIONS[previous]:
            raise TransitionError(f"{previous} -> {state} is not an allowed transition")
        if step not in STEPS_OF[state]:
            raise TransitionError(f"step {step!r} does not belong to {state}")
        if state is not previous:
            self.entered_at_s = now_s
        self.state = state
        self.set_step(step, now_s)
        return previous

    def set_step(self, step: Step, now_s: float) -> None:
        if step not in STEPS_OF[self.state]:
            raise TransitionError(f"step {step!r} does not belong to {self.state}")
        if step is not self.step:
            self.step_at_s = now_s
        self.step = step

    def force_fault(self, now_s: float) -> None:
        """Fault is reachable from every state; never raises (the safe path must not fail)."""
        if self.state is not S.FAULT:
            self.entered_at_s = now_s
        self.state = S.FAULT
        self.step = Step.NONE
        self.step_at_s = now_s
