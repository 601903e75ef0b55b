"""Read models of the coordinators' live dashboard and of the public summary for the press.

Costs, because the dashboard refreshes every few seconds while reports pour in:

* :func:`station_rows` and :func:`station_totals` read ``stations`` joined to the
  per-station counters of ``station_activity`` (kept in each report's transaction) and the
  quick-count sample: one row per station, never a scan of ``reports``.
* Master records (conflicts, comparison, people entered per hour) are computed by the pure
  core from each station's reports and kept in a per-process cache keyed by the station's
  last ledger seq and its resolutions, so a refresh re-reads only the stations with new
  reports or new resolutions. The first refresh of a process reads every count, status and
  protocol report of the election (about 20–40 s per million reports on this 2-core
  machine); one refresh per election runs at a time, later callers reuse its work. Only
  stations whose counters say a conflict is possible (two protocols, two count windows or
  two statuses) are examined for conflicts. The station table's conflict total refreshes at
  most :data:`CONFLICT_BUDGET` reports per call, never waits for a running refresh, and
  says how many stations it left for later (``conflicts_pending``).
* :func:`activity` counts reports per hour in SQL (one pass over the election's reports, an
  index range) and sums the cached master records' hourly door counts; it and
  :func:`public_summary` are reused per process for up to :data:`SUMMARY_MAX_AGE` seconds.

Several server processes each keep their own caches; they all read the same database, so
they agree once refreshed.
"""

from __future__ import annotations

import functools
import json
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, case, func, select, update

from pollwatch.errors import InputError, PollwatchError
from pollwatch.observe.master import CountWindow, MasterRecord, Resolution, merge_station_reports
from pollwatch.observe.reports import Report, format_timestamp
from pollwatch.store._util import as_utc, utcnow
from pollwatch.store.audit import record_audit
from pollwatch.store.elections import get_election
from pollwatch.store.engine import is_sqlite, write_transaction
from pollwatch.store.reports import ledger_head
from pollwatch.store.tables import (
    elections,
    ledger,
    official_results,
    photos,
    pvt_sample,
    reports,
    resolutions,
    station_activity,
    stations,
)
from pollwatch.store.views import (
    election_tolerance,
    figures_from_master,
    load_resolutions,
    load_stored_report,
    opening_hours_of,
)

__all__ = [
    "CONFLICT_BUDGET",
    "SUMMARY_MAX_AGE",
    "activity",
    "comparison_rows",
    "conflicts",
    "dashboard_stations",
    "events_after",
    "forget_summaries",
    "incidents_feed",
    "ledger_seq",
    "public_summary",
    "set_tolerance",
    "station_rows",
    "station_totals",
]

CONFLICT_BUDGET = 1000
"""Reports the station table may re-read per call to bring its conflict total up to date."""

SUMMARY_MAX_AGE = 10.0
"""Seconds an activity or public summary is reused even if the ledger moved (at most a minute
while it stands still; a coordinator's change in this process drops it at once)."""

INCIDENT_FEED = 50
"""Incidents in the dashboard's feed (newest first)."""


def _ts(value: datetime | None) -> str | None:
    return None if value is None else format_timestamp(as_utc(value))


def _cache_id(engine: Engine) -> str:
    """One cache namespace per database (tests open many; so may a multi-tenant host)."""
    return engine.url.render_as_string(hide_password=True)


# --- station table ---------------------------------------------------------------------------


def station_rows(
    engine: Engine, election: str, *, limit: int | None = None, offset: int = 0
) -> list[dict[str, Any]]:
    """Every registry station with its activity counters and sample membership, by id.

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
        registry = conn.execute(query).mappings().all()
        if not registry:
            return []
        first, last = registry[0]["station"], registry[-1]["station"]
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
                ).where(act.c.election == election, act.c.station.between(first, last))
            ).mappings()
        }
        sampled = {
            r[0]
            for r in conn.execute(
                select(pvt_sample.c.station).where(
                    pvt_sample.c.election == election, pvt_sample.c.station.between(first, last)
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
                "status_at": None if c is None else _ts(c["status_at"]),
                "last_report_at": None if c is None else _ts(c["last_report_at"]),
                "reports": 0 if c is None else c["reports"],
                "counts": 0 if c is None else c["counts"],
                "incidents": 0 if c is None else c["incidents"],
                "protocols": 0 if c is None else c["protocols"],
                "queue": None if c is None else c["queue"],
                "in_sample": r["station"] in sampled,
            }
        )
    return out


def _activity_totals(conn: Connection, election: str) -> dict[str, int]:
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
        totals = _activity_totals(conn, election)
    open_conflicts, pending = _MASTERS.conflict_total(engine, election, budget=CONFLICT_BUDGET)
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
    engine: Engine, election: str, *, limit: int | None = None, offset: int = 0
) -> dict[str, Any]:
    """The station table of the dashboard with totals and the tolerance (the API's answer)."""
    get_election(engine, election)
    with engine.connect() as conn:
        tolerance = election_tolerance(conn, election)
    return {
        "election": election,
        "generated_at": format_timestamp(utcnow()),
        "tolerance": tolerance,
        "totals": station_totals(engine, election),
        "stations": station_rows(engine, election, limit=limit, offset=offset),
    }


# --- master records, cached per station -------------------------------------------------------


@dataclass(frozen=True)
class _Activity:
    last_seq: int
    reports: int
    counts: int
    incidents: int
    protocols: int

    @property
    def may_conflict(self) -> bool:
        """Two protocols, two count windows or two statuses: only then can fields disagree."""
        statuses = self.reports - self.counts - self.incidents - self.protocols
        return self.protocols >= 2 or self.counts >= 2 or statuses >= 2


@dataclass(frozen=True)
class _Entry:
    last_seq: int
    resolutions: tuple[tuple[str, str, str, str], ...]
    master: MasterRecord
    hours: tuple[datetime, datetime] | None
    hourly: Mapping[int, float]


def _resolution_key(chosen: Sequence[Resolution]) -> tuple[tuple[str, str, str, str], ...]:
    return tuple((r.field, json.dumps(r.value, sort_keys=True), r.by, r.note) for r in chosen)


def _load_activity(conn: Connection, election: str) -> dict[str, _Activity]:
    act = station_activity
    rows = conn.execute(
        select(
            act.c.station, act.c.last_seq, act.c.reports, act.c.counts, act.c.incidents,
            act.c.protocols,
        ).where(act.c.election == election)
    ).all()  # fmt: skip
    return {str(r[0]): _Activity(int(r[1]), r[2], r[3], r[4], r[5]) for r in rows}


def _merge(parsed: Sequence[Report], chosen: Sequence[Resolution]) -> MasterRecord:
    try:
        return merge_station_reports(parsed, chosen)
    except InputError:
        # A resolution that no longer fits (cannot happen through resolve_conflict, which
        # checks it); the record is still shown, with its conflicts open.
        return merge_station_reports(parsed)


class _MasterCache:
    """Per-process master records keyed by (database, election, station).

    An entry is current while the station's ``last_seq`` and resolutions are unchanged
    (reports are append-only, so nothing else can change a master record).
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, str], _Entry] = {}
        self._rows: dict[tuple[str, str, str], dict[Any, dict[str, Any]]] = {}
        self._gates: dict[tuple[str, str], threading.Lock] = {}
        self._lock = threading.Lock()

    def refresh(
        self,
        engine: Engine,
        election: str,
        activity: Mapping[str, _Activity],
        chosen: Mapping[str, tuple[Resolution, ...]],
        wanted: Sequence[str],
        *,
        budget: int | None = None,
    ) -> dict[str, _Entry]:
        """Current entries for ``wanted`` stations (all, or those within the budget).

        One refresh per election at a time: a second caller waits and then finds the work
        done, instead of repeating it; a budgeted caller (the station table) does not wait
        and reports the stations it could not check.
        """
        db = _cache_id(engine)
        with self._lock:
            gate = self._gates.setdefault((db, election), threading.Lock())
        if not gate.acquire(blocking=budget is None):
            return self._current(db, election, activity, chosen, wanted)
        try:
            stale = self._stale(db, election, activity, chosen, wanted)
            if budget is not None:
                stale.sort(key=lambda s: (activity[s].reports, s))
                within, spent = [], 0
                for s in stale:
                    cost = activity[s].reports - activity[s].incidents
                    if spent + cost > budget:
                        break
                    within.append(s)
                    spent += cost
                stale = within
            fresh = self._compute(engine, election, activity, chosen, stale)
            with self._lock:
                for s, entry in fresh.items():
                    self._entries[(db, election, s)] = entry
        finally:
            gate.release()
        return self._current(db, election, activity, chosen, wanted)

    def _stale(
        self,
        db: str,
        election: str,
        activity: Mapping[str, _Activity],
        chosen: Mapping[str, tuple[Resolution, ...]],
        wanted: Sequence[str],
    ) -> list[str]:
        current = self._current(db, election, activity, chosen, wanted)
        return [s for s in wanted if s not in current]

    def _current(
        self,
        db: str,
        election: str,
        activity: Mapping[str, _Activity],
        chosen: Mapping[str, tuple[Resolution, ...]],
        wanted: Sequence[str],
    ) -> dict[str, _Entry]:
        with self._lock:
            found = {s: self._entries.get((db, election, s)) for s in wanted}
        return {
            s: e
            for s, e in found.items()
            if e is not None
            and e.last_seq >= activity[s].last_seq  # a later refresh's entry is fresher still
            and e.resolutions == _resolution_key(chosen.get(s, ()))
        }

    def _compute(
        self,
        engine: Engine,
        election: str,
        activity: Mapping[str, _Activity],
        chosen: Mapping[str, tuple[Resolution, ...]],
        stale: Sequence[str],
    ) -> dict[str, _Entry]:
        parsed: dict[str, list[Report]] = {s: [] for s in stale}
        with engine.connect() as conn:
            for start in range(0, len(stale), 500):
                chunk = list(stale[start : start + 500])
                query = select(reports.c.station, reports.c.canonical).where(
                    reports.c.election == election,
                    reports.c.station.in_(chunk),
                    reports.c.kind != "incident",  # incidents are never merged or compared
                )
                for station, canonical in conn.execute(query):
                    parsed[str(station)].append(load_stored_report(canonical))
        out: dict[str, _Entry] = {}
        for s, items in parsed.items():
            if not items:
                continue
            own = chosen.get(s, ())
            # Labelled with the seq read before loading: a report that arrived in between
            # makes the entry look stale, so it is recomputed next time (never the reverse).
            master = _merge(items, own)
            out[s] = _Entry(
                last_seq=activity[s].last_seq,
                resolutions=_resolution_key(own),
                master=master,
                hours=opening_hours_of(items),
                hourly=_spread(master.windows),
            )
        return out

    def conflict_total(self, engine: Engine, election: str, *, budget: int) -> tuple[int, int]:
        """Open conflicts of the election and stations left unchecked within the budget."""
        with engine.connect() as conn:
            activity = _load_activity(conn, election)
            chosen = load_resolutions(conn, election)
        wanted = [s for s, a in activity.items() if a.may_conflict]
        current = self.refresh(engine, election, activity, chosen, wanted, budget=budget)
        db = _cache_id(engine)
        total = 0
        with self._lock:
            for s in wanted:
                entry = current.get(s) or self._entries.get((db, election, s))
                if entry is not None:
                    total += len(entry.master.conflicts)
        return total, len(wanted) - len(current)

    def comparison_row(
        self, engine: Engine, election: str, station: str, key: Any, build: Callable[[], Any]
    ) -> dict[str, Any]:
        """The station's comparison row for ``key`` (built once per key; a few keys kept,
        so switching the tolerance back and forth costs nothing)."""
        slot = (_cache_id(engine), election, station)
        with self._lock:
            cached = self._rows.get(slot, {}).get(key)
        if cached is not None:
            return cached
        row: dict[str, Any] = build()
        with self._lock:
            rows = self._rows.setdefault(slot, {})
            if len(rows) >= 4:
                rows.clear()
            rows[key] = row
        return row


_MASTERS = _MasterCache()


def conflicts(engine: Engine, election: str) -> list[dict[str, Any]]:
    """Open and resolved conflicts of every station, by station and field.

    Each: ``{"station", "field", "values": [{"report_id", "value"}], "resolved": null |
    {"value", "by", "at", "note"}}``.
    """
    get_election(engine, election)
    with engine.connect() as conn:
        activity = _load_activity(conn, election)
        chosen = load_resolutions(conn, election)
        stamps = {
            (str(r[0]), str(r[1])): _ts(r[2])
            for r in conn.execute(
                select(resolutions.c.station, resolutions.c.field, resolutions.c.at).where(
                    resolutions.c.election == election
                )
            )
        }
    wanted = [s for s, a in activity.items() if a.may_conflict or s in chosen]
    current = _MASTERS.refresh(engine, election, activity, chosen, wanted)
    out: list[dict[str, Any]] = []
    for station in sorted(current):
        master = current[station].master
        for conflict in master.conflicts:
            out.append({"station": station, **conflict.to_dict(), "resolved": None})
        for conflict, resolution in master.resolved:
            out.append(
                {
                    "station": station,
                    **conflict.to_dict(),
                    "resolved": {
                        "value": resolution.value,
                        "by": resolution.by,
                        "at": stamps.get((station, resolution.field)),
                        "note": resolution.note,
                    },
                }
            )
    out.sort(key=lambda c: (c["station"], c["field"]))
    return out


# --- comparison --------------------------------------------------------------------------------


def _comparison_row(
    station: str,
    name: str | None,
    entry: _Entry,
    registered: int | None,
    official: Mapping[str, Any] | None,
    tolerance: float,
) -> dict[str, Any]:
    figures = figures_from_master(
        entry.master,
        hours=entry.hours,
        registered=registered,
        official=official,
        tolerance=tolerance,
    )
    estimate, comparison = figures.estimate, figures.comparison
    total = None if estimate is None or estimate.total is None else estimate.total
    independent = None if total is None else round(total)
    issued = (official or {}).get("issued_premises")
    official_n = (
        int(issued) if isinstance(issued, int | float) and not isinstance(issued, bool) else None
    )
    difference = None
    relative = None
    if total is not None and official_n is not None:
        difference = official_n - independent if independent is not None else None
        relative = (official_n - total) / total if total > 0 else None
    return {
        "station": station,
        "name": name,
        "independent": independent,
        "low": None if estimate is None else estimate.low,
        "high": None if estimate is None else estimate.high,
        "official": official_n,
        "difference": difference,
        "relative": relative,
        "flag": bool(comparison.flagged) if comparison is not None else False,
        "protocol_mismatches": (
            [line.field for line in comparison.lines if line.flagged] if comparison else []
        ),
    }


def _sort_key(row: Mapping[str, Any]) -> tuple[bool, float, str]:
    relative = row["relative"]
    size = abs(relative) if relative is not None and math.isfinite(relative) else -1.0
    return (not row["flag"], -size, str(row["station"]))


def comparison_rows(
    engine: Engine, election: str, *, tolerance: float | None = None
) -> dict[str, Any]:
    """Every reporting station's independent turnout against the official figure.

    ``tolerance`` (relative turnout slack, 0…1) defaults to the election's setting. Rows are
    sorted flagged first, then by ``|relative|`` descending. Each row is cached by the
    station's last ledger seq, resolutions, official figures and the tolerance, so a refresh
    recomputes only stations with something new.
    """
    get_election(engine, election)
    if tolerance is not None:
        _check_tolerance(tolerance)
    with engine.connect() as conn:
        tol = election_tolerance(conn, election) if tolerance is None else float(tolerance)
        activity = _load_activity(conn, election)
        chosen = load_resolutions(conn, election)
        registry = {
            str(r[0]): (r[1], r[2])
            for r in conn.execute(
                select(stations.c.station, stations.c.name, stations.c.registered).where(
                    stations.c.election == election
                )
            )
        }
        officials = {
            str(r[0]): dict(r[1])
            for r in conn.execute(
                select(official_results.c.station, official_results.c.figures).where(
                    official_results.c.election == election
                )
            )
        }
    current = _MASTERS.refresh(engine, election, activity, chosen, sorted(activity))
    rows = []
    for station, entry in current.items():
        name, registered = registry.get(station, (None, None))
        official = officials.get(station)
        key = (
            entry.last_seq,
            entry.resolutions,
            tol,
            registered,
            json.dumps(official, sort_keys=True, default=str),
        )
        rows.append(
            _MASTERS.comparison_row(
                engine,
                election,
                station,
                key,
                functools.partial(_comparison_row, station, name, entry, registered, official, tol),
            )
        )
    rows.sort(key=_sort_key)
    return {"election": election, "tolerance": tol, "rows": rows}


def _check_tolerance(value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= 1
    ):
        raise InputError(
            f"'tolerance' must be a number from 0 to 1; got {value!r}", column="tolerance"
        )
    return float(value)


def set_tolerance(engine: Engine, election: str, tolerance: Any, *, by: str) -> dict[str, Any]:
    """Set the election's relative turnout tolerance (0…1); audited as ``set_tolerance``."""
    value = _check_tolerance(tolerance)
    get_election(engine, election)
    with write_transaction(engine) as conn:
        previous = conn.execute(
            select(elections.c.tolerance).where(elections.c.id == election)
        ).scalar()
        conn.execute(update(elections).where(elections.c.id == election).values(tolerance=value))
        record_audit(
            conn, by, "set_tolerance", election, {"tolerance": value, "previous": previous}
        )
    forget_summaries(engine, election)
    return {"election": election, "tolerance": value}


# --- activity over the day ------------------------------------------------------------------


def _hour_bucket(engine: Engine, column: Any) -> Any:
    """``YYYY-MM-DD HH`` of a UTC timestamp column, in SQL."""
    if is_sqlite(engine):
        return func.substr(column, 1, 13)  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff', UTC
    return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24")


def _hour_iso(bucket: str) -> str:
    return f"{bucket[:10]}T{bucket[11:13]}:00:00Z"


def _spread(windows: Sequence[CountWindow]) -> dict[int, float]:
    """People entered per clock hour (hours since the epoch, UTC), each window's count spread
    evenly over its span (a zero-length window counts in its hour)."""
    out: dict[int, float] = {}
    for window in windows:
        start, end, entered = window.start.timestamp(), window.end.timestamp(), window.entered
        hour = int(start // 3600)
        if end <= start:
            out[hour] = out.get(hour, 0.0) + entered
            continue
        span = end - start
        while hour * 3600 < end:
            overlap = min(end, (hour + 1) * 3600) - max(start, hour * 3600)
            if overlap > 0:
                out[hour] = out.get(hour, 0.0) + entered * overlap / span
            hour += 1
    return out


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
        found = _load_activity(conn, election)
        chosen = load_resolutions(conn, election)
    counted = sorted(s for s, a in found.items() if a.counts)
    people: dict[int, float] = {}
    for entry in _MASTERS.refresh(engine, election, found, chosen, counted).values():
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
                "observed_at": _ts(r["observed_at"]),
                "received_at": _ts(r["received_at"]),
                "photo": r["photo"] is not None,
            }
        )
    return out


class _Recent:
    """Per-process answers reused while the ledger has not moved (or for a few seconds)."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str, str], tuple[int, float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, engine: Engine, election: str, name: str, build: Callable[[], Any]) -> Any:
        slot = (_cache_id(engine), election, name)
        seq = ledger_seq(engine, election)
        now = time.monotonic()
        with self._lock:
            cached = self._values.get(slot)
        if cached is not None and (
            now - cached[1] < SUMMARY_MAX_AGE or (cached[0] == seq and now - cached[1] < 60.0)
        ):
            return cached[2]
        value = build()
        with self._lock:
            self._values[slot] = (seq, now, value)
        return value

    def forget(self, engine: Engine, election: str) -> None:
        """Drop an election's answers (after a coordinator changed what they depend on)."""
        db = _cache_id(engine)
        with self._lock:
            for slot in [k for k in self._values if k[:2] == (db, election)]:
                del self._values[slot]


_RECENT = _Recent()


def activity(engine: Engine, election: str) -> dict[str, Any]:
    """Reports and incidents per hour, people entered per hour, and the newest incidents.

    Hours are UTC clock hours (reports by ``observed_at``). ``entered_per_hour`` sums the
    stations' master-record count windows (so identical windows of two observers count once,
    conflicting overlaps are left out until resolved, resolutions apply), each window's
    ``entered`` spread evenly over the hours it covers.
    """
    get_election(engine, election)
    summary = _RECENT.get(engine, election, "activity", lambda: _activity_now(engine, election))
    return {
        "election": election,
        **summary,
        "incidents": incidents_feed(engine, election),
    }


# --- public summary and events ----------------------------------------------------------------


def ledger_seq(engine: Engine, election: str) -> int:
    """The seq of the election's newest ledger entry (0 when empty); a primary-key lookup."""
    with engine.connect() as conn:
        value = conn.execute(
            select(func.max(ledger.c.seq)).where(ledger.c.election == election)
        ).scalar()
    return int(value or 0)


def events_after(
    engine: Engine, election: str, after: int, *, limit: int = 200
) -> list[dict[str, Any]]:
    """Ledger entries after ``after`` (oldest first, at most ``limit``): the live feed."""
    query = (
        select(ledger.c.seq, reports.c.station, reports.c.kind, reports.c.received_at)
        .join(reports, reports.c.id == ledger.c.report_id)
        .where(ledger.c.election == election, ledger.c.seq > after)
        .order_by(ledger.c.seq)
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        {"seq": int(r[0]), "station": r[1], "kind": r[2], "received_at": _ts(r[3])} for r in rows
    ]


def _public_now(engine: Engine, election: str) -> dict[str, Any]:
    info = get_election(engine, election)
    with engine.connect() as conn:
        totals = _activity_totals(conn, election)
        category = reports.c.body["category"].as_string()
        by_category = {
            str(c): int(n)
            for c, n in conn.execute(
                select(category, func.count())
                .where(reports.c.election == election, reports.c.kind == "incident")
                .group_by(category)
            )
        }
    compared = [
        r
        for r in comparison_rows(engine, election)["rows"]
        if r["independent"] is not None and r["official"] is not None
    ]
    from pollwatch.store.pvt import pvt_estimate  # pvt imports this module's neighbours

    pvt: dict[str, Any] | None
    try:
        estimate = pvt_estimate(engine, election)
        pvt = {
            k: estimate[k]
            for k in ("shares", "turnout", "denominator", "sample_size", "reported", "complete")
        }
    except PollwatchError:  # no sample yet (PVTUnavailable), or too few protocols
        pvt = None
    head = ledger_head(engine, election)
    return {
        "election": election,
        "name": info["name"],
        "generated_at": format_timestamp(utcnow()),
        "stations": {
            "total": totals["stations"],
            "observed": totals["reporting"],
            "opened": totals["opened"],
            "closed": totals["closed"],
        },
        "reports": {
            "count": totals["reports"],
            "incidents": totals["incidents"],
            "protocols": totals["protocols"],
        },
        "incidents_by_category": dict(sorted(by_category.items())),
        "turnout": {
            "independent": sum(r["independent"] for r in compared) if compared else None,
            "official": sum(r["official"] for r in compared) if compared else None,
            "stations_compared": len(compared),
            "flagged": sum(1 for r in compared if r["flag"]),
        },
        "pvt": pvt,
        "ledger": (
            None
            if not head["entries"]
            else {
                "seq": head["entries"],
                "hash": head["head_hash"],
                "recorded_at": head["recorded_at"],
            }
        ),
    }


def public_summary(engine: Engine, election: str) -> dict[str, Any]:
    """Aggregated, non-identifying figures of an election for the press page.

    Stations observed/opened/closed, report and incident counts (incidents by category),
    the independent turnout summed over the stations compared with official figures and how
    many are flagged, the quick count when a sample is drawn, and the ledger head to verify
    exports against. No station ids, no incident texts, no observer names. Kept per process
    until the ledger moves, then for at most :data:`SUMMARY_MAX_AGE` seconds.
    """
    get_election(engine, election)
    return _RECENT.get(engine, election, "public", lambda: _public_now(engine, election))  # type: ignore[no-any-return]


def forget_summaries(engine: Engine, election: str) -> None:
    """Drop the election's cached summaries (a resolution or setting changed them)."""
    _RECENT.forget(engine, election)
