"""The dashboard's activity over the day: reports and people entered per hour, newest incidents.

Reports and incidents per hour are counted in SQL (one pass over the election's reports, an
index range); people entered per hour sum the cached master records' count windows
(:func:`pollwatch.observe.activity.entered_per_hour`), so identical windows of two observers
count once and conflicting overlaps are left out until resolved. The hourly part is reused
for up to :data:`pollwatch.store.read_models.SUMMARY_MAX_AGE` seconds; the incident feed is
read on every call.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from pollwatch.observe.reports import format_timestamp
from pollwatch.store._util import format_stored
from pollwatch.store.elections import get_election
from pollwatch.store.engine import is_sqlite
from pollwatch.store.master_cache import load_counters
from pollwatch.store.read_models import read_models
from pollwatch.store.tables import photos, reports
from pollwatch.store.views import load_resolutions

__all__ = ["INCIDENT_FEED", "activity", "incidents_feed"]

INCIDENT_FEED = 50
"""Incidents in the dashboard's feed (newest first)."""


def _hour_bucket(engine: Engine, column: Any) -> Any:
    """``YYYY-MM-DD HH`` of a UTC timestamp column, in SQL."""
    if is_sqlite(engine):
        return func.substr(column, 1, 13)  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff', UTC
    return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24")


def _hour_iso(bucket: str) -> str:
    return f"{bucket[:10]}T{bucket[11:13]}:00:00Z"


def _activity_now(engine: Engine, election: str) -> dict[str, Any]:
    bucket = _hour_bucket(engine, reports.c.observed_at).label("hour")
    by_hour = (
        select(bucket, reports.c.kind, func.count())
        .where(reports.c.election == election)
        .group_by(bucket, reports.c.kind)
    )
    per_hour: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        for hour, kind, n in conn.execute(by_hour):
            slot = per_hour.setdefault(_hour_iso(str(hour)), {"reports": 0, "incidents": 0})
            slot["reports"] += int(n)
            if kind == "incident":
                slot["incidents"] += int(n)
        counters = load_counters(conn, election)
        chosen = load_resolutions(conn, election)
    counted = sorted(s for s, c in counters.items() if c.counts)
    people: dict[int, float] = {}
    masters = read_models(engine).masters
    for entry in masters.refresh(engine, election, counters, chosen, counted).values():
        for hour, n in entry.hourly.items():
            people[hour] = people.get(hour, 0.0) + n
    return {
        "reports_per_hour": [{"hour": h, **per_hour[h]} for h in sorted(per_hour)],
        "entered_per_hour": [
            {
                "hour": format_timestamp(datetime.fromtimestamp(h * 3600, UTC)),
                "entered": round(people[h], 1),
            }
            for h in sorted(people)
        ],
    }


def incidents_feed(
    engine: Engine, election: str, *, limit: int = INCIDENT_FEED
) -> list[dict[str, Any]]:
    """The newest incidents: id, station, category, text, times, whether a photo is attached."""
    query = (
        select(
            reports.c.id,
            reports.c.station,
            reports.c.canonical,
            reports.c.observed_at,
            reports.c.received_at,
            photos.c.report_id.label("photo"),
        )
        .outerjoin(photos, photos.c.report_id == reports.c.id)
        .where(reports.c.election == election, reports.c.kind == "incident")
        .order_by(reports.c.received_at.desc(), reports.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    out = []
    for r in rows:
        body = json.loads(r["canonical"])
        out.append(
            {
                "id": r["id"],
                "station": r["station"],
                "category": body.get("category"),
                "text": body.get("text", ""),
                "observed_at": format_stored(r["observed_at"]),
                "received_at": format_stored(r["received_at"]),
                "photo": r["photo"] is not None,
            }
        )
    return out


def activity(engine: Engine, election: str) -> dict[str, Any]:
    """Reports and incidents per hour, people entered per hour, and the newest incidents.

    Hours are UTC clock hours (reports by ``observed_at``). ``entered_per_hour`` sums the
    stations' master-record count windows (so identical windows of two observers count once,
    conflicting overlaps are left out until resolved, resolutions apply), each window's
    ``entered`` spread evenly over the hours it covers.
    """
    get_election(engine, election)
    summary = read_models(engine).summaries.get(
        engine, election, "activity", lambda: _activity_now(engine, election)
    )
    return {
        "election": election,
        **summary,
        "incidents": incidents_feed(engine, election),
    }
