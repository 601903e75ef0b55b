"""The library's refusals in the reader's language.

The library says why it refused an input in English, with the field's name and the values
in the text (``'queue' must be between 0 and 100000; got -5 instead``): the web API gives
that text as it is to programs. The bot talks to people, so :func:`translate_reason`
turns each known reason into a sentence of the bot's catalogue: the reason's pattern
(:data:`REASONS`) picks the msgid, the values are kept, and a field's name becomes the
label the flow asked with (:data:`pollwatch.bot.reporting.FIELD_LABELS`). The patterns
follow the messages of :mod:`pollwatch.observe.reports` (``parse_report``),
:func:`pollwatch.store.reports.prepare_report`, the photo checks and the Telegram store;
``tests/bot/test_reasons.py`` makes each of them refuse and checks that the reason is
translated, so a changed message there fails a test rather than showing English. A reason
no pattern knows is shown as it is (English is the source language).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pollwatch.bot.i18n import Translate
from pollwatch.bot.reporting import FIELD_LABELS

__all__ = ["REASONS", "field_name", "translate_reason"]

_FIELD = r"'(?P<field>[\w.]+)'"

REASONS: Mapping[str, str] = {
    _FIELD + r" must be between 0 and (?P<limit>\d+); got (?P<value>-?\d+) instead": (
        "{field} must be between 0 and {limit}; got {value}"
    ),
    _FIELD + r" must be an integer; got (?P<value>.*) instead": (
        "{field} must be a whole number; got {value}"
    ),
    _FIELD + r" must be at most (?P<limit>\d+) characters": ("{field}: at most {limit} characters"),
    _FIELD + r" is required": "{field} is required",
    _FIELD + r" must not contain NUL characters": "{field} must not contain NUL characters",
    _FIELD + r" must be one of (?P<choices>.*); got (?P<value>.*) instead": (
        "{field} must be one of {choices}; got {value}"
    ),
    _FIELD + r" is more than a day in the future \((?P<time>[^)]*)\); check the device clock": (
        "{field} is more than a day in the future ({time}); check the phone's clock"
    ),
    _FIELD + r" must be 1 to (?P<limit>\d+) ASCII letters, digits, '-', '_' or '\.', starting "
    r"with a letter or digit; got (?P<value>.*?) instead(?:; try (?P<hint>'.*'))?": (
        "{field} must be 1 to {limit} Latin letters, digits, '-', '_' or '.'; got {value}"
    ),
    r"'figures' must contain at least one figure or vote line": (
        "the protocol needs at least one figure or vote line"
    ),
    r"'window_end' must not be before 'window_start'": "the count window ends before it starts",
    r"a count window must not be longer than 24 hours": (
        "a count window must not be longer than 24 hours"
    ),
    r"this observer may not report on station (?P<station>'.*') of election (?P<election>'.*')": (
        "you may not report on station {station} of election {election}"
    ),
    r"no election (?P<election>'.*')": "there is no election {election}",
    r"no station (?P<station>'.*') in election (?P<election>'.*')": (
        "there is no station {station} in election {election}"
    ),
    r"an account may follow at most (?P<limit>\d+) stations": (
        "you may follow at most {limit} stations"
    ),
    r"unknown or already used link code": "unknown or already used link code",
    r"this link code has expired; ask for a new one in the observer app": (
        "this link code has expired; ask for a new one in the observer app"
    ),
    r"this observer has been revoked; the Telegram account is unlinked": (
        "this observer has been revoked; the Telegram account is unlinked"
    ),
    r"this observer (?:has been|is unknown or) revoked": "this observer has been revoked",
    r"the photo is larger than (?P<n>\d+) MB": "the photo is larger than {n} MB",
    r"the photo is larger than (?P<n>\d+) bytes": "the photo is larger than {n} bytes",
    r"the photo is empty": "the photo is empty",
    r"the photo must be JPEG, PNG or WebP; got (?P<format>.*)": (
        "the photo must be JPEG, PNG or WebP; got {format}"
    ),
    r"the file is not a readable image": "the file is not a readable image",
    r"the photo declares (?P<detail>.*); at most (?P<limit>[\d,]+) pixels .*": (
        "the photo is too large ({detail}); at most {limit} pixels"
    ),
    r"unknown report kind (?P<kind>'.*')": "unknown report kind {kind}",
    r"this report is complete; confirm or cancel it": (
        "this report is complete; confirm or cancel it"
    ),
    r"this step cannot be skipped": "this step cannot be skipped",
    r"this report is too long to keep; send or cancel it": (
        "this report is too long to keep; send or cancel it"
    ),
}
"""A library reason's pattern (the whole text) → the bot's msgid, with the pattern's named
groups as placeholders (``field`` is shown as the field's label)."""

_COMPILED = tuple((re.compile(p, re.DOTALL), msgid) for p, msgid in REASONS.items())


def field_name(path: str, _: Translate) -> str:
    """A field's path (``figures.registered``, ``queue``) as the flow names it."""
    name = path.removeprefix("figures.")
    if name == "votes":
        return _("Votes")
    label = FIELD_LABELS.get(name)
    return f"«{_(label)}»" if label is not None else f"'{path}'"


def translate_reason(reason: str, _: Translate) -> str:
    """``reason`` in the reader's language: the bot's own msgid as is, a library reason
    through its pattern; an unknown one unchanged."""
    own = _(reason)
    if own != reason:
        return own
    for pattern, msgid in _COMPILED:
        found = pattern.fullmatch(reason)
        if found is None:
            continue
        values = {k: v for k, v in found.groupdict().items() if v is not None}
        if "field" in values:
            values["field"] = field_name(values["field"], _)
        return _(msgid, **values)
    return reason
