"""The arrays every forensic method works on, built once from :class:`ElectionResults`.

Methods are pure functions over :class:`StationArrays`; they never open files.
Conventions (Kobak, Shpilkin & Pshenichnikov 2016): turnout = ballots issued / registered;
the leader's share = the leader's votes / (valid + invalid ballots).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pollwatch.errors import InputError
from pollwatch.results.schema import ElectionResults

__all__ = ["StationArrays", "station_arrays"]


@dataclass(frozen=True, eq=False)
class StationArrays:
    """Per-station numbers for the forensic methods (all arrays have one entry per station).

    Attributes
    ----------
    registered, issued, cast, leader:
        Registered voters; ballots issued (turnout numerator); valid + invalid ballots
        (share denominator); the leader's votes. ``int64``.
    votes:
        ``(n_stations, n_candidates)`` vote matrix, columns in ``candidates`` order.
    region, district:
        Integer codes (``region_names[code]`` is the name); districts are unique across
        regions.
    station:
        Station ids as strings (for rankings).
    """

    registered: np.ndarray
    issued: np.ndarray
    cast: np.ndarray
    leader: np.ndarray
    votes: np.ndarray
    candidates: tuple[str, ...]
    leader_name: str
    region: np.ndarray
    region_names: tuple[str, ...]
    district: np.ndarray
    district_names: tuple[str, ...]
    station: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.registered)
        for name in ("issued", "cast", "leader", "region", "district", "station"):
            if len(getattr(self, name)) != n:
                raise InputError(
                    f"StationArrays: '{name}' has {len(getattr(self, name))} entries, expected {n}"
                )
        if self.votes.shape != (n, len(self.candidates)):
            raise InputError(
                f"StationArrays: 'votes' has shape {self.votes.shape}, "
                f"expected ({n}, {len(self.candidates)})"
            )
        for name in ("registered", "issued", "cast", "leader"):
            if (getattr(self, name) < 0).any():
                raise InputError(f"StationArrays: '{name}' has negative counts")

    @property
    def n(self) -> int:
        return len(self.registered)

    @property
    def turnout(self) -> np.ndarray:
        """Ballots issued / registered (NaN where nobody is registered)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(
                self.registered > 0, self.issued / np.maximum(self.registered, 1), np.nan
            )

    @property
    def share(self) -> np.ndarray:
        """The leader's votes / (valid + invalid) (NaN where no ballots were cast)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.cast > 0, self.leader / np.maximum(self.cast, 1), np.nan)

    def subset(self, mask: np.ndarray) -> StationArrays:
        """The stations where ``mask`` is true (codes and names kept)."""
        return StationArrays(
            registered=self.registered[mask],
            issued=self.issued[mask],
            cast=self.cast[mask],
            leader=self.leader[mask],
            votes=self.votes[mask],
            candidates=self.candidates,
            leader_name=self.leader_name,
            region=self.region[mask],
            region_names=self.region_names,
            district=self.district[mask],
            district_names=self.district_names,
            station=self.station[mask],
            meta=dict(self.meta),
        )

    @classmethod
    def from_counts(
        cls,
        registered: Any,
        issued: Any,
        cast: Any,
        leader: Any,
        *,
        others: Any = None,
        region: Any = None,
        district: Any = None,
    ) -> StationArrays:
        """Build from bare count arrays (synthetic data, tests).

        ``others`` (one column per other candidate) defaults to cast − leader.
        """
        reg = np.asarray(registered, dtype=np.int64)
        iss = np.asarray(issued, dtype=np.int64)
        cst = np.asarray(cast, dtype=np.int64)
        lead = np.asarray(leader, dtype=np.int64)
        oth = np.asarray(others, dtype=np.int64) if others is not None else (cst - lead)[:, None]
        if oth.ndim == 1:
            oth = oth[:, None]
        n = len(reg)
        reg_codes, reg_names = _codes(region, n)
        dis_codes, dis_names = _codes(district, n)
        return cls(
            registered=reg,
            issued=iss,
            cast=cst,
            leader=lead,
            votes=np.column_stack([lead, oth]),
            candidates=("leader", *(f"other{i + 1}" for i in range(oth.shape[1]))),
            leader_name="leader",
            region=reg_codes,
            region_names=reg_names,
            district=dis_codes,
            district_names=dis_names,
            station=np.array([str(i + 1) for i in range(n)], dtype=object),
        )


def _codes(labels: Any, n: int) -> tuple[np.ndarray, tuple[str, ...]]:
    if labels is None:
        return np.zeros(n, dtype=np.int64), ("all",)
    # a missing label is the empty one, a code like any other: factorize gives it −1, which
    # the methods would take for the last group (or reject, as np.bincount does)
    codes, uniques = pd.factorize(pd.Series(labels).astype(str).fillna(""), sort=False)
    return codes.astype(np.int64), tuple(str(u) for u in uniques)


def station_arrays(
    results: ElectionResults,
    leader: str | None = None,
    *,
    include_abroad: bool = True,
) -> StationArrays:
    """Arrays for the forensic methods from validated results.

    ``leader`` is a candidate name (or a unique part of it); by default the candidate with
    most votes. Stations abroad are kept unless ``include_abroad`` is false.
    """
    st = results.stations
    mask = np.ones(len(st), dtype=bool)
    if not include_abroad and "abroad" in st:
        mask &= ~st["abroad"].to_numpy(dtype=bool)
    name = results.leader(leader)
    votes = results.votes().to_numpy(dtype=np.int64)
    reg_codes, reg_names = _codes(st["region"], len(st))
    # a station without a district gets its region's "no district" group, not one shared
    # by every region (districts are unique across regions)
    district = st["region"].fillna("") + " / " + st["district"].fillna("")
    dis_codes, dis_names = _codes(district, len(st))
    arrays = StationArrays(
        registered=st["registered"].to_numpy(dtype=np.int64),
        issued=results.ballots_issued(),
        cast=results.ballots_cast(),
        leader=st[name].to_numpy(dtype=np.int64),
        votes=votes,
        candidates=results.candidates,
        leader_name=name,
        region=reg_codes,
        region_names=reg_names,
        district=dis_codes,
        district_names=dis_names,
        station=st["station"].astype(str).to_numpy(dtype=object),
        meta={"election": results.name, "source": results.source},
    )
    return arrays if mask.all() else arrays.subset(mask)
