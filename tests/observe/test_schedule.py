"""Station schedules: the import format, the legacy hours column, time zones from coordinates."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from pollwatch.errors import InputError
from pollwatch.observe.schedule import (
    SCHEDULE_LIMIT,
    StationSchedule,
    parse_legacy_hours,
    parse_schedule,
    timezone_from_coordinates,
)


def test_a_schedule_is_local_hours_per_voting_day() -> None:
    schedule = parse_schedule("2024-03-15 08:00-20:00; 2024-03-16 08:00-21:00", "Europe/Moscow")
    assert schedule.hours == 25.0 and schedule.source == "schedule" and not schedule.assumed
    (opens, closes), _ = schedule.periods()
    assert opens == datetime(2024, 3, 15, 5, 0, tzinfo=UTC)  # 08:00 Moscow is 05:00 UTC
    assert closes == datetime(2024, 3, 15, 17, 0, tzinfo=UTC)
    assert schedule.text() == "2024-03-15 08:00-20:00; 2024-03-16 08:00-21:00"
    night = datetime(2024, 3, 16, 2, 0, tzinfo=UTC)  # between the two days: closed
    assert schedule.open_hours_at(night) == 12.0
    assert schedule.to_dict()["timezone"] == "Europe/Moscow"


@pytest.mark.parametrize(
    ("text", "timezone", "match"),
    [
        ("2024-03-15 20:00-08:00", "UTC", "closes"),
        ("2024-03-15 25:00-26:00", "UTC", "time of day"),
        ("2024-02-30 08:00-20:00", "UTC", "not a date"),
        ("tomorrow", "UTC", "voting day"),
        ("2024-03-16 08:00-20:00; 2024-03-15 08:00-20:00", "UTC", "in order"),
        ("2024-03-15 08:00-20:00", "Mars/Olympus", "time zone"),
        ("", "UTC", "at least one"),
    ],
)
def test_bad_schedules_say_what_is_wrong(text: str, timezone: str, match: str) -> None:
    with pytest.raises(InputError, match=match):
        parse_schedule(text, timezone)


def test_a_schedule_is_bounded() -> None:
    days = "; ".join(f"2024-01-{d:02d} 08:00-20:00" for d in range(1, 32))
    assert len(parse_schedule(days, "UTC").days) == SCHEDULE_LIMIT
    with pytest.raises(InputError):
        parse_schedule(days + "; 2024-02-01 08:00-20:00", "UTC")
    with pytest.raises(InputError, match="too long"):
        parse_schedule("x" * 5000, "UTC")


@pytest.mark.parametrize("text", ["08:00-20:00", "8-20", "08.00–20.00", " 8:00 - 20:00 "])
def test_legacy_hours_apply_to_every_voting_date(text: str) -> None:
    dates = [date(2024, 3, 16), date(2024, 3, 17)]
    schedule = parse_legacy_hours(text, dates, "Europe/Berlin")
    assert schedule is not None and schedule.source == "hours"
    assert schedule.text() == "2024-03-16 08:00-20:00; 2024-03-17 08:00-20:00"


@pytest.mark.parametrize("text", [None, "", "usual hours", "20-08", "8-20 and 9-12"])
def test_unreadable_legacy_hours_fall_back(text: str | None) -> None:
    assert parse_legacy_hours(text, [date(2024, 3, 17)], "UTC") is None


def test_time_zones_come_from_coordinates_offline() -> None:
    assert timezone_from_coordinates(52.52, 13.405) == "Europe/Berlin"
    assert timezone_from_coordinates(41.716, 44.783) == "Asia/Tbilisi"
    assert timezone_from_coordinates(None, 13.0) is None
    assert timezone_from_coordinates(95.0, 13.0) is None


def test_an_assumed_schedule_says_so() -> None:
    schedule = StationSchedule(
        "UTC", parse_schedule("2024-03-17 08:00-20:00", "UTC").days, "election default", True
    )
    assert schedule.assumed and schedule.to_dict()["assumed"] is True
