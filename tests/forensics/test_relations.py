"""Turnout–vote relations: slopes near the shares when clean, beyond 1 / below 0 when rigged."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pollwatch.errors import InputError
from pollwatch.forensics.data import StationArrays
from pollwatch.forensics.relations import RelationsResult, relations
from pollwatch.forensics.synthetic import synthetic_election


def test_clean_slopes_are_the_shares() -> None:
    # regions differ in turnout and support, stations within a region are independent
    e = synthetic_election(20_000, seed=21, n_regions=10)
    r = relations(e.arrays())
    assert r.applicable
    assert r.regions_tested == 10
    for row in r.regions:
        assert abs(row.slope_leader - row.leader_share) < 4 * row.slope_leader_se + 0.02
        assert abs(row.slope_others - (1 - row.leader_share)) < 4 * row.slope_others_se + 0.02
        assert abs(row.correlation) < 0.1
        lo, hi = row.slope_leader_interval
        assert lo < row.slope_leader < hi
    assert r.regions_flagged == 0


def test_stuffing_with_stolen_votes_pushes_slopes_past_one_and_zero() -> None:
    # slopes pass 1 and 0 when the fraud, not honest variation, drives turnout: half the
    # stations stuffed heavily, with votes also moved from the others to the leader
    e = synthetic_election(
        20_000, seed=22, n_regions=10, incremental=0.5, stuffing_scale=0.4, reassign=1.0
    )
    r = relations(e.arrays())
    assert r.national.slope_leader > 1
    assert r.national.slope_others < 0
    assert r.correlation > 0.3
    assert r.regions_leader_excess >= 8
    assert r.regions_others_deficit >= 8


def test_pure_stuffing_raises_the_leader_slope_above_the_share() -> None:
    # added ballots alone move stations along a slope of 1: the leader's slope rises above
    # the share (but not past 1) and the others' slope falls below theirs
    e = synthetic_election(20_000, seed=23, n_regions=10, incremental=0.3)
    r = relations(e.arrays())
    raised = [row.slope_leader_interval[0] > row.leader_share for row in r.regions]
    lowered = [row.slope_others_interval[1] < 1 - row.leader_share for row in r.regions]
    assert sum(raised) >= 8
    assert sum(lowered) >= 8
    assert r.correlation > 0.1


def test_national_and_weighted_correlation() -> None:
    # two station sizes with opposite relations: the weighted correlation follows the big ones
    rng = np.random.default_rng(1)
    n = 2_000
    big = np.arange(n) < n // 2
    reg = np.where(big, 3_000, 30)
    t = rng.uniform(0.3, 0.9, n)
    s = np.where(big, 0.2 + 0.6 * t, 0.9 - 0.6 * t)
    issued = np.rint(reg * t).astype(np.int64)
    leader = np.rint(issued * s).astype(np.int64)
    r = relations(StationArrays.from_counts(reg, issued, issued, leader))
    assert r.correlation > 0.9


def test_excluded_and_small_regions() -> None:
    rng = np.random.default_rng(2)
    n = 600
    reg = rng.integers(500, 2000, n)
    reg[:4] = 0
    issued = rng.binomial(reg, 0.6)
    leader = rng.binomial(issued, 0.5)
    region = np.where(np.arange(n) < 10, "tiny", "big")
    r = relations(StationArrays.from_counts(reg, issued, issued, leader, region=region))
    assert r.excluded_stations == 4
    tiny = next(row for row in r.regions if row.region == "tiny")
    assert tiny.stations == 6
    assert np.isnan(tiny.slope_leader)
    assert r.regions_tested == 1
    d = r.to_dict()
    json.dumps(d)
    assert d["method"] == "relations"
    assert {"region", "stations", "correlation", "slope_leader", "slope_others"} <= set(
        d["regions"][0]
    )


def test_not_applicable_when_too_few_stations() -> None:
    data = StationArrays.from_counts([100] * 5, [50] * 5, [50] * 5, [20] * 5)
    r = relations(data)
    assert isinstance(r, RelationsResult)
    assert not r.applicable
    assert r.note
    json.dumps(r.to_dict())


@pytest.mark.parametrize(
    ("option", "value"), [("alpha", 0.0), ("alpha", 1.5), ("min_stations", 1), ("alpha", "x")]
)
def test_bad_options_raise_input_error(option: str, value: object) -> None:
    data = StationArrays.from_counts([100] * 50, [50] * 50, [50] * 50, [20] * 50)
    with pytest.raises(InputError, match=option):
        relations(data, **{option: value})  # type: ignore[arg-type]


def test_regional_machines_push_the_leader_slope_above_the_share() -> None:
    # 2.2 M votes added by machines in 3 of 20 regions: the slopes stay below 1 and the
    # others' above 0 (no flag of the older kind), but the leader's slope passes the share
    # within districts. Three discoveries loosen BH's threshold for the fourth (p < 0.01):
    # one clean region in 17 may pass it by chance (here Region 06, p = 0.004)
    e = synthetic_election(20_000, seed=31, machine_regions=(3, 8, 14))
    assert e.truth.anomalous_votes > 2_000_000
    r = relations(e.arrays())
    flagged = {row.region for row in r.regions if row.leader_above_share}
    assert {"Region 03", "Region 08", "Region 14"} <= flagged
    assert 3 <= r.regions_above_share <= 4
    assert r.regions_flagged >= 3
    for row in r.regions:
        assert 0 <= row.slope_excess_p <= 1 and row.slope_excess_p <= row.slope_excess_q <= 1


@pytest.mark.parametrize(
    "honest",
    [
        {"share_follows_turnout": 2.0},  # between regions
        {"within_region": 0.45},  # between districts and villages inside regions
    ],
    ids=["between regions", "within regions"],
)
def test_honest_heterogeneity_flags_few_regions(honest: dict[str, float]) -> None:
    # honest elections whose turnout and leader share go together (no fraud): at most 5 %
    # of regions flagged over several elections. Within regions (Russia 2018's district
    # and village differences) the slope of the whole region was above the share in 20
    # of 20 regions of every election; the comparison within districts' size classes is
    # not (measured: 0 of 80 with q, 4 % with raw p)
    flagged = tested = raw = 0
    for seed in range(6):
        e = synthetic_election(20_000, seed=40 + seed, **honest)
        r = relations(e.arrays())
        flagged += r.regions_above_share
        tested += r.regions_tested
        raw += sum(row.slope_excess_p < 0.05 for row in r.regions)
    assert tested == 120
    assert flagged / tested <= 0.05
    assert raw / tested <= 0.1


def test_stuffing_is_found_within_districts() -> None:
    # a tenth of stations stuffed (0.2 M votes of 6 M) under honest heterogeneity inside
    # regions: the within-district comparison still finds it in a quarter of the regions
    e = synthetic_election(20_000, seed=52, incremental=0.1, within_region=0.45)
    r = relations(e.arrays())
    assert r.regions_above_share >= 5


def test_within_cells_never_span_regions_when_districts_are_unknown() -> None:
    """Arrays built without districts: a region whose leader share is the same at every
    turnout is compared with its own stations, not with the country's share."""
    rng = np.random.default_rng(7)
    n = 2_000
    region = np.where(np.arange(n) < n // 2, "north", "south")
    share = np.where(region == "north", 0.8, 0.3)
    reg = rng.integers(800, 2_500, n)
    issued = rng.binomial(reg, rng.uniform(0.3, 0.9, n))
    leader = rng.binomial(issued, share)
    r = relations(StationArrays.from_counts(reg, issued, issued, leader, region=region))
    p = {row.region: row.slope_excess_p for row in r.regions}
    assert min(p.values()) > 0.01, p
