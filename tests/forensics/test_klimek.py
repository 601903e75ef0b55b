"""Klimek et al.'s fraud model on synthetic elections whose fraud is known.

The elections keep the generator's default regional heterogeneity (regions with their own
clean turnout and share): the regional clean model exists for exactly that case.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pollwatch.errors import InputError
from pollwatch.forensics.data import StationArrays, station_arrays
from pollwatch.forensics.klimek import KlimekResult, klimek
from pollwatch.forensics.synthetic import synthetic_election
from pollwatch.results import load_results

N = 8_000
RESAMPLES = 12


@pytest.mark.slow
def test_clean_heterogeneous_election_is_not_called_fraud() -> None:
    # the validation study's first clean election (20,000 stations, default resamples);
    # the rate over many elections is checked in test_validation.py
    e = synthetic_election(20_000, seed=30_000)
    r = klimek(e.arrays(), seed=0)
    assert r.applicable
    assert r.regions == 20
    # the intervals are what users read as "fraud found": both must include 0
    assert r.f_i_interval[0] == 0.0
    assert r.f_e_interval[0] == 0.0
    assert r.f_i < 0.1
    assert r.f_e < 0.005


@pytest.mark.slow
def test_regional_blobs_fit_a_heterogeneous_clean_election_better() -> None:
    """The paper's national blob against the regional ones on a clean election."""
    e = synthetic_election(4_000, seed=2)
    national = klimek(e.arrays(), resamples=2, by_region=False)
    regional = klimek(e.arrays(), resamples=2)
    assert national.regions == 1 and not national.by_region
    assert national.rmse_fair > regional.rmse_fair


@pytest.mark.slow
def test_extreme_fraud_is_recovered_and_not_taken_for_incremental() -> None:
    e = synthetic_election(N, seed=5, extreme=0.03)
    r = klimek(e.arrays(), resamples=RESAMPLES)
    assert abs(r.f_e - e.truth.f_e) < 0.012
    assert r.f_e_interval[0] > 0
    assert r.f_i_interval[0] == 0.0  # no incremental fraud is claimed


@pytest.mark.slow
def test_injected_fraud_is_found() -> None:
    e = synthetic_election(N, seed=3, incremental=0.2, extreme=0.02)
    r = klimek(e.arrays(), resamples=RESAMPLES)
    assert abs(r.f_e - e.truth.f_e) < 0.01
    assert r.f_e_interval[0] > 0
    # f_i is underestimated when regions differ (documented): the regional blobs absorb
    # part of the stuffing; it is still positive and the fraud model beats the fair one
    assert 0 < r.f_i < 0.3
    assert r.rmse < r.rmse_fair


def test_recipes_set_the_papers_national_fit_beside_the_regional_one() -> None:
    e = synthetic_election(3_000, seed=6, extreme=0.03)
    regional = klimek(e.arrays(), resamples=3, seed=1)
    national = klimek(e.arrays(), resamples=3, seed=1, by_region=False)
    for result in (regional, national):
        assert [r.name for r in result.recipes] == ["pnas", "regional"]
    by_name = {r.name: r for r in regional.recipes}
    assert (by_name["regional"].f_i, by_name["regional"].f_e) == (regional.f_i, regional.f_e)
    assert by_name["regional"].interval == regional.interval
    assert (by_name["pnas"].f_i, by_name["pnas"].f_e) == (national.f_i, national.f_e)
    assert by_name["pnas"].interval == national.interval
    recipes = json.loads(json.dumps(regional.to_dict()))["recipes"]
    assert set(recipes[0]) == {"name", "f_i", "f_e", "interval"}
    assert set(recipes[0]["interval"]) == {"f_i", "f_e"}


def test_same_seed_same_answer_and_json() -> None:
    e = synthetic_election(3_000, seed=4, incremental=0.1)
    a = klimek(e.arrays(), resamples=5, seed=7)
    b = klimek(e.arrays(), resamples=5, seed=7)
    assert a.to_dict() == b.to_dict()
    d = a.to_dict()
    json.dumps(d)
    assert d["method"] == "klimek"
    assert "observed" not in d and "fitted" not in d
    assert d["interval"] == {"f_i": list(a.f_i_interval), "f_e": list(a.f_e_interval)}
    for key in ("f_i", "f_e", "f_i_interval", "f_e_interval", "clean_turnout", "clean_share"):
        assert key in d
    assert d["resamples"] == 5 and d["by_region"] is True
    assert a.observed.shape == (a.bins, a.bins)
    assert a.observed.sum() == pytest.approx(1.0)
    assert a.fitted.sum() == pytest.approx(1.0)
    assert 0.4 < a.clean_turnout < 0.8 and 0.3 < a.clean_share < 0.7
    for lo, hi in (a.f_i_interval, a.f_e_interval):
        assert 0 <= lo <= hi <= 1


def test_without_regions_one_blob_is_fitted() -> None:
    e = synthetic_election(2_000, seed=3)
    d = e.arrays()
    data = StationArrays.from_counts(d.registered, d.issued, d.cast, d.leader)
    r = klimek(data, resamples=3)
    assert r.applicable and r.regions == 1


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
    e = synthetic_election(2_000, seed=3)
    d = e.arrays()
    reg = d.registered.copy()
    reg[:5] = 0
    data = StationArrays.from_counts(reg, d.issued, d.cast, d.leader, region=d.region)
    r = klimek(data, resamples=3)
    assert r.excluded_stations == 5
    assert r.n_stations == 2_000


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("resamples", 0),
        ("resamples", -3),
        ("resamples", 2.5),
        ("bins", 5),
        ("seed", "x"),
        ("by_region", "yes"),
    ],
)
def test_bad_options_raise_input_error(option: str, value: object) -> None:
    e = synthetic_election(600, seed=1)
    with pytest.raises(InputError, match=option):
        klimek(e.arrays(), **{option: value})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def three_seeds() -> list[KlimekResult]:
    e = synthetic_election(4_000, seed=9, incremental=0.1, extreme=0.01)
    return [klimek(e.arrays(), resamples=4, seed=s) for s in (0, 1, 2)]


@pytest.mark.slow
def test_each_answer_lies_in_its_interval_with_the_spread_of_its_fits(
    three_seeds: list[KlimekResult],
) -> None:
    """The interval covers the estimate and the independent fits it was chosen from."""
    for a in three_seeds:
        assert a.f_i_interval[0] <= a.seed_spread["f_i"][0] <= a.f_i <= a.f_i_interval[1]
        assert a.f_i <= a.seed_spread["f_i"][1] <= a.f_i_interval[1]
        assert a.f_e_interval[0] <= a.seed_spread["f_e"][0] <= a.f_e <= a.f_e_interval[1]
        assert a.f_e <= a.seed_spread["f_e"][1] <= a.f_e_interval[1]
    d = json.loads(json.dumps(three_seeds[0].to_dict()))
    assert d["seed_spread"]["f_i"] == list(three_seeds[0].seed_spread["f_i"])


@pytest.mark.slow
def test_different_seeds_agree_within_the_reported_interval(
    three_seeds: list[KlimekResult],
) -> None:
    """Seed stability (issue 10, item 5): each seed's answer lies in every other's interval.

    The point fit's simulation uses fixed streams (``_FIT_ENTROPY``), so seeds change only
    the bootstrap; before, seeds 0 and 1 gave f_i 0.21 and 0.09, outside each other's
    intervals."""
    assert len({(a.f_i, a.f_e) for a in three_seeds}) == 1
    assert len({str(a.seed_spread) for a in three_seeds}) == 1
    for a in three_seeds:
        for b in three_seeds:
            assert a.f_i_interval[0] - 0.02 <= b.f_i <= a.f_i_interval[1] + 0.02
            assert a.f_e_interval[0] - 0.002 <= b.f_e <= a.f_e_interval[1] + 0.002


# --- coverage of the injected fraud (issue 10, item 5) -----------------------------------------

COVERAGE_ELECTIONS = 8
COVERAGE_STATIONS = 4_000
COVERAGE_SEED = 80_000
COVERAGE_FLOOR = 6
"""Fewest of ``COVERAGE_ELECTIONS`` intervals that must cover the truth: if the 95 %
intervals covered at their nominal rate, 5 or fewer of 8 would happen with probability
0.006 (binomial), so a failure means coverage well below nominal, not bad luck. The seeds
are fixed, so the test is deterministic."""


@pytest.fixture(scope="module")
def coverage_runs() -> dict[str, list[tuple[dict[str, float], KlimekResult]]]:
    scenarios = {"clean": {}, "mild": {"incremental": 0.05, "extreme": 0.005}}
    runs: dict[str, list[tuple[dict[str, float], KlimekResult]]] = {}
    for name, fraud in scenarios.items():
        runs[name] = []
        for i in range(COVERAGE_ELECTIONS):
            e = synthetic_election(COVERAGE_STATIONS, seed=COVERAGE_SEED + i, **fraud)
            truth = {"f_i": e.truth.f_i, "f_e": e.truth.f_e}
            runs[name].append((truth, klimek(e.arrays(), resamples=10, seed=COVERAGE_SEED + i)))
    return runs


def _covered(runs: list[tuple[dict[str, float], KlimekResult]], fraction: str) -> int:
    return sum(
        r.interval[fraction][0] - 1e-9 <= truth[fraction] <= r.interval[fraction][1] + 1e-9
        for truth, r in runs
    )


@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["clean", "mild"])
def test_extreme_fraud_interval_covers_the_injected_fraction(
    coverage_runs: dict[str, list[tuple[dict[str, float], KlimekResult]]], scenario: str
) -> None:
    """The headline (regional) f_e interval covers the injected f_e about as often as a
    95 % interval should, with no fraud and with mild fraud of both kinds (f_i 0.05,
    f_e 0.005). ``bench/klimek_coverage.py`` gives the full table, where it does not
    (f_e 0.03: Klimek's extreme stations spread lower than the generator's; f_i 0.20: the
    regional blobs absorb stuffing)."""
    k = _covered(coverage_runs[scenario], "f_e")
    assert k >= COVERAGE_FLOOR, f"f_e interval covered the truth in {k} of {COVERAGE_ELECTIONS}"


# --- the paper's fits on the CEC files (realdata) ----------------------------------------------

PUBLISHED_PNAS = {"2011": (0.64, 0.033), "2012": (0.39, 0.021)}
"""Klimek et al.'s fitted (f_i, f_e) for Russia 2011 and 2012, as transcribed in Kobak's
replication (docs/validation.md, "Beside published figures")."""


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.parametrize(
    "year",
    [
        pytest.param(
            "2011",
            marks=pytest.mark.xfail(
                strict=True,
                reason="pnas recipe gives f_i 0.18, f_e 0.000 against 0.64 / 0.033 "
                "(2026-12-05): our fit pushes the stuffing width θ to its ceiling, where few "
                "stations stuffed hard replace many stuffed mildly; the logit-normal clean blob "
                "and the fitted θ differ from the paper (docs/validation.md)",
            ),
        ),
        "2012",
    ],
)
def test_pnas_recipe_beside_the_papers_fit(data_dir: Path, year: str) -> None:
    """The national fit lands near the paper's (f_i within 0.1, f_e within 0.01); the point
    fit does not depend on the seed or the resamples, so two replicates suffice."""
    data = station_arrays(load_results(data_dir / "ru" / f"{year}.csv.zip"))
    pnas = {r.name: r for r in klimek(data, resamples=2, seed=0).recipes}["pnas"]
    f_i, f_e = PUBLISHED_PNAS[year]
    assert abs(pnas.f_i - f_i) <= 0.1 and abs(pnas.f_e - f_e) <= 0.01, (pnas.f_i, pnas.f_e)


def _model_in_numpy(
    sizes: np.ndarray, z: np.ndarray, blob: tuple[np.ndarray, ...], params: np.ndarray, bins: int
) -> np.ndarray:
    """The simulation as the module docstring states it, in plain numpy (libm's exp): the
    reference the compiled, vectorised kernel is held to."""
    from scipy.special import expit

    centre_t, sd_t, centre_s, sd_s = blob
    n = sizes
    a = expit(centre_t + params[0] + params[2] * sd_t * z[0])
    v = expit(centre_s + params[1] + params[3] * sd_s * z[1])
    issued = np.clip(np.rint(n * a + np.sqrt(n * a * (1 - a)) * z[2]), 0, n)
    leader = np.clip(np.rint(issued * v + np.sqrt(issued * v * (1 - v)) * z[3]), 0, issued)
    x = params[4] * np.abs(z[4])
    x = np.minimum(np.where(x < 1, x, params[4] * np.abs(z[5])), 0.999)
    y = np.clip(1 - params[6] * np.abs(z[6]), 0, 1)
    half = len(n) // 2
    out = np.zeros((3, 2, bins * bins))
    for kind, frac in enumerate((None, x, y)):
        ni, nl = issued, leader
        if frac is not None:
            stuffed = np.rint(frac * (n - issued))
            stolen = np.rint(frac ** params[5] * (issued - leader)) if params[5] > 0 else 0
            ni, nl = issued + stuffed, leader + stuffed + stolen
        voted = issued > 0
        row = np.minimum((ni / n * bins).astype(int), bins - 1)
        column = np.minimum((nl / np.where(voted, ni, 1) * bins).astype(int), bins - 1)
        cell = row * bins + column
        for h, part in enumerate((slice(0, half), slice(half, 2 * half))):
            counts = np.bincount(cell[part][voted[part]], minlength=bins * bins)
            out[kind, h] = counts / counts.sum()
    return out


@pytest.mark.parametrize("alpha", [-1.0, 1.0, 2.0])
def test_compiled_simulation_matches_the_model_in_plain_numpy(alpha: float) -> None:
    from pollwatch.forensics.klimek import _simulate_kernel

    rng = np.random.default_rng(11)
    m, bins = 4_001, 50  # odd: the last station belongs to neither half
    sizes = rng.integers(1, 3_000, m).astype(np.float64)
    sizes[:20] = 1.0  # tiny stations: many cast no ballot at all
    blob = (rng.normal(0.3, 0.8, m), rng.uniform(0.1, 0.6, m),
            rng.normal(1.0, 1.5, m), rng.uniform(0.1, 0.6, m))  # fmt: skip
    z = rng.standard_normal((7, m))
    z[4, :100] = 40.0  # x ≥ 1: redrawn from the spare normal ...
    z[5, :50] = 10.0  # ... and capped at 0.999 when that is ≥ 1 too
    params = np.array([0.1, -0.2, 1.3, 0.8, 0.4, alpha, 0.05])
    got, _ = _simulate_kernel(sizes, *blob, z, params, bins)
    want = _model_in_numpy(sizes, z, blob, params, bins)
    assert np.abs(got - want).max() <= 1e-12


NOMINAL_FLOOR = 5
"""Fewest of 6 fixed elections a 95 % interval must cover: at the nominal rate, 4 or fewer
of 6 happen with probability 0.033."""


def test_interval_covers_heavy_stuffing_the_plain_blobs_absorb() -> None:
    """With a fifth of the stations stuffed, the stuffed stations pull the regional blobs
    and the fit finds little stuffing (its own interval covered the truth in 0 of these 6
    elections); the interval also spans the fit on cross-conditioned blobs, which covers
    it (6 of 6 when measured; 5 with the median cut), while honest elections keep
    intervals that include 0 (``test_clean_heterogeneous_election_is_not_called_fraud``)."""
    covered = 0
    for seed in range(6):
        e = synthetic_election(12_000, seed=500 + seed, incremental=0.2)
        lo, hi = klimek(e.arrays(), resamples=12, seed=seed).f_i_interval
        covered += lo <= e.truth.f_i <= hi
    assert covered >= NOMINAL_FLOOR


def test_interval_covers_stuffing_without_regional_differences() -> None:
    """Where every region is alike, the bootstrap's spread is the estimate's real spread:
    replicates refit from the full fit's neutral start. When they started from the full
    fit's answer, they stayed near it (half the spread) and these 8 intervals covered the
    injected f_i = 0.10 in 4; now in 8. At the nominal rate, 5 or fewer of 8 happen with
    probability 0.006."""
    covered = 0
    for seed in range(8):
        e = synthetic_election(12_000, seed=700 + seed, incremental=0.1, region_concentration=1e6)
        lo, hi = klimek(e.arrays(), resamples=12, seed=seed).f_i_interval
        covered += lo <= e.truth.f_i <= hi
    assert covered >= 6


def test_small_regions_keep_an_informative_interval() -> None:
    """With 250 stations a region (5,000 in 20), a third of a region is too few for a blob
    of its own: the cross-conditioned blobs of small regions borrow from the region's
    plain blob. When they borrowed from the national figures instead, these 4 clean
    elections' f_i intervals were 0.48 wide on average (0 to about a half: no answer at
    all); now 0.23."""
    widths = []
    for seed in range(4):
        e = synthetic_election(5_000, seed=900 + seed)
        lo, hi = klimek(e.arrays(), resamples=12, seed=seed).f_i_interval
        assert lo <= e.truth.f_i  # clean: the interval includes 0
        widths.append(hi - lo)
    assert float(np.mean(widths)) < 0.35


def test_interval_covers_extreme_stations_written_up_near_100_percent() -> None:
    """Extreme fraud as real write-ups look (turnout pushed to within 5 points of 100 %):
    the paper's extreme shape spreads its stations lower and needs more of them (f_e 0.038
    for 0.030), so the interval also spans the narrow shape's answer. With the paper's
    shape alone these 6 intervals covered the truth once; spanning both, 6 times."""
    covered = 0
    for seed in range(6):
        e = synthetic_election(12_000, seed=600 + seed, extreme=0.03)
        result = klimek(e.arrays(), resamples=12, seed=seed)
        lo, hi = result.f_e_interval
        covered += lo <= e.truth.f_e <= hi
        assert result.f_e > e.truth.f_e  # the point estimate keeps the paper's shape
    assert covered >= NOMINAL_FLOOR
