"""Turnout from door counts, on synthetic polling days with known arrivals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pollwatch.errors import InputError
from pollwatch.observe.estimates import (
    DayCurve,
    OpeningHours,
    Tolerance,
    compare_with_official,
    day_curve_from_windows,
    turnout_estimate,
)
from pollwatch.observe.master import CountWindow, merge_station_reports
from pollwatch.observe.reports import CountReport, parse_report

OPENS = datetime(2024, 3, 17, 5, 0, tzinfo=UTC)  # 08:00 in Moscow
DAY = OpeningHours(OPENS, OPENS + timedelta(hours=12))
# A realistic day shape: a morning peak, a lull, an evening peak (hourly weights).
SHAPE = np.array([3, 6, 9, 10, 9, 7, 6, 6, 7, 9, 10, 8], dtype=float)
SHAPE /= SHAPE.sum()


def window(start: float, end: float, entered: int, issued: int | None = None) -> CountWindow:
    return CountWindow(
        start=OPENS + timedelta(hours=start),
        end=OPENS + timedelta(hours=end),
        entered=entered,
        ballots_issued=issued,
        report_ids=("r",),
    )


def simulate_day(rng: np.random.Generator, expected: float, shape: np.ndarray) -> np.ndarray:
    """Arrivals per hour of a 12-hour day: an inhomogeneous Poisson process."""
    return rng.poisson(expected * shape)


def test_full_coverage_is_the_count_itself() -> None:
    windows = [window(h, h + 1, 10 * h, issued=10 * h) for h in range(12)]
    estimate = turnout_estimate(windows, registered=2000, opening_hours=DAY)
    assert estimate.method == "complete"
    assert estimate.total == estimate.low == estimate.high == sum(10 * h for h in range(12))
    assert estimate.turnout == pytest.approx(660 / 2000)
    assert estimate.issued_counted == 660 and estimate.uncovered_hours == pytest.approx(0)


def test_own_rate_extrapolates_uncovered_hours() -> None:
    estimate = turnout_estimate(
        [window(0, 3, 150), window(6, 9, 150)], registered=None, opening_hours=DAY
    )
    assert estimate.method == "own_rate"
    assert estimate.covered_hours == pytest.approx(6)
    assert estimate.extrapolated == pytest.approx(300)  # 50 an hour for 6 more hours
    assert estimate.total == pytest.approx(600)
    assert estimate.low is not None and estimate.high is not None
    assert estimate.low < 600 < estimate.high
    assert estimate.turnout is None


def test_no_windows_gives_no_estimate() -> None:
    estimate = turnout_estimate([], registered=1000, opening_hours=DAY)
    assert estimate.method == "none" and estimate.total is None and estimate.note


def test_overlapping_windows_are_refused() -> None:
    with pytest.raises(InputError, match="overlap"):
        turnout_estimate([window(0, 2, 5), window(1, 3, 5)], registered=10, opening_hours=DAY)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"opening_hours": (OPENS, OPENS)},
        {"opening_hours": (OPENS.replace(tzinfo=None), OPENS + timedelta(hours=1))},
        {"opening_hours": DAY, "level": 1.5},
        {"opening_hours": DAY, "registered": -1},
    ],
)
def test_bad_parameters_are_input_errors(kwargs: dict[str, Any]) -> None:
    kwargs.setdefault("registered", 100)
    with pytest.raises(InputError):
        turnout_estimate([window(0, 1, 5)], **kwargs)


def test_count_reports_work_as_windows() -> None:
    report = parse_report(
        {
            "id": "00000000-0000-4000-8000-000000000001",
            "election": "e",
            "station": "s",
            "kind": "count",
            "observed_at": (OPENS + timedelta(hours=2)).isoformat(),
            "window_start": OPENS.isoformat(),
            "window_end": (OPENS + timedelta(hours=2)).isoformat(),
            "entered": 40,
        },
        now=OPENS + timedelta(hours=3),
    )
    assert isinstance(report, CountReport)
    estimate = turnout_estimate([report], registered=1000, opening_hours=DAY)
    assert estimate.total == pytest.approx(240)


@pytest.mark.slow
def test_own_rate_interval_covers_the_truth_at_constant_rate() -> None:
    rng = np.random.default_rng(1)
    flat = np.full(12, 1 / 12)
    covered = 0
    replicates = 400
    for _ in range(replicates):
        hours = simulate_day(rng, 600, flat)
        counted = rng.choice(12, size=4, replace=False)
        windows = [window(int(h), int(h) + 1, int(hours[h])) for h in sorted(counted)]
        estimate = turnout_estimate(windows, registered=None, opening_hours=DAY)
        assert estimate.low is not None and estimate.high is not None
        covered += estimate.low <= hours.sum() <= estimate.high
    assert 0.92 <= covered / replicates <= 0.98


@pytest.mark.slow
def test_day_curve_removes_the_bias_of_a_morning_only_count() -> None:
    rng = np.random.default_rng(2)
    reference = []
    for _ in range(30):
        hours = simulate_day(rng, rng.uniform(300, 1500), SHAPE)
        reference.append((DAY, [window(h, h + 1, int(hours[h])) for h in range(12)]))
    curve = day_curve_from_windows(reference)
    assert curve.n_stations == 30
    assert np.allclose(curve.shares, SHAPE, atol=0.01)

    own_errors, curve_errors, covered = [], [], 0
    replicates = 300
    for _ in range(replicates):
        hours = simulate_day(rng, 800, SHAPE)
        windows = [window(h, h + 1, int(hours[h])) for h in range(4)]  # morning only
        truth = hours.sum()
        own = turnout_estimate(windows, registered=None, opening_hours=DAY)
        by_curve = turnout_estimate(windows, registered=None, opening_hours=DAY, day_curve=curve)
        assert own.total is not None and by_curve.total is not None
        assert by_curve.low is not None and by_curve.high is not None
        own_errors.append(own.total / truth - 1)
        curve_errors.append(by_curve.total / truth - 1)
        covered += by_curve.low <= truth <= by_curve.high
    # The morning is slower than the day on average: its share of the day times 3 (4 of 12
    # hours), minus 1, is the own-rate method's relative bias.
    assert np.mean(own_errors) == pytest.approx(SHAPE[:4].sum() * 3 - 1, abs=0.015)
    assert abs(np.mean(curve_errors)) < 0.02
    assert 0.90 <= covered / replicates <= 0.99


def test_day_curve_needs_a_fully_covered_station() -> None:
    with pytest.raises(InputError, match="fully covered"):
        day_curve_from_windows([(DAY, [window(0, 6, 100)])])


def test_day_curve_validation() -> None:
    with pytest.raises(InputError):
        DayCurve(edges=(0.0, 1.0), shares=(0.5,), n_stations=1)
    with pytest.raises(InputError):
        DayCurve(edges=(0.0, 0.0), shares=(1.0,), n_stations=1)
    curve = DayCurve(edges=(0.0, 6.0, 12.0), shares=(0.25, 0.75), n_stations=1)
    assert curve.share(3, 9) == pytest.approx(0.125 + 0.375)


# --- comparison ----------------------------------------------------------------------------

NOW = OPENS + timedelta(hours=20)
FIGURES = {
    "registered": 2000,
    "ballots_received": 2000,
    "issued_early": 0,
    "issued_premises": 600,
    "issued_outside": 20,
    "valid": 610,
    "invalid": 8,
    "votes": {"A": 400, "B": 210},
}


def master_with(*figure_sets: dict[str, Any]) -> Any:
    reports = [
        parse_report(
            {
                "id": f"00000000-0000-4000-8000-{i:012d}",
                "election": "e",
                "station": "s",
                "kind": "protocol",
                "observed_at": (OPENS + timedelta(hours=13)).isoformat(),
                "figures": figures,
            },
            now=NOW,
        )
        for i, figures in enumerate(figure_sets, start=1)
    ]
    return merge_station_reports(reports)


def official(**changes: int) -> pd.Series:
    row: dict[str, Any] = {k: v for k, v in FIGURES.items() if k != "votes"}
    row.update({"A": 400, "B": 210, "region": "X", "station": "s"})
    row.update(changes)
    return pd.Series(row)


def test_matching_protocol_and_plausible_turnout_are_not_flagged() -> None:
    estimate = turnout_estimate(
        [window(h, h + 1, 50) for h in range(12)], registered=2000, opening_hours=DAY
    )
    comparison = compare_with_official(master_with(FIGURES), official(), estimate=estimate)
    assert not comparison.flagged
    assert comparison.turnout is not None and comparison.turnout.excess == pytest.approx(0)
    assert {line.field for line in comparison.lines} >= {"valid", "votes.A", "issued_premises"}
    assert all(line.difference == 0 for line in comparison.lines)
    assert comparison.to_dict()["turnout"]["official"] == 600


def test_ballot_stuffing_is_flagged_against_the_door_count() -> None:
    estimate = turnout_estimate(
        [window(h, h + 1, 50) for h in range(12)], registered=2000, opening_hours=DAY
    )
    row = official(issued_premises=900, A=700, valid=910)
    comparison = compare_with_official(master_with(FIGURES), row, estimate=estimate)
    assert comparison.flagged and comparison.turnout is not None
    assert comparison.turnout.flagged and comparison.turnout.excess == pytest.approx(300)
    assert comparison.turnout.relative_excess == pytest.approx(0.5)
    changed = {line.field: line.difference for line in comparison.lines if line.flagged}
    assert changed == {"issued_premises": 300, "votes.A": 300, "valid": 300}
    assert comparison.discrepancy == pytest.approx(0.75)  # votes.A: 300 of 400


def test_tolerance_decides_the_flag() -> None:
    estimate = turnout_estimate(
        [window(h, h + 1, 50) for h in range(12)], registered=2000, opening_hours=DAY
    )
    row = official(issued_premises=640)
    tight = compare_with_official(master_with({"registered": 2000}), row, estimate=estimate)
    loose = compare_with_official(
        master_with({"registered": 2000}), row, estimate=estimate, tolerance=0.10
    )
    assert tight.flagged and not loose.flagged
    by_lines = compare_with_official(
        master_with(FIGURES), official(valid=612), tolerance=Tolerance(protocol_absolute=2)
    )
    assert not by_lines.flagged and by_lines.turnout is None


def test_conflicting_fields_are_not_compared() -> None:
    master = master_with(FIGURES, {**FIGURES, "valid": 700})
    comparison = compare_with_official(master, official(valid=999))
    assert "valid" not in {line.field for line in comparison.lines}
    assert any("valid" in note for note in comparison.notes)
    assert not comparison.flagged


def test_bad_official_values_are_input_errors() -> None:
    with pytest.raises(InputError):
        compare_with_official(master_with(FIGURES), {"valid": "x", "registered": 2000})
    with pytest.raises(InputError):
        Tolerance(turnout_relative=-1)
