"""Remove the kernel module families a Pi 4 kiosk never loads, without breaking the ones it does.

Usage (hooks/customize.sh, on the host):
    prune_modules.py MODDIR PRUNE_LIST KEEP_LIST [--dry-run]

From the kernel's own modules.dep: every module of a family in PRUNE_LIST goes, and so does every
module that needs a removed one (transitively). If that would take a module named in KEEP_LIST,
nothing is removed and the build stops, naming it.
"""

from __future__ import annotations

import sys
from pathlib import Path


def entries(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines()
            if line.strip() and not line.strip().startswith("#")]


def module_name(path: str) -> str:
    return Path(path).name.split(".ko")[0].replace("-", "_")


def plan(dependencies: dict[str, list[str]], families: list[str]) -> set[str]:
    """Modules in the families, plus everything that needs one of them."""
    prefixes = [f"kernel/{family.strip('/')}/" for family in families]
    removed = {m for m in dependencies if any(m.startswith(p) for p in prefixes)}
    while True:
        dependents = {m for m, needs in dependencies.items()
                      if m not in removed and removed.intersection(needs)}
        if not dependents:
            return removed
        removed |= dependents


def main(argv: list[str]) -> int:
    moddir, prune_file, keep_file = (Path(a) for a in argv[:3])
    dry_run = "--dry-run" in argv[3:]
    dependencies: dict[str, list[str]] = {}
    for line in (moddir / "modules.dep").read_text().splitlines():
        module, _, needs = line.partition(":")
        dependencies[module] = needs.split()
    removed = plan(dependencies, entries(prune_file))
    by_name = {module_name(m): m for m in dependencies}
    builtin_file = moddir / "modules.builtin"
    builtin = ({module_name(m) for m in builtin_file.read_text().split()}
               if builtin_file.exists() else set())
    keep = [k.replace("-", "_") for k in entries(keep_file)]
    missing = [k for k in keep if k not in by_name and k not in builtin]
    lost = [k for k in keep if by_name.get(k) in removed]
    if missing or lost:
        print(f"prune_modules: modules-keep.txt: not in this kernel {missing}, "
              f"would be removed {lost}", file=sys.stderr)
        return 1
    removed_bytes = sum((moddir / m).stat().st_size for m in removed if (moddir / m).exists())
    if not dry_run:
        for module in sorted(removed):
            (moddir / module).unlink()
    print(f"prune_modules: {'would remove' if dry_run else 'removed'} {len(removed)} of "
          f"{len(dependencies)} modules, {removed_bytes / 2**20:.0f} MiB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
