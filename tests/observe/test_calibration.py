"""The quick count and door counts keep their promises on honest synthetic elections (small
cells of the grids that ``bench/observe_stats.py`` prints in full)."""

from __future__ import annotations

import pytest

from pollwatch.errors import InputError
from pollwatch.observe.calibration import (
    COVERAGE_PATTERNS,
    PVT_CANDIDATES,
    PVTCalibration,
    door_count_calibration,
    pvt_calibration,
    synthetic_pvt_election,
)

CELLS = [
    pytest.param(300, 30, 0.0, 300, id="300-stations-sample-30-full"),
    pytest.param(5000, 100, 0.1, 150, id="5000-stations-sample-100-10pct-missing"),
]
RESULTS: dict[tuple[int, int, float], PVTCalibration] = {}


def cell(n: int, sample: int, missing: float, replications: int) -> PVTCalibration:
    key = (n, sample, missing)
    if key not in RESULTS:
        RESULTS[key] = pvt_calibration(
            n, sample, missing=missing, replications=replications, seed=11
        )
    return RESULTS[key]


def test_the_synthetic_election_has_candidates_down_to_three_percent() -> None:
    election = synthetic_pvt_election(300, seed=11)
    shares = election[list(PVT_CANDIDATES)].sum() / election["valid"].sum()
    assert len(election) == 300 and election["region"].nunique() == 5
    assert shares.max() > 0.4 and 0.03 < shares.min() < 0.05
    with pytest.raises(InputError):
        synthetic_pvt_election(10, seed=1)


@pytest.mark.slow
@pytest.mark.parametrize(("n", "sample", "missing", "replications"), CELLS)
def test_95_percent_intervals_cover_every_candidate_above_3_percent(
    n: int, sample: int, missing: float, replications: int
) -> None:
    result = cell(n, sample, missing, replications)
    assert result.estimated >= 0.9 * replications
    assert set(result.coverage) == {*PVT_CANDIDATES, "turnout (issued)"}
    pooled = sum(result.coverage.values()) / len(result.coverage)
    assert 0.93 <= pooled <= 0.97, result.coverage
    assert min(result.coverage.values()) >= 0.92, result.coverage  # no row off (MC SE ≈ 0.013)


@pytest.mark.slow
def test_the_joint_test_accuses_honest_elections_at_most_about_5_percent_of_the_time() -> None:
    results = [cell(*p.values) for p in CELLS]  # type: ignore[arg-type]
    alarms = sum(r.false_alarms * r.estimated for r in results)
    total = sum(r.estimated for r in results)
    assert 0.0 < alarms / total <= 0.06  # about 5 % or less: never crying wolf more often


@pytest.mark.slow
@pytest.mark.parametrize("pattern", COVERAGE_PATTERNS)
def test_door_counts_flag_at_most_5_percent_of_honest_stations(pattern: str) -> None:
    result = door_count_calibration(pattern, stations=250, seed=5)  # over 10 elections
    assert result.elections == 10 and 0 <= result.worst_honest <= 1
    assert result.flag_rate[0.0] <= 0.05, result.flag_rate
    assert result.coverage >= 0.93
    assert result.flag_rate[0.4] >= result.flag_rate[0.0]  # stuffing is seen more often
    if pattern == "full":  # a complete count sees +10 % stuffing at nearly every station
        assert result.flag_rate[0.1] >= 0.9


def test_door_count_calibration_refuses_an_unknown_pattern() -> None:
    with pytest.raises(InputError, match="pattern"):
        door_count_calibration("midnight", stations=1)
    with pytest.raises(InputError, match="election"):
        door_count_calibration("full", stations=5, elections=10)
