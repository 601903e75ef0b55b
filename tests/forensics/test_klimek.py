"""Klimek et al.'s fraud model on synthetic elections whose fraud is known."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pollwatch.errors import InputError
from pollwatch.forensics.data import StationArrays
from pollwatch.forensics.klimek import KlimekResult, klimek
from pollwatch.forensics.synthetic import synthetic_election

# Klimek's model has one clean blob; regions with their own clean turnout and share
# (the generator's default) break that assumption, so these elections are homogeneous.
HOMOGENEOUS = {"region_concentration": 1e5}


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_clean_election_needs_almost_no_fraud(seed: int) -> None:
    e = synthetic_election(20_000, seed=seed, **HOMOGENEOUS)
    r = klimek(e.arrays(), resamples=500)
    assert r.applicable
    assert r.f_i < 0.05
    assert r.f_e < 0.005


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_injected_fraud_is_recovered(seed: int) -> None:
    e = synthetic_election(20_000, seed=seed, incremental=0.2, extreme=0.02, **HOMOGENEOUS)
    r = klimek(e.arrays(), resamples=500)
    # f_e is sharp; f_i trades off against the stuffing width (documented), so its
    # tolerance is wider than f_e's, while the votes added are recovered closely
    assert abs(r.f_e - e.truth.f_e) < 0.01
    assert abs(r.f_i - e.truth.f_i) < 0.1
    assert r.model_added_votes == pytest.approx(e.truth.anomalous_votes, rel=0.25)
    # the fraud model explains the fingerprint much better than the fair one
    assert r.rmse < 0.8 * r.rmse_fair


@pytest.mark.slow
def test_extreme_fraud_alone_is_not_taken_for_incremental() -> None:
    e = synthetic_election(20_000, seed=5, extreme=0.05, **HOMOGENEOUS)
    r = klimek(e.arrays(), resamples=500)
    assert abs(r.f_e - e.truth.f_e) < 0.015
    assert r.f_i < 0.05


def test_same_seed_same_answer_and_json() -> None:
    e = synthetic_election(3_000, seed=4, incremental=0.1, **HOMOGENEOUS)
    a = klimek(e.arrays(), resamples=300, seed=7)
    b = klimek(e.arrays(), resamples=300, seed=7)
    assert a.to_dict() == b.to_dict()
    d = a.to_dict()
    json.dumps(d)
    assert d["method"] == "klimek"
    assert "observed" not in d and "fitted" not in d
    assert d["interval"] == {"f_i": list(a.f_i_interval), "f_e": list(a.f_e_interval)}
    assert a.observed.shape == (a.bins, a.bins)
    assert a.observed.sum() == pytest.approx(1.0)
    assert a.fitted.sum() == pytest.approx(1.0)
    for est, (lo, hi) in ((a.f_i, a.f_i_interval), (a.f_e, a.f_e_interval)):
        assert 0 <= lo <= hi <= 1
        assert lo - 1e-9 <= est <= hi + 1e-9 or est == 0.0


def test_too_few_stations_is_not_applicable() -> None:
    rng = np.random.default_rng(0)
    reg = rng.integers(500, 1500, 100)
    cast = rng.binomial(reg, 0.6)
    data = StationArrays.from_counts(reg, cast, cast, rng.binomial(cast, 0.5))
    r = klimek(data)
    assert isinstance(r, KlimekResult)
    assert not r.applicable
    assert "100 stations" in r.note
    json.dumps(r.to_dict())


def test_excluded_stations_are_counted() -> None:
    e = synthetic_election(2_000, seed=3, **HOMOGENEOUS)
    d = e.arrays()
    reg = d.registered.copy()
    reg[:5] = 0
    data = StationArrays.from_counts(reg, d.issued, d.cast, d.leader)
    r = klimek(data, resamples=100)
    assert r.excluded_stations == 5
    assert r.n_stations == 2_000


@pytest.mark.parametrize(
    ("option", "value"),
    [("resamples", 0), ("resamples", -3), ("resamples", 2.5), ("bins", 5), ("seed", "x")],
)
def test_bad_options_raise_input_error(option: str, value: object) -> None:
    e = synthetic_election(600, seed=1)
    with pytest.raises(InputError, match=option):
        klimek(e.arrays(), **{option: value})  # type: ignore[arg-type]
