"""Digit tests: the second digit against Benford's law, the last digit against uniformity.

People who invent numbers do not draw digits the way counting does. Two tests look at
the digits of the vote counts of each candidate:

* **Second digit.** Mebane (2006, 2011) compares the second significant digits of vote
  counts with the second-digit Benford distribution (2BL),
  ``P(d) = Σ_{k=1..9} log10(1 + 1/(10k + d))``, whose mean is 4.187. But honest vote
  counts do not follow 2BL: a count is binomial around its station's size times the
  candidate's share, and counts concentrated in one range (300–900 votes everywhere) have
  their own second-digit distribution (Deckert, Myagkov & Ordeshook 2011). On synthetic
  clean elections of 4,000 stations the test against 4.187 rejects 26 of 60 at 5 %. The
  primary test therefore compares the digits with those expected *under each station's
  own model*: the count ``y_i`` is ``BetaBinomial(cast_i, p_i, ρ)`` with the rate ``p_i``
  taken **from outside the count** — the candidate's share of the rest of the station's
  district (:func:`outside_rates`; the rest of the region, then of the country, where the
  district is too small) — and ``ρ`` the candidate's overdispersion, fitted by maximum
  likelihood (:func:`count_dispersion`). The distribution of the second digit given
  ``y ≥ second_digit_min`` is computed exactly from that pmf for every station kept
  (``second_digit_expected_probabilities``). If stations were independent draws of that
  law, the sum of the second digits would have mean ``Σ μ_i`` and variance ``Σ v_i``
  exactly; the mean is tested with the normal approximation
  (``second_digit_mean_p_value``) and the digit counts with the Wald chi-square (9 df)
  against their covariance ``Σ (diag P_i − P_i P_iᵀ)`` (``second_digit_p_value``). Two
  guards, because at 20,000 stations a misspecification too small to see in any count
  is "significant": (1) the variance is the larger of that and the district-clustered
  (sandwich) variance of the digit sums, which measures what stations of one district
  share that the model does not know (the chi-square: the smaller of the two Wald
  statistics); (2) the uncertainty of the fitted ρ is added: a small candidate's expected
  digits hang on it (ρ 20 % off moves a 0.7 % candidate's mean by 1.5 standard errors).

  Calibration (docs/validation.md). The leader's mean test fired on 6 of 40 clean
  20,000-station elections (15 %); on 200 such elections the same model fired on 12
  (6.0 %), with z-scores of mean 0.08 and s.d. 1.00, and a model with the regions' own
  (nearly true) shares on 11 (5.5 %): the 15 % was mostly the chance of 40 draws. The
  0.7 % candidate's chi-square: 12 of 200 (6.0 %) before the guards, 11 of 200 after;
  its mean test is biased (mean z −0.4 to −0.5 over 80 elections: the beta mixing is not
  quite the shape of that candidate's heterogeneity, and the law of counts 10–99 hangs
  on it), 8–9 % — small candidates' rows are not evidence on their own.

  Why an outside rate: a model centred on the station's own count (``p_i = y_i / cast_i``,
  the earlier plug-in), kept only when ``y_i ≥ 10``, expects the digits of counts that
  fluctuated upwards — near the cut-off it expects higher second digits than honest counts
  have. A 0.7 % candidate on clean synthetic counts was rejected (p = 0.002 at 4,000
  stations; issue 10 reports 1e-76 on a larger run); on Russia 2018, 7 of 8 candidates. Why the
  beta-binomial: stations of one district differ more than binomial noise, and a binomial
  around the outside rate is too narrow (same 0.7 % candidate: p = 9e-14; with ρ: 0.56).
  Measured (30 clean synthetic elections of 4,000 stations with a 0.7 % candidate):
  rejected at 5 % in 1–4 of 30 per candidate (mean test), 1–4 of 30 (chi-square). Russia
  2018 (docs/validation.md): the leader and four others pass; the two ≈ 0.7 % candidates
  and Grudinin are rejected, with fewer high digits than the model, which does not know at
  which stations votes were moved. The beta-binomial is smooth at the scale of a second
  digit step of three-digit counts, so invented digits are not absorbed by it. Power
  measured with the earlier plug-in (the leader's counts ≥ 100 rewritten with second digits
  0, 5, 0, 5, 1, 2, 4,000 stations): 10 % of stations found in 30 of 30 elections; the
  suite (``test_invented_second_digits_are_detected``) holds ≥ 90 % with this model.
  The classic comparison with 2BL is kept for reference, labelled ``benford_*``. Also
  reported: the mean of the second digits with a bootstrap interval (``resamples``
  multinomial resamples of the digit counts, i.e. stations drawn with replacement).
  Only counts ≥ ``second_digit_min`` (default 10) have a second digit.
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
than fraud, so the ``benford_*`` p-values are no test of fraud. The model test assumes
each count is a beta-binomial draw around its district's share; it looks for digit
patterns finer than that spread, not for wrong totals, and a candidate whose votes were
moved at some stations departs from it too (fewer high digits). With ~90,000 stations a
tiny deviation is "significant"; read the distance of the mean from its expectation, not
only the p-value.
Not applicable when no candidate has counts large enough for either test.

References
----------
Mebane, W. R. Jr. (2006). Election forensics: vote counts and Benford's law. Political
Methodology Society summer meeting, UC Davis.
Mebane, W. R. Jr. (2011). Comment on "Benford's law and the detection of election fraud".
Political Analysis 19(3), 269–272.
Deckert, J., Myagkov, M. & Ordeshook, P. C. (2011). Benford's law and the detection of
election fraud. Political Analysis 19(3), 245–268.
Beber, B. & Scacco, A. (2012). What the numbers say: a digit-based test for election fraud.
Political Analysis 20(2), 211–234.
Hicken, A. & Mebane, W. R. Jr. (2017). A guide to elections forensics. USAID / University of
Michigan (Election Forensics Toolkit).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from functools import partial
from typing import ClassVar

import numba
import numpy as np
from scipy import optimize, stats

from pollwatch.errors import InputError
from pollwatch.forensics.data import StationArrays
from pollwatch.forensics.params import check_int, check_seed
from pollwatch.forensics.result import MethodResult
from pollwatch.forensics.workers import run_chunks

__all__ = [
    "BENFORD_SECOND_DIGIT",
    "DigitRow",
    "DigitsResult",
    "count_dispersion",
    "digits",
    "outside_rates",
    "second_digit_expected_probabilities",
    "second_digits",
]

_DIGITS = np.arange(10)
_POWERS = 10 ** np.arange(19, dtype=np.int64)
_MIN_COUNTS = 50  # fewer counts than this: the test is not run
_LEAST_OUTSIDE = 2_000  # ballots outside a station for its district to give its rate
_MAX_DISPERSION = 0.2  # beta-binomial ρ above this: the counts have no common law
_DISPERSION_SAMPLE = 20_000  # stations in the fit of ρ
_LEAST_CLUSTERS = 30  # districts needed for the cluster-robust variance of the digit sums
_LOG_STEP = 0.05  # step in log ρ: the curvature of the likelihood, the law's slope in ρ
_SLOPE_SAMPLE = 5_000  # stations whose law is recomputed for the slope in ρ


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
    second_digit_mean, second_digit_interval:
        Mean second digit and its 95 % bootstrap interval.
    second_digit_expected_mean, second_digit_mean_p_value:
        Mean second digit expected under each station's binomial model, and the two-sided
        z-test p-value of the observed mean against it (exact variance of the sum).
    second_digit_chi2, second_digit_p_value:
        Wald chi-square (9 df) of the digit counts against the binomial model (exact
        covariance) and its p-value.
    benford_mean_p_value, benford_chi2, benford_p_value:
        For reference only (not a test of fraud): the classic comparison with Benford's
        second-digit law, z-test of the mean against 4.187 and Pearson's chi-square.
    last_digit_chi2, last_digit_p_value:
        Pearson's chi-square (9 df) against uniform last digits and its p-value.
    zero_five_share, zero_five_p_value:
        Share of counts ending in 0 or 5, and the exact binomial p-value against 0.2.
    second_digit_observed, last_digit_observed:
        Observed frequencies of digits 0–9 (for plots).
    second_digit_expected:
        Second-digit frequencies expected under the stations' binomial models.
    last_digit_expected:
        Expected last-digit frequencies (uniform, tilted by the slope of the count
        distribution; see :func:`digits`).
    """

    candidate: str
    second_digit_n: int
    second_digit_mean: float
    second_digit_interval: tuple[float, float]
    second_digit_expected_mean: float
    second_digit_mean_p_value: float
    second_digit_chi2: float
    second_digit_p_value: float
    benford_mean_p_value: float
    benford_chi2: float
    benford_p_value: float
    last_digit_n: int
    last_digit_chi2: float
    last_digit_p_value: float
    zero_five_share: float
    zero_five_p_value: float
    second_digit_observed: tuple[float, ...]
    second_digit_expected: tuple[float, ...]
    last_digit_observed: tuple[float, ...]
    last_digit_expected: tuple[float, ...]


@dataclass(frozen=True)
class DigitsResult(MethodResult):
    """Second-digit (2BL) and last-digit tests; headline figures are the leader's.

    Attributes
    ----------
    candidate:
        The leader, whose counts give the headline figures.
    second_digit_mean, second_digit_interval, second_digit_expected_mean,
    second_digit_mean_p_value, second_digit_p_value, second_digit_n:
        The leader's second-digit tests against the binomial model (see :class:`DigitRow`).
    benford_mean_p_value, benford_p_value:
        The leader's classic 2BL comparison (mean against 4.187; chi-square), for
        reference: honest binomial counts need not follow 2BL.
    last_digit_p_value, last_digit_n, zero_five_share, zero_five_p_value:
        The leader's last-digit tests.
    second_digit_observed, second_digit_expected, benford_expected, last_digit_observed,
    last_digit_expected:
        Frequencies of digits 0–9: observed (leader), expected (binomial model; 2BL;
        tilted uniform).
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
        "211–234; Deckert, J., Myagkov, M. & Ordeshook, P. C. (2011). Benford's law and the "
        "detection of election fraud. Political Analysis 19(3), 245–268; Hicken, A. & "
        "Mebane, W. R. Jr. (2017). A guide to elections forensics."
    )

    candidate: str
    second_digit_mean: float
    second_digit_interval: tuple[float, float]
    second_digit_expected_mean: float
    second_digit_mean_p_value: float
    second_digit_p_value: float
    second_digit_n: int
    benford_mean_p_value: float
    benford_p_value: float
    last_digit_p_value: float
    last_digit_n: int
    zero_five_share: float
    zero_five_p_value: float
    second_digit_observed: tuple[float, ...]
    second_digit_expected: tuple[float, ...]
    benford_expected: tuple[float, ...]
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


def _second_digit_table(largest: int) -> np.ndarray:
    """Second significant digit of every count 0..largest (0 for counts below 10)."""
    k = np.arange(largest + 1, dtype=np.int64)
    out = np.zeros(largest + 1, dtype=np.int64)
    big = k >= 10
    out[big] = second_digits(k[big])
    return out


@numba.njit(cache=True, nogil=True)  # threads of the battery share the cores
def _second_digit_probs(
    n: np.ndarray, p: np.ndarray, rho: float, digit: np.ndarray, smallest: int
) -> np.ndarray:  # pragma: no cover - compiled
    """Row i: P(second digit = d | k ≥ smallest) for k ~ BetaBinomial(n[i], p[i], rho)
    (Binomial when rho = 0).

    The pmf is walked from its mode outwards by the ratio of successive terms,
    ``(n − k)/(k + 1) · (k + a)/(n − k − 1 + b)`` with ``a = p(1/rho − 1)``,
    ``b = (1 − p)(1/rho − 1)`` (``p/(1 − p)`` in place of the second factor when rho = 0),
    until the terms fall below 1e-16 of the largest; then renormalised over k ≥ smallest.
    A station whose model puts no mass at or above ``smallest`` gets the law of its
    smallest counts (the first count ≥ smallest), the limit of the conditional law.
    """
    m = n.shape[0]
    out = np.zeros((m, 10))
    binomial = rho <= 0.0
    scale = 1.0 / rho - 1.0 if not binomial else 0.0
    for i in range(m):
        ni = n[i]
        if ni < smallest:
            continue
        pi = min(max(p[i], 1e-9), 1.0 - 1e-9)
        mode = min(max(math.floor((ni + 1) * pi), smallest), ni)
        row = out[i]
        row[digit[mode]] += 1.0
        total = _walk(row, digit, ni, mode, ni, pi, scale, binomial, 1.0)
        total = _walk(row, digit, ni, mode, smallest, pi, scale, binomial, total)
        for d in range(10):
            row[d] /= total
    return out


@numba.njit(cache=True, nogil=True)
def _walk(
    row: np.ndarray,
    digit: np.ndarray,
    n: int,
    mode: int,
    end: int,
    p: float,
    scale: float,
    binomial: bool,
    total: float,
) -> float:  # pragma: no cover - compiled
    """Adds the pmf terms from ``mode`` (term 1) towards ``end`` (up if ``end > mode``) to
    ``row`` by second digit, until they fall below 1e-16 of ``total`` (the terms so far);
    returns the new total. A digit's terms are summed apart and added to ``row`` when the
    digit changes (every 10 or 100 counts), and each ratio takes one division: the walk
    is the test's cost."""
    a = p * scale
    b = (1.0 - p) * scale
    odds = p / (1.0 - p)
    term = 1.0
    k = mode
    d = digit[mode]
    run = 0.0
    step = 1 if end > mode else -1
    while k != end:
        if step > 0:
            if binomial:
                term *= (n - k) * odds / (k + 1)
            else:
                term *= ((n - k) * (k + a)) / ((k + 1.0) * (n - k - 1.0 + b))
        elif binomial:
            term *= k / ((n - k + 1) * odds)
        else:
            term *= (k * (n - k + b)) / ((n - k + 1.0) * (k - 1.0 + a))
        k += step
        if digit[k] != d:
            row[d] += run
            run = 0.0
            d = digit[k]
        run += term
        total += term
        if term < 1e-16 * total:
            break
    row[d] += run
    return total


def outside_rates(
    counts: np.ndarray,
    totals: np.ndarray,
    district: np.ndarray,
    region: np.ndarray,
    *,
    least_outside: int = _LEAST_OUTSIDE,
) -> np.ndarray:
    """Each station's expected share of a candidate, taken from *outside* its own count:
    the candidate's share of the other stations of its district (leave-one-out).

    Why: a model centred on the station's own count, kept only when that count is ≥ 10,
    expects the digits of counts that fluctuated upwards — near the cut-off it predicts
    higher second digits than honest counts have (a 0.7 % candidate on clean synthetic
    counts: p = 1e-76). A rate that does not use the count removes that selection.
    Where the rest of the district has fewer than ``least_outside`` ballots the rest of
    the region is used, then the rest of the country.
    """
    c = np.asarray(counts, dtype=np.float64)
    t = np.asarray(totals, dtype=np.float64)
    rate = np.full(len(c), np.nan)
    for codes in (np.asarray(district), np.asarray(region), np.zeros(len(c), dtype=np.int64)):
        size = int(codes.max(initial=0)) + 1
        sum_c = np.bincount(codes, weights=c, minlength=size)[codes] - c
        sum_t = np.bincount(codes, weights=t, minlength=size)[codes] - t
        fill = np.isnan(rate) & (sum_t >= least_outside)
        rate[fill] = sum_c[fill] / sum_t[fill]
    # a lone station (nothing outside it): its own share, the only information there is
    lone = np.isnan(rate)
    rate[lone] = c[lone] / np.maximum(t[lone], 1)
    return np.asarray(rate)


@numba.njit(cache=True, nogil=True)  # threads of the battery share the cores
def _beta_binomial_loglik(
    y: np.ndarray, n: np.ndarray, p: np.ndarray, rho: float
) -> float:  # pragma: no cover - compiled
    """Σ log BetaBinomial(y | n, p, ρ) without the binomial coefficients (constant in ρ)."""
    s = 1.0 / rho - 1.0
    lgamma_s = math.lgamma(s)  # the same for every station
    total = 0.0
    for i in range(y.shape[0]):
        a = p[i] * s
        b = (1.0 - p[i]) * s
        total += (
            math.lgamma(y[i] + a)
            + math.lgamma(n[i] - y[i] + b)
            + lgamma_s
            - math.lgamma(n[i] + s)
            - math.lgamma(a)
            - math.lgamma(b)
        )
    return total


def count_dispersion(counts: np.ndarray, totals: np.ndarray, rates: np.ndarray) -> float:
    """Intra-class correlation ρ of a candidate's counts around their outside rates, by
    maximum likelihood of the beta-binomial ``BetaBinomial(n, p, ρ)`` (variance
    ``n p (1 − p) (1 + (n − 1) ρ)``), pooled over stations.

    Why: stations of one district differ more than binomial noise (their electorates
    differ), and the outside rate itself is estimated; a binomial law around it is too
    narrow and its tail near the cut-off too steep (Russia 2018, Yavlinsky: p = 3e-22
    binomial, 0.31 beta-binomial). Maximum likelihood rather than moments: the moment
    estimate is pulled up by a few outlying stations and then expects too many high
    digits (Yavlinsky: p = 0.011). At most ``_DISPERSION_SAMPLE`` stations, every k-th,
    enter the fit (ρ is one number; 20,000 stations pin it). Capped at 0.2.
    """
    return _fit_dispersion(counts, totals, rates)[0]


def _fit_dispersion(
    counts: np.ndarray, totals: np.ndarray, rates: np.ndarray
) -> tuple[float, float]:
    """:func:`count_dispersion` and the standard error of ``log ρ`` (observed information
    of the profile likelihood, by a second difference; 0 when ρ is 0 or at its cap)."""
    y = np.asarray(counts, dtype=np.float64)
    n = np.asarray(totals, dtype=np.float64)
    p = np.clip(np.asarray(rates, dtype=np.float64), 1e-9, 1 - 1e-9)
    use = n > 0
    y, n, p = y[use], n[use], p[use]
    step = max(1, len(y) // _DISPERSION_SAMPLE)
    y, n, p = y[::step], n[::step], p[::step]
    if len(y) == 0:
        return 0.0, 0.0

    def loss(log_rho: float) -> float:
        return -_beta_binomial_loglik(y, n, p, math.exp(log_rho))

    top = math.log(_MAX_DISPERSION)
    fit = optimize.minimize_scalar(
        loss, bounds=(math.log(1e-7), top), method="bounded", options={"xatol": 0.002}
    )
    if not np.isfinite(fit.fun) or math.exp(fit.x) < 2e-7:
        return 0.0, 0.0
    x = float(fit.x)
    if x > top - 2 * _LOG_STEP:
        return _MAX_DISPERSION, 0.0
    curvature = (loss(x + _LOG_STEP) - 2 * fit.fun + loss(x - _LOG_STEP)) / _LOG_STEP**2
    se = 1 / math.sqrt(curvature) if curvature > 0 else 0.0
    return float(math.exp(x)), float(se)


def second_digit_expected_probabilities(
    counts: np.ndarray,
    totals: np.ndarray,
    rates: np.ndarray,
    smallest: int = 10,
    dispersion: float = 0.0,
) -> np.ndarray:
    """Second-digit probabilities of each count ≥ ``smallest`` under its station's model,
    ``BetaBinomial(total, rate, dispersion)`` (binomial when ``dispersion`` is 0), given
    that the count is ≥ ``smallest``.

    Why: honest counts do not follow Benford's second-digit law (Deckert, Myagkov &
    Ordeshook 2011); what counting alone gives is the second-digit law of a draw around
    the station's expected count. The rate must come from outside the count
    (:func:`outside_rates`); the condition ``≥ smallest`` is applied to every station's
    law, as the test keeps only counts that pass it. Computed exactly from the pmf.

    Parameters
    ----------
    counts, totals:
        A candidate's votes and the ballots cast (its denominator) per station.
    rates:
        The candidate's expected share at each station.
    smallest:
        Counts below this have no second digit tested (≥ 10).
    dispersion:
        Intra-class correlation ρ of the beta-binomial (:func:`count_dispersion`).

    Returns
    -------
    numpy.ndarray
        ``(number of counts ≥ smallest, 10)``; each row sums to 1, in the order of the
        counts kept.

    Examples
    --------
    >>> import numpy as np
    >>> probs = second_digit_expected_probabilities(
    ...     np.array([500]), np.array([1000]), np.array([0.5]))
    >>> bool(abs(probs.sum() - 1) < 1e-12 and probs[0].argmax() == 0)
    True
    """
    c = np.asarray(counts, dtype=np.int64)
    t = np.asarray(totals, dtype=np.int64)
    r = np.asarray(rates, dtype=np.float64)
    if c.shape != t.shape or c.shape != r.shape or (c > t).any() or (c < 0).any():
        raise InputError(
            "second_digit_expected_probabilities needs counts between 0 and their totals, "
            "one total and one rate per count"
        )
    if not np.isfinite(r).all() or (r < 0).any() or (r > 1).any():
        raise InputError("second_digit_expected_probabilities needs rates between 0 and 1")
    keep = c >= smallest
    c, t, r = c[keep], t[keep], r[keep]
    if len(c) == 0:
        return np.zeros((0, 10))
    table = _second_digit_table(int(t.max()))
    rho = float(min(max(dispersion, 0.0), _MAX_DISPERSION))
    return np.asarray(_second_digit_probs(t, r, rho, table, int(smallest)))


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
    resamples = check_int("digits", "resamples", resamples)
    seed = check_seed("digits", seed)
    second_digit_min = check_int("digits", "second_digit_min", second_digit_min, low=10)
    last_digit_min = check_int("digits", "last_digit_min", last_digit_min, low=10)
    rng = np.random.default_rng(seed)

    names = list(data.candidates)
    # a count above its station's ballots cast (a broken protocol) has no binomial model
    cast = np.maximum(data.cast, data.votes.max(axis=1, initial=0))
    columns = [data.votes[:, j] for j in range(len(names))]
    # the candidates' models are independent: idle cores of the battery take some
    models = run_chunks(
        [partial(_column_model, col, cast, data, second_digit_min) for col in columns]
    )
    rows = [
        _row(name, col, model, data.district, resamples, rng, second_digit_min, last_digit_min)
        for name, col, model in zip(names, columns, models, strict=True)
    ]
    if len(columns) > 1:
        pooled = np.concatenate(columns)
        rows.append(
            _row(
                "all candidates",
                pooled,
                _Laws.pooled(models),
                np.tile(data.district, len(columns)),
                resamples,
                rng,
                second_digit_min,
                last_digit_min,
            )
        )
    if data.leader_name in names:
        lead = rows[names.index(data.leader_name)]
    else:
        leader_cast = np.maximum(data.cast, data.leader)
        lead = _row(
            data.leader_name,
            data.leader,
            _column_model(data.leader, leader_cast, data, second_digit_min),
            data.district,
            resamples,
            rng,
            second_digit_min,
            last_digit_min,
        )

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
        second_digit_expected_mean=lead.second_digit_expected_mean,
        second_digit_mean_p_value=lead.second_digit_mean_p_value,
        second_digit_p_value=lead.second_digit_p_value,
        second_digit_n=lead.second_digit_n,
        benford_mean_p_value=lead.benford_mean_p_value,
        benford_p_value=lead.benford_p_value,
        last_digit_p_value=lead.last_digit_p_value,
        last_digit_n=lead.last_digit_n,
        zero_five_share=lead.zero_five_share,
        zero_five_p_value=lead.zero_five_p_value,
        second_digit_observed=lead.second_digit_observed,
        second_digit_expected=lead.second_digit_expected,
        benford_expected=tuple(float(p) for p in BENFORD_SECOND_DIGIT),
        last_digit_observed=lead.last_digit_observed,
        last_digit_expected=lead.last_digit_expected,
        rows=tuple(rows),
        second_digit_min=second_digit_min,
        last_digit_min=last_digit_min,
        resamples=resamples,
    )


@dataclass(frozen=True)
class _Laws:
    """What the tests of :func:`_row` need of a column's second-digit laws (the laws of
    its counts ≥ the smallest), as sums over the counts: sums add, so the pooled row is
    the sum of the candidates' and never builds the pooled matrix of laws.

    ``expected``: expected digit counts ``Σ P_i``; ``mean``, ``variance``: the mean and
    variance of the digit sum; ``outer``: ``Σ P_i P_iᵀ``; ``by_cluster``: expected digit
    counts per district code; ``shifts``: rows, the shifts of ``expected`` for one
    standard error of each fitted ρ (:func:`_column_model`)."""

    expected: np.ndarray
    mean: float
    variance: float
    outer: np.ndarray
    by_cluster: np.ndarray
    shifts: np.ndarray

    @classmethod
    def of(cls, model: np.ndarray, clusters: np.ndarray, size: int, shifts: np.ndarray) -> _Laws:
        """The sums of the laws ``model`` (one row per count) of counts in ``clusters``."""
        expected, moments, outer, by_cluster = _law_sums(
            np.asarray(clusters, dtype=np.int64), np.ascontiguousarray(model), size
        )
        return cls(expected, moments[0], moments[1], outer, by_cluster, shifts)

    @classmethod
    def pooled(cls, parts: list[_Laws]) -> _Laws:
        """The laws of all the parts' counts together."""
        return cls(
            expected=np.sum([p.expected for p in parts], axis=0),
            mean=float(sum(p.mean for p in parts)),
            variance=float(sum(p.variance for p in parts)),
            outer=np.sum([p.outer for p in parts], axis=0),
            by_cluster=np.sum([p.by_cluster for p in parts], axis=0),
            shifts=np.concatenate([p.shifts for p in parts]),
        )


@numba.njit(cache=True, nogil=True)
def _law_sums(
    codes: np.ndarray, probs: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """:class:`_Laws`' sums in one pass over the rows of ``probs``: expected digit counts,
    (mean, variance) of the digit sum, ``Σ P_i P_iᵀ`` and expected counts per cluster code.

    Compiled rather than matrix products: numpy hands ``Pᵀ P`` of a tall matrix to BLAS,
    whose threads spin on every core for a 10 × 10 answer (a third of the test's CPU)."""
    expected = np.zeros(10)
    moments = np.zeros(2)
    outer = np.zeros((10, 10))
    by_cluster = np.zeros((size, 10))
    for i in range(codes.shape[0]):
        mean = 0.0
        square = 0.0
        for k in range(10):
            q = probs[i, k]
            expected[k] += q
            by_cluster[codes[i], k] += q
            mean += k * q
            square += k * k * q
            for j in range(10):
                outer[k, j] += q * probs[i, j]
        moments[0] += mean
        moments[1] += square - mean * mean
    return expected, moments, outer, by_cluster


def _column_model(
    counts: np.ndarray, cast: np.ndarray, data: StationArrays, smallest: int
) -> _Laws:
    """One candidate's second-digit model: outside rates, pooled dispersion, exact law;
    and ``(1, 10)``: how far the expected digit counts move for one standard error of the
    fitted ``log ρ`` (the model's own uncertainty, added to the tests' covariance).

    Why: the expected digits of small counts hang on ρ. A 0.7 % candidate's mean second
    digit moves by about 1.5 standard errors of the test when ρ moves by 20 %, and its
    maximum-likelihood ρ is uncertain by a few per cent at 20,000 stations; a test that
    takes ρ as known rejects honest small candidates too often. The slope is taken on
    every k-th station (at most ``_SLOPE_SAMPLE``) and scaled up."""
    rates = outside_rates(counts, cast, data.district, data.region)
    rho, se = _fit_dispersion(counts, cast, rates)
    model = second_digit_expected_probabilities(counts, cast, rates, smallest, rho)
    shift = np.zeros((1, 10))
    kept = np.flatnonzero(np.asarray(counts) >= smallest)
    if rho > 0 and se > 0 and len(model):
        step = max(1, len(kept) // _SLOPE_SAMPLE)
        sub = kept[::step]
        moved = second_digit_expected_probabilities(
            counts[sub], cast[sub], rates[sub], smallest, rho * math.exp(_LOG_STEP)
        )
        slope = (moved.sum(axis=0) - model[::step].sum(axis=0)) / _LOG_STEP
        shift[0] = slope * (len(kept) / len(sub)) * se
    size = int(data.district.max(initial=0)) + 1
    return _Laws.of(model, data.district[kept], size, shift)


def _chi2(freq: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    n = freq.sum()
    exp = expected * n
    chi2 = float(((freq - exp) ** 2 / exp).sum())
    return chi2, float(stats.chi2.sf(chi2, df=len(freq) - 1))


def _cluster_covariance(
    digit: np.ndarray, clusters: np.ndarray, expected: np.ndarray
) -> np.ndarray | None:
    """Cluster-robust (sandwich) covariance of the digit counts:
    ``G/(G − 1) Σ_g S_g S_gᵀ`` with ``S_g`` the observed minus expected digit counts of
    cluster g (``digit``: the observed second digits, ``clusters`` their cluster codes;
    ``expected``: expected digit counts per cluster code, :attr:`_Laws.by_cluster`).

    Why: the model covariance assumes every count is an independent draw from its
    station's law. Stations of one district share whatever the model gets wrong about
    that district (its share estimated from its own neighbours, a spread that is not
    quite a beta), so at 20,000 stations a misspecification far too small to see in any
    one count becomes "significant". The sandwich measures the spread of the district
    sums as it is; the tests use the larger of the two (see :func:`_row`). ``None`` with
    fewer than ``_LEAST_CLUSTERS`` districts, too few to estimate it."""
    codes = np.asarray(clusters, dtype=np.int64)
    size = expected.shape[0]
    used = np.bincount(codes, minlength=size) > 0
    g = int(used.sum())
    if g < _LEAST_CLUSTERS:
        return None
    observed = np.bincount(codes * 10 + digit, minlength=size * 10).reshape(size, 10)
    sums = (observed - expected)[used]
    return np.asarray(np.einsum("gi,gj->ij", sums, sums) * (g / (g - 1)))  # not BLAS (_law_sums)


def _wald_chi2(
    freq: np.ndarray,
    laws: _Laws,
    cluster_cov: np.ndarray | None = None,
    fit_cov: np.ndarray | None = None,
) -> tuple[float, float]:
    """Chi-square (9 df) of digit counts against independent, non-identical categorical
    draws: ``(O − E)ᵀ C⁻¹ (O − E)`` on digits 0–8, with ``C = Σ (diag P_i − P_i P_iᵀ)``
    the exact covariance (Pearson's statistic would assume identical draws).

    With ``cluster_cov`` (:func:`_cluster_covariance`) the statistic is the smaller of
    the two Wald statistics: a test that holds its level when either covariance is right
    (the model's if the counts are independent draws of it, the sandwich if they are not).
    ``fit_cov``, the covariance the fitted ρ adds to the expected counts, is added to both."""
    expected = laws.expected
    cov = np.diag(expected) - laws.outer
    extra = np.zeros((10, 10)) if fit_cov is None else fit_cov
    diff = (freq - expected)[:9]
    try:
        chi2 = float(diff @ np.linalg.solve((cov + extra)[:9, :9], diff))
    except np.linalg.LinAlgError:
        return float("nan"), float("nan")
    if cluster_cov is not None:
        # a singular sandwich (too few districts with counts): the model's statistic
        with contextlib.suppress(np.linalg.LinAlgError):
            chi2 = min(chi2, float(diff @ np.linalg.solve((cluster_cov + extra)[:9, :9], diff)))
    return chi2, float(stats.chi2.sf(chi2, df=9))


def _row(
    name: str,
    counts: np.ndarray,
    laws: _Laws,
    district: np.ndarray,
    resamples: int,
    rng: np.random.Generator,
    second_min: int,
    last_min: int,
) -> DigitRow:
    """Digit tests of one column; ``laws`` sums the second-digit laws of its counts
    ≥ ``second_min`` (:class:`_Laws`, :func:`_column_model`); ``district`` is each count's
    district (the clusters of the robust variance)."""
    nan = float("nan")
    c = np.asarray(counts, dtype=np.int64)

    kept = c >= second_min
    d2 = second_digits(c[kept])
    clusters = np.asarray(district)[kept]
    n2 = len(d2)
    f2 = np.bincount(d2, minlength=10).astype(np.float64)
    expected2 = laws.expected / max(n2, 1)
    if n2 >= _MIN_COUNTS:
        mean = float(d2.mean())
        boot = rng.multinomial(n2, f2 / n2, size=resamples) @ _DIGITS / n2
        lo, hi = np.percentile(boot, [2.5, 97.5])
        interval = (float(lo), float(hi))
        expected_mean = laws.mean / n2
        cluster_cov = _cluster_covariance(d2, clusters, laws.by_cluster)
        cluster_var = 0.0 if cluster_cov is None else float(_DIGITS @ cluster_cov @ _DIGITS)
        fit_cov = laws.shifts.T @ laws.shifts
        fit_var = float(_DIGITS @ fit_cov @ _DIGITS)
        variance = max(laws.variance, cluster_var) + fit_var
        mean_p = _normal_p(float(d2.sum() - laws.mean), variance)
        chi2_2, p_2 = _wald_chi2(f2, laws, cluster_cov, fit_cov)
        z = (mean - _BENFORD_MEAN) / (_BENFORD_SD / np.sqrt(n2))
        benford_mean_p = float(2 * stats.norm.sf(abs(z)))
        benford_chi2, benford_p = _chi2(f2, BENFORD_SECOND_DIGIT)
    else:
        mean, interval, expected_mean, mean_p, chi2_2, p_2 = nan, (nan, nan), nan, nan, nan, nan
        benford_mean_p, benford_chi2, benford_p = nan, nan, nan

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
        second_digit_expected_mean=expected_mean,
        second_digit_mean_p_value=mean_p,
        second_digit_chi2=chi2_2,
        second_digit_p_value=p_2,
        benford_mean_p_value=benford_mean_p,
        benford_chi2=benford_chi2,
        benford_p_value=benford_p,
        last_digit_n=n_last,
        last_digit_chi2=chi2_l,
        last_digit_p_value=p_l,
        zero_five_share=share05,
        zero_five_p_value=p05,
        second_digit_observed=tuple(float(x) for x in (f2 / max(n2, 1))),
        second_digit_expected=tuple(float(x) for x in expected2),
        last_digit_observed=tuple(float(x) for x in (f_last / max(n_last, 1))),
        last_digit_expected=tuple(float(x) for x in expected_last),
    )


def _normal_p(deviation: float, variance: float) -> float:
    """Two-sided normal p-value of a deviation with the given variance (1 if no variance)."""
    if variance <= 0:
        return 1.0 if deviation == 0 else 0.0
    return float(2 * stats.norm.sf(abs(deviation) / np.sqrt(variance)))


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
