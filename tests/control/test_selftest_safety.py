"""The self-test's safety: refused unless idle with no session (and, with a fault latched, only
the steps that switch nothing on); the safe state after every step and at STOP or E-stop
mid-step (time to safe state measured); never more than the test current; the DAC EEPROM
programming; junk refused."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from kiosk.control import domain_limits as lim
from kiosk.control.codes import Reason
from kiosk.control.commands import (
    Acknowledge,
    EndSession,
    Heartbeat,
    Pause,
    ProgramDacEeprom,
    ProgramRequest,
    RunSelfTest,
    StartTreatment,
    Stop,
)
from kiosk.control.loop import CycleRecord
from kiosk.control.query_types import QueryRefused
from kiosk.control.selftest.admission import READ_ONLY_STEPS, STEP_NAMES
from kiosk.control.snapshot import TreatmentState as S
from kiosk.control.validation import validate_command
from tests.consent_version import CONSENT
from tests.control.selftest_rig import SelfTestRig, make_rig
from tools.traceability import FigureRecorder

SAFE_WITHIN_MS = 25.0  # hardware.md 8: software-detected fault to safe state


@pytest.fixture
def rig() -> Iterator[SelfTestRig]:
    rig = make_rig()
    yield rig
    rig.close()


def refusal(rig: SelfTestRig) -> str | None:
    last = rig.controller.snapshot.last_refusal
    return last.code if last is not None else None


def assert_board_safe(rig: SelfTestRig) -> None:
    board, sim = rig.controller.board, rig.sim
    assert not board.output_relay.is_closed and not sim.k1_closed()
    assert not board.polarity_relay.is_reversed and not sim.k2_reversed()
    assert sim.dac_output_v() == 0.0
    assert not board.boost.is_enabled
    assert board.trip_test is not None and not board.trip_test.is_injecting
    assert not sim.hw_tripped()
    assert sim.heartbeat_alive()  # the loop toggles again
    assert not rig.controller.loop.service.active


# --- the safe state ------------------------------------------------------------------------------

@pytest.mark.requirement("SR-161")
@pytest.mark.parametrize("step", STEP_NAMES)
def test_every_step_leaves_the_board_in_the_safe_state(rig: SelfTestRig, step: str) -> None:
    at_step_end: list[tuple[bool, float, bool]] = []

    def watch(record: CycleRecord) -> None:
        if any(e.code.startswith("selftest_step_") for e in record.events):
            board = rig.controller.board
            at_step_end.append((board.output_relay.is_closed, rig.sim.dac_output_v(),
                                board.boost.is_enabled))

    rig.controller.loop.add_observer(watch)
    report = rig.run_selftest(step)
    assert rig.steps(report)[step]["status"] == "passed"
    assert at_step_end == [(False, 0.0, False)]  # in the very cycle the step ended
    assert_board_safe(rig)


def _until_current_flows(rig: SelfTestRig, step: str) -> float:
    rig.submit(RunSelfTest(step))
    for _ in range(100):
        rig.controller.run_for(0.002)
        if rig.sim.true_current_ma() > 0.8 * lim.TEST_CURRENT_MA:
            return rig.clock.now_s()
    raise AssertionError(f"{step}: the test current never flowed")


@pytest.mark.requirement("SR-161")
@pytest.mark.parametrize("step", ["relays", "adc_noise", "monostable"])
def test_stop_mid_step_reaches_the_safe_state_in_time(
        rig: SelfTestRig, step: str, safety_figure: FigureRecorder) -> None:
    t0 = _until_current_flows(rig, step)
    rig.submit(Stop())
    rig.run_for(0.1)
    safe_at = rig.sim.safe_state_reached_at_s(t0)
    assert safe_at is not None
    safe_ms = (safe_at - t0) * 1000
    safety_figure("selftest_stop_safe_after_ms", safe_ms, "ms", limit=SAFE_WITHIN_MS)
    assert safe_ms < SAFE_WITHIN_MS
    result = rig.steps()[step]
    assert (result["status"], result["cause"]) == ("aborted", "stop")
    assert rig.report()["last_run"]["aborted"] == "stop"
    assert "selftest_run_aborted" in rig.codes()
    rig.run_for(0.05)
    assert_board_safe(rig)
    assert rig.controller.snapshot.fault is None


@pytest.mark.requirement("SR-161")
@pytest.mark.requirement("SR-167")
@pytest.mark.parametrize("step", ["relays", "adc_noise"])
def test_an_estop_press_mid_step_cuts_at_once_and_latches_the_fault(
        rig: SelfTestRig, step: str, safety_figure: FigureRecorder) -> None:
    t0 = _until_current_flows(rig, step)
    rig.sim.inject("estop_press")
    rig.run_for(0.1)
    safe_at = rig.sim.safe_state_reached_at_s(t0)
    assert safe_at is not None
    safe_ms = (safe_at - t0) * 1000
    safety_figure("selftest_estop_safe_after_ms", safe_ms, "ms", limit=SAFE_WITHIN_MS)
    assert safe_ms < SAFE_WITHIN_MS
    assert rig.steps()[step]["status"] == "aborted"
    fault = rig.controller.snapshot.fault
    assert fault is not None and fault.code == "estop"
    assert not rig.controller.loop.service.active
    rig.sim.inject("estop_release")
    rig.submit(Acknowledge("estop"))
    rig.run_for(0.1)
    assert rig.controller.snapshot.fault is None
    assert_board_safe(rig)


@pytest.mark.requirement("SR-168")
def test_a_full_run_never_drives_more_than_the_test_current_and_switches_dry(
        rig: SelfTestRig) -> None:
    rig.run_selftest()
    assert rig.max_true_current_ma <= lim.TEST_CURRENT_MA * 1.05
    assert rig.max_true_current_ma >= lim.TEST_CURRENT_MA * 0.9  # it did drive it
    # What software commands (the GPIO edges of K1 and K2); the monostable step's K1 drop is
    # the hardware's own cut under the test current, the very thing that step proves.
    fe, gpio = rig.sim.frontend, rig.controller.board.config.gpio
    commands = [e for e in rig.sim.pin_factory.history
                if e.bcm in (gpio.k1_output_en, gpio.k2_polarity) and e.function == "output"]
    assert len(commands) >= 8
    for event in commands:
        assert fe.dac_is_zero_at(event.time_s), f"{event}: relay switched with the DAC on"
        if event.bcm == gpio.k2_polarity:
            assert not fe.k1_contacts_closed_at(event.time_s), f"{event}: K2 moved wet"


# --- admission -----------------------------------------------------------------------------------

@pytest.mark.requirement("SR-160")
def test_refused_while_a_session_is_open_then_allowed_once_it_ended() -> None:
    rig = make_rig(reference_load=False)
    try:
        program = ProgramRequest("face", "pigmentation", current_ma=0.6, current_stage_s=120)
        rig.submit(StartTreatment(program, "s-1", True, consent_version=CONSENT))
        for _ in range(30):
            rig.submit(Heartbeat())
            rig.run_for(0.1)
        assert rig.controller.snapshot.state is S.RAMP_UP  # current flows
        rig.submit(RunSelfTest())
        rig.run_for(0.02)
        assert refusal(rig) == "selftest_not_idle"
        assert not rig.controller.loop.service.active
        assert rig.controller.snapshot.output_enabled  # the treatment goes on untouched
        rig.submit(Pause())
        for _ in range(600):
            rig.submit(Heartbeat())
            rig.run_for(0.1)
            if rig.controller.snapshot.state is S.PAUSED:
                break
        assert rig.controller.snapshot.state is S.PAUSED
        rig.submit(RunSelfTest("chips"))
        rig.run_for(0.02)
        assert refusal(rig) == "selftest_not_idle"  # paused: the session is still open
        rig.submit(EndSession("s-1"))
        rig.run_for(0.02)
        assert rig.steps(rig.run_selftest("chips"))["chips"]["status"] == "passed"
    finally:
        rig.close()


@pytest.mark.requirement("SR-160")
def test_with_a_fault_latched_only_the_read_only_steps_run(rig: SelfTestRig) -> None:
    rig.sim.inject("estop_press")
    rig.run_for(0.05)
    rig.sim.inject("estop_release")
    rig.run_for(0.05)
    assert rig.controller.snapshot.fault is not None
    for step in (None, "relays", "hw_trip", "boost"):
        rig.submit(RunSelfTest(step))
        rig.run_for(0.02)
        last = rig.controller.snapshot.last_refusal
        assert last is not None and last.code == "selftest_fault_limits"
        assert last.detail("allowed") == ", ".join(READ_ONLY_STEPS)
        assert last.detail("fault_code") == "estop"
        assert not rig.controller.loop.service.active
    for step in ("chips", "dac_eeprom"):
        assert rig.steps(rig.run_selftest(step))[step]["status"] == "passed"
    assert rig.steps(rig.run_selftest("estop"))["estop"]["status"] == "passed"


@pytest.mark.requirement("SR-160")
def test_a_second_run_and_a_treatment_are_refused_while_one_runs(rig: SelfTestRig) -> None:
    rig.submit(RunSelfTest("relays"))
    rig.run_for(0.04)
    assert rig.controller.loop.service.active
    rig.submit(RunSelfTest("chips"))
    rig.run_for(0.02)
    assert refusal(rig) == "selftest_running"
    program = ProgramRequest("face", "pigmentation", current_ma=0.6, current_stage_s=120)
    rig.submit(StartTreatment(program, "s-1", True, consent_version=CONSENT))
    rig.run_for(0.02)
    assert refusal(rig) == "selftest_running"
    assert rig.controller.snapshot.session_id is None
    while rig.controller.loop.service.active:
        rig.run_for(0.05)
    assert rig.steps()["relays"]["status"] == "passed"
    assert rig.steps()["chips"]["status"] == "not_run"


@pytest.mark.requirement("SR-160")
def test_an_unknown_step_is_refused_by_name(rig: SelfTestRig) -> None:
    rig.submit(RunSelfTest("teleport"))
    rig.run_for(0.02)
    last = rig.controller.snapshot.last_refusal
    assert last is not None and last.code == "selftest_unknown_step"
    assert last.detail("step") == "teleport"


@pytest.mark.requirement("SR-160")
@pytest.mark.parametrize("junk", [RunSelfTest(5), RunSelfTest(""), RunSelfTest("x" * 200),  # type: ignore[arg-type]
                                  RunSelfTest("bad\nline"), RunSelfTest(b"relays")])  # type: ignore[arg-type]
def test_a_malformed_run_self_test_is_invalid(junk: RunSelfTest) -> None:
    result = validate_command(junk)
    assert isinstance(result, Reason) and result.code == "invalid_command"
    assert result.detail("field") == "step"


def test_well_formed_service_commands_pass_validation() -> None:
    for command in (RunSelfTest(), RunSelfTest("relays"), ProgramDacEeprom()):
        assert validate_command(command) is command


# --- the DAC EEPROM ------------------------------------------------------------------------------

@pytest.mark.requirement("SR-166")
def test_a_factory_fresh_eeprom_fails_and_programming_it_makes_the_board_pass() -> None:
    rig = make_rig(fresh_dac=True)
    try:
        fault = rig.controller.snapshot.fault
        assert fault is not None and fault.code == "selftest_failed"  # the boot self-test
        step = rig.steps(rig.run_selftest("dac_eeprom"))["dac_eeprom"]
        assert (step["status"], step["cause"], step["figure"]) == \
            ("failed", "eeprom_not_safe", 2048.0)
        assert step["details"]["power_down"] == 0
        rig.submit(ProgramDacEeprom())
        rig.run_for(0.02)
        while rig.controller.loop.service.active:
            rig.run_for(0.02)
        step = rig.steps()["dac_eeprom"]
        assert (step["status"], step["figure"], step["details"]["power_down"]) == \
            ("passed", 0.0, 1)
        assert "dac_eeprom_programmed" in rig.codes()
        status = rig.controller.board.dac.read_status()
        assert (status.eeprom_pd, status.eeprom_code) == (1, 0)
        rig.submit(Acknowledge("selftest_failed"))
        rig.run_for(1.5)  # the boot self-test retries once a second after the acknowledgement
        assert rig.controller.selftest is not None and rig.controller.selftest.passed
        assert rig.controller.snapshot.healthy
    finally:
        rig.close()


# --- the query -----------------------------------------------------------------------------------

@pytest.mark.requirement("SR-169")
def test_the_report_is_plain_data_and_refuses_arguments(rig: SelfTestRig) -> None:
    before = rig.report()
    assert [s["status"] for s in before["steps"]] == ["not_run"] * len(STEP_NAMES)
    assert before["last_run"] is None and before["active"] is False
    rig.run_selftest("boost")
    after = rig.report()
    json.dumps(after)  # what the socket carries
    assert after["last_run"]["passed"] is True and after["last_run"]["finished_wall_s"] > 0
    assert after["boot_selftest_passed"] is True
    with pytest.raises(QueryRefused) as refused:
        rig.controller.query("selftest_report", step="boost")
    assert refused.value.code == "invalid_query"
