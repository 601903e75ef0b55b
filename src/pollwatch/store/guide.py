"""The voter guide's reads: which elections have a public guide, the registry, the totals.

**Which guides are public.** An election's guide is public as soon as its station registry
holds at least one station (``pollwatch stations import``): the registry — names, addresses,
hours — is public information (:mod:`pollwatch.observe.publication`), and an election
without stations has nothing to guide voters to. Coordinators who prepare an election in
private import its registry last. Live figures are never read here from the reports
directly: every one goes through the publication policy (release time, coarsening, public
incidents only).

**The current election** (what ``/guide?q=`` searches) is the one whose default schedule
has a voting day today or soonest after today; without schedules, the newest.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from pollwatch.errors import InputError, NotFoundError
from pollwatch.observe.activity import entered_per_hour
from pollwatch.observe.ids import check_election_id, check_station_id
from pollwatch.observe.master import merge_station_reports
from pollwatch.observe.publication import (
    DEFAULT_DELAY_MINUTES,
    PublicStationStatus,
    coarse_queue,
    derive_station_status,
    embargo_over,
    release_cutoff,
)
from pollwatch.observe.reports import CountReport, Report, StatusReport, format_timestamp
from pollwatch.observe.schedule import parse_schedule
from pollwatch.store._util import as_utc
from pollwatch.store.press import public_summary
from pollwatch.store.public import election_embargo, public_station_share_seen
from pollwatch.store.tables import audit_log, elections, reports, stations
from pollwatch.store.views import (
    load_stored_report,
    readable_election_schedule,
    readable_station_schedule,
)

__all__ = [
    "GUIDE_COLUMNS",
    "current_guide_election",
    "guide_elections",
    "guide_registry",
    "guide_station",
    "guide_totals",
    "guide_version",
    "registry_size",
]

GUIDE_COLUMNS = ("station", "name", "country", "city", "address", "lat", "lon")
"""What the guide shows of a registry row (ballots, hours and schedule are read per station)."""


def guide_elections(engine: Engine) -> list[dict[str, Any]]:
    """Elections whose guide is public (a registry with stations), newest first:
    ``id``, ``name``, ``stations``, ``timezone``, the default ``schedule`` text and whether
    it is ``simulated`` (every page of a simulated election says so)."""
    count = func.count(stations.c.station)
    query = (
        select(
            elections.c.id,
            elections.c.name,
            elections.c.created_at,
            elections.c.timezone,
            elections.c.schedule,
            elections.c.simulated,
            count,
        )
        .join(stations, stations.c.election == elections.c.id)
        .group_by(
            elections.c.id,
            elections.c.name,
            elections.c.created_at,
            elections.c.timezone,
            elections.c.schedule,
            elections.c.simulated,
        )
        .having(count > 0)
        .order_by(elections.c.created_at.desc(), elections.c.id)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        {
            "id": str(r[0]),
            "name": str(r[1]),
            "created_at": format_timestamp(as_utc(r[2])),
            "timezone": r[3],
            "schedule": r[4],
            "simulated": bool(r[5]),
            "stations": int(r[6]),
        }
        for r in rows
    ]


def _voting_days(row: dict[str, Any]) -> list[str]:
    if not row.get("timezone") or not row.get("schedule"):
        return []
    try:
        schedule = parse_schedule(str(row["schedule"]), str(row["timezone"]))
    except InputError:
        return []
    return [d.day.isoformat() for d in schedule.days]


def current_guide_election(elections_: Sequence[dict[str, Any]], now: datetime) -> str | None:
    """The election ``/guide?q=`` searches: a voting day today or soonest, else the newest
    (``elections_`` as :func:`guide_elections` gives them, newest first)."""
    today = now.astimezone(UTC).date().isoformat()
    upcoming = sorted(
        (min(d for d in days if d >= today), row["id"])
        for row in elections_
        if (days := _voting_days(row)) and max(days) >= today
    )
    if upcoming:
        return str(upcoming[0][1])
    return str(elections_[0]["id"]) if elections_ else None


def guide_version(engine: Engine, election: str, cutoff: datetime) -> tuple[int, int]:
    """What public guide answers of ``election`` as of the release time ``cutoff`` depend on
    besides the clock: how many of its reports were received up to ``cutoff`` (reports
    arriving now are later than it and change nothing public until the release time passes
    them; a report stored with an earlier time, as an import does, changes the count) and
    the newest audit entry (every coordinator's change — an incident made public, an
    embargo end — is audited). An index range count and a primary-key lookup."""
    with engine.connect() as conn:
        received = conn.execute(
            select(func.count())
            .select_from(reports)
            .where(reports.c.election == election, reports.c.received_at <= cutoff)
        ).scalar_one()
        audited = conn.execute(select(func.max(audit_log.c.id))).scalar()
    return int(received), int(audited or 0)


def registry_size(engine: Engine, election: str) -> int:
    """Stations in the election's registry (0 for an unknown election)."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(stations).where(stations.c.election == election)
            ).scalar_one()
        )


def guide_registry(engine: Engine, election: str) -> list[dict[str, Any]]:
    """The registry rows of :data:`GUIDE_COLUMNS`, by station id."""
    check_election_id(election)
    columns = [stations.c[name] for name in GUIDE_COLUMNS]
    with engine.connect() as conn:
        rows = conn.execute(
            select(*columns).where(stations.c.election == election).order_by(stations.c.station)
        ).all()
    return [dict(zip(GUIDE_COLUMNS, row, strict=True)) for row in rows]


def guide_station(engine: Engine, election: str, station: str) -> dict[str, Any]:
    """One station's registry row for its guide page, with its resolved ``schedule``
    (:class:`~pollwatch.observe.schedule.StationSchedule` or None).

    :class:`InputError` for malformed ids, :class:`NotFoundError` for an unknown station.
    """
    check_election_id(election)
    check_station_id(station)
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(stations).where(
                    stations.c.election == election, stations.c.station == station
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFoundError(f"no station {station!r} in election {election!r}")
        default = readable_election_schedule(conn, election)
    data = {name: row[name] for name in GUIDE_COLUMNS}
    data["ballots_received"] = row["ballots_received"]
    data["schedule"] = readable_station_schedule(dict(row), default)
    return data


def _queues_per_hour(parsed: Sequence[Report]) -> dict[int, int]:
    """The station's last queue reported in each clock hour (hours since the epoch, UTC)."""
    latest: dict[int, tuple[datetime, int]] = {}
    for report in parsed:
        if isinstance(report, CountReport | StatusReport) and report.queue is not None:
            at = report.window_end if isinstance(report, CountReport) else report.observed_at
            hour = int(at.timestamp() // 3600)
            if hour not in latest or latest[hour][0] <= at:
                latest[hour] = (at, report.queue)
    return {hour: value for hour, (_, value) in latest.items()}


def guide_totals(
    engine: Engine,
    election: str,
    now: datetime,
    *,
    delay_minutes: int = DEFAULT_DELAY_MINUTES,
) -> dict[str, Any]:
    """Election-day totals over every station, under the publication policy.

    During voting the figures are computed from the reports received up to the release
    time (``as_of``), after the embargo live, with the official figures beside the
    independent ones (the press summary's ``turnout``). Returns ``as_of``, ``live``,
    ``stations`` (registry size), ``reporting``, ``entered_per_hour`` and
    ``queue_per_hour`` (lists of ``(hour since the epoch, people)``; each station's queue
    coarsened as in its public status), ``statuses`` (every reporting station's
    :class:`~pollwatch.observe.publication.PublicStationStatus`), ``places`` (station →
    name, city) and ``turnout`` (None during voting).
    """
    check_election_id(election)
    live = embargo_over(election_embargo(engine, election), now)
    as_of = now if live else release_cutoff(now, delay_minutes)
    with engine.connect() as conn:
        registry = {
            str(r[0]): r[1:]
            for r in conn.execute(
                select(stations.c.station, stations.c.ballots_received, stations.c.name,
                       stations.c.city, stations.c.timezone, stations.c.schedule,
                       stations.c.hours).where(stations.c.election == election)
            )
        }  # fmt: skip
        rows = conn.execute(
            select(reports.c.station, reports.c.canonical, reports.c.id, reports.c.public).where(
                reports.c.election == election, reports.c.received_at <= as_of
            )
        ).all()
    by_station: dict[str, list[tuple[Report, str, bool]]] = {}
    for station, canonical, report_id, public in rows:
        by_station.setdefault(str(station), []).append(
            (load_stored_report(canonical), str(report_id), bool(public))
        )
    people: dict[int, float] = {}
    queues: dict[int, int] = {}
    statuses: list[PublicStationStatus] = []
    for station, items in sorted(by_station.items()):
        parsed = [r for r, _, _ in items]
        for hour, n in entered_per_hour(merge_station_reports(parsed).windows).items():
            if hour * 3600 <= as_of.timestamp():
                people[hour] = people.get(hour, 0.0) + n
        for hour, queue in _queues_per_hour(parsed).items():
            queues[hour] = queues.get(hour, 0) + coarse_queue(queue)
        row = registry.get(station)
        seen = None  # the share of its day seen, as on the station's own page
        if row is not None and row[0] is not None:
            own = {"timezone": row[3], "schedule": row[4], "hours": row[5]}
            seen = public_station_share_seen(engine, election, own, parsed, as_of)
        statuses.append(
            derive_station_status(
                election,
                station,
                parsed,
                as_of=as_of,
                ballots_received=(registry.get(station) or (None,))[0],
                public_ids={rid for _, rid, public in items if public},
                share_seen=None if seen is None else seen.share,
                shape_concentration=None if seen is None else seen.concentration,
            )
        )
    return {
        "election": election,
        "as_of": as_of,
        "live": live,
        "stations": len(registry),
        "reporting": len(by_station),
        "entered_per_hour": sorted((h, round(n)) for h, n in people.items()),
        "queue_per_hour": sorted(queues.items()),
        "statuses": statuses,
        "places": {s: {"name": v[1], "city": v[2]} for s, v in registry.items() if s in by_station},
        "turnout": public_summary(engine, election).get("turnout") if live else None,
    }
