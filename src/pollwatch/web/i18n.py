"""Interface strings of the web pages, translated with gettext catalogues (Babel).

Catalogues are the ``.po`` files in ``web/locale/<lang>/LC_MESSAGES/<domain>.po``; they are
read once with Babel when the app is created, so translators edit text files and no compile
step is needed. The site's pages read the domains of :data:`SITE_DOMAINS` merged into one
table (one file per part, so the parts' translators do not edit the same file); the observer
app and the coach's answers have their own domains. Content languages (the coach's
arguments) live in the knowledge base, not here. English is the source language: a missing
translation shows the English text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources

from babel.messages.pofile import read_po

__all__ = [
    "LANGUAGES",
    "SITE_DOMAINS",
    "Catalogues",
    "load_catalogues",
    "pick_language",
    "read_catalogues",
]

LANGUAGES: tuple[str, ...] = ("en", "ru", "sr")

SITE_DOMAINS: tuple[str, ...] = (
    "pollwatch",
    "guide",
    "guidance",
    "checklists",
    "network",
    "bot",
)
"""The catalogues of the site's pages and the bot: the common strings (``pollwatch``), the voter
guide's pages and its guidance editor, checklists and messages to observers, the network's
coordination pages (alerts, incidents, rosters), the Telegram bot. A missing file is
skipped; a message id in several domains takes the first domain's translation."""


@dataclass(frozen=True)
class Catalogues:
    """Loaded translations: ``gettext(lang)`` returns a function translating a message id."""

    messages: Mapping[str, Mapping[str, str]]

    def gettext(self, lang: str) -> Callable[[str], str]:
        table = self.messages.get(lang, {})

        def _(msgid: str) -> str:
            return table.get(msgid) or msgid

        return _


def read_catalogues(domain: str = "pollwatch") -> dict[str, dict[str, str]]:
    """Every shipped ``<lang>/LC_MESSAGES/<domain>.po``, as ``{lang: {msgid: msgstr}}``."""
    messages: dict[str, dict[str, str]] = {}
    root = resources.files("pollwatch.web") / "locale"
    for lang in LANGUAGES:
        po = root / lang / "LC_MESSAGES" / f"{domain}.po"
        if not po.is_file():
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        messages[lang] = {
            str(m.id): str(m.string)
            for m in catalog
            if m.id and isinstance(m.string, str) and m.string
        }
    return messages


def load_catalogues() -> Catalogues:
    """Read the site's catalogues (the domains of :data:`SITE_DOMAINS`, merged)."""
    merged: dict[str, dict[str, str]] = {}
    for domain in SITE_DOMAINS:
        for lang, table in read_catalogues(domain).items():
            into = merged.setdefault(lang, {})
            for msgid, msgstr in table.items():
                into.setdefault(msgid, msgstr)
    return Catalogues(messages=merged)


def pick_language(query: str | None, accept_language: str | None, default: str = "en") -> str:
    """The interface language: ``?lang=`` if supported, else the first supported one the
    browser asks for, else ``default``."""
    if query in LANGUAGES:
        return query
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return default
