"""Numbers as the current language writes them, by Babel (CLDR): ``0.80`` in English, ``0,80`` in
Russian. One formatter for every figure a screen shows, so no screen formats a float by hand.

``decimal(-0.04, 1)`` is ``0.0``, never ``-0.0``: a figure rounded to zero has no sign.
:func:`format_template` fills a message template whose fields carry a fixed-point spec
(``{cap_ma:.2f}``), as the control layer's reason templates do, with the same formatter.
"""

from __future__ import annotations

import re
import string
from functools import cache
from typing import Any

from babel import Locale
from babel.numbers import format_decimal

from kiosk import i18n

_FIXED_SPEC = re.compile(r"^\.(\d)f$")


@cache
def _locale(code: str) -> Locale:
    return Locale.parse(code)


def decimal(value: float, places: int) -> str:
    """``value`` with exactly ``places`` decimals in the current language's notation."""
    rounded = round(float(value), places)
    if rounded == 0:
        rounded = 0.0  # also turns -0.0 into 0.0
    pattern = "0." + "0" * places if places > 0 else "0"
    return format_decimal(rounded, format=pattern, locale=_locale(i18n.current_language()),
                          decimal_quantization=True)


def minutes(value_min: float) -> str:
    """Whole minutes without decimals (``5``), otherwise one decimal (``2.5`` / ``2,5``)."""
    if abs(value_min - round(value_min)) < 1e-9:
        return decimal(value_min, 0)
    return decimal(value_min, 1)


class _LocaleFormatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        match = _FIXED_SPEC.match(format_spec)
        if match is not None and isinstance(value, int | float) and not isinstance(value, bool):
            return decimal(value, int(match.group(1)))
        return super().format_field(value, format_spec)


_FORMATTER = _LocaleFormatter()


def format_template(template: str, **values: Any) -> str:
    """``template.format(**values)`` with every ``{name:.Nf}`` field written by :func:`decimal`."""
    return _FORMATTER.format(template, **values)
