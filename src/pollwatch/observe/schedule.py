"""When a polling station is open: an IANA time zone and opening hours per voting day.

Door counts are extrapolated over the hours a station was open, so those hours must come
from what the station was supposed to do — never from when observers happened to count (an
observer who counted 08–14 and sent no "closed" report would otherwise make the morning the
whole day). A station's schedule is imported with the registry (``pollwatch stations
import``, columns ``timezone`` and ``schedule``)::

    timezone = Europe/Berlin
    schedule = 2024-03-15 08:00-20:00; 2024-03-16 08:00-20:00; 2024-03-17 08:00-20:00

One ``DATE HH:MM-HH:MM`` per voting day (multi-day voting is several days), separated by
``;``, in the station's local time. The legacy free-text ``hours`` column is used where it
parses (``08:00-20:00``, ``8-20``, ``08.00–20.00``) together with the election's voting
days. When neither is there, the election's default schedule applies and the schedule says
``assumed``: estimates built on it are labelled so.

The time zone is the imported one, or looked up offline from the station's coordinates
(:func:`timezone_from_coordinates`, the ``timezonefinder`` package's polygons, no network).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pollwatch.errors import InputError

__all__ = [
    "SCHEDULE_LIMIT",
    "StationSchedule",
    "VotingDay",
    "check_timezone",
    "open_hours_at",
    "parse_legacy_hours",
    "parse_schedule",
    "resolve_schedule",
    "timezone_from_coordinates",
    "timezones_from_coordinates",
]

SCHEDULE_LIMIT = 31
"""Most voting days in one schedule: a month covers every early-voting period we know of,
and a bound keeps a hostile registry row from building an unbounded list."""

_DAY = re.compile(
    r"\s*(\d{4}-\d{2}-\d{2})\s+(\d{1,2})[:.](\d{2})\s*[-–—]\s*(\d{1,2})[:.](\d{2})\s*"
)
_HOURS = re.compile(r"\s*(\d{1,2})(?:[:.](\d{2}))?\s*[-–—]\s*(\d{1,2})(?:[:.](\d{2}))?\s*")


@dataclass(frozen=True)
class VotingDay:
    """One voting day: local date, opening and closing time (closing after opening)."""

    day: date
    opens: time
    closes: time


def check_timezone(name: str) -> str:
    """``name`` if it is an IANA time zone known here, else InputError naming ``timezone``."""
    _zone(name)
    return name


def _zone(name: str) -> ZoneInfo:
    if len(name) > 64 or "\x00" in name:
        raise InputError("a time zone name is at most 64 characters", column="timezone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"unknown time zone {name[:60]!r}; use an IANA name such as 'Europe/Berlin'",
            column="timezone",
        ) from None


@dataclass(frozen=True)
class StationSchedule:
    """A station's voting days in its time zone.

    ``source`` is ``"schedule"`` (imported), ``"hours"`` (the legacy column parsed) or
    ``"election default"``; ``assumed`` is true for the last, and estimates say so.
    """

    timezone: str
    days: tuple[VotingDay, ...]
    source: str = "schedule"
    assumed: bool = False

    def __post_init__(self) -> None:
        _zone(self.timezone)
        if not self.days:
            raise InputError("a schedule needs at least one voting day", column="schedule")
        if len(self.days) > SCHEDULE_LIMIT:
            raise InputError(
                f"a schedule has at most {SCHEDULE_LIMIT} voting days", column="schedule"
            )
        for a, b in zip(self.days, self.days[1:], strict=False):
            if b.day <= a.day:
                raise InputError("voting days must be in order, each once", column="schedule")

    def periods(self) -> tuple[tuple[datetime, datetime], ...]:
        """Each day's opening and closing as timezone-aware datetimes."""
        zone = _zone(self.timezone)
        return tuple(
            (
                datetime.combine(d.day, d.opens, tzinfo=zone),
                datetime.combine(d.day, d.closes, tzinfo=zone),
            )
            for d in self.days
        )

    @property
    def hours(self) -> float:
        """Total open hours over all voting days."""
        return sum((b - a).total_seconds() for a, b in self.periods()) / 3600.0

    def open_hours_at(self, moment: datetime) -> float:
        """Open hours elapsed at ``moment`` since the first opening (closed time skipped).

        Every station's day maps onto this one axis, so a day curve of a multi-day election
        is one curve over its open hours.
        """
        return open_hours_at(self.periods(), moment)

    def text(self) -> str:
        """The schedule in the import format."""
        return "; ".join(f"{d.day.isoformat()} {d.opens:%H:%M}-{d.closes:%H:%M}" for d in self.days)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "timezone": self.timezone,
            "schedule": self.text(),
            "source": self.source,
            "assumed": self.assumed,
        }


def open_hours_at(periods: Sequence[tuple[datetime, datetime]], moment: datetime) -> float:
    """Open hours elapsed at ``moment`` since the first of ``periods`` opened."""
    if moment.tzinfo is None:
        raise InputError("times must be timezone-aware", column="windows")
    elapsed = 0.0
    for a, b in periods:
        if moment <= a:
            break
        elapsed += (min(moment, b) - a).total_seconds() / 3600.0
        if moment <= b:
            break
    return elapsed


def _time(hour: str, minute: str | None, what: str) -> time:
    h, m = int(hour), int(minute or 0)
    if h == 24 and m == 0:
        return time(23, 59, 59)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise InputError(f"{what}: {hour}:{minute or '00'} is not a time of day", column="schedule")
    return time(h, m)


def _day(d: date, opens: time, closes: time) -> VotingDay:
    if closes <= opens:
        raise InputError(
            f"on {d.isoformat()} the station closes ({closes:%H:%M}) before it opens "
            f"({opens:%H:%M})",
            column="schedule",
        )
    return VotingDay(d, opens, closes)


def parse_schedule(
    text: str, timezone: str, *, source: str = "schedule", assumed: bool = False
) -> StationSchedule:
    """Parse ``DATE HH:MM-HH:MM; DATE HH:MM-HH:MM`` in the time zone ``timezone``.

    >>> parse_schedule("2024-03-15 08:00-20:00; 2024-03-16 8:00-20:00", "Europe/Berlin").hours
    24.0
    """
    if len(text) > 40 * SCHEDULE_LIMIT:
        raise InputError("the schedule is too long", column="schedule")
    days = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        match = _DAY.fullmatch(part)
        if match is None:
            raise InputError(
                f"cannot read {part[:40]!r} as a voting day; write e.g. '2024-03-17 08:00-20:00'",
                column="schedule",
            )
        try:
            d = date.fromisoformat(match[1])
        except ValueError:
            raise InputError(f"{match[1]!r} is not a date", column="schedule") from None
        days.append(
            _day(d, _time(match[2], match[3], match[1]), _time(match[4], match[5], match[1]))
        )
    return StationSchedule(timezone, tuple(days), source, assumed)


def parse_legacy_hours(
    text: str | None, dates: Sequence[date], timezone: str
) -> StationSchedule | None:
    """The free-text ``hours`` column (``08:00-20:00``, ``8-20``) on every voting date.

    None when it does not parse (free text such as "usual hours"): the caller falls back
    to the election's default schedule.

    >>> parse_legacy_hours("8-20", [date(2024, 3, 17)], "UTC").text()
    '2024-03-17 08:00-20:00'
    """
    if not text or not dates:
        return None
    match = _HOURS.fullmatch(text)
    if match is None:
        return None
    try:
        opens = _time(match[1], match[2], "hours")
        closes = _time(match[3], match[4], "hours")
        return StationSchedule(
            timezone, tuple(_day(d, opens, closes) for d in dates), source="hours"
        )
    except InputError:
        return None


def resolve_schedule(
    *,
    timezone: str | None,
    schedule: str | None,
    hours: str | None,
    default: StationSchedule | None,
    counted_on: Sequence[datetime] = (),
) -> StationSchedule | None:
    """A station's schedule by the stated order of fallbacks.

    1. its own ``schedule`` in its ``timezone``;
    2. its legacy ``hours`` text where it parses, on the default schedule's voting days (or,
       without one, on the local dates observers counted on: the day, never the hours);
    3. the election's ``default`` schedule, flagged ``assumed``;
    4. None: the caller says there is no schedule.
    """
    if schedule and timezone:
        return parse_schedule(schedule, timezone)
    zone = timezone or (default.timezone if default is not None else None)
    if hours and zone:
        if default is not None:
            dates = [d.day for d in default.days]
        else:
            dates = sorted({moment.astimezone(_zone(zone)).date() for moment in counted_on})
        legacy = parse_legacy_hours(hours, dates[:SCHEDULE_LIMIT], zone)
        if legacy is not None:
            return legacy
    if default is not None:
        return StationSchedule(default.timezone, default.days, "election default", True)
    return None


def timezones_from_coordinates(
    points: Sequence[tuple[float | None, float | None]],
) -> list[str | None]:
    """The IANA time zone at each ``(lat, lon)``, offline; None without coordinates or at sea.

    One finder is opened for the whole list and closed after it (its polygon files are
    memory-mapped; nothing is kept open between imports).

    >>> timezones_from_coordinates([(44.787, 20.457), (None, 1.0)])
    ['Europe/Belgrade', None]
    """
    valid = [
        lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180
        for lat, lon in points
    ]
    if not any(valid):
        return [None] * len(points)
    from timezonefinder import TimezoneFinder  # its polygons take a moment to open

    with TimezoneFinder() as finder:
        found = [
            finder.timezone_at(lat=float(lat), lng=float(lon)) if ok else None  # type: ignore[arg-type]
            for (lat, lon), ok in zip(points, valid, strict=True)
        ]
    return [None if name is None else str(name) for name in found]


def timezone_from_coordinates(lat: float | None, lon: float | None) -> str | None:
    """The IANA time zone at a point (:func:`timezones_from_coordinates` of one point)."""
    return timezones_from_coordinates([(lat, lon)])[0]
