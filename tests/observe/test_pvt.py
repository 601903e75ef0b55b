"""Quick count: sampling and the stratified ratio estimator on synthetic elections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pollwatch.errors import InputError
from pollwatch.observe.pvt import (
    MIN_PROTOCOLS,
    MIN_RESPONSE,
    PVTPending,
    PVTResult,
    allocate_proportional,
    collapse_strata,
    draw_stratified_sample,
    logit_interval,
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


def estimate(sample: pd.DataFrame, population: pd.DataFrame = ELECTION, **kwargs: Any) -> PVTResult:
    result = stratified_ratio_estimate(
        sample, population, strata="region", candidates=["A", "B"], **kwargs
    )
    assert isinstance(result, PVTResult), result
    return result


def test_full_census_has_no_sampling_error() -> None:
    result = estimate(ELECTION)
    a, b = result.shares
    assert a.estimate == pytest.approx(TRUE_A) and b.estimate == pytest.approx(1 - TRUE_A)
    assert a.se == pytest.approx(0, abs=1e-12) and a.inside95
    assert result.turnout is not None
    assert result.turnout.estimate == pytest.approx(TRUE_TURNOUT)
    assert result.complete and result.n_reported == 2000
    assert result.joint is not None and result.joint.method == "exact"
    assert not result.joint.rejected


def test_margins_are_t_quantiles_with_the_design_degrees_of_freedom() -> None:
    sample = draw_stratified_sample(ELECTION, size=200, strata="region", seed=1)
    result = estimate(sample)
    a = result.shares[0]
    assert result.df == 200 - 5  # protocols minus strata
    assert 1 <= a.df <= result.df  # Satterthwaite's effective df, never more
    assert (a.low95, a.high95) == logit_interval(a.estimate, a.se, stats.t.ppf(0.975, a.df))
    assert (a.low99, a.high99) == logit_interval(a.estimate, a.se, stats.t.ppf(0.995, a.df))
    assert a.margin95 > 1.959964 * a.se
    assert a.low95 < a.estimate < a.high95
    assert 0.005 < a.margin95 < 0.05  # 200 of 2,000 stations: about ±2 points
    data = result.to_dict()
    assert data["ready"] is True and data["shares"][0]["official"] == pytest.approx(TRUE_A)
    assert a.bound_low == a.bound_high == pytest.approx(a.estimate)  # nothing missing


def test_a_small_share_gets_an_interval_wider_above_than_below() -> None:
    low, high = logit_interval(0.04, 0.01, 2.0)
    assert 0 < low < 0.04 < high and high - 0.04 > 0.04 - low
    assert logit_interval(0.5, 0.0, 2.0) == (0.5, 0.5)


def test_thin_strata_widen_the_margin_through_fewer_degrees_of_freedom() -> None:
    sample = draw_stratified_sample(ELECTION, size=25, strata="region", seed=3)
    result = estimate(sample)
    assert result.collapsed == (("abroad", "east"),)  # one station sampled abroad
    assert result.df == 25 - 4
    assert all(e.df <= 21 for e in result.shares)
    a = result.shares[0]
    assert a.margin95 / a.se > 2.08  # t with at most 21 df, not the normal 1.96


@pytest.mark.slow
def test_95_percent_intervals_cover_the_truth_95_percent_of_the_time() -> None:
    replicates = 300
    inside95 = inside99 = turnout95 = 0
    for seed in range(replicates):
        sample = draw_stratified_sample(ELECTION, size=150, strata="region", seed=seed)
        result = estimate(sample)
        a = result.shares[0]
        assert result.turnout is not None
        inside95 += bool(a.inside95)
        inside99 += bool(a.inside99)
        turnout95 += bool(result.turnout.inside95)
    assert 0.92 <= inside95 / replicates <= 0.98
    assert 0.92 <= turnout95 / replicates <= 0.98
    assert inside99 / replicates >= 0.97


def test_a_falsified_official_share_fails_the_joint_test() -> None:
    official = ELECTION.copy()
    stuffed = official["region"].isin(["north", "south"])
    extra = official.loc[stuffed, "valid"] // 3  # ballots stuffed for A
    official.loc[stuffed, "A"] += extra
    official.loc[stuffed, "valid"] += extra
    sample = draw_stratified_sample(ELECTION, size=300, strata="region", seed=4)
    result = estimate(sample, official)
    a = result.shares[0]
    assert a.official is not None and a.official > TRUE_A + 0.01
    assert a.inside95 is False and a.inside99 is False
    assert result.joint is not None and result.joint.rejected
    assert result.joint.method == "holm" and result.joint.p_value < 0.001
    assert result.joint.wording == (
        "The differences between the official figures and the quick count are larger than "
        "sampling error explains (p < 0.001)."
    )


def test_honest_official_figures_pass_the_joint_test_with_a_p_value() -> None:
    sample = draw_stratified_sample(ELECTION, size=300, strata="region", seed=4)
    result = estimate(sample)
    assert result.joint is not None and not result.joint.rejected
    assert result.joint.names == ("A", "B", "turnout (issued)")
    assert result.joint.df1 == 3  # Holm over the three rows
    assert result.joint.statistic is not None
    assert result.joint.p_value == pytest.approx(min(1.0, 3 * result.joint.statistic))
    assert "within what sampling error explains (p = " in result.joint.wording


def test_cast_denominator_uses_invalid_ballots() -> None:
    sample = draw_stratified_sample(ELECTION, size=2000, strata="region", seed=0)
    result = stratified_ratio_estimate(
        sample, ELECTION, strata="region", candidates=["A"], denominator="cast"
    )
    assert isinstance(result, PVTResult)
    cast = ELECTION["valid"].sum() + ELECTION["invalid"].sum()
    assert result.shares[0].estimate == pytest.approx(ELECTION["A"].sum() / cast)


def test_a_stratum_without_protocols_gives_no_estimate_and_says_where() -> None:
    sample = draw_stratified_sample(ELECTION, size=100, strata="region", seed=2)
    partial = sample[sample["region"] != "abroad"]
    result = stratified_ratio_estimate(
        partial, ELECTION, strata="region", candidates=["A"], sampled=sample["station"].tolist()
    )
    assert isinstance(result, PVTPending)
    assert "abroad" in result.reason and result.reason.startswith("not enough protocols yet")
    reported = {s.stratum: (s.sampled, s.reported) for s in result.strata}
    assert reported["abroad"] == (3, 0) and reported["north"] == (40, 40)
    data = result.to_dict()
    assert data["ready"] is False and data["n_sampled"] == 100 and data["n_reported"] == 97


@pytest.mark.parametrize(
    ("keep", "expected"),
    [
        (19, "the quick count needs at least 20"),  # below MIN_PROTOCOLS
        (45, "the quick count needs 50%"),  # below MIN_RESPONSE overall
    ],
)
def test_too_few_protocols_is_an_answer_not_an_error(keep: int, expected: str) -> None:
    sample = draw_stratified_sample(ELECTION, size=100, strata="region", seed=2)
    arrived = sample.groupby("region").head(max(1, keep // 5)).head(keep)
    result = stratified_ratio_estimate(
        arrived, ELECTION, strata="region", candidates=["A"], sampled=sample["station"].tolist()
    )
    assert isinstance(result, PVTPending) and expected in result.reason
    assert MIN_PROTOCOLS == 20 and MIN_RESPONSE == 0.5


def test_empty_sample_is_pending() -> None:
    sample = draw_stratified_sample(ELECTION, size=100, strata="region", seed=2)
    result = stratified_ratio_estimate(
        sample.iloc[:0], ELECTION, strata="region", candidates=["A"], sampled=sample["station"]
    )
    assert isinstance(result, PVTPending) and result.n_reported == 0


def test_collapse_rule_merges_single_protocol_strata_with_a_neighbour() -> None:
    assert collapse_strata([3, 1, 4, 1, 2], [10] * 5) == [[0], [1, 2], [3, 4]]
    assert collapse_strata([3, 1, 4, 1], [10] * 4) == [[0], [1, 2, 3]]
    assert collapse_strata([1, 1, 1, 1, 1, 1], [9] * 6) == [[0, 1], [2, 3], [4, 5]]
    assert collapse_strata([2, 1], [5, 1]) == [[0], [1]]  # a census stratum has no variance
    assert collapse_strata([5, 1], [9, 9]) == [[0, 1]]  # the last one joins the previous


def test_single_protocol_strata_are_collapsed_not_pooled() -> None:
    sample = draw_stratified_sample(ELECTION, size=100, strata="region", seed=2)
    one_abroad = pd.concat(
        [sample[sample["region"] != "abroad"], sample[sample["region"] == "abroad"].iloc[:1]]
    )
    result = estimate(one_abroad)
    assert result.collapsed == (("abroad", "east"),)
    assert result.df == 98 - 4
    assert np.isfinite(result.shares[0].se) and result.shares[0].se > 0
    assert any("abroad + east" in note for note in result.notes)


def test_one_protocol_per_stratum_still_has_sampling_error() -> None:
    # Six stations over six strata used to give a standard error of exactly 0.
    frame = ELECTION.assign(region=ELECTION.index % 6).astype({"region": str})
    sample = draw_stratified_sample(frame, size=6, strata="region", seed=1)
    result = stratified_ratio_estimate(
        sample, frame, strata="region", candidates=["A"], min_protocols=2
    )
    assert isinstance(result, PVTResult)
    assert result.collapsed == (("0", "1"), ("2", "3"), ("4", "5")) and result.df == 3
    assert result.shares[0].se > 0.01 and result.shares[0].margin95 > 3 * result.shares[0].se


def test_missing_protocols_give_bounds_and_a_missing_at_random_check() -> None:
    sample = draw_stratified_sample(ELECTION, size=400, strata="region", seed=5)
    # Observers kept out where A is strongest: in each stratum, the 12% with most A.
    share_a = sample["A"] / sample["valid"]
    blocked = share_a >= share_a.groupby(sample["region"]).transform(lambda s: s.quantile(0.88))
    result = estimate(sample[~blocked], sampled=sample["station"].tolist())
    a = result.shares[0]
    assert not result.complete and result.n_sampled == 400
    assert a.bound_low < a.estimate - 0.03 and a.bound_high > a.estimate + 0.03
    assert a.bound_low <= TRUE_A <= a.bound_high
    assert a.estimate < TRUE_A  # the bias the missing protocols cause...
    check = result.nonresponse
    assert check is not None and check.n_missing == int(blocked.sum())
    assert check.p_value is not None and check.p_value < 0.001  # ...is caught
    assert "doubtful" in check.wording
    row = check.rows[0]
    assert row.name == "A" and row.difference == pytest.approx(a.estimate - row.sampled)
    assert "missing at random" in result.assumption


def test_protocols_missing_at_random_pass_the_check() -> None:
    sample = draw_stratified_sample(ELECTION, size=400, strata="region", seed=5)
    lost = np.random.default_rng(0).random(len(sample)) < 0.12
    result = estimate(sample[~lost], sampled=sample["station"].tolist())
    assert result.nonresponse is not None and result.nonresponse.p_value is not None
    assert result.nonresponse.p_value > 0.05 and "look like" in result.nonresponse.wording


def test_turnout_is_left_out_without_registered() -> None:
    sample = draw_stratified_sample(ELECTION, size=100, strata="region", seed=2)
    result = stratified_ratio_estimate(
        sample.drop(columns="registered"), ELECTION, strata="region", candidates=["A"]
    )
    assert isinstance(result, PVTResult)
    assert result.turnout is None and any("turnout" in n for n in result.notes)


@pytest.mark.parametrize(
    ("change", "column"),
    [
        (lambda s: s.assign(A=-s["A"]), "A"),
        (lambda s: s.assign(A="many"), "A"),
        (lambda s: s.drop(columns="valid"), "valid"),
        (lambda s: s.assign(station="99999"), "station"),
        (lambda s: pd.concat([s, s.iloc[:1]]), "station"),
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
    assert isinstance(result, PVTResult)
    leader = results.leader()
    (share,) = [e for e in result.shares if e.name == leader]
    official = results.stations[leader].sum() / results.ballots_cast().sum()
    assert share.official == pytest.approx(official)
    assert share.inside99  # the sample is drawn from the official figures themselves
    assert share.margin95 < 0.02
    assert result.turnout is not None and result.turnout.inside99
