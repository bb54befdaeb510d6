"""Malformed commands, invalid by construction (issue 12 item 3): what a buggy screen, a corrupt
socket message or an attacker could hand the control layer. Each one must be refused with
``invalid_command`` and change nothing; none may reach the cycle's arithmetic.

Frozen dataclasses do not check their field types, so a command class with a wrong-typed or
non-finite field is as easy to make as a foreign object.
"""

from __future__ import annotations

import math

from hypothesis import strategies as st

from kiosk.control.commands import (
    Acknowledge,
    AdjustCurrent,
    EndSession,
    Polarity,
    ProgramRequest,
    Resume,
    StartTreatment,
    Stop,
)

BAD_NUMBERS: list[object] = [math.nan, math.inf, -math.inf, 1e308, -1e308, 3.0, -2.5, "0.05",
                             None, True, [0.05], {"ma": 0.05}, b"\x00", 10**400]
"""Not a finite number within ±2 mA (the firmware range): no adjustment can be one of these."""
BAD_FIELD_NUMBERS: list[object] = [math.nan, math.inf, -math.inf, 1e308, -1e308, "0.6", True,
                                   [0.6], b"\x00", 10**400]
"""Not a finite number within ±20 (a program's current or time; None means the default)."""
BAD_TEXT: list[object] = [None, 123, 1.5, b"s1", "", "x" * 500, "s\x00", ["s1"], True]
GOOD_PROGRAM = ProgramRequest("face", "pigmentation", current_ma=0.6)


def _program(**bad: object) -> ProgramRequest:
    fields = {"area": "face", "indication": "pigmentation", "current_ma": 0.6}
    fields.update(bad)
    return ProgramRequest(**fields)  # type: ignore[arg-type]  # junk on purpose


def junk_strategy() -> st.SearchStrategy[object]:
    numbers = st.sampled_from(BAD_NUMBERS)
    texts = st.sampled_from(BAD_TEXT)
    not_commands = st.one_of(
        st.none(), st.integers(), st.floats(allow_nan=True), st.text(max_size=8),
        st.binary(max_size=8), st.dictionaries(st.text(max_size=4), st.integers(), max_size=3),
        st.lists(st.integers(), max_size=3), st.just(GOOD_PROGRAM), st.just(Polarity.NEGATIVE),
        st.just(object()), st.just(AdjustCurrent), st.just(StartTreatment),
        st.builds(lambda: {"kind": "AdjustCurrent", "delta_ma": 0.05}))
    bad_programs = st.one_of(
        st.sampled_from([None, "face", {"area": "face", "indication": "pigmentation"}, 42,
                         ("face", "pigmentation")]),
        st.builds(lambda v: _program(current_ma=v), st.sampled_from(BAD_FIELD_NUMBERS)),
        st.builds(lambda v: _program(current_stage_s=v),
                  st.sampled_from([math.nan, math.inf, -math.inf, "120", 1e308])),
        st.builds(lambda v: _program(area=v), texts),
        st.builds(lambda v: _program(indication=v), texts),
        st.builds(lambda v: _program(polarity=v), st.sampled_from(["negative", 1, True])),
        st.builds(lambda v: _program(caution_acknowledged=v), st.sampled_from([1, "yes", None])),
        st.builds(lambda v: _program(second_phase=v), st.sampled_from([0, "no", math.nan])))
    return st.one_of(
        not_commands,
        st.builds(AdjustCurrent, numbers),
        st.builds(StartTreatment, bad_programs, st.just("s1"), st.just(True)),
        st.builds(StartTreatment, st.just(GOOD_PROGRAM), texts, st.just(True)),
        st.builds(StartTreatment, st.just(GOOD_PROGRAM), st.just("s1"),
                  st.sampled_from([1, "yes", None, math.nan])),
        st.builds(Resume, texts), st.builds(EndSession, texts),
        st.builds(Stop, st.sampled_from(["operator", None, 3])),
        st.builds(Acknowledge, texts),
    )
