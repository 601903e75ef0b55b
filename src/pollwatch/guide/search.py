"""Find a polling station by what a voter types: a city in any script, a street, a number.

Search-first, as the best station finders are: one box, typos forgiven, scripts ignored.
:class:`StationIndex` is built once per registry (an election's stations, up to a whole
country's ~94,000) and answers a query in milliseconds:

1. Every station is described by the folded words (:func:`pollwatch.guide.places.fold`) of
   its name, number, address, city and country, plus the other names of its city and
   country (GeoNames, CLDR), so "Белград", "Beograd" and "Belgrade" are the same words.
2. A query word matches a station word exactly, as a prefix (from three letters: people
   stop typing early), or — only when it matches no word exactly or as a prefix —
   fuzzily (rapidfuzz's normalised Levenshtein ratio ≥ 80 on words of five letters or more:
   "belgrd", "beogard"). A known word is never read as a typo of another ("paris" is not
   "pariz"). Fuzzy matching runs over the vocabulary of distinct words, not over stations,
   which is what keeps a country-wide registry fast.
3. A station must match every query word that matches anything (AND); its score is the sum
   of its words' best match scores (exact 100, prefix 90, fuzzy its ratio; words of the
   address count 0.9 of that, so "75" finds station 75 before a building numbered 75).

Results are grouped by place: stations at one address form one group, so a voter sees
"3 stations at Embassy, Deligradska 32" instead of three near-identical lines.

Why not a full-text engine: SQLite FTS and PostgreSQL trigram indexes differ, neither
transliterates nor knows exonyms, and a registry fits in memory many times over.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rapidfuzz import fuzz, process

from pollwatch.errors import InputError
from pollwatch.guide.places import city_aliases, country_aliases, fold_words

__all__ = [
    "MAX_QUERY_LENGTH",
    "SearchResult",
    "StationGroup",
    "StationIndex",
    "StationRecord",
    "distance_km",
]

MAX_QUERY_LENGTH = 200
"""Longer queries are refused: no address is that long, and fuzzy matching costs per word."""

MAX_QUERY_WORDS = 8
FUZZY_MIN_LENGTH = 5
FUZZY_CUTOFF = 80.0
PREFIX_MIN_LENGTH = 3
MAX_PREFIX_WORDS = 2000
MEMO_SIZE = 256
"""Query words whose score arrays are kept (each 4 bytes per station: 0.4 MB at 94,000)."""
MAX_GROUP = 5
"""Stations ranked before grouping, per group shown: enough to fill ``limit`` groups."""
EXACT, PREFIX = 100.0, 90.0
ADDRESS_WEIGHT = 0.9


@dataclass(frozen=True)
class StationRecord:
    """What the guide shows of a station: from the registry, nothing about observers."""

    station: str
    name: str | None = None
    country: str | None = None
    city: str | None = None
    address: str | None = None
    lat: float | None = None
    lon: float | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> StationRecord:
        def text(key: str) -> str | None:
            value = row.get(key)
            return str(value) if value not in (None, "") else None

        def number(key: str) -> float | None:
            value = row.get(key)
            try:
                x = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                return None
            return x if math.isfinite(x) else None

        return cls(
            station=str(row["station"]),
            name=text("name"),
            country=text("country"),
            city=text("city"),
            address=text("address"),
            lat=number("lat"),
            lon=number("lon"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "station": self.station,
            "name": self.name,
            "country": self.country,
            "city": self.city,
            "address": self.address,
            "lat": self.lat,
            "lon": self.lon,
        }


@dataclass(frozen=True)
class StationGroup:
    """Stations at one place (same address, or same city when addresses are missing)."""

    place: str
    stations: tuple[StationRecord, ...]
    score: float
    distance_km: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "place": self.place,
            "score": round(self.score, 1),
            "distance_km": None if self.distance_km is None else round(self.distance_km, 1),
            "stations": [s.to_dict() for s in self.stations],
        }


@dataclass(frozen=True)
class SearchResult:
    """The groups found for a query, best first, and how many stations matched in all."""

    query: str
    groups: tuple[StationGroup, ...]
    matched: int
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "matched": self.matched,
            "truncated": self.truncated,
            "groups": [g.to_dict() for g in self.groups],
        }


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, mean Earth radius 6,371 km)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(a)))


@dataclass
class StationIndex:
    """An in-memory search index over one registry; build with :meth:`build`.

    Words point either at stations (their name, number and address words) or at places (a
    city of a country, a country), each place at its stations: the other names of a city
    are stored once per city, not once per station. A query word's scores are a NumPy
    array over all stations, so intersecting words and ranking are vector operations.
    """

    stations: tuple[StationRecord, ...]
    station_postings: dict[str, np.ndarray]
    address_postings: dict[str, np.ndarray]
    place_postings: dict[str, tuple[int, ...]]
    place_members: tuple[np.ndarray, ...]
    place_keys: tuple[str, ...]
    vocabulary: list[str] = field(default_factory=list)  # sorted, for prefix search
    memo: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, rows: Iterable[Mapping[str, Any] | StationRecord]) -> StationIndex:
        """Index the registry rows (dicts with at least ``station``, or records)."""
        stations = tuple(
            r if isinstance(r, StationRecord) else StationRecord.from_row(r) for r in rows
        )
        by_station: dict[str, list[int]] = {}
        by_address: dict[str, list[int]] = {}
        places: dict[tuple[str, str, str], list[int]] = {}  # (kind, city, country) -> ids
        keys: list[str] = []
        for i, s in enumerate(stations):
            words: set[str] = set(fold_words(s.station))
            if s.name:
                words.update(fold_words(s.name))
            for word in words:
                by_station.setdefault(word, []).append(i)
            for word in set(fold_words(s.address or "")) - words:
                by_address.setdefault(word, []).append(i)
            if s.city:
                places.setdefault(("city", s.city, s.country or ""), []).append(i)
            if s.country:
                places.setdefault(("country", "", s.country), []).append(i)
            keys.append(_place_key(s))
        by_place: dict[str, list[int]] = {}
        members: list[np.ndarray] = []
        for (kind, city, country), ids in places.items():
            aliases = _city_words(city, country) if kind == "city" else _country_words(country)
            for word in aliases:
                by_place.setdefault(word, []).append(len(members))
            members.append(np.asarray(ids, dtype=np.int32))
        return cls(
            stations=stations,
            station_postings={w: np.asarray(v, dtype=np.int32) for w, v in by_station.items()},
            address_postings={w: np.asarray(v, dtype=np.int32) for w, v in by_address.items()},
            place_postings={w: tuple(v) for w, v in by_place.items()},
            place_members=tuple(members),
            place_keys=tuple(keys),
            vocabulary=sorted(by_station.keys() | by_address.keys() | by_place.keys()),
        )

    def _word_scores(self, word: str) -> np.ndarray:
        """Each station's best match score for one query word (0: no match).

        The arrays of recent words are kept (a crowd types the same few cities); the memo is
        the index's own and is emptied when it reaches :data:`MEMO_SIZE` words.
        """
        scores = self.memo.get(word)
        if scores is not None:
            return scores
        scores = np.zeros(len(self.stations), dtype=np.float32)
        for candidate, score in _vocabulary_matches(self.vocabulary, self._known, word):
            # a station's words are distinct: no posting repeats an index
            ids = self.station_postings.get(candidate)
            if ids is not None:
                scores[ids] = np.maximum(scores[ids], score)
            ids = self.address_postings.get(candidate)
            if ids is not None:
                scores[ids] = np.maximum(scores[ids], score * ADDRESS_WEIGHT)
            for place in self.place_postings.get(candidate, ()):
                members = self.place_members[place]
                scores[members] = np.maximum(scores[members], score)
        if len(self.memo) >= MEMO_SIZE:
            self.memo.clear()
        self.memo[word] = scores
        return scores

    def _known(self, word: str) -> bool:
        return any(
            word in p for p in (self.station_postings, self.address_postings, self.place_postings)
        )

    def search(self, query: str, *, limit: int = 20) -> SearchResult:
        """Stations matching every word of ``query``, grouped by place, best first.

        A word that matches nothing in the whole registry ("street", "улица", a typo beyond
        repair) is left out rather than emptying the answer, as long as another word matched.
        """
        if len(query) > MAX_QUERY_LENGTH:
            raise InputError(
                f"the search text must be at most {MAX_QUERY_LENGTH} characters", column="q"
            )
        words = list(dict.fromkeys(fold_words(query)))[:MAX_QUERY_WORDS]
        per_word = [scores for scores in map(self._word_scores, words) if scores.any()]
        if not per_word:
            return SearchResult(query=query, groups=(), matched=0)
        total = np.sum(per_word, axis=0)
        matched_all = np.logical_and.reduce([scores > 0 for scores in per_word])
        found = np.flatnonzero(matched_all)
        best = found[np.argsort(-total[found], kind="stable")[: limit * MAX_GROUP]]
        groups = _group(self, {int(i): float(total[i]) for i in best})
        return SearchResult(
            query=query,
            groups=tuple(groups[:limit]),
            matched=int(found.size),
            truncated=found.size > best.size or len(groups) > limit,
        )

    def nearest(self, lat: float, lon: float, *, limit: int = 10) -> SearchResult:
        """The stations closest to a point (the browser computes this itself; this is the
        same answer for the JSON API and for pages without script)."""
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise InputError("lat must be in [-90, 90] and lon in [-180, 180]", column="lat")
        located = [
            (distance_km(lat, lon, s.lat, s.lon), i)
            for i, s in enumerate(self.stations)
            if s.lat is not None and s.lon is not None
        ]
        located.sort()
        chosen = {i: -d for d, i in located[: limit * MAX_GROUP]}
        groups = _group(self, chosen, origin=(lat, lon))
        return SearchResult(
            query=f"{lat:.4f},{lon:.4f}", groups=tuple(groups[:limit]), matched=len(located)
        )


@functools.lru_cache(maxsize=65536)
def _city_words(city: str, country: str) -> frozenset[str]:
    return frozenset(w for alias in city_aliases(city, country) for w in alias.split())


@functools.lru_cache(maxsize=1024)
def _country_words(country: str) -> frozenset[str]:
    return frozenset(w for alias in country_aliases(country) for w in alias.split())


def _vocabulary_matches(
    vocabulary: list[str], known: Callable[[str], bool], word: str
) -> list[tuple[str, float]]:
    """Words of the vocabulary matching one query word (exact, prefix, fuzzy) with scores."""
    hits: dict[str, float] = {}
    if known(word):
        hits[word] = EXACT
    if len(word) >= PREFIX_MIN_LENGTH:
        start = bisect.bisect_left(vocabulary, word)
        for candidate in vocabulary[start : start + MAX_PREFIX_WORDS]:
            if not candidate.startswith(word):
                break
            hits.setdefault(candidate, PREFIX)
    if not hits and len(word) >= FUZZY_MIN_LENGTH:  # typos only for words nothing has
        for candidate, score, _ in process.extract(
            word, vocabulary, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=50
        ):
            hits.setdefault(candidate, float(score))
    return list(hits.items())


def _place_key(s: StationRecord) -> str:
    if s.address:
        return " ".join(fold_words(f"{s.city or ''} {s.address}"))
    return " ".join(fold_words(f"{s.country or ''} {s.city or ''}")) or s.station


def _place_label(s: StationRecord) -> str:
    parts = [p for p in (s.address, s.city, s.country) if p]
    return ", ".join(parts) if parts else (s.name or s.station)


def _group(
    index: StationIndex,
    scores: Mapping[int, float],
    *,
    origin: tuple[float, float] | None = None,
) -> list[StationGroup]:
    stations = index.stations
    by_place: dict[str, list[int]] = {}
    for i in scores:
        by_place.setdefault(index.place_keys[i], []).append(i)
    groups = []
    for ids in by_place.values():
        ids.sort(key=lambda i: (-scores[i], _natural(stations[i].station)))
        members = tuple(stations[i] for i in ids)
        first = members[0]
        far = None
        if origin is not None and first.lat is not None and first.lon is not None:
            far = distance_km(origin[0], origin[1], first.lat, first.lon)
        groups.append(
            StationGroup(
                place=_place_label(first),
                stations=members,
                score=max(scores[i] for i in ids),
                distance_km=far,
            )
        )
    groups.sort(key=lambda g: (-g.score, g.place))
    return groups


def _natural(station: str) -> tuple[tuple[int, int, str], ...]:
    """Sort "2" before "10": station numbers are numbers to people."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in fold_words(station))
