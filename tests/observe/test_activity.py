"""What a station's counters and count windows say: conflict possible, people per hour."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pollwatch.observe.activity import StationCounters, entered_per_hour
from pollwatch.observe.master import CountWindow


def counters(*, counts: int = 0, incidents: int = 0, protocols: int = 0, statuses: int = 0):
    reports = counts + incidents + protocols + statuses
    return StationCounters(1, reports, counts, incidents, protocols)


@pytest.mark.parametrize(
    ("kinds", "possible"),
    [
        ({}, False),
        ({"counts": 1, "protocols": 1, "statuses": 1}, False),
        ({"incidents": 5, "counts": 1}, False),  # incidents are never merged
        ({"counts": 2}, True),
        ({"protocols": 2}, True),
        ({"statuses": 2}, True),
    ],
)
def test_a_conflict_needs_two_reports_of_one_mergeable_kind(
    kinds: dict[str, int], possible: bool
) -> None:
    assert counters(**kinds).may_conflict is possible


def test_statuses_are_the_reports_of_no_other_kind() -> None:
    c = StationCounters(last_seq=7, reports=10, counts=3, incidents=4, protocols=1)
    assert c.statuses == 2
    assert c.mergeable == 6


def window(start: str, end: str, entered: int) -> CountWindow:
    return CountWindow(
        start=datetime.fromisoformat(start).replace(tzinfo=UTC),
        end=datetime.fromisoformat(end).replace(tzinfo=UTC),
        entered=entered,
        ballots_issued=None,
        report_ids=("r",),
    )


def hour(moment: str) -> int:
    return int(datetime.fromisoformat(moment).replace(tzinfo=UTC).timestamp() // 3600)


def test_a_window_across_an_hour_is_shared_in_proportion_to_its_minutes() -> None:
    spread = entered_per_hour([window("2024-03-17 08:30", "2024-03-17 10:00", 90)])
    assert spread == pytest.approx({hour("2024-03-17 08:00"): 30.0, hour("2024-03-17 09:00"): 60.0})
    assert sum(spread.values()) == pytest.approx(90)


def test_a_zero_length_window_counts_in_its_own_hour() -> None:
    assert entered_per_hour([window("2024-03-17 11:20", "2024-03-17 11:20", 7)]) == {
        hour("2024-03-17 11:00"): 7.0
    }


def test_windows_in_the_same_hour_add_up() -> None:
    spread = entered_per_hour(
        [
            window("2024-03-17 09:00", "2024-03-17 09:30", 10),
            window("2024-03-17 09:30", "2024-03-17 10:00", 5),
        ]
    )
    assert spread == pytest.approx({hour("2024-03-17 09:00"): 15.0})
