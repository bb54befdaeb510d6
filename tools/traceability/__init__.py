"""Safety traceability: requirements with IDs, tests tagged with them, a matrix built every run.

The pytest plugin (``tools.traceability.plugin``, registered with ``-p`` in ``pyproject.toml``)
adds the ``requirement`` marker and the ``safety_figure`` fixture, and writes
``reports/safety-matrix.md`` and ``.json`` at the end of every run. The rules it enforces are
documented in ``docs/safety/traceability.md``.

Test authors need two names::

    @pytest.mark.requirement("SR-010")
    def test_contact_loss_reaches_safe_state(safety_figure: FigureRecorder) -> None:
        ...
        safety_figure("safe_after_ms", safe_after_ms, "ms", limit=100.0)
"""

from __future__ import annotations

from tools.traceability.figures import FigureRecorder

__all__ = ["FigureRecorder"]
