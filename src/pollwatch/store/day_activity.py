"""The dashboard's activity over the day: reports and people entered per hour, newest incidents.

Everything is kept in 15-minute UTC slots, summed here into the hours asked for: by default
the election's local clock (:func:`election_clock`: the one time zone its stations are in,
+5:30 and +5:45 included), or UTC, or any clock ``utc_offset`` minutes ahead of UTC.
Reports and incidents per slot
from ``activity_slots`` (kept in each report's transaction: one small range read, never a
scan of ``reports``); people entered per slot from the master records' count windows
(:func:`pollwatch.observe.activity.entered_per_slot`, kept with each record in
``station_state``), so identical windows of two observers count once and conflicting
overlaps are left out until resolved. The hourly part is reused for up to
:data:`pollwatch.store.read_models.SUMMARY_MAX_AGE` seconds; the incident feed is read on
every call.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, Engine, func, literal_column, select

from pollwatch.errors import InputError, PollwatchError
from pollwatch.observe.activity import SLOT_SECONDS
from pollwatch.observe.reports import format_timestamp
from pollwatch.observe.schedule import check_timezone
from pollwatch.store._util import format_stored
from pollwatch.store.elections import get_election
from pollwatch.store.read_models import read_models
from pollwatch.store.tables import (
    activity_slots,
    elections,
    photos,
    reports,
    stations,
)
from pollwatch.store.views import election_schedule, load_resolutions

__all__ = ["INCIDENT_FEED", "activity", "election_clock", "incidents_feed"]

INCIDENT_FEED = 50
"""Incidents in the dashboard's feed (newest first)."""


def _check_offset(utc_offset: int) -> int:
    if (
        isinstance(utc_offset, bool)
        or not isinstance(utc_offset, int)
        or utc_offset % (SLOT_SECONDS // 60)
        or not -14 * 60 <= utc_offset <= 14 * 60
    ):
        raise InputError(
            "The 'utc_offset' parameter of activity must be minutes from -840 to 840 in "
            f"steps of 15; got {utc_offset!r} instead",
            column="utc_offset",
        )
    return utc_offset


def election_clock(conn: Connection, election: str) -> tuple[str | None, int]:
    """The time zone the election's hours are shown in and its offset from UTC (minutes).

    The one zone of all its stations (a station's own, else the election's), as the
    dashboard's page labels the hours; UTC (None, 0) when they are in several zones or
    none is known. The offset is the zone's on the election's first voting day (its
    default schedule), else at its first reported slot, else now: one clock for the whole
    chart, so a day that crosses a daylight-saving change is shown in its opening offset.
    An offset that is not whole 15-minute slots (no zone in use today has one) gives UTC.
    """
    row = conn.execute(select(elections.c.timezone).where(elections.c.id == election)).first()
    default = None if row is None or row[0] is None else str(row[0])
    found = {
        str(z) if z is not None else default
        for (z,) in conn.execute(
            select(stations.c.timezone).where(stations.c.election == election).distinct()
        )
    }
    zones = {z for z in found if z is not None} or ({default} if default else set())
    if len(zones) != 1:
        return None, 0
    zone = zones.pop()
    try:
        tz = ZoneInfo(check_timezone(zone))
        schedule = election_schedule(conn, election)
    except PollwatchError:
        return None, 0
    if schedule is not None and schedule.days:
        moment = schedule.periods()[0][0]
    else:
        first = conn.execute(
            select(func.min(activity_slots.c.slot)).where(activity_slots.c.election == election)
        ).scalar()
        moment = (
            datetime.fromtimestamp(int(first) * SLOT_SECONDS, UTC)
            if first is not None
            else datetime.now(UTC)
        )
    offset = moment.astimezone(tz).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    if minutes % (SLOT_SECONDS // 60) or not -14 * 60 <= minutes <= 14 * 60:
        return None, 0
    return zone, minutes


def _hour_of(slot: int, offset: int) -> int:
    """The UTC start (seconds) of the local hour holding ``slot``."""
    local = slot * SLOT_SECONDS + offset
    return local - local % 3600 - offset


def _activity_now(engine: Engine, election: str, offset: int) -> dict[str, Any]:
    per_hour: dict[int, dict[str, int]] = {}
    slots = select(activity_slots.c.slot, activity_slots.c.reports, activity_slots.c.incidents)
    with engine.connect() as conn:
        for slot, n, incidents in conn.execute(slots.where(activity_slots.c.election == election)):
            if not n:
                continue
            cell = per_hour.setdefault(_hour_of(int(slot), offset), {"reports": 0, "incidents": 0})
            cell["reports"] += int(n)
            cell["incidents"] += int(incidents)
        counters = read_models(engine).masters.counters(conn, election)
        chosen = load_resolutions(conn, election)
    counted = sorted(s for s, c in counters.items() if c.counts)
    models = read_models(engine)
    entries = models.masters.refresh(engine, election, counters, chosen, counted)
    per_slot = models.people.per_slot(election, entries)
    people: dict[int, float] = {}
    for slot in sorted(per_slot):  # a day has a hundred slots, an election 5,000 stations
        hour = _hour_of(slot, offset)
        people[hour] = people.get(hour, 0.0) + per_slot[slot]

    def iso(hour: int) -> str:
        return format_timestamp(datetime.fromtimestamp(hour, UTC))

    return {
        "reports_per_hour": [{"hour": iso(h), **per_hour[h]} for h in sorted(per_hour)],
        "entered_per_hour": [
            {"hour": iso(h), "entered": round(people[h], 1)} for h in sorted(people)
        ],
    }


_INCIDENT: ColumnElement[str] = literal_column("'incident'")
"""The incidents' kind written into the statement, not bound: only then may SQLite (and
PostgreSQL's generic plans) use the partial index of incidents (migration 0017)."""


def incidents_feed(
    engine: Engine, election: str, *, limit: int = INCIDENT_FEED
) -> list[dict[str, Any]]:
    """The newest incidents: id, station, category, text, times, whether a photo is attached.

    One walk of the incidents' own index (``ix_reports_election_incidents``, newest first):
    ``limit`` entries, however many other reports came after the newest incident.
    """
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
        .where(reports.c.election == election, reports.c.kind == _INCIDENT)
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


def activity(engine: Engine, election: str, *, utc_offset: int | None = None) -> dict[str, Any]:
    """Reports and incidents per hour, people entered per hour, and the newest incidents.

    Hours are clock hours ``utc_offset`` minutes ahead of UTC (0: UTC hours; 330: India's;
    None, the default: the election's local clock, :func:`election_clock`); each is named
    by the UTC instant it starts at, and the answer says the ``utc_offset`` and the
    ``timezone`` (null unless the election's own clock) it used. Reports count by
    ``observed_at``. ``entered_per_hour`` sums the stations' master-record count windows
    (so identical windows of two observers count once, conflicting overlaps are left out
    until resolved, resolutions apply), each window's ``entered`` spread evenly over the
    time it covers.
    """
    zone: str | None = None
    if utc_offset is None:
        get_election(engine, election)
        with engine.connect() as conn:
            zone, minutes = election_clock(conn, election)
    else:
        minutes = _check_offset(utc_offset)
        get_election(engine, election)
    offset = minutes * 60
    summary = read_models(engine).summaries.get(
        engine, election, f"activity{offset:+d}", lambda: _activity_now(engine, election, offset)
    )
    return {
        "election": election,
        "utc_offset": minutes,
        "timezone": zone,
        **summary,
        "incidents": incidents_feed(engine, election),
    }
