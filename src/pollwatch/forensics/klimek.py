"""Klimek's fraud model: how many stations were stuffed, incrementally or to the extreme.

Klimek, Yegorov, Hanel & Thurner (2012) draw an election's *fingerprint* — the 2-D
histogram of stations over turnout × the leader's share — and explain it by a model:

* **Clean stations.** Turnout ``a`` and the leader's share ``ν`` are independent and
  unimodal. Votes are ``N·a`` ballots and ``N·a·ν`` for the leader, ``N`` the station's
  registered voters (the real station sizes are used).
* **Incremental fraud**, with probability ``f_i``: a fraction ``x`` of the non-voters becomes
  ballots for the leader, ``x`` drawn from a half-normal of width ``θ`` (below 1), and a
  fraction ``x**α`` of the other candidates' votes is moved to the leader (vote stealing).
* **Extreme fraud**, with probability ``f_e``: the same with ``y = 1 − |N(0, 0.075)|`` —
  almost every non-voter becomes a leader vote.

``f_i`` and ``f_e`` are fitted by least squares between the model's and the observed
fingerprint (fractions of stations per bin), as in the paper. Departures:

* **One clean blob per region.** The paper's clean model is one national blob. Real
  elections (and :mod:`pollwatch.forensics.synthetic`) are a mixture of regional blobs:
  regions differ in their usual turnout and share, so the national fingerprint is lumpy,
  often tilted, and a single blob leaves residuals the fit reads as fraud (on clean
  synthetic elections with the generator's default heterogeneity the national blob gave
  ``f_i`` ≈ 0.12 and flagged fraud on 9 of 10). Here each region has its own logit-normal
  blob: its centre is the median of the region's stations' logit turnout (logit share),
  its width the distance from the lower quartile to the median (the left flank, which
  stuffing does not reach, as in the paper's left-flank widths), less the binomial noise
  of the region's typical station. Small regions are shrunk towards the national figures
  (a prior worth ``_SHRINK`` stations). Stuffing moves a region's median up, so the fit
  adds global corrections — a shift of every centre and a factor on every width, for
  turnout and for share — fitted with ``θ`` by the least-squares criterion (Nelder–Mead,
  ``f_i, f_e`` solved exactly inside). ``f_i``, ``f_e``, ``θ`` and ``α`` are national.
  ``by_region=False`` gives the paper's single national blob.
* **Exact mixture.** Each station is simulated (several copies) clean, incrementally and
  extremely rigged with common random numbers, so the model's *expected* fingerprint is
  ``(1 − f_i − f_e)·H_clean + f_i·H_inc + f_e·H_ext``: linear in ``(f_i, f_e)``; the least
  squares over ``f_i, f_e ≥ 0, f_i + f_e ≤ 1`` is solved exactly instead of on the paper's
  grid of random elections. Clean counts are drawn with binomial noise (normal
  approximation) around ``N·a`` and ``issued·ν``, so small stations scatter as they do.
* The clean turnout and share are logit-normal (the paper: normal), which follows the skew
  of proportions near 0 and 1. ``θ`` is kept ≥ 0.08: narrower stuffing cannot be told from
  a skewed clean blob. ``α`` is chosen from no stealing, 2 and 1 by the same criterion.

Interval: a bootstrap of the whole fit. Each of ``resamples`` replicates resamples the
stations with replacement within each region, recomputes the regional blobs and the
fingerprint, draws fresh simulation noise and refits the corrections, ``θ``, ``f_i`` and
``f_e`` (``α`` held at its fitted value; the search starts from the uncorrected blobs at
``θ`` = 0.15, not from the full fit's answer, see ``_BOOT_EVALUATIONS``). Percentile
intervals of the replicates therefore carry sampling noise, the regional estimates, the
``θ``–``f_i`` trade-off and Monte Carlo noise — not model error. The regional recipe's
interval also spans the same fit and bootstrap on *cross-conditioned* blobs (each
coordinate's blob from the region's stations below the 35th percentile of the other; see
:func:`_blobs`): the plain blobs are pulled by stuffed stations, the cross-conditioned ones
are noisier, and where the two disagree the interval says so. Every interval also spans
the answers (point fit and each replicate) with a narrow extreme shape,
``y = 1 − |N(0, 0.025)|`` (``_NARROW_EXTREME``): the paper's shape is one guess at how
write-ups look, and the data cannot tell the two apart. The point estimates stay the
plain fit's with the paper's shape. (Refitting each replicate by two Gauss–Newton steps,
instead of the 30 Nelder–Mead evaluations from the full fit's answer then used, halved
Klimek's CPU on Russia 2024, but on 120 honest synthetic elections the f_i interval then
excluded 0 in 8, against 2 with the Nelder–Mead search: not kept.)

Least-squares criterion: the model's fingerprints are Monte Carlo estimates, and the plain
sum of squares rewards any mixture that averages the simulation's noise away (on clean
elections it preferred "40 % of stations slightly stuffed" to "no fraud"). The
simulation is split in two independent halves A, B and the criterion is
``(observed − M_A)·(observed − M_B)``, an unbiased estimate of the noise-free one.

Accuracy and limits (measured on :mod:`pollwatch.forensics.synthetic` elections of 20,000
stations with the default regional heterogeneity, 30 replicates): on 10 clean elections no
interval excluded 0 (mean ``f_i`` 0.020, ``f_e`` 0.0003); injected ``f_e = 0.03`` comes
back as 0.035–0.042 (Klimek's extreme stations are spread lower than the generator's
U(0.95, 1), so the fit needs a few more); injected ``f_i = 0.2`` comes back as 0–0.23 (mean
0.06): **incremental fraud is underestimated** because the regional medians and flanks
already carry part of the stuffing and the global corrections trade off against ``f_i``.
The bootstrap interval alone does not cover that bias: over 20 elections per scenario
(``bench/klimek_coverage.py``, 2026-12-05/06) it covered injected f_i 0.05, 0.10, 0.20 (with
f_e 0.005) in 14, 5, 1 of 20 (mean estimates 0.027, 0.053, 0.067), and f_e 0.03 in 1 of
20 (0.039: the paper's extreme stations spread lower than the generator's U(0.95, 1)).
Spanning the cross-conditioned fit and the narrow extreme shape, with replicates that
refit from the neutral start, the interval covers f_i in 20 of 20 at each level (19 or 20
of 20 on elections without regional differences, and with 5,000 stations) and f_e 0.03 in
20 of 20 — the nominal rate — at a
price: f_i intervals 0.20 wide on clean elections (0.08 before) and 0.19–0.32 under
stuffing, and an interval leaves out 0 less often under fraud (f_i or f_e: 15, 15, 6 of 20
against 17, 16, 14). Clean elections' intervals still all include 0 (0 of 120 honest
elections flagged). A parametric bootstrap calibration (simulate elections from the
fitted model at the real sizes and regions, refit them with the blobs recomputed, centre a
basic interval on the refits' errors) does not remove it either: at the estimate the
model's own refits are almost unbiased (mean error −0.01 to −0.04 in f_i), while the same
estimator on elections drawn from the model at f_i = 0.2, θ = 0.2 returned 0–0.17 — the
compression depends on the truth and on θ (fitted 0.11–0.73 where the generator's is 0.2),
so a calibration at the estimate cannot see it; united with the bootstrap interval it
covered f_i 0.20 in 1 of 10 even with full refits, and f_e = 0.03 in 0 of 10 (the
generator's extreme stations are U(0.95, 1), the model's 1 − |N(0, 0.075)|: error of the
model, which no model-based bootstrap sees). Not kept. With the user's seed driving the
fit's simulation, Russia 2011 gave ``f_i`` 0.06 and 0.16 for seeds 0 and 1, outside each
other's intervals; the point fit now uses fixed streams (``_FIT_ENTROPY``). Fraud that
moves a whole region alike is read as that region's character (a region where almost every
station reports ~100 % gets a clean blob there, and ``f_e`` does not count it);
``by_region=False`` shows what one national blob makes of it. Read ``f_i`` and ``f_e`` as
"how much of the fingerprint the fraud model needs", not as counts of proven fraud.

Not applicable when fewer than ``_MIN_STATIONS`` stations have registered voters and cast
ballots, or when turnout or share does not vary.

References
----------
Klimek, P., Yegorov, Y., Hanel, R. & Thurner, S. (2012). Statistical detection of
systematic election irregularities. PNAS 109(41), 16469–16473 (model in the main text and
SI Appendix). The Election Forensics Toolkit's port of their ``ElectionFitter.m`` (Mebane &
Egami, 2014) was read for the parameter heuristics. Efron, B. & Tibshirani, R. (1993).
An Introduction to the Bootstrap, ch. 13 (percentile intervals).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar, TypeVar, cast

import numba
import numpy as np
from scipy import optimize, special

from pollwatch.forensics.data import StationArrays
from pollwatch.forensics.params import check_flag, check_int, check_seed
from pollwatch.forensics.result import MethodResult
from pollwatch.forensics.workers import run_chunks

__all__ = ["RECIPES", "KlimekRecipe", "KlimekResult", "klimek"]

_MIN_STATIONS = 500
_EXTREME_WIDTH = 0.075  # Klimek et al.: y = 1 - |N(0, 0.075)|
_NARROW_EXTREME = 0.025
"""Width of the second extreme shape the intervals span, ``y = 1 − |N(0, 0.025)|``:
stations written up to within a few points of 100 % turnout, as in real protocols (and
in :mod:`pollwatch.forensics.synthetic`, U(0.95, 1)). The paper's 0.075 spreads extreme
stations lower, so an election whose extreme stations all sit near 100 % needs more of
them in the paper's model: injected f_e = 0.03 came back as 0.039 (intervals 0.008 wide,
covering it in 1 of 20 elections); with this shape, 0.029. Which shape the real
write-ups follow is not in the data's fingerprint alone, so the point estimate keeps the
paper's and the interval spans both (covering f_e = 0.03 in 20 of 20, 0.017 wide)."""
_CROSS_QUANTILE = 0.35
"""Cross-conditioned blobs (:func:`_blobs`): each coordinate's blob from the region's
stations below this quantile of the other. Over 20 synthetic elections per scenario the
interval spanning the cross-conditioned fit covered injected f_i 0.05 / 0.10 / 0.20 in
20 / 15 / 11 of 20 at the median, 20 / 20 / 19 at 0.35 (docs/validation.md)."""
_ALPHAS: tuple[float | None, ...] = (None, 2.0, 1.0)
_MIN_WIDTH = 0.08  # narrower stuffing is indistinguishable from a skewed clean blob
_SHRINK = 30.0  # small regions: a prior worth this many stations at the national figures
_QUARTILE = 0.6744897501960817  # Φ⁻¹(0.75): lower quartile to median of a normal
_SEARCH_POINTS = 12_000  # simulated stations (copies included) while fitting
_FINAL_POINTS = 120_000  # simulated stations in the final fit
_MAX_EVALUATIONS = 250  # Nelder–Mead budget of the full fit
_REFINE = 80  # ... of the refinement for each stealing exponent
_STEPS = np.array([0.08, 0.08, 0.15, 0.15, 0.5])  # initial simplex: shifts, log factors, log θ
_REFINE_STEPS = _STEPS / 3  # ... and its initial simplex
_BOOT_EVALUATIONS = 60
"""Nelder–Mead budget of each bootstrap replicate, which refits from the uncorrected blobs
at θ = 0.15 (between the full fit's starts, ``_START_WIDTHS``) with the fitted stealing
exponent and the full fit's steps. Replicates that started from the full fit's answer (a
third of the steps, 30 evaluations) stayed near it: on 10 synthetic elections without
regional differences and f_i = 0.20 injected, their f_i spread within an election (sd
0.024) was half the estimate's spread over the elections (0.045); over 20 such elections
the interval covered the truth in 16 of 20 at f_i 0.10 and at 0.20. From the uncorrected
start the replicates' spread is 0.043 — as with a whole refit from scratch, three times
dearer — and the interval covered 20 of 20 (docs/validation.md). 100 evaluations gave the
same spread as 60."""
_START_WIDTHS = (0.1, 0.25, 0.6)
"""Stuffing widths θ the independent fits of the whole model start from (each also with
its own simulated stations) behind one answer. On Russia 2024 one fit lands, by the
simulation's noise alone, either on "a fifth of the stations mildly stuffed" (f_i ≈ 0.21,
f_e ≈ 0) or on "2 % of stations written up" (f_i ≈ 0, f_e ≈ 0.02), which fit about equally
well: seeds 0–3 gave f_i 0.21, 0.00, 0.11, 0.00. Three fits from different widths, judged
on one large common simulation, find both modes where both fit; their spread
(``seed_spread``) is reported and kept inside the interval, so a reader sees when the
model cannot tell the two apart."""
_FIT_ENTROPY = 20_121_016
"""Seed of the simulated stations behind the point fit (not the user's seed). With the
user's seed, seeds 0 and 1 on 4,000 synthetic stations (f_i 0.1, f_e 0.01) gave f_i 0.21
and 0.09, each outside the other's interval: the fit's Monte Carlo noise picks one of two
near-equal modes. Fixed streams make ``f_i``, ``f_e`` and ``seed_spread`` a function of the
data; the three starts keep independent streams, so the simulation's ambiguity still shows
in ``seed_spread`` and, through it, in the interval. The user's seed drives the bootstrap."""

F = TypeVar("F", bound=Callable[..., Any])


def _njit(fn: F) -> F:
    """``numba.njit(cache=True)`` with the function's type kept for mypy."""
    return cast(F, numba.njit(cache=True)(fn))


def _njit_nogil(fn: F) -> F:
    """``numba.njit(cache=True, nogil=True)``: kernels that run long enough for the
    battery's threads to gain from running them side by side."""
    return cast(F, numba.njit(cache=True, nogil=True)(fn))


RECIPES: dict[str, str] = {
    "pnas": "The national fit of Klimek et al. (2012): one clean blob for the whole country; "
    "honest differences between regions read as fraud.",
    "regional": "One clean blob per region: a region falsified through and through reads as "
    "that region's character.",
}
"""The recipes in ``KlimekResult.recipes``, by stable name, and what each assumes."""
RECIPES_ORDER = tuple(RECIPES)


@dataclass(frozen=True)
class KlimekRecipe:
    """One clean model's fit, named so that it can be set beside a published one."""

    name: str
    f_i: float
    f_e: float
    interval: dict[str, tuple[float, float]]


@dataclass(frozen=True)
class KlimekResult(MethodResult):
    """Fitted fraud fractions of Klimek et al. (2012).

    Attributes
    ----------
    f_i, f_e:
        Fitted fractions of stations with incremental and with extreme fraud.
    f_i_interval, f_e_interval:
        95 % percentile intervals from a bootstrap of the whole fit over stations,
        widened to cover ``seed_spread``, the estimate itself, the answers with a narrow
        extreme shape (``_NARROW_EXTREME``) and (regional recipe) the interval of the fit
        on cross-conditioned blobs.
    seed_spread:
        ``{"f_i": (low, high), "f_e": (low, high)}``: the answers of the independent fits
        (from each of :data:`_START_WIDTHS`, on its own simulated stations) the estimate was chosen
        from; a wide spread says the fingerprint fits two kinds of fraud about equally.
    interval:
        The same two intervals as ``{"f_i": (low, high), "f_e": (low, high)}``.
    recipes:
        Both clean models side by side (:data:`RECIPES`): ``pnas`` (the paper's one
        national blob) and ``regional`` (one blob per region), each fitted with its own
        bootstrap interval.
    resamples:
        Number of bootstrap replicates behind the intervals.
    by_region:
        Whether the clean model has one blob per region (else one national blob).
    regions:
        Number of regional blobs (1 with ``by_region=False`` or without regions).
    clean_turnout, clean_turnout_sd, clean_share, clean_share_sd:
        The fitted clean model, nationally: medians of the clean turnout and leader's share
        over stations, and the typical (median) within-region width near the centre, on
        the proportion scale.
    turnout_shift, share_shift, turnout_width_factor, share_width_factor:
        The fitted global corrections of the regional blobs: logit shift of every centre
        and factor on every width.
    stuffing_width, stealing_exponent:
        Fitted ``θ`` (width of the half-normal fraction of non-voters stuffed) and ``α``
        (fraction ``x**α`` of opponents' votes moved to the leader; ``None`` = no stealing).
    rmse, rmse_fair:
        Root-mean-square difference per bin between the observed fingerprint (as fractions
        of stations) and the fitted model, and the fair model (``f_i = f_e = 0``).
    model_added_votes, model_added_share:
        Leader votes the fitted model adds by fraud (expected, at these station sizes), and
        as a fraction of the leader's reported votes.
    excluded_stations:
        Stations left out (nobody registered, no ballots cast or issued).
    bins:
        Bins per axis of the fingerprint.
    observed, fitted, fair:
        ``bins × bins`` fingerprints (fractions of stations; rows turnout, columns share),
        kept for plots and out of ``to_dict()``.
    """

    method: ClassVar[str] = "klimek"
    reference: ClassVar[str] = (
        "Klimek, P., Yegorov, Y., Hanel, R. & Thurner, S. (2012). Statistical detection of "
        "systematic election irregularities. Proceedings of the National Academy of Sciences "
        "109(41), 16469–16473. doi:10.1073/pnas.1210722109"
    )

    f_i: float
    f_e: float
    f_i_interval: tuple[float, float]
    f_e_interval: tuple[float, float]
    interval: dict[str, tuple[float, float]]
    seed_spread: dict[str, tuple[float, float]]
    recipes: tuple[KlimekRecipe, ...]
    resamples: int
    by_region: bool
    regions: int
    clean_turnout: float
    clean_turnout_sd: float
    clean_share: float
    clean_share_sd: float
    turnout_shift: float
    share_shift: float
    turnout_width_factor: float
    share_width_factor: float
    stuffing_width: float
    stealing_exponent: float | None
    rmse: float
    rmse_fair: float
    model_added_votes: float
    model_added_share: float
    excluded_stations: int
    bins: int
    observed: np.ndarray = field(metadata={"json": False}, repr=False)
    fitted: np.ndarray = field(metadata={"json": False}, repr=False)
    fair: np.ndarray = field(metadata={"json": False}, repr=False)


@dataclass(frozen=True)
class _Stations:
    """The stations the model is fitted to (those with voters and ballots)."""

    registered: np.ndarray  # float64
    issued: np.ndarray  # float64
    logit_turnout: np.ndarray
    logit_share: np.ndarray
    region: np.ndarray  # int64 codes 0..regions-1
    regions: int
    cell: np.ndarray  # fingerprint bin of each station
    order: np.ndarray  # stations sorted by region
    starts: np.ndarray  # (regions + 1,) start of each region in ``order``
    sorted_turnout: np.ndarray  # stations sorted by (region, logit turnout)
    sorted_share: np.ndarray  # ... by (region, logit share)

    @property
    def n(self) -> int:
        return len(self.registered)


@dataclass(frozen=True)
class _Blobs:
    """Regional clean blobs on the logit scale (one entry per region)."""

    turnout: np.ndarray
    turnout_sd: np.ndarray
    share: np.ndarray
    share_sd: np.ndarray


@dataclass(frozen=True)
class _Draws:
    """Simulated stations and their common random numbers (standard normals)."""

    sizes: np.ndarray
    turnout: np.ndarray  # regional centre and width of each simulated station
    turnout_sd: np.ndarray
    share: np.ndarray
    share_sd: np.ndarray
    z: np.ndarray  # (7, m): turnout, share, issued noise, leader noise, x, x redrawn, y


@dataclass(frozen=True)
class _Model:
    """Expected fingerprints at one parameter point, each estimated twice from two
    independent halves of the simulation (rows 0 and 1), and the votes each fraud adds
    (per simulated station)."""

    clean: np.ndarray
    incremental: np.ndarray
    extreme: np.ndarray
    added_incremental: float
    added_extreme: float

    def mean(self, which: str) -> np.ndarray:
        return np.asarray(getattr(self, which).mean(axis=0))


@dataclass(frozen=True)
class _Fit:
    """Least-squares fraud fractions at one parameter point and the criterion there."""

    f_i: float
    f_e: float
    sse: float


@dataclass(frozen=True)
class _State:
    """A fit: ``q`` = (turnout shift, share shift, log turnout and share width factors,
    log θ), the stealing exponent and the fraud fractions at that point."""

    q: np.ndarray
    alpha: float | None
    f_i: float
    f_e: float
    sse: float


def klimek(
    data: StationArrays,
    *,
    resamples: int = 30,
    seed: int | None = 0,
    bins: int = 50,
    by_region: bool = True,
) -> KlimekResult:
    """Fit Klimek's incremental (``f_i``) and extreme (``f_e``) fraud fractions.

    Parameters
    ----------
    data:
        Station arrays (turnout = issued / registered, share = leader / cast).
    resamples:
        Bootstrap replicates of the whole fit for the 95 % intervals (each costs about
        a tenth of the fit; a few dozen suffice for the interval's ends).
    seed:
        Seed of the model simulation and the bootstrap (``None``: fresh entropy).
    bins:
        Bins per axis of the fingerprint (10–200; 50 means 2-point bins).
    by_region:
        One clean blob per region (default) or, as in the paper, one national blob.

    Returns
    -------
    KlimekResult
        ``f_i``, ``f_e`` with intervals, the fitted clean model and fingerprints for plots.

    Examples
    --------
    >>> from pollwatch.forensics.synthetic import synthetic_election
    >>> e = synthetic_election(5_000, seed=3, extreme=0.03)
    >>> r = klimek(e.arrays(), resamples=20)
    >>> 0.015 < r.f_e < 0.045
    True
    """
    resamples = check_int("klimek", "resamples", resamples)
    bins = check_int("klimek", "bins", bins, low=10, high=200)
    seed = check_seed("klimek", seed)
    by_region = check_flag("klimek", "by_region", by_region)

    ok = (data.registered > 0) & (data.cast > 0) & (data.issued > 0)
    excluded = int((~ok).sum())
    n = int(ok.sum())
    if n < _MIN_STATIONS:
        return _not_applicable(
            data.n, excluded, resamples, seed, bins, bool(by_region),
            f"only {n} stations with registered voters and ballots cast; the fraud model "
            f"needs at least {_MIN_STATIONS} to fit a fingerprint",
        )  # fmt: skip
    # the clean models at once (idle threads of the battery's pool take them): the one
    # asked for, the other recipe, and the regional one on cross-conditioned blobs
    variants = [(bool(by_region), False), (not by_region, False)]
    variants += [(True, True)] if by_region else []
    full, other, *crossed = run_chunks(
        [
            partial(_fit_variant, data, ok, bins, flag, resamples, seed, cross)
            for flag, cross in variants
        ]
    )
    if full is None:
        return _not_applicable(
            data.n, excluded, resamples, seed, bins, bool(by_region),
            "turnout or the leader's share does not vary; the clean model cannot be fitted",
        )  # fmt: skip
    if crossed and crossed[0] is not None:
        full = _widened(full, crossed[0])
    st, state, final, model, observed = full.st, full.state, full.final, full.model, full.observed
    fit = full.fit
    f_i_lo, f_i_hi, f_e_lo, f_e_hi = full.intervals
    recipes = [_recipe(full)] + ([] if other is None else [_recipe(other)])
    recipes.sort(key=lambda r: RECIPES_ORDER.index(r.name))

    fitted = _mixture(model, fit.f_i, fit.f_e)
    fair = model.mean("clean")
    added = n * (fit.f_i * model.added_incremental + fit.f_e * model.added_extreme)
    leader_total = float(data.leader[ok].sum())
    nbins = bins * bins
    centre_t, width_t, centre_s, width_s = _national_clean(final, state.q)
    return KlimekResult(
        n_stations=data.n,
        applicable=True,
        note="",
        seed=seed,
        f_i=fit.f_i,
        f_e=fit.f_e,
        f_i_interval=(f_i_lo, f_i_hi),
        f_e_interval=(f_e_lo, f_e_hi),
        interval={"f_i": (f_i_lo, f_i_hi), "f_e": (f_e_lo, f_e_hi)},
        seed_spread={"f_i": full.spread[:2], "f_e": full.spread[2:]},
        recipes=tuple(recipes),
        resamples=resamples,
        by_region=bool(by_region),
        regions=st.regions,
        clean_turnout=centre_t,
        clean_turnout_sd=width_t,
        clean_share=centre_s,
        clean_share_sd=width_s,
        turnout_shift=float(state.q[0]),
        share_shift=float(state.q[1]),
        turnout_width_factor=float(np.exp(state.q[2])),
        share_width_factor=float(np.exp(state.q[3])),
        stuffing_width=_theta(state.q),
        stealing_exponent=state.alpha,
        rmse=float(np.sqrt(np.sum((fitted - observed) ** 2) / nbins)),
        rmse_fair=float(np.sqrt(np.sum((fair - observed) ** 2) / nbins)),
        model_added_votes=float(added),
        model_added_share=float(added) / leader_total if leader_total > 0 else float("nan"),
        excluded_stations=excluded,
        bins=bins,
        observed=observed.reshape(bins, bins),
        fitted=fitted.reshape(bins, bins),
        fair=fair.reshape(bins, bins),
    )


@dataclass(frozen=True)
class _Variant:
    """One clean model fitted to the election, with its bootstrap intervals."""

    by_region: bool
    st: _Stations
    state: _State
    final: _Draws
    model: _Model
    observed: np.ndarray
    fit: _Fit
    intervals: tuple[float, float, float, float]
    spread: tuple[float, float, float, float]


def _fit_variant(
    data: StationArrays,
    ok: np.ndarray,
    bins: int,
    by_region: bool,
    resamples: int,
    seed: int | None,
    cross: bool = False,
) -> _Variant | None:
    """Fit one clean model (``None`` when turnout or share does not vary); ``cross``:
    on cross-conditioned blobs (:func:`_blobs`)."""
    st = _stations(data, ok, bins, by_region)
    weight = np.ones(st.n)
    blobs = _blobs(st, weight, cross)
    if not (np.all(blobs.turnout_sd > 0) and np.all(blobs.share_sd > 0)):
        return None
    observed = _histogram_cells(st.cell, weight, bins)
    pool = np.arange(st.n)
    # the fit's simulated stations come from fixed streams, one per start and one for the
    # judge: the answer is a function of the data alone (see _FIT_ENTROPY); ``seed`` drives
    # the bootstrap. The starts are independent: idle threads take them.
    children = np.random.SeedSequence(_FIT_ENTROPY).spawn(len(_START_WIDTHS) + 1)
    streams = [np.random.default_rng(child) for child in children]
    starts = run_chunks(
        [
            partial(_start, observed, st, blobs, pool, stream, bins, theta)
            for theta, stream in zip(_START_WIDTHS, streams, strict=False)
        ]
    )
    final = _draw(st, blobs, pool, _FINAL_POINTS, streams[-1])
    judged = []
    for candidate in starts:
        m = _simulate(final, candidate.q, candidate.alpha, bins)
        judged.append((_fit(m, observed), candidate, m))
    fit, state, model = min(judged, key=lambda j: j[0].sse)
    spread = (
        min(j[0].f_i for j in judged),
        max(j[0].f_i for j in judged),
        min(j[0].f_e for j in judged),
        max(j[0].f_e for j in judged),
    )
    # the same clean model and θ with the narrow extreme shape (see _NARROW_EXTREME)
    narrow = _fit(_simulate(final, state.q, state.alpha, bins, _NARROW_EXTREME), observed)
    boot = _bootstrap(st, state, bins, resamples, seed, cross)
    # the interval covers the bootstrap's, every start's and both shapes' answers
    intervals = (
        min(boot[0], spread[0], fit.f_i, narrow.f_i),
        max(boot[1], spread[1], fit.f_i, narrow.f_i),
        min(boot[2], spread[2], fit.f_e, narrow.f_e),
        max(boot[3], spread[3], fit.f_e, narrow.f_e),
    )
    return _Variant(by_region, st, state, final, model, observed, fit, intervals, spread)


def _start(
    observed: np.ndarray,
    st: _Stations,
    blobs: _Blobs,
    pool: np.ndarray,
    stream: np.random.Generator,
    bins: int,
    theta: float,
) -> _State:
    """One independent fit of the whole model from stuffing width ``theta``."""
    draws = _draw(st, blobs, pool, _SEARCH_POINTS, stream)
    return _fit_election(observed, draws, bins, theta)


def _widened(variant: _Variant, crossed: _Variant) -> _Variant:
    """``variant`` with its intervals spanning those of the fit on cross-conditioned blobs
    (see :func:`_blobs`): two defensible estimates of the clean blobs, one pulled by the
    stuffed stations, the other noisier; the interval says the model cannot choose."""
    a, b = variant.intervals, crossed.intervals
    intervals = (min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]))
    return dataclasses.replace(variant, intervals=intervals)


def _recipe(variant: _Variant) -> KlimekRecipe:
    f_i_lo, f_i_hi, f_e_lo, f_e_hi = variant.intervals
    return KlimekRecipe(
        name="regional" if variant.by_region else "pnas",
        f_i=variant.fit.f_i,
        f_e=variant.fit.f_e,
        interval={"f_i": (f_i_lo, f_i_hi), "f_e": (f_e_lo, f_e_hi)},
    )


def _not_applicable(
    n: int, excluded: int, resamples: int, seed: int | None, bins: int, by_region: bool, note: str
) -> KlimekResult:
    nan = float("nan")
    empty = np.zeros((0, 0))
    return KlimekResult.not_applicable(
        n,
        note,
        seed=seed,
        f_i=nan,
        f_e=nan,
        f_i_interval=(nan, nan),
        f_e_interval=(nan, nan),
        interval={"f_i": (nan, nan), "f_e": (nan, nan)},
        seed_spread={"f_i": (nan, nan), "f_e": (nan, nan)},
        recipes=(),
        resamples=resamples,
        by_region=by_region,
        regions=0,
        clean_turnout=nan,
        clean_turnout_sd=nan,
        clean_share=nan,
        clean_share_sd=nan,
        turnout_shift=nan,
        share_shift=nan,
        turnout_width_factor=nan,
        share_width_factor=nan,
        stuffing_width=nan,
        stealing_exponent=None,
        rmse=nan,
        rmse_fair=nan,
        model_added_votes=nan,
        model_added_share=nan,
        excluded_stations=excluded,
        bins=bins,
        observed=empty,
        fitted=empty,
        fair=empty,
    )


# --- the stations and their regional blobs ------------------------------------------------


def _stations(data: StationArrays, ok: np.ndarray, bins: int, by_region: bool) -> _Stations:
    reg = data.registered[ok].astype(np.float64)
    issued = np.minimum(data.issued[ok], data.registered[ok]).astype(np.float64)
    cast_ = data.cast[ok].astype(np.float64)
    leader = np.minimum(data.leader[ok], data.cast[ok]).astype(np.float64)
    # continuity-corrected logits: a station at 0 % or 100 % gets a finite coordinate
    lt = special.logit((issued + 0.5) / (reg + 1.0))
    ls = special.logit((leader + 0.5) / (cast_ + 1.0))
    if by_region:
        region = np.unique(data.region[ok], return_inverse=True)[1].astype(np.int64)
    else:
        region = np.zeros(len(reg), dtype=np.int64)
    regions = int(region.max()) + 1
    order = np.argsort(region, kind="stable")
    starts = np.searchsorted(region[order], np.arange(regions + 1)).astype(np.int64)
    turnout = np.clip(issued / reg, 0.0, 1.0)
    share = np.clip(leader / cast_, 0.0, 1.0)
    it = np.minimum((turnout * bins).astype(np.int64), bins - 1)
    js = np.minimum((share * bins).astype(np.int64), bins - 1)
    return _Stations(
        registered=reg,
        issued=issued,
        logit_turnout=lt,
        logit_share=ls,
        region=region,
        regions=regions,
        cell=it * bins + js,
        order=order,
        starts=starts,
        sorted_turnout=np.lexsort((lt, region)).astype(np.int64),
        sorted_share=np.lexsort((ls, region)).astype(np.int64),
    )


@_njit
def _group_quantiles(
    values: np.ndarray,
    weight: np.ndarray,
    order: np.ndarray,
    starts: np.ndarray,
    low: float = 0.25,
    high: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Weighted quantiles ``low`` ≤ ``high`` of ``values`` in each group (the first value
    whose cumulative weight reaches the level; by default the lower quartile and the
    median), and the group weights.

    ``order`` sorts the stations by (group, value); ``starts`` marks where groups begin.
    """
    groups = starts.shape[0] - 1
    q25 = np.zeros(groups)
    q50 = np.zeros(groups)
    total = np.zeros(groups)
    for g in range(groups):
        w = 0.0
        for k in range(starts[g], starts[g + 1]):
            w += weight[order[k]]
        total[g] = w
        if w <= 0.0:
            continue
        acc = 0.0
        found25 = False
        for k in range(starts[g], starts[g + 1]):
            i = order[k]
            acc += weight[i]
            if not found25 and acc >= low * w:
                q25[g] = values[i]
                found25 = True
            if acc >= high * w:
                q50[g] = values[i]
                break
    return q25, q50, total


def _blob_axis(
    values: np.ndarray,
    trials: np.ndarray,
    weight: np.ndarray,
    st: _Stations,
    order: np.ndarray,
    prior: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Regional centres (medians) and clean widths (left flank less binomial noise) of one
    logit coordinate, small regions shrunk towards the national figures or, given
    ``prior`` (each region's centre and width), towards those: a prior worth ``_SHRINK``
    stations either way."""
    q25, q50, count = _group_quantiles(values, weight, order, st.starts)
    width = (q50 - q25) / _QUARTILE
    p = special.expit(q50)
    # binomial noise on the logit scale, 1 / (N p (1 - p)), at the region's typical size
    inv_n = np.bincount(st.region, weights=weight / np.maximum(trials, 1.0), minlength=st.regions)
    inv_n = inv_n / np.maximum(count, 1e-12)
    noise = inv_n / np.maximum(p * (1 - p), 1e-6)
    clean_var = np.maximum(width**2 - noise, 0.25 * width**2)
    centre_to: float | np.ndarray
    var_to: float | np.ndarray
    if prior is None:
        total = count.sum()
        centre_to = float(np.sum(q50 * count) / total)
        var_to = float(np.sum(clean_var * count) / total)
    else:
        centre_to, var_to = prior[0], prior[1] ** 2
    keep = count / (count + _SHRINK)
    centre = keep * q50 + (1 - keep) * centre_to
    sd = np.sqrt(keep * clean_var + (1 - keep) * var_to)
    return centre, sd


def _blobs(st: _Stations, weight: np.ndarray, cross: bool = False) -> _Blobs:
    """Regional clean blobs from the stations' ``weight``.

    ``cross``: each coordinate's blob from the region's stations below the
    ``_CROSS_QUANTILE`` of the other coordinate. A clean station's turnout and share are
    independent, so that leaves the clean blob's law as it is, while stuffing, which
    raises both, is mostly left out (the plain blobs are pulled by the stuffed stations:
    with f_i = 0.2 injected, a fit on blobs from the truly clean stations found 0.15–0.21
    where the plain fit found 0.01–0.05). A third of the stations make noisier blobs,
    which a fit can read as fraud (mean f_i 0.055 on clean elections), so these serve
    only to widen the interval (:func:`_widened`). A small region's cross-conditioned
    blob is shrunk towards its own plain blob, not towards the national figures: with
    5,000 stations in 20 regions, shrunk towards the national figures, the interval was
    0.64 wide on clean elections (0.27 this way, the coverage the same), and Uganda 2016's
    (112 districts of 195 stations) read 0.02–0.78 (now 0.02–0.43)."""
    t, t_sd = _blob_axis(st.logit_turnout, st.registered, weight, st, st.sorted_turnout)
    s, s_sd = _blob_axis(st.logit_share, st.issued, weight, st, st.sorted_share)
    if cross:
        q = _CROSS_QUANTILE
        cut_t = _group_quantiles(st.logit_turnout, weight, st.sorted_turnout, st.starts, q, q)[1]
        cut_s = _group_quantiles(st.logit_share, weight, st.sorted_share, st.starts, q, q)[1]
        turnout_weight = weight * (st.logit_share <= cut_s[st.region])
        share_weight = weight * (st.logit_turnout <= cut_t[st.region])
        t, t_sd = _blob_axis(
            st.logit_turnout, st.registered, turnout_weight, st, st.sorted_turnout, (t, t_sd)
        )
        s, s_sd = _blob_axis(
            st.logit_share, st.issued, share_weight, st, st.sorted_share, (s, s_sd)
        )
    return _Blobs(turnout=t, turnout_sd=t_sd, share=s, share_sd=s_sd)


def _histogram_cells(cell: np.ndarray, weight: np.ndarray, bins: int) -> np.ndarray:
    h = np.bincount(cell, weights=weight, minlength=bins * bins)
    return np.asarray(h / h.sum())


# --- the simulated model --------------------------------------------------------------------


def _draw(
    st: _Stations, blobs: _Blobs, pool: np.ndarray, points: int, rng: np.random.Generator
) -> _Draws:
    """Simulated stations: all of ``pool`` (copied up to ``points``) or ``points`` from it."""
    if len(pool) >= points:
        pick = pool[rng.integers(0, len(pool), points)]
    else:
        pick = np.tile(pool, -(-points // len(pool)))
    r = st.region[pick]
    return _Draws(
        sizes=st.registered[pick],
        turnout=blobs.turnout[r],
        turnout_sd=blobs.turnout_sd[r],
        share=blobs.share[r],
        share_sd=blobs.share_sd[r],
        z=rng.standard_normal((7, len(pick))),
    )


def _njit_vector(fn: F) -> F:
    """A kernel LLVM can vectorise: numpy's error model (no Python check on each division,
    which keeps a loop from being vectorised), no GIL, cached."""
    return cast(F, numba.njit(cache=True, nogil=True, error_model="numpy")(fn))


def _inline(fn: F) -> F:
    return cast(F, numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")(fn))


@_inline
def _expit(x: float) -> float:  # pragma: no cover - compiled
    """``1 / (1 + e^-x)`` in plain arithmetic, so that the loop calling it vectorises
    (``math.exp`` is a library call, one station at a time). ``e^t = (e^(t/64))^64``: the
    Taylor polynomial of degree 16 on ``|t/64| ≤ 0.625`` (Horner's scheme, written out:
    a loop over the coefficients stops the vectorisation), squared six times; ``x`` is
    clipped to ±40, where the logistic is within 5e-18 of 0 or 1. Largest absolute error
    3e-15 (measured on a fine grid against ``scipy.special.expit``): on Russia 2024 the
    simulated fingerprints came out bit-identical to those with ``math.exp``."""
    t = -min(max(x, -40.0), 40.0) * (1.0 / 64.0)
    p = 1.0 / 20922789888000.0  # 1/16!
    p = p * t + 1.0 / 1307674368000.0
    p = p * t + 1.0 / 87178291200.0
    p = p * t + 1.0 / 6227020800.0
    p = p * t + 1.0 / 479001600.0
    p = p * t + 1.0 / 39916800.0
    p = p * t + 1.0 / 3628800.0
    p = p * t + 1.0 / 362880.0
    p = p * t + 1.0 / 40320.0
    p = p * t + 1.0 / 5040.0
    p = p * t + 1.0 / 720.0
    p = p * t + 1.0 / 120.0
    p = p * t + 1.0 / 24.0
    p = p * t + 1.0 / 6.0
    p = p * t + 0.5
    p = p * t + 1.0
    p = p * t + 1.0
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    return 1.0 / (1.0 + p)


@_inline
def _cell(turnout: float, share: float, bins: int) -> int:  # pragma: no cover - compiled
    it: int = min(int(turnout * bins), bins - 1)
    js: int = min(int(share * bins), bins - 1)
    return it * bins + js


@_njit_vector
def _simulate_cells(
    sizes: np.ndarray,
    centre_t: np.ndarray,
    sd_t: np.ndarray,
    centre_s: np.ndarray,
    sd_s: np.ndarray,
    z: np.ndarray,
    params: np.ndarray,
    bins: int,
    m: int,
    cells: np.ndarray,
    added: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Each simulated station clean, incrementally and extremely rigged: its fingerprint
    cell in each case (``cells``, ``(3, m)``; −1 when it casts no ballot) and the leader
    votes each fraud adds (``added``, ``(2, m)``), for the first ``m`` stations.

    Clean: logit-normal turnout ``a`` and share ``ν`` around the station's regional blob
    (shifted and widened by ``params``), ballots and leader votes with binomial noise
    (normal approximation, rounded, clipped). Rigged: a fraction of the non-voters
    stuffed — incremental ``x`` half-normal of width θ (redrawn once when ≥ 1, at most
    0.999), extreme ``y = 1 − |N(0, params[6])|`` — and ``frac**α`` of the others' votes
    moved to the leader (α = 1 or 2; α ≤ 0: none). Written without calls or early exits
    so that LLVM vectorises it; the histogram is filled apart (:func:`_simulate_kernel`).
    """
    theta = params[4]
    alpha = params[5]
    for j in range(m):
        n = sizes[j]
        a = _expit(centre_t[j] + params[0] + params[2] * sd_t[j] * z[0, j])
        v = _expit(centre_s[j] + params[1] + params[3] * sd_s[j] * z[1, j])
        issued = min(max(np.rint(n * a + math.sqrt(n * a * (1.0 - a)) * z[2, j]), 0.0), n)
        leader = np.rint(issued * v + math.sqrt(issued * v * (1.0 - v)) * z[3, j])
        leader = min(max(leader, 0.0), issued)
        voted = issued > 0.0
        divisor = issued if voted else 1.0
        cells[0, j] = _cell(issued / n, leader / divisor, bins) if voted else -1
        x = theta * abs(z[4, j])
        x = min(x if x < 1.0 else theta * abs(z[5, j]), 0.999)
        y = min(max(1.0 - params[6] * abs(z[6, j]), 0.0), 1.0)
        for kind in range(1, 3):
            frac = x if kind == 1 else y
            stuffed = np.rint(frac * (n - issued))
            moved = frac if alpha == 1.0 else frac * frac
            stolen = np.rint(moved * (issued - leader)) if alpha > 0.0 else 0.0
            new_issued = issued + stuffed
            new_leader = leader + stuffed + stolen
            new_divisor = new_issued if voted else 1.0
            cells[kind, j] = _cell(new_issued / n, new_leader / new_divisor, bins) if voted else -1
            # a product, not ``... if voted else 0.0``: that select kept the loop scalar (5×)
            added[kind - 1, j] = (new_leader - leader) * (1.0 if voted else 0.0)


@_njit_nogil
def _simulate_kernel(
    sizes: np.ndarray,
    centre_t: np.ndarray,
    sd_t: np.ndarray,
    centre_s: np.ndarray,
    sd_s: np.ndarray,
    z: np.ndarray,
    params: np.ndarray,
    bins: int,
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Clean, incremental and extreme fingerprints of each half of the simulated stations
    (``(3, 2, bins²)`` fractions of the stations binned) and the leader votes each fraud
    adds per simulated station.

    ``params`` = (turnout shift, share shift, turnout factor, share factor, θ, α; α ≤ 0
    means no stealing). One call for both halves: the evaluation is the fit's inner loop.
    The stations are simulated in a vectorised pass (:func:`_simulate_cells`) and binned
    in a second: 2.4× faster than one loop doing both (0.37 against 0.9 ms for 12,000
    stations on Russia 2024).
    """
    m = 2 * (sizes.shape[0] // 2)
    cells = np.empty((3, m), dtype=np.int64)
    each = np.empty((2, m))
    _simulate_cells(sizes, centre_t, sd_t, centre_s, sd_s, z, params, bins, m, cells, each)
    half = m // 2
    out = np.zeros((3, 2, bins * bins))
    for kind in range(3):
        for h in range(2):
            fingerprint = out[kind, h]
            binned = 0
            for j in range(h * half, (h + 1) * half):
                c = cells[kind, j]
                if c >= 0:
                    fingerprint[c] += 1.0
                    binned += 1
            if binned > 0:
                fingerprint /= binned
    added = np.array([each[0].sum(), each[1].sum()])
    return out, added / max(m, 1)


def _theta(q: np.ndarray) -> float:
    return min(max(math.exp(float(q[4])), _MIN_WIDTH), 1.0)


def _params(q: np.ndarray, alpha: float | None, extreme: float = _EXTREME_WIDTH) -> np.ndarray:
    """The kernel's parameters; it knows the stealing exponents 1 and 2 (``_ALPHAS``)."""
    assert alpha in _ALPHAS
    return np.array(
        [
            q[0], q[1], math.exp(q[2]), math.exp(q[3]), _theta(q),
            -1.0 if alpha is None else alpha, extreme,
        ]
    )  # fmt: skip


def _simulate(
    draws: _Draws, q: np.ndarray, alpha: float | None, bins: int, extreme: float = _EXTREME_WIDTH
) -> _Model:
    """Expected fingerprints of the clean, incremental and extreme models, from each half
    of the simulated stations separately; ``extreme``: the width of the extreme stuffing's
    shortfall, ``y = 1 − |N(0, extreme)|``."""
    h, added = _simulate_kernel(
        draws.sizes, draws.turnout, draws.turnout_sd, draws.share, draws.share_sd, draws.z,
        _params(q, alpha, extreme), bins,
    )  # fmt: skip
    return _Model(h[0], h[1], h[2], float(added[0]), float(added[1]))


def _national_clean(draws: _Draws, q: np.ndarray) -> tuple[float, float, float, float]:
    """National medians of the clean turnout and share and typical regional widths
    (proportion scale) of the fitted clean model."""
    t = np.median(draws.turnout) + q[0]
    s = np.median(draws.share) + q[1]
    pt, ps = float(special.expit(t)), float(special.expit(s))
    wt = float(np.median(draws.turnout_sd)) * math.exp(q[2]) * pt * (1 - pt)
    ws = float(np.median(draws.share_sd)) * math.exp(q[3]) * ps * (1 - ps)
    return pt, wt, ps, ws


def _search(
    observed: np.ndarray,
    draws: _Draws,
    start: np.ndarray,
    alpha: float | None,
    bins: int,
    steps: np.ndarray,
    budget: int,
) -> _State:
    """Least-squares corrections of the clean blobs and stuffing width for one stealing
    exponent (Nelder–Mead; ``f_i, f_e`` solved exactly inside). The criterion is a step
    function of the parameters (stations cross bin edges), which a derivative-free
    search tolerates; a Levenberg–Marquardt search on finite differences stalled."""

    def objective(q: np.ndarray) -> float:
        return _fit(_simulate(draws, q, alpha, bins), observed).sse

    simplex = np.vstack([start, start + np.diag(steps)])
    res = optimize.minimize(
        objective,
        start,
        method="Nelder-Mead",
        options={"initial_simplex": simplex, "xatol": 2e-3, "fatol": 1e-12, "maxfev": budget},
    )
    q = np.asarray(res.x, dtype=np.float64)
    fit = _fit(_simulate(draws, q, alpha, bins), observed)
    return _State(q, alpha, fit.f_i, fit.f_e, fit.sse)


def _uncorrected(theta: float) -> np.ndarray:
    """Search start: the blobs as estimated (no shifts, no width factors), stuffing width θ."""
    return np.array([0.0, 0.0, 0.0, 0.0, math.log(theta)])


def _fit_election(observed: np.ndarray, draws: _Draws, bins: int, theta0: float) -> _State:
    """The whole fit from the uncorrected blobs at ``θ = theta0``: corrections and ``θ``
    without stealing, then each stealing exponent is refined from there if it already fits
    better."""
    state = _search(observed, draws, _uncorrected(theta0), None, bins, _STEPS, _MAX_EVALUATIONS)
    for alpha in _ALPHAS[1:]:
        if _fit(_simulate(draws, state.q, alpha, bins), observed).sse < state.sse:
            refined = _search(observed, draws, state.q, alpha, bins, _REFINE_STEPS, _REFINE)
            if refined.sse < state.sse:
                state = refined
    return state


def _refit(observed: np.ndarray, draws: _Draws, alpha: float | None, bins: int) -> _State:
    """A bootstrap replicate's fit: from the uncorrected blobs at θ = 0.15 (between the
    full fit's starts), the full fit's stealing exponent ``alpha`` held, a smaller budget
    (``_BOOT_EVALUATIONS``)."""
    q0 = _uncorrected(0.15)
    return _search(observed, draws, q0, alpha, bins, _STEPS, _BOOT_EVALUATIONS)


# --- least squares over (f_i, f_e) ----------------------------------------------------------


def _solve(gram: np.ndarray, proj: np.ndarray, rr: float) -> tuple[float, float, float]:
    """Least squares of ``r ≈ f_i·d_i + f_e·d_e`` over the triangle f_i, f_e ≥ 0,
    f_i + f_e ≤ 1 (``gram``: 2×2 Gram matrix of (d_i, d_e); ``proj``: d·r; ``rr``: r·r).
    The minimum of a convex quadratic over a triangle is the interior solution or lies
    on an edge; every candidate is evaluated and the best kept."""
    g11, g12, g22 = float(gram[0, 0]), float(gram[0, 1]), float(gram[1, 1])
    p1, p2 = float(proj[0]), float(proj[1])

    def sse(fi: float, fe: float) -> float:
        return rr - 2 * (fi * p1 + fe * p2) + fi * fi * g11 + 2 * fi * fe * g12 + fe * fe * g22

    candidates = [(0.0, 0.0)]
    det = g11 * g22 - g12 * g12
    if det > 1e-18 * max(g11 * g22, 1e-300):
        fi, fe = (g22 * p1 - g12 * p2) / det, (g11 * p2 - g12 * p1) / det
        if fi >= 0 and fe >= 0 and fi + fe <= 1:
            candidates.append((fi, fe))
    if g11 > 0:  # edge f_e = 0
        candidates.append((min(max(p1 / g11, 0.0), 1.0), 0.0))
    if g22 > 0:  # edge f_i = 0
        candidates.append((0.0, min(max(p2 / g22, 0.0), 1.0)))
    gdd = g11 - 2 * g12 + g22  # edge f_i + f_e = 1: f_i = t, f_e = 1 - t
    if gdd > 0:
        t = min(max((p1 - p2 - g12 + g22) / gdd, 0.0), 1.0)
        candidates.append((t, 1 - t))
    best = min(candidates, key=lambda c: sse(*c))
    return best[0], best[1], sse(*best)


def _mixture(model: _Model, f_i: float, f_e: float) -> np.ndarray:
    return np.asarray(
        (1.0 - f_i - f_e) * model.mean("clean")
        + f_i * model.mean("incremental")
        + f_e * model.mean("extreme")
    )


def _fit(model: _Model, observed: np.ndarray) -> _Fit:
    """Least squares of ``observed ≈ mixture(f_i, f_e)`` with the Monte Carlo noise of
    the model taken out.

    The plain sum of squares rewards any mixture that averages the simulation's noise
    away (a little stuffing of every kind looks better than none); with two independent
    halves A, B of the simulation, ``(observed − M_A)·(observed − M_B)`` is an unbiased
    estimate of the noise-free criterion, and it is quadratic in ``(f_i, f_e)`` as well.
    """
    gram, proj, rr = _cross_products(model.clean, model.incremental, model.extreme, observed)
    fi, fe, s = _solve(gram, proj, rr)
    return _Fit(fi, fe, s)


@_njit_nogil
def _cross_products(
    clean: np.ndarray, incremental: np.ndarray, extreme: np.ndarray, observed: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:  # pragma: no cover - compiled
    """The least squares' Gram matrix, projection and ``r·r`` from the two halves A, B:
    with ``d = (inc − clean, ext − clean)`` and ``r = observed − clean``,
    ``gram = (d_A d_Bᵀ + d_B d_Aᵀ) / 2``, ``proj = (d_A r_B + d_B r_A) / 2``,
    ``rr = r_A · r_B`` — one pass in compiled code (numpy's version spent more time in
    Python than the simulation, once that was vectorised)."""
    gram = np.zeros((2, 2))
    proj = np.zeros(2)
    rr = 0.0
    for c in range(observed.shape[0]):
        ra = observed[c] - clean[0, c]
        rb = observed[c] - clean[1, c]
        ia = incremental[0, c] - clean[0, c]
        ib = incremental[1, c] - clean[1, c]
        ea = extreme[0, c] - clean[0, c]
        eb = extreme[1, c] - clean[1, c]
        gram[0, 0] += ia * ib
        gram[0, 1] += (ia * eb + ea * ib) / 2
        gram[1, 1] += ea * eb
        proj[0] += (ia * rb + ib * ra) / 2
        proj[1] += (ea * rb + eb * ra) / 2
        rr += ra * rb
    gram[1, 0] = gram[0, 1]
    return gram, proj, rr


# --- the bootstrap --------------------------------------------------------------------------


def _resample_within_regions(st: _Stations, rng: np.random.Generator) -> np.ndarray:
    """Indices of a bootstrap sample: each region's stations drawn with replacement."""
    sizes = np.diff(st.starts)
    region_of_slot = np.repeat(np.arange(st.regions), sizes)
    slot = st.starts[region_of_slot] + np.floor(rng.random(st.n) * sizes[region_of_slot])
    return np.asarray(st.order[slot.astype(np.int64)])


_BOOT_CHUNK = 5
"""Bootstrap replicates per task of :func:`~pollwatch.forensics.workers.run_chunks`: a
replicate is about 60 evaluations of the model (13 ms of CPU on Russia 2024), so a chunk is
long enough to be worth a thread and short enough that the last one leaves no core idle
for long."""


def _bootstrap(
    st: _Stations,
    state: _State,
    bins: int,
    resamples: int,
    seed: int | None,
    cross: bool = False,
) -> tuple[float, float, float, float]:
    """95 % percentile intervals of f_i and f_e over bootstrap replicates of the whole fit
    (regional blobs, corrections, ``θ``, ``f_i``, ``f_e``; fresh simulation noise each),
    each the union of the intervals with the paper's and the narrow extreme shape
    (``_NARROW_EXTREME``; the second re-solves ``f_i, f_e`` at the replicate's fit).

    Each replicate draws from its own generator spawned from ``seed``, and they run in
    chunks that idle threads take, so the answer does not depend on how many ran it."""
    streams = np.random.SeedSequence(seed).spawn(resamples)
    firsts = range(0, resamples, _BOOT_CHUNK)
    parts = run_chunks(
        [
            partial(_replicates, st, state, bins, streams[first : first + _BOOT_CHUNK], cross)
            for first in firsts
        ]
    )
    fits = np.concatenate(parts)
    lo = np.percentile(fits, 2.5, axis=0)
    hi = np.percentile(fits, 97.5, axis=0)
    return (
        float(min(lo[0], lo[2])),
        float(max(hi[0], hi[2])),
        float(min(lo[1], lo[3])),
        float(max(hi[1], hi[3])),
    )


def _replicates(
    st: _Stations,
    state: _State,
    bins: int,
    streams: list[np.random.SeedSequence],
    cross: bool = False,
) -> np.ndarray:
    """``(len(streams), 4)``: f_i and f_e of one bootstrap replicate per stream, with the
    paper's extreme shape and with the narrow one."""
    out = np.empty((len(streams), 4))
    for b, stream in enumerate(streams):
        rng = np.random.default_rng(stream)
        pick = _resample_within_regions(st, rng)
        weight = np.bincount(pick, minlength=st.n).astype(np.float64)
        blobs = _blobs(st, weight, cross)
        observed = _histogram_cells(st.cell, weight, bins)
        draws = _draw(st, blobs, pick, _SEARCH_POINTS, rng)
        fit = _refit(observed, draws, state.alpha, bins)
        narrow = _fit(_simulate(draws, fit.q, fit.alpha, bins, _NARROW_EXTREME), observed)
        out[b] = fit.f_i, fit.f_e, narrow.f_i, narrow.f_e
    return out
