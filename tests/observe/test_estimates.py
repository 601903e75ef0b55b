"""Turnout from door counts, on synthetic polling days with known arrivals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pollwatch.errors import InputError
from pollwatch.observe.estimates import (
    MIN_COVERED_SHARE,
    DayCurve,
    OpeningHours,
    Tolerance,
    benjamini_hochberg,
    compare_with_official,
    day_curve_from_windows,
    day_shapes_from_stations,
    door_count_comparison,
    turnout_estimate,
)
from pollwatch.observe.master import CountWindow, merge_station_reports
from pollwatch.observe.reports import CountReport, parse_report
from pollwatch.observe.schedule import parse_schedule

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
    assert estimate.method == "complete" and estimate.covered_share == 1.0
    assert estimate.total == estimate.counted == sum(10 * h for h in range(12))
    assert estimate.low is not None and estimate.high is not None
    assert estimate.low < 660 < estimate.high < 660 * 1.06  # counting error only
    assert estimate.turnout == pytest.approx(660 / 2000)
    assert estimate.issued_counted == 660 and estimate.uncovered_hours == pytest.approx(0)


def test_without_reference_stations_the_wide_prior_extrapolates() -> None:
    estimate = turnout_estimate(
        [window(0, 3, 150), window(6, 9, 150)], registered=None, opening_hours=DAY
    )
    assert estimate.method == "prior" and estimate.reference_stations == 0
    assert estimate.covered_hours == pytest.approx(6)
    assert estimate.covered_share == pytest.approx(0.5)
    assert estimate.extrapolated == pytest.approx(300)  # a flat day: as many again
    assert estimate.total == pytest.approx(600)
    assert estimate.low is not None and estimate.high is not None
    assert estimate.low < 450 and estimate.high > 900  # the prior knows little, and says so
    assert estimate.turnout is None


def test_a_half_day_count_without_a_closed_report_is_not_a_complete_count() -> None:
    # The observer counted 08-14 and went home: the schedule, not the windows, says when
    # the station closed, so the count is extrapolated and 1,000 official is no accusation.
    schedule = parse_schedule("2024-03-17 08:00-20:00", "Europe/Moscow")
    windows = [window(h, h + 2, n) for h, n in ((0, 150), (2, 170), (4, 169))]
    estimate = turnout_estimate(windows, registered=2000, opening_hours=schedule)
    assert estimate.method == "prior" and estimate.counted == 489
    assert estimate.covered_share == pytest.approx(0.5)
    assert estimate.low is not None and estimate.high is not None
    assert estimate.low < 1000 < estimate.high
    assert not door_count_comparison(estimate, 1000).flagged


def test_day_shapes_of_fully_covered_stations_make_a_morning_count_unbiased() -> None:
    rng = np.random.default_rng(2)
    reference = []
    for _ in range(30):
        hours = simulate_day(rng, rng.uniform(300, 1500), SHAPE)
        reference.append((DAY, [window(h, h + 1, int(hours[h])) for h in range(12)]))
    reference.append((DAY, [window(0, 6, 100)]))  # not fully covered: left out
    shapes = day_shapes_from_stations(reference)
    assert len(shapes.profiles) == 30
    errors = []
    for _ in range(200):
        hours = simulate_day(rng, 800, SHAPE)
        windows = [window(h, h + 1, int(hours[h])) for h in range(4)]  # morning only
        estimate = turnout_estimate(windows, registered=None, opening_hours=DAY, shapes=shapes)
        assert estimate.method == "reference" and estimate.reference_stations == 30
        assert estimate.covered_share == pytest.approx(SHAPE[:4].sum(), abs=0.01)
        assert estimate.total is not None
        errors.append(estimate.total / hours.sum() - 1)
    assert abs(np.mean(errors)) < 0.02


def test_an_evening_count_tests_an_official_figure_in_each_direction() -> None:
    # 1,000 voters plus 400 stuffed ballots, counted 17-20 only.
    shapes = day_shapes_from_stations(
        [(DAY, [window(h, h + 1, int(1000 * SHAPE[h])) for h in range(12)]) for _ in range(10)]
    )
    counted = int(1000 * SHAPE[9:].sum())
    estimate = turnout_estimate(
        [window(9, 12, counted)], registered=None, opening_hours=DAY, shapes=shapes
    )
    assert estimate.testable
    honest = door_count_comparison(estimate, 1000)
    stuffed = door_count_comparison(estimate, 1400)
    assert not honest.flagged and honest.direction is None
    assert stuffed.flagged and stuffed.direction == "above"  # these stations' days agree
    assert stuffed.counted == counted and stuffed.total == pytest.approx(estimate.total)


def test_over_and_under_counts_are_labelled_separately() -> None:
    estimate = turnout_estimate(
        [window(h, h + 1, 50) for h in range(12)], registered=None, opening_hours=DAY
    )
    above = door_count_comparison(estimate, 800)
    below = door_count_comparison(estimate, 400)
    assert above.flagged and above.direction == "above" and above.p_above < 0.001
    assert below.flagged and below.direction == "below" and below.p_below < 0.001
    assert above.p_value == pytest.approx(2 * above.p_above)


def test_too_little_of_the_day_is_never_flagged() -> None:
    estimate = turnout_estimate([window(5, 6, 40)], registered=None, opening_hours=DAY)
    assert estimate.covered_share < MIN_COVERED_SHARE and not estimate.testable
    assert "too little to flag" in estimate.note
    comparison = door_count_comparison(estimate, 5000)
    assert not comparison.flagged and not comparison.tested


def test_multi_day_voting_is_one_axis_over_the_open_hours() -> None:
    schedule = parse_schedule(
        "2024-03-15 08:00-20:00; 2024-03-16 08:00-20:00; 2024-03-17 08:00-20:00", "UTC"
    )
    day_one = datetime(2024, 3, 15, 8, 0, tzinfo=UTC)
    windows = [
        CountWindow(
            day_one + timedelta(days=d), day_one + timedelta(days=d, hours=12), 300, None, ()
        )
        for d in range(2)
    ]
    estimate = turnout_estimate(windows, registered=None, opening_hours=schedule)
    assert estimate.covered_hours == pytest.approx(24)
    assert estimate.uncovered_hours == pytest.approx(12)
    assert estimate.covered_share == pytest.approx(2 / 3) and estimate.total == pytest.approx(900)
    full = [
        *windows,
        CountWindow(
            day_one + timedelta(days=2), day_one + timedelta(days=2, hours=12), 300, None, ()
        ),
    ]
    assert turnout_estimate(full, registered=None, opening_hours=schedule).method == "complete"


def test_benjamini_hochberg_controls_the_share_of_false_discoveries() -> None:
    assert benjamini_hochberg([]) == []
    q = benjamini_hochberg([0.001, 0.5, 0.02, 0.04])
    assert q[0] == pytest.approx(0.004) and q[1] == 0.5
    assert q[2] == pytest.approx(0.04) and q[3] == pytest.approx(0.04 * 4 / 3)


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
    assert estimate.total == pytest.approx(240)  # the prior's flat day: 40 in 2 of 12 hours


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
