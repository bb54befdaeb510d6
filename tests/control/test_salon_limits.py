"""Issue 13, limits: the salon's limits within the hard bounds of domain.md 6, set through the
control layer's command, checked again when the file is loaded, in force from the next cycle."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from kiosk.control import salon_limits as sl
from kiosk.control.commands import (
    EndSession,
    ProgramRequest,
    SetSalonLimits,
    StartTreatment,
    Stop,
)
from kiosk.control.service import Controller
from kiosk.control.snapshot import TreatmentState
from tests.consent_version import CONSENT
from tests.control.calibration_helpers import run, run_until
from tests.control.test_calibration import Events, build, refusal_of_start

S = TreatmentState
FIELDS = tuple(sl.HARD_BOUNDS)


def command(by: str = "manager", **changes: float) -> SetSalonLimits:
    values = {**sl.DEFAULTS.values(), **changes}
    return SetSalonLimits(by, *(values[name] for name in FIELDS))


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[Controller]:
    built = build(tmp_path)
    yield built
    built.close()


@pytest.mark.requirement("SR-154")
@pytest.mark.parametrize(("field", "inside", "outside"), [
    ("face_cap_ma", 1.5, 1.51), ("neck_cap_ma", 1.0, 1.01), ("decollete_cap_ma", 2.0, 2.01),
    ("eye_area_cap_ma", 0.3, 0.31), ("eye_area_cap_ma", 0.05, 0.04),
    ("contact_start_max_kohm", 10.0, 9.99), ("contact_start_max_kohm", 49.0, 100.01),
    ("contact_loss_kohm", 200.0, 200.01), ("ramp_time_s", 30.0, 29.9),
    ("ramp_time_s", 120.0, 120.1), ("ui_heartbeat_timeout_s", 0.5, 0.49),
    ("ui_heartbeat_timeout_s", 5.0, 5.01),
])
def test_a_limit_is_refused_by_the_core_just_outside_its_hard_bound_and_taken_inside(
        controller: Controller, field: str, inside: float, outside: float) -> None:
    events = Events(controller)
    controller.submit(command(**{field: outside}))
    run(controller, 0.05)
    refused = events.last("salon_limits_refused")
    assert refused.detail("field") == field
    assert controller.query("salon_limits")["in_force"][field] == sl.DEFAULTS.values()[field]
    controller.submit(command(**{field: inside}))
    run(controller, 0.05)
    assert "salon_limits_saved" in events.codes()
    assert controller.query("salon_limits")["in_force"][field] == inside


def test_the_loss_threshold_must_stay_above_the_start_threshold(controller: Controller) -> None:
    events = Events(controller)
    controller.submit(command(contact_start_max_kohm=80.0, contact_loss_kohm=70.0))
    run(controller, 0.05)
    assert events.last("salon_limits_refused").detail("field") == "contact_loss_kohm"


@pytest.mark.requirement("SR-154")
def test_a_change_is_logged_with_who_and_old_and_new_and_is_in_force_next_cycle(
        controller: Controller, tmp_path: Path) -> None:
    events = Events(controller)
    controller.submit(command("olga", face_cap_ma=0.5, ui_heartbeat_timeout_s=2.5,
                              contact_start_max_kohm=40.0, ramp_time_s=60.0))
    run(controller, 0.05)
    saved = events.last("salon_limits_saved")
    assert saved.detail("changed_by") == "olga"
    assert (saved.detail("old_face_cap_ma"), saved.detail("new_face_cap_ma")) == (1.5, 0.5)
    assert saved.detail("old_neck_cap_ma") is None  # only what changed
    assert controller.core.config.ui_heartbeat_timeout_s == 2.5
    assert controller.core.config.contact_start_max_kohm == 40.0
    assert sl.SalonLimitsStore(tmp_path).load().face_cap_ma == 0.5
    # the face cap: 0.6 mA is now above the cap, named as the area's
    controller.submit(StartTreatment(ProgramRequest("face", "pigmentation", current_ma=0.6),
                                     "s-1", screening_cleared=True, consent_version=CONSENT))
    run(controller, 0.05)
    refused = events.last("current_above_cap")
    assert (refused.detail("cap_ma"), refused.detail("limit")) == (0.5, "area")
    # the ramp time: 0.5 mA over 60 s, not 30 s
    controller.submit(StartTreatment(ProgramRequest("face", "pigmentation", current_ma=0.5,
                                                    current_stage_s=600), "s-1", True,
                                     consent_version=CONSENT))
    run_until(controller, lambda: controller.snapshot.state is S.RAMP_UP, limit_s=5.0)
    started_s = controller.clock.now_s()
    run_until(controller, lambda: controller.snapshot.state is S.HOLD, limit_s=90.0)
    assert controller.clock.now_s() - started_s == pytest.approx(60.0, abs=0.5)
    controller.submit(Stop())
    run_until(controller, lambda: controller.snapshot.state is S.PAUSED)
    controller.submit(EndSession("s-1"))
    run(controller, 0.05)


@pytest.mark.requirement("SR-154")
def test_limits_are_refused_while_a_session_is_open(controller: Controller) -> None:
    events = Events(controller)
    controller.submit(StartTreatment(ProgramRequest("face", "pigmentation", current_ma=0.6),
                                     "s-1", screening_cleared=True, consent_version=CONSENT))
    run(controller, 0.05)
    controller.submit(command(face_cap_ma=1.0))
    run(controller, 0.05)
    assert "service_not_now" in events.codes()
    assert controller.query("salon_limits")["in_force"]["face_cap_ma"] == 1.5


def write_limits(path: Path, limits: sl.SalonLimits, *, edit: tuple[str, str] | None = None
                 ) -> None:
    text = sl.render(limits)
    if edit is not None:
        text = text.replace(*edit)
    (path / sl.FILE_NAME).write_text(text)


@pytest.mark.requirement("SR-155")
@pytest.mark.parametrize("damage", ["above_bound_signed", "above_bound_edited", "unknown_key",
                                    "missing_key", "loss_below_start_signed"])
def test_a_limits_file_outside_the_hard_bounds_is_refused_by_the_core(
        tmp_path: Path, damage: str) -> None:
    if damage == "above_bound_signed":  # a hand edit with the checksum recomputed
        write_limits(tmp_path, replace(sl.DEFAULTS, face_cap_ma=1.8, changed_by="x", date="y"))
    elif damage == "above_bound_edited":
        write_limits(tmp_path, sl.DEFAULTS, edit=("face_cap_ma = 1.5", "face_cap_ma = 1.8"))
    elif damage == "unknown_key":
        write_limits(tmp_path, sl.DEFAULTS, edit=("format = 1", "format = 1\nmax_ma = 2.5"))
    elif damage == "missing_key":
        write_limits(tmp_path, sl.DEFAULTS, edit=("ramp_time_s = 30.0\n", ""))
    else:
        write_limits(tmp_path, replace(sl.DEFAULTS, contact_start_max_kohm=90.0,
                                       contact_loss_kohm=80.0))
    controller = build(tmp_path)
    try:
        refusal = refusal_of_start(controller)
        assert refusal.code == "salon_limits_invalid"
        problem = controller.query("salon_limits")["problem"]
        assert problem is not None and problem["code"] == "salon_limits_invalid"
        # setting the limits again in service mode clears the block
        controller.submit(command("tech"))
        run(controller, 0.05)
        assert controller.query("salon_limits")["problem"] is None
        assert sl.SalonLimitsStore(tmp_path).load() == replace(
            sl.DEFAULTS, changed_by="tech",
            date=controller.query("salon_limits")["in_force"]["date"])
    finally:
        controller.close()


def test_no_limits_file_means_the_domain_defaults(controller: Controller, tmp_path: Path
                                                  ) -> None:
    assert not (tmp_path / sl.FILE_NAME).exists()
    answer = controller.query("salon_limits")
    assert answer["in_force"]["face_cap_ma"] == 1.5 and answer["problem"] is None
    assert answer["hard_bounds"]["eye_area_cap_ma"] == [0.05, 0.3]
    assert controller.core.config.ui_heartbeat_timeout_s == 1.0  # the one default
