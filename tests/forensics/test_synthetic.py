"""The synthetic election generator: valid results, honest truth, requested rates."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special

from pollwatch.errors import InputError
from pollwatch.forensics import StationArrays
from pollwatch.forensics.integer_percentages import integer_percentage
from pollwatch.forensics.synthetic import LEADER, MINOR, synthetic_election
from pollwatch.results import load_results
from pollwatch.results.schema import COUNT_FIELDS, ID_FIELDS


def _counts(e: object, name: str) -> np.ndarray:
    return e.results.stations[name].to_numpy()  # type: ignore[attr-defined,no-any-return]


def test_results_pass_the_loaders_validation(tmp_path: Path) -> None:
    e = synthetic_election(3_000, seed=3, incremental=0.1, extreme=0.02, rounding=0.02)
    st = e.results.stations
    assert list(st.columns[: len(ID_FIELDS)]) == list(ID_FIELDS)
    for f in COUNT_FIELDS:
        assert st[f].dtype == np.int64
        assert (st[f] >= 0).all(), f
    assert e.results.excluded.empty
    # written out and read back through the generic loader: nothing is excluded
    path = tmp_path / "synthetic.csv"
    st.drop(columns=["abroad", "source_row"]).to_csv(path, index=False)
    back = load_results(path)
    assert back.n_stations == e.results.n_stations
    assert back.excluded.empty
    assert back.candidates == e.results.candidates


def test_counts_are_consistent_protocols() -> None:
    e = synthetic_election(5_000, seed=4, incremental=0.2, extreme=0.05, rounding=0.05)
    st = e.results.stations
    votes = e.results.votes().to_numpy()
    issued = e.results.ballots_issued()
    cast = e.results.ballots_cast()
    assert (votes.sum(axis=1) == st["valid"].to_numpy()).all()
    assert (issued <= st["registered"].to_numpy()).all()  # stuffing takes non-voters only
    assert (cast <= issued).all()
    assert (issued <= st["ballots_received"].to_numpy()).all()
    assert (st["invalid"].to_numpy() <= cast).all()


def test_clean_election_looks_like_a_real_one() -> None:
    e = synthetic_election(20_000, seed=5)
    reg = _counts(e, "registered")
    assert 1_200 <= np.median(reg) <= 1_800
    assert reg.min() < 60 and reg.max() <= 3_500
    assert (reg < 100).mean() > 0.005  # some tiny stations
    a = e.arrays()
    turnout_by_region = np.array([np.nanmean(a.turnout[a.region == r]) for r in range(20)])
    assert turnout_by_region.std() > 0.03  # regions differ
    assert 0.05 < np.nanstd(a.share) < 0.2  # stations differ within the country
    t = e.truth
    assert t.anomalous_votes == 0 and t.f_i == 0 and t.f_e == 0 and t.rounded_stations == 0
    assert not t.manipulated.any()
    assert t.clean_turnout == pytest.approx(a.issued.sum() / a.registered.sum())
    assert t.clean_leader_share == pytest.approx(a.leader.sum() / a.cast.sum())


def test_arrays_put_the_injected_winner_first() -> None:
    a = synthetic_election(1_000, seed=6, n_candidates=3).arrays()
    assert isinstance(a, StationArrays)
    assert a.leader_name == LEADER
    assert a.candidates == (LEADER, "Opponent 1", "Opponent 2")


def test_anomalous_votes_equal_the_difference_with_the_clean_counterfactual() -> None:
    clean = synthetic_election(8_000, seed=7, n_regions=10, n_candidates=3)
    dirty = synthetic_election(
        8_000,
        seed=7,
        incremental=0.1,
        extreme=0.02,
        rounding=0.03,
        reassign=0.5,
        n_regions=10,
        n_candidates=3,
    )
    gained = _counts(dirty, LEADER) - _counts(clean, LEADER)
    assert dirty.truth.anomalous_votes == gained.sum() > 0
    assert (gained == dirty.truth.added_votes).all()
    untouched = ~dirty.truth.manipulated
    for col in ("registered", "issued_premises", "valid", "invalid", LEADER, "Opponent 1"):
        assert (_counts(dirty, col)[untouched] == _counts(clean, col)[untouched]).all(), col
    assert (gained[untouched] == 0).all()
    # stuffing and rounding only ever add leader votes and ballots
    assert (gained >= 0).all()
    assert (dirty.results.ballots_issued() >= clean.results.ballots_issued()).all()


def test_extreme_fraud_fills_the_station() -> None:
    e = synthetic_election(10_000, seed=8, extreme=0.05)
    a = e.arrays()
    ext = e.truth.extreme
    clean_nonvoters = a.registered[ext] - (a.issued[ext] - e.truth.added_votes[ext])
    assert np.median(a.turnout[ext]) > 0.97
    assert e.truth.added_votes[ext].sum() >= 0.93 * clean_nonvoters.sum()


def test_realised_rates_match_the_requested_ones() -> None:
    n = 40_000
    e = synthetic_election(n, seed=9, incremental=0.1, extreme=0.03, rounding=0.02)
    t = e.truth
    for realised, asked in ((t.f_i, 0.1), (t.f_e, 0.03)):
        assert abs(realised - asked) < 4 * np.sqrt(asked * (1 - asked) / n)
    assert t.incremental_stations == t.incremental.sum() == round(t.f_i * n)
    assert t.extreme_stations == t.extreme.sum()
    assert not (t.incremental & t.extreme).any()
    # a few rounding draws are infeasible (share rounding needs opponents' votes to move)
    assert 0.8 * 0.02 * n < t.rounded_stations <= 0.02 * n + 4 * np.sqrt(0.02 * n)
    assert t.rounded_stations == (t.rounded_turnout | t.rounded_share).sum()


def test_rounded_stations_land_on_integer_percentages() -> None:
    e = synthetic_election(20_000, seed=10, rounding=0.05)
    a = e.arrays()
    t = e.truth
    # the nearest achievable count: within half a vote of the integer percentage
    turnout_gap = np.abs(100 * a.issued - np.rint(100 * a.turnout) * a.registered) / 100
    share_gap = np.abs(100 * a.leader - np.rint(100 * a.share) * a.cast) / 100
    assert (turnout_gap[t.rounded_turnout] <= 0.5).all()
    assert (share_gap[t.rounded_share] <= 0.5).all()
    # among big stations, exact integers are rare by chance but common after rounding
    big = a.registered >= 1000
    exact_t = (100 * a.issued) % a.registered == 0
    assert exact_t[big & t.rounded_turnout].mean() > 5 * exact_t[big & ~t.rounded].mean()
    # rounding goes up, never down
    clean = synthetic_election(20_000, seed=10)
    assert (a.turnout >= clean.arrays().turnout).all()


def test_same_seed_same_election_and_other_seed_another() -> None:
    kw = {"incremental": 0.1, "extreme": 0.02, "rounding": 0.02}
    a = synthetic_election(2_000, seed=11, **kw)  # type: ignore[arg-type]
    b = synthetic_election(2_000, seed=11, **kw)  # type: ignore[arg-type]
    c = synthetic_election(2_000, seed=12, **kw)  # type: ignore[arg-type]
    assert a.results.stations.equals(b.results.stations)
    assert a.truth.to_dict() == b.truth.to_dict()
    assert not a.results.stations.equals(c.results.stations)


def test_truth_to_dict_is_json_ready_without_masks() -> None:
    t = synthetic_election(1_000, seed=13, incremental=0.1).truth
    d = t.to_dict()
    json.dumps(d)
    assert "incremental" not in d and "added_votes" not in d
    assert d["anomalous_votes"] == t.anomalous_votes


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"incremental": 1.5}, "'incremental' parameter of synthetic_election"),
        ({"extreme": -0.1}, "'extreme' parameter"),
        ({"incremental": 0.7, "extreme": 0.5}, "add up to at most 1"),
        ({"n_candidates": 1}, "'n_candidates' parameter"),
        ({"n_stations": 0}, "'n_stations' parameter"),
        ({"stuffing_scale": 0.0}, "'stuffing_scale' parameter"),
    ],
)
def test_bad_parameters_are_refused_with_a_clear_message(
    kwargs: dict[str, object], fragment: str
) -> None:
    with pytest.raises(InputError, match=fragment):
        synthetic_election(seed=0, **kwargs)  # type: ignore[arg-type]


def test_fraud_regions_keep_the_fraud_inside_them() -> None:
    """With ``fraud_regions`` the stations inside are those of the unrestricted election and
    the stations outside those of the clean one, so a region's truth is known exactly."""
    kwargs = {"incremental": 0.2, "extreme": 0.05, "rounding": 0.1}
    everywhere = synthetic_election(3_000, seed=5, reassign=0.3, **kwargs)
    inside_only = synthetic_election(3_000, seed=5, reassign=0.3, fraud_regions=[11, 3], **kwargs)
    clean = synthetic_election(3_000, seed=5)
    region = clean.results.stations["region"].to_numpy()
    inside = np.isin(region, ["Region 03", "Region 11"])
    stations = inside_only.results.stations
    assert stations[inside].equals(everywhere.results.stations[inside])
    assert stations[~inside].equals(clean.results.stations[~inside])
    assert not inside_only.truth.manipulated[~inside].any()
    assert inside_only.truth.manipulated[inside].sum() > 0
    assert inside_only.truth.anomalous_votes == everywhere.truth.added_votes[inside].sum()
    assert inside_only.params["fraud_regions"] == [3, 11]


@pytest.mark.parametrize("regions", [[0], [21], [], [1.5], "3", 3])
def test_bad_fraud_regions_are_refused(regions: object) -> None:
    with pytest.raises(InputError, match="'fraud_regions' parameter of synthetic_election"):
        synthetic_election(100, seed=0, fraud_regions=regions)  # type: ignore[arg-type]


def test_machine_regions_write_up_most_of_their_stations() -> None:
    e = synthetic_election(6_000, seed=4, n_regions=10, machine_regions=(2, 7))
    data = e.arrays()
    region = e.results.stations["region"].to_numpy()
    inside = np.isin(region, ["Region 02", "Region 07"])
    machine = e.truth.machine
    assert not machine[~inside].any()
    assert 0.85 < machine[inside].mean() < 0.95
    assert (data.turnout[machine] >= 0.845).all() and (data.share[machine] >= 0.8).mean() > 0.95
    assert e.truth.machine_stations == machine.sum()
    assert e.truth.anomalous_votes == e.truth.added_votes.sum() > 0
    assert (e.truth.added_votes[~inside] == 0).all()
    # half of the written-up protocols aim at a whole percentage of turnout
    whole = integer_percentage(data.issued[machine], data.registered[machine])
    assert whole.mean() > 0.4
    clean = synthetic_election(6_000, seed=4, n_regions=10)
    assert (clean.arrays().issued[~inside] == data.issued[~inside]).all()


def test_share_follows_turnout_correlates_honest_regions() -> None:
    e = synthetic_election(8_000, seed=5, n_regions=30, share_follows_turnout=2.0)
    frame = e.results.stations.assign(
        issued=e.arrays().issued, cast=e.arrays().cast, leader=e.arrays().leader
    )
    g = frame.groupby("region")[["registered", "issued", "cast", "leader"]].sum()
    r = np.corrcoef(g["issued"] / g["registered"], g["leader"] / g["cast"])[0, 1]
    assert r > 0.6
    assert e.truth.anomalous_votes == 0


def test_a_minor_candidate_is_thinned_from_the_last_opponent() -> None:
    plain = synthetic_election(3_000, seed=12)
    minor = synthetic_election(3_000, seed=12, minor_share=0.007)
    p, m = plain.results.stations, minor.results.stations
    assert minor.results.candidates == (*plain.results.candidates, MINOR)
    share = m[MINOR].sum() / m["valid"].sum()
    assert 0.004 < share < 0.011
    # the other draws are the election without the minor candidate, vote for vote
    assert (p[LEADER] == m[LEADER]).all()
    last = plain.results.candidates[-1]
    assert (p[last] == m[last] + m[MINOR]).all()
    assert minor.params["minor_share"] == 0.007


def test_minor_share_must_be_a_fraction() -> None:
    with pytest.raises(InputError, match="minor_share"):
        synthetic_election(100, seed=1, minor_share=1.5)


def test_within_region_heterogeneity_is_honest_and_leaves_other_elections_alone() -> None:
    # its own random stream: without it the election is the one of earlier versions
    plain = synthetic_election(3_000, seed=17)
    off = synthetic_election(3_000, seed=17, within_region=0.0)
    assert off.results.stations.equals(plain.results.stations)
    e = synthetic_election(20_000, seed=17, within_region=0.45)
    assert e.truth.anomalous_votes == 0
    assert e.params["within_region"] == 0.45
    d = e.arrays()
    # districts of one region differ: turnout and share go together inside regions, as
    # Russia 2018's districts do (logit correlation 0.68)
    df = pd.DataFrame(
        {
            "region": d.region,
            "district": d.district,
            "registered": d.registered,
            "issued": d.issued,
            "cast": d.cast,
            "leader": d.leader,
        }
    )
    g = df.groupby(["region", "district"]).sum()
    lt = special.logit(g.issued / g.registered)
    ls = special.logit(g.leader / g.cast)
    lt = lt - lt.groupby(level=0).transform("mean")
    ls = ls - ls.groupby(level=0).transform("mean")
    assert 0.3 < lt.std() < 0.6
    assert np.corrcoef(lt, ls)[0, 1] > 0.5
    # villages vote more than towns of their district
    rural = df.registered < 1_000
    turnout = df.issued / df.registered
    assert turnout[rural].mean() > turnout[~rural].mean() + 0.03
