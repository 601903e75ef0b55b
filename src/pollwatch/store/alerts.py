"""The dashboard's alerts and coverage: stored rows in, :mod:`pollwatch.observe.alerts` out.

Which stations are watched: those with an observer assigned now (:mod:`pollwatch.store.
rosters`), bound by an invite, or that reported at all — a station nobody observes is not
"silent". Their schedules are resolved as the estimates resolve them (own schedule, legacy
hours, the election's default; :func:`pollwatch.observe.schedule.resolve_schedule`). Reports
are read from :data:`LOOKBACK` before now only (one voting day and its lead), by their
indexed ``received_at``, so the cost follows the day's reports, not the election's.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from pollwatch.errors import InputError
from pollwatch.observe.alerts import (
    RevokedSender,
    StationWatch,
    compute_alerts,
    filled_spans,
    local_text,
    station_coverage,
)
from pollwatch.observe.reports import format_timestamp
from pollwatch.observe.schedule import StationSchedule, resolve_schedule
from pollwatch.store._util import as_utc, utcnow
from pollwatch.store.elections import get_election
from pollwatch.store.read_models import read_models
from pollwatch.store.revoked import revoked_senders
from pollwatch.store.rosters import current_assignments
from pollwatch.store.tables import observers, reports, stations
from pollwatch.store.views import election_schedule

__all__ = ["LOOKBACK", "election_alerts", "election_coverage", "station_timezones"]

LOOKBACK = timedelta(hours=30)
"""Reports received this long before now are read: a voting day (up to 24 h) and its lead."""


def _schedules(engine: Engine, election: str) -> dict[str, tuple[StationSchedule | None, Any]]:
    """Station → (resolved schedule or None, registry row)."""
    with engine.connect() as conn:
        default = election_schedule(conn, election)
        rows = conn.execute(
            select(
                stations.c.station,
                stations.c.name,
                stations.c.timezone,
                stations.c.schedule,
                stations.c.hours,
            ).where(stations.c.election == election)
        ).mappings()
        out: dict[str, tuple[StationSchedule | None, Any]] = {}
        for row in rows:
            try:
                schedule = resolve_schedule(
                    timezone=row["timezone"],
                    schedule=row["schedule"],
                    hours=row["hours"],
                    default=default,
                )
            except InputError:
                schedule = None  # a registry row the import let through: judged as unknown
            out[str(row["station"])] = (schedule, row)
    return out


def station_timezones(engine: Engine, election: str) -> dict[str, str]:
    """Station → its time zone (own, else the election's default) for local times."""
    return {
        station: schedule.timezone
        for station, (schedule, _) in _schedules(engine, election).items()
        if schedule is not None
    }


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return None if moment.tzinfo is None else as_utc(moment)


def _watches(
    engine: Engine, election: str, now: datetime
) -> tuple[dict[str, StationWatch], dict[str, Any], dict[str, list[str]]]:
    schedules = _schedules(engine, election)
    assigned = current_assignments(engine, election, now=now)
    statuses: dict[str, list[datetime]] = {}
    received: dict[str, list[datetime]] = {}
    windows: dict[str, list[tuple[datetime, datetime]]] = {}
    watched: set[str] = set(assigned)
    with engine.connect() as conn:
        for (bound,) in conn.execute(
            select(observers.c.stations).where(
                observers.c.election == election, observers.c.revoked.is_(False)
            )
        ):
            watched.update(bound or ())
        watched.update(
            str(r[0])
            for r in conn.execute(
                select(reports.c.station).where(reports.c.election == election).distinct()
            )
        )
        query = select(
            reports.c.station,
            reports.c.kind,
            reports.c.observed_at,
            reports.c.received_at,
            reports.c.body,
        ).where(reports.c.election == election, reports.c.received_at >= now - LOOKBACK)
        for row in conn.execute(query).mappings():
            station = str(row["station"])
            received.setdefault(station, []).append(as_utc(row["received_at"]))
            if row["kind"] == "status":
                statuses.setdefault(station, []).append(as_utc(row["observed_at"]))
            elif row["kind"] == "count":
                body = row["body"] or {}
                start, end = _when(body.get("window_start")), _when(body.get("window_end"))
                if start is not None and end is not None:
                    windows.setdefault(station, []).append((start, end))
    out = {}
    for station in sorted(watched):
        if station not in schedules:
            continue
        out[station] = StationWatch(
            station,
            schedules[station][0],
            tuple(statuses.get(station, ())),
            tuple(received.get(station, ())),
            tuple(windows.get(station, ())),
        )
    return out, schedules, assigned


def election_alerts(
    engine: Engine,
    election: str,
    *,
    allowed: frozenset[str] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The election's alerts now (most severe first); ``allowed``: the reader's stations.

    An alert without a station (a revoked observer never bound nor assigned) is shown only
    to readers of the whole election. Without an explicit ``now`` the answer is reused like
    the activity chart (:data:`pollwatch.store.read_models.SUMMARY_MAX_AGE`: a few seconds,
    up to a minute while no report arrives; a roster change drops it), so a dashboard
    refreshing on every report does not re-read the day's reports each time.
    """
    get_election(engine, election)
    if now is None:
        found = read_models(engine).summaries.get(
            engine, election, "alerts", lambda: _all_alerts(engine, election, utcnow())
        )
    else:
        found = _all_alerts(engine, election, now)
    return {
        **found,
        "watched": len([s for s in found["watched"] if allowed is None or s in allowed]),
        "alerts": [
            a
            for a in found["alerts"]
            if allowed is None or (a["station"] is not None and a["station"] in allowed)
        ],
    }


def _all_alerts(engine: Engine, election: str, now: datetime) -> dict[str, Any]:
    watches, schedules, assigned = _watches(engine, election, now)
    where: dict[str, str] = {}
    for station, names in assigned.items():
        for name in names:
            where.setdefault(name, station)
    senders = []
    for s in revoked_senders(engine, election):
        at: str | None = (s["stations"] or [None])[0] or where.get(s["code_name"])
        schedule = schedules.get(at or "", (None, None))[0]
        senders.append(
            RevokedSender(
                s["code_name"],
                s["first_at"],
                s["last_at"],
                s["attempts"],
                at,
                None if schedule is None else schedule.timezone,
            )
        )
    found = compute_alerts(election, watches.values(), senders, now=now)
    return {
        "election": election,
        "generated_at": format_timestamp(now),
        "watched": sorted(watches),
        "alerts": [a.to_dict() for a in found],
    }


def election_coverage(
    engine: Engine,
    election: str,
    *,
    allowed: frozenset[str] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Per watched station (open now first): local hours of its voting days with reports and
    counted share, the opening hours no count window covers so far (what an estimate fills
    in), and who is assigned; plus every station's time zone for local times. Reused like
    :func:`election_alerts` when ``now`` is not given."""
    get_election(engine, election)
    if now is None:
        found = read_models(engine).summaries.get(
            engine, election, "coverage", lambda: _all_coverage(engine, election, utcnow())
        )
    else:
        found = _all_coverage(engine, election, now)
    return {
        **found,
        "stations": [r for r in found["stations"] if allowed is None or r["station"] in allowed],
        "timezones": {
            s: zone for s, zone in found["timezones"].items() if allowed is None or s in allowed
        },
    }


def _all_coverage(engine: Engine, election: str, now: datetime) -> dict[str, Any]:
    watches, schedules, assigned = _watches(engine, election, now)
    rows = []
    for station, watch in watches.items():
        schedule = watch.schedule
        entry: dict[str, Any] = {
            "station": station,
            "name": schedules[station][1]["name"],
            "assigned": assigned.get(station, []),
            "timezone": None if schedule is None else schedule.timezone,
            "schedule": None if schedule is None else schedule.to_dict(),
            "hours": [],
            "filled": [],
        }
        entry["open_now"] = schedule is not None and any(
            a <= now < b for a, b in schedule.periods()
        )
        if schedule is not None:
            entry["local_now"] = local_text(now, schedule.timezone)
            since = now - LOOKBACK  # earlier days' reports are not read: not judged
            entry["hours"] = [
                h.to_dict()
                for h in station_coverage(schedule, watch.windows, watch.received, now=now)
                if h.end > since
            ]
            if watch.windows:
                entry["filled"] = [
                    {
                        "start": format_timestamp(a),
                        "end": format_timestamp(b),
                        "local": f"{local_text(a, schedule.timezone)[11:16]}–"
                        f"{local_text(b, schedule.timezone)[11:16]}",
                    }
                    for a, b in filled_spans(schedule, watch.windows, until=now)
                    if b > since
                ]
        rows.append(entry)
    rows.sort(key=lambda r: (not r["open_now"], r["station"]))  # open now first
    zones = {
        station: schedule.timezone
        for station, (schedule, _) in schedules.items()
        if schedule is not None
    }
    return {
        "election": election,
        "generated_at": format_timestamp(now),
        "stations": rows,
        "timezones": zones,
    }
