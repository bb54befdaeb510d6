"""Service queries answered in-process by name (kiosk.control.queries), refused when unknown."""

from __future__ import annotations

import pytest

import kiosk
from kiosk.control import queries
from kiosk.control.query_types import UNKNOWN_QUERY, QueryRefused
from kiosk.control.service import build_controller
from kiosk.hal.sim.clock import VirtualClock


@pytest.fixture
def controller():  # type: ignore[no-untyped-def]
    built = build_controller(sim=True, clock=VirtualClock())
    yield built
    built.close()


def test_versions_names_the_software_and_the_catalogue_it_runs(controller) -> None:  # type: ignore[no-untyped-def]
    answer = controller.query("versions")
    assert answer == {"software_version": kiosk.__version__,
                      "catalogue_version": controller.catalogue.version,
                      "simulated_board": True}


def test_an_unknown_query_is_refused_with_a_code_naming_the_known_ones(controller) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(QueryRefused) as refused:
        controller.query("no_such_thing", page=1.0)
    assert refused.value.code == UNKNOWN_QUERY
    assert "versions" in refused.value.text


def test_two_handlers_for_one_name_are_refused_at_registration() -> None:
    queries.load_handlers()
    with pytest.raises(ValueError, match="two handlers"):
        queries.register_query("versions")(lambda controller, args: {})
