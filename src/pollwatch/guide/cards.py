"""Date-aware cards of the voter guide: what a voter needs to know *now*.

The best station finders are date-aware: before the registration deadline they say
"register by …", after it "registration is closed", and on election day they put the live
status first. :func:`guide_cards` turns an election's key dates and the current time into
those cards; it is pure (no clock, no database): the caller passes ``now``.

Time zones. A deadline is announced in one zone (the authority's, e.g. ``Europe/Moscow``)
and is shown in that zone; a station opens and closes in *its* local time, and "today" is
the station's local date. So a voter in Tbilisi (UTC+4) sees election day start four hours
before a voter in Berlin, and a deadline of 23:59 Moscow time is still 23:59 Moscow time on
every page (with the zone named), never silently converted.

Cards (:data:`CARD_KINDS`), in the order they are shown:

* on a voting day (the station's local date is one of the voting dates): ``open-now`` (until
  closing), ``opens-today`` (before opening) or ``closed-today`` (after closing; with
  ``reopens`` when another voting day follows), and ``live_first`` is true — the page shows
  the live queue and ballots before anything else;
* otherwise, the registration card: ``register-by`` (with the days left; ``urgent`` in the
  last :data:`URGENT_DAYS` days) or ``registration-closed``;
* then the voting card: ``voting-days`` (every day with its hours, before the first) or
  ``voting-over`` (after the last).

A card whose date is unknown is left out: no deadline → no registration card.

>>> from datetime import UTC, datetime
>>> from zoneinfo import ZoneInfo
>>> berlin = ZoneInfo("Europe/Berlin")
>>> day = (datetime(2024, 3, 17, 8, tzinfo=berlin), datetime(2024, 3, 17, 20, tzinfo=berlin))
>>> dates = KeyDates(
...     registration_deadline=datetime(2024, 2, 12, 20, 59, tzinfo=UTC),
...     deadline_timezone="Europe/Moscow",
...     voting=(day,),
...     voting_timezone="Europe/Berlin",
... )
>>> [(c.kind, c.at) for c in guide_cards(dates, datetime(2024, 2, 1, tzinfo=UTC)).cards]
[('register-by', '2024-02-12 23:59'), ('voting-days', '2024-03-17 08:00')]
>>> result = guide_cards(dates, datetime(2024, 3, 17, 9, tzinfo=UTC))
>>> result.live_first, [(c.kind, c.at) for c in result.cards]
(True, [('open-now', '20:00')])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pollwatch.errors import InputError

__all__ = ["CARD_KINDS", "URGENT_DAYS", "Card", "GuideCards", "KeyDates", "guide_cards"]

CARD_KINDS: tuple[str, ...] = (
    "open-now",
    "opens-today",
    "closed-today",
    "register-by",
    "registration-closed",
    "voting-days",
    "voting-over",
)

URGENT_DAYS = 3
"""A registration card turns urgent this many days before the deadline."""

Period = tuple[datetime, datetime]


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"unknown time zone {name[:60]!r}", column="timezone") from None


def _aware(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError(f"{what} must be timezone-aware", column=what)
    return moment


@dataclass(frozen=True)
class KeyDates:
    """An election's (or a station's) key dates, every time timezone-aware.

    ``voting`` is each voting day's opening and closing (a station's schedule, or the
    election's default), in order; ``voting_timezone`` is whose local date "today" is.
    """

    registration_deadline: datetime | None = None
    deadline_timezone: str = "UTC"
    voting: tuple[Period, ...] = ()
    voting_timezone: str = "UTC"

    def __post_init__(self) -> None:
        _zone(self.deadline_timezone)
        _zone(self.voting_timezone)
        if self.registration_deadline is not None:
            _aware(self.registration_deadline, "registration_deadline")
        for opens, closes in self.voting:
            if _aware(opens, "voting") >= _aware(closes, "voting"):
                raise InputError("a voting day must close after it opens", column="voting")
        for (_, closes), (opens, _) in zip(self.voting, self.voting[1:], strict=False):
            if opens < closes:
                raise InputError("voting days must be in order", column="voting")


@dataclass(frozen=True)
class Card:
    """One card: its ``kind``, the local time it names (``at``) in ``zone``, and details.

    ``days_left`` (register-by: whole days until the deadline, 0 on its last day),
    ``urgent`` (register-by in the last :data:`URGENT_DAYS` days), ``days`` (voting-days:
    each day as ``YYYY-MM-DD HH:MM–HH:MM``), ``reopens`` (closed-today with another voting
    day to come: when it opens). Templates translate the kind into a sentence.
    """

    kind: str
    at: str | None = None
    zone: str | None = None
    days_left: int | None = None
    urgent: bool = False
    days: tuple[str, ...] = ()
    reopens: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "at": self.at,
            "zone": self.zone,
            "days_left": self.days_left,
            "urgent": self.urgent,
            "days": list(self.days),
            "reopens": self.reopens,
        }


@dataclass(frozen=True)
class GuideCards:
    """The cards for one moment, and whether the live status goes first (a voting day)."""

    cards: tuple[Card, ...]
    live_first: bool
    now: datetime
    dates: KeyDates = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "live_first": self.live_first,
            "cards": [c.to_dict() for c in self.cards],
        }


def _local(moment: datetime, zone: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return moment.astimezone(zone).strftime(fmt)


def _voting_day_cards(
    voting: Sequence[Period], zone: ZoneInfo, name: str, now: datetime
) -> list[Card]:
    """The card of today's voting, if the local date of ``now`` is a voting date."""
    today = now.astimezone(zone).date()
    for i, (opens, closes) in enumerate(voting):
        if opens.astimezone(zone).date() != today:
            continue
        if now < opens:
            return [Card("opens-today", _local(opens, zone, "%H:%M"), name)]
        if now < closes:
            return [Card("open-now", _local(closes, zone, "%H:%M"), name)]
        later = voting[i + 1][0] if i + 1 < len(voting) else None
        return [
            Card(
                "closed-today",
                _local(closes, zone, "%H:%M"),
                name,
                reopens=None if later is None else _local(later, zone),
            )
        ]
    return []


def _registration_card(dates: KeyDates, now: datetime) -> list[Card]:
    deadline = dates.registration_deadline
    if deadline is None:
        return []
    zone = _zone(dates.deadline_timezone)
    at = _local(deadline, zone)
    if now < deadline:
        left = (deadline - now) / timedelta(days=1)
        days_left = math.floor(left)
        return [
            Card(
                "register-by",
                at,
                dates.deadline_timezone,
                days_left=days_left,
                urgent=left < URGENT_DAYS,
            )
        ]
    return [Card("registration-closed", at, dates.deadline_timezone)]


def _voting_card(dates: KeyDates, now: datetime) -> list[Card]:
    if not dates.voting:
        return []
    zone = _zone(dates.voting_timezone)
    first, last = dates.voting[0][0], dates.voting[-1][1]
    if now < first:
        days = tuple(f"{_local(a, zone)}–{_local(b, zone, '%H:%M')}" for a, b in dates.voting)
        return [Card("voting-days", _local(first, zone), dates.voting_timezone, days=days)]
    if now >= last:
        return [Card("voting-over", _local(last, zone), dates.voting_timezone)]
    return []  # between two voting days that are not today: the registration card suffices


def guide_cards(dates: KeyDates, now: datetime) -> GuideCards:
    """The cards to show at ``now`` (timezone-aware), most pressing first."""
    _aware(now, "now")
    zone = _zone(dates.voting_timezone)
    today = _voting_day_cards(dates.voting, zone, dates.voting_timezone, now)
    if today:
        return GuideCards(tuple(today), live_first=True, now=now, dates=dates)
    cards = _registration_card(dates, now) + _voting_card(dates, now)
    return GuideCards(tuple(cards), live_first=False, now=now, dates=dates)
