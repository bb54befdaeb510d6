"""The treatment flow's pure state: caps, timers, screening, what the summary reports."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.control.catalogue import load_catalogue
from kiosk.screens import registry
from kiosk.screens.flow import StageTimer, TreatmentFlow, lowered


@given(start=st.floats(0.05, 2.0), taps=st.lists(st.sampled_from([-1, 1]), max_size=60),
       cap=st.floats(0.05, 2.0))
def test_the_beautician_can_lower_but_never_raise_above_the_cap(start: float, taps: list[int],
                                                               cap: float) -> None:
    value = min(start, cap)
    for sign in taps:
        value = lowered(value, sign * 0.05, minimum=0.05, cap=cap)
        assert value <= cap + 1e-9
        assert value >= min(0.05, cap) - 1e-9


def test_a_stage_timer_runs_on_the_time_it_is_given_and_keeps_its_start() -> None:
    timer = StageTimer(duration_s=120.0)
    assert timer.remaining_s(50.0) == 120.0 and not timer.running(50.0)
    timer.start(100.0)
    timer.start(150.0)  # a second start (screen left and opened again) changes nothing
    assert timer.remaining_s(160.0) == 60.0
    assert timer.running(160.0) and not timer.finished(160.0)
    assert timer.finished(220.0) and timer.remaining_s(300.0) == 0.0


@pytest.mark.requirement("SR-046")
def test_one_yes_on_the_screening_blocks_and_no_program_request_claims_it_cleared() -> None:
    flow = TreatmentFlow()
    for item in load_catalogue().screening_items:
        flow.answer(item.id, False)
    assert flow.screening_cleared
    flow.answer("pregnancy", True)
    assert not flow.screening_cleared
    assert flow.blocking_answers() == ["pregnancy"]


@pytest.mark.requirement("SR-047")
def test_a_caution_answer_lowers_the_caps_only_once_acknowledged() -> None:
    flow = TreatmentFlow()
    flow.choose_area("face")
    flow.choose_indication("pigmentation")
    flow.answer_caution("metal_near_path", True)
    request = flow.program_request()
    assert request.reduced_caps and not request.caution_acknowledged
    flow.caution_acknowledged = True
    assert flow.program_request().caution_acknowledged


def test_choosing_another_area_forgets_the_program_of_the_old_one() -> None:
    flow = TreatmentFlow()
    flow.choose_area("face")
    flow.choose_indication("pigmentation")
    flow.current_ma = 0.4
    flow.choose_area("neck")
    assert (flow.indication, flow.current_ma) == (None, None)


def test_the_back_stack_returns_to_each_earlier_screen_in_order() -> None:
    registry.discover()
    shown: list[str] = []
    nav = registry.Navigator(lambda visit: shown.append(visit.name))
    nav.reset("home")
    nav.go("client")
    nav.go("screening", page=0)
    nav.go("screening", page=1)
    nav.back()
    assert nav.current is not None and nav.current.params == {"page": 0}
    nav.replace("caution")
    nav.back()
    assert nav.stack == ("home", "client")
    nav.back()
    nav.back()  # at the root Back stays
    assert nav.stack == ("home",)
    assert shown == ["home", "client", "screening", "screening", "screening", "caution",
                     "client", "home", "home"]


def test_every_screen_module_registers_its_screen_by_name() -> None:
    screens = registry.discover()
    for name in ("home", "client", "client_history", "screening", "screening_blocked",
                 "caution", "area", "indication", "active_choice", "program", "peel", "active",
                 "placement", "current", "tonic", "summary", "service_pin", "service",
                 "service_pin_change", "service_operators", "operator_choice", "device_info"):
        assert name in screens, name
