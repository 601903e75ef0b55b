"""Problems voters report with a station's guide page: "the address is wrong", "it is closed".

The form is anonymous (no account) and the store keeps nothing about who sent it: the
station, a category of :data:`PROBLEM_CATEGORIES`, the text (at most
:data:`MAX_PROBLEM_TEXT` characters) and the *hour* it arrived — no address, no e-mail, no
browser, no exact time (a minute-exact time beside a server log would point at a person).

Why these limits. The text is for a correction ("the entrance is from the courtyard"), not
for a letter; 1,000 characters fit that on a phone. A station gets at most
:data:`MAX_PER_STATION_HOUR` reports an hour, whoever sends them: the web layer limits each
address, but an attacker with many addresses must not be able to bury a station's real
reports or fill the database; what is over the cap is refused (429), not stored.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from pollwatch.errors import Forbidden, InputError, NotFoundError, RateLimited
from pollwatch.observe.ids import check_election_id, check_station_id
from pollwatch.store._util import as_utc, format_stored, utcnow
from pollwatch.store.audit import record_audit
from pollwatch.store.elections import check_registered
from pollwatch.store.engine import write_transaction
from pollwatch.store.tables import guide_problems, stations

__all__ = [
    "MAX_PER_STATION_HOUR",
    "MAX_PROBLEM_TEXT",
    "PROBLEM_CATEGORIES",
    "coarse_hour",
    "list_problems",
    "mark_handled",
    "problem_station",
    "record_problem",
]

PROBLEM_CATEGORIES: tuple[str, ...] = (
    "address",
    "hours",
    "closed",
    "status",
    "guidance",
    "other",
)
"""What can be wrong with a station's page: its address or map, its opening hours, the
station is closed or moved, the live status, the guidance text, something else."""

MAX_PROBLEM_TEXT = 1000
MAX_PER_STATION_HOUR = 60


def coarse_hour(moment: datetime) -> datetime:
    """``moment`` floored to the hour, in UTC (what is stored of the arrival time)."""
    return as_utc(moment).replace(minute=0, second=0, microsecond=0)


def _clean_text(text: str) -> str:
    if len(text) > MAX_PROBLEM_TEXT:
        raise InputError(f"the text must be at most {MAX_PROBLEM_TEXT} characters", column="text")
    # control characters (other than new lines) have no place in a note to coordinators
    cleaned = "".join(c for c in text if c in "\n\t" or c.isprintable()).strip()
    if not cleaned:
        raise InputError("describe the problem in a few words", column="text")
    return cleaned


def problem_station(engine: Engine, election: str, station: str) -> dict[str, Any]:
    """The station a report is about (id, name, city, address); 404 if not in the registry."""
    check_election_id(election)
    check_station_id(station)
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(
                    stations.c.station, stations.c.name, stations.c.city, stations.c.address
                ).where(stations.c.election == election, stations.c.station == station)
            )
            .mappings()
            .first()
        )
    if row is None:
        raise NotFoundError(f"no station {station!r} in election {election!r}")
    return dict(row)


def record_problem(
    engine: Engine,
    election: str,
    station: str,
    category: str,
    text: str,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Store one anonymous problem report; returns it as :func:`list_problems` lists it.

    400 for a bad category or text, 404 for a station not in the election's registry,
    429 when the station has :data:`MAX_PER_STATION_HOUR` reports this hour already.
    """
    check_election_id(election)
    check_station_id(station)
    if category not in PROBLEM_CATEGORIES:
        raise InputError(
            f"'category' must be one of {', '.join(PROBLEM_CATEGORIES)}", column="category"
        )
    cleaned = _clean_text(text)
    hour = coarse_hour(now or utcnow())
    with write_transaction(engine) as conn:
        check_registered(conn, election, station)
        count = conn.execute(
            select(func.count()).where(
                guide_problems.c.election == election,
                guide_problems.c.station == station,
                guide_problems.c.received_hour == hour,
            )
        ).scalar_one()
        if count >= MAX_PER_STATION_HOUR:
            raise RateLimited(
                "this station has had many reports this hour; please try again later",
                retry_after=3600 - int((as_utc(now or utcnow()) - hour).total_seconds()),
            )
        new_id = conn.execute(
            insert(guide_problems)
            .values(
                election=election,
                station=station,
                category=category,
                text=cleaned,
                received_hour=hour,
            )
            .returning(guide_problems.c.id)
        ).scalar_one()
    return {
        "id": int(new_id),
        "station": station,
        "category": category,
        "text": cleaned,
        "received_hour": format_stored(hour),
        "handled_at": None,
        "handled_by": None,
    }


def _as_dict(r: Any) -> dict[str, Any]:
    return {
        "id": int(r["id"]),
        "station": r["station"],
        "category": r["category"],
        "text": r["text"],
        "received_hour": format_stored(as_utc(r["received_hour"])),
        "handled_at": format_stored(r["handled_at"]),
        "handled_by": r["handled_by"],
    }


def list_problems(
    engine: Engine,
    election: str,
    *,
    only: Collection[str] | None = None,
    limit: int = 500,
    handled: bool | None = None,
) -> list[dict[str, Any]]:
    """The newest problem reports of ``election`` first (``only`` these stations, if given;
    ``handled`` False: the open ones, True: the handled ones, None: all)."""
    check_election_id(election)
    query = (
        select(guide_problems)
        .where(guide_problems.c.election == election)
        .order_by(guide_problems.c.received_hour.desc(), guide_problems.c.id.desc())
    )
    if handled is not None:
        done = guide_problems.c.handled_at.is_not(None)
        query = query.where(done if handled else ~done)
    if only is None:
        query = query.limit(limit)
    found: list[dict[str, Any]] = []
    with engine.connect() as conn:
        # a narrowed scope filters here, not in SQL: its station set can be a whole country
        for r in conn.execute(query).mappings():
            if only is not None and r["station"] not in only:
                continue
            found.append(_as_dict(r))
            if len(found) >= limit:
                break
    return found


def mark_handled(
    engine: Engine,
    election: str,
    problem_id: int,
    *,
    actor: str,
    only: Collection[str] | None = None,
) -> dict[str, Any]:
    """Mark a report handled (idempotent: the first mark stays); audited under ``actor``.

    404 for a report not of this election; 403 when its station is not in ``only`` (a
    narrowed scope's stations).
    """
    check_election_id(election)
    key = (guide_problems.c.election == election) & (guide_problems.c.id == problem_id)
    with write_transaction(engine) as conn:
        row = conn.execute(select(guide_problems).where(key)).mappings().first()
        if row is None:
            raise NotFoundError(f"no problem report {problem_id} in election {election!r}")
        if only is not None and row["station"] not in only:
            raise Forbidden(
                f"station {row['station']!r} of election {election!r} is outside your scope"
            )
        if row["handled_at"] is None:
            conn.execute(
                update(guide_problems).where(key).values(handled_at=utcnow(), handled_by=actor)
            )
            record_audit(
                conn,
                actor,
                "guide.problems.handle",
                f"{election}/{row['station']}",
                {"id": problem_id},
            )
        return _as_dict(conn.execute(select(guide_problems).where(key)).mappings().one())
