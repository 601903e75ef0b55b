"""The bot's interface language: Telegram's ``language_code`` or the user's choice, and its
strings from the gettext domain ``bot`` (the web's catalogues, read by
:func:`pollwatch.web.i18n.read_catalogues`; English is the source language).

The coach's content exists in Russian and English: Serbian users get the Serbian interface
with English content unless they pick Russian content (:func:`content_language`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache

from pollwatch.coach.text import Lang

__all__ = ["DOMAIN", "LANGUAGES", "Translate", "content_language", "language_of", "translator"]

DOMAIN = "bot"
"""The gettext domain of the bot's strings."""

LANGUAGES: tuple[str, ...] = ("en", "ru", "sr")
"""Interface languages, in the order the switch offers them."""

Translate = Callable[..., str]
"""``_(msgid, **values)``: the translation of ``msgid``, formatted with ``values``."""

_RUSSIAN_READERS = ("ru", "uk", "be", "kk", "ky")
_SERBIAN_READERS = ("sr", "hr", "bs", "me")


def language_of(code: str | None) -> str:
    """The interface language for a Telegram ``language_code`` (IETF tag, maybe absent)."""
    base = (code or "").lower().replace("_", "-").split("-")[0]
    if base in _RUSSIAN_READERS:
        return "ru"
    if base in _SERBIAN_READERS:
        return "sr"
    return "en"


def content_language(lang: str) -> Lang:
    """The coach content's language for an interface language (ru or en)."""
    return "ru" if lang == "ru" else "en"


@lru_cache(maxsize=8)
def _catalogues(domain: str = DOMAIN) -> Mapping[str, Mapping[str, str]]:
    from pollwatch.web.i18n import read_catalogues

    return read_catalogues(domain)


def translator(lang: str, *also: str) -> Translate:
    """The translating function for ``lang``; a missing translation shows the English.

    ``also`` names more gettext domains looked up after the bot's (the alerts' labels are
    the network pages' own, in ``network``), so one string has one translation."""
    tables = [_catalogues(domain).get(lang, {}) for domain in (DOMAIN, *also)]

    def _(msgid: str, **values: object) -> str:
        template = next((t[msgid] for t in tables if t.get(msgid)), msgid)
        return template.format(**values) if values else template

    return _
