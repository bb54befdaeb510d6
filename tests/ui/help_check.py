"""Opens the help of the screen on show and says what is wrong with it (issue 11 item 7).

Used by the walk over every screen (``test_layout_every_screen.py``), so a screen added later is
checked as soon as the walk visits it: a screen of a treatment step has a help button; it opens
that step's help (its title and its first "what to do" line, translated); every tab and page of
the help lays out without clipped or tiny text; where current can flow, STOP is not covered; the
help closes again. A screen without a step has no help button.
"""

from __future__ import annotations

from typing import Any

from kivy.core.window import Window

from kiosk.guide import load_guide
from kiosk.i18n import _
from tests.ui.layout_check import layout_problems


def _covers(upper: Any, lower: Any) -> bool:
    ux0, uy0 = upper.to_window(upper.x, upper.y)
    lx0, ly0 = lower.to_window(lower.x, lower.y)
    return not (ux0 + upper.width <= lx0 or lx0 + lower.width <= ux0
                or uy0 + upper.height <= ly0 or ly0 + lower.height <= uy0)


def help_problems(k: Any) -> list[str]:
    """Open, page through and close the help of ``k``'s screen; what is wrong (empty: fine)."""
    screen = k.app.screen
    step_id = screen.help_step()
    if step_id is None:
        return ["a help button on a screen without a step"] if k.has("help") else []
    if not k.has("help"):
        return [f"no help button (step {step_id})"]
    found: list[str] = []
    k.tap("help")
    if k.app.find("help_view") is None:
        return ["the help button opened nothing"]
    step = load_guide().step(step_id)
    title = _("Help: {step}").format(step=_(step.title))
    if k.text("help_title") != title:
        found.append(f"help title {k.text('help_title')!r}, expected {title!r}")
    if k.text("help_item_0") != "• " + _(step.do[0]):
        found.append(f"first help line {k.text('help_item_0')!r}, expected {step.do[0]!r}")
    view = k.find("help_view")
    for tab in [r for r in _refs(view) if r.startswith("help_tab_")]:
        k.tap(tab)
        page = 1
        while True:
            found += [f"help {tab} page {page}: {p}"
                      for p in layout_problems(k.app.root_widget, (Window.width, Window.height))]
            if not (k.has("help_next") and k.enabled("help_next")):
                break
            k.tap("help_next")
            page += 1
    if screen.current_can_flow:
        stop = k.find("stop")
        if _covers(view, stop) or stop.opacity <= 0 or stop.disabled:
            found.append("STOP is covered or disabled while the help is open")
    k.tap("help_close")
    if k.app.find("help_view") is not None:
        found.append("the help did not close")
    return found


def _refs(widget: Any) -> list[str]:
    from kiosk.screens.widgets import walk

    return [w.ref for w in walk(widget) if getattr(w, "ref", "")]
