"""What a voter reads from a station's public status: how old it is, and when the station opens.

The public status (:class:`pollwatch.observe.publication.PublicStationStatus`) says when its
figures were measured (``updated_at``, rounded down to 10 minutes) and as of which release
time they were computed (``as_of``). A queue measured hours ago is not the queue now, so the
guide never shows old figures as current:

* **fresh** — measured at most :data:`STALE_AFTER` before the release time: shown as
  "measured N min ago" (counted from now, so the publication delay is included);
* **stale** — older: greyed and labelled "no recent report", the figures kept for context;
* **none** — nothing reported yet.

Why an hour: observers are asked to count about every 30 minutes; an hour without a count
means the observer left, and queues change within an hour (a 200-person queue clears at a
door letting in 3 a minute).

Opening hours come from the station's schedule (:mod:`pollwatch.observe.schedule`) in its own
time zone: each voting day with its local opening and closing times, and whether the station
is open now.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pollwatch.observe.publication import PublicStationStatus
from pollwatch.observe.schedule import StationSchedule

__all__ = [
    "STALE_AFTER",
    "Freshness",
    "OpeningDay",
    "freshness",
    "longest_queues",
    "opening_days",
]

STALE_AFTER = timedelta(minutes=60)
"""A status measured longer than this before the release time is labelled "no recent report"."""


@dataclass(frozen=True)
class Freshness:
    """How current a public status is: ``state`` and the minutes since it was measured."""

    state: Literal["none", "fresh", "stale"]
    minutes_ago: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "minutes_ago": self.minutes_ago}


def freshness(updated_at: datetime | None, as_of: datetime, now: datetime) -> Freshness:
    """The state of a status measured at ``updated_at`` and published as of ``as_of``.

    >>> from datetime import UTC
    >>> t = datetime(2024, 3, 17, 12, 0, tzinfo=UTC)
    >>> freshness(t, t + timedelta(minutes=30), t + timedelta(minutes=42))
    Freshness(state='fresh', minutes_ago=42)
    >>> freshness(t, t + timedelta(minutes=70), t + timedelta(minutes=80)).state
    'stale'
    """
    if updated_at is None:
        return Freshness("none", None)
    ago = max(0, int((now - updated_at).total_seconds() // 60))
    return Freshness("stale" if as_of - updated_at > STALE_AFTER else "fresh", ago)


@dataclass(frozen=True)
class OpeningDay:
    """One voting day in the station's local time; ``now`` is open, closed, past or later."""

    day: str
    opens: str
    closes: str
    now: Literal["open", "before", "after"]

    def to_dict(self) -> dict[str, Any]:
        return {"day": self.day, "opens": self.opens, "closes": self.closes, "now": self.now}


def opening_days(schedule: StationSchedule, now: datetime) -> list[OpeningDay]:
    """The schedule's voting days, local dates and times, each placed relative to ``now``."""
    days = []
    for day, (opens, closes) in zip(schedule.days, schedule.periods(), strict=True):
        where: Literal["open", "before", "after"] = (
            "before" if now < opens else "after" if now >= closes else "open"
        )
        days.append(
            OpeningDay(day.day.isoformat(), f"{day.opens:%H:%M}", f"{day.closes:%H:%M}", where)
        )
    return days


def longest_queues(
    statuses: Iterable[PublicStationStatus], *, limit: int = 10
) -> list[PublicStationStatus]:
    """The stations with the longest current queues: fresh statuses only (a queue measured
    hours ago is not a queue now), longest first, then by station id."""
    current = [
        s
        for s in statuses
        if s.queue and s.updated_at is not None and s.as_of - s.updated_at <= STALE_AFTER
    ]
    current.sort(key=lambda s: (-(s.queue or 0), s.station))
    return current[:limit]
