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
    ("America/Los_Angeles", "United States", "Los Angeles", 34.05, -118.24),
    ("America/New_York", "United States", "Washington", 38.91, -77.04),
    ("Europe/London", "United Kingdom", "Edinburgh", 55.95, -3.19),
    ("Asia/Jerusalem", "Israel", "Haifa", 32.79, 34.99),
    ("Europe/Istanbul", "Türkiye", "Ankara", 39.93, 32.86),
    ("Asia/Dubai", "United Arab Emirates", "Abu Dhabi", 24.45, 54.38),
    ("Asia/Yerevan", "Armenia", "Gyumri", 40.79, 43.85),
    ("Asia/Almaty", "Kazakhstan", "Almaty", 43.24, 76.89),
    ("Asia/Bishkek", "Kyrgyzstan", "Osh", 40.51, 72.81),
)
"""Candidate time zones, in countries of the simulated election (so the quick count's strata,
by country, stay the ones its sample was drawn from), each with a city point (never a real
station's place)."""

OPENS, CLOSES = time(7, 0), time(22, 0)
"""The silent stations' hours, local; a station of a zone where it is early (before 11:00)
opens earlier (05:00 or 06:00), so its story has its four hours whatever the hour."""

_STORIES = ("silent", "quiet", "seized")


@dataclass(frozen=True)
class SilentStations:
    """Registry rows, the story of each station, and the report bodies to store (by station)."""

    registry: list[dict[str, Any]]
    stories: dict[str, str]
    reports: list[dict[str, Any]]


def _daytime_zones(now: datetime) -> list[tuple[str, str, str, float, float]]:
    """Zones where it is between 09:00 and 21:00 now (a story needs four open hours behind
    it and the station still open), nearest to 15:00 first. The zones' offsets are never
    more than ten hours apart around the clock, so one always is."""

    def local_hours(zone: str) -> float:
        local = now.astimezone(ZoneInfo(zone))
        return local.hour + local.minute / 60

    found = [z for z in ZONES if 9 <= local_hours(z[0]) < 21]
    return sorted(found, key=lambda z: (abs(local_hours(z[0]) - 15), z[0]))


def silent_stations(now: datetime, *, seed: int = 2024, prefix: str = "net") -> SilentStations:
    """Three stations open now in other time zones, one per story (a zone is used again when
    fewer than three are in daytime; with :data:`ZONES` one always is)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    rng = random.Random(seed)
    registry: list[dict[str, Any]] = []
    stories: dict[str, str] = {}
    reports: list[dict[str, Any]] = []
    zones = _daytime_zones(now)
    if not zones:  # pragma: no cover - ZONES spans the day (tested every half hour)
        raise ValueError("no zone of ZONES is in daytime now")
    for i, story in enumerate(_STORIES):
        zone, country, city, lat, lon = zones[i % len(zones)]
        station = f"{prefix}-{story}"
        local_now = now.astimezone(ZoneInfo(zone))
        local_day = local_now.date()
        opening = time(min(OPENS.hour, local_now.hour - 4))
        registry.append(
            {
                "station": station,
                "name": f"Demo station {station} ({city}, simulated)",
                "country": country,
                "city": city,
                "lat": lat,
                "lon": lon,
                "registered": 1500,
                "ballots_received": 1700,
                "timezone": zone,
                "schedule": f"{local_day.isoformat()} {opening:%H:%M}-{CLOSES:%H:%M}",
            }
        )
        stories[station] = story
        if story != "quiet":
            continue
        opens = datetime.combine(local_day, opening, tzinfo=ZoneInfo(zone)).astimezone(UTC)

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
