"""Whether this run collected the whole suite, which decides what enforcement may claim.

Why it matters: "SR-017 has no test" is only true if every test file was collected. A run on
one file (or with ``--lf`` / ``--ignore``, which skip files before collection) cannot see tests
elsewhere, so it must not accuse a requirement of being untested. Deselection after collection
(``-k``, ``-m``, ``--deselect``) is different: every test was seen, so "no test anywhere" still
holds; only pass/fail is limited to what was selected.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def collection_is_complete(args: Sequence[str], roots: Sequence[Path], *,
                           invocation_dir: Path, narrowed_by_options: bool) -> bool:
    """True when the collected paths cover every root of the suite.

    ``args`` are pytest's positional arguments (``config.args``), ``roots`` the ``testpaths`` (or
    the rootdir when there are none), ``narrowed_by_options`` is set when an option such as
    ``--lf`` or ``--ignore`` skips files before collection.
    """
    if narrowed_by_options:
        return False
    arg_paths: list[Path] = []
    for arg in args:
        if "::" in arg:  # a single test or class: never the whole suite
            return False
        path = Path(arg)
        arg_paths.append((path if path.is_absolute() else invocation_dir / path).resolve())
    return all(
        any(root.resolve() == arg or arg in root.resolve().parents for arg in arg_paths)
        for root in roots
    )
