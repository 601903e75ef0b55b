"""Compiled hot loops shared by the forensic methods (numba, no Python loop over stations).

Private: method modules import what they need; nothing here validates its input. Every
kernel takes plain ``int64``/``float64`` arrays and is compiled once (``cache=True``).

Percentages are binned with integer arithmetic, never floats, so that a value such as
``7/20 = 35 %`` lands on the bin its count implies: a count ``k`` out of ``n`` falls in
the 0.1 %-wide bin ``m = round_half_up(1000 k / n)`` (bins centred on multiples of 0.1 %),
computed as ``(2000 k + n) // (2 n)``. A count is an *integer percentage* when it lies in
the closed window ``|100 k / n − j| ≤ 0.05`` round a whole percent ``j`` (Kobak et al.'s
code), i.e. ``2000 k mod 20 n`` is at most ``n`` or at least ``19 n``
(:func:`whole_percent`); a multiple of 5 % likewise with ``mod 100 n``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np

__all__ = [
    "integer_counts_monte_carlo",
    "integer_probabilities",
    "normal_pair",
    "per_mille_bin",
    "poisson_binomial_sf",
    "poisson_one",
    "uniform_below",
    "whole_percent",
]

F = TypeVar("F", bound=Callable[..., Any])


def _njit(fn: F) -> F:
    """``numba.njit(cache=True, nogil=True)`` with the function's type kept for mypy.

    ``nogil``: the battery runs methods in threads, which share the cores only while
    their kernels release the GIL."""
    return cast(F, numba.njit(cache=True, nogil=True)(fn))


def per_mille_bin(k: np.ndarray, n: np.ndarray, per_unit: int = 1000) -> np.ndarray:
    """Index of the bin, centred on multiples of ``1/per_unit``, holding ``k / n``.

    ``round_half_up(per_unit * k / n)`` in exact integer arithmetic (``n > 0``); the
    default gives 0.1 % bins.
    """
    k64 = np.asarray(k, dtype=np.int64)
    n64 = np.asarray(n, dtype=np.int64)
    return (2 * per_unit * k64 + n64) // (2 * n64)


def whole_percent(k: np.ndarray, n: np.ndarray, period: int = 1) -> np.ndarray:
    """Whether ``100 k / n`` lies within 0.05 (closed) of a multiple of ``period`` percent.

    Exact integer arithmetic; ``n`` must be positive.
    """
    k64 = np.asarray(k, dtype=np.int64)
    n64 = np.asarray(n, dtype=np.int64)
    rest = (2000 * k64) % (20 * period * n64)
    return np.asarray((rest <= n64) | (rest >= (20 * period - 1) * n64))


FACTORIAL_TABLE = 1 << 20
"""Largest ``n`` whose ``log n!`` :func:`integer_probabilities` looks up (8 MB at most;
larger counts call ``lgamma``)."""


@_njit
def _log_factorials(top: int) -> np.ndarray:
    """``log k!`` for ``k = 0..top`` (the same ``lgamma`` values, computed once)."""
    out = np.empty(top + 1)
    for k in range(top + 1):
        out[k] = math.lgamma(k + 1.0)
    return out


@_njit
def _log_factorial(k: int, table: np.ndarray) -> float:
    return table[k] if k < table.shape[0] else math.lgamma(k + 1.0)


@_njit
def _log_binom_pmf(
    k: int, n: int, p: float, lgn: float, log_p: float, log_q: float, table: np.ndarray
) -> float:
    """``log P(Bin(n, p) = k)``; ``lgn = log n!``, ``log_p = log p``, ``log_q = log(1 − p)``."""
    if p <= 0.0:
        return 0.0 if k == 0 else -np.inf
    if p >= 1.0:
        return 0.0 if k == n else -np.inf
    return (
        lgn - _log_factorial(k, table) - _log_factorial(n - k, table) + k * log_p + (n - k) * log_q
    )


@_njit
def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


@_njit
def integer_probabilities(
    n: np.ndarray, p: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact probabilities that ``Bin(n_i, p_i) / n_i`` is an integer percentage.

    For each station, sums the binomial pmf over the counts ``k`` within the closed
    window ``|100 k / n − j| ≤ 0.05`` of a whole percent ``j``, visiting only percentages
    within 12 standard deviations of the mean (the mass outside is below 1e-30).

    Returns
    -------
    p_int, p_five:
        Per station, P(integer percentage) and P(multiple of 5 %).
    expected:
        Length-101 array, the expected number of stations at each integer percentage
        0..100 (the sum over stations of the pmf mass landing there).
    """
    size = n.shape[0]
    p_int = np.zeros(size)
    p_five = np.zeros(size)
    expected = np.zeros(101)
    table = _log_factorials(min(max(n.max(), 0), FACTORIAL_TABLE) if size else 0)
    for i in range(size):
        ni = n[i]
        pi = p[i]
        if ni <= 0:
            continue
        lgn = _log_factorial(ni, table)
        log_p = math.log(pi) if pi > 0.0 else 0.0
        log_q = math.log1p(-pi) if pi < 1.0 else 0.0
        sd = math.sqrt(ni * pi * (1.0 - pi))
        lo_k = max(0.0, ni * pi - 12.0 * sd - 1.0)
        hi_k = min(float(ni), ni * pi + 12.0 * sd + 1.0)
        j_lo = max(0, math.floor(100.0 * lo_k / ni) - 1)
        j_hi = min(100, math.ceil(100.0 * hi_k / ni) + 1)
        total = 0.0
        five = 0.0
        for j in range(j_lo, j_hi + 1):
            # counts k with |2000 k − 20 j n| ≤ n (the closed window round j %)
            k_min = max(0, _ceil_div(20 * j * ni - ni, 2000))
            k_max = min(ni, (20 * j * ni + ni) // 2000)
            mass = 0.0
            for k in range(k_min, k_max + 1):
                lp = _log_binom_pmf(k, ni, pi, lgn, log_p, log_q, table)
                if lp > -745.0:
                    mass += math.exp(lp)
            total += mass
            expected[j] += mass
            if j % 5 == 0:
                five += mass
        p_int[i] = min(total, 1.0)
        p_five[i] = min(five, 1.0)
    return p_int, p_five, expected


@_njit
def poisson_binomial_sf(probs: np.ndarray, x: int) -> float:
    """Exact ``P(X >= x)`` for a sum of independent Bernoulli(``probs``) (O(n²) recursion)."""
    size = probs.shape[0]
    if x <= 0:
        return 1.0
    if x > size:
        return 0.0
    pmf = np.zeros(size + 1)
    pmf[0] = 1.0
    for i in range(size):
        q = probs[i]
        for c in range(i + 1, 0, -1):
            pmf[c] = pmf[c] * (1.0 - q) + pmf[c - 1] * q
        pmf[0] = pmf[0] * (1.0 - q)
    tail = 0.0
    for c in range(x, size + 1):
        tail += pmf[c]
    return min(max(tail, 0.0), 1.0)


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO_M53 = 1.0 / 9007199254740992.0


@_njit
def _uniform(state: np.uint64) -> tuple[float, np.uint64]:
    """SplitMix64 (Steele, Lea & Flood 2014): a uniform double in [0, 1), fast and seedable,
    and the next state. The state is a value, not an array, so it stays in a register."""
    state += _GOLDEN
    return float(_splitmix(state) >> _S11) * _TWO_M53, state


@_njit
def _splitmix(z: np.uint64) -> np.uint64:
    """The SplitMix64 output function of a state (see :func:`_uniform`)."""
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


_LOW32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)


@_njit
def uniform_below(bound: int, state: np.uint64) -> tuple[int, np.uint64]:
    """A uniform integer in ``[0, bound)`` (``0 < bound < 2**32``), exactly (Lemire 2019:
    a multiplication, and a rejection only for the rare draw in the uneven remainder),
    and the generator's next state."""
    span = np.uint64(bound)
    state += _GOLDEN
    m = (_splitmix(state) >> _S32) * span
    if (m & _LOW32) < span:
        floor = (_LOW32 - span + np.uint64(1)) % span  # 2**32 mod bound
        while (m & _LOW32) < floor:
            state += _GOLDEN
            m = (_splitmix(state) >> _S32) * span
    return int(m >> _S32), state


BLOCK = 256
"""Stations per block of :func:`integer_counts_monte_carlo` (its exact law by recursion:
``BLOCK²/2`` steps per block, one draw per block and resample)."""


@_njit
def _sum_law(probs: np.ndarray, lo: int, hi: int, pmf: np.ndarray) -> int:
    """``pmf[:m]``, ``m = hi − lo + 1``: the exact law of a sum of independent
    Bernoulli(``probs[lo:hi]``) (the recursion of :func:`poisson_binomial_sf`); returns m."""
    m = hi - lo + 1
    pmf[0] = 1.0
    for c in range(1, m):
        pmf[c] = 0.0
    for i in range(lo, hi):
        q = min(max(probs[i], 0.0), 1.0)
        for c in range(i - lo + 1, 0, -1):
            pmf[c] = pmf[c] * (1.0 - q) + pmf[c - 1] * q
        pmf[0] *= 1.0 - q
    return m


@_njit
def _alias_table(
    pmf: np.ndarray, m: int, cut: np.ndarray, alias: np.ndarray, stack: np.ndarray
) -> None:
    """Walker's alias table of ``pmf[:m]`` (Vose's construction) in ``cut``/``alias``: a draw
    is then one uniform ``u`` in ``[0, m)``, ``c = ⌊u⌋`` if ``u − c < cut[c]``, else
    ``alias[c]`` — exactly the law ``pmf`` in constant time. ``stack`` is scratch of ``m``."""
    total = 0.0
    for c in range(m):
        total += pmf[c]
    small = 0  # stack[:small]: columns under 1; stack[large:]: columns at or over 1
    large = m
    for c in range(m):
        cut[c] = pmf[c] * m / total
        alias[c] = c
        if cut[c] < 1.0:
            stack[small] = c
            small += 1
        else:
            large -= 1
            stack[large] = c
    while small > 0 and large < m:
        small -= 1
        under = stack[small]
        over = stack[large]
        alias[under] = over
        cut[over] -= 1.0 - cut[under]
        if cut[over] < 1.0:
            large += 1
            stack[small] = over
            small += 1
    for t in range(small):  # left over only by rounding: columns that are full
        cut[stack[t]] = 1.0
    for t in range(large, m):
        cut[stack[t]] = 1.0


@_njit
def poisson_binomial_draws(probs: np.ndarray, resamples: int, seed: int | np.uint64) -> np.ndarray:
    """``resamples`` independent draws of a sum of independent Bernoulli(``probs``).

    The stations are cut into blocks of :data:`BLOCK`; each block's sum has its exact law
    (a recursion) and is drawn from it by an alias table, and the blocks' draws are added.
    Same law as drawing every Bernoulli, with one draw per block instead of ``Σ probs``
    per resample (Russia 2024: 330 instead of 8,700).
    """
    state = _splitmix(np.uint64(seed))
    out = np.zeros(resamples, dtype=np.int64)
    pmf = np.empty(BLOCK + 1)
    cut = np.empty(BLOCK + 1)
    alias = np.empty(BLOCK + 1, dtype=np.int64)
    stack = np.empty(BLOCK + 1, dtype=np.int64)
    size = probs.shape[0]
    for lo in range(0, size, BLOCK):
        m = _sum_law(probs, lo, min(lo + BLOCK, size), pmf)
        _alias_table(pmf, m, cut, alias, stack)
        for r in range(resamples):
            state += _GOLDEN
            u = float(_splitmix(state) >> _S11) * _TWO_M53 * m
            c = int(u)
            out[r] += c if u - c < cut[c] else alias[c]
    return out


@_njit
def integer_counts_monte_carlo(
    p_turnout: np.ndarray,
    p_turnout5: np.ndarray,
    p_leader: np.ndarray,
    p_leader5: np.ndarray,
    resamples: int,
    seed: int,
) -> np.ndarray:
    """Monte Carlo counts of integer stations under the binomial null.

    Each column is drawn on its own (:func:`poisson_binomial_draws`, a stream per column
    from ``seed``): station *i* is counted with probability ``p_turnout``, ``p_leader``,
    ``1 − (1 − p_turnout)(1 − p_leader)`` ("either": turnout and share are redrawn
    independently), and the same for multiples of 5 %. Every column has the law of the
    count of stations under the null; the columns of one row are not the counts of one
    joint redraw (each statistic uses one column, so only the columns' laws matter).

    Returns
    -------
    ``(resamples, 6)`` int64 array: columns turnout, leader, either, turnout_5,
    leader_5, either_5.
    """
    out = np.empty((resamples, 6), dtype=np.int64)
    base = _splitmix(np.uint64(seed))
    for col in range(6):
        if col == 0:
            probs = p_turnout.astype(np.float64)
        elif col == 1:
            probs = p_leader.astype(np.float64)
        elif col == 2:
            probs = 1.0 - (1.0 - p_turnout) * (1.0 - p_leader)
        elif col == 3:
            probs = p_turnout5.astype(np.float64)
        elif col == 4:
            probs = p_leader5.astype(np.float64)
        else:
            probs = 1.0 - (1.0 - p_turnout5) * (1.0 - p_leader5)
        out[:, col] = poisson_binomial_draws(probs, resamples, base + np.uint64(col + 1) * _GOLDEN)
    return out


def _poisson_one_cdf(size: int) -> np.ndarray:
    """``P(Poisson(1) ≤ k)`` for ``k < size``, summed term by term."""
    cdf = np.empty(size)
    term = total = math.exp(-1.0)
    for k in range(size):
        cdf[k] = total
        term /= k + 1
        total += term
    return cdf


_POISSON_CDF = _poisson_one_cdf(31)  # draws stop at 30
_POISSON_GUIDE = np.searchsorted(_POISSON_CDF, np.arange(1024) / 1024, side="left")
"""Per 1/1024 of [0, 1): how many cdf values lie below its lower end, where the draw
of any uniform in it starts its search (Chen & Asau's guide table)."""


@_njit
def poisson_one(state: np.uint64) -> tuple[int, np.uint64]:
    """A Poisson(1) draw by inversion (the smallest ``k`` with ``u ≤ P(X ≤ k)``), and the
    generator's next state. A guide table starts the search at the answer but for the
    few uniforms near a cdf value (a Poisson(1) draw is too random for the branch
    predictor of a plain search)."""
    u, state = _uniform(state)
    k = _POISSON_GUIDE[int(u * 1024.0)]
    while k < 30 and u > _POISSON_CDF[k]:
        k += 1
    return k, state


@_njit
def normal_pair(state: np.uint64) -> tuple[float, float, np.uint64]:
    """Two independent standard normals (Marsaglia's polar method: a uniform point of the
    unit disc, no sine or cosine), and the generator's next state."""
    while True:
        u, state = _uniform(state)
        v, state = _uniform(state)
        x = 2.0 * u - 1.0
        y = 2.0 * v - 1.0
        r2 = x * x + y * y
        if 0.0 < r2 < 1.0:
            scale = math.sqrt(-2.0 * math.log(r2) / r2)
            return x * scale, y * scale, state
