"""Silence alerts, coverage per station and hour, and the hours a door count had to fill in.

Plain data in (:class:`StationWatch` per observed station, :class:`RevokedSender` per revoked
observer whose phone still tries to send, the time ``now``), typed :class:`Alert` objects
out; no clock, no database. Every time is timezone-aware; each station's schedule
(:mod:`pollwatch.observe.schedule`) says when it is open, in its own time zone, so a station
in Delhi (+05:30) and one in New York raise the same alert at their own local times, and
a voting day on which the clocks change (DST) is as long as it really is.

The rules and thresholds
------------------------
``no_opening`` — *should have opened, no status yet*: the station's voting day began at least
:data:`OPENING_GRACE` (15 min) ago, it has not closed, and no status report was observed
since :data:`DAY_LEAD` (2 h) before that day's opening. Severity ``high``.

``silence`` — *no report for 60 minutes during opening hours*: the station is open now, it
reported earlier in this voting day (from :data:`DAY_LEAD` before opening), and nothing
was received from it for :data:`SILENCE` (60 min). A station that never reported that day
raises ``no_opening`` instead, so one silent station is one alert. Severity ``medium``.

``count_gap`` — *count window missing*: at a station whose observers count the door (at
least one count window that voting day), a stretch of opening hours of at least
:data:`MIN_GAP` (30 min) that no count window covers, considered only up to
:data:`COUNT_GRACE` (90 min) before now (a window of up to an hour is sent when it ends,
plus half an hour for a phone out of signal). Severity ``medium``.

``revoked_sending`` — *observer revoked still sending*: a revoked observer's token was
presented again after the revocation (the phone, or whoever holds it now, still tries to
send), the last attempt at most :data:`REVOKED_RECENT` (24 h) ago. Severity ``high``: a
seized phone is what revocation is for.

Stable ids
----------
Each alert's :attr:`Alert.id` names its kind, election, station and the instant the
situation began (the voting day's opening; the last report before the silence; the start of
the uncovered stretch; the first refused attempt), so the same situation keeps the same id
on every evaluation and a bot can post each alert to the coordinators' chat once. A new
situation (the station reported, then fell silent again) gets a new id.

Coverage and filled-in hours
----------------------------
:func:`station_coverage` cuts a station's opening hours into local clock hours (a slot ends
at the next local full hour, so +05:30 slots are ``08:00–09:00`` local, ``02:30–03:30``
UTC) and says for each how many reports arrived and what share count windows cover.
:func:`filled_spans` lists the opening hours (up to now) that no count window covers: the
hours a door-count estimate extrapolated (:mod:`pollwatch.observe.estimates`).

>>> from datetime import UTC, datetime
>>> from pollwatch.observe.schedule import parse_schedule
>>> berlin = parse_schedule("2024-03-17 08:00-20:00", "Europe/Berlin")
>>> watch = StationWatch("8001", berlin)
>>> [a.kind for a in station_alerts("e", watch, now=datetime(2024, 3, 17, 7, 20, tzinfo=UTC))]
['no_opening']
>>> station_alerts("e", watch, now=datetime(2024, 3, 17, 7, 10, tzinfo=UTC))
()
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pollwatch.errors import InputError
from pollwatch.observe.reports import format_timestamp
from pollwatch.observe.schedule import StationSchedule

__all__ = [
    "ALERT_KINDS",
    "COUNT_GRACE",
    "DAY_LEAD",
    "MIN_GAP",
    "OPENING_GRACE",
    "REVOKED_RECENT",
    "SEVERITIES",
    "SILENCE",
    "Alert",
    "HourCoverage",
    "RevokedSender",
    "StationWatch",
    "alerts_to_send",
    "compute_alerts",
    "filled_spans",
    "local_text",
    "revoked_alerts",
    "station_alerts",
    "station_coverage",
]

OPENING_GRACE = timedelta(minutes=15)
"""How late after opening a station may send its first status before ``no_opening``."""

SILENCE = timedelta(minutes=60)
"""No report for this long during opening hours is ``silence``."""

DAY_LEAD = timedelta(hours=2)
"""Reports from this long before a voting day's opening belong to that day (setting up)."""

MIN_GAP = timedelta(minutes=30)
"""Shortest stretch of opening hours without a count window that is ``count_gap``."""

COUNT_GRACE = timedelta(minutes=90)
"""Opening hours this close to now are not judged for count windows yet."""

REVOKED_RECENT = timedelta(hours=24)
"""A revoked observer's last attempt older than this raises no alert any more."""

ALERT_KINDS: tuple[str, ...] = ("no_opening", "silence", "count_gap", "revoked_sending")
"""Every alert kind, in the order the dashboard lists kinds of equal severity."""

SEVERITIES: tuple[str, ...] = ("high", "medium", "low")
"""Alert and incident severities, most urgent first."""

Kind = Literal["no_opening", "silence", "count_gap", "revoked_sending"]
Span = tuple[datetime, datetime]


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError(f"'{name}' must be timezone-aware", column=name)
    return moment


def local_text(moment: datetime, timezone: str) -> str:
    """``moment`` as local ``YYYY-MM-DD HH:MM`` with the UTC offset, in ``timezone``.

    >>> from datetime import UTC, datetime
    >>> local_text(datetime(2024, 3, 17, 2, 30, tzinfo=UTC), "Asia/Kolkata")
    '2024-03-17 08:00 +05:30'
    """
    local = _aware(moment, "moment").astimezone(ZoneInfo(timezone))
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"


@dataclass(frozen=True)
class StationWatch:
    """What the alerts read of one observed station.

    Attributes
    ----------
    station:
        The station id.
    schedule:
        Its opening hours in its time zone; None when neither the station nor the election
        has one (then no time-based alert can be judged, and none is raised).
    statuses:
        When each status report was observed (the observers' clocks).
    received:
        When each report of any kind was received (the service's clock).
    windows:
        The count windows (start, end) of its reports.
    """

    station: str
    schedule: StationSchedule | None
    statuses: tuple[datetime, ...] = ()
    received: tuple[datetime, ...] = ()
    windows: tuple[Span, ...] = ()


@dataclass(frozen=True)
class RevokedSender:
    """A revoked observer whose token was presented again (the store counts the attempts),
    with the station they were at and its time zone when known."""

    code_name: str
    first_at: datetime
    last_at: datetime
    attempts: int
    station: str | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class Alert:
    """One alert: a stable id (sent once to a chat), what, where, since when, how urgent.

    ``since`` is when the situation began; ``local_since`` the same in the station's time
    zone (``None`` without one); ``details`` the figures behind it (JSON-ready).
    """

    id: str
    kind: Kind
    election: str
    station: str | None
    since: datetime
    severity: str
    timezone: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def local_since(self) -> str | None:
        """``since`` in the station's local time (with its offset)."""
        return None if self.timezone is None else local_text(self.since, self.timezone)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (the dashboard's and, later, the bot's)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "election": self.election,
            "station": self.station,
            "since": format_timestamp(self.since),
            "local_since": self.local_since,
            "timezone": self.timezone,
            "severity": self.severity,
            "details": self.details,
        }


def _alert_id(kind: str, election: str, station: str, since: datetime) -> str:
    return f"{kind}:{election}:{station}:{format_timestamp(since)}"


def _periods(schedule: StationSchedule) -> list[Span]:
    """The schedule's voting days in UTC: arithmetic on datetimes that share a ZoneInfo is
    wall-clock arithmetic in Python, wrong by an hour across a clock change."""
    return [(a.astimezone(UTC), b.astimezone(UTC)) for a, b in schedule.periods()]


def _current_day(periods: Sequence[Span], now: datetime) -> Span | None:
    """The voting day whose opening (less the lead) has passed and that has not closed."""
    for opens, closes in periods:
        if opens - DAY_LEAD <= now < closes:
            return opens, closes
    return None


def _uncovered(span: Span, windows: Iterable[Span]) -> list[Span]:
    """The parts of ``span`` no window covers, in order."""
    start, end = span
    gaps: list[Span] = []
    cursor = start
    for w_start, w_end in sorted(windows):
        if w_end <= cursor or w_start >= end:
            continue
        if w_start > cursor:
            gaps.append((cursor, min(w_start, end)))
        cursor = max(cursor, w_end)
        if cursor >= end:
            break
    if cursor < end:
        gaps.append((cursor, end))
    return gaps


def filled_spans(
    schedule: StationSchedule, windows: Sequence[Span], *, until: datetime | None = None
) -> tuple[Span, ...]:
    """Opening hours (up to ``until``, default all) that no count window covers.

    These are the hours a door-count estimate extrapolated over. Windows are clipped to
    the opening hours; overlapping windows count once.

    >>> from datetime import UTC, datetime
    >>> from pollwatch.observe.schedule import parse_schedule
    >>> day = parse_schedule("2024-03-17 08:00-12:00", "UTC")
    >>> gaps = filled_spans(day, [(datetime(2024, 3, 17, 9, tzinfo=UTC),
    ...                            datetime(2024, 3, 17, 11, tzinfo=UTC))])
    >>> [(a.hour, b.hour) for a, b in gaps]
    [(8, 9), (11, 12)]
    """
    if until is not None:
        _aware(until, "until")
    for start, end in windows:
        _aware(start, "windows")
        _aware(end, "windows")
    out: list[Span] = []
    for opens, closes in _periods(schedule):
        end = closes if until is None else min(closes, until)
        if end <= opens:
            continue
        out.extend(_uncovered((opens, end), windows))
    return tuple(out)


def station_alerts(election: str, watch: StationWatch, *, now: datetime) -> tuple[Alert, ...]:
    """The ``no_opening``, ``silence`` and ``count_gap`` alerts of one station at ``now``."""
    now = _aware(now, "now").astimezone(UTC)
    if watch.schedule is None:
        return ()
    zone = watch.schedule.timezone
    day = _current_day(_periods(watch.schedule), now)
    if day is None:
        return ()
    opens, closes = day
    station = watch.station
    alerts: list[Alert] = []
    began = opens - DAY_LEAD
    today_status = [t for t in watch.statuses if began <= t <= now + DAY_LEAD]
    today_received = [t for t in watch.received if began <= t <= now]
    if now >= opens + OPENING_GRACE and not today_status:
        alerts.append(
            Alert(
                _alert_id("no_opening", election, station, opens),
                "no_opening",
                election,
                station,
                opens,
                "high",
                zone,
                {
                    "opens": format_timestamp(opens),
                    "local_opens": local_text(opens, zone),
                    "reports_today": len(today_received),
                },
            )
        )
    if today_received and now >= opens:
        last = max(today_received)
        if now - last >= SILENCE:
            minutes = int((now - last).total_seconds() // 60)
            alerts.append(
                Alert(
                    _alert_id("silence", election, station, last),
                    "silence",
                    election,
                    station,
                    last,
                    "medium",
                    zone,
                    {"minutes": minutes, "last_report": format_timestamp(last)},
                )
            )
    today_windows = [w for w in watch.windows if w[1] > began and w[0] < closes]
    judged_until = min(closes, now - COUNT_GRACE)
    if today_windows and judged_until > opens:
        for start, end in _uncovered((opens, judged_until), today_windows):
            if end - start >= MIN_GAP:
                alerts.append(
                    Alert(
                        _alert_id("count_gap", election, station, start),
                        "count_gap",
                        election,
                        station,
                        start,
                        "medium",
                        zone,
                        {
                            "start": format_timestamp(start),
                            "end": format_timestamp(end),
                            "local": f"{local_text(start, zone)} – {local_text(end, zone)[11:]}",
                            "minutes": int((end - start).total_seconds() // 60),
                        },
                    )
                )
    return tuple(alerts)


def revoked_alerts(
    election: str, senders: Iterable[RevokedSender], *, now: datetime
) -> tuple[Alert, ...]:
    """A ``revoked_sending`` alert per revoked observer who tried to send lately."""
    _aware(now, "now")
    out = []
    for sender in senders:
        if now - _aware(sender.last_at, "last_at") > REVOKED_RECENT:
            continue
        out.append(
            Alert(
                f"revoked_sending:{election}:{sender.code_name}:{format_timestamp(sender.first_at)}",
                "revoked_sending",
                election,
                sender.station,
                sender.first_at,
                "high",
                sender.timezone,
                {
                    "code_name": sender.code_name,
                    "attempts": sender.attempts,
                    "last_attempt": format_timestamp(sender.last_at),
                },
            )
        )
    return tuple(out)


def alerts_to_send(alerts: Iterable[Alert], sent: Collection[str]) -> tuple[Alert, ...]:
    """The alerts whose id is not in ``sent``: what a chat bot posts on this round.

    The caller keeps the ids it posted (they are stable, so a situation that lasts is
    posted once, and a new one gets a new id).

    >>> from datetime import UTC, datetime
    >>> a = Alert("silence:e:1:2024-03-17T09:00:00Z", "silence", "e", "1",
    ...           datetime(2024, 3, 17, 9, tzinfo=UTC), "medium")
    >>> [x.id for x in alerts_to_send([a], sent=set())], alerts_to_send([a], sent={a.id})
    (['silence:e:1:2024-03-17T09:00:00Z'], ())
    """
    return tuple(alert for alert in alerts if alert.id not in sent)


def _order(alert: Alert) -> tuple[int, int, datetime, str]:
    return (
        SEVERITIES.index(alert.severity),
        ALERT_KINDS.index(alert.kind),
        alert.since,
        alert.id,
    )


def compute_alerts(
    election: str,
    watches: Iterable[StationWatch],
    revoked: Iterable[RevokedSender] = (),
    *,
    now: datetime,
) -> tuple[Alert, ...]:
    """Every alert of an election at ``now``: most severe first, then by kind and age."""
    found: list[Alert] = []
    for watch in watches:
        found.extend(station_alerts(election, watch, now=now))
    found.extend(revoked_alerts(election, revoked, now=now))
    return tuple(sorted(found, key=_order))


@dataclass(frozen=True)
class HourCoverage:
    """One local clock hour (or part of one) of a station's opening hours.

    ``state``: ``"future"`` (not begun), ``"counted"`` (windows cover it all), ``"partial"``,
    ``"missing"`` (none) — the last three for hours begun, judged up to ``now``.
    """

    start: datetime
    end: datetime
    local: str
    reports: int
    counted_share: float
    state: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "start": format_timestamp(self.start),
            "end": format_timestamp(self.end),
            "local": self.local,
            "reports": self.reports,
            "counted_share": round(self.counted_share, 3),
            "state": self.state,
        }


def _slots(opens: datetime, closes: datetime, zone: ZoneInfo) -> list[Span]:
    """Opening hours cut at each local full hour (exact across DST: steps in UTC)."""
    out: list[Span] = []
    cursor = opens
    while cursor < closes:
        local = cursor.astimezone(zone)
        # the next local full hour, found as an offset in real time (clock changes safe)
        to_next = timedelta(minutes=60 - local.minute, seconds=-local.second)
        nxt = min(closes, cursor + to_next)
        out.append((cursor, nxt))
        cursor = nxt
    return out


def station_coverage(
    schedule: StationSchedule,
    windows: Sequence[Span],
    received: Sequence[datetime],
    *,
    now: datetime,
) -> tuple[HourCoverage, ...]:
    """Per local hour of every voting day: reports received and the share counted.

    >>> from datetime import UTC, datetime
    >>> from pollwatch.observe.schedule import parse_schedule
    >>> delhi = parse_schedule("2024-03-17 08:00-10:00", "Asia/Kolkata")
    >>> window = (datetime(2024, 3, 17, 2, 30, tzinfo=UTC),
    ...           datetime(2024, 3, 17, 3, 30, tzinfo=UTC))
    >>> [(h.local, h.state) for h in station_coverage(delhi, [window], [],
    ...                                   now=datetime(2024, 3, 17, 6, tzinfo=UTC))]
    [('08:00', 'counted'), ('09:00', 'missing')]
    """
    _aware(now, "now")
    zone = ZoneInfo(schedule.timezone)
    out: list[HourCoverage] = []
    for opens, closes in _periods(schedule):
        for start, end in _slots(opens, closes, zone):
            if start >= now:
                state, share = "future", 0.0
            else:
                judged = min(end, now)
                gaps = _uncovered((start, judged), windows)
                missing = sum((b - a).total_seconds() for a, b in gaps)
                share = max(0.0, 1.0 - missing / (judged - start).total_seconds())
                state = "counted" if share >= 0.999 else "partial" if share > 0 else "missing"
            n = sum(1 for t in received if start <= t < end)
            out.append(HourCoverage(start, end, f"{start.astimezone(zone):%H:%M}", n, share, state))
    return tuple(out)
