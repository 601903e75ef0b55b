"""Digit tests: the second digit against Benford's law, the last digit against uniformity.

People who invent numbers do not draw digits the way counting does. Two tests look at
the digits of the vote counts of each candidate:

* **Second digit (2BL).** Mebane (2006, 2011) compares the second significant digits of
  vote counts with the second-digit Benford distribution,
  ``P(d) = Σ_{k=1..9} log10(1 + 1/(10k + d))``, whose mean is 4.187. Reported: the mean of
  the second digits with a bootstrap interval (``resamples`` multinomial resamples of the
  digit counts, i.e. stations drawn with replacement) and a z-test of the mean against
  4.187 using the 2BL variance, and Pearson's chi-square of the nine-degree-of-freedom
  digit distribution against 2BL. Only counts ≥ ``second_digit_min`` (default 10) have a
  second digit.
* **Last digit.** Beber & Scacco (2012): the last digit of a count that spans many tens is
  uniform; invented counts prefer some digits (often 0 and 5). Reported: Pearson's
  chi-square against the expected digits and the share of counts ending in 0 or 5 against
  its expectation (≈ 20 %, exact binomial test). Only counts ≥ ``last_digit_min``
  (default 100, as Beber & Scacco) are used: the last digit of a small count is not
  uniform (a count below 10 *is* its last digit). Even above 100, a small candidate's
  counts fall steeply, so low last digits are more common than high ones in every block of
  ten (on Russia 2012, frequencies fall from 12.9 % for 0 to 6.6 % for 9 for Mironov, and
  plain uniformity rejects every candidate). The expectation is therefore uniform within
  each block of ten, tilted by the local slope of the count distribution estimated from
  the neighbouring blocks (our correction; invented digits do not change block totals).
  It equals Beber & Scacco's uniform when counts are spread flat.

The headline figures (``second_digit_mean``, ``second_digit_interval``,
``last_digit_p_value``, ...) are those of the leader's counts; ``rows`` has every candidate
and all candidates pooled, and per-digit observed and expected frequencies for plots.

Assumptions and caveats. The last-digit test is well founded for counts ≥ 100. The 2BL is
*not* a law of clean elections: it holds roughly when counts are mixtures spanning
several orders of magnitude, and honest counts concentrated in one range (e.g. 300–900
votes everywhere) deviate from it; Mebane (2011) and Deckert, Myagkov & Ordeshook (2011)
show that deviations can come from strategic voting or the shape of the electorate rather
than fraud. With ~90,000 stations a tiny deviation is "significant"; read the mean's
distance from 4.187, not only the p-value. Not applicable when no candidate has counts
large enough for either test.

References
----------
Mebane, W. R. Jr. (2006). Election forensics: vote counts and Benford's law. Political
Methodology Society summer meeting, UC Davis.
Mebane, W. R. Jr. (2011). Comment on "Benford's law and the detection of election fraud".
Political Analysis 19(3), 269–272.
Beber, B. & Scacco, A. (2012). What the numbers say: a digit-based test for election fraud.
Political Analysis 20(2), 211–234.
Hicken, A. & Mebane, W. R. Jr. (2017). A guide to elections forensics. USAID / University of
Michigan (Election Forensics Toolkit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from scipy import stats

from pollwatch.errors import InputError
from pollwatch.forensics.data import StationArrays
from pollwatch.forensics.result import MethodResult

__all__ = ["BENFORD_SECOND_DIGIT", "DigitRow", "DigitsResult", "digits", "second_digits"]

_DIGITS = np.arange(10)
_POWERS = 10 ** np.arange(19, dtype=np.int64)
_MIN_COUNTS = 50  # fewer counts than this: the test is not run


def _benford_second_digit() -> np.ndarray:
    k = np.arange(1, 10)[:, None]
    return np.asarray(np.log10(1 + 1 / (10 * k + _DIGITS[None, :])).sum(axis=0))


BENFORD_SECOND_DIGIT: np.ndarray = _benford_second_digit()
"""Second-digit Benford probabilities of digits 0–9 (mean 4.187)."""

_BENFORD_MEAN = float(BENFORD_SECOND_DIGIT @ _DIGITS)
_BENFORD_SD = float(np.sqrt(BENFORD_SECOND_DIGIT @ _DIGITS**2 - _BENFORD_MEAN**2))
_UNIFORM = np.full(10, 0.1)


@dataclass(frozen=True)
class DigitRow:
    """Digit tests of one candidate's counts (or of all candidates pooled).

    Attributes
    ----------
    candidate:
        Candidate name, or ``"all candidates"``.
    second_digit_n, last_digit_n:
        Counts used by the second-digit (≥ ``second_digit_min``) and last-digit
        (≥ ``last_digit_min``) tests.
    second_digit_mean, second_digit_interval, second_digit_mean_p_value:
        Mean second digit, its 95 % bootstrap interval and the z-test p-value against 4.187.
    second_digit_chi2, second_digit_p_value:
        Pearson's chi-square (9 df) against the 2BL distribution and its p-value.
    last_digit_chi2, last_digit_p_value:
        Pearson's chi-square (9 df) against uniform last digits and its p-value.
    zero_five_share, zero_five_p_value:
        Share of counts ending in 0 or 5, and the exact binomial p-value against 0.2.
    second_digit_observed, last_digit_observed:
        Observed frequencies of digits 0–9 (for plots).
    last_digit_expected:
        Expected last-digit frequencies (uniform, tilted by the slope of the count
        distribution; see :func:`digits`).
    """

    candidate: str
    second_digit_n: int
    second_digit_mean: float
    second_digit_interval: tuple[float, float]
    second_digit_mean_p_value: float
    second_digit_chi2: float
    second_digit_p_value: float
    last_digit_n: int
    last_digit_chi2: float
    last_digit_p_value: float
    zero_five_share: float
    zero_five_p_value: float
    second_digit_observed: tuple[float, ...]
    last_digit_observed: tuple[float, ...]
    last_digit_expected: tuple[float, ...]


@dataclass(frozen=True)
class DigitsResult(MethodResult):
    """Second-digit (2BL) and last-digit tests; headline figures are the leader's.

    Attributes
    ----------
    candidate:
        The leader, whose counts give the headline figures.
    second_digit_mean, second_digit_interval, second_digit_mean_p_value,
    second_digit_p_value, second_digit_n:
        The leader's second-digit test (see :class:`DigitRow`).
    last_digit_p_value, last_digit_n, zero_five_share, zero_five_p_value:
        The leader's last-digit tests.
    second_digit_observed, second_digit_expected, last_digit_observed,
    last_digit_expected:
        Frequencies of digits 0–9, observed (leader) and expected (2BL; tilted uniform).
    rows:
        Every candidate, then all candidates pooled.
    second_digit_min, last_digit_min, resamples:
        The options used.
    """

    method: ClassVar[str] = "digits"
    reference: ClassVar[str] = (
        "Mebane, W. R. Jr. (2011). Comment on 'Benford's law and the detection of election "
        "fraud'. Political Analysis 19(3), 269–272; Beber, B. & Scacco, A. (2012). What the "
        "numbers say: a digit-based test for election fraud. Political Analysis 20(2), "
        "211–234; Hicken, A. & Mebane, W. R. Jr. (2017). A guide to elections forensics."
    )

    candidate: str
    second_digit_mean: float
    second_digit_interval: tuple[float, float]
    second_digit_mean_p_value: float
    second_digit_p_value: float
    second_digit_n: int
    last_digit_p_value: float
    last_digit_n: int
    zero_five_share: float
    zero_five_p_value: float
    second_digit_observed: tuple[float, ...]
    second_digit_expected: tuple[float, ...]
    last_digit_observed: tuple[float, ...]
    last_digit_expected: tuple[float, ...]
    rows: tuple[DigitRow, ...] = field(repr=False)
    second_digit_min: int
    last_digit_min: int
    resamples: int


def second_digits(counts: np.ndarray) -> np.ndarray:
    """Second significant digits of counts ≥ 10 (counts below 10 are dropped)."""
    c = np.asarray(counts, dtype=np.int64)
    c = c[c >= 10]
    n_digits = np.searchsorted(_POWERS, c, side="right")
    return np.asarray((c // _POWERS[n_digits - 2]) % 10)


def digits(
    data: StationArrays,
    *,
    resamples: int = 10_000,
    seed: int | None = 0,
    second_digit_min: int = 10,
    last_digit_min: int = 100,
) -> DigitsResult:
    """Second-digit Benford (2BL) and last-digit tests of the vote counts.

    Parameters
    ----------
    data:
        Station arrays; every column of ``data.votes`` is tested, the leader's is the
        headline.
    resamples:
        Bootstrap resamples for the interval of the mean second digit.
    seed:
        Seed of the bootstrap.
    second_digit_min, last_digit_min:
        Smallest counts used by the second-digit (≥ 10) and last-digit (≥ 10) tests.

    Returns
    -------
    DigitsResult

    Examples
    --------
    >>> import numpy as np
    >>> from pollwatch.forensics.data import StationArrays
    >>> rng = np.random.default_rng(0)
    >>> reg = rng.integers(800, 3000, 5000)
    >>> cast = rng.binomial(reg, 0.6)
    >>> data = StationArrays.from_counts(reg, cast, cast, rng.binomial(cast, 0.55))
    >>> r = digits(data, resamples=1000)
    >>> r.last_digit_p_value > 0.001 and abs(r.zero_five_share - 0.2) < 0.03
    True
    """
    resamples = _check_int("resamples", resamples, 1)
    second_digit_min = _check_int("second_digit_min", second_digit_min, 10)
    last_digit_min = _check_int("last_digit_min", last_digit_min, 10)
    rng = np.random.default_rng(seed)

    names = list(data.candidates)
    columns = [data.votes[:, j] for j in range(len(names))]
    rows = [
        _row(name, col, resamples, rng, second_digit_min, last_digit_min)
        for name, col in zip(names, columns, strict=True)
    ]
    if len(columns) > 1:
        pooled = np.concatenate(columns)
        rows.append(
            _row("all candidates", pooled, resamples, rng, second_digit_min, last_digit_min)
        )
    if data.leader_name in names:
        lead = rows[names.index(data.leader_name)]
    else:
        lead = _row(data.leader_name, data.leader, resamples, rng, second_digit_min, last_digit_min)

    usable = any(r.second_digit_n >= _MIN_COUNTS or r.last_digit_n >= _MIN_COUNTS for r in rows)
    notes = []
    if not usable:
        notes.append(
            f"no candidate has {_MIN_COUNTS} counts ≥ {second_digit_min} (second digit) or "
            f"≥ {last_digit_min} (last digit)"
        )
    else:
        if lead.second_digit_n < _MIN_COUNTS:
            notes.append(f"the leader has too few counts ≥ {second_digit_min} for the 2BL test")
        if lead.last_digit_n < _MIN_COUNTS:
            notes.append(f"the leader has too few counts ≥ {last_digit_min} for last digits")
    return DigitsResult(
        n_stations=data.n,
        applicable=usable,
        note="; ".join(notes),
        seed=seed,
        candidate=lead.candidate,
        second_digit_mean=lead.second_digit_mean,
        second_digit_interval=lead.second_digit_interval,
        second_digit_mean_p_value=lead.second_digit_mean_p_value,
        second_digit_p_value=lead.second_digit_p_value,
        second_digit_n=lead.second_digit_n,
        last_digit_p_value=lead.last_digit_p_value,
        last_digit_n=lead.last_digit_n,
        zero_five_share=lead.zero_five_share,
        zero_five_p_value=lead.zero_five_p_value,
        second_digit_observed=lead.second_digit_observed,
        second_digit_expected=tuple(float(p) for p in BENFORD_SECOND_DIGIT),
        last_digit_observed=lead.last_digit_observed,
        last_digit_expected=lead.last_digit_expected,
        rows=tuple(rows),
        second_digit_min=second_digit_min,
        last_digit_min=last_digit_min,
        resamples=resamples,
    )


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InputError(
            f"The {name!r} parameter of digits must be an integer ≥ {low}; got {value!r} instead"
        )
    return int(value)


def _chi2(freq: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    n = freq.sum()
    exp = expected * n
    chi2 = float(((freq - exp) ** 2 / exp).sum())
    return chi2, float(stats.chi2.sf(chi2, df=len(freq) - 1))


def _row(
    name: str,
    counts: np.ndarray,
    resamples: int,
    rng: np.random.Generator,
    second_min: int,
    last_min: int,
) -> DigitRow:
    nan = float("nan")
    c = np.asarray(counts, dtype=np.int64)

    d2 = second_digits(c[c >= second_min])
    n2 = len(d2)
    f2 = np.bincount(d2, minlength=10).astype(np.float64)
    if n2 >= _MIN_COUNTS:
        mean = float(d2.mean())
        boot = rng.multinomial(n2, f2 / n2, size=resamples) @ _DIGITS / n2
        lo, hi = np.percentile(boot, [2.5, 97.5])
        interval = (float(lo), float(hi))
        z = (mean - _BENFORD_MEAN) / (_BENFORD_SD / np.sqrt(n2))
        mean_p = float(2 * stats.norm.sf(abs(z)))
        chi2_2, p_2 = _chi2(f2, BENFORD_SECOND_DIGIT)
    else:
        mean, interval, mean_p, chi2_2, p_2 = nan, (nan, nan), nan, nan, nan

    last = c[c >= last_min] % 10
    n_last = len(last)
    f_last = np.bincount(last, minlength=10).astype(np.float64)
    expected_last = _last_digit_expected(c, last_min)
    if n_last >= _MIN_COUNTS:
        chi2_l, p_l = _chi2(f_last, expected_last)
        k05 = int(f_last[0] + f_last[5])
        share05 = k05 / n_last
        p05 = float(stats.binomtest(k05, n_last, expected_last[0] + expected_last[5]).pvalue)
    else:
        chi2_l, p_l, share05, p05 = nan, nan, nan, nan

    return DigitRow(
        candidate=name,
        second_digit_n=n2,
        second_digit_mean=mean,
        second_digit_interval=interval,
        second_digit_mean_p_value=mean_p,
        second_digit_chi2=chi2_2,
        second_digit_p_value=p_2,
        last_digit_n=n_last,
        last_digit_chi2=chi2_l,
        last_digit_p_value=p_l,
        zero_five_share=share05,
        zero_five_p_value=p05,
        second_digit_observed=tuple(float(x) for x in (f2 / max(n2, 1))),
        last_digit_observed=tuple(float(x) for x in (f_last / max(n_last, 1))),
        last_digit_expected=tuple(float(x) for x in expected_last),
    )


def _last_digit_expected(counts: np.ndarray, last_min: int) -> np.ndarray:
    """Expected last-digit frequencies of the counts ≥ ``last_min``: uniform within each
    block of ten (10k … 10k + 9), tilted by the local slope of the count distribution.

    Counts of a small candidate fall steeply above 100, so within a block the low last
    digits are more common than the high ones: plain uniformity would flag honest counts.
    The slope at block k is estimated from its neighbours' totals, ``(N[k+1] − N[k−1]) /
    (2·10·N[k])`` per vote, and digit d gets weight ``1 + slope·(d − 4.5)``. Rewriting
    digits inside a block (invented 0s and 5s) leaves the block totals, and so this
    expectation, unchanged. With flat distributions (large counts) it is uniform.
    """
    c = np.asarray(counts, dtype=np.int64)
    c = c[c >= 0]
    kept = c[c >= last_min]
    if len(kept) == 0:
        return _UNIFORM.copy()
    blocks = np.bincount(c // 10).astype(np.float64)
    blocks = np.r_[blocks, 0.0]
    k = np.arange(len(blocks) - 1)
    below = np.r_[0.0, blocks[:-2]]
    above = blocks[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(blocks[:-1] > 0, (above - below) / (20 * blocks[:-1]), 0.0)
    slope = np.clip(slope, -1 / 4.5, 1 / 4.5)
    used = np.bincount(kept // 10, minlength=len(k)).astype(np.float64)
    weight = 1 + slope[:, None] * (_DIGITS[None, :] - 4.5)
    expected = (used[:, None] * weight).sum(axis=0)
    return np.asarray(expected / expected.sum())
