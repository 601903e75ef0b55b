"""Storing reports: idempotent, durable, appended to the election's hash-chained ledger.

:func:`store_report` validates the body with :func:`pollwatch.observe.parse_report`, then in
ONE write transaction: looks the id up (same canonical JSON → the stored report, a retry;
different → :class:`ConflictError`), inserts the report, and appends the ledger entry whose
hash covers the previous entry's hash and the canonical JSON. The transaction commits
before the caller acknowledges, so a 2xx answer means the report is on disk (SQLite
``synchronous=FULL``; PostgreSQL's default ``synchronous_commit=on``).

Ledger appends are serialised per election: ``BEGIN IMMEDIATE`` on SQLite (one writer at a
time), ``SELECT ... FOR UPDATE`` on the election row on PostgreSQL (several server
processes may write at once; the row lock orders them). The ledger's primary key
``(election, seq)`` would refuse a duplicate seq even if that were ever wrong.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from pollwatch.errors import InputError, NotFoundError, PollwatchError
from pollwatch.observe.ledger import GENESIS, LedgerEntry, append_entry
from pollwatch.observe.reports import (
    Report,
    StatusReport,
    canonical_json,
    format_timestamp,
    parse_report,
)
from pollwatch.store._util import as_utc, utcnow
from pollwatch.store.engine import is_sqlite, write_transaction
from pollwatch.store.people import Forbidden, Observer
from pollwatch.store.tables import (
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
    "ConflictError",
    "StoredReport",
    "export_ledger_lines",
    "export_reports",
    "get_report",
    "ledger_head",
    "list_reports",
    "rebuild_activity",
    "reports_to_bytes",
    "store_report",
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
    "photo",
)
"""Columns of the reports export, one row per accepted report: no token, no observer code
name, no personal data (the export is open data, like the ledger)."""

_INT_COLUMNS = ("ledger_seq", "entered", "ballots_issued", "queue", "wait_minutes")


class ConflictError(PollwatchError):
    """A report id already stored with a different body (HTTP 409)."""

    status = 409


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
            ledger.c.seq,
            ledger.c.hash,
            observers.c.code_name,
        )
        .join(ledger, ledger.c.report_id == reports.c.id)
        .outerjoin(observers, observers.c.id == reports.c.observer_id)
    )


def _existing(conn: Connection, report_id: str) -> Any:
    return conn.execute(_select_full().where(reports.c.id == report_id)).mappings().first()


def _lock_election(conn: Connection, election: str, sqlite: bool) -> None:
    query = select(elections.c.id).where(elections.c.id == election)
    if not sqlite:
        query = query.with_for_update()
    if conn.execute(query).first() is None:
        raise InputError(f"no election {election!r}", column="election")


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
    if row is None:
        return None
    return LedgerEntry(
        seq=int(row["seq"]),
        report_id=str(row["report_id"]),
        prev_hash=str(row["prev_hash"]),
        hash=str(row["hash"]),
        recorded_at=str(row["recorded_at"]),
        report={},
    )


def _answer_existing(row: Any, canonical: str) -> StoredReport:
    if row["canonical"] != canonical:
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


def _bump_activity(conn: Connection, report: Report, received_at: datetime, seq: int) -> None:
    """Update the station's activity row inside the report's write transaction.

    The caller holds the election's write lock, so read-then-write cannot race.
    """
    key = (station_activity.c.election == report.election) & (
        station_activity.c.station == report.station
    )
    current = conn.execute(select(station_activity).where(key)).mappings().first()
    values = _activity_values(
        dict(current) if current is not None else None, report, received_at, seq
    )
    if current is None:
        conn.execute(
            insert(station_activity).values(
                election=report.election, station=report.station, **values
            )
        )
    else:
        conn.execute(update(station_activity).where(key).values(**values))


def rebuild_activity(engine: Engine, election: str) -> int:
    """Recompute the election's station activity counters from its reports; returns stations.

    The counters are a cache kept in each report's transaction; this rebuilds them after a
    bulk load or a manual repair, in ledger order.
    """
    from pollwatch.store.views import parse_stored_body

    with write_transaction(engine) as conn:
        conn.execute(delete(station_activity).where(station_activity.c.election == election))
        rows: dict[str, dict[str, Any]] = {}
        query = (
            select(reports.c.canonical, reports.c.received_at, ledger.c.seq)
            .join(ledger, ledger.c.report_id == reports.c.id)
            .where(reports.c.election == election)
            .order_by(ledger.c.seq)
        )
        for canonical, received_at, seq in conn.execute(query):
            report = parse_stored_body(json.loads(canonical))
            rows[report.station] = _activity_values(
                rows.get(report.station), report, as_utc(received_at), int(seq)
            )
        if rows:
            conn.execute(
                insert(station_activity),
                [{"election": election, "station": k, **v} for k, v in rows.items()],
            )
    return len(rows)


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
    now = now or utcnow()
    report = parse_report(payload, now=now)
    canonical = canonical_json(report)
    if observer is not None and not observer.may_report(report.election, report.station):
        raise Forbidden(
            f"this observer may not report on station {report.station!r} "
            f"of election {report.election!r}"
        )
    sqlite = is_sqlite(engine)
    for _attempt in range(3):
        try:
            with write_transaction(engine) as conn:
                _lock_election(conn, report.election, sqlite)
                found = _existing(conn, report.id)
                if found is not None:
                    return _answer_existing(found, canonical)
                known = conn.execute(
                    select(stations.c.station).where(
                        stations.c.election == report.election,
                        stations.c.station == report.station,
                    )
                ).first()
                if known is None:
                    raise InputError(
                        f"no station {report.station!r} in election {report.election!r}",
                        column="station",
                    )
                entry = append_entry(
                    _head(conn, report.election), report.id, canonical, format_timestamp(now)
                )
                conn.execute(
                    insert(reports).values(
                        id=report.id,
                        election=report.election,
                        station=report.station,
                        observer_id=observer.id if observer else None,
                        kind=report.kind,
                        observed_at=report.observed_at,
                        received_at=now,
                        canonical=canonical,
                        body=json.loads(canonical),
                    )
                )
                conn.execute(
                    insert(ledger).values(
                        election=report.election,
                        seq=entry.seq,
                        report_id=report.id,
                        prev_hash=entry.prev_hash,
                        hash=entry.hash,
                        recorded_at=entry.recorded_at,
                    )
                )
                _bump_activity(conn, report, now, entry.seq)
            stored = {
                "canonical": canonical,
                "received_at": now,
                "seq": entry.seq,
                "hash": entry.hash,
            }
            return StoredReport(True, _public(stored, observer.code_name if observer else None))
        except IntegrityError:
            # The same id committed by another election's writer in between: answer as a
            # retry or a conflict on the next attempt.
            continue
    raise ConflictError(f"report {report.id} could not be stored; retry")  # pragma: no cover


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


def export_reports(engine: Engine, election: str) -> pd.DataFrame:
    """One row per accepted report, :data:`EXPORT_COLUMNS`, in ledger order."""
    records = []
    for data in list_reports(engine, election):
        row = {col: data.get(col) for col in EXPORT_COLUMNS}
        row["ledger_seq"] = data["ledger"]["seq"]
        row["ledger_hash"] = data["ledger"]["hash"]
        if "figures" in data:
            row["figures"] = json.dumps(data["figures"], sort_keys=True, ensure_ascii=False)
        records.append(row)
    frame = pd.DataFrame.from_records(records, columns=list(EXPORT_COLUMNS))
    for col in _INT_COLUMNS:
        frame[col] = frame[col].astype("Int64")
    frame["photo"] = frame["photo"].astype(bool)
    for col in EXPORT_COLUMNS:
        if col not in _INT_COLUMNS and col != "photo":
            frame[col] = frame[col].astype("string")
    return frame


def reports_to_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    """The export as ``csv`` (UTF-8) or ``parquet`` bytes."""
    if fmt == "csv":
        return frame.to_csv(index=False).encode("utf-8")
    if fmt == "parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        return buffer.getvalue()
    raise InputError(f"export format must be csv or parquet; got {fmt!r}", column="format")


def export_ledger_lines(engine: Engine, election: str) -> Iterator[str]:
    """The election's ledger as JSON lines (one :class:`LedgerEntry` each), oldest first."""
    query = (
        select(ledger, reports.c.canonical)
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
        )
        yield entry.to_json_line()


def ledger_head(engine: Engine, election: str) -> dict[str, Any]:
    """The head of the election's ledger: entries, head hash and its time."""
    with engine.connect() as conn:
        head = _head(conn, election)
    if head is None:
        return {"entries": 0, "head_hash": GENESIS, "recorded_at": None}
    return {"entries": head.seq, "head_hash": head.hash, "recorded_at": head.recorded_at}
