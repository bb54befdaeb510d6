"""The layers of docs/architecture.md, enforced: import-linter's contracts in pyproject.toml.

``lint-imports`` reads the import graph of ``kiosk`` statically (grimp: no module is executed)
and checks each contract of ``[tool.importlinter]``. The check would prove nothing if a contract
matched no module or a typo emptied it, so each contract is also shown to break on a violation
injected into a throw-away copy of the package: one new module with one forbidden import, and
the checker must name that very import and that contract.

The UI contract lists the control modules the UI must not import; a new control module in
neither that list nor the shared types below fails here until someone decides which it is.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACTS = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"][
    "contracts"]

# Control modules the UI may import: the value types both sides of the socket share.
SHARED_WITH_THE_UI = frozenset({
    "kiosk.control.catalogue", "kiosk.control.codes", "kiosk.control.commands",
    "kiosk.control.domain_limits", "kiosk.control.limits", "kiosk.control.query_types",
    "kiosk.control.reasons", "kiosk.control.snapshot",
})
# The socket's client side (docs/control-socket.md), the UI's one way to the daemon.
CLIENT_FOR_THE_UI = frozenset({"kiosk.ipc.client", "kiosk.ipc.protocol"})

pytestmark = [
    pytest.mark.requirement("SR-085"),
    pytest.mark.skipif(not LINT_IMPORTS.exists(),
                       reason=f"{LINT_IMPORTS} missing: pip install -e '.[dev]' (import-linter)"),
]


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on the package under ``root``, which must come first on the path."""
    env = dict(os.environ, PYTHONPATH=str(root), NO_COLOR="1", COLUMNS="200")
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--config",
                           str(root / "pyproject.toml")],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)


def _contract(contract_id: str) -> dict:
    return next(c for c in CONTRACTS if c.get("id") == contract_id)


def test_every_contract_holds_on_the_tree():
    result = _lint_imports(REPO)

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout, result.stdout


# (contract id, module added to the copy, its one import, what the checker must report)
VIOLATIONS = [
    ("ui-through-client", "kiosk/screens/_probe.py", "import kiosk.hal.gpio",
     "kiosk.screens._probe -> kiosk.hal.gpio"),
    ("ui-through-client", "kiosk/screens/_probe.py", "from kiosk.control.loop import ControlLoop",
     "kiosk.screens._probe -> kiosk.control.loop"),
    ("no-kivy-below-ui", "kiosk/control/_probe.py", "import kivy.clock",
     "kiosk.control._probe -> kivy"),
    ("no-kivy-below-ui", "kiosk/hal/_probe.py", "import kiosk.i18n",
     "kiosk.hal._probe -> kiosk.i18n"),
    ("hal-below-control", "kiosk/hal/_probe.py", "import kiosk.control.core",
     "kiosk.hal._probe -> kiosk.control.core"),
    ("sim-through-factory", "kiosk/control/_probe.py", "from kiosk.hal.sim import skin",
     "kiosk.control._probe -> kiosk.hal.sim.skin"),
    ("records-at-the-bottom", "kiosk/records/_probe.py", "import kiosk.control.snapshot",
     "kiosk.records._probe -> kiosk.control.snapshot"),
    ("i18n-below-screens", "kiosk/i18n/_probe.py", "import kiosk.screens.home",
     "kiosk.i18n._probe -> kiosk.screens.home"),
    ("usb-below-ui", "kiosk/usb/_probe.py", "import kiosk.control.core",
     "kiosk.usb._probe -> kiosk.control.core"),
]


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package and its contracts, copied once; each test adds its probe module to a copy."""
    root = tmp_path_factory.mktemp("layers") / "tree"
    shutil.copytree(REPO / "kiosk", root / "kiosk",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize(("contract_id", "probe", "line", "reported"), VIOLATIONS,
                         ids=[f"{c}:{line}" for c, _p, line, _r in VIOLATIONS])
def test_the_checker_fails_on_an_injected_violation(package_copy, tmp_path, contract_id, probe,
                                                    line, reported):
    root = tmp_path / "tree"
    shutil.copytree(package_copy, root)
    (root / probe).write_text(f'"""A forbidden import, injected by tests/test_layers.py."""\n'
                              f"{line}\n")

    result = _lint_imports(root)

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert f"{_contract(contract_id)['name']} BROKEN" in " ".join(output.split()), output
    assert reported in output, output
    assert f"Contracts: {len(CONTRACTS) - 1} kept, 1 broken." in output, output


def _modules_of(package: str) -> set[str]:
    folder = REPO.joinpath(*package.split("."))
    names = {f"{package}.{p.stem}" for p in folder.glob("*.py") if p.stem != "__init__"}
    names |= {f"{package}.{p.parent.name}" for p in folder.glob("*/__init__.py")}
    return names


def test_every_control_and_socket_module_is_either_open_or_forbidden_to_the_ui():
    # "X.**" forbids what is inside package X, and so X itself (its __init__ reaches them).
    forbidden = {name.removesuffix(".**")
                 for name in _contract("ui-through-client")["forbidden_modules"]}
    allowed = SHARED_WITH_THE_UI | CLIENT_FOR_THE_UI
    modules = _modules_of("kiosk.control") | _modules_of("kiosk.ipc")

    unclassified = modules - forbidden - allowed

    assert not unclassified, (
        f"{sorted(unclassified)}: add each to forbidden_modules of the 'ui-through-client' "
        "contract in pyproject.toml (an internal of control or of the daemon's socket), or to "
        "SHARED_WITH_THE_UI / CLIENT_FOR_THE_UI here (what the UI may use)")
    assert not forbidden & allowed
    assert _modules_of("kiosk.control") >= SHARED_WITH_THE_UI, "a shared type was renamed"
    if _modules_of("kiosk.ipc"):
        assert _modules_of("kiosk.ipc") >= CLIENT_FOR_THE_UI, "the client was renamed"


def test_an_ignored_import_that_is_gone_fails_the_check(package_copy, tmp_path):
    """ignore_imports cannot outlive the violation they excuse: an ignore that matches no import
    of the tree (the violation was removed, the ignore forgotten) fails the check."""
    root = tmp_path / "tree"
    shutil.copytree(package_copy, root)
    config = root / "pyproject.toml"
    text = config.read_text()
    marker = 'id = "records-at-the-bottom"'
    assert marker in text
    config.write_text(text.replace(marker, marker + '\nignore_imports = ["kiosk.records -> kivy"]'))

    result = _lint_imports(root)

    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 1, output
    assert "kiosk.records -> kivy" in output, output
