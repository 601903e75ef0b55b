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
    completely contributes no variance), and the same formula with products of two ratios'
    residuals gives their covariance. A stratum with a single protocol has no variance
    estimate of its own: it is collapsed with its neighbour (:func:`collapse_strata`).
    Intervals are Student-t intervals on the logit scale (:func:`logit_interval`) with
    Satterthwaite's effective degrees of freedom (allowing for skewed, heavy-tailed residuals),
    at most ``protocols − variance strata``,
    so a thin sample (or one stratum carrying most of the variance) says so in a wider
    interval.

When there is no estimate (:class:`PVTPending`)
    Below :data:`MIN_PROTOCOLS` protocols, or below :data:`MIN_RESPONSE` of the sampled
    stations overall or in any stratum, the answer is "not enough protocols yet" with the
    response per stratum: a typed result, not an error.

Missing protocols (:data:`MISSING_AT_RANDOM`)
    The estimate assumes missing protocols are missing at random within their stratum. Two
    things say how far to trust that: bounds that give every missing protocol's votes to,
    and then none to, each candidate; and, when official results are attached, the official
    figures of the sampled stations that reported against those that did not
    (:class:`NonResponseCheck`).

The official figures (:class:`JointTest`)
    One joint test of all official shares and turnout against the estimate (Holm's
    correction of the rows' t-tests), worded "larger than sampling error explains (p = …)".
    Per-row "inside the interval" flags are kept for the table only: with five rows at
    least one falls outside 95 % intervals by chance in about a fifth of honest elections.

References
----------
Cochran, *Sampling Techniques*, 3rd ed. (1977), §5A.5 (proportional allocation), §6.11–6.12
(combined ratio estimate and its variance); Särndal, Swensson & Wretman, *Model Assisted
Survey Sampling* (1992), §5.6–5.7 (Taylor linearisation); Wolter, *Introduction to Variance
Estimation*, 2nd ed. (2007), §2.5 (collapsed strata); Satterthwaite, "An approximate
distribution of estimates of variance components", Biometrics Bulletin 2 (1946) (effective
degrees of freedom); Korn & Graubard, "Confidence intervals for proportions with small
expected number of positive counts estimated from survey data", Survey Methodology 24 (1998)
(logit intervals); Holm, "A simple sequentially rejective multiple test procedure", Scand. J.
Statist. 6 (1979); Manski, *Partial Identification of Probability Distributions* (2003),
ch. 1 (worst-case bounds under non-response); Estok, Nevitte & Cowan, *The Quick Count and
Election Observation*, NDI (2002), ch. 5.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from pollwatch.errors import InputError

__all__ = [
    "MIN_PROTOCOLS",
    "MIN_RESPONSE",
    "MISSING_AT_RANDOM",
    "JointTest",
    "NonResponseCheck",
    "NonResponseRow",
    "PVTEstimate",
    "PVTPending",
    "PVTResult",
    "StratumSummary",
    "allocate_proportional",
    "collapse_strata",
    "draw_stratified_sample",
    "format_p",
    "logit_interval",
    "stratified_ratio_estimate",
]


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


MIN_PROTOCOLS = 20
"""Fewest usable protocols before the quick count says anything.

Below about twenty protocols the ratio's linearised variance is itself so uncertain that a
margin computed from it is quoted as if it meant something it does not (in the simulation
grid of ``bench/observe_stats.py`` small candidates' 95 % intervals then cover the truth
well under 90 % of the time). A PVT sample is drawn to be several hundred stations; twenty
is a floor for the first minutes of the night, not a design size.
"""

MIN_RESPONSE = 0.5
"""Fewest protocols as a share of the stations sampled, overall and in every stratum.

Below half, what the estimate says rests more on the assumption that the missing protocols
are like the reported ones than on the sample itself; a stratum with no protocol at all
cannot be estimated and is never silently left out.
"""

MISSING_AT_RANDOM = (
    "Sampled stations whose protocol has not arrived are assumed to be missing at random "
    "within their stratum: like the reported stations of the same stratum. If observers were "
    "kept out where one candidate is strongest, the estimate is biased towards the others; "
    "the bounds beside each estimate give every missing protocol to, and then none to, that "
    "candidate, and when official results are attached the official figures of the sampled "
    "stations that reported are compared with those of the sampled stations that did not."
)


@dataclass(frozen=True)
class StratumSummary:
    """One stratum: stations in it, stations sampled, protocols reported from them."""

    stratum: str
    population: int
    sampled: int
    reported: int

    @property
    def response(self) -> float | None:
        """Reported protocols as a share of the stations sampled (None if none sampled)."""
        return self.reported / self.sampled if self.sampled else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "stratum": self.stratum,
            "population": self.population,
            "sampled": self.sampled,
            "reported": self.reported,
            "response": self.response,
        }


@dataclass(frozen=True)
class PVTEstimate:
    """One estimated ratio (a candidate's share, or turnout) with intervals and the official one.

    The intervals are Student-t intervals with ``df`` degrees of freedom on the logit scale
    (:func:`logit_interval`): a small candidate's share is skewed, and a symmetric interval
    around it misses the truth from below too often. ``margin95``/``margin99`` are half the
    intervals' widths, for a "±" display. ``bound_low``/``bound_high`` are the estimate if
    every missing sampled protocol had given this ratio nothing, or everything (equal to the
    estimate with full response). ``inside95``/``inside99`` say whether the official figure
    lies in the interval (None when no official figure is known); they are for the table,
    not a verdict: with several rows one of them falls outside by chance far more often than
    5 % of the time, so :attr:`PVTResult.joint` is what tests the official figures.
    """

    name: str
    estimate: float
    se: float
    df: int
    low95: float
    high95: float
    low99: float
    high99: float
    official: float | None
    bound_low: float
    bound_high: float

    @property
    def margin95(self) -> float:
        return (self.high95 - self.low95) / 2

    @property
    def margin99(self) -> float:
        return (self.high99 - self.low99) / 2

    @property
    def inside95(self) -> bool | None:
        return None if self.official is None else self.low95 <= self.official <= self.high95

    @property
    def inside99(self) -> bool | None:
        return None if self.official is None else self.low99 <= self.official <= self.high99

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data, with the margins and the official figure's position."""
        return {
            "name": self.name,
            "estimate": self.estimate,
            "se": self.se,
            "df": self.df,
            "margin95": self.margin95,
            "margin99": self.margin99,
            "low95": self.low95,
            "high95": self.high95,
            "low99": self.low99,
            "high99": self.high99,
            "official": self.official,
            "inside95": self.inside95,
            "inside99": self.inside99,
            "bound_low": self.bound_low,
            "bound_high": self.bound_high,
        }


def logit_interval(estimate: float, se: float, quantile: float) -> tuple[float, float]:
    """``expit(logit(p) ± q · se / (p (1 − p)))``: an interval for a share that stays in
    (0, 1) and is wider on the side where a skewed estimate errs (Korn & Graubard 1998).

    >>> [round(v, 4) for v in logit_interval(0.04, 0.01, 1.96)]
    [0.0244, 0.0649]
    """
    if se <= 0 or not 0 < estimate < 1:
        return estimate, estimate
    centre = math.log(estimate / (1 - estimate))
    half = quantile * se / (estimate * (1 - estimate))
    return 1 / (1 + math.exp(-(centre - half))), 1 / (1 + math.exp(-(centre + half)))


def format_p(p: float) -> str:
    """A p-value as the press page prints it (``p = 0.03``, ``p < 0.001``)."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}" if p < 0.1 else f"p = {p:.2f}"


@dataclass(frozen=True)
class JointTest:
    """One test of all official figures (shares and turnout) against the quick count.

    ``method`` is ``"holm"``: each official figure against its estimate with the interval's
    own t-test (logit scale, the row's degrees of freedom), the smallest p-value times the
    number of rows — Holm's adjusted p-value for "some official figure is off", so the test
    rejects an honest election at most 5 % of the time whatever the rows' correlation;
    ``statistic`` is that smallest unadjusted p and ``df1`` the number of rows. ``"exact"``
    when every stratum was sampled completely (no sampling error at all). A Wald test with
    the linearised covariance was tried and rejected: it accused honest elections 6–9 % of
    the time at 100 of 5,000 stations in the simulation grid.
    """

    names: tuple[str, ...]
    method: str
    statistic: float | None
    df1: int | None
    df2: int | None
    p_value: float
    level: float = 0.05

    @property
    def rejected(self) -> bool:
        """True when the differences are larger than sampling error explains at ``level``."""
        return self.p_value < self.level

    @property
    def wording(self) -> str:
        """The sentence the press page and the CLI print."""
        if self.rejected:
            return (
                "The differences between the official figures and the quick count are larger "
                f"than sampling error explains ({format_p(self.p_value)})."
            )
        return (
            "The differences between the official figures and the quick count are within "
            f"what sampling error explains ({format_p(self.p_value)})."
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data, with the wording."""
        return {
            "names": list(self.names),
            "method": self.method,
            "statistic": self.statistic,
            "df1": self.df1,
            "df2": self.df2,
            "p_value": self.p_value,
            "p_text": format_p(self.p_value),
            "level": self.level,
            "rejected": self.rejected,
            "wording": self.wording,
        }


@dataclass(frozen=True)
class NonResponseRow:
    """One ratio in the official figures: estimated from the reporting sampled stations, and
    from every sampled station (what full response would have given)."""

    name: str
    reported: float
    sampled: float
    p_value: float | None

    @property
    def difference(self) -> float:
        """The bias the missing protocols would cause if the official figures are true."""
        return self.reported - self.sampled


@dataclass(frozen=True)
class NonResponseCheck:
    """The missing-at-random check: official figures of reporting vs non-reporting samples.

    Each ratio is estimated from the official figures of the sampled stations whose
    protocol arrived and of all sampled stations; ``p_value`` is the smallest per-row p
    (two-sided) times the number of rows (Bonferroni, the first step of Holm's procedure),
    None when it cannot be computed. A small p says the missing stations are unlike the
    reported ones — in the official figures, which may themselves be falsified, so it is a
    warning, not a proof.
    """

    n_reported: int
    n_missing: int
    rows: tuple[NonResponseRow, ...]
    p_value: float | None

    @property
    def wording(self) -> str:
        """The sentence shown beside the estimate."""
        if self.p_value is None:
            return (
                f"{self.n_missing} sampled protocol(s) missing: too few to check whether they "
                "differ from the reported ones."
            )
        if self.p_value < 0.05:
            return (
                "In the official figures, the sampled stations whose protocol is missing differ "
                f"from those that reported ({format_p(self.p_value)}): the missing-at-random "
                "assumption is doubtful; read the bounds."
            )
        return (
            "In the official figures, the sampled stations whose protocol is missing look like "
            f"those that reported ({format_p(self.p_value)})."
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data, with the wording."""
        return {
            "n_reported": self.n_reported,
            "n_missing": self.n_missing,
            "rows": [
                {
                    "name": r.name,
                    "reported": r.reported,
                    "sampled": r.sampled,
                    "difference": r.difference,
                    "p_value": r.p_value,
                }
                for r in self.rows
            ],
            "p_value": self.p_value,
            "p_text": None if self.p_value is None else format_p(self.p_value),
            "doubtful": self.p_value is not None and self.p_value < 0.05,
            "wording": self.wording,
        }


@dataclass(frozen=True)
class PVTPending:
    """No quick count yet: too few of the sampled protocols have arrived.

    Not an error: on election night protocols arrive over hours, and until the documented
    minimum (:data:`MIN_PROTOCOLS`, :data:`MIN_RESPONSE`) is reached the honest answer is
    "not enough protocols yet", with how many arrived in each stratum.
    """

    reason: str
    n_population: int
    n_sampled: int
    n_reported: int
    strata: tuple[StratumSummary, ...]
    min_protocols: int
    min_response: float

    ready: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (``ready`` false)."""
        return {
            "ready": False,
            "reason": self.reason,
            "n_population": self.n_population,
            "n_sampled": self.n_sampled,
            "n_reported": self.n_reported,
            "strata": [s.to_dict() for s in self.strata],
            "min_protocols": self.min_protocols,
            "min_response": self.min_response,
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
        Population, sampled stations and reported protocols per stratum.
    df:
        Degrees of freedom of the t-quantiles: protocols minus variance strata.
    collapsed:
        Groups of strata whose variance was estimated together (a stratum with a single
        protocol is collapsed with its neighbour; see :func:`stratified_ratio_estimate`).
    joint:
        The one test of the official figures against the estimate (None without officials).
    nonresponse:
        The missing-at-random check (None with full response or without officials).
    """

    shares: tuple[PVTEstimate, ...]
    turnout: PVTEstimate | None
    denominator: str
    n_population: int
    n_sampled: int
    n_reported: int
    strata: tuple[StratumSummary, ...]
    df: int
    collapsed: tuple[tuple[str, ...], ...]
    joint: JointTest | None
    nonresponse: NonResponseCheck | None
    notes: tuple[str, ...] = ()
    assumption: str = MISSING_AT_RANDOM

    ready: bool = True

    @property
    def complete(self) -> bool:
        """True when every sampled station's protocol is in."""
        return self.n_reported == self.n_sampled

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (``ready`` true)."""
        return {
            "ready": True,
            "shares": [e.to_dict() for e in self.shares],
            "turnout": None if self.turnout is None else self.turnout.to_dict(),
            "denominator": self.denominator,
            "n_population": self.n_population,
            "n_sampled": self.n_sampled,
            "n_reported": self.n_reported,
            "strata": [s.to_dict() for s in self.strata],
            "df": self.df,
            "collapsed": [list(g) for g in self.collapsed],
            "joint": None if self.joint is None else self.joint.to_dict(),
            "nonresponse": None if self.nonresponse is None else self.nonresponse.to_dict(),
            "complete": self.complete,
            "assumption": self.assumption,
            "notes": list(self.notes),
        }


# --- the design: strata, their collapse for the variance, degrees of freedom -----------------


@dataclass(frozen=True)
class _Design:
    codes: np.ndarray  # estimation stratum of each reported station
    big_n: np.ndarray  # N_h
    group_of: np.ndarray  # variance group of each stratum
    n_groups: int
    missing: np.ndarray  # sampled stations without a protocol, per stratum

    @property
    def n(self) -> np.ndarray:
        return np.bincount(self.codes, minlength=len(self.big_n)).astype(float)

    @property
    def df(self) -> int:
        return max(1, len(self.codes) - self.n_groups)


def collapse_strata(reported: Sequence[int], population: Sequence[int]) -> list[list[int]]:
    """Group strata so that every group that has sampling variance has two protocols or more.

    The rule: going through the strata in their order (sorted stratum names), a stratum
    with a single protocol (and more than one station, so that it has sampling variance)
    is merged with the next stratum, the last one with the previous; merging repeats until
    no group has a single protocol. Name strata so that neighbours are alike (``north-rural``
    next to ``north-urban``): the collapsed variance also counts the difference between the
    merged strata's means, so it errs on the safe (wider) side. A stratum sampled completely
    has no variance and is never merged for that reason.

    >>> collapse_strata([3, 1, 4, 1, 2], [10, 10, 10, 10, 10])
    [[0], [1, 2], [3, 4]]
    """
    groups = [[h] for h in range(len(reported))]

    def lonely(group: list[int]) -> bool:
        n = sum(reported[h] for h in group)
        return n < 2 and sum(population[h] for h in group) > n

    while len(groups) > 1:
        index = next((i for i, g in enumerate(groups) if lonely(g)), None)
        if index is None:
            break
        other = index + 1 if index + 1 < len(groups) else index - 1
        a, b = sorted((index, other))
        groups[a] = groups[a] + groups[b]
        del groups[b]
    return groups


def _point(y: np.ndarray, x: np.ndarray, design: _Design) -> tuple[float, float]:
    """The combined ratio ``Σ N_h ȳ_h / Σ N_h x̄_h`` and its denominator ``X̂``."""
    k = len(design.big_n)
    n = design.n
    y_bar = np.bincount(design.codes, weights=y, minlength=k) / n
    x_bar = np.bincount(design.codes, weights=x, minlength=k) / n
    x_hat = float(np.sum(design.big_n * x_bar))
    if x_hat <= 0:
        return float("nan"), x_hat
    return float(np.sum(design.big_n * y_bar)) / x_hat, x_hat


def _jackknife_residuals(y: np.ndarray, x: np.ndarray, design: _Design) -> np.ndarray:
    """Each protocol's delete-one jackknife deviation ``R̂_(i) − R̂``, scaled as a residual.

    Dropping protocol ``i`` of stratum ``h`` changes the totals by ``N_h (ȳ_h − y_i)/(n_h − 1)``
    and ``N_h (x̄_h − x_i)/(n_h − 1)``; with ``z_i = (n_h − 1)/N_h · (R̂_(i) − R̂)`` the
    covariance of :func:`_covariance` is exactly the stratified jackknife (JKn, Wolter 2007
    §4.5). To first order ``z_i = (e_i − ē_h)/X̂``, the linearised residual; the jackknife
    divides by ``X̂_(i)`` instead, which gives large stations their due weight and errs less
    on the narrow side with a few dozen protocols (in the grid of ``bench/observe_stats.py``
    it raised the small candidates' coverage by 0.2–0.6 points at 30 protocols). A stratum
    with a single protocol (collapsed with a neighbour) keeps the linearised residual.
    """
    k = len(design.big_n)
    n = design.n
    codes = design.codes
    y_bar = np.bincount(codes, weights=y, minlength=k) / n
    x_bar = np.bincount(codes, weights=x, minlength=k) / n
    y_hat = float(np.sum(design.big_n * y_bar))
    x_hat = float(np.sum(design.big_n * x_bar))
    ratio = y_hat / x_hat
    linear = (y - ratio * x) / x_hat
    n_i = n[codes]
    several = n_i >= 2
    step = np.where(several, design.big_n[codes] / np.maximum(n_i - 1, 1), 0.0)
    y_del = y_hat + step * (y_bar[codes] - y)
    x_del = x_hat + step * (x_bar[codes] - x)
    ok = several & (x_del > 0)
    deviation = np.divide(y_del, x_del, out=np.full_like(linear, ratio), where=ok) - ratio
    scale = np.where(several, (n_i - 1) / design.big_n[codes], 0.0)
    return np.where(ok, deviation * scale, linear)


def _covariance(residuals: np.ndarray, design: _Design) -> tuple[np.ndarray, np.ndarray]:
    """Linearised covariance of several ratios from their residuals ``(y − R̂x)/X̂``, and
    each ratio's effective degrees of freedom.

    Per variance group ``g`` of ``n_g`` protocols and ``N_g`` stations, with weighted
    residuals ``u_i = (N_h/n_h) z_i``: ``n_g (1 − n_g/N_g) · cov(u)``; for an uncollapsed
    stratum this is exactly ``N_h² (1 − f_h) s²_{z,h} / n_h``. The degrees of freedom are
    Satterthwaite's, ``(Σ_g a_g)² / Σ_g a_g² / d_g`` with ``a_g`` the group's variance term
    and ``d_g = (n_g − 1) / (1 + κ (n_g − 1) / (2 n_g))`` its own degrees of freedom once the
    residuals' pooled excess kurtosis ``κ`` is allowed for (``n_g − 1`` for normal ones), at
    most ``protocols − groups``: when one stratum carries most of the variance, the variance
    is as uncertain as that stratum's few protocols make it, whatever the total; when a
    small candidate's votes are skewed from station to station, more uncertain still.
    """
    n = design.n
    weights = (design.big_n / n)[design.codes]
    u = residuals * weights
    groups = design.group_of[design.codes]
    size = len(residuals)
    out = np.zeros((size, size))
    terms: list[tuple[np.ndarray, int]] = []
    fourth = np.zeros(size)  # Σ z⁴ of the within-group standardised residuals, per ratio
    normal = 0.0  # what Σ z⁴ would be for normal residuals
    for g in range(design.n_groups):
        members = groups == g
        count = int(members.sum())
        if count < 2:
            continue
        population = float(np.sum(design.big_n[design.group_of == g]))
        fpc = max(0.0, 1.0 - count / population)
        term = count * fpc * np.atleast_2d(np.cov(u[:, members], ddof=1))
        out += term
        terms.append((np.diag(term), count))
        if count >= 3:
            centred = u[:, members] - u[:, members].mean(axis=1, keepdims=True)
            sd = centred.std(axis=1, ddof=1, keepdims=True)
            z = np.divide(centred, sd, out=np.zeros_like(centred), where=sd > 0)
            fourth += np.sum(z**4, axis=1)
            normal += 3.0 * (count - 1) ** 3 / (count * (count + 1))
    # Excess kurtosis of the residuals, pooled over the groups and measured against what
    # normal residuals give in groups of these sizes: a small candidate's votes are skewed
    # from station to station, and a variance estimated from such data is less certain than
    # normal theory says, so each group's degrees of freedom shrink (Satterthwaite's
    # approximation under non-normality: var(s²) = σ⁴ (2/(n−1) + κ/n)).
    kurtosis = np.maximum(3.0 * (fourth / normal - 1.0), 0.0) if normal > 0 else np.zeros(size)
    total = np.zeros(size)
    spread = np.zeros(size)
    for diagonal, count in terms:
        df_group = (count - 1) / (1.0 + kurtosis * (count - 1) / (2.0 * count))
        total += diagonal
        spread += diagonal**2 / df_group
    satterthwaite = np.divide(total**2, spread, out=np.full(size, np.inf), where=spread > 0)
    dfs = np.clip(np.floor(satterthwaite), 1, design.df)
    return out, dfs


def _bounds(y: np.ndarray, x: np.ndarray, design: _Design) -> tuple[float, float]:
    """The ratio if every missing sampled station gave it nothing, then everything.

    A missing station is given its stratum's mean denominator among the reported ones.
    """
    k = len(design.big_n)
    n = design.n
    m = design.missing
    sum_y = np.bincount(design.codes, weights=y, minlength=k)
    sum_x = np.bincount(design.codes, weights=x, minlength=k)
    x_missing = m * sum_x / n
    x_hat = float(np.sum(design.big_n * (sum_x + x_missing) / (n + m)))
    if x_hat <= 0:
        return float("nan"), float("nan")
    low = float(np.sum(design.big_n * sum_y / (n + m))) / x_hat
    high = float(np.sum(design.big_n * (sum_y + x_missing) / (n + m))) / x_hat
    return low, high


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _joint_test(rows: Sequence[PVTEstimate], level: float = 0.05) -> JointTest:
    """Holm's test of every official figure against its estimate (see :class:`JointTest`)."""
    names = tuple(e.name for e in rows)
    if all(e.se <= 0 for e in rows):
        agree = all(abs((e.official or 0.0) - e.estimate) < 1e-9 for e in rows)
        return JointTest(names, "exact", None, None, None, 1.0 if agree else 0.0, level)
    ps = []
    for e in rows:
        assert e.official is not None
        if e.se <= 0:
            ps.append(1.0 if abs(e.official - e.estimate) < 1e-9 else 0.0)
        elif not (0 < e.official < 1 and 0 < e.estimate < 1):
            ps.append(0.0 if abs(e.official - e.estimate) > 1e-9 else 1.0)
        else:
            scale = e.se / (e.estimate * (1 - e.estimate))
            t = abs(_logit(e.official) - _logit(e.estimate)) / scale
            ps.append(float(2 * stats.t.sf(t, e.df)))
    p = min(1.0, min(ps) * len(ps))
    return JointTest(names, "holm", min(ps), len(ps), None, p, level)


def _nonresponse_check(
    names: Sequence[str],
    official: Sequence[tuple[np.ndarray, np.ndarray] | None],
    codes: np.ndarray,
    responded: np.ndarray,
    big_n: np.ndarray,
) -> NonResponseCheck:
    """Official ratios estimated from the reporting part of the sample and from all of it.

    Under missing at random within strata the reporting stations are a random subsample of
    the sample in each stratum, so the difference of the two stratified estimates has mean
    zero and variance ``Σ_h N_h² (1/r_h − 1/n_h) s²_{e,h} / X̂²`` (``r_h`` reporting of ``n_h``
    sampled, ``s²_{e,h}`` the residual variance of the official figures over the sample).
    """
    k = len(big_n)
    n = np.bincount(codes, minlength=k).astype(float)
    r = np.bincount(codes[responded], minlength=k).astype(float)
    rows = []
    ps: list[float] = []
    for name, pair in zip(names, official, strict=True):
        if pair is None:
            continue
        y, x = pair
        x_all = float(np.sum(big_n * np.bincount(codes, weights=x, minlength=k) / n))
        x_in = float(
            np.sum(big_n * np.bincount(codes[responded], weights=x[responded], minlength=k) / r)
        )
        if x_all <= 0 or x_in <= 0:
            continue
        r_all = float(np.sum(big_n * np.bincount(codes, weights=y, minlength=k) / n)) / x_all
        r_in = (
            float(
                np.sum(big_n * np.bincount(codes[responded], weights=y[responded], minlength=k) / r)
            )
            / x_in
        )
        e = y - r_all * x
        e_bar = np.bincount(codes, weights=e, minlength=k) / n
        ss = np.bincount(codes, weights=(e - e_bar[codes]) ** 2, minlength=k)
        s2 = np.divide(ss, n - 1, out=np.zeros(k), where=n > 1)
        variance = float(np.sum(big_n**2 * (1 / r - 1 / n) * s2)) / x_all**2
        p: float | None = None
        if variance > 0:
            p = float(2 * stats.norm.sf(abs(r_in - r_all) / math.sqrt(variance)))
            ps.append(p)
        rows.append(NonResponseRow(name, r_in, r_all, p))
    combined = min(1.0, min(ps) * len(ps)) if ps else None
    return NonResponseCheck(int(responded.sum()), int((~responded).sum()), tuple(rows), combined)


# --- the estimate ------------------------------------------------------------------------------


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


def _check_ids(sample_protocols: pd.DataFrame, population: pd.DataFrame, id_column: str) -> None:
    _check_column(sample_protocols, id_column, "sample")
    for frame, what in ((population, "the population"), (sample_protocols, "the sample")):
        ids = frame[id_column].astype(str)
        if ids.duplicated().any():
            raise InputError(
                f"station {ids[ids.duplicated()].iloc[0]!r} appears twice in {what}; "
                "merge the reports first",
                column=id_column,
            )


def stratified_ratio_estimate(
    sample_protocols: pd.DataFrame,
    population: pd.DataFrame,
    *,
    strata: str,
    candidates: Sequence[str],
    denominator: Literal["valid", "cast"] = "valid",
    id_column: str = "station",
    sampled: Sequence[str] | None = None,
    min_protocols: int = MIN_PROTOCOLS,
    min_response: float = MIN_RESPONSE,
) -> PVTResult | PVTPending:
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
        results table), the official shares and turnout are tested against the estimate
        (:class:`JointTest`) and the missing-at-random assumption is checked.
    strata:
        The stratum column of ``population``.
    candidates:
        The candidates (columns) whose shares are estimated.
    denominator:
        ``"valid"``: share of valid ballots; ``"cast"``: of valid plus invalid ballots (the
        percentage Russia's CEC publishes).
    sampled:
        Every station drawn into the sample, reported or not; without it the reported
        stations are taken to be the whole sample (full response).
    min_protocols, min_response:
        Below these (:data:`MIN_PROTOCOLS` protocols; :data:`MIN_RESPONSE` of the sampled
        stations overall and in every stratum) no estimate is made.

    Returns
    -------
    PVTResult or PVTPending
        The estimate with t-based 95 % and 99 % margins, bounds for the missing protocols,
        the joint test and the non-response check; or "not enough protocols yet".
    """
    if denominator not in ("valid", "cast"):
        raise InputError(
            f"'denominator' must be 'valid' or 'cast'; got {denominator!r}", column="denominator"
        )
    if not candidates:
        raise InputError("name at least one candidate", column="candidates")
    if isinstance(min_protocols, bool) or not isinstance(min_protocols, int) or min_protocols < 2:
        raise InputError(
            f"'min_protocols' must be an integer ≥ 2; got {min_protocols!r}",
            column="min_protocols",
        )
    if not 0 < min_response <= 1:
        raise InputError(
            f"'min_response' must be in (0, 1]; got {min_response!r}", column="min_response"
        )
    _check_column(population, id_column, "population table")
    _check_column(population, strata, "population table")
    _check_ids(sample_protocols, population, id_column)
    pop_ids: list[str] = population[id_column].astype(str).tolist()
    sample_ids: list[str] = sample_protocols[id_column].astype(str).tolist()
    drawn = list(sample_ids) if sampled is None else [str(s) for s in sampled]
    stratum_of = dict(zip(pop_ids, population[strata].astype(str).tolist(), strict=True))
    for station in drawn:
        if station not in stratum_of:
            raise InputError(
                f"sampled station {station!r} is not in the population", column=id_column
            )
    drawn_set = set(drawn)
    if len(drawn_set) != len(drawn):
        raise InputError("a station appears twice in 'sampled'", column="sampled")
    for station in sample_ids:
        if station not in stratum_of:
            raise InputError(
                f"sampled station {station!r} is not in the population", column=id_column
            )
        if station not in drawn_set:
            raise InputError(
                f"station {station!r} has a protocol but was not sampled", column=id_column
            )

    pop_sizes = population[strata].astype(str).value_counts().sort_index()
    labels = [str(h) for h in pop_sizes.index]
    sample_strata = [stratum_of[s] for s in sample_ids]
    reported = pd.Series(sample_strata, dtype=object).value_counts()
    drawn_counts = pd.Series([stratum_of[s] for s in drawn], dtype=object).value_counts()
    summaries = tuple(
        StratumSummary(h, int(pop_sizes[h]), int(drawn_counts.get(h, 0)), int(reported.get(h, 0)))
        for h in labels
    )
    n_reported = len(sample_ids)

    def pending(reason: str) -> PVTPending:
        return PVTPending(
            reason,
            len(population),
            len(drawn),
            n_reported,
            summaries,
            min_protocols,
            min_response,
        )

    if n_reported < min_protocols:
        return pending(
            f"not enough protocols yet: {n_reported} of the {len(drawn)} sampled stations; "
            f"the quick count needs at least {min_protocols}"
        )
    if n_reported < min_response * len(drawn):
        return pending(
            f"not enough protocols yet: {n_reported} of the {len(drawn)} sampled stations "
            f"({n_reported / len(drawn):.0%}); the quick count needs {min_response:.0%}"
        )
    short = [
        s.stratum
        for s in summaries
        if s.reported == 0 or (s.sampled and s.reported < min_response * s.sampled)
    ]
    if short:
        return pending(
            f"not enough protocols yet in {len(short)} stratum/strata "
            f"({', '.join(short[:5])}{'…' if len(short) > 5 else ''}): each needs at least one "
            f"protocol and {min_response:.0%} of its sampled stations"
        )

    index = {h: i for i, h in enumerate(labels)}
    codes = np.array([index[h] for h in sample_strata], dtype=np.intp)
    big_n = np.array([pop_sizes[h] for h in labels], dtype=float)
    n_h = np.bincount(codes, minlength=len(labels))
    groups = collapse_strata(n_h.tolist(), big_n.astype(int).tolist())
    group_of = np.zeros(len(labels), dtype=np.intp)
    for g, members in enumerate(groups):
        group_of[members] = g
    missing = np.array([s.sampled - s.reported for s in summaries], dtype=float)
    design = _Design(codes, big_n, group_of, len(groups), np.maximum(missing, 0.0))
    notes: list[str] = []
    collapsed = tuple(tuple(labels[h] for h in g) for g in groups if len(g) > 1)
    if collapsed:
        notes.append(
            "strata with a single protocol were collapsed with a neighbour for the variance: "
            + "; ".join(" + ".join(g) for g in collapsed)
        )

    what = "sample"
    x_share = _numeric(sample_protocols, "valid", what)
    if denominator == "cast":
        x_share = x_share + _numeric(sample_protocols, "invalid", what)

    pop_share_base: np.ndarray | None = None
    if "valid" in population.columns and (
        denominator == "valid" or "invalid" in population.columns
    ):
        pop_share_base = _numeric(population, "valid", "population table")
        if denominator == "cast":
            pop_share_base = pop_share_base + _numeric(population, "invalid", "population table")

    # (name, y, x, official y and x per population station or None)
    quantities: list[tuple[str, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]] = []
    for candidate in candidates:
        y = _numeric(sample_protocols, candidate, what)
        official = None
        if pop_share_base is not None and candidate in population.columns:
            official = (_numeric(population, candidate, "population table"), pop_share_base)
        quantities.append((str(candidate), y, x_share, official))
    has_turnout = False
    issued = _issued(sample_protocols, what)
    if "registered" in sample_protocols.columns and issued is not None:
        y_turnout, kind = issued
        official = None
        pop_issued = _issued(population, "population table")
        if pop_issued is not None and pop_issued[1] == kind and "registered" in population:
            official = (pop_issued[0], _numeric(population, "registered", "population table"))
        quantities.append(
            (
                f"turnout ({kind})",
                y_turnout,
                _numeric(sample_protocols, "registered", what),
                official,
            )
        )
        has_turnout = True
    else:
        notes.append("no turnout: the protocols lack 'registered' or the ballots issued")

    residuals = []
    points = []
    for _, y, x, _ in quantities:
        r, x_hat = _point(y, x, design)
        points.append(r)
        residuals.append(_jackknife_residuals(y, x, design) if x_hat > 0 else np.zeros_like(y))
    cov, dfs = _covariance(np.vstack(residuals), design)
    estimates = []
    for (name, y, x, official), r, variance, df_row in zip(
        quantities, points, np.diag(cov), dfs, strict=True
    ):
        se = math.sqrt(max(float(variance), 0.0))
        df = int(df_row)
        t95 = float(stats.t.ppf(0.975, df))
        t99 = float(stats.t.ppf(0.995, df))
        off = None
        if official is not None and official[1].sum() > 0:
            off = float(official[0].sum() / official[1].sum())
        low, high = _bounds(y, x, design)
        low95, high95 = logit_interval(r, se, t95)
        low99, high99 = logit_interval(r, se, t99)
        estimates.append(PVTEstimate(name, r, se, df, low95, high95, low99, high99, off, low, high))

    tested = [i for i, e in enumerate(estimates) if e.official is not None]
    joint = _joint_test([estimates[i] for i in tested]) if tested else None

    nonresponse = None
    if len(drawn) > n_reported and tested:
        position = {s: i for i, s in enumerate(pop_ids)}
        rows = np.array([position[s] for s in drawn], dtype=np.intp)
        reporting = set(sample_ids)
        responded = np.array([s in reporting for s in drawn], dtype=bool)
        drawn_strata = np.array([index[stratum_of[s]] for s in drawn], dtype=np.intp)
        nonresponse = _nonresponse_check(
            [q[0] for q in quantities],
            [None if q[3] is None else (q[3][0][rows], q[3][1][rows]) for q in quantities],
            drawn_strata,
            responded,
            big_n,
        )
    return PVTResult(
        shares=tuple(estimates[: len(candidates)]),
        turnout=estimates[-1] if has_turnout else None,
        denominator=denominator,
        n_population=len(population),
        n_sampled=len(drawn),
        n_reported=n_reported,
        strata=summaries,
        df=design.df,
        collapsed=collapsed,
        joint=joint,
        nonresponse=nonresponse,
        notes=tuple(notes),
    )
