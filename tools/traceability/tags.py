"""Reading ``@pytest.mark.requirement("SR-012", "SR-013")`` tags, and catching the wrong ones.

Markers may sit on the function, the class or the module (``pytestmark``); the IDs of all of
them count. A tag without IDs, with something other than strings, with keyword arguments or with
an ID the safety file does not define is reported, never ignored.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from tools.traceability.matrix import ProblemKind, TagProblem
from tools.traceability.safety_file import REQUIREMENT_ID


@dataclass(frozen=True, slots=True)
class MarkerUse:
    """The arguments of one ``requirement`` marker on a test (pytest's ``Mark`` reduced)."""

    args: tuple[object, ...]
    kwargs: Mapping[str, object]


def read_tags(nodeid: str, markers: Iterable[MarkerUse],
              known_ids: Collection[str]) -> tuple[tuple[str, ...], list[TagProblem]]:
    """The known requirement IDs of a test (sorted, unique) and the problems with its tags."""
    ids: set[str] = set()
    problems: list[TagProblem] = []
    for marker in markers:
        if marker.kwargs:
            problems.append(TagProblem(
                nodeid, ProblemKind.MALFORMED_TAG,
                f"{nodeid}: requirement marker takes IDs only, got keyword(s) "
                f"{', '.join(sorted(marker.kwargs))}"))
        if not marker.args:
            problems.append(TagProblem(
                nodeid, ProblemKind.MALFORMED_TAG,
                f'{nodeid}: requirement marker without IDs; use '
                f'@pytest.mark.requirement("SR-001")'))
        for arg in marker.args:
            if not isinstance(arg, str) or not REQUIREMENT_ID.match(arg):
                problems.append(TagProblem(
                    nodeid, ProblemKind.MALFORMED_TAG,
                    f"{nodeid}: requirement marker argument {arg!r} is not an ID like SR-001"))
            elif arg not in known_ids:
                problems.append(TagProblem(
                    nodeid, ProblemKind.UNKNOWN_ID,
                    f"{nodeid}: names unknown requirement {arg}; the safety file defines "
                    f"{_id_range(known_ids)}"))
            else:
                ids.add(arg)
    return tuple(sorted(ids)), problems


def _id_range(known_ids: Collection[str]) -> str:
    ordered = sorted(known_ids)
    if not ordered:
        return "no requirements"
    return f"{ordered[0]}..{ordered[-1]} ({len(ordered)} IDs)"
