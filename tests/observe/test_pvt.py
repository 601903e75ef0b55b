"""Quick count: sampling and the stratified ratio estimator on synthetic elections."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pollwatch.errors import InputError
from pollwatch.observe.pvt import (
    allocate_proportional,
    draw_stratified_sample,
    stratified_ratio_estimate,
)
from pollwatch.results import load_results

SIZES = {"north": 800, "south": 500, "east": 400, "west": 250, "abroad": 50}
TURNOUT = {"north": 0.45, "south": 0.6, "east": 0.7, "west": 0.8, "abroad": 0.3}
SHARE_A = {"north": 0.45, "south": 0.55, "east": 0.65, "west": 0.8, "abroad": 0.3}


def synthetic_election(seed: int = 0) -> pd.DataFrame:
    """2,000 stations in 5 unequal strata with different turnout and support for A."""
    rng = np.random.default_rng(seed)
    rows = []
    number = 0
    for region, size in SIZES.items():
        registered = rng.integers(200, 3000, size=size)
        turnout = np.clip(rng.normal(TURNOUT[region], 0.08, size=size), 0.05, 0.99)
        issued = rng.binomial(registered, turnout)
        invalid = rng.binomial(issued, 0.02)
        valid = issued - invalid
        share = np.clip(rng.normal(SHARE_A[region], 0.1, size=size), 0.01, 0.99)
        a = rng.binomial(valid, share)
        for i in range(size):
            number += 1
            rows.append(
                {
                    "station": f"{number:05d}",
                    "region": region,
                    "registered": registered[i],
                    "issued_early": 0,
                    "issued_premises": issued[i],
                    "issued_outside": 0,
                    "valid": valid[i],
                    "invalid": invalid[i],
                    "A": a[i],
                    "B": valid[i] - a[i],
                }
            )
    return pd.DataFrame(rows)


ELECTION = synthetic_election()
TRUE_A = ELECTION["A"].sum() / ELECTION["valid"].sum()
TRUE_TURNOUT = ELECTION["issued_premises"].sum() / ELECTION["registered"].sum()


# --- allocation and drawing ------------------------------------------------------------------


def test_allocation_is_proportional_exact_and_at_least_one() -> None:
    alloc = allocate_proportional(SIZES, 100)
    assert sum(alloc.values()) == 100
    total = sum(SIZES.values())
    for key, n in alloc.items():
        assert n >= 1 and abs(n - 100 * SIZES[key] / total) < 1
    tiny = allocate_proportional({"big": 1000, "tiny": 1}, 10)
    assert tiny == {"big": 9, "tiny": 1}
    assert allocate_proportional({"a": 3, "b": 2}, 5) == {"a": 3, "b": 2}


@pytest.mark.parametrize("size", [4, 2001])
def test_allocation_refuses_impossible_sizes(size: int) -> None:
    with pytest.raises(InputError):
        allocate_proportional(SIZES, size)


def test_sample_is_reproducible_and_ignores_row_order() -> None:
    one = draw_stratified_sample(ELECTION, size=120, strata="region", seed=7)
    two = draw_stratified_sample(ELECTION, size=120, strata="region", seed=7)
    shuffled = ELECTION.sample(frac=1.0, random_state=3)
    three = draw_stratified_sample(shuffled, size=120, strata="region", seed=7)
    other = draw_stratified_sample(ELECTION, size=120, strata="region", seed=8)
    assert list(one["station"]) == list(two["station"]) == list(three["station"])
    assert set(one["station"]) != set(other["station"])
    assert len(one) == 120 and one["station"].is_unique
    counts = one["region"].value_counts()
    assert counts["north"] == 48 and counts["abroad"] == 3
    north = one[one["region"] == "north"].iloc[0]
    assert north["stratum_size"] == 800 and north["weight"] == pytest.approx(800 / 48)


def test_sample_draws_every_station_with_its_inclusion_probability() -> None:
    small = ELECTION[ELECTION["region"].isin(["west", "abroad"])]
    hits = pd.Series(0, index=small["station"])
    draws = 200
    for seed in range(draws):
        sample = draw_stratified_sample(small, size=30, strata="region", seed=seed)
        hits[sample["station"]] += 1
    rate = hits / draws
    west = rate[small.loc[small["region"] == "west", "station"]]
    # west gets 25 of 30 (250 of 300 stations): inclusion probability 0.1
    assert west.mean() == pytest.approx(0.1, abs=0.005)  # exact: 25/250 per draw
    assert west.max() < 0.25  # no station is favoured (binomial(200, 0.1) max ≈ 0.18)


@pytest.mark.parametrize(
    ("frame", "kwargs", "column"),
    [
        (ELECTION, {"strata": "province"}, "province"),
        (ELECTION.assign(region=ELECTION["region"].where(ELECTION.index != 5)), {}, "region"),
        (pd.concat([ELECTION, ELECTION.iloc[:1]]), {}, "station"),
        (ELECTION, {"size": 3}, "size"),
        (ELECTION, {"size": 10.5}, "size"),
    ],
)
def test_sampling_bad_input_names_the_problem(
    frame: pd.DataFrame, kwargs: dict[str, object], column: str
) -> None:
    options: dict[str, object] = {"size": 50, "strata": "region", "seed": 1, **kwargs}
    with pytest.raises(InputError) as info:
        draw_stratified_sample(frame, **options)  # type: ignore[arg-type]
    assert info.value.column == column


# --- estimation --------------------------------------------------------------------------------


def estimate(sample: pd.DataFrame, population: pd.DataFrame = ELECTION) -> object:
    return stratified_ratio_estimate(sample, population, strata="region", candidates=["A", "B"])


def test_full_census_has_no_sampling_error() -> None:
    result = stratified_ratio_estimate(ELECTION, ELECTION, strata="region", candidates=["A", "B"])
    a, b = result.shares
    assert a.estimate == pytest.approx(TRUE_A) and b.estimate == pytest.approx(1 - TRUE_A)
    assert a.se == pytest.approx(0, abs=1e-12) and a.inside95
    assert result.turnout is not None
    assert result.turnout.estimate == pytest.approx(TRUE_TURNOUT)
    assert result.complete and result.n_reported == 2000


def test_margins_are_normal_quantiles_of_the_standard_error() -> None:
    sample = draw_stratified_sample(ELECTION, size=200, strata="region", seed=1)
    result = stratified_ratio_estimate(sample, ELECTION, strata="region", candidates=["A"])
    (a,) = result.shares
    assert a.margin95 == pytest.approx(1.959964 * a.se)
    assert a.margin99 == pytest.approx(2.575829 * a.se)
    assert a.low95 < a.estimate < a.high95
    assert 0.005 < a.margin95 < 0.05  # 200 of 2,000 stations: about ±2 points
    data = result.to_dict()
    assert data["shares"][0]["official"] == pytest.approx(TRUE_A)


@pytest.mark.slow
def test_95_percent_intervals_cover_the_truth_95_percent_of_the_time() -> None:
    replicates = 300
    inside95 = inside99 = turnout95 = 0
    for seed in range(replicates):
        sample = draw_stratified_sample(ELECTION, size=150, strata="region", seed=seed)
        result = stratified_ratio_estimate(sample, ELECTION, strata="region", candidates=["A"])
        (a,) = result.shares
        assert result.turnout is not None
        inside95 += bool(a.inside95)
        inside99 += bool(a.inside99)
        turnout95 += bool(result.turnout.inside95)
    assert 0.92 <= inside95 / replicates <= 0.98
    assert 0.92 <= turnout95 / replicates <= 0.98
    assert inside99 / replicates >= 0.97


def test_a_falsified_official_share_lies_outside() -> None:
    official = ELECTION.copy()
    stuffed = official["region"].isin(["north", "south"])
    extra = official.loc[stuffed, "valid"] // 3  # ballots stuffed for A
    official.loc[stuffed, "A"] += extra
    official.loc[stuffed, "valid"] += extra
    sample = draw_stratified_sample(ELECTION, size=300, strata="region", seed=4)
    result = stratified_ratio_estimate(sample, official, strata="region", candidates=["A"])
    (a,) = result.shares
    assert a.official is not None and a.official > TRUE_A + 0.01
    assert a.inside95 is False and a.inside99 is False
    assert result.all_official_inside95 is False


def test_cast_denominator_uses_invalid_ballots() -> None:
    sample = draw_stratified_sample(ELECTION, size=2000, strata="region", seed=0)
    result = stratified_ratio_estimate(
        sample, ELECTION, strata="region", candidates=["A"], denominator="cast"
    )
    cast = ELECTION["valid"].sum() + ELECTION["invalid"].sum()
    assert result.shares[0].estimate == pytest.approx(ELECTION["A"].sum() / cast)


def test_missing_stratum_is_reported_not_hidden() -> None:
    sample = draw_stratified_sample(ELECTION, size=100, strata="region", seed=2)
    partial = sample[sample["region"] != "abroad"]
    result = stratified_ratio_estimate(partial, ELECTION, strata="region", candidates=["A"])
    assert not result.complete
    assert result.shares[0].official is None and result.shares[0].inside95 is None
    assert any("abroad" in note for note in result.notes)
    reported = {s.stratum: s.reported for s in result.strata}
    assert reported["abroad"] == 0 and reported["north"] == 40


def test_single_protocol_stratum_borrows_pooled_variance() -> None:
    sample = draw_stratified_sample(ELECTION, size=100, strata="region", seed=2)
    one_abroad = pd.concat(
        [sample[sample["region"] != "abroad"], sample[sample["region"] == "abroad"].iloc[:1]]
    )
    result = stratified_ratio_estimate(one_abroad, ELECTION, strata="region", candidates=["A"])
    assert result.complete and np.isfinite(result.shares[0].se) and result.shares[0].se > 0
    assert any("single protocol" in note for note in result.notes)


def test_turnout_is_left_out_without_registered() -> None:
    sample = draw_stratified_sample(ELECTION, size=100, strata="region", seed=2)
    result = stratified_ratio_estimate(
        sample.drop(columns="registered"), ELECTION, strata="region", candidates=["A"]
    )
    assert result.turnout is None and any("turnout" in n for n in result.notes)


@pytest.mark.parametrize(
    ("change", "column"),
    [
        (lambda s: s.assign(A=-s["A"]), "A"),
        (lambda s: s.assign(A="many"), "A"),
        (lambda s: s.drop(columns="valid"), "valid"),
        (lambda s: s.assign(station="99999"), "station"),
        (lambda s: pd.concat([s, s.iloc[:1]]), "station"),
        (lambda s: s.iloc[:0], "sample_protocols"),
    ],
)
def test_estimation_bad_input_names_the_column(change: object, column: str) -> None:
    sample = draw_stratified_sample(ELECTION, size=100, strata="region", seed=2)
    with pytest.raises(InputError) as info:
        stratified_ratio_estimate(
            change(sample),  # type: ignore[operator]
            ELECTION,
            strata="region",
            candidates=["A"],
        )
    assert info.value.column == column


@pytest.mark.realdata
def test_quick_count_on_the_2024_presidential_election(data_dir: Path) -> None:
    results = load_results(data_dir / "ru" / "2024.csv.zip")
    # Station numbers repeat across regions: the key is region and number.
    stations = results.stations.assign(
        key=results.stations["region"].astype(str) + "/" + results.stations["station"].astype(str)
    )
    sample = draw_stratified_sample(
        stations, size=1500, strata="region", seed=2024, id_column="key"
    )
    assert len(sample) == 1500 and sample["region"].nunique() == stations["region"].nunique()
    result = stratified_ratio_estimate(
        sample,
        stations,
        strata="region",
        candidates=list(results.candidates),
        denominator="cast",
        id_column="key",
    )
    leader = results.leader()
    (share,) = [e for e in result.shares if e.name == leader]
    official = results.stations[leader].sum() / results.ballots_cast().sum()
    assert share.official == pytest.approx(official)
    assert share.inside99  # the sample is drawn from the official figures themselves
    assert share.margin95 < 0.02
    assert result.turnout is not None and result.turnout.inside99
