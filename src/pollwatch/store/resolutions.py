"""Coordinators' resolutions of conflicting fields of a station's master record, audited.

A resolution is accepted only for a field that is a conflict of the station right now (or
was one and is already resolved: a coordinator may change their mind), and only with a
value the master record's rules allow (:func:`pollwatch.observe.merge_station_reports`
checks it: an integer for a protocol figure, a status, the count report(s) to keep). The
resolution and its audit entry commit in one transaction; the audit log keeps every choice,
the ``resolutions`` table the latest per field.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, delete, insert, select

from pollwatch.errors import InputError
from pollwatch.observe.ids import check_election_id, check_station_id
from pollwatch.observe.master import Resolution, merge_station_reports
from pollwatch.observe.reports import TEXT_LIMIT, format_timestamp
from pollwatch.store._util import as_utc, utcnow
from pollwatch.store.audit import record_audit
from pollwatch.store.elections import check_registered
from pollwatch.store.engine import write_transaction
from pollwatch.store.read_models import forget_summaries
from pollwatch.store.reports import list_reports
from pollwatch.store.tables import resolutions
from pollwatch.store.views import load_resolutions, parse_stored_body

__all__ = ["FIELD_LIMIT", "list_resolutions", "resolve_conflict"]

FIELD_LIMIT = 200
"""Longest field name (``resolutions.field``)."""

_VALUE_LIMIT = 10_000
"""Longest JSON text of a resolution's value (a list of report ids at most)."""


def _check_text(value: Any, name: str, limit: int, *, required: bool) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value) or len(value) > limit:
        need = "a non-empty string" if required else "a string"
        raise InputError(f"'{name}' must be {need} of at most {limit} characters", column=name)
    if "\x00" in value:
        raise InputError(f"'{name}' must not contain NUL characters", column=name)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"'{name}' is not valid UTF-8 text", column=name) from None
    return value


def _row(row: Any) -> dict[str, Any]:
    return {
        "station": row["station"],
        "field": row["field"],
        "value": row["value"],
        "by": row["by"],
        "at": format_timestamp(as_utc(row["at"])),
        "note": row["note"] or "",
    }


def resolve_conflict(
    engine: Engine,
    election: str,
    station: str,
    field: Any,
    value: Any,
    by: str,
    note: Any = None,
) -> dict[str, Any]:
    """Record a coordinator's choice for one conflicting field of a station; audited.

    Parameters
    ----------
    field:
        The conflict's field: a protocol figure (``valid``, ``votes.<candidate>``),
        ``status``, or a count-window cluster (``window:<start>/<end>``).
    value:
        An integer 0…1,000,000 for a figure, a status, or the id (or list of ids) of the
        count report(s) to keep.
    by:
        The coordinator's login name (recorded, and the audit log's actor).
    note:
        Why (optional, free text).

    Returns
    -------
    dict
        ``{"station", "field", "value", "by", "at", "note"}``.

    Raises
    ------
    InputError
        A malformed election or station id, the field is not a conflict of the station
        (column ``field``), or the value does not fit it (column ``value``).
    NotFoundError
        No such station, or it has no reports.
    """
    check_election_id(election)
    check_station_id(station)
    field = _check_text(field, "field", FIELD_LIMIT, required=True)
    note = _check_text(note, "note", TEXT_LIMIT, required=False)
    try:
        if len(json.dumps(value)) > _VALUE_LIMIT:
            raise InputError(f"'value' is longer than {_VALUE_LIMIT} characters", column="value")
    except (TypeError, ValueError):
        raise InputError("'value' must be plain JSON", column="value") from None
    with engine.connect() as conn:
        check_registered(conn, election, station)
    stored = list_reports(engine, election, station=station)
    if not stored:
        raise InputError(f"station {station!r} has no reports, so no conflicts", column="field")
    parsed = [parse_stored_body(r) for r in stored]
    with write_transaction(engine) as conn:
        others = [
            r
            for r in load_resolutions(conn, election, station).get(station, ())
            if r.field != field
        ]
        open_fields = {c.field for c in merge_station_reports(parsed, others).conflicts}
        if field not in open_fields:
            listed = ", ".join(sorted(open_fields)) or "none"
            raise InputError(
                f"{field!r} is not a conflict of station {station!r} (its conflicts: {listed})",
                column="field",
            )
        # Raises InputError(column="value") when the value does not fit the field.
        merge_station_reports(parsed, [*others, Resolution(field, value, by, note)])
        key = (
            (resolutions.c.election == election)
            & (resolutions.c.station == station)
            & (resolutions.c.field == field)
        )
        previous = conn.execute(select(resolutions.c.value).where(key)).first()
        conn.execute(delete(resolutions).where(key))
        at = utcnow()
        conn.execute(
            insert(resolutions).values(
                election=election,
                station=station,
                field=field,
                value=value,
                by=by,
                at=at,
                note=note or None,
            )
        )
        record_audit(
            conn,
            by,
            "resolve_conflict",
            f"{election}/{station}",
            {
                "field": field,
                "value": value,
                "note": note,
                "previous": None if previous is None else previous[0],
            },
        )
    forget_summaries(engine, election)
    return {
        "station": station,
        "field": field,
        "value": value,
        "by": by,
        "at": format_timestamp(at),
        "note": note,
    }


def list_resolutions(
    engine: Engine, election: str, station: str | None = None
) -> list[dict[str, Any]]:
    """Stored resolutions of an election (or one station), by station and field."""
    query = select(resolutions).where(resolutions.c.election == election)
    if station is not None:
        query = query.where(resolutions.c.station == station)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(resolutions.c.station, resolutions.c.field)).mappings()
        return [_row(r) for r in rows]
