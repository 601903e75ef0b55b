"""Digit tests: honest counts pass, invented second and last digits are caught."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from pollwatch.errors import InputError
from pollwatch.forensics.data import StationArrays, station_arrays
from pollwatch.forensics.digits import (
    BENFORD_SECOND_DIGIT,
    DigitsResult,
    count_dispersion,
    digits,
    outside_rates,
    second_digit_expected_probabilities,
    second_digits,
)
from pollwatch.forensics.synthetic import MINOR, synthetic_election
from pollwatch.results import load_results


def _clean_counts(rng: np.random.Generator, n: int) -> StationArrays:
    """Binomial counts across heterogeneous stations (sizes, turnout and shares vary)."""
    reg = np.rint(rng.lognormal(np.log(1500), 0.5, n)).astype(np.int64) + 200
    cast = rng.binomial(reg, rng.beta(30, 20, n))
    leader = rng.binomial(cast, rng.beta(25, 25, n))
    other = cast - leader
    second = rng.binomial(other, 0.6)
    return StationArrays.from_counts(
        reg, cast, cast, leader, others=np.column_stack([second, other - second])
    )


def test_benford_second_digit_law() -> None:
    # published values (Mebane 2006): the probabilities sum to 1, the mean is 4.187
    assert BENFORD_SECOND_DIGIT.sum() == pytest.approx(1.0)
    assert BENFORD_SECOND_DIGIT @ np.arange(10) == pytest.approx(4.187, abs=5e-4)
    assert BENFORD_SECOND_DIGIT[0] == pytest.approx(0.11968, abs=1e-4)
    assert BENFORD_SECOND_DIGIT[9] == pytest.approx(0.08500, abs=1e-4)


def test_second_digits() -> None:
    counts = np.array([0, 7, 10, 19, 99, 100, 123, 1000, 9876, 54321])
    assert second_digits(counts).tolist() == [0, 9, 9, 0, 2, 0, 8, 4]


@pytest.mark.parametrize(("count", "total"), [(12, 30), (95, 180), (550, 1100), (1480, 1500)])
def test_binomial_second_digit_probabilities_are_exact(count: int, total: int) -> None:
    # brute force: the whole binomial pmf, second digits of every k >= 10
    k = np.arange(10, total + 1)
    pmf = stats.binom.pmf(k, total, count / total)
    want = np.bincount(second_digits(k), weights=pmf, minlength=10) / pmf.sum()
    rate = np.array([count / total, 0.1])
    got = second_digit_expected_probabilities(np.array([count, 3]), np.array([total, total]), rate)
    assert got.shape == (1, 10)  # the count below 10 has no second digit
    np.testing.assert_allclose(got[0], want, atol=1e-12)


@pytest.mark.parametrize(
    ("total", "rate", "rho"), [(30, 0.3, 0.05), (800, 0.007, 0.002), (1500, 0.6, 0.01)]
)
def test_beta_binomial_second_digit_probabilities_are_exact(
    total: int, rate: float, rho: float
) -> None:
    # the condition k >= 10 applies to the model's whole law, whatever the observed count
    k = np.arange(10, total + 1)
    s = 1 / rho - 1
    pmf = stats.betabinom.pmf(k, total, rate * s, (1 - rate) * s)
    want = np.bincount(second_digits(k), weights=pmf, minlength=10) / pmf.sum()
    got = second_digit_expected_probabilities(
        np.array([10]), np.array([total]), np.array([rate]), 10, rho
    )
    np.testing.assert_allclose(got[0], want, atol=1e-10)


def test_outside_rates_leave_the_station_out() -> None:
    counts = np.array([10, 30, 60, 5])
    totals = np.array([100, 100, 100, 1000])
    district = np.array([0, 0, 0, 1])
    rates = outside_rates(counts, totals, district, np.zeros(4, dtype=np.int64), least_outside=150)
    # the first three from their district without themselves; the fourth, alone in its
    # district, from the rest of the region
    np.testing.assert_allclose(rates, [90 / 200, 70 / 200, 40 / 200, 100 / 300])


def test_dispersion_is_found_and_zero_for_binomial_counts() -> None:
    rng = np.random.default_rng(8)
    n = rng.integers(500, 2500, 20_000)
    p = np.full(len(n), 0.05)
    assert count_dispersion(rng.binomial(n, p), n, p) < 2e-4
    s = 1 / 0.01 - 1
    spread = rng.binomial(n, rng.beta(p * s, (1 - p) * s))
    assert count_dispersion(spread, n, p) == pytest.approx(0.01, rel=0.15)


@pytest.mark.parametrize(
    ("counts", "totals", "rates"),
    [([12], [10], [0.5]), ([5], [10], [1.5]), ([5], [10], [np.nan]), ([5, 6], [10, 10], [0.5])],
)
def test_digit_model_rejects_bad_input(counts: list, totals: list, rates: list) -> None:
    with pytest.raises(InputError, match="second_digit_expected_probabilities"):
        second_digit_expected_probabilities(np.array(counts), np.array(totals), np.array(rates))


def test_a_small_candidate_on_clean_counts_is_not_rejected() -> None:
    # a 0.7 % candidate: most counts sit near the cut-off of 10. A model centred on each
    # station's own count rejected it (p = 1e-76 at 20,000 stations); the outside rate
    # with the beta-binomial spread does not
    p_mean, p_chi2 = [], []
    for seed in range(8):
        e = synthetic_election(4_000, seed=700 + seed, minor_share=0.007)
        r = digits(e.arrays(), resamples=20, seed=seed)
        minor = {row.candidate: row for row in r.rows}[MINOR]
        assert minor.second_digit_n >= 500
        p_mean.append(minor.second_digit_mean_p_value)
        p_chi2.append(minor.second_digit_p_value)
        p_mean.append(r.rows[-1].second_digit_mean_p_value)  # pooled row
    assert min(p_mean) > 1e-3 and min(p_chi2) > 1e-3
    assert np.mean(np.array(p_mean) < 0.05) <= 0.25


def _fabricate_second_digits(
    data: StationArrays, fraction: float, rng: np.random.Generator
) -> StationArrays:
    """In ``fraction`` of the stations the leader's count (≥ 100) is rewritten by someone who
    likes 0 and 5 as the second digit (e.g. 1,507 or 1,057 for 1,347); other digits kept."""
    y = data.leader.copy()
    place = 10 ** np.maximum(np.floor(np.log10(np.maximum(y, 1))).astype(np.int64) - 1, 0)
    liked = rng.choice([0, 5, 0, 5, 1, 2], size=len(y))
    written = y // (10 * place) * (10 * place) + liked * place + y % place
    hit = (rng.random(len(y)) < fraction) & (y >= 100)
    y[hit] = written[hit]
    cast = data.cast - data.leader + y
    return StationArrays.from_counts(data.registered, cast, cast, y, region=data.region)


@pytest.mark.slow
def test_clean_binomial_counts_pass_the_second_digit_tests_but_not_benford() -> None:
    # honest counts concentrated in a few hundred votes do not follow 2BL (Deckert, Myagkov
    # & Ordeshook 2011); the binomial-model tests do not flag them
    reps = 40
    p_mean, p_chi2, p_benford = [], [], []
    for seed in range(200, 200 + reps):
        r = digits(synthetic_election(3_000, seed=seed).arrays(), resamples=20, seed=seed)
        p_mean.append(r.second_digit_mean_p_value)
        p_chi2.append(r.second_digit_p_value)
        p_benford.append(r.benford_mean_p_value)
        assert abs(r.second_digit_mean - r.second_digit_expected_mean) < 0.2
    assert np.mean(np.array(p_mean) < 0.05) <= 0.1
    assert np.mean(np.array(p_chi2) < 0.05) <= 0.1
    assert np.mean(np.array(p_benford) < 0.05) >= 0.15  # 3 times alpha and more


@pytest.mark.slow
def test_invented_second_digits_are_detected() -> None:
    rng = np.random.default_rng(21)
    reps = 20
    found_mean, found_chi2 = [], []
    for seed in range(300, 300 + reps):
        data = _fabricate_second_digits(synthetic_election(4_000, seed=seed).arrays(), 0.1, rng)
        r = digits(data, resamples=20, seed=seed)
        found_mean.append(r.second_digit_mean_p_value < 0.05)
        found_chi2.append(r.second_digit_p_value < 0.05)
        assert r.second_digit_mean < r.second_digit_expected_mean
    assert np.mean(found_mean) >= 0.9
    assert np.mean(found_chi2) >= 0.9


@pytest.mark.slow
def test_clean_counts_rarely_fail_the_last_digit_tests() -> None:
    rng = np.random.default_rng(11)
    reps = 300
    p_last, p_05 = [], []
    for _ in range(reps):
        r = digits(_clean_counts(rng, 2_000), resamples=50, seed=1)
        p_last.append(r.last_digit_p_value)
        p_05.append(r.zero_five_p_value)
    assert np.mean(np.array(p_last) < 0.05) <= 0.075
    assert np.mean(np.array(p_05) < 0.05) <= 0.075


@pytest.mark.slow
def test_steep_counts_of_a_small_candidate_are_not_flagged() -> None:
    # a 5 % candidate: counts ≥ 100 sit on the steep tail, so low last digits are more
    # common than high ones; plain uniformity rejects them, the tilted expectation not
    rng = np.random.default_rng(13)
    reps = 200
    p_tilted, p_uniform = [], []
    for _ in range(reps):
        reg = np.rint(rng.lognormal(np.log(1500), 0.5, 6_000)).astype(np.int64) + 200
        cast = rng.binomial(reg, 0.65)
        small = rng.binomial(cast, rng.beta(10, 190, len(cast)))
        data = StationArrays.from_counts(reg, cast, cast, small)
        r = digits(data, resamples=50, seed=1)
        p_tilted.append(r.last_digit_p_value)
        observed = np.bincount(small[small >= 100] % 10, minlength=10)
        p_uniform.append(stats.chisquare(observed).pvalue)
    assert np.mean(np.array(p_uniform) < 0.05) > 0.25
    assert np.mean(np.array(p_tilted) < 0.05) <= 0.075


@pytest.mark.slow
def test_benford_like_counts_rarely_fail_the_classic_2bl_comparison() -> None:
    # 2BL holds for counts whose logarithm spreads evenly over whole decades (Mebane 2006)
    rng = np.random.default_rng(12)
    reps = 300
    p_mean, p_chi2, covered = [], [], []
    for _ in range(reps):
        lam = 10 ** rng.uniform(1.5, 4.5, 3_000)
        counts = rng.poisson(lam)
        data = StationArrays.from_counts(
            counts, counts, counts, counts, others=np.zeros_like(counts)
        )
        r = digits(data, resamples=500, seed=2)
        p_mean.append(r.benford_mean_p_value)
        p_chi2.append(r.rows[0].benford_p_value)
        lo, hi = r.second_digit_interval
        covered.append(lo <= 4.187 <= hi)
    assert np.mean(np.array(p_mean) < 0.05) <= 0.075
    assert np.mean(np.array(p_chi2) < 0.05) <= 0.075
    assert np.mean(covered) >= 0.92


def test_invented_last_digits_are_detected() -> None:
    rng = np.random.default_rng(3)
    data = _clean_counts(rng, 5_000)
    leader = data.leader.copy()
    # in a third of the stations the leader's count is written by someone who likes 0 and 5
    fake = rng.random(len(leader)) < 1 / 3
    liked = rng.choice([0, 5, 0, 5, 2, 7], size=len(leader))
    leader[fake] = leader[fake] // 10 * 10 + liked[fake]
    cast = data.cast - data.leader + leader
    forged = StationArrays.from_counts(data.registered, cast, cast, leader)
    r = digits(forged, resamples=1000)
    assert r.last_digit_p_value < 1e-6
    assert r.zero_five_share > 0.3
    assert r.zero_five_p_value < 1e-6
    honest = digits(data, resamples=1000)
    assert honest.last_digit_p_value > 1e-3


def test_result_shape_and_json() -> None:
    r = digits(_clean_counts(np.random.default_rng(4), 3_000), resamples=500, seed=9)
    assert isinstance(r, DigitsResult)
    d = r.to_dict()
    json.dumps(d)
    for key in (
        "second_digit_mean",
        "second_digit_interval",
        "second_digit_expected_mean",
        "second_digit_mean_p_value",
        "benford_mean_p_value",
        "benford_p_value",
        "last_digit_p_value",
    ):
        assert key in d
    assert d["benford_expected"] == pytest.approx(BENFORD_SECOND_DIGIT.tolist())
    assert sum(r.second_digit_expected) == pytest.approx(1.0)
    lo, hi = r.second_digit_interval
    assert lo < r.second_digit_mean < hi
    assert len(r.second_digit_observed) == len(r.second_digit_expected) == 10
    assert sum(r.last_digit_observed) == pytest.approx(1.0)
    assert sum(r.last_digit_expected) == pytest.approx(1.0)
    assert [row.candidate for row in r.rows] == ["leader", "other1", "other2", "all candidates"]
    assert r.candidate == "leader"
    for row in r.rows:
        for p in (
            row.second_digit_p_value,
            row.second_digit_mean_p_value,
            row.benford_mean_p_value,
            row.benford_p_value,
            row.last_digit_p_value,
            row.zero_five_p_value,
        ):
            assert 0 <= p <= 1
    pooled = r.rows[-1]
    assert pooled.second_digit_n == sum(row.second_digit_n for row in r.rows[:-1])
    assert digits(_clean_counts(np.random.default_rng(4), 3_000), resamples=500, seed=9) == r


def test_small_counts_are_left_out() -> None:
    # stations of 5–60 voters: no count reaches 100, so no last-digit test
    rng = np.random.default_rng(5)
    reg = rng.integers(5, 60, 2_000)
    cast = rng.binomial(reg, 0.7)
    r = digits(StationArrays.from_counts(reg, cast, cast, rng.binomial(cast, 0.6)))
    assert r.last_digit_n == 0
    assert np.isnan(r.last_digit_p_value)
    assert "last digits" in r.note
    json.dumps(r.to_dict())
    tiny = np.minimum(cast, 9)
    r2 = digits(StationArrays.from_counts(reg, tiny, tiny, np.minimum(tiny, 3)))
    assert not r2.applicable


@pytest.mark.parametrize(
    ("option", "value"),
    [("resamples", 0), ("second_digit_min", 5), ("last_digit_min", 1), ("resamples", "many")],
)
def test_bad_options_raise_input_error(option: str, value: object) -> None:
    data = _clean_counts(np.random.default_rng(6), 200)
    with pytest.raises(InputError, match=option):
        digits(data, **{option: value})  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.realdata
def test_russia_2018_per_candidate(data_dir: Path) -> None:
    # measured (docs/validation.md): the leader and four others pass the binomial-model
    # test; Baburin, Suraikin (≈ 0.7 % each) and Grudinin are rejected, with fewer high
    # digits than the model — the model does not know which stations moved votes
    data = station_arrays(load_results(data_dir / "ru" / "2018.csv.zip"))
    r = digits(data, resamples=100, seed=0)
    rows = {row.candidate.split()[0]: row for row in r.rows[:-1]}
    assert len(rows) == 8
    assert r.second_digit_mean_p_value > 0.01
    assert r.second_digit_mean == pytest.approx(4.017, abs=0.002)
    passing = {name for name, row in rows.items() if row.second_digit_mean_p_value > 1e-3}
    assert {"Путин", "Жириновский", "Собчак", "Титов", "Явлинский"} <= passing


def test_the_guards_only_widen_the_second_digit_tests() -> None:
    # the district-clustered variance and the fitted ρ's uncertainty can only make the
    # tests more cautious than the model taken as exact: a 0.7 % candidate's expected
    # digits hang on ρ (docs/validation.md, "Second digit against the model")
    e = synthetic_election(4_000, seed=711, minor_share=0.007)
    data = e.arrays()
    r = digits(data, resamples=20, seed=0)
    row = {x.candidate: x for x in r.rows}[MINOR]
    counts = data.votes[:, data.candidates.index(MINOR)]
    cast = np.maximum(data.cast, data.votes.max(axis=1))
    rates = outside_rates(counts, cast, data.district, data.region)
    probs = second_digit_expected_probabilities(
        counts, cast, rates, 10, count_dispersion(counts, cast, rates)
    )
    mu = probs @ np.arange(10)
    var = float((probs @ np.arange(10) ** 2 - mu**2).sum())
    z = (second_digits(counts[counts >= 10]).sum() - mu.sum()) / np.sqrt(var)
    naive = float(2 * stats.norm.sf(abs(z)))
    assert row.second_digit_mean_p_value >= naive - 1e-12
    assert row.second_digit_expected_mean == pytest.approx(mu.mean())
