"""Run every registered forensic method on one election and collect one report.

:func:`run_battery` builds the station arrays once, keeps out the stations no ratio can be
computed for (no registered voters, no ballots cast) and lists them, runs each method of
:mod:`pollwatch.forensics.registry` (in parallel threads when ``jobs > 1``), times them,
and ranks regions and stations by the evidence against them
(:mod:`pollwatch.forensics.rankings`: screening aids, not verdicts). Remote e-voting and
other aggregates (:attr:`ElectionResults.aggregates`) are summarised apart: they are not
polling stations and never enter station-level tests.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from pollwatch.errors import MethodNotApplicable
from pollwatch.forensics.data import StationArrays, station_arrays
from pollwatch.forensics.params import check_int, check_seed
from pollwatch.forensics.registry import Method, get_method, resolve_methods
from pollwatch.forensics.result import MethodResult, jsonable
from pollwatch.forensics.workers import submit_in_context, using_pool
from pollwatch.results.schema import EXCLUDED_COLUMNS, ElectionResults

__all__ = [
    "EXCLUDED_ROWS_SHOWN",
    "ForensicsReport",
    "NotApplicableResult",
    "Progress",
    "default_jobs",
    "import_methods_in_background",
    "run_battery",
    "summarise_aggregates",
    "usable_stations",
]

Progress = Callable[[str, int, int], None]
"""``progress(method_name, done, total)``, called after each method finishes."""

EXCLUDED_ROWS_SHOWN = 200
"""Excluded rows listed in the JSON and the report (the count is always complete)."""


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
        Rankings by evidence (:mod:`pollwatch.forensics.rankings`).
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
    """Run one method (in this or a worker thread) and time it (wall seconds)."""
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
    return NotApplicableResult.not_applicable(data.n, note, seed=seed, method_name=method.name)


_COST = ("klimek", "spikes", "integer_percentages", "shpilkin", "digits", "identical_protocols")
"""Methods from the slowest (CPU seconds on Russia 2024 at 10,000 resamples). The threads
take them in this order, so the longest never starts last and the two cores finish
together (longest-processing-time-first scheduling)."""


def _slowest_first(methods: Sequence[Method]) -> list[Method]:
    """``methods`` in :data:`_COST` order (those not listed last)."""
    return sorted(methods, key=lambda m: _COST.index(m.name) if m.name in _COST else len(_COST))


def default_jobs() -> int:
    """Worker threads by default: two where there are two cores, one on a single core.

    Threads, not processes: the methods spend their time in compiled kernels that release
    the GIL (``nogil=True``), so two threads keep two cores busy without starting worker
    processes that import pollwatch again, load the compiled kernels again and receive
    the station arrays pickled (about a second per worker on Russia 2024)."""
    return max(1, min(2, os.cpu_count() or 1))


def import_methods_in_background(methods: Sequence[str] | None = None) -> threading.Thread:
    """Start importing the modules :func:`run_battery` will need, in a daemon thread.

    The method modules (with numba and scipy) take about a second of CPU to import, and
    the battery imports each in the thread that runs it, while the other thread waits
    for the GIL; a command that starts this before it reads the file imports them while
    the file is read, which mostly runs outside the GIL (Arrow's CSV reader, zlib), so
    on two cores the two overlap. They are imported slowest method first: the battery
    starts that one first, and the rest finish importing while it runs. The battery
    need not wait for this thread (a module being imported here is waited for by
    Python's import lock); a command that stops before the battery should ``join()`` it.
    An import that fails is left to the battery, which reports or raises it as always.
    """
    chosen = _slowest_first(resolve_methods(methods))
    modules = [f"pollwatch.forensics.{m.module}" for m in chosen]
    modules += ["pollwatch.forensics.rankings", "pollwatch.forensics.report.summary"]

    def run() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # the battery imports it again and reports the failure
                continue

    thread = threading.Thread(target=run, name="forensics-imports", daemon=True)
    thread.start()
    return thread


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
        Worker threads; ``1`` runs the methods one after another in this thread, ``0``
        as many as :func:`default_jobs`. The answer does not depend on it: every method
        draws from its own generator seeded by ``seed``.
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
    jobs = check_int("run_battery", "jobs", jobs, low=0) or default_jobs()
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
        slowest_first = _slowest_first(chosen)
        with (
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="forensics") as pool,
            using_pool(pool),
        ):
            futures: list[Future[tuple[str, MethodResult, float]]] = [
                submit_in_context(pool, partial(_run_one, m.name, data, seed, resamples))
                for m in slowest_first
            ]
            for fut in as_completed(futures):
                name, res, secs = fut.result()
                done[name] = (res, secs)
                if progress is not None:
                    progress(name, len(done), total)

    ordered = {m.name: done[m.name][0] for m in chosen}
    timings = {m.name: round(done[m.name][1], 4) for m in chosen}
    from pollwatch.forensics.rankings import rank_regions, rank_stations  # after the methods

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
