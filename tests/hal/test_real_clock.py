"""RealClock.call_at: one scheduler thread, callbacks in time order, cancel skips."""

from __future__ import annotations

import threading

from kiosk.hal.clock import RealClock


def test_one_shot_callbacks_fire_in_time_order_and_cancelled_ones_are_skipped() -> None:
    clock = RealClock()
    fired: list[str] = []
    done = threading.Event()
    now_s = clock.now_s()
    clock.call_at(now_s + 0.03, lambda _t: fired.append("late"), "late")
    clock.call_at(now_s + 0.01, lambda _t: fired.append("early"), "early")
    skipped = clock.call_at(now_s + 0.02, lambda _t: fired.append("cancelled"), "cancelled")
    clock.call_at(now_s + 0.04, lambda _t: done.set(), "done")
    skipped.cancel()
    assert done.wait(5.0)
    assert fired == ["early", "late"]


def test_a_callback_sees_a_time_at_or_after_its_due_time() -> None:
    clock = RealClock()
    seen: list[float] = []
    done = threading.Event()
    due_s = clock.now_s() + 0.01
    clock.call_at(due_s, lambda t: (seen.append(t), done.set()), "due")
    assert done.wait(5.0)
    assert seen[0] >= due_s
