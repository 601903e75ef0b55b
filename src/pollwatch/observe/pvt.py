"""Quick count (parallel vote tabulation): a stratified random sample of stations and its estimate.

Observers copy the final protocol of a random sample of stations; from those protocols alone
the vote shares and the turnout of the whole election are estimated, with margins of error,
and the official figures are checked against them. This is the method of NDI's quick counts
(Estok, Nevitte & Cowan 2002) and of Golos' and other citizen observers' PVTs.

Sampling (:func:`draw_stratified_sample`)
    Stations are divided into strata (region, urban/rural, abroad …); each stratum ``h`` of
    ``N_h`` stations gets ``n_h`` sampled stations in proportion to its size, at least one,
    with the rounding done by largest remainder so that ``Σ n_h`` is exactly the requested
    size; within a stratum stations are drawn by simple random sampling without replacement.
    The same table and seed always give the same sample.

Estimation (:func:`stratified_ratio_estimate`)
    A share is a ratio of totals, ``R = Y / X`` (votes for a candidate over valid ballots;
    ballots issued over registered voters). The combined stratified ratio estimator is

        R̂ = Ŷ / X̂,   Ŷ = Σ_h N_h ȳ_h,   X̂ = Σ_h N_h x̄_h,

    with the linearised (Taylor) variance

        V̂(R̂) = (1 / X̂²) Σ_h N_h² (1 − n_h / N_h) s²_{e,h} / n_h,
        e_i = y_i − R̂ x_i,   s²_{e,h} = Σ_{i∈h} (e_i − ē_h)² / (n_h − 1),

    where ``1 − n_h / N_h`` is the finite population correction (a stratum sampled
    completely contributes no variance). A stratum with a single reported station has no
    within-stratum variance estimate; the pooled residual variance of the other strata is
    used for it (a standard stand-in for collapsing strata). Margins are ``z · √V̂`` with
    ``z`` = 1.960 (95%) and 2.576 (99%), the normal approximation that quick counts use;
    it needs a few dozen stations per estimate to be trustworthy.

References
----------
Cochran, *Sampling Techniques*, 3rd ed. (1977), §5A.5 (proportional allocation), §6.11–6.12
(combined ratio estimate and its variance); Särndal, Swensson & Wretman, *Model Assisted
Survey Sampling* (1992), §5.6–5.7 (Taylor linearisation); Estok, Nevitte & Cowan, *The Quick
Count and Election Observation*, NDI (2002), ch. 5.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from pollwatch.errors import InputError

__all__ = [
    "PVTEstimate",
    "PVTResult",
    "StratumSummary",
    "allocate_proportional",
    "draw_stratified_sample",
    "stratified_ratio_estimate",
]

Z95 = float(stats.norm.ppf(0.975))
Z99 = float(stats.norm.ppf(0.995))


def allocate_proportional(sizes: dict[Any, int], size: int) -> dict[Any, int]:
    """Split ``size`` sampled stations among strata in proportion to their sizes.

    Every stratum gets at least one station and at most all of its stations; the totals are
    made exact by the largest-remainder method (ties broken by stratum order), so the
    allocation is deterministic.

    Raises
    ------
    InputError
        If ``size`` is smaller than the number of strata or larger than the population.
    """
    total = sum(sizes.values())
    if size < len(sizes):
        raise InputError(
            f"a sample of {size} cannot give each of the {len(sizes)} strata a station; "
            "ask for a larger sample or use fewer strata",
            column="size",
        )
    if size > total:
        raise InputError(f"a sample of {size} is larger than the {total} stations", column="size")
    keys = list(sizes)
    ideal = {k: size * sizes[k] / total for k in keys}
    alloc = {k: min(sizes[k], max(1, int(ideal[k]))) for k in keys}
    while sum(alloc.values()) < size:
        room = [k for k in keys if alloc[k] < sizes[k]]
        best = max(room, key=lambda k: (ideal[k] - alloc[k], -keys.index(k)))
        alloc[best] += 1
    while sum(alloc.values()) > size:
        spare = [k for k in keys if alloc[k] > 1]
        worst = min(spare, key=lambda k: (ideal[k] - alloc[k], keys.index(k)))
        alloc[worst] -= 1
    return alloc


def _check_column(frame: pd.DataFrame, column: str, what: str) -> None:
    if column not in frame.columns:
        raise InputError(
            f"the {what} has no column {column!r}; "
            f"columns are: {', '.join(map(str, frame.columns))}",
            column=column,
        )
    if frame[column].isna().any():
        first = int(np.flatnonzero(frame[column].isna().to_numpy())[0])
        raise InputError(
            f"the {what} has an empty {column!r} (row {first + 1} of the table)", column=column
        )


def draw_stratified_sample(
    stations: pd.DataFrame, *, size: int, strata: str, seed: int, id_column: str = "station"
) -> pd.DataFrame:
    """Draw a reproducible stratified random sample of stations, proportional allocation.

    Parameters
    ----------
    stations:
        The station registry or official results table, one row per station.
    size:
        Number of stations to sample (at least one per stratum).
    strata:
        The column that defines the strata (e.g. ``"region"``).
    seed:
        Seed of ``numpy.random.default_rng``; the same table and seed give the same sample.
    id_column:
        The station identifier; rows are ordered by it before drawing, so the sample does not
        depend on the table's row order. When absent the row order is used.

    Returns
    -------
    pandas.DataFrame
        The sampled rows (all columns), sorted by stratum and station, with the added columns
        ``stratum_size`` (``N_h``), ``stratum_sample`` (``n_h``) and ``weight`` (``N_h/n_h``).
    """
    if isinstance(size, bool) or not isinstance(size, int | np.integer):
        raise InputError(f"'size' must be an integer; got {size!r}", column="size")
    _check_column(stations, strata, "station table")
    frame = stations.reset_index(drop=True)
    keys = frame[strata].astype(str).to_numpy()
    if id_column in frame.columns:
        ids = frame[id_column].astype(str)
        if ids.duplicated().any():
            raise InputError(
                f"station {ids[ids.duplicated()].iloc[0]!r} appears twice", column=id_column
            )
        order = np.lexsort((ids.to_numpy(), keys))
    else:
        order = np.argsort(keys, kind="stable")
    labels, codes = np.unique(keys[order], return_inverse=True)
    sizes = np.bincount(codes, minlength=len(labels))
    alloc = allocate_proportional(
        {str(label): int(n) for label, n in zip(labels, sizes, strict=True)}, int(size)
    )
    rng = np.random.default_rng(seed)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    chosen = [
        start + np.sort(rng.choice(n, size=alloc[str(label)], replace=False))
        for label, start, n in zip(labels, starts, sizes, strict=True)
    ]
    positions = np.concatenate(chosen)
    sample = frame.iloc[order[positions]].reset_index(drop=True)
    big_n = sizes[codes[positions]]
    small_n = np.array([alloc[str(labels[c])] for c in codes[positions]])
    result: pd.DataFrame = sample.assign(
        stratum_size=big_n, stratum_sample=small_n, weight=big_n / small_n
    )
    return result


@dataclass(frozen=True)
class StratumSummary:
    """One stratum: stations in it, protocols reported from it."""

    stratum: str
    population: int
    reported: int


@dataclass(frozen=True)
class PVTEstimate:
    """One estimated ratio (a candidate's share, or turnout) with margins and the official one.

    ``inside95``/``inside99`` say whether the official figure lies in the interval (None
    when no official figure is known).
    """

    name: str
    estimate: float
    se: float
    margin95: float
    margin99: float
    official: float | None
    inside95: bool | None
    inside99: bool | None

    @property
    def low95(self) -> float:
        return self.estimate - self.margin95

    @property
    def high95(self) -> float:
        return self.estimate + self.margin95

    @property
    def low99(self) -> float:
        return self.estimate - self.margin99

    @property
    def high99(self) -> float:
        return self.estimate + self.margin99

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data, with the interval ends."""
        return {
            "name": self.name,
            "estimate": self.estimate,
            "se": self.se,
            "margin95": self.margin95,
            "margin99": self.margin99,
            "low95": self.low95,
            "high95": self.high95,
            "low99": self.low99,
            "high99": self.high99,
            "official": self.official,
            "inside95": self.inside95,
            "inside99": self.inside99,
        }


@dataclass(frozen=True)
class PVTResult:
    """A quick count: shares and turnout estimated from sampled protocols.

    Attributes
    ----------
    shares:
        One estimate per candidate: votes over the ``denominator`` ballots.
    turnout:
        Ballots issued (or cast, when issued is not in the protocols) over registered voters;
        None when the protocols lack ``registered``.
    strata:
        Population and reported protocols per stratum.
    complete:
        False when some stratum has no reported protocol yet; the estimate then describes only
        the strata with protocols (see ``notes``).
    """

    shares: tuple[PVTEstimate, ...]
    turnout: PVTEstimate | None
    denominator: str
    n_population: int
    n_reported: int
    strata: tuple[StratumSummary, ...]
    complete: bool
    notes: tuple[str, ...] = ()

    @property
    def all_official_inside95(self) -> bool | None:
        """Whether every official figure lies in its 95% interval (None without officials)."""
        flags = [e.inside95 for e in (*self.shares, self.turnout) if e is not None]
        if not flags or any(f is None for f in flags):
            return None
        return all(flags)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "shares": [e.to_dict() for e in self.shares],
            "turnout": None if self.turnout is None else self.turnout.to_dict(),
            "denominator": self.denominator,
            "n_population": self.n_population,
            "n_reported": self.n_reported,
            "strata": [
                {"stratum": s.stratum, "population": s.population, "reported": s.reported}
                for s in self.strata
            ],
            "complete": self.complete,
            "notes": list(self.notes),
        }


def _ratio(
    y: np.ndarray, x: np.ndarray, codes: np.ndarray, big_n: np.ndarray
) -> tuple[float, float]:
    """Combined stratified ratio estimate and its linearised standard error."""
    n_strata = len(big_n)
    n = np.bincount(codes, minlength=n_strata).astype(float)
    y_bar = np.bincount(codes, weights=y, minlength=n_strata) / n
    x_bar = np.bincount(codes, weights=x, minlength=n_strata) / n
    x_hat = float(np.sum(big_n * x_bar))
    if x_hat <= 0:
        return float("nan"), float("nan")
    r = float(np.sum(big_n * y_bar)) / x_hat
    e = y - r * x
    e_bar = np.bincount(codes, weights=e, minlength=n_strata) / n
    ss = np.bincount(codes, weights=(e - e_bar[codes]) ** 2, minlength=n_strata)
    s2 = np.divide(ss, n - 1, out=np.zeros(n_strata), where=n > 1)
    single = n == 1
    if single.any():
        pooled_df = float(np.sum(n[~single] - 1))
        pooled = float(np.sum(ss[~single])) / pooled_df if pooled_df > 0 else 0.0
        s2[single] = pooled
    fpc = 1.0 - n / big_n
    variance = float(np.sum(big_n**2 * fpc * s2 / n)) / x_hat**2
    return r, float(np.sqrt(max(variance, 0.0)))


def _numeric(frame: pd.DataFrame, column: str, what: str) -> np.ndarray:
    _check_column(frame, column, what)
    values = pd.to_numeric(frame[column], errors="coerce")
    if values.isna().any() or (values < 0).any():
        bad = frame.loc[values.isna() | (values < 0), column].iloc[0]
        raise InputError(
            f"the {what} has a value in {column!r} that is not a count ≥ 0: {bad!r}",
            column=column,
        )
    return values.to_numpy(dtype=float)


def _issued(frame: pd.DataFrame, what: str) -> tuple[np.ndarray, str] | None:
    issued = ("issued_early", "issued_premises", "issued_outside")
    if all(c in frame.columns for c in issued):
        early, premises, outside = (_numeric(frame, c, what) for c in issued)
        return early + premises + outside, "issued"
    if "valid" in frame.columns and "invalid" in frame.columns:
        return _numeric(frame, "valid", what) + _numeric(frame, "invalid", what), "cast"
    return None


def _estimate(name: str, r: float, se: float, official: float | None) -> PVTEstimate:
    m95, m99 = Z95 * se, Z99 * se
    inside95 = None if official is None else bool(abs(official - r) <= m95)
    inside99 = None if official is None else bool(abs(official - r) <= m99)
    return PVTEstimate(name, r, se, m95, m99, official, inside95, inside99)


def stratified_ratio_estimate(
    sample_protocols: pd.DataFrame,
    population: pd.DataFrame,
    *,
    strata: str,
    candidates: Sequence[str],
    denominator: Literal["valid", "cast"] = "valid",
    id_column: str = "station",
) -> PVTResult:
    """Estimate vote shares and turnout from the protocols of sampled stations.

    Parameters
    ----------
    sample_protocols:
        One row per sampled station whose protocol was reported: ``station``, ``valid`` (and
        ``invalid`` for ``denominator="cast"``), one column per candidate, and for turnout
        ``registered`` with the issued lines (or ``valid``/``invalid``).
    population:
        Every station of the election with ``station`` and the ``strata`` column (the table
        the sample was drawn from). When it also holds the official figures (the official
        results table), the official shares and turnout are computed from it and checked
        against the intervals.
    strata:
        The stratum column of ``population``.
    candidates:
        The candidates (columns) whose shares are estimated.
    denominator:
        ``"valid"``: share of valid ballots; ``"cast"``: of valid plus invalid ballots (the
        percentage Russia's CEC publishes).

    Returns
    -------
    PVTResult
        Shares and turnout with 95% and 99% margins and the official figures' positions.
    """
    if denominator not in ("valid", "cast"):
        raise InputError(
            f"'denominator' must be 'valid' or 'cast'; got {denominator!r}", column="denominator"
        )
    if not candidates:
        raise InputError("name at least one candidate", column="candidates")
    _check_column(population, id_column, "population table")
    _check_column(population, strata, "population table")
    _check_column(sample_protocols, id_column, "sample")
    pop_ids = population[id_column].astype(str)
    if pop_ids.duplicated().any():
        raise InputError(
            f"station {pop_ids[pop_ids.duplicated()].iloc[0]!r} appears twice in the population",
            column=id_column,
        )
    sample_ids = sample_protocols[id_column].astype(str)
    if sample_ids.duplicated().any():
        raise InputError(
            f"station {sample_ids[sample_ids.duplicated()].iloc[0]!r} has two protocols in the "
            "sample; merge the reports first",
            column=id_column,
        )
    stratum_of = dict(zip(pop_ids, population[strata].astype(str), strict=True))
    unknown = [s for s in sample_ids if s not in stratum_of]
    if unknown:
        raise InputError(
            f"sampled station {unknown[0]!r} is not in the population", column=id_column
        )
    if sample_protocols.empty:
        raise InputError("no protocols in the sample yet", column="sample_protocols")

    pop_sizes = population[strata].astype(str).value_counts().sort_index()
    sample_strata = np.array([stratum_of[s] for s in sample_ids])
    reported = pd.Series(sample_strata).value_counts()
    summaries = tuple(
        StratumSummary(str(h), int(pop_sizes[h]), int(reported.get(h, 0))) for h in pop_sizes.index
    )
    covered = [h for h in pop_sizes.index if reported.get(h, 0) > 0]
    notes: list[str] = []
    complete = len(covered) == len(pop_sizes)
    if not complete:
        missing = [h for h in pop_sizes.index if reported.get(h, 0) == 0]
        notes.append(
            f"no protocol yet from {len(missing)} stratum/strata ({', '.join(missing[:5])}"
            f"{'…' if len(missing) > 5 else ''}); the estimate covers only the other strata"
        )
    index = {h: i for i, h in enumerate(covered)}
    codes = np.array([index[h] for h in sample_strata], dtype=np.intp)
    big_n = np.array([pop_sizes[h] for h in covered], dtype=float)
    if np.any(np.bincount(codes, minlength=len(covered)) == 1):
        notes.append(
            "some strata have a single protocol; their variance is the pooled variance of "
            "the other strata"
        )

    what = "sample"
    x_share = _numeric(sample_protocols, "valid", what)
    if denominator == "cast":
        x_share = x_share + _numeric(sample_protocols, "invalid", what)

    def official_share(candidate: str) -> float | None:
        needed = [candidate, "valid"] + (["invalid"] if denominator == "cast" else [])
        if not all(c in population.columns for c in needed):
            return None
        base = _numeric(population, "valid", "population table")
        if denominator == "cast":
            base = base + _numeric(population, "invalid", "population table")
        total = base.sum()
        return (
            float(_numeric(population, candidate, "population table").sum() / total)
            if total
            else None
        )

    shares = []
    for candidate in candidates:
        y = _numeric(sample_protocols, candidate, what)
        r, se = _ratio(y, x_share, codes, big_n)
        shares.append(
            _estimate(str(candidate), r, se, official_share(candidate) if complete else None)
        )

    turnout: PVTEstimate | None = None
    issued = _issued(sample_protocols, what)
    if "registered" in sample_protocols.columns and issued is not None:
        y_turnout, kind = issued
        r, se = _ratio(y_turnout, _numeric(sample_protocols, "registered", what), codes, big_n)
        official: float | None = None
        pop_issued = _issued(population, "population table")
        if (
            complete
            and pop_issued is not None
            and pop_issued[1] == kind
            and "registered" in population
        ):
            registered = _numeric(population, "registered", "population table").sum()
            official = float(pop_issued[0].sum() / registered) if registered else None
        turnout = _estimate(f"turnout ({kind})", r, se, official)
    else:
        notes.append("no turnout: the protocols lack 'registered' or the ballots issued")
    return PVTResult(
        shares=tuple(shares),
        turnout=turnout,
        denominator=denominator,
        n_population=len(population),
        n_reported=len(sample_protocols),
        strata=summaries,
        complete=complete,
        notes=tuple(notes),
    )
