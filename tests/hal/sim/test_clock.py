"""The virtual clock: time moves only when someone sleeps or spends time, timers fire in order."""

from __future__ import annotations

import contextlib

import pytest

from kiosk.hal.sim.clock import SimulationEnded, VirtualClock


def test_time_moves_only_by_sleeping_or_elapsing() -> None:
    clock = VirtualClock(start_s=5.0)
    assert clock.now_s() == 5.0
    clock.sleep_s(0.25)
    clock.elapse_s(0.5)
    assert clock.now_s() == pytest.approx(5.75)
    clock.sleep_s(-1.0)
    assert clock.now_s() == pytest.approx(5.75)


def test_sleep_until_a_past_deadline_returns_at_once() -> None:
    clock = VirtualClock(start_s=2.0)
    clock.sleep_until_s(1.0)
    assert clock.now_s() == 2.0
    clock.sleep_until_s(3.0)
    assert clock.now_s() == 3.0


def test_one_shot_timers_fire_in_time_order_and_see_their_due_time() -> None:
    clock = VirtualClock()
    fired: list[tuple[str, float, float]] = []
    clock.call_at(0.3, lambda t: fired.append(("late", t, clock.now_s())), "late")
    clock.call_at(0.1, lambda t: fired.append(("early", t, clock.now_s())), "early")
    clock.sleep_s(1.0)
    assert fired == [("early", 0.1, 0.1), ("late", 0.3, 0.3)]
    assert clock.now_s() == 1.0


def test_periodic_timer_fires_every_period_until_cancelled() -> None:
    clock = VirtualClock()
    times: list[float] = []
    timer = clock.call_every(0.01, times.append, "tick")
    clock.sleep_s(0.0505)
    assert times == pytest.approx([0.01, 0.02, 0.03, 0.04, 0.05])
    timer.cancel()
    clock.sleep_s(0.1)
    assert len(times) == 5


def test_advancing_past_the_end_stops_at_the_end_and_raises_simulation_ended() -> None:
    clock = VirtualClock(end_s=1.0)
    clock.sleep_s(0.6)
    with pytest.raises(SimulationEnded):
        clock.sleep_s(0.6)
    assert clock.now_s() == 1.0


def test_simulation_ended_passes_through_except_exception() -> None:
    clock = VirtualClock(end_s=0.001)

    def busy_poll_that_swallows_errors() -> None:
        while True:  # the point: code under test may swallow every Exception
            with contextlib.suppress(Exception):
                clock.elapse_s(1e-4)

    with pytest.raises(SimulationEnded):
        busy_poll_that_swallows_errors()


def test_timers_due_after_the_end_do_not_fire() -> None:
    clock = VirtualClock(end_s=0.5)
    fired: list[float] = []
    clock.call_at(0.4, fired.append, "in time")
    clock.call_at(0.6, fired.append, "too late")
    with pytest.raises(SimulationEnded):
        clock.sleep_s(1.0)
    assert fired == [0.4]


def test_time_spent_inside_a_callback_carries_the_clock_forward() -> None:
    clock = VirtualClock()
    seen: list[float] = []
    clock.call_at(0.1, lambda t: clock.sleep_s(0.05), "slow callback")
    clock.call_at(0.12, seen.append, "next")
    clock.sleep_s(0.2)
    assert seen == [pytest.approx(0.15)]  # ran after the slow callback, at its own time or later
    assert clock.now_s() == pytest.approx(0.2)
