"""What a voter reads from a public status: freshness, opening days, longest queues, charts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pollwatch.guide.chart import bar_chart, nice_ceiling
from pollwatch.guide.status import STALE_AFTER, freshness, longest_queues, opening_days
from pollwatch.observe.publication import PublicStationStatus
from pollwatch.observe.schedule import parse_schedule

T = datetime(2024, 3, 17, 12, 0, tzinfo=UTC)


def test_freshness_counts_from_now_and_goes_stale_after_an_hour_of_release_time() -> None:
    assert freshness(None, T, T).state == "none"
    fresh = freshness(T - timedelta(minutes=20), T, T + timedelta(minutes=12))
    assert fresh.state == "fresh" and fresh.minutes_ago == 32
    edge = freshness(T - STALE_AFTER, T, T)
    assert edge.state == "fresh"
    assert freshness(T - STALE_AFTER - timedelta(minutes=10), T, T).state == "stale"
    assert freshness(T + timedelta(minutes=5), T, T).minutes_ago == 0  # a clock ahead: not < 0


def test_opening_days_in_the_station_time_zone() -> None:
    schedule = parse_schedule("2024-03-15 08:00-20:00; 2024-03-17 08:00-20:00", "Asia/Tokyo")
    # 12:00 UTC is 21:00 in Tokyo: the 17th's voting is over, the 15th too
    assert [d.now for d in opening_days(schedule, T)] == ["after", "after"]
    morning = datetime(2024, 3, 17, 0, 0, tzinfo=UTC)  # 09:00 in Tokyo
    days = opening_days(schedule, morning)
    assert [d.now for d in days] == ["after", "open"]
    assert (days[1].day, days[1].opens, days[1].closes) == ("2024-03-17", "08:00", "20:00")
    assert opening_days(schedule, datetime(2024, 3, 14, tzinfo=UTC))[0].now == "before"


def _status(station: str, queue: int | None, age_minutes: int) -> PublicStationStatus:
    return PublicStationStatus(
        "e", station, T, T - timedelta(minutes=age_minutes), queue, None, False
    )


def test_longest_queues_are_current_ones_longest_first() -> None:
    statuses = [
        _status("a", 50, 20),
        _status("b", 200, 180),  # long but hours old: not "now"
        _status("c", 90, 30),
        _status("d", 0, 10),
        _status("e", None, 10),
        _status("f", 90, 10),
    ]
    assert [s.station for s in longest_queues(statuses)] == ["c", "f", "a"]
    assert len(longest_queues(statuses, limit=1)) == 1


@pytest.mark.parametrize(("value", "top"), [(0, 1), (1, 1), (3, 5), (99, 100), (101, 200)])
def test_chart_tops_are_round(value: float, top: float) -> None:
    assert nice_ceiling(value) == top


def test_bars_fill_the_box_in_proportion() -> None:
    chart = bar_chart([("08:00", 10), ("09:00", 40), ("10:00", 0)])
    assert chart.top == 50
    heights = [b.height for b in chart.bars]
    assert heights[2] == 0 and heights[1] == pytest.approx(4 * heights[0], rel=0.01)
    assert all(b.y + b.height <= chart.height for b in chart.bars)
    assert all(b.x + b.width <= chart.width for b in chart.bars)
    assert bar_chart([]).bars == ()
