"""The dashboard's station table: every registry station with its counters, and the totals.

Read from ``stations`` and the per-station counters of ``station_activity`` (kept in each
report's transaction) and the quick-count sample: one row per station, never a scan of
``reports``, so the table stays fast with millions of reports. Only the open-conflict total
needs master records; it re-reads at most :data:`CONFLICT_BUDGET` reports per call and says
how many stations it left for later (``conflicts_pending``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, case, func, select

from pollwatch.observe.reports import format_timestamp
from pollwatch.store._util import format_stored, utcnow
from pollwatch.store.elections import get_election
from pollwatch.store.read_models import read_models
from pollwatch.store.tables import ledger, pvt_sample, station_activity, stations
from pollwatch.store.views import election_tolerance

__all__ = [
    "CONFLICT_BUDGET",
    "activity_totals",
    "dashboard_stations",
    "station_rows",
    "station_totals",
]

CONFLICT_BUDGET = 1000
"""Reports the station table may re-read per call to bring its conflict total up to date."""


_CHANGED_LOOKUP = 500
"""Changed stations up to this many are looked up by id; more read their id range."""


def station_rows(
    engine: Engine,
    election: str,
    *,
    limit: int | None = None,
    offset: int = 0,
    since: int | None = None,
) -> list[dict[str, Any]]:
    """Every registry station with its activity counters and sample membership, by id.

    ``since`` (a ledger seq): only the stations with a report after it — a station's row
    changes only with a report of its own (``station_activity.last_seq`` is that report's
    seq), so a dashboard that refreshes with the seq of its last answer gets the few rows
    that changed instead of every station.

    Stations without reports have zero counters and null times. Three index range scans
    (``stations``, then ``station_activity`` and ``pvt_sample`` over the page's id range),
    joined here: a database join chose a quadratic plan on PostgreSQL whenever the tables'
    statistics were stale (right after an import), 1.7 s for 2,000 stations.
    """
    query = (
        select(
            stations.c.station,
            stations.c.name,
            stations.c.country,
            stations.c.city,
            stations.c.lat,
            stations.c.lon,
            stations.c.registered,
        )
        .where(stations.c.election == election)
        .order_by(stations.c.station)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    act = station_activity
    with engine.connect() as conn:
        if since is not None:
            changed = select(act.c.station).where(
                act.c.election == election, act.c.last_seq > since
            )
            query = query.where(stations.c.station.in_(changed))
        registry = conn.execute(query).mappings().all()
        if not registry:
            return []
        first, last = registry[0]["station"], registry[-1]["station"]
        # Changes only: those stations' rows, not every row of the id range.
        few = since is not None and len(registry) <= _CHANGED_LOOKUP
        only = [r["station"] for r in registry] if few else None
        counters = {
            r["station"]: r
            for r in conn.execute(
                select(
                    act.c.station,
                    act.c.status,
                    act.c.status_at,
                    act.c.last_report_at,
                    act.c.reports,
                    act.c.counts,
                    act.c.incidents,
                    act.c.protocols,
                    act.c.queue,
                ).where(
                    act.c.election == election,
                    act.c.station.between(first, last) if only is None else act.c.station.in_(only),
                )
            ).mappings()
        }
        sampled = {
            r[0]
            for r in conn.execute(
                select(pvt_sample.c.station).where(
                    pvt_sample.c.election == election,
                    pvt_sample.c.station.between(first, last)
                    if only is None
                    else pvt_sample.c.station.in_(only),
                )
            )
        }
    out = []
    for r in registry:
        c = counters.get(r["station"])
        out.append(
            {
                **r,
                "status": None if c is None else c["status"],
                "status_at": None if c is None else format_stored(c["status_at"]),
                "last_report_at": None if c is None else format_stored(c["last_report_at"]),
                "reports": 0 if c is None else c["reports"],
                "counts": 0 if c is None else c["counts"],
                "incidents": 0 if c is None else c["incidents"],
                "protocols": 0 if c is None else c["protocols"],
                "queue": None if c is None else c["queue"],
                "in_sample": r["station"] in sampled,
            }
        )
    return out


def activity_totals(conn: Connection, election: str) -> dict[str, int]:
    """Registry stations, reporting stations, reports, incidents, protocols, opened, closed.

    Sums of the per-station counters: no scan of ``reports``.
    """
    act = station_activity
    n_stations = conn.execute(
        select(func.count()).select_from(stations).where(stations.c.election == election)
    ).scalar_one()
    row = conn.execute(
        select(
            func.count(),
            func.coalesce(func.sum(act.c.reports), 0),
            func.coalesce(func.sum(act.c.incidents), 0),
            func.coalesce(func.sum(act.c.protocols), 0),
            func.coalesce(func.sum(case((act.c.status == "opened", 1), else_=0)), 0),
            func.coalesce(func.sum(case((act.c.status == "closed", 1), else_=0)), 0),
        ).where(act.c.election == election)
    ).one()
    return {
        "stations": int(n_stations),
        "reporting": int(row[0]),
        "reports": int(row[1]),
        "incidents": int(row[2]),
        "protocols": int(row[3]),
        "opened": int(row[4]),
        "closed": int(row[5]),
    }


def station_totals(engine: Engine, election: str) -> dict[str, int]:
    """Stations, reporting, opened, closed, incidents, reports and open conflicts.

    ``conflicts_pending`` counts stations whose conflicts were not re-checked in this call
    (more than :data:`CONFLICT_BUDGET` reports to re-read); 0 when the total is current.
    """
    with engine.connect() as conn:
        totals = activity_totals(conn, election)
    open_conflicts, pending = read_models(engine).masters.conflict_total(
        engine, election, budget=CONFLICT_BUDGET
    )
    return {
        "stations": totals["stations"],
        "reporting": totals["reporting"],
        "opened": totals["opened"],
        "closed": totals["closed"],
        "incidents": totals["incidents"],
        "reports": totals["reports"],
        "conflicts": open_conflicts,
        "conflicts_pending": pending,
    }


def dashboard_stations(
    engine: Engine,
    election: str,
    *,
    limit: int | None = None,
    offset: int = 0,
    since: int | None = None,
) -> dict[str, Any]:
    """The station table of the dashboard with totals and the tolerance (the API's answer).

    ``version`` is the election's newest ledger seq, read before the rows: a client that
    passes it back as ``since`` gets every station changed after it (a report stored while
    this answer was read shows in this answer, or the next, or both). A ``since`` beyond
    ``version`` (a database restored from an older backup) answers every station, with
    ``since`` null: the client's copy cannot be brought up to date from it.
    """
    get_election(engine, election)
    with engine.connect() as conn:
        tolerance = election_tolerance(conn, election)
        version = int(
            conn.execute(
                select(func.max(ledger.c.seq)).where(ledger.c.election == election)
            ).scalar()
            or 0
        )
    if since is not None and since > version:
        since = None
    return {
        "election": election,
        "generated_at": format_timestamp(utcnow()),
        "tolerance": tolerance,
        "version": version,
        "since": since,
        "totals": station_totals(engine, election),
        "stations": station_rows(engine, election, limit=limit, offset=offset, since=since),
    }
