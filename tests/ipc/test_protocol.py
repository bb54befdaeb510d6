"""The control socket's messages (kiosk.ipc.protocol), without a process: every command of the
union round-trips by class name, junk bytes only ever raise ProtocolError, and a command with a
wrong type or a non-finite number is refused with its code."""

from __future__ import annotations

import dataclasses
import typing

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.control.commands import (
    Acknowledge,
    AdjustCurrent,
    CalibrationDrive,
    CalibrationEnd,
    Chirp,
    Command,
    EndSession,
    Heartbeat,
    Pause,
    Polarity,
    ProgramDacEeprom,
    ProgramRequest,
    Resume,
    RunSelfTest,
    SaveCalibration,
    SetSalonLimits,
    StartTreatment,
    Stop,
    StopReason,
)
from kiosk.control.reasons import Code, make
from kiosk.ipc import protocol as p
from kiosk.ipc.client import keep_identity, offline_snapshot
from tests.consent_version import CONSENT

EXAMPLES: list[Command] = [
    StartTreatment(ProgramRequest("face", "pigmentation", "face_roller", 0.6, 300.0, True, True,
                                  Polarity.POSITIVE, True), "s-1", True, consent_version=CONSENT),
    Pause(), Resume("s-1"), Stop(StopReason.CLIENT_DISCOMFORT), AdjustCurrent(-0.05),
    Acknowledge("estop"), Heartbeat(), EndSession("s-1"), Chirp(),
    RunSelfTest("relays"), RunSelfTest(), ProgramDacEeprom(),
    # issue 13, service mode: calibration and salon limits travel as commands as well
    CalibrationDrive(2), CalibrationEnd(), SaveCalibration("tech", 0.5, 5.05, 1.5, 15.15),
    SetSalonLimits("manager", 1.2, 1.0, 2.0, 0.3, 40.0, 120.0, 45.0, 1.5),
]


def test_every_member_of_the_command_union_is_encoded_by_its_class_name() -> None:
    assert set(p.COMMAND_TYPES) == {cls.__name__ for cls in typing.get_args(Command)}
    assert {type(c).__name__ for c in EXAMPLES} == set(p.COMMAND_TYPES)


@pytest.mark.parametrize("command", EXAMPLES, ids=lambda c: type(c).__name__)
def test_a_command_round_trips_to_an_equal_dataclass(command: Command) -> None:
    decoded = p.decode_client(p.encode(p.submit_message(7, command)))
    assert isinstance(decoded, p.Submit) and decoded.seq == 7
    assert p.decode_command(decoded) == command


@pytest.mark.requirement("SR-078")
@pytest.mark.parametrize(("name", "body", "code"), [
    ("AdjustCurrent", {"delta_ma": "0.1"}, p.INVALID_VALUE),
    ("AdjustCurrent", {"delta_ma": float("nan")}, p.INVALID_VALUE),
    ("AdjustCurrent", {"delta_ma": float("inf")}, p.INVALID_VALUE),
    ("AdjustCurrent", {}, p.INVALID_VALUE),
    ("StartTreatment", {"program": {"area": "face", "indication": "ageing",
                                    "current_ma": float("-inf")},
                        "session_id": "s", "screening_cleared": True}, p.INVALID_VALUE),
    ("Stop", {"reason": "because"}, p.INVALID_VALUE),
    ("Exec", {}, p.UNKNOWN_COMMAND),
    ("ProgramRequest", {"area": "face", "indication": "ageing"}, p.UNKNOWN_COMMAND),
])
def test_a_wrong_command_is_refused_with_its_code(name: str, body: dict[str, object],
                                                  code: str) -> None:
    message = p.Submit(seq=1, command=name, body=msgspec.Raw(msgspec.msgpack.encode(body)))
    with pytest.raises(p.ProtocolError) as refused:
        p.decode_command(p.decode_client(p.encode(message)))
    assert refused.value.code == code


@pytest.mark.requirement("SR-078")
@given(st.binary(max_size=p.MAX_CLIENT_MESSAGE_BYTES + 10))
def test_any_bytes_decode_or_raise_protocol_error_only(data: bytes) -> None:
    try:
        message = p.decode_client(data)
    except p.ProtocolError as error:
        assert error.code in (p.OVERSIZED, p.MALFORMED)
        return
    if isinstance(message, p.Submit):
        try:
            p.decode_command(message)
        except p.ProtocolError as error:
            assert error.code in (p.UNKNOWN_COMMAND, p.INVALID_VALUE)


def test_a_message_over_the_size_limit_is_oversized_even_when_well_formed() -> None:
    big = p.encode(p.Query(seq=1, what="x" * p.MAX_CLIENT_MESSAGE_BYTES))
    with pytest.raises(p.ProtocolError) as refused:
        p.decode_client(big)
    assert refused.value.code == p.OVERSIZED


def test_the_snapshot_travels_field_by_field() -> None:
    snapshot = dataclasses.replace(offline_snapshot(), last_refusal=make(
        Code.CURRENT_ABOVE_CAP, requested_ma=2.5, cap_ma=1.5, limit="area"))
    push = p.decode_daemon(p.encode(p.SnapshotPush(snapshot=snapshot, sent_s=1.0)))
    assert isinstance(push, p.SnapshotPush) and push.snapshot == snapshot


def test_the_schema_id_is_a_stable_hash_of_the_types() -> None:
    assert p._schema_id() == p.SCHEMA_ID and len(p.SCHEMA_ID) == 16


def test_equal_refusals_keep_their_identity_across_pushes_and_new_ones_do_not() -> None:
    """Screens ask "a new refusal?" by identity; every push is decoded afresh."""
    refusal = make(Code.NOT_IN_THIS_STATE, command="Pause", state="idle")
    first = dataclasses.replace(offline_snapshot(), last_refusal=refusal)
    again = dataclasses.replace(offline_snapshot(), cycle=5, last_refusal=make(
        Code.NOT_IN_THIS_STATE, command="Pause", state="idle"))
    kept = keep_identity(first, again)
    assert kept.last_refusal is refusal and kept.cycle == 5
    other = dataclasses.replace(offline_snapshot(), last_refusal=make(
        Code.NOT_IN_THIS_STATE, command="Resume", state="idle"))
    assert keep_identity(first, other).last_refusal is other.last_refusal
