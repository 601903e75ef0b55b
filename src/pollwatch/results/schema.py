"""The official-results schema: one election's figures by polling station.

Every loader and adapter returns an :class:`ElectionResults`; every part of pollwatch
(forensics, observe, guide) reads official figures only through it.

The station table has the identifier columns :data:`ID_FIELDS`, the protocol counts
:data:`COUNT_FIELDS` that the source publishes (a source may lack some, e.g. Uganda
publishes no ballots issued), an ``abroad`` flag and one column per candidate, party or
answer, named in ``candidates``. Counts are ``int64`` and never missing: rows that
cannot be used are moved to ``excluded`` with the reason, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "COUNT_FIELDS",
    "EXCLUDED_COLUMNS",
    "ID_FIELDS",
    "ISSUED_FIELDS",
    "ElectionResults",
    "empty_excluded",
]

ID_FIELDS: tuple[str, ...] = ("region", "district", "station", "station_name")
"""Identifiers: region, district (territorial commission), station id, station name."""

COUNT_FIELDS: tuple[str, ...] = (
    "registered",
    "ballots_received",
    "issued_early",
    "issued_premises",
    "issued_outside",
    "valid",
    "invalid",
)
"""Protocol counts, in protocol order."""

ISSUED_FIELDS: tuple[str, ...] = ("issued_early", "issued_premises", "issued_outside")
"""Ballots issued; their sum is the turnout numerator (Kobak et al. 2016)."""

EXCLUDED_COLUMNS: tuple[str, ...] = ("file", "row", "region", "station", "column", "reason")


def empty_excluded() -> pd.DataFrame:
    """An excluded-rows table with no rows."""
    return pd.DataFrame({c: pd.Series(dtype="object") for c in EXCLUDED_COLUMNS})


@dataclass(frozen=True)
class ElectionResults:
    """Official results of one election by polling station.

    Attributes
    ----------
    name:
        Human-readable name, e.g. "Russia, presidential election 2024".
    stations:
        One row per usable polling station (see module docstring).
    candidates:
        The vote columns of ``stations``, in the source's order.
    excluded:
        Rows kept out, with ``file``, ``row`` (line in the file), ``region``, ``station``,
        ``column`` and ``reason``.
    aggregates:
        Results that are not polling stations (e.g. remote e-voting by region); kept out of
        station-level tests and reported separately.
    source:
        Where the figures came from (a path or URL).
    """

    name: str
    stations: pd.DataFrame
    candidates: tuple[str, ...]
    excluded: pd.DataFrame = field(default_factory=empty_excluded)
    aggregates: pd.DataFrame | None = None
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def has(self, count_field: str) -> bool:
        """Whether the source publishes this protocol count."""
        return count_field in self.stations.columns

    @property
    def n_stations(self) -> int:
        return len(self.stations)

    def votes(self) -> pd.DataFrame:
        """The candidates' votes, one column per candidate."""
        return self.stations.loc[:, list(self.candidates)]

    def ballots_issued(self) -> np.ndarray:
        """Turnout numerator per station: ballots issued, or ballots found if not published."""
        present = [f for f in ISSUED_FIELDS if self.has(f)]
        if present:
            return np.asarray(self.stations[present].to_numpy(dtype=np.int64).sum(axis=1))
        return self.ballots_cast()

    def ballots_cast(self) -> np.ndarray:
        """Valid plus invalid ballots: the leader-share denominator (Kobak et al. 2016)."""
        valid = (
            self.stations["valid"].to_numpy(dtype=np.int64)
            if self.has("valid")
            else self.votes().to_numpy(dtype=np.int64).sum(axis=1)
        )
        invalid = (
            self.stations["invalid"].to_numpy(dtype=np.int64)
            if self.has("invalid")
            else np.zeros(len(self.stations), dtype=np.int64)
        )
        return np.asarray(valid + invalid)

    def totals(self) -> pd.Series:
        """National totals of votes per candidate, largest first."""
        return self.votes().sum().sort_values(ascending=False)

    def leader(self, name: str | None = None) -> str:
        """The named candidate (case-insensitive substring allowed), or the one with most votes."""
        from pollwatch.errors import InputError

        if name is None:
            if not self.candidates:
                raise InputError("the results have no candidate columns")
            return str(self.totals().index[0])
        if name in self.candidates:
            return name
        hits = [c for c in self.candidates if name.casefold() in c.casefold()]
        if len(hits) == 1:
            return hits[0]
        if not hits:
            raise InputError(
                f"no candidate matches {name!r}; candidates are: {', '.join(self.candidates)}"
            )
        raise InputError(f"{name!r} matches several candidates: {', '.join(hits)}")

    def summary(self) -> dict[str, Any]:
        """Counts for a report header."""
        return {
            "name": self.name,
            "source": self.source,
            "stations_total": int(len(self.stations) + len(self.excluded)),
            "stations_loaded": len(self.stations),
            "stations_excluded": len(self.excluded),
            "stations_abroad": int(self.stations["abroad"].sum())
            if "abroad" in self.stations
            else 0,
            "registered": int(self.stations["registered"].sum()),
            "candidates": list(self.candidates),
        }
