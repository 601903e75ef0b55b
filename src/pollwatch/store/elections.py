"""Elections, their station registry and attached official results.

Imports are all-or-nothing: every row is validated first, and only a table without errors
is written, in one transaction. Errors name the file, row (line in the file, header is 1)
and column, like the official-results loaders do.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from pollwatch.errors import DataFormatError, InputError, NotFoundError
from pollwatch.observe.ids import check_election_id, check_station_id
from pollwatch.observe.schedule import check_timezone, parse_schedule, timezones_from_coordinates
from pollwatch.results import ElectionResults, read_table
from pollwatch.results.schema import COUNT_FIELDS
from pollwatch.store._util import utcnow
from pollwatch.store.engine import write_transaction
from pollwatch.store.tables import elections, official_results, stations

__all__ = [
    "STATION_COLUMNS",
    "ImportSummary",
    "attach_results",
    "create_election",
    "get_election",
    "import_stations",
    "list_elections",
    "list_stations",
    "official_row",
    "parse_stations",
    "read_station_file",
    "station_table",
]

STATION_COLUMNS: tuple[str, ...] = (
    "station",
    "name",
    "country",
    "city",
    "address",
    "lat",
    "lon",
    "registered",
    "ballots_received",
    "hours",
    "region",
    "timezone",
    "schedule",
)
"""Columns of a station registry file; only ``station`` is required. ``country`` and
``region`` are what coordinators' scopes narrow by (:mod:`pollwatch.observe.permissions`).

``timezone`` (IANA, e.g. ``Europe/Berlin``; looked up offline from ``lat``/``lon`` when
empty) and ``schedule`` (``2024-03-15 08:00-20:00; 2024-03-16 08:00-20:00``, local times,
one entry per voting day) say when the station is open (:mod:`pollwatch.observe.schedule`);
the free-text ``hours`` is read where it parses."""

_TEXT = ("name", "country", "city", "address", "hours", "region", "timezone", "schedule")
_INT = ("registered", "ballots_received")


@dataclass(frozen=True)
class ImportSummary:
    """What an import wrote: the election, rows added or updated, and the source."""

    election: str
    stations: int
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"election": self.election, "stations": self.stations, "source": self.source}


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
    }


def list_elections(engine: Engine) -> list[dict[str, Any]]:
    """All elections, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(select(elections.c.id).order_by(elections.c.created_at)).all()
    return [get_election(engine, r[0]) for r in rows]


def read_station_file(path: str | Path) -> list[dict[str, Any]]:
    """Read a station registry file (CSV in any container :func:`read_table` reads, or JSON).

    JSON is a list of objects (or ``{"stations": [...]}``); values are read as text so that
    :func:`parse_stations` validates both formats the same way.
    """
    p = Path(path)
    if p.suffix.lower() == ".json":
        if not p.is_file():
            raise NotFoundError(f"{p}: no such file")
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataFormatError(f"not readable JSON: {exc}", file=str(p)) from exc
        if isinstance(data, Mapping) and isinstance(data.get("stations"), list):
            data = data["stations"]
        if not isinstance(data, list) or not all(isinstance(r, Mapping) for r in data):
            raise DataFormatError("expected a JSON list of station objects", file=str(p))
        return [{str(k): "" if v is None else str(v) for k, v in r.items()} for r in data]
    frame = read_table(p)
    return [{str(k): str(v) for k, v in r.items()} for r in frame.to_dict("records")]


def parse_stations(
    rows: list[dict[str, Any]],
    *,
    mapping: Mapping[str, str] | None = None,
    file: str | None = None,
) -> list[dict[str, Any]]:
    """Validate registry rows; returns clean dicts (one per station) or raises on the first error.

    ``mapping`` maps our column name to the file's header (``{"station": "PS code"}``).
    Rows are numbered as lines of a CSV file (the header is row 1).
    """
    mapping = dict(mapping or {})
    for ours in mapping:
        if ours not in STATION_COLUMNS:
            raise InputError(
                f"unknown column {ours!r} in the mapping; columns are {', '.join(STATION_COLUMNS)}",
                column=ours,
            )
    headers = set(rows[0]) if rows else set()
    source = {col: mapping.get(col, col) for col in STATION_COLUMNS}
    if rows and source["station"] not in headers:
        raise DataFormatError(
            f"the required column {source['station']!r} is missing "
            f"(columns: {', '.join(sorted(headers))}); use --map station=HEADER",
            file=file,
            column=source["station"],
        )
    for col, header in mapping.items():
        if rows and header not in headers:
            raise DataFormatError(f"mapped column {header!r} ({col}) is not in the file", file=file)
    seen: dict[str, int] = {}
    clean: list[dict[str, Any]] = []
    zones = timezones_from_coordinates([_point(raw, source) for raw in rows])
    for i, raw in enumerate(rows, start=2):
        row: dict[str, Any] = {}
        for col in STATION_COLUMNS:
            value = str(raw.get(source[col], "") or "").strip()
            where = _Where(file, i, source[col])
            if col == "station":
                if not value:
                    raise where.error("the station id is empty")
                try:
                    check_station_id(value)
                except InputError as exc:
                    raise where.error(exc.reason) from None
                if value in seen:
                    raise where.error(f"station {value!r} repeats row {seen[value]}")
                seen[value] = i
                row[col] = value
            elif not value:
                row[col] = None
            elif col in _TEXT:
                if len(value) > 1000 or "\x00" in value:
                    raise where.error("text longer than 1000 characters or with NUL")
                row[col] = value
            elif col in _INT:
                try:
                    number = int(float(value)) if float(value).is_integer() else None
                except (ValueError, OverflowError):
                    number = None
                if number is None or number < 0 or number > 10_000_000:
                    raise where.error(f"expected a whole number ≥ 0; got {value!r}")
                row[col] = number
            else:  # lat, lon
                limit = 90.0 if col == "lat" else 180.0
                try:
                    coord = float(value)
                except ValueError:
                    coord = math.nan
                if not math.isfinite(coord) or abs(coord) > limit:
                    raise where.error(
                        f"expected a number between -{limit:g} and {limit:g}; got {value!r}"
                    )
                row[col] = coord
        if row["timezone"] is None and row["lat"] is not None and row["lon"] is not None:
            row["timezone"] = zones[i - 2]
        _check_schedule(
            row, _Where(file, i, source["schedule"]), _Where(file, i, source["timezone"])
        )
        clean.append(row)
    return clean


def _point(raw: Mapping[str, Any], source: Mapping[str, str]) -> tuple[float | None, float | None]:
    """A raw row's coordinates where both read as numbers (checked properly later)."""
    try:
        lat, lon = float(raw.get(source["lat"]) or "x"), float(raw.get(source["lon"]) or "x")
    except (TypeError, ValueError):
        return None, None
    return (lat, lon) if math.isfinite(lat) and math.isfinite(lon) else (None, None)


def _check_schedule(row: dict[str, Any], at_schedule: _Where, at_zone: _Where) -> None:
    """Validate a row's time zone (looked up already) and schedule."""
    if row["timezone"] is not None:
        try:
            check_timezone(row["timezone"])
        except InputError as exc:
            raise at_zone.error(exc.reason) from None
    if row["schedule"] is not None:
        if row["timezone"] is None:
            raise at_zone.error("a schedule needs the station's time zone (or its coordinates)")
        try:
            row["schedule"] = parse_schedule(row["schedule"], row["timezone"]).text()
        except InputError as exc:
            raise at_schedule.error(exc.reason) from None


@dataclass(frozen=True)
class _Where:
    file: str | None
    row: int
    column: str

    def error(self, message: str) -> InputError:
        return InputError(message, file=self.file, row=self.row, column=self.column)


def _upsert_stations(conn: Connection, election: str, rows: list[dict[str, Any]]) -> None:
    existing = {
        r[0]
        for r in conn.execute(select(stations.c.station).where(stations.c.election == election))
    }
    new = [{"election": election, **r} for r in rows if r["station"] not in existing]
    if new:
        conn.execute(insert(stations), new)
    for r in rows:
        if r["station"] in existing:
            values = {k: v for k, v in r.items() if k != "station"}
            conn.execute(
                update(stations)
                .where(stations.c.election == election, stations.c.station == r["station"])
                .values(**values)
            )


def import_stations(
    engine: Engine,
    election: str,
    source: str | Path | list[dict[str, Any]],
    *,
    mapping: Mapping[str, str] | None = None,
) -> ImportSummary:
    """Import (add or update) stations of an election from a file or rows, all-or-nothing.

    The election is created if unknown. Existing stations not in the file are kept.
    """
    if isinstance(source, list):
        rows, file = source, None
    else:
        rows, file = read_station_file(source), str(source)
    clean = parse_stations(rows, mapping=mapping, file=file)
    if not clean:
        raise InputError("the station file has no rows", file=file)
    with write_transaction(engine) as conn:
        _ensure(conn, election)
        _upsert_stations(conn, election, clean)
    return ImportSummary(election, len(clean), file or "rows")


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
