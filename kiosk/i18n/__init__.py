"""Run-time switchable translations for the kiosk (gettext catalogues ``en`` and ``ru``).

Every string a person reads goes through :func:`_`. The catalogues are ordinary gettext ``.po``
sources with their compiled ``.mo`` beside them (both committed, so the device needs no build
tools); the developer tool ``python -m tools.i18n.catalogue`` (Babel, outside the runtime
package) extracts the message ids from the sources and the catalogue and recompiles, and a test
keeps the three in step. Numbers are written in the language's notation by :mod:`.numbers`.

The language is process-wide state on purpose: there is one screen and one beautician. Screens
that show text subscribe with :func:`add_listener` and rebuild their labels when it changes.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from pathlib import Path

DOMAIN = "kiosk"
LOCALE_DIR = Path(__file__).resolve().parent
LANGUAGES: dict[str, str] = {"en": "English", "ru": "Русский"}  # shown in their own language
DEFAULT_LANGUAGE = "en"

_state: dict[str, object] = {
    "code": DEFAULT_LANGUAGE,
    "translations": gettext.NullTranslations(),
}
_listeners: list[Callable[[str], None]] = []


def load_translations(code: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``code``; an unknown code is an error, not a silent English."""
    if code not in LANGUAGES:
        raise ValueError(f"unknown language {code!r}; known: {', '.join(LANGUAGES)}")
    return gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[code])


def set_language(code: str) -> None:
    """Switch every later :func:`_` call to ``code`` and tell the listeners."""
    _state["translations"] = load_translations(code)
    _state["code"] = code
    for listener in list(_listeners):
        listener(code)


def current_language() -> str:
    return str(_state["code"])


def _(message: str) -> str:
    """Translate ``message`` (an English msgid) into the current language."""
    translations = _state["translations"]
    assert isinstance(translations, gettext.NullTranslations)
    return translations.gettext(message)


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it now (module-level tables)."""
    return message


def add_listener(listener: Callable[[str], None]) -> None:
    _listeners.append(listener)


def remove_listener(listener: Callable[[str], None]) -> None:
    if listener in _listeners:
        _listeners.remove(listener)
