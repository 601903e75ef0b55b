"""Elections, their key dates, their station registry and attached official results.

Registry imports live in :mod:`pollwatch.store.registry` (re-exported here); attaching
official results is all-or-nothing: every row is validated first, and only a table without
errors is written, in one transaction.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from pollwatch.errors import InputError, NotFoundError
from pollwatch.observe.ids import check_election_id, check_station_id
from pollwatch.observe.schedule import check_timezone, parse_schedule
from pollwatch.results import ElectionResults
from pollwatch.results.schema import COUNT_FIELDS
from pollwatch.store._util import as_utc, format_stored, utcnow
from pollwatch.store.audit import record_audit
from pollwatch.store.engine import write_transaction
from pollwatch.store.registry import (
    STATION_COLUMNS,
    ImportSummary,
    import_stations,
    parse_stations,
    read_station_file,
)
from pollwatch.store.tables import elections, official_results, stations

__all__ = [
    "STATION_COLUMNS",
    "ImportSummary",
    "attach_results",
    "check_registered",
    "create_election",
    "election_key_dates",
    "get_election",
    "import_stations",
    "list_elections",
    "list_stations",
    "official_row",
    "parse_stations",
    "read_station_file",
    "set_registration_deadline",
    "set_schedule",
    "set_simulated",
    "station_table",
]


def create_election(
    engine: Engine,
    election: str,
    *,
    name: str | None = None,
    schedule: str | None = None,
    timezone: str | None = None,
) -> dict[str, Any]:
    """Create an election; :class:`InputError` if the id is malformed or exists already.

    ``schedule`` and ``timezone`` are the default opening hours of stations whose registry
    row has none (:mod:`pollwatch.observe.schedule`); estimates built on them say
    "assumed".
    """
    check_election_id(election)
    if (schedule is None) != (timezone is None):
        raise InputError("give the default schedule and its time zone together", column="schedule")
    text = (
        None if schedule is None or timezone is None else parse_schedule(schedule, timezone).text()
    )
    with write_transaction(engine) as conn:
        if conn.execute(select(elections.c.id).where(elections.c.id == election)).first():
            raise InputError(f"election {election!r} exists already", column="election")
        conn.execute(
            insert(elections).values(
                id=election,
                name=name or election,
                created_at=utcnow(),
                schedule=text,
                timezone=timezone,
            )
        )
    return get_election(engine, election)


def set_schedule(
    engine: Engine,
    election: str,
    schedule: str | None,
    timezone: str | None,
    *,
    actor: str,
) -> dict[str, Any]:
    """Replace (or, with both ``None``, clear) the election's default schedule after creation.

    The default is what stations without a schedule of their own are assumed to keep
    (estimates built on it say "assumed"); it is parsed with
    :func:`pollwatch.observe.schedule.parse_schedule`, the import format, so that a typo is
    refused here rather than turning every such station's estimate into "no schedule".
    Audited as ``election.schedule``. Returns :func:`election_key_dates`.
    """
    get_election(engine, election)
    if (schedule is None) != (timezone is None):
        raise InputError("give the default schedule and its time zone together", column="schedule")
    text = zone = None
    if schedule is not None and timezone is not None:
        zone = check_timezone(timezone.strip())
        text = parse_schedule(schedule, zone).text()
    with write_transaction(engine) as conn:
        conn.execute(
            update(elections).where(elections.c.id == election).values(schedule=text, timezone=zone)
        )
        record_audit(
            conn,
            actor,
            "election.schedule",
            election,
            {"schedule": text, "timezone": zone},
        )
    return election_key_dates(engine, election)


_DEADLINE = re.compile(r"\s*(\d{4}-\d{2}-\d{2})[ T](\d{1,2}):(\d{2})\s*")


def set_registration_deadline(
    engine: Engine,
    election: str,
    deadline: str | None,
    timezone: str | None,
    *,
    actor: str,
) -> dict[str, Any]:
    """Set (or, with ``None``/empty, clear) when voter registration closes.

    ``deadline`` is a local time ``YYYY-MM-DD HH:MM`` in the IANA ``timezone`` (the one the
    authority announced it in, e.g. ``Europe/Moscow``); it is stored as UTC with that zone,
    which is the zone the voter guide shows it in. Audited as ``election.key_dates``.
    Returns :func:`election_key_dates`.
    """
    get_election(engine, election)
    moment: datetime | None = None
    zone: str | None = None
    if deadline and deadline.strip():
        if not timezone:
            raise InputError("the deadline needs its time zone", column="registration_timezone")
        zone = check_timezone(timezone.strip())
        match = _DEADLINE.fullmatch(deadline[:40])
        if match is None:
            raise InputError(
                f"write the deadline as 'YYYY-MM-DD HH:MM'; got {deadline[:40]!r}",
                column="registration_deadline",
            )
        try:
            local = datetime.fromisoformat(f"{match[1]}T{int(match[2]):02d}:{match[3]}")
        except ValueError:
            raise InputError(
                f"{deadline[:40]!r} is not a date and time of day", column="registration_deadline"
            ) from None
        if not 2000 <= local.year <= 2100:
            raise InputError(
                "the deadline's year must be 2000–2100", column="registration_deadline"
            )
        moment = local.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    with write_transaction(engine) as conn:
        conn.execute(
            update(elections)
            .where(elections.c.id == election)
            .values(registration_deadline=moment, registration_timezone=zone)
        )
        record_audit(
            conn,
            actor,
            "election.key_dates",
            election,
            {"registration_deadline": format_stored(moment), "timezone": zone},
        )
    return election_key_dates(engine, election)


def election_key_dates(engine: Engine, election: str) -> dict[str, Any]:
    """The dates the voter guide is built around (:mod:`pollwatch.guide.cards`).

    ``registration_deadline`` (ISO UTC or ``None``) with the ``registration_timezone`` it is
    shown in; the election's default ``schedule`` and its ``timezone`` (the voting days, in
    the :mod:`pollwatch.observe.schedule` format; stations may have their own).
    """
    check_election_id(election)
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(
                    elections.c.registration_deadline,
                    elections.c.registration_timezone,
                    elections.c.schedule,
                    elections.c.timezone,
                ).where(elections.c.id == election)
            )
            .mappings()
            .first()
        )
    if row is None:
        raise NotFoundError(f"no election {election!r}")
    deadline = row["registration_deadline"]
    return {
        "registration_deadline": None if deadline is None else format_stored(as_utc(deadline)),
        "registration_timezone": row["registration_timezone"],
        "schedule": row["schedule"],
        "timezone": row["timezone"],
    }


def _ensure(conn: Connection, election: str, name: str | None = None) -> None:
    check_election_id(election)
    if not conn.execute(select(elections.c.id).where(elections.c.id == election)).first():
        conn.execute(
            insert(elections).values(id=election, name=name or election, created_at=utcnow())
        )


def get_election(engine: Engine, election: str) -> dict[str, Any]:
    """One election as a dict (id, name, created_at, stations).

    :class:`InputError` if the id is malformed (:mod:`pollwatch.observe.ids`),
    :class:`NotFoundError` if no such election exists.
    """
    check_election_id(election)
    with engine.connect() as conn:
        row = conn.execute(select(elections).where(elections.c.id == election)).mappings().first()
        if row is None:
            raise NotFoundError(f"no election {election!r}")
        count = conn.execute(
            select(func.count()).select_from(stations).where(stations.c.election == election)
        ).scalar_one()
    return {
        "id": row["id"],
        "name": row["name"],
        "created_at": row["created_at"].isoformat(),
        "stations": count,
        "simulated": bool(row["simulated"]),
    }


def list_elections(engine: Engine) -> list[dict[str, Any]]:
    """All elections, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(select(elections.c.id).order_by(elections.c.created_at)).all()
    return [get_election(engine, r[0]) for r in rows]


def check_registered(conn: Connection, election: str, station: str) -> None:
    """:class:`NotFoundError` unless ``station`` is in the election's registry: the one 404
    of a change aimed at a station (a roster, a resolution, a voter's problem report)."""
    known = conn.execute(
        select(stations.c.station).where(
            stations.c.election == election, stations.c.station == station
        )
    ).first()
    if known is None:
        raise NotFoundError(f"no station {station!r} in election {election!r}")


def list_stations(engine: Engine, election: str) -> list[dict[str, Any]]:
    """The station registry of an election, ordered by station id."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(stations).where(stations.c.election == election).order_by(stations.c.station)
        ).mappings()
        return [{k: v for k, v in r.items() if k != "election"} for r in rows]


def _json_int(value: Any) -> int:
    return int(value)


def attach_results(
    engine: Engine, election: str, results: ElectionResults, *, abroad_only: bool = False
) -> ImportSummary:
    """Attach official results to an election: one figures row per station, all-or-nothing.

    Stations missing from the registry are added (id, name, registered, ballots received);
    earlier official figures of the election are replaced. Station ids must be unique in
    what is attached (CEC numbers repeat across regions: attach one region, or the stations
    abroad, at a time).
    """
    frame: pd.DataFrame = results.stations
    if abroad_only:
        if "abroad" not in frame.columns:
            raise InputError("these results have no 'abroad' flag", column="abroad")
        frame = frame[frame["abroad"].astype(bool)]
    if frame.empty:
        raise InputError("no stations to attach", file=results.source or None)
    ids = frame["station"].astype(str)
    dupes = ids[ids.duplicated()]
    if not dupes.empty:
        raise InputError(
            f"station id {dupes.iloc[0]!r} appears more than once (station numbers repeat "
            "across regions); attach one region or the stations abroad at a time",
            file=results.source or None,
            column="station",
        )
    counts = [f for f in COUNT_FIELDS if f in frame.columns]
    figure_rows: list[dict[str, Any]] = []
    registry: list[dict[str, Any]] = []
    for record in frame.to_dict("records"):
        station = check_station_id(str(record["station"]))
        figures: dict[str, Any] = {f: _json_int(record[f]) for f in counts}
        figures["votes"] = {c: _json_int(record[c]) for c in results.candidates}
        for key in ("region", "district", "station_name"):
            if key in record and str(record[key]):
                figures[key] = str(record[key])
        figure_rows.append({"election": election, "station": station, "figures": figures})
        registry.append(
            {
                "station": station,
                "name": str(record.get("station_name") or record.get("district") or "") or None,
                "registered": figures.get("registered"),
                "ballots_received": figures.get("ballots_received"),
                "region": figures.get("region"),
            }
        )
    with write_transaction(engine) as conn:
        _ensure(conn, election, results.name or None)
        conn.execute(
            update(elections)
            .where(elections.c.id == election)
            .values(candidates=list(results.candidates))
        )
        known = {
            r[0]
            for r in conn.execute(select(stations.c.station).where(stations.c.election == election))
        }
        missing = [
            {
                "election": election,
                "station": r["station"],
                "name": r["name"],
                "registered": r["registered"],
                "ballots_received": r["ballots_received"],
                "region": r["region"],
            }
            for r in registry
            if r["station"] not in known
        ]
        if missing:
            conn.execute(insert(stations), missing)
        conn.execute(delete(official_results).where(official_results.c.election == election))
        conn.execute(insert(official_results), figure_rows)
    return ImportSummary(election, len(figure_rows), results.source)


def official_row(engine: Engine, election: str, station: str) -> dict[str, Any] | None:
    """The official figures of one station (``None`` when none are attached)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(official_results.c.figures).where(
                official_results.c.election == election, official_results.c.station == station
            )
        ).first()
    return dict(row[0]) if row else None


def station_table(engine: Engine, election: str) -> pd.DataFrame:
    """The station registry as a table, with ``region`` and ``district`` from official results.

    One row per station (the registry's columns); the sampling frame of a quick count. The
    registry's own ``region`` wins over the official results' one.
    """
    get_election(engine, election)
    registry = pd.DataFrame(list_stations(engine, election), columns=list(STATION_COLUMNS))
    with engine.connect() as conn:
        rows = conn.execute(
            select(official_results.c.station, official_results.c.figures).where(
                official_results.c.election == election
            )
        ).all()
    extra = pd.DataFrame(
        [
            {"station": r[0], "_region": r[1].get("region"), "district": r[1].get("district")}
            for r in rows
        ],
        columns=["station", "_region", "district"],
    )
    merged = registry.merge(extra, on="station", how="left")
    merged["region"] = merged["region"].where(merged["region"].notna(), merged.pop("_region"))
    return merged


def set_simulated(engine: Engine, election: str, simulated: bool = True, *, by: str) -> None:
    """Mark an election as simulated (every page of it then says so); audited."""
    get_election(engine, election)
    with write_transaction(engine) as conn:
        conn.execute(
            update(elections).where(elections.c.id == election).values(simulated=simulated)
        )
        record_audit(conn, by, "election.simulated", election, {"simulated": simulated})
