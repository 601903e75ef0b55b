"""What the service publishes, to whom and when: the one publication policy.

Observers may stand at the consulates of a hostile state, and whatever is public live tells
a watcher where observers stand right now. So every public face of the service (the press
page and its JSON twin, the public station status, the ledger and exports; the voter guide,
its feeds and the bot later) reads what it may show from this module and nowhere else:

=============================  ==============================  ==============================
What                           During voting (before the       After the embargo
                               election's ``embargo_until``)
=============================  ==============================  ==============================
Ledger head hash               public, as of the release time  public, live
                               (:func:`release_cutoff`)
Press page aggregates          public, as of the release       public, live, with the turnout
                               time: stations, reports and     comparison and the quick count
                               incidents by category
Public station status          public, as of the release       the same
                               time, coarsened: queue, wait
                               and its interval, ballots
                               issued (to 10) against
                               received, ballots warning,
                               when updated
Incidents (category, text,     only those a coordinator        the same
coarse time, station)          marked public
Full ledger (JSON lines),      coordinators only (401)         public, texts of incidents not
reports export (CSV, Parquet)                                  marked public withheld (the
                                                               ledger keeps their commitments)
Observer code names, tokens,   never                           never
observer counts, photos
=============================  ==============================  ==============================

The *release time* is the current time minus ``POLLWATCH_PUBLIC_DELAY_MINUTES`` (default
10), rounded down to :data:`TIME_BUCKET`: public figures are computed from the reports the
service received up to then, so a watcher who polls every second learns about a report no
earlier than the delay after it arrived, and nothing at all between two bucket boundaries
(every answer in between is the same). The public station status shows derived figures only,
rounded (:func:`coarse_queue`, :func:`coarse_wait`, times to the bucket) — never which
reports, how many observers or what kinds of report produced them, never a report id.
The embargo end is set by the coordinators per election ("when polls close everywhere");
until one is set the full ledger stays closed.

Why these rules: a live feed of report times per station is a live map of where observers
stand; a delay longer than a typical report interval, with coarse times, breaks the link
between one observer's action and a visible change. The head hash is the exception that
stays (nearly) live because it is what makes the ledger tamper-evident: outsiders archive it
during the day and later check the published ledger against it; it reveals how many reports
the whole election has, not where they came from.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pollwatch.observe.master import merge_station_reports
from pollwatch.observe.queues import SHAPE_CONCENTRATION, ballot_outlook, estimate_wait
from pollwatch.observe.reports import CountReport, IncidentReport, Report, format_timestamp

__all__ = [
    "DEFAULT_DELAY_MINUTES",
    "PRESS_FIELDS_DURING_VOTING",
    "TIME_BUCKET",
    "WITHHELD_FIELDS",
    "Access",
    "PublicIncident",
    "PublicStationStatus",
    "coarse_count",
    "coarse_queue",
    "coarse_time",
    "coarse_wait",
    "derive_station_status",
    "embargo_over",
    "export_access",
    "next_release",
    "press_view",
    "release_cutoff",
    "withheld_fields",
]

DEFAULT_DELAY_MINUTES = 10
"""Default of ``POLLWATCH_PUBLIC_DELAY_MINUTES``: longer than the usual interval between an
observer's reports, so a change on a public page does not point at one report."""

TIME_BUCKET = timedelta(minutes=10)
"""Public times are rounded down to this; public figures change at most once per bucket."""

WITHHELD_FIELDS: Mapping[str, tuple[str, ...]] = {"incident": ("text",), "checklist": ("answers",)}
"""Report fields withheld from public exports unless a coordinator marked the report public:
an incident's free text may name people or describe where an observer stands; so may a
checklist's text answers ("if no, why"), which travel with its other answers."""

PRESS_FIELDS_DURING_VOTING: tuple[str, ...] = (
    "election",
    "name",
    "generated_at",
    "stations",
    "reports",
    "incidents_by_category",
    "ledger",
)
"""The press page's fields before the embargo; the turnout comparison and the quick count
wait until polls have closed everywhere."""

Access = Literal["full", "redacted", "closed"]
"""Who gets what of the full ledger and the exports (:func:`export_access`)."""

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def coarse_time(moment: datetime) -> datetime:
    """``moment`` rounded down to :data:`TIME_BUCKET` (in UTC).

    Examples
    --------
    >>> coarse_time(datetime(2024, 3, 17, 9, 47, 12, tzinfo=UTC)).isoformat()
    '2024-03-17T09:40:00+00:00'
    """
    moment = moment.astimezone(UTC)
    return moment - ((moment - _EPOCH) % TIME_BUCKET)


def release_cutoff(now: datetime, delay_minutes: int) -> datetime:
    """The release time: reports received up to it may be reflected in public figures.

    ``now - delay`` rounded down to :data:`TIME_BUCKET`, so it is at least ``delay`` old and
    stands still for a whole bucket.

    Examples
    --------
    >>> now = datetime(2024, 3, 17, 9, 47, tzinfo=UTC)
    >>> release_cutoff(now, 10).isoformat()
    '2024-03-17T09:30:00+00:00'
    """
    return coarse_time(now - timedelta(minutes=delay_minutes))


def next_release(now: datetime, delay_minutes: int) -> datetime:
    """When the release time moves next (how long a public answer may be cached)."""
    return release_cutoff(now, delay_minutes) + TIME_BUCKET + timedelta(minutes=delay_minutes)


def _nearest(value: float, step: int) -> int:
    return int((value + step / 2) // step * step)


def coarse_queue(people: int) -> int:
    """A queue length rounded to the nearest 5 up to 50 people, to the nearest 10 above.

    Examples
    --------
    >>> [coarse_queue(n) for n in (0, 2, 3, 48, 53, 57, 212)]
    [0, 0, 5, 50, 50, 60, 210]
    """
    return _nearest(people, 5) if people < 53 else _nearest(people, 10)


def coarse_count(people: int) -> int:
    """A running count (ballots issued so far) rounded to the nearest 10, so that the public
    figure does not move with each observer's report.

    Examples
    --------
    >>> [coarse_count(n) for n in (0, 4, 5, 123)]
    [0, 0, 10, 120]
    """
    return _nearest(people, 10)


def coarse_wait(minutes: float) -> int:
    """A wait rounded to the nearest 5 minutes up to an hour, to the nearest 15 above."""
    return _nearest(minutes, 5) if minutes < 62.5 else _nearest(minutes, 15)


def embargo_over(embargo_until: datetime | None, now: datetime) -> bool:
    """Whether the election's embargo has ended (never, while none is set)."""
    return embargo_until is not None and now >= embargo_until


def export_access(embargo_until: datetime | None, now: datetime, *, coordinator: bool) -> Access:
    """What the full ledger and the exports give: a coordinator everything; anyone else
    nothing before the embargo ends and, after it, the reports with :data:`WITHHELD_FIELDS`
    withheld unless marked public."""
    if coordinator:
        return "full"
    return "redacted" if embargo_over(embargo_until, now) else "closed"


def withheld_fields(kind: str, public: bool) -> tuple[str, ...]:
    """The fields of a report of this kind that a public export withholds."""
    return () if public else WITHHELD_FIELDS.get(kind, ())


def press_view(summary: Mapping[str, Any], *, after_embargo: bool) -> dict[str, Any]:
    """The press page's figures: all of ``summary`` after the embargo, else only
    :data:`PRESS_FIELDS_DURING_VOTING` (so a field added to the summary later stays private
    during voting until it is added here)."""
    if after_embargo:
        return dict(summary)
    return {k: summary[k] for k in PRESS_FIELDS_DURING_VOTING if k in summary}


@dataclass(frozen=True)
class PublicIncident:
    """An incident a coordinator marked public: category, text, time to the bucket."""

    category: str
    text: str
    observed_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "category": self.category,
            "text": self.text,
            "observed_at": format_timestamp(self.observed_at),
        }


@dataclass(frozen=True)
class PublicStationStatus:
    """What anyone may know about a station: derived, coarsened figures as of ``as_of``.

    Attributes
    ----------
    election, station:
        Which station (the registry is public).
    as_of:
        The release time the figures are computed at (:func:`release_cutoff`).
    updated_at:
        Bucket of the newest observation behind the figures, or None when there is none.
    queue:
        People waiting (:func:`coarse_queue`), or None.
    wait_minutes:
        Estimated wait (:func:`coarse_wait`): Little's law over the latest count window
        (:func:`pollwatch.observe.queues.estimate_wait`), else the observers' own estimate;
        or None.
    ballots_warning:
        True when ballots may run out (:func:`pollwatch.observe.queues.ballot_outlook` on
        the door counts) or a coordinator published a ballot-shortage incident.
    incidents:
        Incidents a coordinator marked public, oldest first.
    wait_low, wait_high:
        The wait's interval (Little's law with the Garwood interval of the door's rate,
        80 %), rounded like the wait; None when unknown (``wait_high`` also when nobody
        entered in the window: no upper bound) or when the wait is the observers' own guess.
    ballots_received, ballots_issued:
        Ballots the station received (registry) and issued so far (:func:`coarse_count` of
        the door counts' sum); None when unknown.
    """

    election: str
    station: str
    as_of: datetime
    updated_at: datetime | None
    queue: int | None
    wait_minutes: int | None
    ballots_warning: bool
    incidents: tuple[PublicIncident, ...] = ()
    wait_low: int | None = None
    wait_high: int | None = None
    ballots_received: int | None = None
    ballots_issued: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data (the public status route's body)."""
        return {
            "election": self.election,
            "station": self.station,
            "as_of": format_timestamp(self.as_of),
            "updated_at": None if self.updated_at is None else format_timestamp(self.updated_at),
            "queue": self.queue,
            "wait_minutes": self.wait_minutes,
            "ballots_warning": self.ballots_warning,
            "incidents": [i.to_dict() for i in self.incidents],
            "wait_low": self.wait_low,
            "wait_high": self.wait_high,
            "ballots_received": self.ballots_received,
            "ballots_issued": self.ballots_issued,
        }


def _wait(
    reports: Sequence[Report], queue: int | None
) -> tuple[float | None, float | None, float | None]:
    """The queue's wait and its interval by Little's law over the latest count window with
    people let in (:func:`pollwatch.observe.queues.estimate_wait`), else the observers' own
    estimate (no interval)."""
    counts = sorted((r for r in reports if isinstance(r, CountReport)), key=lambda r: r.observed_at)
    if queue is not None:
        for window in reversed(counts):
            minutes = (window.window_end - window.window_start).total_seconds() / 60
            if minutes > 0 and window.entered > 0:
                found = estimate_wait(queue, window.entered, minutes)
                return found.minutes, found.low, found.high
    estimates = [r for r in counts if r.wait_minutes is not None]
    if not estimates:
        return None, None, None
    return float(estimates[-1].wait_minutes or 0), None, None


def derive_station_status(
    election: str,
    station: str,
    reports: Sequence[Report],
    *,
    as_of: datetime,
    ballots_received: int | None,
    public_ids: Collection[str],
    share_seen: float | None = None,
    shape_concentration: float | None = None,
) -> PublicStationStatus:
    """A station's public status from the reports the service received up to ``as_of``.

    Parameters
    ----------
    reports:
        The station's reports received at or before ``as_of`` (the caller filters by the
        time the service received them, not the observers' clocks, which may be wrong).
    as_of:
        The release time (:func:`release_cutoff`).
    ballots_received:
        Ballots the station received (registry), for the ballots warning; None if unknown.
    public_ids:
        Ids of the incidents among ``reports`` that a coordinator marked public.
    share_seen:
        The day curve's share of a day's arrivals up to ``as_of`` at this station, for the
        calibrated ballots warning of :func:`pollwatch.observe.queues.ballot_outlook`; None
        when no day curve is known, and then the warning says only that the ballots are out.
    shape_concentration:
        The κ that goes with ``share_seen`` (:class:`pollwatch.observe.queues.ShareSeen`);
        None for :data:`~pollwatch.observe.queues.SHAPE_CONCENTRATION`.
    """
    if not reports:
        return PublicStationStatus(
            election, station, as_of, None, None, None, False, ballots_received=ballots_received
        )
    master = merge_station_reports(reports)
    shown = tuple(
        sorted(
            (r for r in master.incidents if r.id in public_ids),
            key=lambda r: (r.observed_at, r.id),
        )
    )
    issued = sum(w.ballots_issued or 0 for w in master.windows)
    outlook = ballot_outlook(
        ballots_received,
        issued,
        master.queue or 0,
        0.0 if share_seen is None else share_seen,
        concentration=SHAPE_CONCENTRATION if shape_concentration is None else shape_concentration,
    )
    warning = outlook.warning or any(r.category == "ballot_shortage" for r in shown)
    wait, low, high = _wait(reports, master.queue)
    times = [r.observed_at for r in shown]
    if master.queue_at is not None:
        times.append(master.queue_at)
    if wait is not None or warning:
        times.extend(w.end for w in master.windows[-1:])
    latest = min(max(times), as_of) if times else None
    return PublicStationStatus(
        election=election,
        station=station,
        as_of=as_of,
        updated_at=None if latest is None else coarse_time(latest),
        queue=None if master.queue is None else coarse_queue(master.queue),
        wait_minutes=None if wait is None else coarse_wait(wait),
        ballots_warning=bool(warning),
        incidents=tuple(_public_incident(r, as_of) for r in shown),
        wait_low=None if wait is None or low is None else coarse_wait(low),
        wait_high=None if wait is None or high is None else coarse_wait(high),
        ballots_received=ballots_received,
        ballots_issued=coarse_count(issued) if master.windows else None,
    )


def _public_incident(report: IncidentReport, as_of: datetime) -> PublicIncident:
    return PublicIncident(report.category, report.text, coarse_time(min(report.observed_at, as_of)))
