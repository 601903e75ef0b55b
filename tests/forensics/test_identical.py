"""Identical protocols: planted twins found by id, clean and tiny stations left alone."""

from __future__ import annotations

import json

import numba
import numpy as np
import pytest
from scipy import stats

from pollwatch.errors import InputError
from pollwatch.forensics._kernels import uniform_below
from pollwatch.forensics.data import StationArrays
from pollwatch.forensics.identical import _identical_pairs, identical_protocols
from pollwatch.forensics.synthetic import synthetic_election


def _clean(n: int = 8000, seed: int = 1) -> StationArrays:
    return synthetic_election(n, seed=seed, tiny=0.0).arrays()


def _with_rows(data: StationArrays, targets: np.ndarray, sources: np.ndarray) -> StationArrays:
    """Copy the protocols of ``sources`` into ``targets`` (and move them to the same district)."""
    cols = {
        "registered": data.registered.copy(),
        "issued": data.issued.copy(),
        "cast": data.cast.copy(),
        "votes": data.votes.copy(),
    }
    district, region = data.district.copy(), data.region.copy()
    for name in cols:
        cols[name][targets] = cols[name][sources]
    district[targets], region[targets] = district[sources], region[sources]
    invalid = cols["cast"] - cols["votes"].sum(axis=1)
    return StationArrays.from_counts(
        cols["registered"],
        cols["issued"],
        cols["cast"],
        cols["votes"][:, 0],
        others=np.column_stack([cols["votes"][:, 1:], invalid]),
        region=region,
        district=district,
    )


def test_planted_duplicates_are_found_with_their_ids() -> None:
    data = _clean()
    big = np.flatnonzero(data.cast >= 300)
    sources, targets = big[:5], big[100:105]
    result = identical_protocols(_with_rows(data, targets, sources), resamples=200)
    groups = [g for g in result.groups if g.kind == "identical"]
    found = {frozenset(g.stations) for g in groups}
    for s, t in zip(sources, targets, strict=True):
        assert frozenset({str(s + 1), str(t + 1)}) in found
    assert result.identical_stations >= 10
    assert result.expected_identical_pairs < 1
    assert result.p_identical < 0.01


def test_template_protocols_with_different_sizes_are_near_identical() -> None:
    data = _clean(seed=2)
    big = np.flatnonzero((data.cast >= 400) & (data.cast <= 1000))
    source = big[0]
    # Same district, every count doubled: every percentage identical, sizes different.
    district = data.district.copy()
    region = data.region.copy()
    twin = big[50]
    district[twin], region[twin] = district[source], region[source]
    registered, issued, cast = (a.copy() for a in (data.registered, data.issued, data.cast))
    votes = data.votes.copy()
    registered[twin], issued[twin], cast[twin] = (2 * a[source] for a in (registered, issued, cast))
    votes[twin] = 2 * votes[source]
    invalid = cast - votes.sum(axis=1)
    planted = StationArrays.from_counts(
        registered,
        issued,
        cast,
        votes[:, 0],
        others=np.column_stack([votes[:, 1:], invalid]),
        region=region,
        district=district,
    )
    result = identical_protocols(planted, resamples=100)
    near = [set(g.stations) for g in result.groups if g.kind == "near"]
    assert any({str(source + 1), str(twin + 1)} <= s for s in near)


def test_clean_election_has_no_identical_protocols() -> None:
    result = identical_protocols(_clean(seed=3), resamples=200)
    assert result.applicable
    assert result.identical_stations == 0
    # Near coincidences happen by chance, but no more than the shuffle null expects.
    assert result.near_pairs <= max(3, 3 * result.expected_near_pairs)
    assert result.p_near > 0.01


def test_tiny_stations_do_not_raise_alarms() -> None:
    rng = np.random.default_rng(4)
    n = 3000
    cast = rng.integers(3, 20, n)  # all below min_cast: identical vectors are common here
    leader = rng.binomial(cast, 0.6)
    data = StationArrays.from_counts(
        cast + 1, cast, cast, leader, region=np.zeros(n), district=rng.integers(0, 30, n)
    )
    result = identical_protocols(data, resamples=50)
    assert result.identical_stations == 0 and result.near_stations == 0
    assert result.n_small == n
    assert not result.applicable
    lowered = identical_protocols(data, min_cast=0, resamples=50)
    assert lowered.identical_stations > 0  # the coincidences min_cast keeps out


def test_json_and_reproducible() -> None:
    data = _clean(2000, seed=5)
    a = identical_protocols(data, resamples=100, seed=9)
    b = identical_protocols(data, resamples=100, seed=9)
    assert a == b
    json.dumps(a.to_dict())
    assert 0 <= a.p_identical <= 1 and 0 <= a.p_near <= 1


def test_without_districts_not_applicable() -> None:
    rng = np.random.default_rng(6)
    cast = rng.integers(200, 900, 500)
    data = StationArrays.from_counts(cast + 100, cast, cast, rng.binomial(cast, 0.5))
    result = identical_protocols(data)
    assert not result.applicable
    assert "single district" in result.note


@pytest.mark.parametrize(
    ("option", "value"),
    [("near", -0.1), ("near", 0.7), ("near_votes", -1), ("min_cast", -5), ("resamples", 0)],
)
def test_bad_options_raise(option: str, value: object) -> None:
    with pytest.raises(InputError, match=option):
        identical_protocols(_clean(300), **{option: value})  # type: ignore[arg-type]


@numba.njit
def _below(bound: int, size: int, seed: int) -> np.ndarray:
    state = np.uint64(seed)
    out = np.empty(size, dtype=np.int64)
    for i in range(size):
        out[i], state = uniform_below(bound, state)
    return out


@pytest.mark.parametrize("bound", [1, 7, 1000, 3 * 2**30])
def test_shuffle_draws_are_uniform(bound: int) -> None:
    draws = _below(bound, 200_000, 4)
    assert draws.min() >= 0 and draws.max() < bound
    if bound <= 1000:
        observed = np.bincount(draws, minlength=bound)
        assert bound == 1 or stats.chisquare(observed).pvalue > 1e-4
    else:  # the uneven remainder is a quarter of the range: rejection must remove it
        assert stats.kstest(draws / bound, "uniform").pvalue > 1e-4


def test_identical_pairs_are_every_pair_of_equal_rows() -> None:
    """Only rows whose hash is shared are sorted: the pairs must still be all of them."""
    rng = np.random.default_rng(3)
    region = rng.integers(0, 4, 3000)
    key = rng.integers(0, 3, (3000, 3))
    pairs = {tuple(p) for p in _identical_pairs(region, key).tolist()}
    rows = np.column_stack([region, key])
    expected = {
        (i, j)
        for i in range(len(rows))
        for j in np.flatnonzero((rows[i + 1 :] == rows[i]).all(axis=1)) + i + 1
    }
    assert pairs == {(int(i), int(j)) for i, j in expected}


def test_same_district_chance_keeps_every_region_apart() -> None:
    """q_r for two stations of region r sharing a district, whatever the codes (a −1 for a
    missing district took the previous region's last district as its own)."""
    from pollwatch.forensics.identical import _same_district_chance

    region = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    district = np.array([0, 0, 2, 2, -1, -1, 1, 1])
    assert _same_district_chance(region, district).tolist() == pytest.approx([1 / 3, 1 / 3])
