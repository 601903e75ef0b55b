"""Storing reports: idempotent, durable, appended to the election's hash-chained ledger.

:func:`store_prepared` stores a batch of validated reports (:func:`prepare_report`) in ONE
write transaction: looks the ids up (same sender and canonical JSON → the stored report, a
retry; different JSON, or an id another sender stored → :class:`ConflictError`, which says
nothing about the stored report or its author: ids are public in the ledger), inserts the
new reports, appends their ledger entries (format version 2: each hash covers the previous
entry's hash, ``recorded_at`` and salted commitments of the report's fields, whose salts are
stored with the entry) and updates the stations' activity counters. The transaction commits
before the caller acknowledges, so a 2xx answer means the report is on disk (SQLite
``synchronous=FULL``; PostgreSQL's default ``synchronous_commit=on``). Batching is what
makes this fast: one commit (one fsync) for many reports — the web service's group-commit
writer (:mod:`pollwatch.store.ingest`) feeds it the reports of concurrent requests.
:func:`store_report` is the one-report API on top.

Ledger appends are serialised per election: ``BEGIN IMMEDIATE`` on SQLite (one writer at a
time), ``SELECT ... FOR UPDATE`` on the election rows on PostgreSQL, taken in sorted order
(several server processes may write at once; the row locks order them without deadlocks).
The ledger's primary key ``(election, seq)`` would refuse a duplicate seq even if that were
ever wrong.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

import pandas as pd
from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Table,
    case,
    delete,
    func,
    insert,
    literal_column,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError

from pollwatch.errors import ConflictError, Forbidden, InputError, NotFoundError, PollwatchError
from pollwatch.observe.activity import SLOT_SECONDS
from pollwatch.observe.ledger import GENESIS, LedgerEntry, new_salts, seal_entry
from pollwatch.observe.publication import withheld_fields
from pollwatch.observe.reports import (
    Report,
    StatusReport,
    canonical_json,
    format_timestamp,
    parse_report,
)
from pollwatch.store._util import as_utc, utcnow
from pollwatch.store.checklists import checklist_errors
from pollwatch.store.engine import is_sqlite, write_transaction
from pollwatch.store.people import Observer
from pollwatch.store.tables import (
    activity_slots,
    elections,
    ledger,
    observers,
    photos,
    reports,
    station_activity,
    stations,
)

__all__ = [
    "EXPORT_COLUMNS",
    "Outcome",
    "PreparedReport",
    "StoredReport",
    "export_ledger_lines",
    "export_reports",
    "get_report",
    "ledger_head",
    "list_reports",
    "prepare_report",
    "rebuild_activity",
    "reports_to_bytes",
    "store_prepared",
    "store_report",
    "store_reports",
]

EXPORT_COLUMNS: tuple[str, ...] = (
    "id",
    "election",
    "station",
    "kind",
    "observed_at",
    "received_at",
    "ledger_seq",
    "ledger_hash",
    "window_start",
    "window_end",
    "entered",
    "ballots_issued",
    "queue",
    "wait_minutes",
    "category",
    "text",
    "status",
    "figures",
    "checklist",
    "version",
    "answers",
    "photo",
    "withheld",
)
"""Columns of the reports export, one row per accepted report: no token, no observer code
name, no personal data. Coordinators only until the election's embargo ends, then open data
with the withheld fields empty and named in ``withheld`` (:mod:`pollwatch.observe.publication`)."""

_INT_COLUMNS = ("ledger_seq", "entered", "ballots_issued", "queue", "wait_minutes", "version")


@dataclass(frozen=True)
class StoredReport:
    """A stored report and whether this call created it (``False``: an identical retry)."""

    created: bool
    report: dict[str, Any]

    @property
    def status(self) -> int:
        """The HTTP status of the answer: 201 created, 200 identical retry."""
        return 201 if self.created else 200


def _public(row: Any, observer: str | None) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(row["canonical"])
    data["received_at"] = format_timestamp(as_utc(row["received_at"]))
    data["observer"] = observer
    data["ledger"] = {"seq": int(row["seq"]), "hash": row["hash"]}
    return data


def _select_full() -> Any:
    return (
        select(
            reports.c.id,
            reports.c.canonical,
            reports.c.received_at,
            reports.c.observer_id,
            ledger.c.seq,
            ledger.c.hash,
            observers.c.code_name,
        )
        .join(ledger, ledger.c.report_id == reports.c.id)
        .outerjoin(observers, observers.c.id == reports.c.observer_id)
    )


def _existing(conn: Connection, report_id: str) -> Any:
    return conn.execute(_select_full().where(reports.c.id == report_id)).mappings().first()


def _head(conn: Connection, election: str) -> LedgerEntry | None:
    row = (
        conn.execute(
            select(ledger)
            .where(ledger.c.election == election)
            .order_by(ledger.c.seq.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return None if row is None else _entry_of(row)


def _entry_of(row: Any) -> LedgerEntry:
    """A ledger row (a mapping) as the entry the next one chains to (without the report)."""
    return LedgerEntry(
        seq=int(row["seq"]),
        report_id=str(row["report_id"]),
        prev_hash=str(row["prev_hash"]),
        hash=str(row["hash"]),
        recorded_at=str(row["recorded_at"]),
        report={},
        version=int(row["version"]),
    )


def _sender_id(observer: Observer | None) -> int | None:
    return observer.id if observer is not None else None


def _not_yours(report_id: str) -> ConflictError:
    """The answer to an id that another sender stored: nothing about the report or its author.

    Report ids are public (the ledger carries them), so answering a stranger's retry with
    the stored report would hand out the author's code name and tie it to a station.
    """
    return ConflictError(
        f"report id {report_id} belongs to another report; send a new report with a new id"
    )


def _answer_existing(row: Any, item: PreparedReport) -> StoredReport:
    """A stored id seen again: the sender's own retry (200), or a conflict (409)."""
    if row["observer_id"] != _sender_id(item.observer):
        raise _not_yours(str(row["id"]))
    if row["canonical"] != item.canonical:
        raise ConflictError(
            f"report {row['id']} was already received with a different body; "
            "a changed report needs a new id"
        )
    return StoredReport(False, _public(row, row["code_name"]))


_KIND_COUNTERS = {"count": "counts", "incident": "incidents", "protocol": "protocols"}


def _activity_values(
    current: Mapping[str, Any] | None, report: Report, received_at: datetime, seq: int
) -> dict[str, Any]:
    """The station's activity counters after one more accepted report (a pure step)."""
    row: dict[str, Any] = (
        dict(current)
        if current is not None
        else {
            "reports": 0,
            "counts": 0,
            "incidents": 0,
            "protocols": 0,
            "status": None,
            "status_at": None,
            "queue": None,
            "queue_at": None,
        }
    )
    row.pop("election", None)
    row.pop("station", None)
    row["reports"] += 1
    counter = _KIND_COUNTERS.get(report.kind)
    if counter is not None:
        row[counter] += 1
    row["last_report_at"] = received_at
    row["last_seq"] = seq
    observed = report.observed_at
    if isinstance(report, StatusReport) and (
        row["status_at"] is None or as_utc(row["status_at"]) <= observed
    ):
        row["status"], row["status_at"] = report.status, observed
    queue = getattr(report, "queue", None)
    if queue is not None and (row["queue_at"] is None or as_utc(row["queue_at"]) <= observed):
        row["queue"], row["queue_at"] = queue, observed
    return row


def _apply_activity(
    conn: Connection, accepted: Sequence[tuple[Report, int]], received_at: datetime, sqlite: bool
) -> None:
    """Fold a batch's accepted reports into their stations' activity rows (same transaction).

    The batch is first folded per station from zero (:func:`_activity_values`, in ledger
    order), then merged into the stored rows by one upsert: counters add up, the last
    entry is the batch's, and status and queue are replaced only by ones observed at the
    same time or later — what folding the reports one by one onto the stored row gives.
    No row is read back.
    """
    folded: dict[tuple[str, str], dict[str, Any]] = {}
    for report, seq in accepted:
        key = (report.election, report.station)
        folded[key] = _activity_values(folded.get(key), report, received_at, seq)
    rows = [{"election": e, "station": s, **values} for (e, s), values in folded.items()]
    dialect = "sqlite" if sqlite else "postgresql"
    _insert_rows(conn, _activity_upsert(dialect), rows, sqlite)
    slots: dict[tuple[str, int], list[int]] = {}
    for report, _seq in accepted:
        slot = int(report.observed_at.timestamp()) // SLOT_SECONDS
        cell = slots.setdefault((report.election, slot), [0, 0])
        cell[0] += 1
        cell[1] += report.kind == "incident"
    _insert_rows(
        conn,
        _slots_upsert(dialect),
        [
            {"election": e, "slot": slot, "reports": n, "incidents": i}
            for (e, slot), (n, i) in sorted(slots.items())
        ],
        sqlite,
    )


def _insert_rows(
    conn: Connection, statement: Any, rows: Sequence[Mapping[str, Any]], sqlite: bool
) -> None:
    """Run an INSERT (or upsert) of ``rows`` in one statement.

    SQLite: the driver's ``executemany`` (one prepared statement stepped per row, inside
    the process). PostgreSQL: ``statement`` comes from :func:`_pg_rows_insert` and gets the
    rows as ONE JSON array (``INSERT ... SELECT ... FROM json_populate_recordset(...)``):
    the same SQL text for any number of rows, so psycopg parses it once, the server
    prepares it once, and it travels as one message. ``executemany`` sent one INSERT per
    row (300 per batch of 100 reports, each waking the server); a multi-row ``VALUES``
    list is new SQL text for every batch size (parsed again by psycopg each time: twice
    the writer's CPU), and array parameters cost as much to encode in pure-Python psycopg.
    """
    if not rows:
        return
    if sqlite:
        conn.execute(statement, list(rows))
        return
    conn.execute(statement, {"rows": json.dumps(rows, default=_json_value)})


def _json_value(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def _pg_rows_insert(table: Table, names: Sequence[str]) -> Any:
    """``INSERT INTO table (names) SELECT names FROM json_populate_recordset(...)``: the
    rows come as one JSON array parameter ``rows`` and the server turns each object into a
    row of the table's type (PostgreSQL)."""
    rows = text(f"json_populate_recordset(CAST(NULL AS {table.name}), CAST(:rows AS json))")
    return postgresql_insert(table).from_select(
        list(names), select(*(literal_column(name) for name in names)).select_from(rows)
    )


_REPORT_COLUMNS = (
    "id",
    "election",
    "station",
    "observer_id",
    "kind",
    "observed_at",
    "received_at",
    "canonical",
    "body",
)
_LEDGER_COLUMNS = (
    "election",
    "seq",
    "report_id",
    "prev_hash",
    "hash",
    "recorded_at",
    "version",
    "salts",
)
_ACTIVITY_COLUMNS = (
    "election",
    "station",
    "reports",
    "counts",
    "incidents",
    "protocols",
    "status",
    "status_at",
    "queue",
    "queue_at",
    "last_report_at",
    "last_seq",
)


@functools.lru_cache(maxsize=8)
def _plain_insert(table_name: str, sqlite: bool) -> Any:
    """The batch's INSERT into ``reports`` or ``ledger`` (see :func:`_insert_rows`)."""
    table = {"reports": reports, "ledger": ledger}[table_name]
    if sqlite:
        return insert(table)
    names = _REPORT_COLUMNS if table is reports else _LEDGER_COLUMNS
    return _pg_rows_insert(table, names)


@functools.lru_cache(maxsize=4)
def _slots_upsert(dialect: str) -> Any:
    """The per-slot activity upsert: reports and incidents add up."""
    if dialect == "sqlite":
        statement = sqlite_insert(activity_slots)
    else:
        statement = _pg_rows_insert(activity_slots, ("election", "slot", "reports", "incidents"))
    new, old = statement.excluded, activity_slots.c
    return statement.on_conflict_do_update(
        index_elements=[old.election, old.slot],
        set_={"reports": old.reports + new.reports, "incidents": old.incidents + new.incidents},
    )


def _slot_of(engine: Engine, column: Any) -> Any:
    """The 15-minute UTC slot of a timestamp column, in SQL (as the batch computes it)."""
    if is_sqlite(engine):  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff', UTC
        return func.cast(func.strftime("%s", column), BigInteger) // SLOT_SECONDS
    return func.cast(func.floor(func.extract("epoch", column) / SLOT_SECONDS), BigInteger)


_COUNTER_COLUMNS = ("reports", "counts", "incidents", "protocols")


def _latest(election: str, condition: Any, order: tuple[Any, ...], *columns: Any) -> Any:
    """Per station, ``columns`` of the first report by ``order`` among those matching."""
    ranked = (
        select(
            reports.c.station,
            *columns,
            func.row_number().over(partition_by=reports.c.station, order_by=order).label("rank"),
        )
        .select_from(reports.join(ledger, ledger.c.report_id == reports.c.id))
        .where(reports.c.election == election, condition)
        .subquery()
    )
    return select(ranked).where(ranked.c.rank == 1)


def rebuild_activity(engine: Engine, election: str) -> int:
    """Recompute the election's station activity counters (and its reports and incidents per
    15-minute slot, ``activity_slots``) from its reports; returns stations.

    The counters are a cache kept in each report's transaction; this rebuilds them after a
    bulk load or a manual repair with four aggregate queries (counts per kind; per station
    the last ledger entry, the latest-observed status and the latest-observed queue, ties
    going to the later ledger entry — the same rule as :func:`_activity_values` applied in
    ledger order), so a million reports take seconds, not a Python loop over every body.
    """
    kind = reports.c.kind
    joined = reports.join(ledger, ledger.c.report_id == reports.c.id)
    totals = (
        select(
            reports.c.station,
            func.count().label("reports"),
            *(
                func.sum(case((kind == name, 1), else_=0)).label(counter)
                for name, counter in _KIND_COUNTERS.items()
            ),
        )
        .select_from(joined)
        .where(reports.c.election == election)
        .group_by(reports.c.station)
    )
    last = _latest(
        election,
        true(),
        (ledger.c.seq.desc(),),
        ledger.c.seq.label("last_seq"),
        reports.c.received_at.label("last_report_at"),
    )
    newest = (reports.c.observed_at.desc(), ledger.c.seq.desc())
    status = reports.c.body["status"].as_string()
    queue = reports.c.body["queue"].as_integer()
    statuses = _latest(
        election,
        kind == "status",
        newest,
        status.label("status"),
        reports.c.observed_at.label("status_at"),
    )
    queues = _latest(
        election,
        kind.in_(("count", "status")) & queue.is_not(None),
        newest,
        queue.label("queue"),
        reports.c.observed_at.label("queue_at"),
    )
    with write_transaction(engine) as conn:
        conn.execute(delete(station_activity).where(station_activity.c.election == election))
        rows: dict[str, dict[str, Any]] = {}
        for row in conn.execute(totals).mappings():
            rows[row["station"]] = {
                "election": election,
                "station": row["station"],
                "reports": int(row["reports"]),
                **{counter: int(row[counter] or 0) for counter in _KIND_COUNTERS.values()},
                "status": None,
                "status_at": None,
                "queue": None,
                "queue_at": None,
            }
        for row in conn.execute(last).mappings():
            rows[row["station"]]["last_seq"] = int(row["last_seq"])
            rows[row["station"]]["last_report_at"] = row["last_report_at"]
        for row in conn.execute(statuses).mappings():
            rows[row["station"]].update(status=row["status"], status_at=row["status_at"])
        for row in conn.execute(queues).mappings():
            rows[row["station"]].update(queue=int(row["queue"]), queue_at=row["queue_at"])
        if rows:
            values = list(rows.values())
            for first in range(0, len(values), 5000):
                conn.execute(insert(station_activity), values[first : first + 5000])
        conn.execute(delete(activity_slots).where(activity_slots.c.election == election))
        slot = _slot_of(engine, reports.c.observed_at)
        per_slot = (
            select(
                slot.label("slot"),
                func.count().label("reports"),
                func.sum(case((kind == "incident", 1), else_=0)).label("incidents"),
            )
            .where(reports.c.election == election)
            .group_by(slot)
        )
        slot_rows = [
            {"election": election, "slot": int(r[0]), "reports": int(r[1]), "incidents": int(r[2])}
            for r in conn.execute(per_slot)
        ]
        if slot_rows:
            conn.execute(insert(activity_slots), slot_rows)
    return len(rows)


@dataclass(frozen=True)
class PreparedReport:
    """A validated report ready to store: the model, its canonical JSON and its sender.

    :func:`prepare_report` makes it outside any transaction (validation is the slow, pure
    part), so a writer can store many at once with :func:`store_prepared`.
    """

    report: Report
    canonical: str
    observer: Observer | None


def prepare_report(
    payload: Mapping[str, Any], *, observer: Observer | None, now: datetime | None = None
) -> PreparedReport:
    """Validate a body and check the observer may send it (no database access).

    Raises :class:`InputError` naming the field, or :class:`Forbidden` when an observer
    reports on another election or, when bound to stations, on another station.
    """
    report = parse_report(payload, now=now or utcnow())
    if observer is not None and not observer.may_report(report.election, report.station):
        raise Forbidden(
            f"this observer may not report on station {report.station!r} "
            f"of election {report.election!r}"
        )
    return PreparedReport(report, canonical_json(report), observer)


Outcome: TypeAlias = StoredReport | PollwatchError
"""What storing one report gave: the stored report, or the error to answer with."""


_Reads: TypeAlias = tuple[set[str], dict[str, Any], dict[str, LedgerEntry | None]]
"""What a batch reads before deciding: known elections (locked), stored rows of its ids
(:func:`_select_full`), and each known election's ledger head."""


def _read_batch(
    conn: Connection, items: Sequence[PreparedReport], registered: set[tuple[str, str]]
) -> _Reads:
    """The batch's reads one statement at a time (SQLite: in the process, under the write
    lock that ``BEGIN IMMEDIATE`` took); adds the batch's new registered stations to
    ``registered``."""
    known = {
        election
        for election in sorted({item.report.election for item in items})
        if conn.execute(select(elections.c.id).where(elections.c.id == election)).first()
    }
    ids = sorted({item.report.id for item in items})
    existing = {
        row["id"]: row
        for row in conn.execute(_select_full().where(reports.c.id.in_(ids))).mappings()
    }
    heads: dict[str, LedgerEntry | None] = {}
    for election in sorted(known):
        names = sorted(
            {
                i.report.station
                for i in items
                if i.report.election == election and (election, i.report.station) not in registered
            }
        )
        if names:
            registered.update(
                (election, row[0])
                for row in conn.execute(
                    select(stations.c.station).where(
                        stations.c.election == election, stations.c.station.in_(names)
                    )
                )
            )
        heads[election] = _head(conn, election)
    return known, existing, heads


_PG_STATIONS = """
SELECT s.election, s.station
FROM stations AS s
JOIN json_to_recordset(CAST(%(pairs)s AS json)) AS wanted(election text, station text)
  ON s.election = wanted.election AND s.station = wanted.station
"""
_PG_LOCK = """
SELECT id FROM elections
WHERE id IN (SELECT json_array_elements_text(CAST(%(elections)s AS json)))
ORDER BY id FOR UPDATE
"""
_PG_HEADS = """
SELECT head.*
FROM json_array_elements_text(CAST(%(elections)s AS json)) AS wanted(election)
CROSS JOIN LATERAL (
  SELECT * FROM ledger WHERE ledger.election = wanted.election ORDER BY seq DESC LIMIT 1
) AS head
"""


@functools.lru_cache(maxsize=2)
def _pg_existing_sql(dialect: Any) -> str:
    """:func:`_select_full` for the ids of a JSON array ``%(ids)s``, as psycopg SQL."""
    wanted = text("SELECT json_array_elements_text(CAST(:ids AS json))").columns(
        literal_column("value")
    )
    return str(_select_full().where(reports.c.id.in_(wanted)).compile(dialect=dialect))


def _pg_read_batch(
    conn: Connection, items: Sequence[PreparedReport], registered: set[tuple[str, str]]
) -> _Reads:
    """The batch's reads in ONE round trip (PostgreSQL pipeline mode), as :func:`_read_batch`.

    In order on the server: lock the elections' rows (sorted: concurrent writers cannot
    deadlock), then read the stored ids and the ledger heads (after the lock, so they see
    what the previous holder committed), and the stations not yet known. Every parameter
    is one JSON array, so each statement's text is the same for any batch and is prepared
    once. Four statements one after the other cost four waits for the server's process
    and then the writer's to be scheduled: on a busy machine the larger part of a batch.
    """
    names = json.dumps(sorted({item.report.election for item in items}))
    wanted = sorted({(i.report.election, i.report.station) for i in items} - registered)
    queries: list[tuple[str, dict[str, str]]] = [
        (_PG_LOCK, {"elections": names}),
        (_pg_existing_sql(conn.dialect), {"ids": json.dumps(sorted({i.report.id for i in items}))}),
        (_PG_HEADS, {"elections": names}),
    ]
    if wanted:
        pairs = [{"election": e, "station": s} for e, s in wanted]
        queries.append((_PG_STATIONS, {"pairs": json.dumps(pairs)}))
    locked, stored, head_rows, *found = _pg_fetch_together(conn, queries)
    for rows in found:
        registered.update((row["election"], row["station"]) for row in rows)
    known = {str(row["id"]) for row in locked}
    heads: dict[str, LedgerEntry | None] = dict.fromkeys(known)
    heads.update((str(row["election"]), _entry_of(row)) for row in head_rows)
    return known, {row["id"]: row for row in stored}, heads


def _pg_fetch_together(
    conn: Connection, queries: Sequence[tuple[str, Mapping[str, Any]]]
) -> list[list[dict[str, Any]]]:
    """Run psycopg queries in one pipeline (one sync); each one's rows as dicts."""
    raw: Any = conn.connection.dbapi_connection
    cursors = []
    try:
        with _as_sqlalchemy_errors("the batch's reads"), raw.pipeline():
            for sql, params in queries:
                cursor = raw.cursor()
                cursors.append(cursor)
                cursor.execute(sql, params)
        out = []
        for cursor in cursors:
            columns = [column.name for column in cursor.description]
            out.append([dict(zip(columns, row, strict=True)) for row in cursor.fetchall()])
        return out
    finally:
        for cursor in cursors:
            cursor.close()


@contextlib.contextmanager
def _as_sqlalchemy_errors(what: str) -> Iterator[None]:
    """psycopg's errors from statements sent past SQLAlchemy (pipeline mode) as SQLAlchemy's
    own: a unique violation as the :class:`IntegrityError` the writer retries on, a
    deadlock, timeout or lost connection as the :class:`~sqlalchemy.exc.OperationalError`
    (and so on) that callers of the store catch for every other statement."""
    import psycopg  # PostgreSQL only: SQLite deployments never load the driver here

    try:
        yield
    except psycopg.Error as error:
        raise DBAPIError.instance(what, None, error, psycopg.Error) from error


def _store_batch(
    conn: Connection,
    items: Sequence[PreparedReport],
    now: datetime,
    sqlite: bool,
    known_stations: set[tuple[str, str]],
) -> list[Outcome]:
    """Store a batch inside one write transaction; one outcome per item, in order.

    Items are decided in order, so of two items with the same id the first is stored and
    the second answers as a retry (same canonical JSON) or a conflict (different).
    ``known_stations`` holds (election, station) pairs already found in the registry
    (stations are never removed), so only new ones are looked up.
    """
    if sqlite:
        known, existing, heads = _read_batch(conn, items, known_stations)
    else:
        known, existing, heads = _pg_read_batch(conn, items, known_stations)
    registered = known_stations
    # Checklist reports: answers checked against the version they name (issue 13).
    refused = checklist_errors(conn, [item.report for item in items])
    recorded_at = format_timestamp(now)
    fresh: dict[str, tuple[int | None, str, dict[str, Any]]] = {}
    report_rows: list[dict[str, Any]] = []
    ledger_rows: list[dict[str, Any]] = []
    accepted: list[tuple[Report, int]] = []
    outcomes: list[Outcome] = []
    for position, item in enumerate(items):
        report = item.report
        if report.election not in known:
            outcomes.append(InputError(f"no election {report.election!r}", column="election"))
            continue
        if report.id in existing:
            try:
                outcomes.append(_answer_existing(existing[report.id], item))
            except ConflictError as conflict:
                outcomes.append(conflict)
            continue
        if report.id in fresh:
            sender, canonical, public = fresh[report.id]
            if sender != _sender_id(item.observer):
                outcomes.append(_not_yours(report.id))
            elif canonical != item.canonical:
                outcomes.append(
                    ConflictError(
                        f"report {report.id} was already received with a different body; "
                        "a changed report needs a new id"
                    )
                )
            else:
                outcomes.append(StoredReport(False, public))
            continue
        if (report.election, report.station) not in registered:
            outcomes.append(
                InputError(
                    f"no station {report.station!r} in election {report.election!r}",
                    column="station",
                )
            )
            continue
        if position in refused:
            outcomes.append(refused[position])
            continue
        # seal_entry skips append_entry's check that the JSON is canonical: canonical_json
        # made it from a validated report (the hashing is the same function).
        body = json.loads(item.canonical)
        entry = seal_entry(heads[report.election], body, recorded_at, new_salts(body))
        heads[report.election] = entry
        observer = item.observer
        report_rows.append(
            {
                "id": report.id,
                "election": report.election,
                "station": report.station,
                "observer_id": observer.id if observer else None,
                "kind": report.kind,
                "observed_at": report.observed_at,
                "received_at": now,
                "canonical": item.canonical,
                "body": entry.report,
            }
        )
        ledger_rows.append(
            {
                "election": report.election,
                "seq": entry.seq,
                "report_id": report.id,
                "prev_hash": entry.prev_hash,
                "hash": entry.hash,
                "recorded_at": entry.recorded_at,
                "version": entry.version,
                "salts": entry.salts,
            }
        )
        accepted.append((report, entry.seq))
        public = dict(entry.report)
        public["received_at"] = format_timestamp(now)
        public["observer"] = observer.code_name if observer else None
        public["ledger"] = {"seq": entry.seq, "hash": entry.hash}
        fresh[report.id] = (_sender_id(observer), item.canonical, public)
        outcomes.append(StoredReport(True, public))
    if report_rows:
        with _pipelined(conn, sqlite):
            _insert_rows(conn, _plain_insert("reports", sqlite), report_rows, sqlite)
            _insert_rows(conn, _plain_insert("ledger", sqlite), ledger_rows, sqlite)
            _apply_activity(conn, accepted, now, sqlite)
    return outcomes


@contextlib.contextmanager
def _pipelined(conn: Connection, sqlite: bool) -> Iterator[None]:
    """The batch's writes sent together, answered together (PostgreSQL pipeline mode).

    Four INSERTs that return nothing cost one round trip instead of four: on a busy
    machine each round trip is a wait for the server's process to be scheduled and then
    for the writer's. An error of any of them (a unique violation: the same id stored
    meanwhile by another process) surfaces when the pipeline ends, as the
    :class:`IntegrityError` :func:`store_prepared` retries on. SQLite runs in the process:
    nothing to pipeline.
    """
    if sqlite:
        yield
        return
    with (
        _as_sqlalchemy_errors("the batch's writes"),
        conn.connection.dbapi_connection.pipeline(),  # type: ignore[union-attr]
    ):
        yield


@functools.lru_cache(maxsize=4)
def _activity_upsert(dialect: str) -> Any:
    """The station-activity upsert: counters add up, status and queue only move forward.

    ``INSERT ... ON CONFLICT (election, station) DO UPDATE`` (SQLite and PostgreSQL), so a
    batch writes its stations' rows without reading them first. Status and queue are
    replaced only by ones observed at the same time or later than the stored ones — what
    folding the reports one by one in ledger order gives (:func:`_activity_values`).
    """
    if dialect == "sqlite":
        statement = sqlite_insert(station_activity)
    else:
        statement = _pg_rows_insert(station_activity, _ACTIVITY_COLUMNS)
    new, old = statement.excluded, station_activity.c
    newer_status = new.status_at.is_not(None) & (
        old.status_at.is_(None) | (old.status_at <= new.status_at)
    )
    newer_queue = new.queue_at.is_not(None) & (
        old.queue_at.is_(None) | (old.queue_at <= new.queue_at)
    )
    return statement.on_conflict_do_update(
        index_elements=[old.election, old.station],
        set_={
            **{name: old[name] + new[name] for name in _COUNTER_COLUMNS},
            "last_report_at": new.last_report_at,
            "last_seq": new.last_seq,
            "status": case((newer_status, new.status), else_=old.status),
            "status_at": case((newer_status, new.status_at), else_=old.status_at),
            "queue": case((newer_queue, new.queue), else_=old.queue),
            "queue_at": case((newer_queue, new.queue_at), else_=old.queue_at),
        },
    )


def store_prepared(
    engine: Engine,
    items: Sequence[PreparedReport],
    *,
    now: datetime | None = None,
    known_stations: set[tuple[str, str]] | None = None,
    audit: Callable[[Connection, Sequence[Outcome]], None] | None = None,
) -> list[Outcome]:
    """Store validated reports in ONE write transaction (one commit, one fsync for all).

    Returns one outcome per item, in order: :class:`StoredReport` (201 created or 200
    identical retry) or the error for that item alone (:class:`ConflictError`, unknown
    election or station as :class:`InputError`); one bad item does not fail the others.
    Every returned :class:`StoredReport` is committed when this returns. Elections are
    locked in sorted order (PostgreSQL row locks), so concurrent writers cannot deadlock.
    Errors of the database itself propagate (nothing of the batch is then stored).
    ``known_stations`` is a caller's cache of registered (election, station) pairs, updated
    here (a long-lived writer passes the same set each time). ``audit``, when given, is
    called with the connection and the outcomes inside the same transaction (the hotline
    records who entered a report so that the report and its audit entry commit together).
    """
    if not items:
        return []
    sqlite = is_sqlite(engine)
    registered = known_stations if known_stations is not None else set()
    for _attempt in range(3):
        moment = now or utcnow()
        try:
            with write_transaction(engine) as conn:
                outcomes = _store_batch(conn, items, moment, sqlite, registered)
                if audit is not None:
                    audit(conn, outcomes)
            return outcomes
        except IntegrityError:
            # The same id committed meanwhile by a writer of another election (a different
            # row lock): the next attempt answers it as a retry or a conflict.
            continue
    raise ConflictError("the reports could not be stored; retry")  # pragma: no cover


def store_reports(
    engine: Engine,
    items: Sequence[tuple[Mapping[str, Any], Observer | None]],
    *,
    now: datetime | None = None,
) -> list[Outcome]:
    """Validate and store many ``(payload, observer)`` reports in one transaction.

    Like :func:`store_prepared`, with validation errors and :class:`Forbidden` as outcomes
    of their own items.
    """
    now = now or utcnow()
    outcomes: list[Outcome | None] = []
    prepared: list[PreparedReport] = []
    for payload, observer in items:
        try:
            prepared.append(prepare_report(payload, observer=observer, now=now))
            outcomes.append(None)
        except PollwatchError as error:
            outcomes.append(error)
    stored = iter(store_prepared(engine, prepared, now=now))
    return [next(stored) if outcome is None else outcome for outcome in outcomes]


def store_report(
    engine: Engine,
    payload: Mapping[str, Any],
    *,
    observer: Observer | None,
    now: datetime | None = None,
) -> StoredReport:
    """Validate and store one report; idempotent on its id.

    Parameters
    ----------
    payload:
        The decoded JSON body (see :func:`pollwatch.observe.parse_report`).
    observer:
        Who sends it; ``None`` for trusted imports. An observer may report only on its own
        election and, when bound, its own stations (:class:`Forbidden` otherwise).
    now:
        The server's time (default: the clock); used for clock-skew checks and timestamps.

    Raises
    ------
    InputError
        Bad body (the field is named), unknown election or station.
    ConflictError
        The id was stored before with a different body.
    """
    outcome = store_reports(engine, [(payload, observer)], now=now)[0]
    if isinstance(outcome, PollwatchError):
        raise outcome
    return outcome


def get_report(engine: Engine, report_id: str) -> dict[str, Any]:
    """One stored report; :class:`NotFoundError` if absent."""
    with engine.connect() as conn:
        row = _existing(conn, report_id)
    if row is None:
        raise NotFoundError(f"no report {report_id!r}")
    return _public(row, row["code_name"])


def list_reports(
    engine: Engine, election: str, *, station: str | None = None
) -> list[dict[str, Any]]:
    """Accepted reports of an election (or one station), in ledger order."""
    query = _select_full().where(reports.c.election == election)
    if station is not None:
        query = query.where(reports.c.station == station)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(ledger.c.seq)).mappings().all()
        with_photo = {
            r[0]
            for r in conn.execute(
                select(photos.c.report_id)
                .join(reports, reports.c.id == photos.c.report_id)
                .where(reports.c.election == election)
            )
        }
    out = []
    for row in rows:
        data = _public(row, row["code_name"])
        data["photo"] = row["id"] in with_photo
        out.append(data)
    return out


def _public_ids(engine: Engine, election: str) -> set[str]:
    """Ids of the election's reports a coordinator marked public."""
    with engine.connect() as conn:
        return {
            str(r[0])
            for r in conn.execute(
                select(reports.c.id).where(reports.c.election == election, reports.c.public)
            )
        }


def export_reports(engine: Engine, election: str, *, redacted: bool = False) -> pd.DataFrame:
    """One row per accepted report, :data:`EXPORT_COLUMNS`, in ledger order.

    ``redacted``: the public export after the embargo — the fields the publication policy
    withholds (:func:`pollwatch.observe.publication.withheld_fields`: an incident's text
    unless a coordinator marked it public) are empty, and ``withheld`` names them.
    """
    public = _public_ids(engine, election) if redacted else set()
    records = []
    for data in list_reports(engine, election):
        hidden = withheld_fields(data["kind"], data["id"] in public) if redacted else ()
        for name in hidden:
            data.pop(name, None)
        row = {col: data.get(col) for col in EXPORT_COLUMNS}
        row["withheld"] = ",".join(hidden) or None
        row["ledger_seq"] = data["ledger"]["seq"]
        row["ledger_hash"] = data["ledger"]["hash"]
        for name in ("figures", "answers"):  # nested values as JSON text
            if name in data:
                row[name] = json.dumps(data[name], sort_keys=True, ensure_ascii=False)
        records.append(row)
    frame = pd.DataFrame.from_records(records, columns=list(EXPORT_COLUMNS))
    for col in _INT_COLUMNS:
        frame[col] = frame[col].astype("Int64")
    frame["photo"] = frame["photo"].astype(bool)
    for col in EXPORT_COLUMNS:
        if col not in _INT_COLUMNS and col != "photo":
            frame[col] = frame[col].astype("string")
    return frame


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""What spreadsheets read as the start of a formula (OWASP, "CSV Injection")."""


def defuse_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula, prefixed with ``'``.

    An observer's incident text such as ``=cmd|' /C calc'!A0`` must open in a coordinator's
    spreadsheet as text, not as a command. Only CSV needs this (Parquet keeps types).
    """
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_string_dtype(out[col]):
            text = out[col]
            risky = text.notna() & text.astype("string").str.startswith(_FORMULA_START)
            out[col] = text.where(~risky.fillna(False), "'" + text.astype("string"))
    return out


def reports_to_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    """The export as ``csv`` (UTF-8) or ``parquet`` bytes."""
    if fmt == "csv":
        return defuse_formulas(frame).to_csv(index=False).encode("utf-8")
    if fmt == "parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        return buffer.getvalue()
    raise InputError(f"export format must be csv or parquet; got {fmt!r}", column="format")


def export_ledger_lines(engine: Engine, election: str, *, redacted: bool = False) -> Iterator[str]:
    """The election's ledger as JSON lines (one :class:`LedgerEntry` each), oldest first.

    Version-2 entries carry their salts. ``redacted``: the public ledger after the embargo —
    the fields the publication policy withholds are replaced by their commitments
    (:meth:`LedgerEntry.redact`), so the file still verifies against the published heads.
    Version-1 entries (written before version 2) can only be published whole.
    """
    query = (
        select(ledger, reports.c.canonical, reports.c.kind, reports.c.public)
        .join(reports, reports.c.id == ledger.c.report_id)
        .where(ledger.c.election == election)
        .order_by(ledger.c.seq)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    for row in rows:
        entry = LedgerEntry(
            seq=int(row["seq"]),
            report_id=str(row["report_id"]),
            prev_hash=str(row["prev_hash"]),
            hash=str(row["hash"]),
            recorded_at=str(row["recorded_at"]),
            report=json.loads(row["canonical"]),
            version=int(row["version"]),
            salts=dict(row["salts"] or {}),
        )
        if redacted and entry.version > 1:
            entry = entry.redact(withheld_fields(str(row["kind"]), bool(row["public"])))
        yield entry.to_json_line()


def ledger_head(engine: Engine, election: str) -> dict[str, Any]:
    """The head of the election's ledger: entries, head hash and its time."""
    with engine.connect() as conn:
        head = _head(conn, election)
    if head is None:
        return {"entries": 0, "head_hash": GENESIS, "recorded_at": None}
    return {"entries": head.seq, "head_hash": head.hash, "recorded_at": head.recorded_at}
