"""Issue 13, one source of truth for settings: every board key is read by what it configures, a
key nobody read stops start-up (exit 2), hardware timing reaches the core as a value."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.control.commands import Heartbeat, ProgramRequest, StartTreatment
from kiosk.control.service import build_controller, run_headless
from kiosk.control.watchdog import SystemdWatchdog
from kiosk.entry.exit_codes import BAD_INPUT
from kiosk.hal.config import BoardConfig, ConfigError, check_unused, load_board_config, unused_keys
from kiosk.hal.factory import build_board
from kiosk.hal.sim.clock import VirtualClock
from tests.consent_version import CONSENT


@pytest.mark.requirement("SR-156")
def test_keys_whose_reader_was_not_built_are_named_as_unused() -> None:
    config = load_board_config()
    assert len(unused_keys(config)) == 29  # nothing read yet: every declared key
    board = build_board(config, sim=True, clock=VirtualClock())
    try:
        unused = unused_keys(config)
    finally:
        board.close()
    # the HAL and the simulated board read everything but what the control core times
    assert unused == ["[timing] relay_settle_ms", "[timing] boost_settle_ms"]
    with pytest.raises(ConfigError, match="relay_settle_ms, \\[timing\\] boost_settle_ms "
                                          "configure nothing"):
        check_unused(config)


@pytest.mark.requirement("SR-156")
def test_a_whole_controller_reads_every_key() -> None:
    built = build_controller(sim=True, clock=VirtualClock(), notifier=SystemdWatchdog(env={}))
    try:
        assert unused_keys(built.board.config) == []
    finally:
        built.close()


@pytest.mark.requirement("SR-156")
def test_a_key_nobody_reads_stops_start_up_with_exit_code_2(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # The regression issue 13 found: the core timing itself with constants of its own while
    # board.toml validates relay_settle_ms and boost_settle_ms that nothing reads.
    monkeypatch.setattr(BoardConfig, "relay_settle_s", property(lambda self: 0.010))
    monkeypatch.setattr(BoardConfig, "boost_settle_s", property(lambda self: 0.050))
    code = run_headless(["--sim", "--state-dir", str(tmp_path)])
    assert code == BAD_INPUT == 2
    err = capsys.readouterr().err
    assert "[timing] relay_settle_ms, [timing] boost_settle_ms configure nothing" in err


@pytest.mark.requirement("SR-156")
def test_hardware_timing_reaches_core_loop_and_hal_from_the_configuration(tmp_path: Path) -> None:
    site = tmp_path / "board.toml"
    site.write_text("[timing]\nrelay_settle_ms = 20.0\nboost_settle_ms = 80.0\n"
                    "trip_reset_pulse_ms = 15.0\n")
    built = build_controller(sim=True, clock=VirtualClock(), config_path=site,
                             notifier=SystemdWatchdog(env={}))
    steps: list[tuple[float, str]] = []
    built.loop.add_observer(lambda r: steps.append((r.snapshot.time_s, r.snapshot.step)))
    try:
        assert (built.core.relay_settle_s, built.core.boost_settle_s) == (0.020, 0.080)
        assert built.loop.io.relay_settle_s == 0.020
        assert built.board.hw_trip.reset_pulse_s == 0.015
        built.run_for(0.3)
        built.submit(StartTreatment(ProgramRequest("face", "pigmentation", current_ma=0.6),
                                    "s", screening_cleared=True, consent_version=CONSENT))
        for _ in range(30):
            built.submit(Heartbeat())
            built.run_for(0.1)

        def first(step: str) -> float:
            return next(t for t, s in steps if s == step)

        assert first("polarity") - first("boost") >= 0.080  # was a 50 ms constant
        assert first("test") - first("output") >= 0.020  # was a 10 ms constant
    finally:
        built.close()


def test_a_monostable_shorter_than_three_periods_is_refused(tmp_path: Path) -> None:
    site = tmp_path / "board.toml"
    site.write_text("[timing]\nheartbeat_timeout_ms = 25.0\n")
    with pytest.raises(ConfigError, match="heartbeat_timeout_ms = 25"):
        build_controller(sim=True, clock=VirtualClock(), config_path=site,
                         notifier=SystemdWatchdog(env={}))
