"""Run every registered forensic method on one election and collect one report.

:func:`run_battery` builds the station arrays once, keeps out the stations no ratio can be
computed for (no registered voters, no ballots cast) and lists them, runs each method of
:mod:`pollwatch.forensics.registry` (in parallel processes when ``jobs > 1``), times them,
and ranks regions and stations by the evidence against them. Remote e-voting and other
aggregates (:attr:`ElectionResults.aggregates`) are summarised apart: they are not
polling stations and never enter station-level tests.

The rankings are screening aids, not verdicts: a region or station high on the list is a
place to look at (observers' reports, video, the protocol itself), not proof of fraud.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pollwatch.errors import MethodNotApplicable
from pollwatch.forensics.data import StationArrays, station_arrays
from pollwatch.forensics.params import check_int, check_seed
from pollwatch.forensics.registry import Method, get_method, resolve_methods
from pollwatch.forensics.result import MethodResult, jsonable
from pollwatch.results.schema import EXCLUDED_COLUMNS, ElectionResults

__all__ = [
    "EXCLUDED_ROWS_SHOWN",
    "ForensicsReport",
    "NotApplicableResult",
    "Progress",
    "integer_hit",
    "rank_regions",
    "rank_stations",
    "run_battery",
    "shpilkin_station_excess",
    "summarise_aggregates",
    "usable_stations",
]

Progress = Callable[[str, int, int], None]
"""``progress(method_name, done, total)``, called after each method finishes."""

EXCLUDED_ROWS_SHOWN = 200
"""Excluded rows listed in the JSON and the report (the count is always complete)."""

TOP_STATIONS = 200
"""Stations kept in the station ranking."""


@dataclass(frozen=True, eq=False)
class ForensicsReport:
    """The battery's answer for one election.

    Attributes
    ----------
    election:
        :meth:`ElectionResults.summary` (name, source, counts, candidates).
    leader:
        The candidate tested as the beneficiary of fraud.
    stations_total:
        Rows in the source file (loaded + excluded).
    stations_used:
        Stations the methods ran on.
    excluded:
        Every row kept out, by the loader or by the battery, with file, row, region,
        station, column and reason.
    results:
        One :class:`MethodResult` per method, in registry order.
    timings:
        Seconds of run time per method.
    regions, stations:
        Rankings by evidence (see :func:`rank_regions`, :func:`rank_stations`).
    aggregates:
        Summary of the results that are not polling stations (e.g. remote e-voting), or
        ``None``.
    arrays:
        The station arrays the methods saw (for plots; not in JSON).
    """

    election: dict[str, Any]
    leader: str
    stations_total: int
    stations_used: int
    excluded: pd.DataFrame
    results: dict[str, MethodResult]
    timings: dict[str, float]
    regions: list[dict[str, Any]]
    stations: list[dict[str, Any]]
    aggregates: dict[str, Any] | None
    resamples: int
    seed: int | None
    wall_seconds: float
    arrays: StationArrays = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report; the keys are documented in ``docs/forensics.md``."""
        shown = self.excluded.head(EXCLUDED_ROWS_SHOWN)
        data: dict[str, Any] = {
            "election": self.election,
            "leader": self.leader,
            "stations_total": self.stations_total,
            "stations_used": self.stations_used,
            "stations_abroad": self.election.get("stations_abroad", 0),
            "resamples": self.resamples,
            "seed": self.seed,
            "excluded": {
                "count": len(self.excluded),
                "by_reason": {
                    str(k): int(v)
                    for k, v in self.excluded["reason"].value_counts(sort=True).items()
                },
                "rows_shown": len(shown),
                "rows": shown.to_dict(orient="records"),
            },
            "methods": list(self.results),
            "rankings": {"regions": self.regions, "stations": self.stations},
            "aggregates": self.aggregates,
            "timings": self.timings,
            "wall_seconds": self.wall_seconds,
        }
        for name, result in self.results.items():
            data[name] = _with_documented_keys(result.to_dict())
        return jsonable(data)  # type: ignore[no-any-return]


def _with_documented_keys(data: dict[str, Any]) -> dict[str, Any]:
    """Add the documented summary keys a method result spells differently.

    ``klimek.interval`` gathers ``f_i_interval`` and ``f_e_interval`` (docs/forensics.md).
    """
    if "interval" not in data and "f_i_interval" in data and "f_e_interval" in data:
        data["interval"] = {"f_i": data["f_i_interval"], "f_e": data["f_e_interval"]}
    return data


def _run_one(
    name: str, data: StationArrays, seed: int | None, resamples: int
) -> tuple[str, MethodResult, float]:
    """Run one method (in this or a worker process) and time it."""
    method = get_method(name)
    start = time.perf_counter()
    try:
        result = method.run(data, seed=seed, resamples=resamples)
    except MethodNotApplicable as exc:
        result = _not_applicable(method, data, seed, str(exc))
    except ModuleNotFoundError as exc:
        if exc.name != f"pollwatch.forensics.{method.module}":
            raise
        result = _not_applicable(method, data, seed, "not available in this installation")
    return name, result, time.perf_counter() - start


@dataclass(frozen=True)
class NotApplicableResult(MethodResult):
    """Stand-in for a method that raised :class:`MethodNotApplicable` instead of returning."""

    method_name: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["method"] = data.pop("method_name")
        data["reference"] = get_method(self.method_name).reference
        return data


def _not_applicable(
    method: Method, data: StationArrays, seed: int | None, note: str
) -> MethodResult:
    return NotApplicableResult(
        n_stations=data.n, applicable=False, note=note, seed=seed, method_name=method.name
    )


def usable_stations(data: StationArrays) -> np.ndarray:
    """Stations a turnout and a share can be computed for (registered > 0 and cast > 0)."""
    return np.asarray((data.registered > 0) & (data.cast > 0))


def _battery_exclusions(
    results: ElectionResults, data: StationArrays, keep: np.ndarray
) -> pd.DataFrame:
    st = results.stations
    drop = ~keep
    if not drop.any():
        return pd.DataFrame(columns=list(EXCLUDED_COLUMNS))
    reason = np.where(
        data.registered[drop] == 0,
        "no registered voters",
        "no ballots cast: turnout and share undefined",
    )
    rows = st["source_row"].to_numpy()[drop] if "source_row" in st else np.zeros(drop.sum(), int)
    return pd.DataFrame(
        {
            "file": results.source,
            "row": rows,
            "region": st["region"].to_numpy()[drop],
            "station": st["station"].astype(str).to_numpy()[drop],
            "column": "",
            "reason": reason,
        },
        columns=list(EXCLUDED_COLUMNS),
    )


def run_battery(
    results: ElectionResults,
    *,
    leader: str | None = None,
    resamples: int = 10_000,
    seed: int | None = 0,
    jobs: int = 1,
    methods: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> ForensicsReport:
    """Run the forensic methods on one election's official results.

    Parameters
    ----------
    results:
        Validated results (:func:`pollwatch.results.load_results`).
    leader:
        Candidate tested as the fraud's beneficiary (default: the one with most votes).
    resamples:
        Monte Carlo / bootstrap resamples for the methods that take them.
    seed:
        Seed for every random method, so a run can be repeated exactly.
    jobs:
        Worker processes; ``1`` runs the methods one after another in this process.
    methods:
        Names of the methods to run (default: every registered method).
    progress:
        Called as ``progress(name, done, total)`` after each method.

    Returns
    -------
    ForensicsReport
        Results, rankings, exclusions and timings.
    """
    resamples = check_int("run_battery", "resamples", resamples)
    jobs = check_int("run_battery", "jobs", jobs)
    seed = check_seed("run_battery", seed)
    chosen = resolve_methods(methods)
    wall = time.perf_counter()
    full = station_arrays(results, leader)
    keep = usable_stations(full)
    data = full if keep.all() else full.subset(keep)
    excluded = pd.concat(
        [df for df in (results.excluded, _battery_exclusions(results, full, keep)) if len(df)]
        or [results.excluded],
        ignore_index=True,
    )

    done: dict[str, tuple[MethodResult, float]] = {}
    total = len(chosen)
    if jobs == 1 or total <= 1:
        for m in chosen:
            name, res, secs = _run_one(m.name, data, seed, resamples)
            done[name] = (res, secs)
            if progress is not None:
                progress(name, len(done), total)
    else:
        workers = min(jobs, total, os.cpu_count() or 1) or 1
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures: list[Future[tuple[str, MethodResult, float]]] = [
                pool.submit(_run_one, m.name, data, seed, resamples) for m in chosen
            ]
            for fut in as_completed(futures):
                name, res, secs = fut.result()
                done[name] = (res, secs)
                if progress is not None:
                    progress(name, len(done), total)

    ordered = {m.name: done[m.name][0] for m in chosen}
    timings = {m.name: round(done[m.name][1], 4) for m in chosen}
    regions = rank_regions(data, ordered)
    stations = rank_stations(data, ordered)
    summary = results.summary()
    return ForensicsReport(
        election=summary,
        leader=data.leader_name,
        stations_total=int(summary["stations_total"]),
        stations_used=data.n,
        excluded=excluded,
        results=ordered,
        timings=timings,
        regions=regions,
        stations=stations,
        aggregates=summarise_aggregates(results, data.leader_name),
        resamples=resamples,
        seed=seed,
        wall_seconds=round(time.perf_counter() - wall, 3),
        arrays=data,
    )


# --- rankings -------------------------------------------------------------------------------


def integer_hit(numerator: np.ndarray, denominator: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whether ``numerator/denominator`` reads as a whole percentage, and the chance of it.

    As in Kobak, Shpilkin & Pshenichnikov (2016), a percentage counts as whole when it lies
    in the 0.1-point-wide bin centred on an integer (|100·n/d − k| < 0.05). With
    g = gcd(d, 100), the fractional part of 100·n/d is r/d with r a multiple of g, each of
    the d/g residues equally likely for a smooth distribution of n; the chance is the
    share of residues in the window, ≈ 0.1 for large stations and 1 for d = 100.
    """
    d = np.maximum(np.asarray(denominator, dtype=np.int64), 1)
    r = (100 * np.asarray(numerator, dtype=np.int64)) % d
    hit = (np.asarray(denominator) > 0) & ((20 * r < d) | (20 * r > 19 * d))
    g = np.gcd(d, 100)
    m = d // g
    low = (d + 20 * g - 1) // (20 * g)
    high = np.maximum(0, (m - 1) - (19 * d) // (20 * g))
    chance = np.minimum((low + high) / m, 1.0)
    return hit, chance


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


def rank_regions(data: StationArrays, results: dict[str, MethodResult]) -> list[dict[str, Any]]:
    """Regions ranked by evidence: Shpilkin's anomalous votes and integer-percentage excess.

    For each region: the number of stations, turnout, the leader's share, stations with a
    whole-percentage turnout or share against the number expected by chance
    (:func:`integer_hit`) and its z-score, and Shpilkin's anomalous votes of the region
    (:func:`shpilkin_station_excess`: the region's own clean reference, or its part of the
    pooled small regions'; signed, so a region where the leader falls short of its clean
    curve reads negative). Sorted by the anomalous votes as a share of the region's leader
    votes, then by z; without a Shpilkin result the anomalous columns are ``None`` and the
    order is by z.
    """
    if data.n == 0:
        return []
    t_hit, t_p = integer_hit(data.issued, data.registered)
    s_hit, s_p = integer_hit(data.leader, data.cast)
    either = t_hit | s_hit
    p_either = 1 - (1 - t_p) * (1 - s_p)
    excess = shpilkin_station_excess(data, results.get("shpilkin"))
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
        }
    )
    if excess is None:
        out["anomalous_votes"] = None
        out["anomalous_share"] = np.nan
    else:
        out["anomalous_votes"] = g["excess"].round(0).astype(int)
        out["anomalous_share"] = (g["excess"] / g["leader"].clip(lower=1)).round(4)
    _use_integer_regions(out, results.get("integer_percentages"))
    out["turnout"] = out["turnout"].round(4)
    out["leader_share"] = out["leader_share"].round(4)
    out = out.sort_values(["anomalous_share", "integer_z"], ascending=False)
    return [dict(r) for r in jsonable(out.to_dict(orient="records"))]


def _use_integer_regions(out: pd.DataFrame, result: MethodResult | None) -> None:
    """Take the per-region counts of the integer-percentage test (exact null) when it ran."""
    regions = getattr(result, "regions", None) if result is not None and result.applicable else None
    if not regions:
        return
    by_name = {str(getattr(r, "region", "")): r for r in regions}
    for idx, name in out["region"].items():
        r = by_name.get(str(name))
        if r is not None:
            out.loc[idx, "integer_observed"] = int(r.observed)
            out.loc[idx, "integer_expected"] = round(float(r.expected), 1)
            out.loc[idx, "integer_z"] = round(float(r.z), 2) if np.isfinite(r.z) else np.nan


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


def summarise_aggregates(results: ElectionResults, leader: str) -> dict[str, Any] | None:
    """Totals of the non-station results (e.g. remote e-voting by region), reported apart."""
    agg = results.aggregates
    if agg is None or len(agg) == 0:
        return None
    numeric = {}
    for col in agg.columns:
        values = pd.to_numeric(
            agg[col].astype(str).str.replace(r"\s", "", regex=True), errors="coerce"
        )
        if values.notna().all():
            numeric[str(col)] = int(values.sum())
    out: dict[str, Any] = {"rows": len(agg), "totals": numeric}
    if leader in numeric:
        votes = sum(numeric.get(c, 0) for c in results.candidates)
        out["leader_votes"] = numeric[leader]
        out["leader_share"] = round(numeric[leader] / votes, 4) if votes else None
    return out
