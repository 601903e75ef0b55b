"""Shpilkin's estimate: recovers injected ballot stuffing, near zero on clean elections."""

from __future__ import annotations

import json

import numba
import numpy as np
import pytest
from scipy import stats

from pollwatch.errors import InputError
from pollwatch.forensics._kernels import normal_pair, poisson_one
from pollwatch.forensics.data import StationArrays
from pollwatch.forensics.shpilkin import POOLED, REFERENCES, ShpilkinResult, shpilkin
from pollwatch.forensics.synthetic import synthetic_election


def clean_election(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Honest stations: turnout and leader's share vary by station, independently."""
    rng = np.random.default_rng(seed)
    reg = rng.integers(500, 3000, n)
    iss = rng.binomial(reg, rng.beta(24, 16, n))  # turnout around 60 %
    lead = rng.binomial(iss, rng.beta(25, 20, n))  # share around 55 %
    return reg, iss, lead


def stuffed_election(n: int, seed: int, fraction: float) -> tuple[StationArrays, int, int]:
    """Ballots for the leader added at a ``fraction`` of stations (30-80 % of non-voters)."""
    reg, iss, lead = clean_election(n, seed)
    rng = np.random.default_rng(seed + 1)
    stuffed = rng.uniform(size=n) < fraction
    added = np.where(stuffed, np.round(rng.uniform(0.3, 0.8, n) * (reg - iss)), 0).astype(np.int64)
    iss = iss + added
    lead = lead + added
    return StationArrays.from_counts(reg, iss, iss, lead), int(added.sum()), int(lead.sum())


def confounded_regions(n_per_region: int, seed: int) -> StationArrays:
    """A clean election whose high-turnout regions honestly favour the leader."""
    rng = np.random.default_rng(seed)
    regs, isss, leads, labels = [], [], [], []
    for r, (turnout, share) in enumerate([(0.45, 0.35), (0.55, 0.45), (0.65, 0.55), (0.75, 0.65)]):
        reg = rng.integers(500, 3000, n_per_region)
        iss = rng.binomial(reg, rng.beta(50 * turnout, 50 * (1 - turnout), n_per_region))
        lead = rng.binomial(iss, rng.beta(50 * share, 50 * (1 - share), n_per_region))
        regs.append(reg)
        isss.append(iss)
        leads.append(lead)
        labels += [f"R{r}"] * n_per_region
    reg, iss, lead = np.concatenate(regs), np.concatenate(isss), np.concatenate(leads)
    return StationArrays.from_counts(reg, iss, iss, lead, region=labels)


@pytest.mark.parametrize("reference", ["peak", "band", "core", "trend"])
def test_recovers_stuffing_far_above_the_reference(reference: str) -> None:
    data, injected, _ = stuffed_election(10_000, seed=1, fraction=0.15)
    result = shpilkin(data, reference=reference, resamples=200, seed=0)
    assert result.applicable
    assert result.anomalous_votes == pytest.approx(injected, rel=0.15)
    low, high = result.interval
    assert 0 < low < high
    assert low <= injected * 1.15 and high >= injected * 0.85


@pytest.mark.parametrize("reference", sorted(REFERENCES))
def test_clean_election_gives_near_zero(reference: str) -> None:
    reg, iss, lead = clean_election(10_000, seed=3)
    result = shpilkin(
        StationArrays.from_counts(reg, iss, iss, lead), reference=reference, resamples=200
    )
    assert result.applicable
    noise = 0.015 if reference == "trend" else 0.005  # trend: about 3 × the others' spread
    assert abs(result.anomalous_fraction) < noise
    assert result.interval[0] < 0 < result.interval[1]
    assert result.reference_share == pytest.approx(lead.sum() / iss.sum(), abs=0.01)


def test_regions_get_their_own_reference() -> None:
    """Regional differences are not fraud: the national pooled figure reads them as such."""
    data = confounded_regions(1_500, seed=12)
    pooled = shpilkin(data, by_region=False, resamples=200)
    regional = shpilkin(data, resamples=200)
    assert pooled.anomalous_fraction > 0.05 and pooled.interval[0] > 0
    assert abs(regional.anomalous_fraction) < 0.01
    assert regional.interval[0] < 0 < regional.interval[1]
    assert [r.region for r in regional.regions] == ["R0", "R1", "R2", "R3"]
    shares = [r.reference_share for r in regional.regions]
    assert shares == pytest.approx([0.35, 0.45, 0.55, 0.65], abs=0.02)


@pytest.mark.slow
def test_interval_covers_zero_on_clean_heterogeneous_elections() -> None:
    """The flag "interval above 0" is a one-sided 2.5 % test: rare on clean elections."""
    flagged = 0
    for seed in range(40):
        data = synthetic_election(2_000, seed=500 + seed, n_regions=10).arrays()
        flagged += shpilkin(data, resamples=200, seed=seed).interval[0] > 0
    assert flagged <= 4  # P(≥ 5 of 40) < 0.01 if the rate were 2.5 %


@pytest.mark.slow
def test_stated_recovery_under_mild_incremental_stuffing() -> None:
    """The docstring's table: peak recovers about 0.64 of mild stuffing, trend about 0.86."""
    injected, peak, trend = 0.0, 0.0, 0.0
    for seed in range(4):
        election = synthetic_election(20_000, seed=700 + seed, incremental=0.2)
        result = shpilkin(election.arrays(), resamples=50, seed=seed)
        injected += election.truth.anomalous_votes
        peak += result.anomalous_votes
        trend += next(s for s in result.sensitivity if s.reference == "trend").anomalous_votes
        assert result.interval[0] > 0
    assert 0.5 < peak / injected < 0.8
    assert 0.7 < trend / injected < 1.05


def test_excess_is_signed_and_the_reference_bins_balance() -> None:
    """With the peak reference, Σ(L − ρO) over the bins above it is ΣL − ρΣO: no clipping."""
    data = synthetic_election(3_000, seed=5, incremental=0.1, n_regions=3).arrays()
    result = shpilkin(data, resamples=20)
    assert result.leader_curve.sum() == pytest.approx(result.leader_votes)
    assert result.others_curve.sum() == pytest.approx((data.cast - data.leader).sum())
    total_excess = result.leader_curve.sum() - result.clean_leader_curve.sum()
    assert total_excess == pytest.approx(result.anomalous_votes)
    assert sum(r.anomalous_votes for r in result.regions) == pytest.approx(result.anomalous_votes)
    for region in result.regions:
        mask = data.region == data.region_names.index(region.region)
        lead = data.leader[mask].sum()
        others = (data.cast - data.leader)[mask].sum()
        rho = region.reference_share / (1 - region.reference_share)
        assert region.anomalous_votes == pytest.approx(lead - rho * others)


def test_small_regions_are_pooled() -> None:
    reg, iss, lead = clean_election(1_000, seed=13)
    labels = ["big"] * 900 + ["small a"] * 60 + ["small b"] * 40
    result = shpilkin(StationArrays.from_counts(reg, iss, iss, lead, region=labels), resamples=20)
    assert [(r.region, r.stations) for r in result.regions] == [("big", 900), (POOLED, 100)]


def test_sensitivity_lists_every_reference_and_headline_matches() -> None:
    data, _, leader_votes = stuffed_election(5_000, seed=4, fraction=0.1)
    result = shpilkin(data, reference="band", resamples=50)
    assert [s.reference for s in result.sensitivity] == list(REFERENCES)
    band = next(s for s in result.sensitivity if s.reference == "band")
    assert band.anomalous_votes == result.anomalous_votes
    assert result.leader_votes == leader_votes
    assert result.corrected_turnout < data.issued.sum() / data.registered.sum()


def test_same_seed_same_answer() -> None:
    data, _, _ = stuffed_election(2_000, seed=6, fraction=0.1)
    first = shpilkin(data, resamples=100, seed=7)
    assert first.to_dict() == shpilkin(data, resamples=100, seed=7).to_dict()
    assert first.interval != shpilkin(data, resamples=100, seed=8).interval


def test_too_few_stations_is_not_applicable() -> None:
    reg, iss, lead = clean_election(30, seed=7)
    result = shpilkin(StationArrays.from_counts(reg, iss, iss, lead), resamples=10)
    assert not result.applicable and "30 usable stations" in result.note
    json.dumps(result.to_dict())


def test_leader_only_votes_is_not_applicable() -> None:
    reg, iss, _ = clean_election(100, seed=8)
    result = shpilkin(StationArrays.from_counts(reg, iss, iss, iss), resamples=10)
    assert not result.applicable and "leader" in result.note


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"reference": "mode"}, "'reference' parameter of shpilkin"),
        ({"resamples": -3}, "'resamples' parameter of shpilkin"),
        ({"resamples": 0}, "'resamples' parameter of shpilkin"),
        ({"resamples": 1.5}, "'resamples' parameter of shpilkin"),
        ({"by_region": "yes"}, "'by_region' parameter of shpilkin"),
    ],
)
def test_bad_parameters_raise(options: dict[str, object], message: str) -> None:
    reg, iss, lead = clean_election(100, seed=9)
    with pytest.raises(InputError, match=message):
        shpilkin(StationArrays.from_counts(reg, iss, iss, lead), **options)  # type: ignore[arg-type]


def test_json_is_ready_and_leaves_out_curves() -> None:
    data, _, _ = stuffed_election(1_000, seed=10, fraction=0.1)
    result = shpilkin(data, resamples=20)
    assert isinstance(result, ShpilkinResult)
    out = json.loads(json.dumps(result.to_dict()))
    assert out["method"] == "shpilkin"
    assert "leader_curve" not in out and "clean_leader_curve" not in out
    assert len(out["sensitivity"]) == len(REFERENCES)
    assert out["regions"][0]["anomalous_votes"] == pytest.approx(result.anomalous_votes)


def test_fast_bootstrap_matches_plain_station_resampling() -> None:
    data = synthetic_election(4_000, seed=11, incremental=0.15, n_regions=4).arrays()
    result = shpilkin(data, resamples=400, seed=1)
    rng = np.random.default_rng(2)
    plain = [
        shpilkin(data.subset(rng.integers(0, data.n, data.n)), resamples=1).anomalous_votes
        for _ in range(300)
    ]
    low, high = np.percentile(plain, [2.5, 97.5])
    width = high - low
    assert result.interval[0] == pytest.approx(low, abs=0.2 * width)
    assert result.interval[1] == pytest.approx(high, abs=0.2 * width)


def two_peaked_election(seed: int) -> tuple[StationArrays, int]:
    """Region A honest at ~55 % turnout; region B (twice as large, same honest voters)
    written up to 75-95 % with ballots for the leader, so the others' curve peaks higher
    there than at 55 %. Returns the data and the votes added."""
    rng = np.random.default_rng(seed)
    n_a, n_b = 3_000, 6_000
    reg = rng.integers(800, 2500, n_a + n_b)
    iss = rng.binomial(reg, rng.beta(55, 45, n_a + n_b))
    lead = rng.binomial(iss, 0.55)
    target = rng.uniform(0.75, 0.95, n_b)
    added = np.zeros(n_a + n_b, dtype=np.int64)
    added[n_a:] = np.maximum(np.round(target * reg[n_a:]) - iss[n_a:], 0).astype(np.int64)
    labels = ["A"] * n_a + ["B"] * n_b
    data = StationArrays.from_counts(reg, iss + added, iss + added, lead + added, region=labels)
    return data, int(added.sum())


def test_shpilkin_recipe_takes_the_lowest_turnout_peak_nationally() -> None:
    data, added = two_peaked_election(seed=21)
    result = shpilkin(data, resamples=100, seed=0)
    recipe = {r.name: r for r in result.recipes}
    assert list(recipe) == ["shpilkin", "regional"]
    assert recipe["shpilkin"].reference_turnout == pytest.approx(0.56, abs=0.02)
    assert recipe["shpilkin"].reference_share == pytest.approx(0.55, abs=0.01)
    assert recipe["shpilkin"].anomalous_votes == pytest.approx(added, rel=0.05)
    low, high = recipe["shpilkin"].interval
    assert low <= recipe["shpilkin"].anomalous_votes <= high
    # the global mode of the others' curve is in the written-up region: most is missed
    national_mode = shpilkin(data, by_region=False, resamples=20)
    assert national_mode.reference_turnout > 0.75
    assert national_mode.anomalous_votes < 0.5 * added


def test_shpilkin_recipe_counts_only_the_other_candidates_votes() -> None:
    data, _ = two_peaked_election(seed=22)
    more_invalid = StationArrays.from_counts(  # 50 invalid ballots at every station
        data.registered,
        data.issued,
        data.cast + 50,
        data.leader,
        others=data.cast - data.leader,
        region=data.region,
    )
    base = {r.name: r.anomalous_votes for r in shpilkin(data, resamples=20).recipes}
    moved = {r.name: r.anomalous_votes for r in shpilkin(more_invalid, resamples=20).recipes}
    assert moved["shpilkin"] == pytest.approx(base["shpilkin"])
    assert moved["regional"] != pytest.approx(base["regional"])


def test_regional_recipe_is_the_region_by_region_peak_whatever_the_headline() -> None:
    data = confounded_regions(1_000, seed=23)
    default = shpilkin(data, resamples=50, seed=0)
    national = shpilkin(data, by_region=False, resamples=50, seed=0)
    regional = {r.name: r for r in national.recipes}["regional"]
    assert default.recipes[1].anomalous_votes == pytest.approx(default.anomalous_votes)
    assert regional.anomalous_votes == pytest.approx(default.anomalous_votes)
    assert regional.reference_share == pytest.approx(default.reference_share)
    out = json.loads(json.dumps(national.to_dict()))
    assert [r["name"] for r in out["recipes"]] == ["shpilkin", "regional"]
    assert set(out["recipes"][0]) == {
        "name",
        "anomalous_votes",
        "interval",
        "reference_turnout",
        "reference_share",
    }


@numba.njit
def _draws(size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    state = np.uint64(seed)
    weights = np.empty(size, dtype=np.int64)
    normals = np.empty((size, 2))
    for i in range(size):
        weights[i], state = poisson_one(state)
        normals[i, 0], normals[i, 1], state = normal_pair(state)
    return weights, normals


def test_bootstrap_draws_have_their_laws() -> None:
    """The bootstrap's weights are Poisson(1) and its cell noise standard normal pairs."""
    size = 400_000
    weights, normals = _draws(size, 9)
    observed = np.bincount(np.minimum(weights, 6), minlength=7)
    expected = stats.poisson.pmf(np.arange(7), 1.0)
    expected[6] = stats.poisson.sf(5, 1.0)
    assert stats.chisquare(observed, expected * size).pvalue > 1e-4
    for column in normals.T:
        assert stats.kstest(column, "norm").pvalue > 1e-4
    assert abs(np.corrcoef(normals.T)[0, 1]) < 5 / np.sqrt(size)
