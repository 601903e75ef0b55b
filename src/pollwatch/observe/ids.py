"""Election and station identifiers: one rule, checked wherever an id enters pollwatch.

An id is 1 to 64 ASCII letters, digits and the separators ``-``, ``_`` and ``.``, starting
with a letter or a digit: ``ru-2024``, ``8001``, ``O-1-3-3-12-3``, ``uk.london_2``.

Why this rule
-------------
* **ASCII only, so that look-alike ids cannot exist.** With Unicode letters, ``demo`` and
  ``dеmo`` (a Cyrillic «е») would be two elections that look the same on every screen, and
  an observer's reports could land in the wrong one without anyone noticing. A refused id
  gets a transliterated suggestion (``уик-1`` → "try 'uik-1'") from the ``unidecode``
  library, so people who name things in Cyrillic are told what to type instead.
* **A short alphabet that is safe everywhere.** Ids appear in URL paths
  (``/api/v1/elections/<id>/ledger``), file names (``<id>-reports.csv``), HTTP headers and
  command lines; these characters need no escaping in any of them. The first character is
  a letter or digit so that ``.`` and ``..`` (which URLs and file systems treat as the
  folder itself and its parent) and ``-x`` (which a command line reads as an option) are
  never ids.
* **At most 64 characters** (:data:`ID_LIMIT`): long enough for any commission's code,
  short enough to show in a table column and to bound what a hostile request can send.
* NUL and lone surrogates are outside the alphabet, so a refused id never reaches a
  database (PostgreSQL rejects NUL in text) or a hash.

Every interface applies the same rule through :func:`check_election_id` and
:func:`check_station_id`: the CLI and the web API through the store's functions, the
observer's report through :func:`pollwatch.observe.reports.parse_report`. A malformed id is
always an :class:`~pollwatch.errors.InputError` naming the field (HTTP 400, CLI exit 1);
a well-formed id that does not exist is a :class:`~pollwatch.errors.NotFoundError`.

>>> check_election_id("ru-2024")
'ru-2024'
>>> check_election_id("уик-1")
Traceback (most recent call last):
...
pollwatch.errors.InputError: column 'election': 'election' must be 1 to 64 ASCII letters, \
digits, '-', '_' or '.', starting with a letter or digit; got 'уик-1' instead; try 'uik-1'
"""

from __future__ import annotations

import re
from typing import Any

from pollwatch.errors import InputError

__all__ = [
    "ID_LIMIT",
    "ID_PATTERN",
    "check_election_id",
    "check_station_id",
    "is_valid_id",
    "suggest_id",
]

ID_LIMIT = 64
"""Longest election or station id."""

ID_PATTERN = rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{ID_LIMIT - 1}}}"
"""The whole rule as a regular expression (for OpenAPI and forms; match it in full)."""

_ID = re.compile(ID_PATTERN)
_OUTSIDE = re.compile(r"[^A-Za-z0-9._-]+")
_EDGE = "._-"


def is_valid_id(value: Any) -> bool:
    """Whether ``value`` is a string that is a well-formed election or station id."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def suggest_id(value: str) -> str | None:
    """A well-formed id close to ``value`` (transliterated to ASCII), or ``None``.

    >>> suggest_id("Выборы 2024")
    'Vybory-2024'
    """
    from unidecode import unidecode

    ascii_text = _OUTSIDE.sub("-", unidecode(value)).lstrip(_EDGE)
    candidate = ascii_text[:ID_LIMIT].rstrip("-")
    if candidate == value or not is_valid_id(candidate):
        return None
    return candidate


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check(value: Any, field: str) -> str:
    if is_valid_id(value):
        return str(value)
    message = (
        f"'{field}' must be 1 to {ID_LIMIT} ASCII letters, digits, '-', '_' or '.', "
        f"starting with a letter or digit; got {_describe(value)} instead"
    )
    suggestion = suggest_id(value) if isinstance(value, str) else None
    if suggestion is not None:
        message += f"; try {suggestion!r}"
    raise InputError(message, column=field)


def check_election_id(value: Any, field: str = "election") -> str:
    """``value`` if it is a well-formed election id, else :class:`InputError` naming ``field``."""
    return _check(value, field)


def check_station_id(value: Any, field: str = "station") -> str:
    """``value`` if it is a well-formed station id, else :class:`InputError` naming ``field``."""
    return _check(value, field)
