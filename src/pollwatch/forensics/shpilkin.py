"""Shpilkin's estimate of anomalous votes from the turnout distribution of the votes.

Why
---
Ballot stuffing and protocol rewriting add votes for the leader *and* raise turnout, so
stuffed stations pile up at high turnout with an inflated leader's share. Shpilkin's
method (the "Kiesling–Shpilkin" method of Russian election analysis) sums votes in 1 %
turnout bins and assumes the other candidates' votes are clean: their distribution over
turnout shows what honest voting looks like. The leader's clean curve is the others'
curve scaled by the leader/others ratio ρ of a clean reference region; the leader's votes
above that curve, at turnouts above the reference, are counted as anomalous.

Estimate
--------
* Region by region (``by_region=True``, the default; regions with fewer than 100 usable
  stations are pooled into one group): per 1 % turnout bin ``b`` (``[b, b+1) %``,
  turnout = issued / registered, >100 % put in the last bin) the leader's votes ``L_b``
  and the others' ballots ``O_b`` (cast − leader's). Regions differ in turnout and in the
  leader's share; pooled nationally, a chance (or cultural) link between the two across
  regions reads as fraud — on synthetic clean elections with 20 heterogeneous regions the
  national figure's error had a standard deviation of 3 % of the leader's votes, the
  region-by-region one 0.2 %.
* ρ_r = ΣL / ΣO over the region's reference bins (a ratio of sums, not per bin), and
  ``A_r = Σ_{b above the reference} (L_b − ρ_r O_b)``, *signed*: bins where the leader falls
  short offset bins where it gains, so noise averages out instead of adding up (the
  former per-bin clipping ``max(·, 0)`` gave +0.7 % of the leader's votes on clean
  elections and an interval excluding 0 on 55 of 60 of them). ``A = Σ_r A_r``. For
  ``peak`` the sum equals ``ΣL − ρ ΣO`` of the region, since the reference bins balance.
* Reference regions (``reference=``), since published estimates differ mainly by this
  choice (all are reported in ``sensitivity``):

  - ``"peak"`` (Shpilkin's choice, the default): every bin up to and including the mode of
    the others' curve (smoothed over ±2 bins); anomalies counted in every bin above it.
  - ``"band"``: a 5 % band centred on that mode; anomalies above the band.
  - ``"core"``: the others'-vote-weighted median ± IQR/1.349 (σ of a normal law) of
    turnout, with fractional edge bins; anomalies in the 1 % bins above it.
  - ``"trend"``: ρ(t) = L_b/O_b fitted as a straight line (others-weighted least squares)
    over the ``peak`` region and read at the 5th percentile of the others'-weighted
    turnout, where the fewest stuffed stations sit; anomalies counted from that bin on.

* ``corrected_turnout``/``corrected_share``: turnout and leader's share with the anomalous
  votes taken out of ballots issued, ballots cast and the leader's votes.
* Interval: a bootstrap over stations, 2.5 and 97.5 percentiles of the signed estimate,
  every region and reference re-estimated per resample. It is the Poisson bootstrap (each
  station counted ``w ~ Poisson(1)`` times; Hanley & MacGibbon 2006) on region × 1 % bin
  cells: a cell with at least 10 stations has its two vote sums drawn from the normal law
  with their exact bootstrap mean and covariance, stations of sparser cells get their own
  weights. On the 2024 election (92,000 stations, 84 groups) 10,000 resamples take about
  3 s. The interval reflects the sampling of stations only, not the choice of reference
  or model error.

Measured on synthetic elections (:func:`pollwatch.forensics.synthetic.synthetic_election`,
20 regions, 20,000 stations, 10 elections each, 200 resamples)
-------------------------------------------------------------------------------------------
========================== ========= ======== ======== ========
fraud (fraction recovered) ``peak``  ``band`` ``core`` ``trend``
========================== ========= ======== ======== ========
clean (% of leader votes)  −0.04 %   +0.11 %  +0.02 %  +0.06 %
incremental f_i = 0.1      0.65      0.57     0.44     0.91
incremental f_i = 0.2      0.64      0.55     0.38     0.86
incremental f_i = 0.4      0.57      0.44     0.27     0.81
extreme f_e = 0.03         1.00      1.03     1.01     1.02
extreme f_e = 0.1          1.00      1.01     1.00     1.01
========================== ========= ======== ======== ========

Interval excluding 0 on clean elections of 4,000 stations: 0 of 60 (``peak``), 5 (``band``),
4 (``core``), 0 (``trend``); on 20 elections with 20 % of stations stuffed: 20 of 20.

The method is a *lower bound* under incremental stuffing: a station stuffed mildly moves
only a little to the right, so stuffed stations also sit in the reference region, raise
ρ and hide part of the fraud (about a third with ``peak``, see the table). ``trend``
corrects most of that by assuming the contamination grows linearly with turnout, at twice
the noise (standard deviation on clean elections 0.5 % of the leader's votes against
0.2 %) and at the cost of reading genuine turnout–share trends inside regions as fraud.
Stuffing of nearly all non-voters (extreme fraud) lands far above the reference and is
fully counted.

Assumptions and limits
----------------------
The others' votes must be clean and, within a region, the leader's clean share must not
depend on turnout. Where honest high-turnout areas (villages, closed institutions) favour
the leader within a region, the estimate counts their surplus as anomalous; where fraud
also removed the others' votes or took place below the reference turnout, it is missed.
Treat the figure as an order of magnitude and read it with the sensitivity list.

When it does not apply
----------------------
Fewer than 50 usable stations (registered > 0, ballots cast > 0, leader ≤ cast), or no
votes for anyone but the leader.

References
----------
Hanley, J. A. & MacGibbon, B. (2006). Creating non-parametric bootstrap samples using
Poisson frequencies. *Computer Methods and Programs in Biomedicine* 83(1), 57–62.

Shpilkin, S. (2009). Статистическое исследование результатов российских выборов
2007–2009 гг. [A statistical study of the results of Russian elections 2007–2009].
*Troitsky Variant* 21(40), 2–4.

Kobak, D., Shpilkin, S. & Pshenichnikov, M. S. (2012). Statistical anomalies in 2011–2012
Russian elections revealed by 2D correlation analysis. arXiv:1205.0741.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from typing import ClassVar

import numba
import numpy as np

from pollwatch.forensics._kernels import normal_pair, poisson_one
from pollwatch.forensics.data import StationArrays
from pollwatch.forensics.params import check_choice, check_flag, check_int, check_seed
from pollwatch.forensics.result import MethodResult
from pollwatch.forensics.workers import run_chunks

__all__ = [
    "RECIPES",
    "REFERENCES",
    "ShpilkinEstimate",
    "ShpilkinRecipe",
    "ShpilkinRegion",
    "ShpilkinResult",
    "shpilkin",
]

REFERENCES: dict[str, int] = {"peak": 0, "band": 1, "core": 2, "trend": 3}
"""Reference-region choices and their kernel codes."""

N_BINS = 100
"""1 % turnout bins."""
TREND_QUANTILE = 0.05
"""``trend`` reads the clean ratio at this quantile of the others'-vote-weighted turnout."""
PEAK_HEIGHT = 0.5
"""A local maximum of the smoothed others' curve lower than this fraction of its highest
value is noise, not the clean peak (Russia 2024 has one at 40 % turnout, 0.13 high)."""
FIRST_PEAK = 4
"""Kernel code of the ``shpilkin`` recipe's reference: bins up to the lowest-turnout peak."""
MIN_STATIONS = 50
MIN_REGION = 100
"""Regions with fewer usable stations are pooled into one group."""
DENSE_CELL = 10
"""Bootstrap cells (region × 1 % bin) with at least this many stations are drawn as a whole."""
POOLED = "(regions with fewer than 100 stations, pooled)"
"""The ``region`` of the pooled small regions' entry in ``ShpilkinResult.regions``."""
RECIPES: dict[str, str] = {
    "shpilkin": "Shpilkin's own: one national curve of 1 % turnout bins; the leader's votes "
    "against the sum of the other candidates' votes; clean ratio ρ = ΣL / ΣO over the bins up "
    "to the lowest-turnout peak of the others' curve (smoothed over ±2 bins); anomalous votes "
    "= Σ (L − ρ·O) over the bins above it.",
    "regional": "Every region (≥ 100 stations; smaller ones pooled) its own curve and its own "
    "peak reference; the others are every ballot cast not for the leader; the regions' "
    "excesses summed.",
}
"""The recipes in ``ShpilkinResult.recipes``, by stable name, and what each assumes."""
NATIONAL = "(all stations)"
"""The ``region`` of the one entry of ``ShpilkinResult.regions`` when ``by_region=False``."""


@numba.njit(cache=True, nogil=True)
def _smooth(oth: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out``: the others' curve averaged over ±2 bins (a spike at one whole percentage
    cannot pose as a peak)."""
    n = oth.shape[0]
    for c in range(n):
        lo = max(0, c - 2)
        hi = min(n, c + 3)
        acc = 0.0
        for b in range(lo, hi):
            acc += oth[b]
        out[c] = acc / (hi - lo)
    return out


@numba.njit(cache=True, nogil=True)
def _first_peak(s: np.ndarray) -> int:
    """The lowest-turnout peak of the smoothed others' curve ``s``: the first local maximum
    at least ``PEAK_HEIGHT`` of the curve's highest value (lower bumps are the sparse tail).

    Where stuffing moved so many stations that the others' curve has a second, higher
    peak at high turnout (Russia 2024: 62 % and 82 %), Shpilkin's clean reference is the
    first one; the global mode would take the stuffed one.
    """
    n = s.shape[0]
    floor = PEAK_HEIGHT * s.max()
    for c in range(n):
        left = s[c - 1] if c > 0 else -1.0
        right = s[c + 1] if c < n - 1 else -1.0
        if s[c] > 0.0 and s[c] >= floor and s[c] > left and s[c] >= right:
            return c
    return int(np.argmax(s))


@numba.njit(cache=True, nogil=True)
def _quantile(weights: np.ndarray, q: float, total: float) -> float:
    """Weighted quantile of turnout in bin units, linear within bins (``total``: the sum
    of ``weights``)."""
    target = q * total
    acc = 0.0
    for b in range(weights.shape[0]):
        w = weights[b]
        if w > 0.0 and acc + w >= target:
            return float(b + (target - acc) / w)
        acc += w
    return float(weights.shape[0])


@numba.njit(cache=True, nogil=True)
def _group_estimate(
    lead: np.ndarray, oth: np.ndarray, reference: int
) -> tuple[float, float, float]:
    """Signed excess of the leader over ρ × others above one group's reference turnout.

    Returns (anomalous votes, reference turnout, ρ); ρ is NaN (and the excess 0) when the
    reference region holds no votes for the others.
    """
    s = _smooth(oth, np.empty(oth.shape[0]))
    return _estimate(lead, oth, reference, s, int(np.argmax(s)), oth.sum())


@numba.njit(cache=True, nogil=True)
def _estimate(
    lead: np.ndarray, oth: np.ndarray, reference: int, s: np.ndarray, mode: int, total: float
) -> tuple[float, float, float]:
    """:func:`_group_estimate` given the smoothed others' curve ``s``, its mode and the
    others' total (shared by the references, so the bootstrap computes them once)."""
    n = lead.shape[0]
    num = 0.0
    den = 0.0
    if reference == 2:  # core: others-weighted median ± IQR/1.349 (σ of a normal law)
        med = _quantile(oth, 0.5, total)
        half = max((_quantile(oth, 0.75, total) - _quantile(oth, 0.25, total)) / 1.349, 0.5)
        lo = med - half
        hi = med + half
        for b in range(n):
            overlap = min(b + 1.0, hi) - max(float(b), lo)
            if overlap > 0.0:
                num += overlap * lead[b]
                den += overlap * oth[b]
        first = math.ceil(hi - 1e-9)
    elif reference == 3:  # trend: ρ(t) over the peak region, read at the low-turnout edge
        for b in range(mode + 1):
            num += lead[b]
            den += oth[b]
        if den <= 0.0:
            return 0.0, 0.0, np.nan
        mean_x = 0.0
        for b in range(mode + 1):
            mean_x += (b + 0.5) * oth[b]
        mean_x /= den
        sxy = 0.0
        sxx = 0.0
        for b in range(mode + 1):
            if oth[b] > 0.0:
                dx = b + 0.5 - mean_x
                sxy += dx * (lead[b] - num / den * oth[b])
                sxx += dx * dx * oth[b]
        slope = sxy / sxx if sxx > 0.0 else 0.0
        edge = _quantile(oth, TREND_QUANTILE, total)
        rho = num / den + slope * (edge - mean_x)
        first = min(int(edge), n - 1)
        excess = 0.0
        for b in range(first, n):
            excess += lead[b] - rho * oth[b]
        return excess, first / n, rho
    else:  # peak (0), band (1) or first peak (4), around a peak of the others' curve
        if reference == FIRST_PEAK:
            mode = _first_peak(s)
        lo_bin = max(0, mode - 2) if reference == 1 else 0
        hi_bin = min(n, mode + 3) if reference == 1 else mode + 1
        for b in range(lo_bin, hi_bin):
            num += lead[b]
            den += oth[b]
        first = hi_bin
    first = min(max(first, 0), n)
    if den <= 0.0:
        return 0.0, first / n, np.nan
    rho = num / den
    excess = 0.0
    for b in range(first, n):
        excess += lead[b] - rho * oth[b]
    return excess, first / n, rho


@numba.njit(cache=True, nogil=True)
def _bootstrap_kernel(
    cell: np.ndarray,
    leader: np.ndarray,
    others: np.ndarray,
    n_groups: int,
    resamples: int,
    seed: int,
    dense: int,
    codes: np.ndarray,
) -> np.ndarray:
    """Poisson-bootstrap replicates of the summed signed excess, one column per reference
    kernel code in ``codes``.

    Each station enters a resample ``w ~ Poisson(1)`` times (Hanley & MacGibbon 2006).
    A cell (group × 1 % bin) with at least ``dense`` stations is drawn as a whole: its pair
    of sums from the bivariate normal with the exact bootstrap mean (ΣL, ΣO) and covariance
    (ΣL², ΣLO; ΣLO, ΣO²); stations of sparser cells get their own weights.
    """
    state = np.uint64(seed)
    n_cells = n_groups * N_BINS
    count = np.zeros(n_cells, dtype=np.int64)
    s_l = np.zeros(n_cells)
    s_o = np.zeros(n_cells)
    q_ll = np.zeros(n_cells)
    q_lo = np.zeros(n_cells)
    q_oo = np.zeros(n_cells)
    for i in range(cell.shape[0]):
        c = cell[i]
        count[c] += 1
        s_l[c] += leader[i]
        s_o[c] += others[i]
        q_ll[c] += leader[i] * leader[i]
        q_lo[c] += leader[i] * others[i]
        q_oo[c] += others[i] * others[i]
    a_ll = np.sqrt(q_ll)
    a_lo = np.zeros(n_cells)
    a_oo = np.zeros(n_cells)
    for c in range(n_cells):
        a_lo[c] = q_lo[c] / a_ll[c] if a_ll[c] > 0.0 else 0.0
        a_oo[c] = math.sqrt(max(q_oo[c] - a_lo[c] * a_lo[c], 0.0))
    dense_cells = np.flatnonzero(count >= dense)
    sparse = np.flatnonzero(count[cell] < dense)
    sparse = sparse[np.argsort(cell[sparse], kind="mergesort")]  # a cell's stations together
    sparse_cell = cell[sparse]
    sparse_l = leader[sparse]
    sparse_o = others[sparse]
    out = np.zeros((resamples, codes.shape[0]))
    lead = np.zeros(n_cells)
    oth = np.zeros(n_cells)
    smooth = np.empty(N_BINS)
    for r in range(resamples):
        lead[:] = 0.0
        oth[:] = 0.0
        for c in dense_cells:
            z1, z2, state = normal_pair(state)
            lead[c] = max(s_l[c] + a_ll[c] * z1, 0.0)
            oth[c] = max(s_o[c] + a_lo[c] * z1 + a_oo[c] * z2, 0.0)
        for t in range(sparse.shape[0]):
            w, state = poisson_one(state)  # adding 0 for w = 0 beats a branch
            lead[sparse_cell[t]] += w * sparse_l[t]
            oth[sparse_cell[t]] += w * sparse_o[t]
        for g in range(n_groups):
            row_l = lead[g * N_BINS : (g + 1) * N_BINS]
            row_o = oth[g * N_BINS : (g + 1) * N_BINS]
            _smooth(row_o, smooth)
            mode = int(np.argmax(smooth))
            total = row_o.sum()
            for k in range(codes.shape[0]):
                out[r, k] += _estimate(row_l, row_o, codes[k], smooth, mode, total)[0]
    return out


BOOTSTRAP_CHUNK = 500
"""Bootstrap draws per task (four at the registry's cap of 2,000), so idle cores share
them (:func:`~pollwatch.forensics.workers.run_chunks`)."""


def _bootstrap(
    cell: np.ndarray,
    leader: np.ndarray,
    others: np.ndarray,
    n_groups: int,
    resamples: int,
    seed: int,
    dense: int,
    codes: np.ndarray,
) -> np.ndarray:
    """:func:`_bootstrap_kernel`'s replicates in chunks of :data:`BOOTSTRAP_CHUNK` draws,
    each with its own generator seeded by ``seed`` and its index (the same replicates
    however many cores draw them)."""
    starts = range(0, resamples, BOOTSTRAP_CHUNK)
    parts = run_chunks(
        [
            partial(
                _bootstrap_kernel,
                cell,
                leader,
                others,
                n_groups,
                min(BOOTSTRAP_CHUNK, resamples - first),
                int(np.random.SeedSequence([seed, k]).generate_state(1, np.uint64)[0] >> 1),
                dense,
                codes,
            )
            for k, first in enumerate(starts)
        ]
    )
    return np.concatenate(parts) if parts else np.zeros((0, codes.shape[0]))


def _groups(
    region: np.ndarray, names: tuple[str, ...], by_region: bool
) -> tuple[np.ndarray, list[str]]:
    """Group index per station: one per region with ≥ MIN_REGION stations, the rest pooled."""
    if not by_region:
        return np.zeros(len(region), dtype=np.int64), [NATIONAL]
    codes, counts = np.unique(region, return_counts=True)
    big = codes[counts >= MIN_REGION]
    lookup = np.full(int(region.max()) + 1, len(big), dtype=np.int64)
    lookup[big] = np.arange(len(big))
    labels = [names[c] if c < len(names) else str(c) for c in big]
    group = lookup[region]
    if (group == len(big)).any():
        labels.append(POOLED)
    return group, labels


@dataclass(frozen=True)
class ShpilkinEstimate:
    """Anomalous votes under one choice of clean reference region."""

    reference: str
    anomalous_votes: float
    interval: tuple[float, float]
    reference_turnout: float
    reference_share: float


@dataclass(frozen=True)
class ShpilkinRecipe:
    """One published way of computing the figure, named so that it can be set beside
    the figure a journalist reads elsewhere (:data:`RECIPES` says what each assumes)."""

    name: str
    anomalous_votes: float
    interval: tuple[float, float]
    reference_turnout: float
    reference_share: float


@dataclass(frozen=True)
class ShpilkinRegion:
    """One region's (or the pooled small regions') part of the headline estimate."""

    region: str
    stations: int
    leader_votes: int
    anomalous_votes: float
    reference_turnout: float
    reference_share: float


@dataclass(frozen=True)
class ShpilkinResult(MethodResult):
    """Shpilkin's estimate of the leader's anomalous votes.

    Attributes
    ----------
    reference_choice:
        The reference region used for the headline figure (``peak``, ``band``, ``core``).
    by_region:
        Whether each region got its own clean reference (the default) or the election one.
    anomalous_votes, interval:
        Leader's votes above the clean curve (signed sum over the bins above each
        region's reference turnout, summed over regions), and its 95 % bootstrap
        percentile interval.
    reference_turnout:
        Turnout above which anomalies are counted: the others'-vote-weighted mean of the
        regions' reference turnouts.
    reference_share:
        The leader's clean share implied by the regions' clean ratios, ρ / (1 + ρ) with
        ρ = Σ ρ_r O_r / Σ O_r.
    leader_votes, anomalous_fraction:
        The leader's official votes at the stations used, and anomalous / official.
    corrected_turnout, corrected_share:
        Turnout and share with the anomalous votes removed.
    sensitivity:
        The same estimate under every reference choice.
    recipes:
        The published recipes side by side (:data:`RECIPES`): ``shpilkin`` (Shpilkin's own,
        national) and ``regional`` (a peak reference per region).
    regions:
        The headline estimate region by region.
    resamples, n_used, n_excluded:
        Bootstrap resamples; stations used and left out.
    turnout_bins, leader_curve, others_curve, clean_leader_curve:
        For the plot (not in JSON): 1 % bin lower edges, votes per bin, and Σ_r ρ_r × the
        region's others' votes per bin.
    """

    method: ClassVar[str] = "shpilkin"
    reference: ClassVar[str] = (
        "Shpilkin, S. (2009). Statistical study of the results of Russian elections "
        "2007-2009. Troitsky Variant 21(40), 2-4; see also Kobak, D., Shpilkin, S. & "
        "Pshenichnikov, M. S. (2012). Statistical anomalies in 2011-2012 Russian "
        "elections revealed by 2D correlation analysis. arXiv:1205.0741"
    )

    reference_choice: str
    by_region: bool
    anomalous_votes: float
    interval: tuple[float, float]
    reference_turnout: float
    reference_share: float
    leader_votes: int
    anomalous_fraction: float
    corrected_turnout: float
    corrected_share: float
    sensitivity: tuple[ShpilkinEstimate, ...]
    recipes: tuple[ShpilkinRecipe, ...]
    regions: tuple[ShpilkinRegion, ...]
    resamples: int
    n_used: int
    n_excluded: int
    turnout_bins: np.ndarray = field(metadata={"json": False}, repr=False)
    leader_curve: np.ndarray = field(metadata={"json": False}, repr=False)
    others_curve: np.ndarray = field(metadata={"json": False}, repr=False)
    clean_leader_curve: np.ndarray = field(metadata={"json": False}, repr=False)


def _not_applicable(
    data: StationArrays,
    note: str,
    reference: str,
    by_region: bool,
    resamples: int,
    seed: int | None,
    n_used: int,
) -> ShpilkinResult:
    nan = float("nan")
    empty = np.zeros(N_BINS)
    return ShpilkinResult.not_applicable(
        data.n,
        note,
        seed=seed,
        reference_choice=reference,
        by_region=by_region,
        anomalous_votes=nan,
        interval=(nan, nan),
        reference_turnout=nan,
        reference_share=nan,
        leader_votes=0,
        anomalous_fraction=nan,
        corrected_turnout=nan,
        corrected_share=nan,
        sensitivity=(),
        recipes=(),
        regions=(),
        resamples=resamples,
        n_used=n_used,
        n_excluded=data.n - n_used,
        turnout_bins=np.arange(N_BINS) / 100.0,
        leader_curve=empty,
        others_curve=empty,
        clean_leader_curve=empty,
    )


@dataclass(frozen=True)
class _Fit:
    """One reference choice fitted region by region."""

    anomalous: np.ndarray  # per group
    ref_turnout: np.ndarray
    rho: np.ndarray


def _fit(lead_cells: np.ndarray, others_cells: np.ndarray, code: int) -> _Fit:
    parts = [_group_estimate(lead_cells[g], others_cells[g], code) for g in range(len(lead_cells))]
    return _Fit(*(np.array(column, dtype=np.float64) for column in zip(*parts, strict=True)))


def _national(fit: _Fit, others_cells: np.ndarray) -> tuple[float, float]:
    """Reference turnout and clean share of the whole election from the regions' fits."""
    weight = others_cells.sum(axis=1)
    ok = np.isfinite(fit.rho)
    if not ok.any() or weight[ok].sum() <= 0:
        return float("nan"), float("nan")
    rho = float((fit.rho[ok] * weight[ok]).sum() / weight[ok].sum())
    turnout = float((fit.ref_turnout[ok] * weight[ok]).sum() / weight[ok].sum())
    return turnout, rho / (1.0 + rho)


def _shpilkin_recipe(
    turnout_bin: np.ndarray, lead: np.ndarray, others: np.ndarray, resamples: int, seed: int
) -> ShpilkinRecipe:
    """Shpilkin's own recipe: one national curve, reference up to its lowest-turnout peak."""
    lead_bins = np.bincount(turnout_bin, weights=lead, minlength=N_BINS)
    others_bins = np.bincount(turnout_bin, weights=others, minlength=N_BINS)
    excess, ref_turnout, rho = _group_estimate(lead_bins, others_bins, FIRST_PEAK)
    boot = _bootstrap(
        turnout_bin,
        lead,
        others,
        1,
        resamples,
        int(seed),
        DENSE_CELL,
        np.array([FIRST_PEAK], dtype=np.int64),
    )
    low, high = np.percentile(boot[:, 0], [2.5, 97.5])
    return ShpilkinRecipe(
        "shpilkin", float(excess), (float(low), float(high)), ref_turnout, rho / (1.0 + rho)
    )


def _regional_recipe(
    region: np.ndarray,
    names: tuple[str, ...],
    turnout_bin: np.ndarray,
    lead: np.ndarray,
    others: np.ndarray,
    resamples: int,
    seed: int,
) -> ShpilkinRecipe:
    """The ``regional`` recipe when the headline was asked for nationally."""
    group, labels = _groups(region, names, by_region=True)
    n_groups = len(labels)
    cell = group * N_BINS + turnout_bin
    lead_cells = np.bincount(cell, weights=lead, minlength=n_groups * N_BINS)
    others_cells = np.bincount(cell, weights=others, minlength=n_groups * N_BINS)
    others_cells = others_cells.reshape(n_groups, N_BINS)
    fit = _fit(lead_cells.reshape(n_groups, N_BINS), others_cells, REFERENCES["peak"])
    boot = _bootstrap(
        cell,
        lead,
        others,
        n_groups,
        resamples,
        int(seed),
        DENSE_CELL,
        np.array([REFERENCES["peak"]], dtype=np.int64),
    )
    low, high = np.percentile(boot[:, 0], [2.5, 97.5])
    ref_turnout, ref_share = _national(fit, others_cells)
    return ShpilkinRecipe(
        "regional", float(fit.anomalous.sum()), (float(low), float(high)), ref_turnout, ref_share
    )


def shpilkin(
    data: StationArrays,
    *,
    reference: str = "peak",
    by_region: bool = True,
    resamples: int = 1000,
    seed: int | None = 0,
) -> ShpilkinResult:
    """Estimate the leader's anomalous votes by Shpilkin's method.

    Parameters
    ----------
    data:
        Per-station counts.
    reference:
        Clean reference region for the headline figure: ``"peak"`` (bins up to the mode
        of the others' turnout distribution; Shpilkin's choice), ``"band"`` (5 % band
        around the mode) or ``"core"`` (median ± IQR/1.349 of turnout).
    by_region:
        Give each region (with at least 100 usable stations; smaller ones pooled) its own
        clean reference and sum (default), or use one reference for the whole election
        (the classic national figure, confounded by regional differences).
    resamples:
        Bootstrap resamples for the interval.
    seed:
        Seed of the bootstrap (``None``: fresh entropy).

    Returns
    -------
    ShpilkinResult
        Anomalous votes, interval, reference turnout and share, sensitivity to the
        reference choice, the regions' parts, and the curves for the plot.

    Examples
    --------
    >>> from pollwatch.forensics.data import StationArrays
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> reg = rng.integers(800, 2500, 3000)
    >>> iss = rng.binomial(reg, rng.beta(30, 20, 3000))
    >>> data = StationArrays.from_counts(reg, iss, iss, rng.binomial(iss, 0.6))
    >>> result = shpilkin(data, resamples=200)
    >>> bool(result.interval[0] <= 0 <= result.interval[1])
    True
    """
    reference = check_choice("shpilkin", "reference", reference, REFERENCES)
    resamples = check_int("shpilkin", "resamples", resamples)
    seed = check_seed("shpilkin", seed)
    by_region = check_flag("shpilkin", "by_region", by_region)
    usable = (data.registered > 0) & (data.cast > 0) & (data.leader <= data.cast)
    n_used = int(usable.sum())
    args = (reference, by_region, int(resamples), seed)
    if n_used < MIN_STATIONS:
        note = f"Only {n_used} usable stations (at least {MIN_STATIONS} needed)."
        return _not_applicable(data, note, *args, n_used)
    reg = data.registered[usable]
    iss = data.issued[usable]
    cast = data.cast[usable]
    lead = data.leader[usable].astype(np.float64)
    others = (cast - data.leader[usable]).astype(np.float64)
    if others.sum() <= 0:
        return _not_applicable(data, "Nobody but the leader received a vote.", *args, n_used)
    group, labels = _groups(data.region[usable], data.region_names, by_region)
    n_groups = len(labels)
    turnout_bin = np.minimum(N_BINS * iss // reg, N_BINS - 1)
    cell = group * N_BINS + turnout_bin
    lead_cells = np.bincount(cell, weights=lead, minlength=n_groups * N_BINS)
    others_cells = np.bincount(cell, weights=others, minlength=n_groups * N_BINS)
    lead_cells = lead_cells.reshape(n_groups, N_BINS)
    others_cells = others_cells.reshape(n_groups, N_BINS)
    seeds = np.random.default_rng(seed).integers(1, 2**63 - 1, size=2)
    codes = np.array(list(REFERENCES.values()), dtype=np.int64)
    boot = _bootstrap(
        cell, lead, others, n_groups, int(resamples), int(seeds[0]), DENSE_CELL, codes
    )
    fits = {name: _fit(lead_cells, others_cells, code) for name, code in REFERENCES.items()}
    sensitivity = []
    for name, code in REFERENCES.items():
        low, high = np.percentile(boot[:, code], [2.5, 97.5])
        ref_turnout, ref_share = _national(fits[name], others_cells)
        sensitivity.append(
            ShpilkinEstimate(
                reference=name,
                anomalous_votes=float(fits[name].anomalous.sum()),
                interval=(float(low), float(high)),
                reference_turnout=ref_turnout,
                reference_share=ref_share,
            )
        )
    chosen = next(s for s in sensitivity if s.reference == reference)
    candidates = data.votes[usable].sum(axis=1).astype(np.float64)
    national = _shpilkin_recipe(turnout_bin, lead, candidates - lead, int(resamples), seeds[1])
    if by_region:
        peak = next(s for s in sensitivity if s.reference == "peak")
        regional = ShpilkinRecipe(
            "regional",
            peak.anomalous_votes,
            peak.interval,
            peak.reference_turnout,
            peak.reference_share,
        )
    else:
        regional = _regional_recipe(
            data.region[usable], data.region_names, turnout_bin, lead, others, resamples, seeds[1]
        )
    fit = fits[reference]
    stations = np.bincount(group, minlength=n_groups)
    leader_by_group = lead_cells.sum(axis=1)
    regions = tuple(
        ShpilkinRegion(
            region=labels[g],
            stations=int(stations[g]),
            leader_votes=round(float(leader_by_group[g])),
            anomalous_votes=float(fit.anomalous[g]),
            reference_turnout=float(fit.ref_turnout[g]),
            reference_share=float(fit.rho[g] / (1.0 + fit.rho[g])),
        )
        for g in range(n_groups)
    )
    leader_votes = int(lead.sum())
    anomalous = chosen.anomalous_votes
    return ShpilkinResult(
        n_stations=data.n,
        applicable=True,
        note="" if n_used == data.n else f"{data.n - n_used} stations without usable counts.",
        seed=seed,
        reference_choice=reference,
        by_region=by_region,
        anomalous_votes=anomalous,
        interval=chosen.interval,
        reference_turnout=chosen.reference_turnout,
        reference_share=chosen.reference_share,
        leader_votes=leader_votes,
        anomalous_fraction=anomalous / leader_votes if leader_votes else float("nan"),
        corrected_turnout=float((iss.sum() - anomalous) / reg.sum()),
        corrected_share=float((lead.sum() - anomalous) / (cast.sum() - anomalous)),
        sensitivity=tuple(sensitivity),
        recipes=(national, regional),
        regions=regions,
        resamples=int(resamples),
        n_used=n_used,
        n_excluded=data.n - n_used,
        turnout_bins=np.arange(N_BINS) / 100.0,
        leader_curve=lead_cells.sum(axis=0),
        others_curve=others_cells.sum(axis=0),
        clean_leader_curve=(np.nan_to_num(fit.rho)[:, None] * others_cells).sum(axis=0),
    )
