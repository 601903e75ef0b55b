"""Silent stations for the simulated election: in other time zones, open now, so alerts fire.

``make run``'s simulated election (``pollwatch demo-observe``) is a day that is over; the
alerts of :mod:`pollwatch.observe.alerts` are about stations open *now*. So the demo adds a
few stations whose voting day is today in time zones where it is now daytime, chosen from
:data:`ZONES` (offsets from −08:00 to +12:00, with the half- and quarter-hour ones), each
with a story that one alert catches:

* ``silent`` — an observer is assigned but never reported: *should have opened, no status
  yet* (``no_opening``);
* ``quiet`` — opened and counted the first two hours, then nothing: *no report for 60
  minutes* (``silence``) and *count window missing* (``count_gap``);
* ``seized`` — its observer was revoked and the phone keeps trying (``revoked_sending``; the
  caller presents the revoked token, which is what the store notes).

Pure: ``now`` in, registry rows and report bodies out (ids from a seeded generator, so the
same ``now`` and seed give the same stations and reports).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["ZONES", "SilentStations", "silent_stations"]

ZONES: tuple[tuple[str, str, str, float, float], ...] = (
    ("Asia/Kolkata", "India", "New Delhi", 28.61, 77.21),
    ("Asia/Kathmandu", "Nepal", "Kathmandu", 27.72, 85.32),
    ("Asia/Tokyo", "Japan", "Tokyo", 35.68, 139.69),
    ("Australia/Adelaide", "Australia", "Adelaide", -34.93, 138.6),
    ("Pacific/Auckland", "New Zealand", "Wellington", -41.29, 174.78),
    ("Asia/Dubai", "UAE", "Abu Dhabi", 24.45, 54.38),
    ("Europe/London", "United Kingdom", "London", 51.51, -0.13),
    ("America/Sao_Paulo", "Brazil", "Brasília", -15.79, -47.88),
    ("America/New_York", "USA", "Washington", 38.91, -77.04),
    ("America/Los_Angeles", "USA", "San Francisco", 37.77, -122.42),
)
"""Candidate time zones (with a capital-city point, never a real station's place)."""

OPENS, CLOSES = time(7, 0), time(21, 0)
"""The silent stations' hours, local."""

_STORIES = ("silent", "quiet", "seized")


@dataclass(frozen=True)
class SilentStations:
    """Registry rows, the story of each station, and the report bodies to store (by station)."""

    registry: list[dict[str, Any]]
    stories: dict[str, str]
    reports: list[dict[str, Any]]


def _daytime_zones(now: datetime) -> list[tuple[str, str, str, float, float]]:
    """Zones where it is between 11:00 and 19:00 now, nearest to 15:00 first."""

    def local_hours(zone: str) -> float:
        local = now.astimezone(ZoneInfo(zone))
        return local.hour + local.minute / 60

    found = [z for z in ZONES if 11 <= local_hours(z[0]) < 19]
    return sorted(found, key=lambda z: (abs(local_hours(z[0]) - 15), z[0]))


def silent_stations(now: datetime, *, seed: int = 2024, prefix: str = "net") -> SilentStations:
    """Up to three stations open now in other time zones, one per story (fewer if fewer
    zones are in daytime; with :data:`ZONES` there are always at least two)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    rng = random.Random(seed)
    registry: list[dict[str, Any]] = []
    stories: dict[str, str] = {}
    reports: list[dict[str, Any]] = []
    for story, (zone, country, city, lat, lon) in zip(_STORIES, _daytime_zones(now), strict=False):
        station = f"{prefix}-{story}"
        local_day = now.astimezone(ZoneInfo(zone)).date()
        registry.append(
            {
                "station": station,
                "name": f"Demo station {station} ({city}, simulated)",
                "country": country,
                "city": city,
                "region": country,
                "lat": lat,
                "lon": lon,
                "timezone": zone,
                "schedule": f"{local_day.isoformat()} {OPENS:%H:%M}-{CLOSES:%H:%M}",
            }
        )
        stories[station] = story
        if story != "quiet":
            continue
        opens = datetime.combine(local_day, OPENS, tzinfo=ZoneInfo(zone)).astimezone(UTC)

        def body(kind: str, at: datetime, **fields: Any) -> dict[str, Any]:
            return {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "station": station,  # noqa: B023 - used at once, inside this iteration
                "kind": kind,
                "observed_at": at.isoformat(),
                **fields,
            }

        reports.append(body("status", opens + timedelta(minutes=5), status="opened", queue=12))
        for hour in range(2):
            start = opens + timedelta(hours=hour)
            end = start + timedelta(hours=1)
            reports.append(
                body(
                    "count",
                    end,
                    window_start=start.isoformat(),
                    window_end=end.isoformat(),
                    entered=rng.randint(40, 90),
                )
            )
    return SilentStations(registry, stories, reports)
