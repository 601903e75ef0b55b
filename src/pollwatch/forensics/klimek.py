"""Klimek's fraud model: how many stations were stuffed, incrementally or to the extreme.

Klimek, Yegorov, Hanel & Thurner (2012) draw an election's *fingerprint* — the 2-D
histogram of stations over turnout × the leader's share — and explain it by a model:

* **Clean stations.** Turnout ``a`` and the leader's share ``ν`` are independent and
  unimodal around the fingerprint's modes. Votes are ``round(N·a)`` ballots and
  ``round(N·a·ν)`` for the leader, ``N`` the station's registered voters (the real station
  sizes are used).
* **Incremental fraud**, with probability ``f_i``: a fraction ``x`` of the non-voters becomes
  ballots for the leader, ``x`` drawn from a half-normal of width ``θ`` (below 1), and a
  fraction ``x**α`` of the other candidates' votes is moved to the leader (vote stealing).
* **Extreme fraud**, with probability ``f_e``: the same with ``y = 1 − |N(0, 0.075)|`` —
  almost every non-voter becomes a leader vote.

``f_i`` and ``f_e`` are fitted by least squares between the model's and the observed
fingerprint (fractions of stations per bin), as in the paper. Departures, for speed,
determinism and accuracy on synthetic elections with known fraud:

* Each station is simulated (several copies) clean, incrementally and extremely rigged
  with common random numbers, so the model's *expected* fingerprint is the mixture
  ``(1 − f_i − f_e)·H_clean + f_i·H_inc + f_e·H_ext``: linear in ``(f_i, f_e)``. The least
  squares over the triangle ``f_i, f_e ≥ 0, f_i + f_e ≤ 1`` is solved exactly instead of on
  the paper's coarse-then-fine grid of random elections.
* The clean turnout and share are logit-normal (normal on the logit scale; the paper uses
  normals), which follows the skew of proportions near 0 and 1. Their medians and widths
  and ``θ`` are not fixed from the histogram's modes and left flanks as in the paper but
  fitted by the same least-squares criterion (Nelder–Mead, started from the modes and
  left-flank widths, on a subsample of at most 30,000 stations), because fixed estimates
  proved biased by the fraud they are meant to be clean of. ``θ`` is kept ≥ 0.08: narrower
  stuffing cannot be told from a skewed clean blob.
* ``α`` is chosen from no stealing, 2 and 1 by the same criterion.

Interval: ``resamples`` bootstrap replicates of the observed fingerprint (stations drawn
with replacement, i.e. multinomial bin counts), each refitted with the fitted clean model,
``θ`` and ``α`` held fixed. The fit depends on the observed histogram only through its
projections on the two fit directions, so each replicate draws those two numbers from
their multinomial covariance (normal approximation) — 10,000 replicates cost nothing.
The interval therefore reflects sampling noise only, not model error, which is larger.

Accuracy and limits (synthetic elections of :mod:`pollwatch.forensics.synthetic` with one
homogeneous clean blob): no fraud gives ``f_i`` ≲ 0.03 and ``f_e`` ≲ 0.002; injected
``f_i = 0.2, f_e = 0.02`` comes back as ``f_i`` 0.12–0.20 and ``f_e`` 0.024–0.026. ``f_i``
trades off against ``θ`` (many slightly stuffed stations look like fewer, more stuffed
ones), while the leader votes the model adds (``model_added_votes``) are recovered within
~10 %; large ``f_i`` (0.5) is underestimated, because a shifted, wider clean blob absorbs
part of the stuffing. ``f_e`` reads ~0.005 high when extreme stations are stuffed to
U(0.95, 1) rather than Klimek's 1 − |N(0, 0.075)|. When regions differ in their clean
turnout and share, the fingerprint is a lumpy mixture of regional blobs that no
single-blob model fits, and ``f_i`` becomes unreliable in both directions; a genuinely
lopsided but honest region looks like extreme fraud. Because ``f_i`` is weakly identified,
the seed (which picks the search subsample and the simulation) moves it by more than its
interval on large real elections (Russia 2012: 0.44 and 0.47 for seeds 0 and 1; 2024:
0.75 and 0.83); ``f_e`` and ``model_added_votes`` move less. Read ``f_i`` and ``f_e`` as
"how much of the fingerprint the fraud model needs", not as counts of proven fraud.

Not applicable when fewer than ``_MIN_STATIONS`` stations have registered voters and cast
ballots, or when turnout or share does not vary.

References
----------
Klimek, P., Yegorov, Y., Hanel, R. & Thurner, S. (2012). Statistical detection of
systematic election irregularities. PNAS 109(41), 16469–16473 (model in the main text and
SI Appendix). The Election Forensics Toolkit's port of their ``ElectionFitter.m`` (Mebane &
Egami, 2014) was read for the parameter heuristics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from scipy import optimize, special

from pollwatch.errors import InputError
from pollwatch.forensics.data import StationArrays
from pollwatch.forensics.result import MethodResult

__all__ = ["KlimekResult", "klimek"]

_MIN_STATIONS = 500
_REPLICAS = 4  # simulated copies of each station (smooths the model histograms)
_EXTREME_WIDTH = 0.075  # Klimek et al.: y = 1 - |N(0, 0.075)|
_ALPHAS: tuple[float | None, ...] = (None, 2.0, 1.0)
_MODE_LIMIT = 0.95  # the clean mode is looked for below this (the 100 % peak is fraud)
_MIN_WIDTH = 0.08  # narrower stuffing is indistinguishable from a skewed clean blob
_MAX_EVALUATIONS = 300  # Nelder–Mead budget per search
_SEARCH_STATIONS = 30_000  # stations simulated while searching the clean model
_SEARCH_POINTS = 60_000  # simulated stations (copies included) per search step
_SIM_POINTS = 200_000  # simulated stations (copies included) in the final fit


@dataclass(frozen=True)
class KlimekResult(MethodResult):
    """Fitted fraud fractions of Klimek et al. (2012).

    Attributes
    ----------
    f_i, f_e:
        Fitted fractions of stations with incremental and with extreme fraud.
    f_i_interval, f_e_interval:
        95 % bootstrap intervals (sampling noise of the fingerprint only).
    interval:
        The same two intervals as ``{"f_i": (low, high), "f_e": (low, high)}``.
    resamples:
        Number of bootstrap replicates behind the intervals.
    clean_turnout, clean_turnout_sd, clean_share, clean_share_sd:
        The fitted clean model: medians and widths (near the median) of the logit-normal
        turnout and leader's share.
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
    resamples: int
    clean_turnout: float
    clean_turnout_sd: float
    clean_share: float
    clean_share_sd: float
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
class _Clean:
    """The clean model's parameters (modes and left-flank widths)."""

    turnout: float
    turnout_sd: float
    share: float
    share_sd: float


@dataclass(frozen=True)
class _Model:
    """Expected fingerprints of one ``(θ, α)`` and the votes each kind of fraud adds."""

    clean: np.ndarray
    incremental: np.ndarray
    extreme: np.ndarray
    added_incremental: float
    added_extreme: float


@dataclass(frozen=True)
class _Fit:
    f_i: float
    f_e: float
    sse: float


def klimek(
    data: StationArrays,
    *,
    resamples: int = 1000,
    seed: int | None = 0,
    bins: int = 50,
) -> KlimekResult:
    """Fit Klimek's incremental (``f_i``) and extreme (``f_e``) fraud fractions.

    Parameters
    ----------
    data:
        Station arrays (turnout = issued / registered, share = leader / cast).
    resamples:
        Bootstrap replicates of the fingerprint for the 95 % intervals.
    seed:
        Seed of the model simulation and the bootstrap (``None``: fresh entropy).
    bins:
        Bins per axis of the fingerprint (10–200; 50 means 2-point bins).

    Returns
    -------
    KlimekResult
        ``f_i``, ``f_e`` with intervals, the fitted clean model and fingerprints for plots.

    Examples
    --------
    >>> from pollwatch.forensics.synthetic import synthetic_election
    >>> e = synthetic_election(5_000, seed=3, extreme=0.02, region_concentration=1e5)
    >>> r = klimek(e.arrays(), resamples=200)
    >>> 0.01 < r.f_e < 0.04
    True
    """
    resamples = _check_int("resamples", resamples, 1)
    bins = _check_int("bins", bins, 10, 200)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise InputError(f"The 'seed' parameter of klimek must be an integer or None; got {seed!r}")

    ok = (data.registered > 0) & (data.cast > 0) & (data.issued > 0)
    excluded = int((~ok).sum())
    reg = data.registered[ok]
    turnout = np.clip(data.issued[ok] / reg, 0.0, 1.0)
    share = np.clip(data.leader[ok] / data.cast[ok], 0.0, 1.0)
    n = int(ok.sum())

    if n < _MIN_STATIONS:
        return _not_applicable(
            data.n, excluded, resamples, seed, bins,
            f"only {n} stations with registered voters and ballots cast; the fraud model "
            f"needs at least {_MIN_STATIONS} to fit a fingerprint",
        )  # fmt: skip
    start = _clean_start(turnout, share)
    if start.turnout_sd <= 0 or start.share_sd <= 0:
        return _not_applicable(
            data.n, excluded, resamples, seed, bins,
            "turnout or the leader's share does not vary below its mode; the clean model "
            "cannot be fitted",
        )  # fmt: skip

    observed = _histogram(turnout, share, np.ones(n), bins)
    rng = np.random.default_rng(seed)
    # search on at most _SEARCH_STATIONS stations (≥ 2 copies each), then refit on all
    pick = rng.choice(n, _SEARCH_STATIONS, replace=False) if n > _SEARCH_STATIONS else None
    search_sizes = reg if pick is None else reg[pick]
    search_draws = _Draws.make(search_sizes, _copies(len(search_sizes), 2, _SEARCH_POINTS), rng)
    draws = _Draws.make(reg, _copies(n, _REPLICAS, _SIM_POINTS), rng)

    # stealing exponents: search the clean model and θ without stealing, then let each
    # exponent move on from there only if it already fits better at that point
    clean, theta, sse = _search(observed, search_draws, start, None, bins)
    alpha: float | None = None
    for candidate in _ALPHAS[1:]:
        trial = _fit(_simulate(search_draws, clean, theta, candidate, bins), observed).sse
        if trial < sse:
            c2, t2, s2 = _search(observed, search_draws, clean, candidate, bins, theta)
            if s2 < sse:
                clean, theta, sse, alpha = c2, t2, s2, candidate
    model = _simulate(draws, clean, theta, alpha, bins)
    fit = _fit(model, observed)
    copies = len(draws.sizes) / n

    f_i_lo, f_i_hi, f_e_lo, f_e_hi = _bootstrap(model, observed, n, resamples, rng)
    fitted = _mixture(model, fit.f_i, fit.f_e)
    added = (fit.f_i * model.added_incremental + fit.f_e * model.added_extreme) / copies
    leader_total = float(data.leader[ok].sum())
    nbins = bins * bins
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
        resamples=resamples,
        clean_turnout=clean.turnout,
        clean_turnout_sd=clean.turnout_sd,
        clean_share=clean.share,
        clean_share_sd=clean.share_sd,
        stuffing_width=theta,
        stealing_exponent=alpha,
        rmse=float(np.sqrt(fit.sse / nbins)),
        rmse_fair=float(np.sqrt(np.sum((model.clean - observed) ** 2) / nbins)),
        model_added_votes=added,
        model_added_share=added / leader_total if leader_total > 0 else float("nan"),
        excluded_stations=excluded,
        bins=bins,
        observed=observed.reshape(bins, bins),
        fitted=fitted.reshape(bins, bins),
        fair=model.clean.reshape(bins, bins),
    )


def _copies(n: int, least: int, points: int) -> int:
    """Copies of each station to simulate: at least ``least``, more for small elections."""
    return int(min(16, max(least, -(-points // max(n, 1)))))


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    bad = isinstance(value, bool) or not isinstance(value, (int, np.integer))
    if bad or value < low or (high is not None and value > high):
        what = f"an integer between {low} and {high}" if high else "a positive integer"
        raise InputError(f"The {name!r} parameter of klimek must be {what}; got {value!r} instead")
    return int(value)


def _not_applicable(
    n: int, excluded: int, resamples: int, seed: int | None, bins: int, note: str
) -> KlimekResult:
    nan = float("nan")
    empty = np.zeros((0, 0))
    return KlimekResult(
        n_stations=n,
        applicable=False,
        note=note,
        seed=seed,
        f_i=nan,
        f_e=nan,
        f_i_interval=(nan, nan),
        f_e_interval=(nan, nan),
        interval={"f_i": (nan, nan), "f_e": (nan, nan)},
        resamples=resamples,
        clean_turnout=nan,
        clean_turnout_sd=nan,
        clean_share=nan,
        clean_share_sd=nan,
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


def _mode_and_left_width(x: np.ndarray) -> tuple[float, float]:
    """The mode (smoothed 1 % histogram, below ``_MODE_LIMIT``) and the RMS distance to it of
    the values on its left: the starting point of the clean model, as in Klimek et al."""
    counts = np.bincount(np.minimum((x * 100).astype(np.int64), 99), minlength=100)
    kernel = np.exp(-0.5 * (np.arange(-6, 7) / 2.0) ** 2)
    smooth = np.convolve(counts, kernel / kernel.sum(), mode="same")
    centres = (np.arange(100) + 0.5) / 100
    smooth[centres >= _MODE_LIMIT] = -1.0
    mode = float(centres[int(np.argmax(smooth))])
    left = x[x < mode]
    width = float(np.sqrt(np.mean((left - mode) ** 2))) if len(left) else 0.0
    return mode, width


def _clean_start(turnout: np.ndarray, share: np.ndarray) -> _Clean:
    t, t_sd = _mode_and_left_width(turnout)
    s, s_sd = _mode_and_left_width(share)
    return _Clean(turnout=t, turnout_sd=t_sd, share=s, share_sd=s_sd)


def _histogram(turnout: np.ndarray, share: np.ndarray, weight: np.ndarray, bins: int) -> np.ndarray:
    """Flattened ``bins × bins`` fingerprint as fractions of the total weight."""
    it = np.minimum((turnout * bins).astype(np.int64), bins - 1)
    js = np.minimum((share * bins).astype(np.int64), bins - 1)
    h = np.bincount(it * bins + js, weights=weight, minlength=bins * bins)
    total = h.sum()
    return np.asarray(h / total if total > 0 else h)


@dataclass(frozen=True)
class _Draws:
    """Common random numbers of the simulation: standard normals, one row per use."""

    sizes: np.ndarray
    z: np.ndarray  # (5, m): turnout, share, stuffing x, extreme y, x redrawn when x ≥ 1

    @classmethod
    def make(cls, sizes: np.ndarray, replicas: int, rng: np.random.Generator) -> _Draws:
        tiled = np.tile(sizes, replicas).astype(np.float64)
        return cls(sizes=tiled, z=rng.standard_normal((5, len(tiled))))


def _logit_normal(median: float, sd: float, z: np.ndarray) -> np.ndarray:
    """Logit-normal draws with this median whose spread near the median is ``sd``."""
    m = min(max(median, 1e-4), 1 - 1e-4)
    scale = sd / (m * (1 - m))
    return np.asarray(special.expit(special.logit(m) + scale * z))


def _rigged(
    sizes: np.ndarray,
    issued: np.ndarray,
    leader: np.ndarray,
    x: np.ndarray,
    alpha: float | None,
    bins: int,
) -> tuple[np.ndarray, float]:
    """Fingerprint after turning a fraction ``x`` of non-voters (and ``x**α`` of the others'
    votes) into leader votes; also the leader votes added per copy of the election."""
    stuffed = np.rint(x * (sizes - issued))
    stolen = np.zeros_like(stuffed) if alpha is None else np.rint(x**alpha * (issued - leader))
    new_issued = issued + stuffed
    new_leader = leader + stuffed + stolen
    weight = (new_issued > 0).astype(np.float64)
    h = _histogram(new_issued / sizes, new_leader / np.maximum(new_issued, 1.0), weight, bins)
    return h, float((stuffed + stolen).sum())


def _simulate(draws: _Draws, clean: _Clean, theta: float, alpha: float | None, bins: int) -> _Model:
    """Expected fingerprints of the clean, incremental and extreme models at these sizes."""
    z, sizes = draws.z, draws.sizes
    a = _logit_normal(clean.turnout, clean.turnout_sd, z[0])
    v = _logit_normal(clean.share, clean.share_sd, z[1])
    issued = np.rint(sizes * a)
    leader = np.rint(issued * v)
    weight = (issued > 0).astype(np.float64)
    h_clean = _histogram(issued / sizes, leader / np.maximum(issued, 1.0), weight, bins)
    x = theta * np.abs(z[2])
    x = np.minimum(np.where(x >= 1.0, theta * np.abs(z[4]), x), 0.999)
    y = np.clip(1.0 - _EXTREME_WIDTH * np.abs(z[3]), 0.0, 1.0)
    h_inc, add_inc = _rigged(sizes, issued, leader, x, alpha, bins)
    h_ext, add_ext = _rigged(sizes, issued, leader, y, alpha, bins)
    return _Model(h_clean, h_inc, h_ext, add_inc, add_ext)


def _search(
    observed: np.ndarray,
    draws: _Draws,
    start: _Clean,
    alpha: float | None,
    bins: int,
    theta: float = 0.15,
) -> tuple[_Clean, float, float]:
    """Least-squares clean model and stuffing width for one stealing exponent (Nelder–Mead
    over the clean modes and widths and ``θ``; ``f_i, f_e`` solved exactly inside)."""

    def unpack(q: np.ndarray) -> tuple[_Clean, float]:
        clean = _Clean(float(q[0]), float(np.exp(q[1])), float(q[2]), float(np.exp(q[3])))
        return clean, float(np.clip(np.exp(q[4]), _MIN_WIDTH, 1.0))

    def objective(q: np.ndarray) -> float:
        clean, theta = unpack(q)
        return _fit(_simulate(draws, clean, theta, alpha, bins), observed).sse

    q0 = np.log([start.turnout_sd, start.share_sd, theta])
    q0 = np.array([start.turnout, q0[0], start.share, q0[1], q0[2]])
    simplex = np.vstack([q0, q0 + np.diag([0.02, 0.2, 0.02, 0.2, 0.5])])
    res = optimize.minimize(
        objective,
        q0,
        method="Nelder-Mead",
        options={
            "initial_simplex": simplex,
            "xatol": 2e-3,
            "fatol": 1e-10,
            "maxfev": _MAX_EVALUATIONS,
        },
    )
    clean, theta = unpack(res.x)
    return clean, theta, float(res.fun)


def _mixture(model: _Model, f_i: float, f_e: float) -> np.ndarray:
    return np.asarray(
        (1.0 - f_i - f_e) * model.clean + f_i * model.incremental + f_e * model.extreme
    )


def _solve(gram: np.ndarray, proj: np.ndarray, rr: np.ndarray) -> tuple[np.ndarray, ...]:
    """Least squares of ``r ≈ f_i·d_i + f_e·d_e`` over the triangle f_i, f_e ≥ 0,
    f_i + f_e ≤ 1, for many right-hand sides at once.

    ``gram`` is the 2×2 Gram matrix of (d_i, d_e); ``proj`` (m × 2) holds d·r and ``rr``
    (m,) holds r·r. Returns f_i, f_e and the residual sums of squares (each of length m).
    """
    g11, g12, g22 = gram[0, 0], gram[0, 1], gram[1, 1]
    p1, p2 = proj[:, 0], proj[:, 1]

    def sse(fi: np.ndarray, fe: np.ndarray) -> np.ndarray:
        return np.asarray(
            rr - 2 * (fi * p1 + fe * p2) + fi * fi * g11 + 2 * fi * fe * g12 + fe * fe * g22
        )

    candidates = []
    det = g11 * g22 - g12 * g12
    if det > 1e-18 * max(g11 * g22, 1e-300):
        fi = (g22 * p1 - g12 * p2) / det
        fe = (g11 * p2 - g12 * p1) / det
        feasible = (fi >= 0) & (fe >= 0) & (fi + fe <= 1)
        candidates.append((np.where(feasible, fi, 0.0), np.where(feasible, fe, 0.0), feasible))
    zero = np.zeros_like(p1)
    always = np.ones_like(p1, dtype=bool)
    if g11 > 0:  # edge f_e = 0
        candidates.append((np.clip(p1 / g11, 0, 1), zero, always))
    if g22 > 0:  # edge f_i = 0
        candidates.append((zero, np.clip(p2 / g22, 0, 1), always))
    gdd = g11 - 2 * g12 + g22  # edge f_i + f_e = 1: f_i = t, f_e = 1 - t
    if gdd > 0:
        t = np.clip((p1 - p2 - g12 + g22) / gdd, 0, 1)
        candidates.append((t, 1 - t, always))
    candidates.append((zero, zero, always))

    best_fi, best_fe = zero.copy(), zero.copy()
    best_sse = np.full_like(p1, np.inf)
    for fi, fe, valid in candidates:
        s = np.where(valid, sse(fi, fe), np.inf)
        better = s < best_sse - 1e-18
        best_fi = np.where(better, fi, best_fi)
        best_fe = np.where(better, fe, best_fe)
        best_sse = np.where(better, s, best_sse)
    return best_fi, best_fe, best_sse


def _directions(model: _Model) -> tuple[np.ndarray, np.ndarray]:
    d = np.stack([model.incremental - model.clean, model.extreme - model.clean])
    return d, d @ d.T


def _fit(model: _Model, observed: np.ndarray) -> _Fit:
    d, gram = _directions(model)
    r = observed - model.clean
    fi, fe, s = _solve(gram, (d @ r)[None, :], np.array([r @ r]))
    return _Fit(float(fi[0]), float(fe[0]), float(max(s[0], 0.0)))


def _bootstrap(
    model: _Model, observed: np.ndarray, n: int, resamples: int, rng: np.random.Generator
) -> tuple[float, float, float, float]:
    """95 % intervals of f_i, f_e over multinomial resamples of the observed fingerprint.

    A resampled fingerprint enters the fit only through ``d·h`` (two numbers), whose
    covariance under multinomial resampling is ``(D diag(p) Dᵀ − (Dp)(Dp)ᵀ) / n``; the
    replicates draw those two numbers from the matching normal distribution.
    """
    d, gram = _directions(model)
    dp = d @ observed
    cov = ((d * observed) @ d.T - np.outer(dp, dp)) / n
    cov = (cov + cov.T) / 2 + np.eye(2) * 1e-30
    r = observed - model.clean
    base = d @ r
    proj = rng.multivariate_normal(base, cov, size=resamples, method="eigh")
    # r·r shifts with the replicate too, but it does not change the arg-min; keep it fixed
    fi, fe, _ = _solve(gram, proj, np.full(resamples, float(r @ r)))
    lo, hi = 2.5, 97.5
    return (
        float(np.percentile(fi, lo)),
        float(np.percentile(fi, hi)),
        float(np.percentile(fe, lo)),
        float(np.percentile(fe, hi)),
    )
