"""The dashboard's merged per-station state, kept in the database (``station_state``).

A station's master record is a pure function of its reports and resolutions
(:func:`pollwatch.observe.merge_station_reports`); merging every station of an election
takes about a minute at a million reports. :class:`pollwatch.store.master_cache.MasterCache`
keeps the records in the process; this module keeps them in the database too, so that a
restarted process (or a second one) reads them back instead of merging again:

* one row per station: the record in the dashboard's form (:func:`dashboard_form`) with
  the opening hours its observers reported, as compact JSON; apart from it, so that each
  view decodes only what it shows, people entered per 15-minute slot (the activity chart),
  the open and resolved conflicts (the conflict list) and their number (the station
  table's total, summed in SQL); and the station's ``last_seq`` (``station_activity``)
  and a digest of its resolutions at the time of the merge;
* a row is used only while its ``last_seq`` and digest still match the station's: a late
  report or a new resolution makes it stale, and it is merged again — so a stored row can be
  late, never wrong;
* beside the record, the station's merge inputs (``inputs``: every report the record is
  merged from, as compact tuples, :func:`encode_inputs`), so that a station with new
  reports is brought up to date by reading only the reports after its ``last_seq`` and
  merging them with the stored ones — never its whole history again
  (:meth:`pollwatch.store.master_cache.MasterCache.refresh`); the column is read only for
  the stations being brought up to date;
* rows are written by whoever merged (a dashboard request, or the background step of
  :mod:`pollwatch.store.state_keeper` that follows the ingest writer), never inside a
  report's transaction: ingestion never waits for a merge. An upsert keeps the row with the
  highest ``last_seq``, so two processes that merged the same station agree.

The dashboard's form leaves out what the dashboard never shows and would make every row
large: the list of every report id, the incidents (the station page merges them itself),
and the report ids of each accepted count window.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from pollwatch.observe.master import Conflict, CountWindow, MasterRecord, ReportedValue, Resolution
from pollwatch.observe.reports import CountReport, Report, StatusReport
from pollwatch.store.engine import is_sqlite, write_transaction
from pollwatch.store.tables import station_state

__all__ = [
    "FORMAT",
    "ConflictView",
    "StoredState",
    "dashboard_form",
    "decode_conflicts",
    "decode_inputs",
    "decode_record",
    "decode_slots",
    "encode_conflicts",
    "encode_inputs",
    "encode_record",
    "encode_slots",
    "extend_inputs",
    "load_inputs",
    "load_state",
    "readable",
    "resolution_digest",
    "save_state",
    "state_summaries",
]

FORMAT = 1
"""The version of the records' JSON: a row written in another format is merged again."""

_FORMAT_PREFIX = f'{{"v":{FORMAT},'

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
_CHUNK = 500


def resolution_digest(chosen: Sequence[Resolution]) -> str:
    """A station's resolutions as one comparable string (a changed one makes a row stale).

    Empty for a station without resolutions; else the SHA-256 of their fields in order.
    """
    if not chosen:
        return ""
    key = [[r.field, r.value, r.by, r.note] for r in chosen]
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def dashboard_form(master: MasterRecord) -> MasterRecord:
    """The record without its report ids, incidents and count windows' report ids."""
    return dataclasses.replace(
        master,
        report_ids=(),
        incidents=(),
        # built directly: dataclasses.replace costs five times as much per window
        windows=tuple(
            CountWindow(w.start, w.end, w.entered, w.ballots_issued, ()) for w in master.windows
        ),
    )


def _us(moment: datetime | None) -> int | None:
    return None if moment is None else (moment - _EPOCH) // _MICRO


def _at(micros: int | None) -> datetime | None:
    return None if micros is None else _EPOCH + timedelta(microseconds=micros)


def _conflict(c: Conflict) -> list[Any]:
    return [c.field, [[v.report_id, v.value] for v in c.values]]


def _unconflict(item: Sequence[Any]) -> Conflict:
    return Conflict(item[0], tuple(ReportedValue(i, v) for i, v in item[1]))


def encode_record(master: MasterRecord, hours: tuple[datetime, datetime] | None) -> str:
    """Compact JSON of a record in the dashboard's form and its reported opening hours."""
    data = {
        "v": FORMAT,
        "f": dict(master.figures),
        "s": master.status,
        "sa": _us(master.status_at),
        "o": _us(master.opened_at),
        "c": _us(master.closed_at),
        "q": master.queue,
        "qa": _us(master.queue_at),
        "w": [[_us(w.start), _us(w.end), w.entered, w.ballots_issued] for w in master.windows],
        "x": [_conflict(c) for c in master.conflicts],
        "r": [[_conflict(c), r.field, r.value, r.by, r.note] for c, r in master.resolved],
        "z": [[r.field, r.value, r.by, r.note] for r in master.stale_resolutions],
        "h": None if hours is None else [_us(hours[0]), _us(hours[1])],
    }
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def readable(row: StoredState) -> bool:
    """Whether the row's record is in this version's format (checked without decoding it)."""
    return row.record is not None and row.record.startswith(_FORMAT_PREFIX)


def decode_record(
    text: str, election: str, station: str
) -> tuple[MasterRecord, tuple[datetime, datetime] | None]:
    """What :func:`encode_record` wrote: the record and the reported opening hours."""
    data = json.loads(text)
    at = _at
    windows = tuple(
        CountWindow(
            start=_EPOCH + timedelta(microseconds=s),
            end=_EPOCH + timedelta(microseconds=e),
            entered=n,
            ballots_issued=b,
            report_ids=(),
        )
        for s, e, n, b in data["w"]
    )
    conflicts, resolved = _conflicts_of(data)
    master = MasterRecord(
        election=election,
        station=station,
        report_ids=(),
        figures=MappingProxyType(data["f"]),
        status=data["s"],
        status_at=at(data["sa"]),
        opened_at=at(data["o"]),
        closed_at=at(data["c"]),
        queue=data["q"],
        queue_at=at(data["qa"]),
        windows=windows,
        incidents=(),
        conflicts=conflicts,
        resolved=resolved,
        stale_resolutions=tuple(Resolution(f, v, b, n) for f, v, b, n in data["z"]),
    )
    hours = None
    if data["h"] is not None:
        hours = (_EPOCH + data["h"][0] * _MICRO, _EPOCH + data["h"][1] * _MICRO)
    return master, hours


ConflictView = tuple[tuple[Conflict, ...], tuple[tuple[Conflict, Resolution], ...]]
"""A record's open conflicts and its resolved ones with their resolutions."""


def _conflicts_of(data: Mapping[str, Any]) -> ConflictView:
    return (
        tuple(_unconflict(c) for c in data["x"]),
        tuple((_unconflict(c), Resolution(f, v, b, n)) for c, f, v, b, n in data["r"]),
    )


def encode_conflicts(master: MasterRecord) -> str:
    """The record's open and resolved conflicts alone (empty when it has none), so the
    conflict list reads them without decoding whole records."""
    if not master.conflicts and not master.resolved:
        return ""
    data = {
        "x": [_conflict(c) for c in master.conflicts],
        "r": [[_conflict(c), r.field, r.value, r.by, r.note] for c, r in master.resolved],
    }
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def decode_conflicts(text: str) -> ConflictView:
    """What :func:`encode_conflicts` wrote."""
    return ((), ()) if not text else _conflicts_of(json.loads(text))


def encode_slots(slots: Mapping[int, float]) -> str:
    """People entered per 15-minute slot as compact JSON."""
    return json.dumps(sorted(slots.items()), separators=(",", ":"))


def decode_slots(text: str) -> dict[int, float]:
    """What :func:`encode_slots` wrote."""
    return dict(json.loads(text))  # [[slot, people], ...]: ints and numbers already


def _input(report: Report, canonical: str) -> list[Any]:
    if isinstance(report, CountReport):
        return [
            "c", report.id, _us(report.observed_at), _us(report.window_start),
            _us(report.window_end), report.entered, report.ballots_issued, report.queue,
            report.wait_minutes,
        ]  # fmt: skip
    if isinstance(report, StatusReport):
        return ["s", report.id, _us(report.observed_at), report.status, report.queue]
    return ["j", canonical]  # protocols and the rest: a few per station, parsed again


def encode_inputs(items: Iterable[tuple[Report, str]]) -> str:
    """The reports a record is merged from (each with its canonical JSON) as compact JSON.

    Counts and statuses (nearly all of them) become tuples rebuilt without parsing;
    other kinds keep their canonical JSON.
    """
    return json.dumps([_input(r, c) for r, c in items], separators=(",", ":"), ensure_ascii=False)


def extend_inputs(text: str, items: Sequence[tuple[Report, str]]) -> str:
    """``text`` (from :func:`encode_inputs`) with ``items`` appended, without decoding it."""
    if not items:
        return text
    more = encode_inputs(items)
    return more if text == "[]" else f"{text[:-1]},{more[1:]}"


def decode_inputs(
    text: str, election: str, station: str, parse: Callable[[str], Report]
) -> list[Report]:
    """The reports :func:`encode_inputs` wrote (``parse`` rebuilds a kept canonical JSON).

    Counts and statuses are rebuilt field by field, as their frozen dataclasses' own
    ``__init__`` would set them (neither validates in ``__post_init__``), and each instant
    is built once: this runs for every station a refresh brings up to date, so it is what
    a steady refresh costs (1.4 ms for 180 reports through the constructors, a third of it
    this way).
    """
    out: list[Report] = []
    moments: dict[int, datetime] = {}
    new = object.__new__
    epoch, micro = _EPOCH, _MICRO

    def at(micros: int) -> datetime:
        found = moments.get(micros)
        if found is None:
            found = moments[micros] = epoch + micros * micro
        return found

    for item in json.loads(text):
        kind = item[0]
        if kind == "c":
            count = new(CountReport)
            count.__dict__.update(
                id=item[1], election=election, station=station, observed_at=at(item[2]),
                window_start=at(item[3]), window_end=at(item[4]), entered=item[5],
                ballots_issued=item[6], queue=item[7], wait_minutes=item[8], kind="count",
            )  # fmt: skip
            out.append(count)
        elif kind == "s":
            status = new(StatusReport)
            status.__dict__.update(
                id=item[1], election=election, station=station, observed_at=at(item[2]),
                status=item[3], queue=item[4], kind="status",
            )  # fmt: skip
            out.append(status)
        else:
            out.append(parse(item[1]))
    return out


@dataclasses.dataclass(frozen=True)
class StoredState:
    """One ``station_state`` row."""

    station: str
    last_seq: int
    resolutions: str
    conflicts: int
    record: str | None = None  # None when only the summary was read
    slots: str | None = None
    conflict_list: str | None = None
    inputs: str | None = None  # None when not read (or written before the column existed)


def _rows(conn: Connection, election: str, stations: Sequence[str] | None, columns: Any) -> Any:
    table = station_state
    if stations is None or len(stations) > 4 * _CHUNK:
        query = select(*columns).where(table.c.election == election)
        wanted = None if stations is None else set(stations)
        for row in conn.execute(query):
            if wanted is None or row[0] in wanted:
                yield row
        return
    for first in range(0, len(stations), _CHUNK):
        chunk = list(stations[first : first + _CHUNK])
        query = select(*columns).where(table.c.election == election, table.c.station.in_(chunk))
        yield from conn.execute(query)


def load_state(
    engine: Engine, election: str, stations: Sequence[str] | None = None
) -> dict[str, StoredState]:
    """The stored rows of ``stations`` (all of the election's when None), by station."""
    t = station_state
    columns = (
        t.c.station, t.c.last_seq, t.c.resolutions, t.c.conflicts, t.c.record, t.c.slots,
        t.c.conflict_list,
    )  # fmt: skip
    with engine.connect() as conn:
        return {
            str(r[0]): StoredState(
                str(r[0]), int(r[1]), str(r[2]), int(r[3]), str(r[4]), str(r[5]), str(r[6])
            )
            for r in _rows(conn, election, stations, columns)
        }


def load_inputs(
    engine: Engine, election: str, stations: Sequence[str]
) -> dict[str, tuple[int, str, str]]:
    """The stored merge inputs of ``stations`` with the seq and resolution digest of their
    rows, by station (rows without inputs left out)."""
    t = station_state
    columns = (t.c.station, t.c.last_seq, t.c.resolutions, t.c.inputs)
    with engine.connect() as conn:
        return {
            str(r[0]): (int(r[1]), str(r[2]), str(r[3]))
            for r in _rows(conn, election, stations, columns)
            if r[3]
        }


def state_summaries(
    conn: Connection, election: str, stations: Sequence[str] | None = None
) -> dict[str, StoredState]:
    """The stored rows of ``stations`` (all of the election's when None) without their parts
    (seq, digest, open conflicts, and as ``record`` only the start :func:`readable` checks)."""
    t = station_state
    start = func.substr(t.c.record, 1, len(_FORMAT_PREFIX))
    columns = (t.c.station, t.c.last_seq, t.c.resolutions, t.c.conflicts, start)
    return {
        str(r[0]): StoredState(str(r[0]), int(r[1]), str(r[2]), int(r[3]), str(r[4]))
        for r in _rows(conn, election, stations, columns)
    }


@functools.lru_cache(maxsize=4)
def _upsert(dialect: str) -> Any:
    """Insert or replace a row, unless the stored one was merged at a later seq."""
    statement = (sqlite_insert if dialect == "sqlite" else postgresql_insert)(station_state)
    new, old = statement.excluded, station_state.c
    return statement.on_conflict_do_update(
        index_elements=[old.election, old.station],
        set_={
            "last_seq": new.last_seq,
            "resolutions": new.resolutions,
            "conflicts": new.conflicts,
            "record": new.record,
            "slots": new.slots,
            "conflict_list": new.conflict_list,
            "inputs": new.inputs,
        },
        where=old.last_seq <= new.last_seq,
    )


def save_state(engine: Engine, election: str, rows: Iterable[StoredState]) -> int:
    """Store merged rows (short transactions of at most 500 rows); returns rows written."""
    values = [
        {
            "election": election,
            "station": r.station,
            "last_seq": r.last_seq,
            "resolutions": r.resolutions,
            "conflicts": r.conflicts,
            "record": r.record,
            "slots": r.slots,
            "conflict_list": r.conflict_list,
            "inputs": r.inputs,
        }
        for r in rows
    ]
    statement = _upsert("sqlite" if is_sqlite(engine) else "postgresql")
    for first in range(0, len(values), _CHUNK):
        with write_transaction(engine) as conn:
            conn.execute(statement, values[first : first + _CHUNK])
    return len(values)
