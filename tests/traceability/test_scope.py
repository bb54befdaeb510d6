"""A run may only call a requirement untested when it collected every test file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.traceability.scope import collection_is_complete

ROOT = Path("/project")


def complete(args: list[str], *, invocation_dir: Path = ROOT, narrowed: bool = False,
             roots: list[Path] | None = None) -> bool:
    return collection_is_complete(args, roots or [ROOT / "tests"],
                                  invocation_dir=invocation_dir, narrowed_by_options=narrowed)


@pytest.mark.parametrize("args", [["tests"], ["/project/tests"], ["."], ["/project"],
                                  ["tests/hal", "tests"]])
def test_arguments_covering_every_root_collect_the_whole_suite(args: list[str]) -> None:
    assert complete(args)


@pytest.mark.parametrize("args", [["tests/hal"], ["tests/hal/test_dac.py"],
                                  ["tests::test_x"], ["tests/hal", "tests/ui"], ["docs"]])
def test_arguments_narrower_than_the_roots_collect_part_of_it(args: list[str]) -> None:
    assert not complete(args)


def test_relative_arguments_are_resolved_from_the_invocation_directory() -> None:
    assert complete(["."], invocation_dir=ROOT / "tests")
    assert not complete(["."], invocation_dir=ROOT / "tests" / "hal")


def test_every_root_must_be_covered() -> None:
    roots = [ROOT / "tests", ROOT / "bench"]
    assert not complete(["tests"], roots=roots)
    assert complete(["tests", "bench"], roots=roots)


def test_options_that_skip_files_before_collection_make_it_partial() -> None:
    assert not complete(["tests"], narrowed=True)
