"""What the screens show of the treatment catalogue (``kiosk.control.catalogue``), translated.

The numbers (caps, defaults, times) are read from the catalogue object every time; this module
holds none of its own. The catalogue's texts are English message ids: :func:`tr` translates them
and :func:`catalogue_texts` lists them for the gettext build, so a catalogue edit that adds a text
shows up as an untranslated message in the catalogue check.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from kiosk.control.catalogue import Catalogue, Phase, Program, load_catalogue
from kiosk.control.codes import Reason
from kiosk.control.commands import Polarity
from kiosk.control.limits import ResolvedProgram, resolve_program
from kiosk.i18n import _


def tr(text: str) -> str:
    """Translate a catalogue text (its English wording is the msgid)."""
    return _(text) if text else text


def catalogue_texts(catalogue: Catalogue | None = None) -> list[str]:
    """Every text of the catalogue a screen can show, in catalogue order."""
    cat = catalogue if catalogue is not None else load_catalogue()
    texts: list[str] = []
    for area in cat.areas:
        texts += [area.name, area.return_electrode, *area.placement_rules,
                  *area.expected_sensations]
    for indication in cat.indications:
        texts += [indication.name, indication.description]
    for electrode in cat.electrodes:
        texts.append(electrode.name)
    for program in cat.programs:
        phases = [program.main] + ([program.second_phase] if program.second_phase else [])
        for phase in phases:
            texts += [phase.name, phase.polarity_note, *(a.name for a in phase.actives)]
        texts += [*program.placement_rules, program.course_guidance]
    for item in cat.screening_items:
        texts.append(item.question)
    for caution in cat.caution_items:
        texts += [caution.text, caution.advice]
    texts += list(cat.expected_sensations)
    return [text for text in dict.fromkeys(texts) if text]


@dataclass(frozen=True)
class ProgramInfo:
    """The chosen program as the screens present it: the control layer's own resolution."""

    program: Program
    phase: Phase
    resolved: ResolvedProgram
    title: str
    polarity: Polarity
    electrode_name: str
    target_ma: float
    current_cap_ma: float
    stage_s: float
    stage_cap_s: float
    dose_cap_ma_min: float  # what is left of the day's budget (SR-053)
    day_dose_cap_ma_min: float  # the whole day's budget of this client and area
    reduced: bool


def program_info(catalogue: Catalogue, flow: Any) -> ProgramInfo:
    """The program of the flow's area + indication, resolved exactly as the control layer will.

    ``kiosk.control.limits.resolve_program`` is pure: the caps shown here (current, density,
    electrode, caution, dose, time) are the ones the control thread enforces, computed by the same
    function. A lowered value that no longer fits (another electrode was chosen) falls back to the
    program's default.
    """
    request = flow.program_request()
    today = {"delivered_today_ma_min": flow.delivered_today_ma_min,  # SR-053
             "delivered_today_charge_density_ma_min_per_cm2":
             flow.delivered_today_charge_density_ma_min_per_cm2}
    resolved = resolve_program(replace(request, caution_acknowledged=request.reduced_caps),
                               catalogue, **today)
    if isinstance(resolved, Reason):
        resolved = resolve_program(replace(request, current_ma=None, current_stage_s=None,
                                           caution_acknowledged=request.reduced_caps),
                                   catalogue, **today)
    if isinstance(resolved, Reason):
        raise ValueError(f"the chosen program cannot run: {resolved}")
    program = catalogue.program(flow.area, flow.indication)
    phase = program.phase(request.second_phase) or program.main  # the phase the request runs
    area = catalogue.area(flow.area)
    electrode = catalogue.electrode(resolved.electrode_id)
    return ProgramInfo(program=program, phase=phase, resolved=resolved,
                       title=f"{tr(area.name)} · {tr(phase.name)}", polarity=resolved.polarity,
                       electrode_name=tr(electrode.name), target_ma=resolved.target_ma,
                       current_cap_ma=resolved.current_cap_ma, stage_s=resolved.stage_time_s,
                       stage_cap_s=resolved.stage_time_cap_s,
                       dose_cap_ma_min=resolved.dose_cap_ma_min,
                       day_dose_cap_ma_min=resolved.day_dose_cap_ma_min,
                       reduced=resolved.reduced_caps)
