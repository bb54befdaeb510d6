"""SR-042: while the records storage fails, no treatment starts or resumes; a running one is
not cut by it (the monitors keep the client safe, a log cannot), and the snapshot shows it.

The pure core (storage health passed in with the measurements) and the control loop on the
simulated board with a real ``RecordWriter`` whose bounded queue is really full.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from kiosk.control.catalogue import load_catalogue
from kiosk.control.commands import Heartbeat, Pause, ProgramRequest, Resume, StartTreatment
from kiosk.control.core import ControlCore
from kiosk.control.cycle import Measurements
from kiosk.control.loop import ControlLoop
from kiosk.control.snapshot import TreatmentState
from kiosk.hal.config import load_board_config
from kiosk.hal.factory import build_board
from kiosk.hal.sim.clock import VirtualClock
from kiosk.records.events import LogEvent
from kiosk.records.writer import RecordWriter
from tests.consent_version import CONSENT
from tests.control.core_rig import Rig

pytestmark = pytest.mark.requirement("SR-042")

S = TreatmentState
PROGRAM = ProgramRequest("face", "pigmentation", current_ma=0.6, current_stage_s=120)


@dataclass
class StorageRig(Rig):
    storage_ok: bool = True

    def measure(self) -> Measurements:
        return replace(super().measure(), storage_ok=self.storage_ok)


def test_a_start_is_refused_with_storage_fault_while_storage_fails() -> None:
    rig = StorageRig.ready(storage_ok=False)
    result = rig.start(current_ma=0.6)
    rig.run(1.0)
    refusal = result.snapshot.last_refusal
    assert refusal is not None and refusal.code == "storage_fault"
    assert "Records cannot be saved" in refusal.text
    assert not result.snapshot.storage_ok
    assert rig.core.state is S.IDLE and rig.core.fault is None
    assert not rig.actuation.output_relay_closed


def test_a_start_goes_ahead_once_storage_works_again() -> None:
    rig = StorageRig.ready(storage_ok=False)
    rig.start(current_ma=0.6)
    rig.storage_ok = True
    rig.tick()
    result = rig.start(current_ma=0.6)
    assert result.snapshot.storage_ok
    assert rig.run_until_state(S.HOLD, 60.0).snapshot.state is S.HOLD


def test_a_storage_failure_during_the_plateau_does_not_cut_the_current() -> None:
    rig = StorageRig.ready()
    rig.start_and_hold(current_ma=0.6)
    rig.storage_ok = False
    result = rig.run(5.0)
    assert rig.core.fault is None
    assert result.snapshot.state is S.HOLD and not result.snapshot.storage_ok
    assert result.actuation.output_relay_closed
    assert result.snapshot.measured_ma == pytest.approx(0.6, abs=0.05)


def test_a_paused_session_cannot_resume_while_storage_fails() -> None:
    rig = StorageRig.ready()
    rig.start_and_hold(current_ma=0.6)
    rig.storage_ok = False
    rig.tick([Pause()])
    rig.run_until_state(S.PAUSED, 60.0)
    result = rig.tick([Resume("s1")])
    assert result.snapshot.last_refusal is not None
    assert result.snapshot.last_refusal.code == "storage_fault"
    assert result.snapshot.state is S.PAUSED and result.snapshot.resumable
    rig.storage_ok = True
    rig.tick()
    assert rig.tick([Resume("s1")]).snapshot.state is S.CONTACT_CHECK


def test_a_full_records_queue_on_the_board_refuses_the_next_start(tmp_path: Path) -> None:
    clock = VirtualClock()
    board = build_board(load_board_config(), sim=True, clock=clock)
    # The writer commits only every 60 s (wall clock) and wakes for 100 routine events, so the
    # few places of its queue fill up for real; the event after them is refused.
    writer = RecordWriter(tmp_path / "records.db", queue_capacity=4, safety_reserve=1,
                          batch_max_events=100, batch_interval_s=60.0)
    assert writer.start()
    loop = ControlLoop(board, ControlCore(load_catalogue()), records=writer)
    try:
        loop.run_for(0.1)  # self-test
        assert loop.snapshot.storage_ok
        accepted = [writer.post(LogEvent("test.routine", "filler", "info"))
                    for _ in range(4)]
        assert accepted.count(False) >= 1 and not writer.healthy
        loop.submit(StartTreatment(PROGRAM, "s1", screening_cleared=True, consent_version=CONSENT))
        loop.run_for(0.5)
        snapshot = loop.snapshot
        assert not snapshot.storage_ok
        assert snapshot.last_refusal is not None
        assert snapshot.last_refusal.code == "storage_fault"
        assert snapshot.state is S.IDLE and snapshot.fault is None
        assert board.sim is not None and not board.sim.k1_closed()
    finally:
        loop.close()
        writer.stop()
        board.close()


def test_a_full_records_queue_during_the_plateau_leaves_the_current_on(tmp_path: Path) -> None:
    clock = VirtualClock()
    board = build_board(load_board_config(), sim=True, clock=clock)
    writer = RecordWriter(tmp_path / "records.db", queue_capacity=4, safety_reserve=1,
                          batch_max_events=100, batch_interval_s=0.0)
    assert writer.start()
    loop = ControlLoop(board, ControlCore(load_catalogue()), records=writer)
    try:
        loop.submit(StartTreatment(PROGRAM, "s1", screening_cleared=True, consent_version=CONSENT))
        while loop.snapshot.state is not S.HOLD:
            loop.submit(Heartbeat())
            loop.run_for(0.1)
            assert clock.now_s() < 60.0
        writer.stop()  # the writer thread is gone: storage fails for real
        assert not writer.healthy
        for _ in range(20):
            loop.submit(Heartbeat())
            loop.run_for(0.1)
        snapshot = loop.snapshot
        assert snapshot.state is S.HOLD and snapshot.fault is None and not snapshot.storage_ok
        assert board.sim is not None and board.sim.k1_closed()
        assert board.sim.true_current_ma() == pytest.approx(0.6, abs=0.05)
    finally:
        loop.close()
        board.close()
