"""Rosters and the hotline: observers assigned to stations and shifts; reports entered by phone.

Observers are known by code name only (no personal data here either). An assignment puts an
observer at a station, optionally for a shift (start and end times). An observer is at one
station at a time: a new assignment ends the observer's open assignments whose shift has not
ended before the new one begins, and each row keeps when it was made, ended and by whom, so
a move mid-day keeps the day's history. An observer whose invite bound them to stations is
also allowed to report at the new one (the old stations stay allowed: reports from the
morning may still arrive). Every assignment is audited (``roster.assign``).

:func:`enter_hotline_report` stores a report a coordinator took over the phone on an
observer's behalf: validated like any report (:func:`pollwatch.store.reports.prepare_report`,
with the observer's own station rights), marked ``"via": "hotline"`` in the ledger
(:mod:`pollwatch.observe.hotline`, nothing more), and audited as ``reports.hotline`` with
the coordinator's name in the same transaction. A revoked observer cannot report by phone
either: revocation ends the person's access, not only the phone's.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from pollwatch.errors import Forbidden, InputError, NotFoundError, PollwatchError
from pollwatch.observe.hotline import hotline_canonical
from pollwatch.observe.ids import check_station_id
from pollwatch.store._util import as_utc, format_stored, utcnow
from pollwatch.store.audit import record_audit
from pollwatch.store.elections import check_registered, get_election
from pollwatch.store.engine import write_transaction
from pollwatch.store.people import Observer
from pollwatch.store.read_models import forget_summaries
from pollwatch.store.reports import (
    Outcome,
    PreparedReport,
    StoredReport,
    prepare_report,
    store_prepared,
)
from pollwatch.store.tables import observers, roster

__all__ = [
    "assign_observer",
    "current_assignments",
    "enter_hotline_report",
    "find_observer",
    "list_roster",
    "registered_station",
]

_CODE_NAME_LIMIT = 100


def _moment(value: Any, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and len(value) <= 40:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(
                f"'{name}' must be an ISO-8601 time with a timezone; got {value[:40]!r}",
                column=name,
            ) from None
    else:
        raise InputError(f"'{name}' must be an ISO-8601 time with a timezone", column=name)
    if moment.tzinfo is None:
        raise InputError(f"'{name}' needs a timezone (e.g. +05:30 or Z)", column=name)
    return as_utc(moment)


def _observer_row(conn: Connection, election: str, code_name: Any) -> Any:
    if not isinstance(code_name, str) or not code_name.strip():
        raise InputError("'code_name' is required", column="code_name")
    if len(code_name) > _CODE_NAME_LIMIT or "\x00" in code_name:
        raise InputError("'code_name' is not a code name", column="code_name")
    row = (
        conn.execute(
            select(observers).where(
                observers.c.election == election, observers.c.code_name == code_name.strip()
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFoundError(f"no observer {code_name.strip()[:80]!r} in election {election!r}")
    return row


def registered_station(engine: Engine, election: str, station: str) -> str:
    """``station`` if it is in the election's registry, else NotFoundError."""
    check_station_id(station)
    with engine.connect() as conn:
        check_registered(conn, election, station)
    return station


def find_observer(engine: Engine, election: str, code_name: Any) -> Observer:
    """The active observer of this code name in the election (NotFoundError, Forbidden)."""
    with engine.connect() as conn:
        row = _observer_row(conn, election, code_name)
    if row["revoked"]:
        raise Forbidden(f"observer {row['code_name']!r} has been revoked")
    return Observer(
        int(row["id"]), str(row["code_name"]), str(row["election"]), tuple(row["stations"] or ())
    )


def assign_observer(
    engine: Engine,
    election: str,
    station: str,
    code_name: Any,
    *,
    by: str,
    shift_start: Any = None,
    shift_end: Any = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Assign an observer to a station (and shift); ends overlapping open assignments."""
    check_station_id(station)
    now = now or utcnow()
    start = _moment(shift_start, "shift_start")
    end = _moment(shift_end, "shift_end")
    if start is not None and end is not None and end <= start:
        raise InputError("'shift_end' must be after 'shift_start'", column="shift_end")
    begins = start or now
    with write_transaction(engine) as conn:
        check_registered(conn, election, station)
        person = _observer_row(conn, election, code_name)
        if person["revoked"]:
            raise Forbidden(f"observer {person['code_name']!r} has been revoked")
        open_rows = conn.execute(
            select(roster.c.id, roster.c.station, roster.c.shift_end).where(
                roster.c.observer_id == person["id"], roster.c.ended_at.is_(None)
            )
        ).all()
        ended = [r for r in open_rows if r.shift_end is None or as_utc(r.shift_end) > begins]
        if ended:
            conn.execute(
                update(roster)
                .where(roster.c.id.in_([r.id for r in ended]))
                .values(ended_at=now, ended_by=by)
            )
        conn.execute(
            insert(roster).values(
                election=election,
                observer_id=person["id"],
                station=station,
                shift_start=start,
                shift_end=end,
                assigned_at=now,
                assigned_by=by,
            )
        )
        bound = list(person["stations"] or ())
        if bound and station not in bound:
            conn.execute(
                update(observers)
                .where(observers.c.id == person["id"])
                .values(stations=[*bound, station])
            )
        detail = {
            "code_name": person["code_name"],
            "station": station,
            "moved_from": sorted({str(r.station) for r in ended}),
            "shift_start": format_stored(start),
            "shift_end": format_stored(end),
        }
        record_audit(conn, by, "roster.assign", f"{election}/{station}", detail)
    forget_summaries(engine, election)  # the alerts watch the stations people are at
    return {"election": election, **detail, "assigned_at": format_stored(now), "assigned_by": by}


def list_roster(
    engine: Engine,
    election: str,
    *,
    allowed: Collection[str] | None = None,
    station: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The roster: every assignment (current first, then history), by station and code name.

    ``current`` is true for an assignment not ended whose shift (if any) has not ended.
    """
    get_election(engine, election)
    now = now or utcnow()
    query = (
        select(
            roster,
            observers.c.code_name,
            observers.c.revoked,
        )
        .join(observers, observers.c.id == roster.c.observer_id)
        .where(roster.c.election == election)
    )
    if station is not None:
        query = query.where(roster.c.station == station)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(roster.c.id)).mappings().all()
    out = []
    for r in rows:
        if allowed is not None and r["station"] not in allowed:
            continue
        shift_end = None if r["shift_end"] is None else as_utc(r["shift_end"])
        current = r["ended_at"] is None and (shift_end is None or shift_end > now)
        out.append(
            {
                "station": r["station"],
                "code_name": r["code_name"],
                "revoked": bool(r["revoked"]),
                "shift_start": format_stored(r["shift_start"]),
                "shift_end": format_stored(r["shift_end"]),
                "assigned_at": format_stored(r["assigned_at"]),
                "assigned_by": r["assigned_by"],
                "ended_at": format_stored(r["ended_at"]),
                "ended_by": r["ended_by"],
                "current": current,
            }
        )
    out.sort(key=lambda a: (not a["current"], a["station"], a["code_name"], a["assigned_at"]))
    return {"election": election, "assignments": out}


def current_assignments(
    engine: Engine, election: str, *, now: datetime | None = None
) -> dict[str, list[str]]:
    """Station → code names of the observers assigned there now."""
    found: dict[str, list[str]] = {}
    for row in list_roster(engine, election, now=now)["assignments"]:
        if row["current"] and not row["revoked"]:
            found.setdefault(row["station"], []).append(row["code_name"])
    return found


def enter_hotline_report(
    engine: Engine,
    election: str,
    station: str,
    code_name: Any,
    payload: Mapping[str, Any],
    *,
    by: str,
    now: datetime | None = None,
) -> StoredReport:
    """Store a report taken over the phone for the observer ``code_name``; audited.

    ``payload`` is a report body (:func:`pollwatch.observe.reports.parse_report`); its
    ``election`` and ``station`` are the path's (given ones must match). Idempotent on the
    report id like every report (a form sent twice is one report).
    """
    check_station_id(station)
    if not isinstance(payload, Mapping):
        raise InputError("'report' must be a JSON object", column="report")
    body = dict(payload)
    for name, value in (("election", election), ("station", station)):
        if body.setdefault(name, value) != value:
            raise InputError(f"'report.{name}' must be {value!r}", column=name)
    observer = find_observer(engine, election, code_name)
    prepared = prepare_report(body, observer=observer, now=now or utcnow())
    item = PreparedReport(prepared.report, hotline_canonical(prepared.report), observer)

    def audit(conn: Connection, outcomes: Sequence[Outcome]) -> None:
        outcome = outcomes[0]
        if isinstance(outcome, StoredReport) and outcome.created:
            record_audit(
                conn,
                by,
                "reports.hotline",
                f"{election}/{prepared.report.id}",
                {
                    "station": station,
                    "code_name": observer.code_name,
                    "kind": prepared.report.kind,
                },
            )

    (outcome,) = store_prepared(engine, [item], now=now, audit=audit)
    if isinstance(outcome, PollwatchError):
        raise outcome
    return outcome
