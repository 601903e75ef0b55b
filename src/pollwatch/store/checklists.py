"""Checklists of an election: versions stored, reports checked against them, results read.

Every saved definition that differs from the newest one becomes the next version (1, 2, …);
versions are never changed or deleted, so a report that answered version 2 is judged by
version 2 for ever (:func:`pollwatch.observe.checklists.check_answers`). Saving the same
document again changes nothing. Retiring a checklist hides it from observers; its reports and
results stay. Every save and retirement is in the audit log under the coordinator's name.

Checklist reports travel like every report (``POST /api/v1/reports``, kind ``checklist``,
idempotent on the id, appended to the ledger by the group-commit writer); the writer calls
:func:`checklist_errors` for the batch's checklist reports, in its transaction, so a report
naming an unknown checklist or version, or answers that do not fit it, is refused with the
field named (``answers.box_sealed``) and never reaches the ledger.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, tuple_, update

from pollwatch.errors import InputError, NotFoundError
from pollwatch.observe.checklists import (
    Checklist,
    ChecklistResults,
    SubmittedChecklist,
    check_answers,
    check_checklist_id,
    parse_checklist,
    tally_checklist,
)
from pollwatch.observe.reports import ChecklistReport, Report
from pollwatch.store._util import as_utc, format_stored, utcnow
from pollwatch.store.audit import record_audit
from pollwatch.store.engine import write_transaction
from pollwatch.store.tables import checklist_versions, elections, ledger, reports, stations

__all__ = [
    "MAX_CHECKLISTS",
    "SavedChecklist",
    "checklist_errors",
    "checklist_results",
    "checklist_versions_of",
    "list_checklists",
    "observer_checklists",
    "retire_checklist",
    "save_checklist",
]

MAX_CHECKLISTS = 50
"""Most checklists (not versions) per election: a phone keeps them all for offline use."""


@dataclass(frozen=True)
class SavedChecklist:
    """A checklist version as stored: the definition, its number, who saved it and when."""

    checklist: Checklist
    version: int
    created_at: datetime
    created_by: str
    retired: bool = False
    created: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.checklist.to_dict(),
            "version": self.version,
            "created_at": format_stored(self.created_at),
            "created_by": self.created_by,
            "retired": self.retired,
        }


def _saved(row: Any, *, created: bool = False) -> SavedChecklist:
    return SavedChecklist(
        checklist=parse_checklist(row["definition"]),
        version=int(row["version"]),
        created_at=as_utc(row["created_at"]),
        created_by=str(row["created_by"]),
        retired=bool(row["retired"]),
        created=created,
    )


def _newest(conn: Connection, election: str, checklist: str) -> Any:
    return (
        conn.execute(
            select(checklist_versions)
            .where(
                checklist_versions.c.election == election,
                checklist_versions.c.checklist == checklist,
            )
            .order_by(checklist_versions.c.version.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )


def _require_election(conn: Connection, election: str, *, lock: bool = False) -> None:
    query = select(elections.c.id).where(elections.c.id == election)
    if lock and conn.dialect.name != "sqlite":
        query = query.with_for_update()
    if conn.execute(query).first() is None:
        raise NotFoundError(f"no election {election!r}")


def save_checklist(
    engine: Engine, election: str, source: str | bytes, *, actor: str
) -> SavedChecklist:
    """Validate a checklist document and store it as the next version of its id.

    The same definition as the newest version stores nothing (``created`` is ``False``); a
    retired checklist saved again comes back as a new version. Raises :class:`InputError`
    naming the field (:func:`pollwatch.observe.checklists.parse_checklist`), or when the
    election already has :data:`MAX_CHECKLISTS` checklists.
    """
    checklist = parse_checklist(source)
    definition = checklist.to_dict()
    with write_transaction(engine) as conn:
        _require_election(conn, election, lock=True)  # one saver per election at a time
        newest = _newest(conn, election, checklist.id)
        if newest is not None and newest["definition"] == definition and not newest["retired"]:
            return _saved(newest)
        if newest is None:
            count = conn.execute(
                select(func.count(func.distinct(checklist_versions.c.checklist))).where(
                    checklist_versions.c.election == election
                )
            ).scalar_one()
            if count >= MAX_CHECKLISTS:
                raise InputError(
                    f"an election has at most {MAX_CHECKLISTS} checklists", column="id"
                )
        version = 1 if newest is None else int(newest["version"]) + 1
        now = utcnow()
        conn.execute(
            insert(checklist_versions).values(
                election=election,
                checklist=checklist.id,
                version=version,
                definition=definition,
                created_at=now,
                created_by=actor,
                retired=False,
            )
        )
        if newest is not None and newest["retired"]:
            conn.execute(_retire(election, checklist.id, False))
        record_audit(
            conn,
            actor,
            "checklist.save",
            f"{election}/{checklist.id}",
            {"version": version, "questions": len(checklist.questions)},
        )
    return SavedChecklist(checklist, version, now, actor)


def _retire(election: str, checklist: str, retired: bool) -> Any:
    return (
        update(checklist_versions)
        .where(
            checklist_versions.c.election == election,
            checklist_versions.c.checklist == checklist,
        )
        .values(retired=retired)
    )


def retire_checklist(engine: Engine, election: str, checklist: str, *, actor: str) -> None:
    """Stop offering a checklist to observers (reports already sent stay and still count)."""
    check_checklist_id(checklist, "checklist")
    with write_transaction(engine) as conn:
        if _newest(conn, election, checklist) is None:
            raise NotFoundError(f"no checklist {checklist!r} in election {election!r}")
        conn.execute(_retire(election, checklist, True))
        record_audit(conn, actor, "checklist.retire", f"{election}/{checklist}", None)


def list_checklists(
    engine: Engine, election: str, *, include_retired: bool = True
) -> list[SavedChecklist]:
    """The newest version of each of the election's checklists, by id."""
    newest = (
        select(
            checklist_versions.c.checklist,
            func.max(checklist_versions.c.version).label("version"),
        )
        .where(checklist_versions.c.election == election)
        .group_by(checklist_versions.c.checklist)
        .subquery()
    )
    query = (
        select(checklist_versions)
        .join(
            newest,
            (newest.c.checklist == checklist_versions.c.checklist)
            & (newest.c.version == checklist_versions.c.version),
        )
        .where(checklist_versions.c.election == election)
        .order_by(checklist_versions.c.checklist)
    )
    if not include_retired:
        query = query.where(checklist_versions.c.retired.is_(False))
    with engine.connect() as conn:
        return [_saved(row) for row in conn.execute(query).mappings()]


def observer_checklists(engine: Engine, election: str) -> list[dict[str, Any]]:
    """What the observer app keeps for offline use: each active checklist's newest version
    (definition and number; not who saved it)."""
    return [
        {**saved.checklist.to_dict(), "version": saved.version}
        for saved in list_checklists(engine, election, include_retired=False)
    ]


def checklist_versions_of(engine: Engine, election: str, checklist: str) -> dict[int, Checklist]:
    """Every version of one checklist; :class:`NotFoundError` if it has none."""
    check_checklist_id(checklist, "checklist")
    with engine.connect() as conn:
        rows = conn.execute(
            select(checklist_versions.c.version, checklist_versions.c.definition).where(
                checklist_versions.c.election == election,
                checklist_versions.c.checklist == checklist,
            )
        ).all()
    if not rows:
        raise NotFoundError(f"no checklist {checklist!r} in election {election!r}")
    return {int(v): parse_checklist(d) for v, d in rows}


def checklist_errors(conn: Connection, batch: Sequence[Report]) -> dict[int, InputError]:
    """For the checklist reports of a batch: position in the batch → why it is refused.

    One query for the versions the batch names (none when it has no checklist report, the
    common case of the reports' hot path). A report is refused when its checklist or version
    does not exist in its election, or its answers do not fit that version.
    """
    wanted = [(i, r) for i, r in enumerate(batch) if isinstance(r, ChecklistReport)]
    if not wanted:
        return {}
    keys = {(r.election, r.checklist, r.version) for _, r in wanted}
    rows = conn.execute(
        select(
            checklist_versions.c.election,
            checklist_versions.c.checklist,
            checklist_versions.c.version,
            checklist_versions.c.definition,
        ).where(
            tuple_(
                checklist_versions.c.election,
                checklist_versions.c.checklist,
                checklist_versions.c.version,
            ).in_(sorted(keys))
        )
    ).all()
    found = {(e, c, int(v)): parse_checklist(d) for e, c, v, d in rows}
    errors: dict[int, InputError] = {}
    for position, report in wanted:
        definition = found.get((report.election, report.checklist, report.version))
        if definition is None:
            errors[position] = InputError(
                f"no version {report.version} of checklist {report.checklist!r} in election "
                f"{report.election!r}",
                column="version",
            )
            continue
        try:
            check_answers(definition, report.answers)
        except InputError as error:
            errors[position] = error
    return errors


def _submitted(conn: Connection, election: str, checklist: str) -> list[SubmittedChecklist]:
    rows = conn.execute(
        select(
            reports.c.id,
            reports.c.station,
            reports.c.observed_at,
            reports.c.canonical,
            ledger.c.seq,
        )
        .join(ledger, ledger.c.report_id == reports.c.id)
        .where(reports.c.election == election, reports.c.kind == "checklist")
    ).mappings()
    out = []
    for row in rows:
        body = json.loads(row["canonical"])
        if body.get("checklist") != checklist:
            continue
        out.append(
            SubmittedChecklist(
                report_id=str(row["id"]),
                station=str(row["station"]),
                version=int(body["version"]),
                observed_at=as_utc(row["observed_at"]),
                seq=int(row["seq"]),
                answers=body.get("answers", {}),
            )
        )
    return out


def checklist_results(
    engine: Engine, election: str, checklist: str, *, visible: Collection[str] | None = None
) -> ChecklistResults:
    """One checklist's results over the election's registered stations, or only ``visible``
    ones (a coordinator's scope, :func:`pollwatch.store.visible_stations`): distribution per
    question, flagged stations, stations that have not sent it
    (:func:`pollwatch.observe.checklists.tally_checklist`)."""
    versions = checklist_versions_of(engine, election, checklist)
    with engine.connect() as conn:
        registry = [
            str(r[0])
            for r in conn.execute(
                select(stations.c.station)
                .where(stations.c.election == election)
                .order_by(stations.c.station)
            )
        ]
        submitted = _submitted(conn, election, checklist)
    if visible is not None:
        allowed = set(visible)
        registry = [s for s in registry if s in allowed]
    return tally_checklist(versions, submitted, registry)
