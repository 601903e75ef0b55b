"""Interface strings of the coach, from the same gettext catalogues as the web pages.

The coach's messages (CLI output, answer headings, feedback reasons, topic names) live in
``web/locale/<lang>/LC_MESSAGES/coach.po`` (gettext domain ``coach``) and are read by
:func:`pollwatch.web.i18n.read_catalogues`, like the site's own ``pollwatch.po``: one
translation system for the CLI, the web page, the JSON API and the Telegram bot. English is
the source language: the message id *is* the English text, and a missing translation shows
it. Content (arguments, risk notes, the safety note) is not here: it lives in the knowledge
base, in both languages.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

__all__ = ["DOMAIN", "TOPIC_LABELS", "catalogue", "t", "topic_label"]

#: The gettext domain of the coach's interface strings.
DOMAIN = "coach"

#: Topic ids and their English labels (message ids in ``coach.po``).
TOPIC_LABELS: Mapping[str, str] = {
    "elections": "Elections",
    "leadership": "Leadership",
    "war": "War",
    "nato-west": "NATO and the West",
    "history": "History",
    "media": "Media and facts",
    "economy": "Economy",
    "emigration": "Those who left",
    "protest": "Protest",
    "politics": "Politics",
}


@lru_cache(maxsize=1)
def _catalogues() -> Mapping[str, Mapping[str, str]]:
    # Imported here: the web package's module is light (Babel only), but the coach's core
    # should not import anything from web/ before it needs a translation.
    from pollwatch.web.i18n import read_catalogues

    return read_catalogues(DOMAIN)


def catalogue(lang: str) -> Mapping[str, str]:
    """The ``coach.po`` translations of one language (``{}`` for English)."""
    return _catalogues().get(lang, {})


def t(msgid: str, lang: str, **values: object) -> str:
    """``msgid`` (English) translated into ``lang`` and formatted with ``values``."""
    template = catalogue(lang).get(msgid) or msgid
    return template.format(**values) if values else template


def topic_label(topic: str, lang: str) -> str:
    """The human label of a topic id in ``lang``."""
    label = TOPIC_LABELS.get(topic)
    return t(label, lang) if label else topic
