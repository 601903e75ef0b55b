"""Integer-percentage test: exact null, detection of rewritten protocols, calibration."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from pollwatch.errors import InputError
from pollwatch.forensics._kernels import (
    BLOCK,
    integer_probabilities,
    per_mille_bin,
    poisson_binomial_draws,
    poisson_binomial_sf,
)
from pollwatch.forensics.data import StationArrays
from pollwatch.forensics.integer_percentages import (
    EXACT_LIMIT,
    IntegerPercentagesResult,
    integer_percentages,
    upper_tail,
)


def clean_counts(
    n: int, seed: int, *, turnout: float = 0.6, share: float = 0.55
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Honest stations: station-level rates vary (beta), counts are binomial."""
    rng = np.random.default_rng(seed)
    reg = rng.integers(300, 3000, n)
    iss = rng.binomial(reg, rng.beta(turnout * 40, (1 - turnout) * 40, n))
    lead = rng.binomial(iss, rng.beta(share * 40, (1 - share) * 40, n))
    return reg, iss, lead


def round_to_percent(count: np.ndarray, total: np.ndarray, step: int = 1) -> np.ndarray:
    """The count a protocol writer gets by aiming at the nearest multiple of ``step`` %."""
    percent = np.round(100 * count / total / step) * step
    return np.round(total * percent / 100).astype(np.int64)


def test_rewritten_turnouts_are_detected_with_small_p() -> None:
    reg, iss, lead = clean_counts(3000, seed=1)
    rng = np.random.default_rng(2)
    rewritten = rng.choice(3000, 200, replace=False)
    iss = iss.copy()
    iss[rewritten] = round_to_percent(iss[rewritten], reg[rewritten])
    lead = np.minimum(lead, iss)
    result = integer_percentages(
        StationArrays.from_counts(reg, iss, iss, lead), resamples=500, seed=0
    )
    assert result.applicable
    assert result.counts["turnout"].p_value < 1e-6
    assert result.p_value < 1e-4
    # about 9 in 10 rewritten stations would not have been integer anyway
    assert 130 < result.excess["turnout"] < 230
    assert abs(result.excess["leader"]) < 4 * result.counts["leader"].sd


def test_rewrites_to_multiples_of_five_show_in_the_five_counts() -> None:
    reg, iss, lead = clean_counts(3000, seed=3)
    cast = iss
    rewritten = np.arange(0, 3000, 20)  # 150 stations
    lead = lead.copy()
    lead[rewritten] = round_to_percent(lead[rewritten], cast[rewritten], step=5)
    result = integer_percentages(StationArrays.from_counts(reg, iss, cast, lead), resamples=200)
    assert result.counts["leader_5"].p_value < 1e-6
    assert result.counts["leader_5"].excess > 100
    assert result.counts["turnout_5"].p_value > 1e-3


def test_closed_form_matches_brute_force_binomial_sums() -> None:
    rng = np.random.default_rng(4)
    n = np.concatenate([[1, 2, 20, 100, 101, 999, 1500], rng.integers(1, 4000, 40)])
    p = np.concatenate([[0.5, 1.0, 0.35, 0.0, 0.7, 0.123, 0.5], rng.uniform(0, 1, 40)])
    p_int, p_five, expected = integer_probabilities(n.astype(np.int64), p)
    at_integer = np.zeros(101)
    for i in range(len(n)):
        k = np.arange(n[i] + 1)
        bins = per_mille_bin(k, np.full_like(k, n[i]))
        pmf = stats.binom.pmf(k, n[i], p[i])
        assert p_int[i] == pytest.approx(pmf[bins % 10 == 0].sum(), abs=1e-10)
        assert p_five[i] == pytest.approx(pmf[bins % 50 == 0].sum(), abs=1e-10)
        np.add.at(at_integer, bins[bins % 10 == 0] // 10, pmf[bins % 10 == 0])
    np.testing.assert_allclose(expected, at_integer, atol=1e-9)


def test_integer_bins_use_exact_arithmetic() -> None:
    # 7/20 is exactly 35 %; 349/1000 is 34.9 %, not an integer; 1/2000 rounds half up
    assert per_mille_bin(np.array([7, 349, 1, 0]), np.array([20, 1000, 2000, 5])).tolist() == [
        350,
        349,
        1,
        0,
    ]


def test_closed_form_expectation_equals_monte_carlo_mean() -> None:
    reg, iss, lead = clean_counts(2000, seed=5)
    result = integer_percentages(
        StationArrays.from_counts(reg, iss, iss, lead), resamples=4000, seed=11
    )
    for kind, count in result.counts.items():
        tolerance = 5 * count.sd / np.sqrt(result.resamples) + 1e-9
        assert count.mc_mean == pytest.approx(count.expected, abs=tolerance), kind


def test_exact_tail_agrees_with_refined_normal_approximation() -> None:
    rng = np.random.default_rng(6)
    probs = rng.uniform(0.02, 0.3, EXACT_LIMIT + 1000)
    mean = probs.sum()
    for shift in (-30.0, 0.0, 25.0, 60.0):
        x = int(mean + shift)
        exact = poisson_binomial_sf(probs, x)
        assert upper_tail(x, probs) == pytest.approx(exact, abs=2e-4)


def test_exact_tail_matches_simulation() -> None:
    rng = np.random.default_rng(7)
    probs = rng.uniform(0, 0.4, 40)
    sims = (rng.uniform(size=(100_000, 40)) < probs).sum(axis=1)
    for x in (5, 8, 12):
        assert poisson_binomial_sf(probs, x) == pytest.approx((sims >= x).mean(), abs=5e-3)


def test_monte_carlo_draws_have_the_exact_law_of_the_count() -> None:
    """The Monte Carlo draws blocks of stations from their exact laws: the sum must still
    have the law of the count, across full and partial blocks and certain events."""
    rng = np.random.default_rng(8)
    probs = rng.uniform(0, 0.5, 2 * BLOCK + 37)
    probs[:5], probs[5:9] = 0.0, 1.0
    draws = poisson_binomial_draws(probs, 200_000, 3)
    assert draws.min() >= 4 and draws.max() <= 4 + (probs < 1).sum()
    mean = probs.sum()
    for x in (int(mean) - 15, int(mean), int(mean) + 15):
        exact = poisson_binomial_sf(probs, x)
        assert (draws >= x).mean() == pytest.approx(exact, abs=5 * np.sqrt(exact / 200_000))


@pytest.mark.slow
def test_false_positive_rate_on_clean_elections() -> None:
    p_values = []
    for seed in range(200):
        reg, iss, lead = clean_counts(300, seed=100 + seed)
        result = integer_percentages(
            StationArrays.from_counts(reg, iss, iss, lead), resamples=1, seed=seed
        )
        p_values.append(result.p_value)
    p = np.array(p_values)
    assert (p < 0.05).mean() <= 0.07
    assert 0.35 < p.mean() < 0.65  # roughly uniform, not stuck at 1


def test_regions_table_points_at_the_rewriting_region() -> None:
    reg, iss, lead = clean_counts(4000, seed=8)
    region = np.repeat(["north", "south", "east", "west"], 1000)
    cheat = np.flatnonzero(region == "east")[:250]
    iss = iss.copy()
    iss[cheat] = round_to_percent(iss[cheat], reg[cheat])
    lead = np.minimum(lead, iss)
    result = integer_percentages(
        StationArrays.from_counts(reg, iss, iss, lead, region=region), resamples=100
    )
    top = result.regions[0]
    assert top.region == "east"
    assert top.stations == 1000 and top.p_value < 1e-6 and top.excess > 150
    assert all(row.p_value > 1e-4 for row in result.regions[1:])


def test_histogram_at_integers_counts_stations() -> None:
    reg = np.full(60, 1000)
    iss = np.concatenate([np.full(30, 350), np.full(30, 621)])
    lead = np.concatenate([np.full(30, 70), np.full(30, 300)])  # 20 %, 48.3 %
    result = integer_percentages(StationArrays.from_counts(reg, iss, iss, lead), resamples=10)
    assert result.turnout_at_integer[35] == 30
    assert result.turnout_at_integer.sum() == 30
    assert result.leader_at_integer[20] == 30
    assert result.counts["either"].observed == 30
    assert result.turnout_expected_at_integer.sum() == pytest.approx(
        result.counts["turnout"].expected
    )


def test_small_and_inconsistent_stations_are_left_out_and_counted() -> None:
    reg, iss, lead = clean_counts(200, seed=9)
    reg = np.concatenate([reg, [50, 0, 500]])
    iss = np.concatenate([iss, [25, 0, 600]])
    lead = np.concatenate([lead, [10, 0, 100]])
    result = integer_percentages(StationArrays.from_counts(reg, iss, iss, lead), resamples=10)
    assert (result.n_used, result.n_small, result.n_empty, result.n_inconsistent) == (200, 1, 1, 1)
    assert result.n_stations == 203


def test_same_seed_same_answer() -> None:
    reg, iss, lead = clean_counts(500, seed=10)
    data = StationArrays.from_counts(reg, iss, iss, lead)
    first = integer_percentages(data, resamples=300, seed=42)
    again = integer_percentages(data, resamples=300, seed=42)
    other = integer_percentages(data, resamples=300, seed=43)
    assert first.to_dict() == again.to_dict()
    assert first.counts["either"].mc_mean != other.counts["either"].mc_mean
    assert first.p_value == other.p_value  # the closed form does not depend on the seed


def test_too_few_stations_is_not_applicable() -> None:
    reg, iss, lead = clean_counts(20, seed=11)
    result = integer_percentages(StationArrays.from_counts(reg, iss, iss, lead), resamples=10)
    assert not result.applicable
    assert "20 usable stations" in result.note
    json.dumps(result.to_dict())


def test_missing_ballots_issued_is_not_applicable() -> None:
    reg, iss, lead = clean_counts(100, seed=12)
    data = StationArrays.from_counts(reg, np.zeros_like(iss), iss, lead)
    result = integer_percentages(data, resamples=10)
    assert not result.applicable
    assert "issued" in result.note


@pytest.mark.parametrize("resamples", [-3, 0, 2.5, True, "10"])
def test_bad_resamples_raise(resamples: object) -> None:
    reg, iss, lead = clean_counts(100, seed=13)
    with pytest.raises(InputError, match="'resamples' parameter of integer_percentages"):
        integer_percentages(
            StationArrays.from_counts(reg, iss, iss, lead),
            resamples=resamples,  # type: ignore[arg-type]
        )


def test_bad_min_registered_raises() -> None:
    reg, iss, lead = clean_counts(100, seed=14)
    with pytest.raises(InputError, match="'min_registered'"):
        integer_percentages(StationArrays.from_counts(reg, iss, iss, lead), min_registered=-1)


def test_result_is_json_ready_and_p_values_in_range() -> None:
    reg, iss, lead = clean_counts(400, seed=15)
    result = integer_percentages(StationArrays.from_counts(reg, iss, iss, lead), resamples=50)
    assert isinstance(result, IntegerPercentagesResult)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["method"] == "integer_percentages"
    assert set(data["excess"]) == {"either", "leader", "turnout"}
    for count in result.counts.values():
        assert 0.0 <= count.p_value <= 1.0 and 0.0 < count.mc_p_value <= 1.0
    assert all(0.0 <= row.p_value <= 1.0 for row in result.regions)


def test_stations_above_99_percent_are_left_out_and_100_percent_counted_apart() -> None:
    reg, iss, lead = clean_counts(300, seed=31)
    reg = np.concatenate([reg, [1000, 1000, 1000, 1000]])
    iss = np.concatenate([iss, [1000, 995, 990, 800]])  # 100 %, 99.5 %, 99.0 %, 80 %
    lead = np.concatenate([lead, [600, 500, 500, 800]])  # 60 %, ..., 100 % of the cast
    data = StationArrays.from_counts(reg, iss, iss, lead)
    result = integer_percentages(data, resamples=10)
    assert result.n_above_99 == 3  # 99.0 % exactly is kept, as in Kobak et al.'s code
    assert result.n_used == 301
    assert result.at_100 == {"turnout": 1, "leader": 1, "either": 2}
    kept = integer_percentages(data.subset(np.arange(data.n) != 302), resamples=10)
    assert kept.counts["turnout"].observed == result.counts["turnout"].observed - 1
    out = json.loads(json.dumps(result.to_dict()))
    assert out["at_100"]["either"] == 2 and out["n_above_99"] == 3


def test_the_window_is_closed_at_both_ends() -> None:
    reg = np.full(60, 2000)
    for issued, whole in ((99, True), (101, True), (98, False), (102, False)):
        iss = np.full(60, issued)
        data = StationArrays.from_counts(reg, iss, iss, iss // 2)
        result = integer_percentages(data, resamples=10)
        assert result.counts["turnout"].observed == (60 if whole else 0), issued
    # the null sums the binomial mass over the same closed windows
    p_at, _, _ = integer_probabilities(np.array([2000]), np.array([0.05]))
    k = np.arange(2001)
    inside = np.abs(2000 * k - 20 * np.round(100 * k / 2000) * 2000) <= 2000
    assert inside[99] and inside[101] and not inside[102]
    assert p_at[0] == pytest.approx(stats.binom.pmf(k[inside], 2000, 0.05).sum())
