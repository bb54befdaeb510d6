"""Issue 13's self-test against the simulated board's faults: each fault fails the right step
with the right cause, the other steps' results stay honest, a healthy board passes them all."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kiosk.control.selftest.admission import STEP_NAMES
from tests.control.selftest_rig import SelfTestRig, make_rig


@pytest.fixture
def rig() -> Iterator[SelfTestRig]:
    rig = make_rig()
    yield rig
    rig.close()


def _failures(rig: SelfTestRig, report: dict[str, Any]) -> dict[str, str]:
    return {name: step["cause"] for name, step in rig.steps(report).items()
            if step["status"] != "passed"}


@pytest.mark.requirement("SR-169")
def test_a_healthy_board_passes_every_step_and_each_step_is_an_event(rig: SelfTestRig) -> None:
    report = rig.run_selftest()
    assert _failures(rig, report) == {}
    assert report["last_run"]["passed"] is True
    assert report["last_run"]["steps"] == list(STEP_NAMES)
    steps = rig.steps(report)
    assert steps["boost"]["unit"] == "V" and 28.5 <= steps["boost"]["figure"] <= 31.5
    assert 14.0 <= steps["relays"]["figure"] <= 23.0
    assert 40.0 <= steps["relays"]["details"]["reversed_kohm"] <= 55.0
    assert 0.5 <= steps["adc_noise"]["figure"] <= 2.0  # the model's 1 LSB, measured
    assert 1.0 <= steps["hw_trip"]["figure"] <= 3.0  # the comparator's 1 ms delay, measured
    assert 40.0 <= steps["monostable"]["figure"] <= 215.0
    passed = [e for e in rig.events if e.code == "selftest_step_passed"]
    assert [e.detail("step") for e in passed] == list(STEP_NAMES)
    assert rig.codes().count("selftest_run_started") == 1
    assert rig.codes().count("selftest_run_finished") == 1
    assert rig.controller.snapshot.fault is None
    assert str(rig.controller.snapshot.state) == "idle"


FAULTS = [
    ({"name": "relay_stuck", "relay": "k1", "position": "closed"},
     {"relays": "k1_stays_closed"}),
    ({"name": "relay_stuck", "relay": "k1", "position": "open"},
     {"relays": "k1_does_not_close", "adc_noise": "no_test_current",
      "monostable": "no_test_current"}),
    ({"name": "relay_stuck", "relay": "k2", "position": "closed"},
     {"relays": "k2_stays_reversed"}),
    ({"name": "relay_stuck", "relay": "k2", "position": "open"},
     {"relays": "k2_does_not_switch"}),
    ({"name": "adc_channel_dead", "channel": 0},
     {"adc_noise": "channel_dead", "relays": "current_not_measured",
      "monostable": "current_not_measured"}),
    ({"name": "adc_channel_dead", "channel": 1},
     {"adc_noise": "channel_dead", "relays": "voltage_not_measured"}),
    ({"name": "adc_channel_dead", "channel": 2},
     {"adc_noise": "channel_dead", "boost": "boost_out_of_range"}),
    ({"name": "adc_channel_dead", "channel": 3},
     {"adc_noise": "channel_dead", "dac_linearity": "readback_off"}),
    ({"name": "trip_fails"}, {"hw_trip": "trip_did_not_latch"}),
    ({"name": "monostable_stuck"}, {"monostable": "k1_not_dropped"}),
]


def _fault_id(fault: dict[str, Any]) -> str:
    return "-".join(str(v) for v in fault.values())


@pytest.mark.requirement("SR-162")
@pytest.mark.requirement("SR-163")
@pytest.mark.requirement("SR-164")
@pytest.mark.requirement("SR-165")
@pytest.mark.parametrize(("fault", "expected"), FAULTS, ids=[_fault_id(f) for f, _ in FAULTS])
def test_each_board_fault_fails_its_step_and_leaves_the_others_honest(
        rig: SelfTestRig, fault: dict[str, Any], expected: dict[str, str]) -> None:
    params = dict(fault)
    rig.sim.inject(params.pop("name"), **params)
    report = rig.run_selftest()
    assert _failures(rig, report) == expected
    assert report["last_run"]["passed"] is False
    steps = rig.steps(report)
    if "channel" in fault:
        assert steps["adc_noise"]["details"]["channel"] == fault["channel"]
    failed = {e.detail("step"): e.detail("cause") for e in rig.events
              if e.code == "selftest_step_failed"}
    assert failed == expected
    assert rig.controller.snapshot.fault is None  # a failed step is a finding, not a fault


@pytest.mark.requirement("SR-162")
def test_a_welded_k1_does_not_make_the_monostable_step_blame_the_monostable(
        rig: SelfTestRig) -> None:
    rig.sim.inject("relay_stuck", relay="k1", position="closed")
    steps = rig.steps(rig.run_selftest("monostable"))
    assert steps["monostable"]["status"] == "passed"
    assert steps["monostable"]["details"]["k1_contacts_opened"] is False
    assert steps["monostable"]["details"]["rail_after_v"] < \
        0.9 * steps["monostable"]["details"]["rail_before_v"]


@pytest.mark.requirement("SR-162")
def test_skin_instead_of_the_reference_load_fails_the_relay_step_not_k2() -> None:
    rig = make_rig(reference_load=False)
    try:
        steps = rig.steps(rig.run_selftest("relays"))
    finally:
        rig.close()
    assert steps["relays"]["status"] == "failed"
    assert steps["relays"]["cause"] in ("reference_load_missing", "k2_does_not_switch")


@pytest.mark.requirement("SR-164")
def test_a_fault_cleared_and_the_step_run_again_passes(rig: SelfTestRig) -> None:
    rig.sim.inject("trip_fails")
    assert rig.steps(rig.run_selftest("hw_trip"))["hw_trip"]["cause"] == "trip_did_not_latch"
    assert not rig.sim.hw_tripped()
    rig.sim.clear("trip_fails")
    report = rig.run_selftest("hw_trip")
    assert rig.steps(report)["hw_trip"]["status"] == "passed"
    assert report["last_run"]["steps"] == ["hw_trip"]
    assert not rig.controller.board.hw_trip.is_tripped
    assert rig.controller.snapshot.fault is None  # the deliberate trip latched no fault


@pytest.mark.requirement("SR-164")
def test_a_board_without_the_trip_test_line_fails_the_trip_step_plainly(
        rig: SelfTestRig) -> None:
    rig.controller.board.trip_test = None
    steps = rig.steps(rig.run_selftest("hw_trip"))
    assert steps["hw_trip"]["cause"] == "no_trip_test_input"


@pytest.mark.requirement("SR-167")
def test_no_press_within_the_wait_fails_the_estop_step(rig: SelfTestRig) -> None:
    rig.press_estop = False
    report = rig.run_selftest("estop", timeout_s=70.0)
    step = rig.steps(report)["estop"]
    assert (step["status"], step["cause"]) == ("failed", "no_press_seen")
    assert report["prompt"] is None


@pytest.mark.requirement("SR-167")
def test_an_open_estop_loop_fails_the_estop_step_at_once(rig: SelfTestRig) -> None:
    rig.sim.inject("estop_press")
    rig.run_for(0.1)
    steps = rig.steps(rig.run_selftest("estop", timeout_s=1.0))
    assert steps["estop"]["cause"] == "estop_loop_open"


@pytest.mark.requirement("SR-167")
def test_the_estop_step_asks_for_a_press_then_a_release(rig: SelfTestRig) -> None:
    from kiosk.control.commands import RunSelfTest

    rig.press_estop = False
    rig.submit(RunSelfTest("estop"))
    rig.run_for(0.1)
    assert rig.report()["prompt"] == "press_estop"
    rig.run_for(2.0)
    rig.sim.inject("estop_press")
    rig.run_for(0.1)
    assert rig.report()["prompt"] == "release_estop"
    assert rig.controller.snapshot.fault is None  # the expected press latched nothing
    rig.sim.inject("estop_release")
    rig.run_for(0.2)
    step = rig.steps()["estop"]
    assert step["status"] == "passed"
    assert 2.0 <= step["figure"] <= 2.2  # seconds from the prompt to the press


@pytest.mark.requirement("SR-169")
@pytest.mark.requirement("SR-168")
def test_a_silent_dac_fails_the_chips_and_skips_every_step_that_would_energise(
        rig: SelfTestRig) -> None:
    rig.sim.inject("i2c_nack", device="dac")
    report = rig.run_selftest()
    steps = rig.steps(report)
    assert (steps["chips"]["status"], steps["chips"]["cause"], steps["chips"]["figure"]) == \
        ("failed", "dac_not_answering", 1.0)
    assert steps["dac_eeprom"]["cause"] == "dac_not_answering"
    energising = [s for s in STEP_NAMES if s not in ("chips", "dac_eeprom", "estop")]
    for name in energising:
        assert (steps[name]["status"], steps[name]["cause"]) == \
            ("skipped", "chips_not_answering"), name
    assert steps["estop"]["status"] == "passed"
    skipped = [e.detail("step") for e in rig.events
               if e.code == "selftest_step_failed" and e.detail("status") == "skipped"]
    assert skipped == energising
    assert not any(e.part == "coil" and e.state for e in rig.sim.relay_history)
    assert not rig.controller.board.boost.is_enabled


# --- both sides of the thresholds ----------------------------------------------------------------

@pytest.mark.requirement("SR-163")
@pytest.mark.parametrize(("noise_lsb", "cause", "low", "high"), [
    (0.3, "", 0.2, 0.7),  # quantisation alone adds ~0.3 LSB: a live converter is never 0
    (3.0, "", 2.5, 3.9),
    (6.0, "channel_noisy", 4.5, 7.5),
])
def test_the_noise_bound_on_both_sides(rig: SelfTestRig, noise_lsb: float, cause: str,
                                       low: float, high: float) -> None:
    rig.sim.adc_model.noise_lsb = noise_lsb
    step = rig.steps(rig.run_selftest("adc_noise"))["adc_noise"]
    assert step["cause"] == cause
    assert low <= step["figure"] <= high


@pytest.mark.requirement("SR-163")
def test_a_converter_stuck_on_one_value_shows_no_noise_and_fails(rig: SelfTestRig) -> None:
    from kiosk.control.commands import RunSelfTest

    rig.submit(RunSelfTest("adc_noise"))
    rig.run_for(0.1)  # boost, K1 and the test current are on; sampling starts at ~0.11 s
    rig.sim.inject("adc_stuck", value_v=0.6)  # above every channel's test signal
    while rig.controller.loop.service.active:
        rig.run_for(0.02)
    step = rig.steps()["adc_noise"]
    assert (step["cause"], step["figure"]) == ("channel_stuck", 0.0)


@pytest.mark.requirement("SR-165")
@pytest.mark.parametrize(("model_period_s", "cause"), [
    (0.030, "dropped_too_early"),  # the board's part is not the 100 ms one its config says
    (0.055, ""),
    (0.190, ""),
    (0.250, "dropped_too_late"),
])
def test_the_monostable_period_on_both_sides(rig: SelfTestRig, model_period_s: float,
                                             cause: str) -> None:
    from dataclasses import replace

    fe = rig.sim.frontend
    fe.params = replace(fe.params, heartbeat_timeout_s=model_period_s)
    step = rig.steps(rig.run_selftest("monostable"))["monostable"]
    assert step["cause"] == cause
    assert step["details"]["period_ms"] == 100  # what the board's configuration promises
    assert step["figure"] == pytest.approx(model_period_s * 1000, abs=12.0)
