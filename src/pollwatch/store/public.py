"""The public faces' reads and the coordinators' publication settings.

Everything here applies :mod:`pollwatch.observe.publication` (the policy) to stored rows:
the press figures and the public station status as of the release time (reports received
up to it, by the server's clock), the ledger head as of the release time, who may read the
full ledger and exports, and the two settings coordinators change: an election's embargo
end and whether an incident is public (both audited, in the same transaction).

Figures as of a past release time do not change once that time is a delay old, so the press
figures are kept per process by (database, election, release time, ledger head as of that
time) — one computation per bucket, however often the page is polled.

The public status's ballots warning needs the share of the station's day's arrivals seen so
far (:func:`pollwatch.observe.queues.share_seen_at`): the station's schedule, and the day
shapes of the election's stations counted all day *as of the release time* (stations whose
schedule had ended by then: earlier time zones, earlier voting days). Those shapes are
computed at most once per (database, election, release time) in a process, from at most
:data:`REFERENCE_STATIONS_READ` closed stations; while one request computes a new release
time's shapes, others use the previous release time's (never a later one's).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update

from pollwatch.errors import InputError, NotFoundError
from pollwatch.observe.estimates import DayShapes, day_shapes_from_stations
from pollwatch.observe.ids import check_station_id
from pollwatch.observe.ledger import GENESIS
from pollwatch.observe.master import merge_station_reports
from pollwatch.observe.publication import (
    DEFAULT_DELAY_MINUTES,
    Access,
    PublicStationStatus,
    coarse_time,
    derive_station_status,
    embargo_over,
    export_access,
    press_view,
    release_cutoff,
)
from pollwatch.observe.queues import DayProgress, ShareSeen, day_progress, share_seen_at
from pollwatch.observe.reports import CountReport, Report, format_timestamp
from pollwatch.observe.schedule import StationSchedule
from pollwatch.store._util import as_utc, utcnow
from pollwatch.store.audit import record_audit
from pollwatch.store.elections import get_election
from pollwatch.store.engine import write_transaction
from pollwatch.store.press import public_summary
from pollwatch.store.tables import elections, ledger, reports, station_activity, stations
from pollwatch.store.views import (
    load_stored_report,
    readable_election_schedule,
    readable_station_schedule,
)

__all__ = [
    "REFERENCE_STATIONS_READ",
    "election_embargo",
    "ledger_access",
    "press_summary",
    "public_ledger_head",
    "public_station_share_seen",
    "public_station_status",
    "set_embargo",
    "set_incident_public",
]


def election_embargo(engine: Engine, election: str) -> datetime | None:
    """The election's embargo end (None while none is set); :class:`NotFoundError` if absent."""
    with engine.connect() as conn:
        row = conn.execute(
            select(elections.c.embargo_until).where(elections.c.id == election)
        ).first()
    if row is None:
        raise NotFoundError(f"no election {election!r}")
    return None if row[0] is None else as_utc(row[0])


def ledger_access(engine: Engine, election: str, now: datetime, *, coordinator: bool) -> Access:
    """What the full ledger and the exports give this reader now (the policy's rule)."""
    return export_access(election_embargo(engine, election), now, coordinator=coordinator)


def _parse_moment(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and len(value) <= 40:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is None:
            raise InputError(
                f"'embargo_until' must be an ISO-8601 time with a timezone; got {value!r}",
                column="embargo_until",
            )
    else:
        raise InputError(
            "'embargo_until' must be an ISO-8601 time with a timezone, or null",
            column="embargo_until",
        )
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise InputError(
            "'embargo_until' needs a timezone (e.g. 2024-03-17T21:00:00Z)", column="embargo_until"
        )
    return moment.astimezone(UTC)  # SQLite keeps the wall-clock time: store it in UTC


def set_embargo(engine: Engine, election: str, embargo_until: Any, *, by: str) -> dict[str, Any]:
    """Set (or with None clear) when the election's full ledger and exports become public.

    ``embargo_until`` is an aware datetime or an ISO-8601 string with a timezone ("when polls
    close everywhere"). Audited as ``set_embargo`` with the previous value.
    """
    moment = _parse_moment(embargo_until)
    previous = election_embargo(engine, election)
    with write_transaction(engine) as conn:
        conn.execute(
            update(elections).where(elections.c.id == election).values(embargo_until=moment)
        )
        record_audit(
            conn,
            by,
            "set_embargo",
            election,
            {
                "embargo_until": None if moment is None else format_timestamp(moment),
                "previous": None if previous is None else format_timestamp(previous),
            },
        )
    return {
        "election": election,
        "embargo_until": None if moment is None else format_timestamp(moment),
    }


def set_incident_public(
    engine: Engine, election: str, report_id: str, public: Any, *, by: str
) -> dict[str, Any]:
    """Mark an incident report of the election public (or private again); audited.

    A public incident's category, text and coarse time appear in its station's public status
    and its text in public exports; the ledger entry stays the same (the text's commitment
    was in the chain from the start). Raises :class:`InputError` naming ``public`` for a
    non-boolean and :class:`NotFoundError` unless the report is an incident of the election.
    """
    if not isinstance(public, bool):
        raise InputError("'public' must be true or false", column="public")
    with write_transaction(engine) as conn:
        row = conn.execute(
            select(reports.c.kind, reports.c.public).where(
                reports.c.id == report_id, reports.c.election == election
            )
        ).first()
        if row is None or row[0] != "incident":
            raise NotFoundError(f"no incident {report_id[:80]!r} in election {election!r}")
        conn.execute(update(reports).where(reports.c.id == report_id).values(public=public))
        record_audit(
            conn,
            by,
            "set_incident_public",
            report_id,
            {"election": election, "public": public, "previous": bool(row[1])},
        )
    return {"election": election, "report_id": report_id, "public": public}


def _head_as_of(conn: Connection, election: str, cutoff: datetime | None) -> dict[str, Any]:
    query = (
        select(ledger.c.seq, ledger.c.hash, ledger.c.recorded_at)
        .where(ledger.c.election == election)
        .order_by(ledger.c.seq.desc())
        .limit(1)
    )
    if cutoff is not None:
        query = query.join(reports, reports.c.id == ledger.c.report_id).where(
            reports.c.received_at <= cutoff
        )
    row = conn.execute(query).first()
    if row is None:
        return {"entries": 0, "head_hash": GENESIS, "recorded_at": None}
    return {"entries": int(row[0]), "head_hash": str(row[1]), "recorded_at": str(row[2])}


def public_ledger_head(
    engine: Engine, election: str, now: datetime, *, delay_minutes: int = DEFAULT_DELAY_MINUTES
) -> dict[str, Any]:
    """The ledger head anyone may see: as of the release time during voting, live after the
    embargo; ``as_of`` says which (None for live)."""
    after = embargo_over(election_embargo(engine, election), now)
    cutoff = None if after else release_cutoff(now, delay_minutes)
    with engine.connect() as conn:
        head = _head_as_of(conn, election, cutoff)
    return {**head, "as_of": None if cutoff is None else format_timestamp(cutoff)}


def _press_as_of(engine: Engine, election: str, cutoff: datetime) -> dict[str, Any]:
    """Press figures from the reports received up to ``cutoff``; a copy of the cached ones
    while the ledger's head as of ``cutoff`` is the same (only a report stored with a past
    time, as an import does, moves it)."""
    with engine.connect() as conn:
        head = _head_as_of(conn, election, cutoff)
    key = (head["entries"], head["head_hash"], head["recorded_at"])
    return copy.deepcopy(_press_figures(engine, election, cutoff, key))


@functools.lru_cache(maxsize=64)
def _press_figures(
    engine: Engine, election: str, cutoff: datetime, head: tuple[int, str, str | None]
) -> dict[str, Any]:
    received = (reports.c.election == election) & (reports.c.received_at <= cutoff)
    entries, head_hash, recorded_at = head
    with engine.connect() as conn:
        total = conn.execute(
            select(func.count()).select_from(stations).where(stations.c.election == election)
        ).scalar_one()
        kinds = {
            str(kind): int(n)
            for kind, n in conn.execute(
                select(reports.c.kind, func.count()).where(received).group_by(reports.c.kind)
            )
        }
        observed = conn.execute(
            select(func.count(func.distinct(reports.c.station))).where(received)
        ).scalar_one()
        category = reports.c.body["category"].as_string()
        by_category = {
            str(c): int(n)
            for c, n in conn.execute(
                select(category, func.count())
                .where(received, reports.c.kind == "incident")
                .group_by(category)
            )
        }
        latest: dict[str, tuple[datetime, str]] = {}
        status = reports.c.body["status"].as_string()
        for station, value, observed_at in conn.execute(
            select(reports.c.station, status, reports.c.observed_at)
            .join(ledger, ledger.c.report_id == reports.c.id)
            .where(received, reports.c.kind == "status")
            .order_by(ledger.c.seq)
        ):
            when = as_utc(observed_at)
            if station not in latest or latest[station][0] <= when:
                latest[station] = (when, str(value))
    states = [value for _, value in latest.values()]
    return {
        "election": election,
        "generated_at": format_timestamp(cutoff),
        "stations": {
            "total": int(total),
            "observed": int(observed),
            "opened": states.count("opened"),
            "closed": states.count("closed"),
        },
        "reports": {
            "count": sum(kinds.values()),
            "incidents": kinds.get("incident", 0),
            "protocols": kinds.get("protocol", 0),
        },
        "incidents_by_category": dict(sorted(by_category.items())),
        "ledger": (
            None if not entries else {"seq": entries, "hash": head_hash, "recorded_at": recorded_at}
        ),
    }


def press_summary(
    engine: Engine,
    election: str,
    now: datetime | None = None,
    *,
    delay_minutes: int = DEFAULT_DELAY_MINUTES,
) -> dict[str, Any]:
    """The press page's figures under the publication policy.

    During voting: the aggregates of :data:`~pollwatch.observe.publication.
    PRESS_FIELDS_DURING_VOTING` as of the release time (``generated_at`` is that time);
    after the embargo: the live :func:`~pollwatch.store.press.public_summary`, with the
    turnout comparison and the quick count. ``delayed`` says which.
    """
    now = now or utcnow()
    info = get_election(engine, election)
    if embargo_over(election_embargo(engine, election), now):
        return {
            **press_view(public_summary(engine, election), after_embargo=True),
            "delayed": False,
        }
    figures = _press_as_of(engine, election, release_cutoff(now, delay_minutes))
    figures["name"] = info["name"]
    return {**press_view(figures, after_embargo=False), "delayed": True}


REFERENCE_STATIONS_READ = 400
"""Most closed stations read for an election's day shapes at one release time (chosen by a
hash of their ids, so the same ones every time and spread over regions): a few hundred fix
the mean curve to well under a percent, and the bound keeps the public status's cost flat in
a 94,000-station election (about a second of reads per release time and process)."""


def _shapes_as_of(
    engine: Engine, election: str, cutoff: datetime
) -> tuple[StationSchedule | None, DayShapes]:
    """The election's default schedule, and the day shapes of its stations counted all day
    from the reports received up to ``cutoff``, among at most
    :data:`REFERENCE_STATIONS_READ` stations closed by then."""
    with engine.connect() as conn:
        default = readable_election_schedule(conn, election)
        rows = conn.execute(
            select(
                station_activity.c.station, stations.c.timezone, stations.c.schedule,
                stations.c.hours,
            )
            .select_from(station_activity)
            .outerjoin(
                stations,
                (stations.c.election == station_activity.c.election)
                & (stations.c.station == station_activity.c.station),
            )
            .where(station_activity.c.election == election, station_activity.c.counts > 0)
        ).all()  # fmt: skip
        closes: dict[tuple[Any, Any, Any], StationSchedule | None] = {}
        closed: dict[str, StationSchedule] = {}
        for station, timezone, schedule, hours in rows:
            key = (timezone, schedule, hours)  # many stations share one schedule: resolve once
            if key not in closes:
                found = readable_station_schedule(
                    {"timezone": timezone, "schedule": schedule, "hours": hours}, default
                )
                ended = found is not None and found.periods()[-1][1] <= cutoff
                closes[key] = found if ended else None
            if (found := closes[key]) is not None:
                closed[str(station)] = found
        chosen = sorted(closed, key=lambda s: hashlib.blake2b(s.encode()).digest())
        chosen = chosen[:REFERENCE_STATIONS_READ]
        parsed: dict[str, list[Report]] = {s: [] for s in chosen}
        for start in range(0, len(chosen), 200):
            query = select(reports.c.station, reports.c.canonical).where(
                reports.c.election == election,
                reports.c.station.in_(chosen[start : start + 200]),
                reports.c.kind == "count",
                reports.c.received_at <= cutoff,
            )
            for station, canonical in conn.execute(query):
                parsed[str(station)].append(load_stored_report(canonical))
    items = []
    for station, own in sorted(parsed.items()):
        if not own:
            continue
        try:
            items.append((closed[station], merge_station_reports(own).windows))
        except InputError:
            continue
    return default, day_shapes_from_stations(items)


_ReleaseCurve = tuple[StationSchedule | None, DayProgress | None]
"""The election's default schedule and its day curve (None: the prior) at a release time."""


class _ShapesByRelease:
    """Each election's day curve per release time, computed once per (database, election,
    release time) in this process; a few release times kept."""

    _KEEP = 16

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple[str, str, datetime], _ReleaseCurve] = OrderedDict()
        self._gates: dict[tuple[str, str], threading.Lock] = {}
        self._lock = threading.Lock()

    def _latest_before(
        self, database: str, election: str, cutoff: datetime
    ) -> _ReleaseCurve | None:
        earlier = [k for k in self._kept if k[:2] == (database, election) and k[2] < cutoff]
        return self._kept[max(earlier, key=lambda k: k[2])] if earlier else None

    def get(self, engine: Engine, election: str, cutoff: datetime) -> _ReleaseCurve:
        database = engine.url.render_as_string(hide_password=True)
        key = (database, election, cutoff)
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                return found
            previous = self._latest_before(database, election, cutoff)
            gate = self._gates.setdefault((database, election), threading.Lock())
        if not gate.acquire(blocking=previous is None):
            assert previous is not None
            return previous  # another request is computing this release time's
        try:
            with self._lock:
                found = self._kept.get(key)
            if found is None:
                default, shapes = _shapes_as_of(engine, election, cutoff)
                found = (default, day_progress(shapes))
                with self._lock:
                    self._kept[key] = found
                    while len(self._kept) > self._KEEP:
                        self._kept.popitem(last=False)
            return found
        finally:
            gate.release()


_SHAPES = _ShapesByRelease()


def public_station_share_seen(
    engine: Engine,
    election: str,
    registry: Mapping[str, Any] | None,
    parsed: Sequence[Report],
    cutoff: datetime,
) -> ShareSeen | None:
    """The share of a station's day's arrivals seen by the time its door counts reach (the
    end of its latest count window, at most the release time ``cutoff``), for the ballots
    warning; None when the station has no schedule (its own, its hours or the election's).

    ``registry`` is the station's registry row (``timezone``, ``schedule``, ``hours``),
    ``parsed`` its reports received up to ``cutoff``. The curve is the election's own as of
    ``cutoff`` when enough stations were counted all day, else the prior
    (:func:`pollwatch.observe.queues.expected_share_seen`).
    """
    counts = [r for r in parsed if isinstance(r, CountReport)]
    # keyed by the bucket: a live caller (after the embargo) reuses one curve per bucket
    default, progress = _SHAPES.get(engine, election, coarse_time(cutoff))
    schedule = readable_station_schedule(registry, default, [r.window_start for r in counts])
    if schedule is None:
        return None
    moment = cutoff
    if counts:  # the counts say how many came up to their latest window's end
        moment = min(cutoff, max(r.window_end for r in counts))
    return share_seen_at(schedule, moment, progress)


def public_station_status(
    engine: Engine,
    election: str,
    station: str,
    now: datetime | None = None,
    *,
    delay_minutes: int = DEFAULT_DELAY_MINUTES,
) -> PublicStationStatus:
    """A station's public status as of the release time (the policy's rules).

    Reads the station's reports received up to the release time and which of its incidents
    are public; the ballots warning uses the share of the day seen
    (:func:`public_station_share_seen`). :class:`InputError` for a malformed station id,
    :class:`NotFoundError` for an unknown election or station.
    """
    now = now or utcnow()
    cutoff = release_cutoff(now, delay_minutes)
    check_station_id(station)  # a malformed id: InputError naming "station"
    with engine.connect() as conn:
        registry = conn.execute(
            select(
                stations.c.ballots_received, stations.c.timezone, stations.c.schedule,
                stations.c.hours,
            ).where(stations.c.election == election, stations.c.station == station)
        ).first()  # fmt: skip
        if registry is None:
            get_election(engine, election)
            raise NotFoundError(f"no station {station!r} in election {election!r}")
        rows = conn.execute(
            select(reports.c.canonical, reports.c.id, reports.c.public).where(
                reports.c.election == election,
                reports.c.station == station,
                reports.c.received_at <= cutoff,
            )
        ).all()
    parsed = [load_stored_report(row[0]) for row in rows]
    seen = None
    if parsed and registry[0] is not None:  # the warning needs both; spare the lookup
        own = {"timezone": registry[1], "schedule": registry[2], "hours": registry[3]}
        seen = public_station_share_seen(engine, election, own, parsed, cutoff)
    return derive_station_status(
        election,
        station,
        parsed,
        as_of=cutoff,
        ballots_received=registry[0],
        public_ids={row[1] for row in rows if row[2]},
        share_seen=None if seen is None else seen.share,
        shape_concentration=None if seen is None else seen.concentration,
    )
