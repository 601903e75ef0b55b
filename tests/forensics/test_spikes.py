"""Spikes (Rozenas 2017): no excess on clean elections, the planted fraction on rounded ones,
and a null calibrated on resampled elections (rarely "spikes found" on clean data)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pollwatch.errors import InputError
from pollwatch.forensics import spikes as spikes_module
from pollwatch.forensics.data import StationArrays
from pollwatch.forensics.spikes import SpikesResult, spikes
from pollwatch.forensics.synthetic import synthetic_election

TARGETS = np.array([0.80, 0.85, 0.90])


def _clean(n: int = 6000, seed: int = 1) -> StationArrays:
    return synthetic_election(n, seed=seed, share=0.65).arrays()


def _rewrite_to_round_shares(
    data: StationArrays, fraction: float, seed: int
) -> tuple[StationArrays, float]:
    """Set the leader's votes of a random ``fraction`` of stations (cast >= 500, so that the
    nearest count is within 0.1 % of the target) to 80, 85 or 90 % of cast."""
    rng = np.random.default_rng(seed)
    big = data.cast >= 500
    hit = big & (rng.random(data.n) < fraction / big.mean())
    target = rng.choice(TARGETS, data.n)
    leader = data.leader.copy()
    leader[hit] = np.rint(target[hit] * data.cast[hit]).astype(np.int64)
    rewritten = StationArrays.from_counts(
        data.registered, data.issued, data.cast, leader, region=data.region, district=data.district
    )
    return rewritten, float(hit.mean())


def test_clean_election_has_no_excess() -> None:
    result = spikes(_clean(), resamples=200)
    assert result.applicable
    # noise alone lifts a few points above the envelope; the null takes that out
    assert result.raw_excess > 0
    assert result.null_excess > 0
    assert result.excess_share == pytest.approx(max(result.raw_excess - result.null_excess, 0))
    assert result.excess_share < 0.003
    assert result.excess_low == 0
    assert result.p_value > 0.05
    assert 0 <= result.excess_low <= result.excess_share <= result.excess_high


@pytest.mark.slow
def test_clean_elections_rarely_show_spikes() -> None:
    # the flag users read (excess_low > 0) and the p-value are calibrated: on 30 clean
    # elections at most 3 (10 %) may be flagged at the 5 % level
    low_above_zero, p_small = [], []
    for seed in range(100, 130):
        result = spikes(synthetic_election(3000, seed=seed).arrays(), resamples=100, seed=seed)
        low_above_zero.append(result.excess_low > 0)
        p_small.append(result.p_value < 0.05)
        assert 1 / 101 <= result.p_value <= 1
        # the lower bound is above 0 only when the one-sided p-value is small
        assert not (result.excess_low > 0 and result.p_value > 0.05)
    assert sum(low_above_zero) <= 3
    assert sum(p_small) <= 3


@pytest.mark.slow
@pytest.mark.parametrize("fraction", [0.03, 0.08])
def test_rounded_stations_are_recovered(fraction: float) -> None:
    data, truth = _rewrite_to_round_shares(_clean(8000, seed=2), fraction, seed=3)
    result = spikes(data, resamples=200)
    # Part of each rewritten station's own resampled mass falls back on its spike point, and
    # stations already near a target were hardly changed: a small shortfall is expected.
    assert result.excess_share == pytest.approx(truth, abs=0.012)
    assert result.excess_low > 0
    assert result.excess_low <= result.excess_share <= result.excess_high
    assert result.p_value == pytest.approx(1 / 201)
    found = {round(p.value, 3) for p in result.spikes[:3]}
    assert found == set(TARGETS)


def test_one_percent_on_round_values_is_found() -> None:
    data, truth = _rewrite_to_round_shares(_clean(6000, seed=7), 0.01, seed=8)
    result = spikes(data, resamples=200, seed=3)
    assert truth > 0.005
    assert result.p_value < 0.01
    assert result.excess_low > 0


def test_small_station_fractions_are_not_spikes() -> None:
    # Stations of 4-12 voters put shares on 1/2, 2/3, 3/4 ... naturally; the reference,
    # resampled with each station's own size, has the same spikes.
    rng = np.random.default_rng(4)
    cast = rng.integers(4, 13, 4000)
    leader = rng.binomial(cast, rng.beta(12, 8, 4000))
    data = StationArrays.from_counts(cast + 2, cast, cast, leader)
    result = spikes(data, resamples=200)
    assert result.excess_share < 0.01


def test_turnout_variable() -> None:
    data = _clean(4000, seed=5)
    result = spikes(data, variable="turnout", resamples=100)
    assert result.variable == "turnout"
    assert result.excess_share < 0.01


def test_same_seed_same_answer_and_json() -> None:
    data = _clean(3000, seed=6)
    a = spikes(data, resamples=50, seed=11)
    b = spikes(data, resamples=50, seed=11)
    assert a.excess_share == b.excess_share
    np.testing.assert_array_equal(a.reference_envelope, b.reference_envelope)
    out = a.to_dict()
    json.dumps(out)
    assert "excess_share" in out and "reference_envelope" not in out
    assert isinstance(a, SpikesResult)


_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _mix(x: int) -> int:
    x &= _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _drawn_one_by_one(
    plan: spikes_module._Sampler,
    n: np.ndarray,
    scale: np.ndarray,
    key: int,
    first: int,
    resamples: int,
    g: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The reference elections station by station, as the module notes describe them: one
    uniform per station and election, turned into a count by the normal approximation or by
    the first entry of the station's beta-binomial CDF table that reaches it."""
    quantiles = spikes_module._normal_quantiles()
    table = len(quantiles) - 1
    mass, nearest = np.zeros((resamples, g)), np.zeros((resamples, g))
    for r in range(resamples):
        base = _mix(key + (first + r) * _GOLDEN)
        for i in range(len(n)):
            pos = float(_mix(base + i * _GOLDEN) >> 11) * 2.0**-53 * table
            q = min(int(pos), table - 1)
            z = quantiles[q] + (pos - q) * (quantiles[q + 1] - quantiles[q])
            c = min(max(np.floor(plan.mean[i] + plan.sd[i] * z + 0.5), 0.0), float(n[i]))
            if plan.exact[i]:
                cdf = plan.cdf[plan.start[i] : plan.start[i] + plan.length[i]]
                k = min(int(np.searchsorted(cdf, pos / table, side="left")), len(cdf) - 1)
                c = float(plan.low[i] + k)
            at = c * scale[i]
            lo = int(at)
            if lo >= g - 1:
                mass[r, g - 1] += 1.0
                nearest[r, g - 1] += 1.0
                continue
            mass[r, lo] += 1.0 - (at - lo)
            mass[r, lo + 1] += at - lo
            nearest[r, int(at + 0.5)] += 1.0
    return mass, nearest


def test_kernel_draws_each_station_as_documented() -> None:
    # The compiled kernel works by blocks of stations and groups of elections, in vector
    # loops; what it draws must be the plain per-station draw (stations on both sides of the
    # normal/exact split and of block boundaries, more elections than one group, shares of 1).
    rng = np.random.default_rng(9)
    m, g = 1400, 201
    n = np.concatenate([rng.integers(5, 100, 650), rng.integers(100, 3000, 750)])
    share, size = rng.beta(8, 3, m), np.full(m, 40.0)
    share[650:690] = 0.004  # large but few expected votes: drawn exactly
    share[690:710] = 0.9999  # drawn exactly, often all n votes (the last grid point)
    share[710:740], size[710:740] = 0.9, 2.0  # drawn by the normal, often clamped at n
    a, b = share * size, (1 - share) * size
    order = np.argsort(spikes_module._sampler(n, a, b).exact, kind="stable")
    n, a, b = n[order], a[order], b[order]
    plan = spikes_module._sampler(n, a, b)
    assert (~plan.exact).sum() > spikes_module.BLOCK and plan.exact.sum() > spikes_module.BLOCK
    scale = (g - 1) / n.astype(np.float64)
    kern = spikes_module._kernel(1e-4, 1.0 / (g - 1))
    key, first, resamples = 12345, 3, spikes_module.GROUP + 5
    dens, props = spikes_module._resample_reference(
        n, scale, int((~plan.exact).sum()), plan.mean, plan.sd, plan.start, plan.length,
        plan.low, plan.cdf, spikes_module._normal_quantiles(), kern, np.uint64(key), first,
        resamples, g,
    )  # fmt: skip
    mass, nearest = _drawn_one_by_one(plan, n, scale, key, first, resamples, g)
    np.testing.assert_array_equal(props, nearest / m)
    expected = np.zeros_like(dens)
    for r in range(resamples):
        spikes_module._smooth(mass[r], kern, float(m), expected[r])
    np.testing.assert_allclose(dens, expected, rtol=1e-12, atol=0)
    assert nearest[:, g - 1].min() >= 1  # the shares of 1 were drawn


def test_too_few_stations_is_not_applicable() -> None:
    data = StationArrays.from_counts([100] * 20, [60] * 20, [60] * 20, list(range(20, 40)))
    result = spikes(data, resamples=10)
    assert not result.applicable
    assert "at least" in result.note


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("resamples", 0),
        ("resamples", -3),
        ("bw", 0.0),
        ("grid", 3),
        ("confidence", 1.5),
        ("variable", "votes"),
        ("components", 0),
    ],
)
def test_bad_options_raise(option: str, value: object) -> None:
    with pytest.raises(InputError, match=option):
        spikes(_clean(500), **{option: value})  # type: ignore[arg-type]
