"""Incidents followed up: status, severity, assignee, internal notes; every change audited.

The observer's incident report stays as it was received (its ledger entry is untouched);
the follow-up lives beside it in ``incident_followups`` (no row: ``new``, at its category's
severity) and ``incident_notes``. The rules — statuses and moves, severities, note limits,
the open list's order — are :mod:`pollwatch.observe.followup`'s; whether an incident is
public is the publication policy's (:func:`pollwatch.store.public.set_incident_public`,
which a change here calls). Each change is one audit entry in the same transaction
(``incidents.status``, ``incidents.severity``, ``incidents.assign``, ``incidents.note``),
naming the coordinator and the values before and after.

An assignee is a coordinator (or admin) whose scopes cover the incident's station: someone
who could act on it (:func:`pollwatch.observe.permissions.can`).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Select, and_, insert, select, update

from pollwatch.errors import InputError, NotFoundError
from pollwatch.observe.followup import (
    CLOSED_STATUSES,
    INCIDENT_STATUSES,
    check_note,
    check_severity,
    check_transition,
    default_severity,
    open_order,
)
from pollwatch.observe.permissions import Place, Principal, Scope, can
from pollwatch.store._util import as_utc, format_stored, utcnow
from pollwatch.store.audit import record_audit
from pollwatch.store.coordinators import list_coordinators, station_place
from pollwatch.store.elections import get_election
from pollwatch.store.engine import write_transaction
from pollwatch.store.public import set_incident_public
from pollwatch.store.tables import (
    audit_log,
    incident_followups,
    incident_notes,
    photos,
    reports,
)

__all__ = [
    "LIST_LIMIT",
    "add_incident_note",
    "assignable_coordinators",
    "get_incident",
    "incident_station",
    "list_incidents",
    "update_incident",
]

LIST_LIMIT = 500
"""Most incidents one list answer carries (the rest by ``offset``)."""

_SELECTORS = ("open", "closed", "all", *INCIDENT_STATUSES)


def _incidents(election: str) -> Select[Any]:
    """The election's incident reports with their follow-up (no row yet: NULLs), as
    :func:`_as_dict` reads them; one incident or the list narrow it further."""
    return (
        select(
            reports.c.id,
            reports.c.station,
            reports.c.canonical,
            reports.c.observed_at,
            reports.c.received_at,
            reports.c.public,
            incident_followups.c.status,
            incident_followups.c.severity,
            incident_followups.c.assignee,
            incident_followups.c.updated_at,
            incident_followups.c.updated_by,
        )
        .outerjoin(incident_followups, incident_followups.c.report_id == reports.c.id)
        .where(reports.c.election == election, reports.c.kind == "incident")
    )


def _incident_row(conn: Connection, election: str, report_id: str) -> Any:
    row = (
        conn.execute(_incidents(election).where(reports.c.id == report_id[:100].lower()))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFoundError(f"no incident {report_id[:80]!r} in election {election!r}")
    return row


def _as_dict(row: Any, now: datetime, notes: int = 0, photo: bool = False) -> dict[str, Any]:
    body = json.loads(row["canonical"])
    observed = as_utc(row["observed_at"])
    severity = row["severity"] or default_severity(body.get("category"))
    return {
        "id": row["id"],
        "station": row["station"],
        "category": body.get("category"),
        "text": body.get("text", ""),
        "via": body.get("via"),
        "observed_at": format_stored(observed),
        "received_at": format_stored(row["received_at"]),
        "age_minutes": max(0, int((now - observed).total_seconds() // 60)),
        "status": row["status"] or "new",
        "severity": severity,
        "assignee": row["assignee"],
        "public": bool(row["public"]),
        "updated_at": format_stored(row["updated_at"]),
        "updated_by": row["updated_by"],
        "notes": notes,
        "photo": photo,
    }


def incident_station(engine: Engine, election: str, report_id: str) -> str:
    """The station of an incident of the election (NotFoundError otherwise): its scope."""
    with engine.connect() as conn:
        return str(_incident_row(conn, election, report_id)["station"])


def list_incidents(
    engine: Engine,
    election: str,
    *,
    status: str = "open",
    allowed: Collection[str] | None = None,
    limit: int = LIST_LIMIT,
    offset: int = 0,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The election's incidents with their follow-up, most severe first, then oldest first.

    ``status``: ``open`` (not resolved or rejected; the default), ``closed``, ``all`` or one
    status. ``allowed``: the stations the reader may see (None: all), applied before the
    page is cut, so ``total`` counts only what the reader may see.
    """
    if status not in _SELECTORS:
        raise InputError(
            f"'status' must be one of {', '.join(_SELECTORS)}; got {status[:40]!r}",
            column="status",
        )
    if not 1 <= limit <= LIST_LIMIT or offset < 0:
        raise InputError(f"'limit' must be 1 to {LIST_LIMIT}", column="limit")
    get_election(engine, election)
    now = now or utcnow()
    query = _incidents(election)
    current = incident_followups.c.status
    if status == "open":
        query = query.where(current.is_(None) | current.not_in(CLOSED_STATUSES))
    elif status == "closed":
        query = query.where(current.in_(CLOSED_STATUSES))
    elif status == "new":
        query = query.where(current.is_(None) | (current == "new"))
    elif status != "all":
        query = query.where(current == status)
    with engine.connect() as conn:
        rows = [
            r for r in conn.execute(query).mappings() if allowed is None or r["station"] in allowed
        ]
        items = [_as_dict(r, now) for r in rows]
        items.sort(key=lambda i: open_order(i["severity"], i["observed_at"], i["id"]))
        page = items[offset : offset + limit]
        ids = [i["id"] for i in page]
        counts: dict[str, int] = {}
        with_photo: set[str] = set()
        if ids:
            for (report_id,) in conn.execute(
                select(incident_notes.c.report_id).where(incident_notes.c.report_id.in_(ids))
            ):
                counts[report_id] = counts.get(report_id, 0) + 1
            with_photo = {
                r[0]
                for r in conn.execute(select(photos.c.report_id).where(photos.c.report_id.in_(ids)))
            }
    for item in page:
        item["notes"] = counts.get(item["id"], 0)
        item["photo"] = item["id"] in with_photo
    by_severity: dict[str, int] = {}
    for item in items:
        by_severity[item["severity"]] = by_severity.get(item["severity"], 0) + 1
    return {
        "election": election,
        "status": status,
        "total": len(items),
        "by_severity": by_severity,
        "offset": offset,
        "incidents": page,
    }


def get_incident(
    engine: Engine, election: str, report_id: str, *, now: datetime | None = None
) -> dict[str, Any]:
    """One incident with its follow-up, internal notes (oldest first) and change history."""
    now = now or utcnow()
    with engine.connect() as conn:
        row = _incident_row(conn, election, report_id)
        notes = [
            {"author": n["author"], "at": format_stored(n["at"]), "text": n["text"]}
            for n in conn.execute(
                select(incident_notes)
                .where(incident_notes.c.report_id == row["id"])
                .order_by(incident_notes.c.id)
            ).mappings()
        ]
        history = [
            {
                "actor": h["actor"],
                "action": h["action"],
                "at": format_stored(h["at"]),
                "detail": h["detail"],
            }
            for h in conn.execute(
                select(audit_log)
                .where(
                    and_(
                        audit_log.c.target == f"{election}/{row['id']}",
                        audit_log.c.action.like("incidents.%"),
                    )
                    | and_(
                        audit_log.c.target == row["id"],
                        audit_log.c.action == "set_incident_public",
                    )
                )
                .order_by(audit_log.c.id)
            ).mappings()
        ]
        photo = (
            conn.execute(select(photos.c.report_id).where(photos.c.report_id == row["id"])).first()
            is not None
        )
    data = _as_dict(row, now, len(notes), photo)
    data["note_list"] = notes
    data["history"] = history
    return data


def assignable_coordinators(engine: Engine, election: str, station: str) -> list[str]:
    """Names of the coordinators and admins who could act on an incident at ``station``."""
    place = station_place(engine, election, station)
    return [
        person["name"]
        for person in list_coordinators(engine)
        if can(_principal(person), "incidents.follow", election, place)
    ]


def _principal(person: dict[str, Any]) -> Principal:
    scopes = tuple(Scope(**s) for s in person["scopes"])
    return Principal(str(person["role"]), scopes)


def _check_assignee(engine: Engine, election: str, place: Place, name: Any) -> str | None:
    if name is None or name == "":
        return None
    if not isinstance(name, str) or len(name) > 100:
        raise InputError("'assignee' must be a coordinator's name", column="assignee")
    for person in list_coordinators(engine):
        if person["name"] == name:
            if not can(_principal(person), "incidents.follow", election, place):
                raise InputError(
                    f"{name!r} cannot act on incidents at station {place.station!r} "
                    "(role or scope)",
                    column="assignee",
                )
            return name
    raise InputError(f"no coordinator {name[:80]!r}", column="assignee")


_UNSET: Any = object()


def update_incident(
    engine: Engine,
    election: str,
    report_id: str,
    *,
    by: str,
    status: Any = _UNSET,
    severity: Any = _UNSET,
    assignee: Any = _UNSET,
    public: Any = _UNSET,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Change an incident's status, severity, assignee and/or public flag; each audited.

    Only the given fields change (``assignee`` None or ``""`` unassigns). InputError names
    the field for a value the rules refuse; NotFoundError unless it is an incident of the
    election. Returns the incident as :func:`get_incident` does.
    """
    now = now or utcnow()
    with engine.connect() as conn:
        station = str(_incident_row(conn, election, report_id)["station"])
    place = station_place(engine, election, station)
    chosen = _UNSET if assignee is _UNSET else _check_assignee(engine, election, place, assignee)
    if severity is not _UNSET:
        check_severity(severity)
    if public is not _UNSET and not isinstance(public, bool):  # before anything changes
        raise InputError("'public' must be true or false", column="public")
    with write_transaction(engine) as conn:
        row = _incident_row(conn, election, report_id)
        rid = str(row["id"])
        target = f"{election}/{rid}"
        body = json.loads(row["canonical"])
        before = {
            "status": row["status"] or "new",
            "severity": row["severity"] or default_severity(body.get("category")),
            "assignee": row["assignee"],
        }
        after = dict(before)
        if status is not _UNSET:
            if not isinstance(status, str):
                raise InputError("'status' must be a string", column="status")
            after["status"] = check_transition(before["status"], status)
        if severity is not _UNSET:
            after["severity"] = severity
        if chosen is not _UNSET:
            after["assignee"] = chosen
        changed = [
            name for name in ("status", "severity", "assignee") if after[name] != before[name]
        ]
        if changed:
            values = {**after, "updated_at": now, "updated_by": by}
            if row["status"] is None and row["updated_at"] is None:
                conn.execute(
                    insert(incident_followups).values(
                        report_id=rid, election=election, station=station, **values
                    )
                )
            else:
                conn.execute(
                    update(incident_followups)
                    .where(incident_followups.c.report_id == rid)
                    .values(**values)
                )
            actions = {"status": "incidents.status", "severity": "incidents.severity"}
            for name in changed:
                record_audit(
                    conn,
                    by,
                    actions.get(name, "incidents.assign"),
                    target,
                    {"from": before[name], "to": after[name], "station": station},
                )
    if public is not _UNSET and public != bool(row["public"]):  # only a change is audited
        set_incident_public(engine, election, rid, public, by=by)
    return get_incident(engine, election, rid, now=now)


def add_incident_note(
    engine: Engine, election: str, report_id: str, text: Any, *, by: str
) -> dict[str, Any]:
    """Add an internal note (kept verbatim, shown as text); audited with its length only."""
    note = check_note(text)
    now = utcnow()
    with write_transaction(engine) as conn:
        row = _incident_row(conn, election, report_id)
        rid = str(row["id"])
        conn.execute(insert(incident_notes).values(report_id=rid, author=by, at=now, text=note))
        record_audit(
            conn,
            by,
            "incidents.note",
            f"{election}/{rid}",
            {"station": row["station"], "characters": len(note)},
        )
    return {"author": by, "at": format_stored(now), "text": note}
