"""Shpilkin's estimate: recovers injected ballot stuffing, near zero on clean elections."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pollwatch.errors import InputError
from pollwatch.forensics.data import StationArrays
from pollwatch.forensics.shpilkin import REFERENCES, ShpilkinResult, shpilkin


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


@pytest.mark.parametrize("reference", ["peak", "band"])
def test_recovers_injected_stuffing_within_25_percent(reference: str) -> None:
    data, injected, _ = stuffed_election(10_000, seed=1, fraction=0.15)
    result = shpilkin(data, reference=reference, resamples=200, seed=0)
    assert result.applicable
    assert result.anomalous_votes == pytest.approx(injected, rel=0.25)
    low, high = result.interval
    assert low < high
    assert low <= injected * 1.25 and high >= injected * 0.75


def test_core_reference_finds_most_of_the_stuffing() -> None:
    data, injected, _ = stuffed_election(10_000, seed=2, fraction=0.15)
    result = shpilkin(data, reference="core", resamples=100)
    assert 0.5 * injected < result.anomalous_votes < 1.25 * injected


@pytest.mark.parametrize("reference", sorted(REFERENCES))
def test_clean_election_gives_near_zero(reference: str) -> None:
    reg, iss, lead = clean_election(10_000, seed=3)
    result = shpilkin(
        StationArrays.from_counts(reg, iss, iss, lead), reference=reference, resamples=100
    )
    assert result.applicable
    assert result.anomalous_fraction < 0.01
    assert result.reference_share == pytest.approx(lead.sum() / iss.sum(), abs=0.01)


def test_sensitivity_lists_every_reference_and_headline_matches() -> None:
    data, _, leader_votes = stuffed_election(5_000, seed=4, fraction=0.1)
    result = shpilkin(data, reference="band", resamples=50)
    assert [s.reference for s in result.sensitivity] == list(REFERENCES)
    band = next(s for s in result.sensitivity if s.reference == "band")
    assert band.anomalous_votes == result.anomalous_votes
    assert result.leader_votes == leader_votes
    assert result.corrected_turnout < data.issued.sum() / data.registered.sum()


def test_curves_add_up() -> None:
    data, _, leader_votes = stuffed_election(3_000, seed=5, fraction=0.1)
    result = shpilkin(data, resamples=20)
    assert result.leader_curve.sum() == pytest.approx(leader_votes)
    assert result.others_curve.sum() == pytest.approx((data.cast - data.leader).sum())
    rho = result.reference_share / (1 - result.reference_share)
    np.testing.assert_allclose(result.clean_leader_curve, rho * result.others_curve)
    above = result.turnout_bins >= result.reference_turnout - 1e-12
    excess = np.clip(result.leader_curve - result.clean_leader_curve, 0, None)[above].sum()
    assert excess == pytest.approx(result.anomalous_votes)


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
    assert len(out["sensitivity"]) == 3


def test_fast_bootstrap_matches_plain_station_resampling() -> None:
    from pollwatch.forensics._kernels import BAND, shpilkin_estimate

    data, _, _ = stuffed_election(4_000, seed=11, fraction=0.15)
    result = shpilkin(data, reference="band", resamples=400, seed=1)
    fine = np.minimum(1000 * data.issued // data.registered, 999)
    lead = data.leader.astype(float)
    others = (data.cast - data.leader).astype(float)
    rng = np.random.default_rng(2)
    plain = []
    for _ in range(400):
        idx = rng.integers(0, data.n, data.n)
        lead_fine = np.bincount(fine[idx], weights=lead[idx], minlength=1000)
        others_fine = np.bincount(fine[idx], weights=others[idx], minlength=1000)
        plain.append(shpilkin_estimate(lead_fine, others_fine, BAND, 10)[0])
    low, high = np.percentile(plain, [2.5, 97.5])
    width = high - low
    assert result.interval[0] == pytest.approx(low, abs=0.25 * width)
    assert result.interval[1] == pytest.approx(high, abs=0.25 * width)
