"""Regions and stations ranked by the evidence the battery's methods found against them.

:func:`rank_regions` sums, per region, the stations with an integer-percentage turnout or
leader's share against the number chance allows, and Shpilkin's anomalous votes;
:func:`rank_stations` scores each station by the signs that point at it (the
high-turnout/high-share corner, an unlikely whole percentage, a protocol identical to
another's). Whole percentages are judged by the integer-percentage test's own rule
(:func:`pollwatch.forensics.integer_percentages.integer_percentage`), so a station counted
there is counted here.

The rankings are screening aids, not verdicts: a region or station high on the list is a
place to look at (observers' reports, video, the protocol itself), not proof of fraud.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from pollwatch.forensics.data import StationArrays
from pollwatch.forensics.integer_percentages import (
    integer_percentage,
    integer_percentage_chance,
)
from pollwatch.forensics.multiple_testing import FDR_LEVEL, bh_q_values
from pollwatch.forensics.result import MethodResult, jsonable

__all__ = [
    "CLEAN_CEILING",
    "MACHINE_AT_100",
    "TOP_STATIONS",
    "integer_hit",
    "national_station_excess",
    "rank_regions",
    "rank_stations",
    "shpilkin_station_excess",
]

TOP_STATIONS = 200
"""Stations kept in the station ranking."""


def integer_hit(numerator: np.ndarray, denominator: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whether ``numerator/denominator`` is an integer percentage, and the chance of it.

    The integer-percentage test's own definition (Kobak, Shpilkin & Pshenichnikov 2016):
    rounded to 0.1 % it is a whole percent (:func:`integer_percentage`); the chance is that
    of a smooth numerator (:func:`integer_percentage_chance`), ≈ 0.1 for large stations
    and 1 for a denominator of 100.
    """
    return integer_percentage(numerator, denominator), integer_percentage_chance(denominator)


def shpilkin_station_excess(data: StationArrays, result: MethodResult | None) -> np.ndarray | None:
    """Each station's signed part of Shpilkin's estimate; ``None`` when Shpilkin did not run.

    Shpilkin's figure for one group of stations (a region, the pooled small regions, or the
    whole election with ``by_region=False``) is the sum, over the 1 % turnout bins from the
    group's reference turnout up, of ``L − ρ·O`` (leader's votes, others' votes, ρ the
    group's clean ratio): station by station, ``leader − ρ·others`` summed over the
    stations in those bins. Split that way, a region fitted on its own gets exactly its
    ``result.regions`` figure and a small region its own part of the pooled group's; no
    national reference is involved, so regions that differ honestly in turnout or in the
    leader's support are not read as fraud.
    """
    if result is None or not result.applicable:
        return None
    from pollwatch.forensics.shpilkin import N_BINS, NATIONAL, POOLED, ShpilkinResult

    if not isinstance(result, ShpilkinResult) or not result.regions:
        return None
    fits = {r.region: r for r in result.regions}
    n_codes = max(len(data.region_names), int(data.region.max()) + 1 if data.n else 0)
    first = np.full(n_codes, N_BINS, dtype=np.int64)  # no bin counted
    rho = np.zeros(n_codes)
    for code in range(n_codes):
        name = data.region_names[code] if code < len(data.region_names) else str(code)
        fit = fits.get(name, fits.get(POOLED)) if result.by_region else fits.get(NATIONAL)
        # ρ is undefined (no clean share) where the group's reference held no others' votes
        if fit is None or not 0.0 <= fit.reference_share < 1.0:
            continue
        first[code] = round(fit.reference_turnout * N_BINS)
        rho[code] = fit.reference_share / (1.0 - fit.reference_share)
    usable = (data.registered > 0) & (data.cast > 0) & (data.leader <= data.cast)
    turnout_bin = np.minimum(N_BINS * data.issued // np.maximum(data.registered, 1), N_BINS - 1)
    counted = usable & (turnout_bin >= first[data.region])
    others = data.cast - data.leader
    return np.where(counted, data.leader - rho[data.region] * others, 0.0)


def national_station_excess(data: StationArrays, result: MethodResult | None) -> np.ndarray | None:
    """Each station's signed part of the ``shpilkin`` recipe (one national reference).

    ``leader − ρ·others`` (others = the other candidates' votes) at the stations whose 1 %
    turnout bin lies above the national reference, ρ the national clean ratio; ``None``
    when Shpilkin did not run.
    """
    if result is None or not result.applicable:
        return None
    from pollwatch.forensics.shpilkin import N_BINS, ShpilkinResult

    if not isinstance(result, ShpilkinResult):
        return None
    recipe = next((r for r in result.recipes if r.name == "shpilkin"), None)
    if recipe is None or not 0.0 <= recipe.reference_share < 1.0:
        return None
    first = round(recipe.reference_turnout * N_BINS)
    rho = recipe.reference_share / (1.0 - recipe.reference_share)
    usable = (data.registered > 0) & (data.cast > 0) & (data.leader <= data.cast)
    turnout_bin = np.minimum(N_BINS * data.issued // np.maximum(data.registered, 1), N_BINS - 1)
    others = data.votes.sum(axis=1) - data.leader
    return np.where(usable & (turnout_bin >= first), data.leader - rho * others, 0.0)


CLEAN_CEILING = 0.9
"""A region whose own clean reference (Shpilkin's peak) sits at or above this turnout or
leader's share fails its own clean check: a whole region's typical station at 90 %+ is
what a machine reports, not what voters do (the honest regional means of the elections
studied lie between 40 % and 80 %), so its peak cannot serve as its clean reference."""
MACHINE_AT_100 = 0.05
"""A region where at least this share of stations (100+ voters) reports exactly 100 %
turnout or 100 % for the leader fails its own clean check: honest counts of that size
almost never do (a binomial count of 100+ voters reaches 100 % only at a true rate near 1)."""


def rank_regions(data: StationArrays, results: dict[str, MethodResult]) -> list[dict[str, Any]]:
    """Regions ranked by evidence: Shpilkin's anomalous votes and integer-percentage excess.

    For each region: the number of stations, turnout, the leader's share, stations with a
    whole-percentage turnout or share against the number expected by chance
    (:func:`integer_hit`), its z-score and Benjamini–Hochberg q-value, the stations at
    exactly 100 % (``at_100``), and Shpilkin's anomalous votes of the region, signed.

    Which clean reference a region is judged by is a hybrid of the two: its **own**
    (:func:`shpilkin_station_excess`; honest regional differences do not read as fraud)
    when it passes its own clean checks, the **national** one of the ``shpilkin`` recipe
    (:func:`national_station_excess`) when it does not — its integer-percentage excess is
    significant (q < 0.05), at least :data:`MACHINE_AT_100` of its stations report exactly
    100 %, or its own reference sits at :data:`CLEAN_CEILING` or above. A region falsified
    through and through (its own turnout peak at 95 %) would otherwise take its falsified
    peak for clean and read as clean.
    ``checks_failed`` names the clean checks a region failed (``round_numbers``, ``at_100``,
    ``own_peak_high``), the reasons the report gives for its place;
    ``reference`` says which was used, ``anomalous_votes_own`` and
    ``anomalous_votes_national`` give both. Sorted by the anomalous votes as a share of the
    region's leader votes, then by z; without a Shpilkin result the anomalous columns are
    ``None`` and the order is by z.
    """
    if data.n == 0:
        return []
    t_hit, t_p = integer_hit(data.issued, data.registered)
    s_hit, s_p = integer_hit(data.leader, data.cast)
    either = t_hit | s_hit
    p_either = 1 - (1 - t_p) * (1 - s_p)
    excess = shpilkin_station_excess(data, results.get("shpilkin"))
    national = national_station_excess(data, results.get("shpilkin"))
    sized = data.registered >= 100
    at_100 = sized & ((data.issued == data.registered) | (data.leader == data.cast))
    frame = pd.DataFrame(
        {
            "region": data.region,
            "n": 1,
            "registered": data.registered,
            "issued": data.issued,
            "cast": data.cast,
            "leader": data.leader,
            "obs": either.astype(float),
            "exp": p_either,
            "var": p_either * (1 - p_either),
            "excess": np.zeros(data.n) if excess is None else excess,
            "national": np.zeros(data.n) if national is None else national,
            "at_100": at_100.astype(np.int64),
            "sized": sized.astype(np.int64),
        }
    )
    g = frame.groupby("region", sort=False).sum()
    names = np.asarray(data.region_names, dtype=object)
    z = (g["obs"] - g["exp"]) / np.sqrt(g["var"].clip(lower=1e-12))
    out = pd.DataFrame(
        {
            "region": names[g.index.to_numpy()],
            "stations": g["n"].astype(int),
            "turnout": g["issued"] / g["registered"].clip(lower=1),
            "leader_share": g["leader"] / g["cast"].clip(lower=1),
            "integer_observed": g["obs"].astype(int),
            "integer_expected": g["exp"].round(1),
            "integer_z": z.round(2),
            "integer_q": bh_q_values(special.ndtr(-z.to_numpy(dtype=np.float64))),
            "at_100": g["at_100"].astype(int),
        }
    )
    _use_integer_regions(out, results.get("integer_percentages"))
    round_numbers = out["integer_q"] < FDR_LEVEL
    many_at_100 = g["at_100"] >= MACHINE_AT_100 * g["sized"].clip(lower=1)
    high_peak = _implausible_reference(out["region"], results.get("shpilkin"))
    machine = round_numbers | many_at_100 | high_peak
    checks = ("round_numbers", "at_100", "own_peak_high")
    out["checks_failed"] = [
        [code for code, failed in zip(checks, row, strict=True) if failed]
        for row in zip(round_numbers, many_at_100, high_peak, strict=True)
    ]
    if excess is None:
        out["reference"] = None
        out["anomalous_votes"] = None
        out["anomalous_votes_own"] = None
        out["anomalous_votes_national"] = None
        out["anomalous_share"] = np.nan
    else:
        use_national = machine & (national is not None)
        chosen = g["excess"].where(~use_national, g["national"])
        out["reference"] = np.where(use_national, "national", "own")
        out["anomalous_votes"] = chosen.round(0).astype(int)
        out["anomalous_votes_own"] = g["excess"].round(0).astype(int)
        out["anomalous_votes_national"] = (
            None if national is None else g["national"].round(0).astype(int)
        )
        out["anomalous_share"] = (chosen / g["leader"].clip(lower=1)).round(4)
    out["integer_q"] = out["integer_q"].astype(float).round(6)
    out["turnout"] = out["turnout"].round(4)
    out["leader_share"] = out["leader_share"].round(4)
    out = out.sort_values(["anomalous_share", "integer_z"], ascending=False)
    return [dict(r) for r in jsonable(out.to_dict(orient="records"))]


def _implausible_reference(region: pd.Series, result: MethodResult | None) -> pd.Series:
    """Whether each region's own Shpilkin reference is at :data:`CLEAN_CEILING` or above."""
    fits = {str(r.region): r for r in getattr(result, "regions", ())}
    pooled = fits.get("(regions with fewer than 100 stations, pooled)")

    def implausible(name: str) -> bool:
        fit = fits.get(name, pooled)
        return fit is not None and (
            fit.reference_turnout >= CLEAN_CEILING or fit.reference_share >= CLEAN_CEILING
        )

    return region.astype(str).map(implausible).astype(bool)


def _use_integer_regions(out: pd.DataFrame, result: MethodResult | None) -> None:
    """Take the per-region counts of the integer-percentage test (exact null) when it ran."""
    regions = getattr(result, "regions", None) if result is not None and result.applicable else None
    if not regions:
        return
    by_name = {str(getattr(r, "region", "")): r for r in regions}
    matched = [by_name.get(str(name)) for name in out["region"]]
    found = [r for r in matched if r is not None]
    if not found:
        return
    rows = np.array([r is not None for r in matched])  # one assignment per column, not per cell
    out.loc[rows, "integer_observed"] = [int(r.observed) for r in found]
    out.loc[rows, "integer_expected"] = [round(float(r.expected), 1) for r in found]
    out.loc[rows, "integer_z"] = [
        round(float(r.z), 2) if np.isfinite(r.z) else np.nan for r in found
    ]
    out.loc[rows, "integer_q"] = [float(r.q_value) for r in found]


def _identical_groups(data: StationArrays, results: dict[str, MethodResult]) -> np.ndarray:
    """Size of the group of stations (same region) with exactly the same protocol figures.

    Only stations with at least 100 ballots cast count: small stations match by chance.
    """
    frame = pd.DataFrame(data.votes, columns=[f"v{i}" for i in range(data.votes.shape[1])])
    frame["registered"] = data.registered
    frame["issued"] = data.issued
    frame["region"] = data.region
    big = data.cast >= 100
    size = np.ones(data.n, dtype=np.int64)
    if big.any():
        sub = frame.loc[big]
        codes = sub.groupby(list(sub.columns), sort=False).ngroup().to_numpy()
        size[big] = np.bincount(codes)[codes]
    return size


def rank_stations(
    data: StationArrays, results: dict[str, MethodResult], *, top: int = TOP_STATIONS
) -> list[dict[str, Any]]:
    """Stations ranked by how many signs point at them, and how strongly.

    Signs: sitting in the high-turnout/high-share corner (``corner`` = the smaller of the
    station's turnout and share percentile ranks, 0–1); a whole-percentage turnout or
    leader share, weighted by how unlikely that is by chance (−log10 of
    :func:`integer_hit`'s probability); and a protocol identical to another station's in
    the same region. ``score`` = corner + rounding surprise + 2 × (identical).
    """
    if data.n == 0:
        return []
    turnout, share = data.turnout, data.share
    t_rank = pd.Series(turnout).rank(pct=True).to_numpy()
    s_rank = pd.Series(share).rank(pct=True).to_numpy()
    corner = np.minimum(t_rank, s_rank)
    t_hit, t_p = integer_hit(data.issued, data.registered)
    s_hit, s_p = integer_hit(data.leader, data.cast)
    surprise = np.where(t_hit, -np.log10(t_p), 0.0) + np.where(s_hit, -np.log10(s_p), 0.0)
    identical = _identical_groups(data, results)
    score = corner + surprise + 2.0 * (identical > 1)
    order = np.argsort(-score, kind="stable")[:top]
    names = np.asarray(data.region_names, dtype=object)
    rows = []
    for i in order:
        rows.append(
            {
                "region": names[data.region[i]],
                "station": data.station[i],
                "registered": data.registered[i],
                "turnout": round(float(turnout[i]), 4),
                "leader_share": round(float(share[i]), 4),
                "corner": round(float(corner[i]), 4),
                "round_turnout": bool(t_hit[i]),
                "round_share": bool(s_hit[i]),
                "identical_group": int(identical[i]),
                "score": round(float(score[i]), 3),
            }
        )
    return [dict(r) for r in jsonable(rows)]
