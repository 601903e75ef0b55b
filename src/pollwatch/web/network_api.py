"""The network's JSON API: alerts, coverage, incidents followed up, the roster, the hotline.

Under ``/api/v1/elections/{election}/``, coordinators only (bearer session token or the
cookie; a cookie-authenticated change echoes the CSRF cookie in ``X-CSRF-Token``). Each
handler calls one store function (:mod:`pollwatch.store.alerts`, :mod:`pollwatch.store.
incidents`, :mod:`pollwatch.store.rosters`) in the thread pool; listings are narrowed to the
reader's stations (:func:`pollwatch.web.access.visible`), changes are audited by the store.

* ``GET dashboard/alerts`` — the alerts now (:mod:`pollwatch.observe.alerts`: kinds,
  thresholds, stable ids for a chat bot);
* ``GET dashboard/coverage`` — per watched station its local hours, reports and counted
  share, the hours an estimate fills in; every station's time zone;
* ``GET incidents`` (``?status=open|closed|all|<status>``), ``GET/PATCH incidents/{id}``,
  ``POST incidents/{id}/notes`` — follow-up (:mod:`pollwatch.observe.followup`);
* ``GET roster``, ``POST stations/{station}/roster`` — assignments by code name;
* ``POST stations/{station}/hotline`` — a report entered on an observer's behalf.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from pollwatch.observe.followup import INCIDENT_STATUSES, NOTE_LIMIT, SEVERITIES
from pollwatch.observe.ids import check_station_id
from pollwatch.observe.permissions import require
from pollwatch.store import Coordinator, station_place
from pollwatch.store.alerts import election_alerts, election_coverage
from pollwatch.store.incidents import (
    LIST_LIMIT,
    add_incident_note,
    get_incident,
    incident_station,
    list_incidents,
    update_incident,
)
from pollwatch.store.rosters import assign_observer, enter_hotline_report, list_roster
from pollwatch.web.access import authorized, csrf_protected, visible
from pollwatch.web.deps import election_id, store_engine
from pollwatch.web.errors import error_responses
from pollwatch.web.json_bodies import ObjectBody
from pollwatch.web.path_places import incident_place

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["dashboard"])

_E = "/elections/{election}"


async def _visible_read(
    request: Request,
    who: Coordinator,
    election: str,
    read: Callable[..., dict[str, Any]],
    **options: Any,
) -> JSONResponse:
    """One store listing of the election, narrowed to the reader's stations (thread pool)."""
    allowed = await visible(request, who, election)
    listing = functools.partial(read, store_engine(request), election, allowed=allowed, **options)
    return JSONResponse(await run_in_threadpool(listing))


_INCIDENT_CHANGE = ObjectBody(
    {
        "status": {"type": "string", "enum": list(INCIDENT_STATUSES)},
        "severity": {"type": "string", "enum": list(SEVERITIES)},
        "assignee": {"type": ["string", "null"], "maxLength": 100},
        "public": {"type": "boolean"},
    }
)
_NOTE = ObjectBody({"note": {"type": "string", "maxLength": NOTE_LIMIT}}, ("note",))
_ASSIGNMENT = ObjectBody(
    {
        "code_name": {"type": "string", "maxLength": 100},
        "shift_start": {"type": ["string", "null"], "format": "date-time"},
        "shift_end": {"type": ["string", "null"], "format": "date-time"},
    },
    ("code_name",),
)
_HOTLINE_REPORT = ObjectBody(
    {
        "code_name": {"type": "string", "maxLength": 100},
        "report": {"type": "object", "description": "a report body, as an observer sends it"},
    },
    ("code_name", "report"),
)


@router.get(
    f"{_E}/dashboard/alerts",
    summary="Alerts now: no opening status, silence, count window missing, revoked sending",
    responses={
        200: {"description": "{generated_at, watched, alerts: [...]}"},
        **error_responses(401, 404),
    },
)
async def get_alerts(
    request: Request,
    who: Coordinator = Depends(authorized("dashboard.read")),
    election: str = Depends(election_id),
) -> JSONResponse:
    """Most severe first; each alert has a stable ``id`` (the same situation, the same id)."""
    return await _visible_read(request, who, election, election_alerts)


@router.get(
    f"{_E}/dashboard/coverage",
    summary="Coverage per station and local hour; hours an estimate fills in; time zones",
    responses={200: {"description": "{stations: [...], timezones}"}, **error_responses(401, 404)},
)
async def get_coverage(
    request: Request,
    who: Coordinator = Depends(authorized("dashboard.read")),
    election: str = Depends(election_id),
) -> JSONResponse:
    """Hours are each station's local clock hours (its schedule's time zone)."""
    return await _visible_read(request, who, election, election_coverage)


@router.get(
    f"{_E}/incidents",
    summary="Incidents with their follow-up, most severe first, then oldest first",
    responses={
        200: {"description": "{total, by_severity, incidents: [...]}"},
        **error_responses(400, 401, 404, 422),
    },
)
async def get_incidents(
    request: Request,
    status: str = Query("open", max_length=20, description="open, closed, all or a status"),
    limit: int = Query(100, ge=1, le=LIST_LIMIT),
    offset: int = Query(0, ge=0, le=10_000_000),
    who: Coordinator = Depends(authorized("dashboard.read")),
    election: str = Depends(election_id),
) -> JSONResponse:
    """Every open incident is reachable (``offset``), not only the newest."""
    return await _visible_read(
        request, who, election, list_incidents, status=status, limit=limit, offset=offset
    )


@router.get(
    f"{_E}/incidents/{{report_id}}",
    summary="One incident: follow-up, internal notes, history of changes",
    responses={200: {"description": "the incident"}, **error_responses(401, 403, 404)},
)
async def get_one_incident(
    request: Request,
    report_id: str,
    _who: Coordinator = Depends(authorized("incidents.read", locate=incident_place)),
    election: str = Depends(election_id),
) -> JSONResponse:
    """Internal notes are for coordinators only; they are never published."""
    data = await run_in_threadpool(get_incident, store_engine(request), election, report_id)
    return JSONResponse(data)


@router.patch(
    f"{_E}/incidents/{{report_id}}",
    summary="Change an incident's status, severity, assignee or public flag (audited)",
    responses={200: {"description": "the incident"}, **error_responses(400, 401, 403, 404, 413)},
    openapi_extra=_INCIDENT_CHANGE.openapi(),
)
async def patch_incident(
    request: Request,
    report_id: str,
    who: Coordinator = Depends(csrf_protected("incidents.follow", locate=incident_place)),
    election: str = Depends(election_id),
) -> JSONResponse:
    """Only the fields given change; the moves allowed are the follow-up rules'."""
    body = await _INCIDENT_CHANGE.read(request)
    engine = store_engine(request)
    if "public" in body and who.role != "admin":
        station = await run_in_threadpool(incident_station, engine, election, report_id)
        place = await run_in_threadpool(station_place, engine, election, station)
        require(who, "incidents.publish", election, place)
    data = await run_in_threadpool(
        lambda: update_incident(engine, election, report_id, by=who.name, **body)
    )
    return JSONResponse(data)


@router.post(
    f"{_E}/incidents/{{report_id}}/notes",
    status_code=201,
    summary="Add an internal note to an incident (audited; never public)",
    responses={
        201: {"description": "{author, at, text}"},
        **error_responses(400, 401, 403, 404, 413),
    },
    openapi_extra=_NOTE.openapi(),
)
async def post_incident_note(
    request: Request,
    report_id: str,
    who: Coordinator = Depends(csrf_protected("incidents.follow", locate=incident_place)),
    election: str = Depends(election_id),
) -> JSONResponse:
    """The note is kept verbatim and always shown as text."""
    body = await _NOTE.read(request)
    data = await run_in_threadpool(
        lambda: add_incident_note(
            store_engine(request), election, report_id, body["note"], by=who.name
        )
    )
    return JSONResponse(data, status_code=201)


@router.get(
    f"{_E}/roster",
    summary="Observers (code names) assigned to stations and shifts, with history",
    responses={200: {"description": "{assignments: [...]}"}, **error_responses(401, 403, 404)},
)
async def get_roster(
    request: Request,
    who: Coordinator = Depends(authorized("roster.read")),
    election: str = Depends(election_id),
) -> JSONResponse:
    """Current assignments first; ended ones stay as the day's history."""
    return await _visible_read(request, who, election, list_roster)


@router.post(
    f"{_E}/stations/{{station}}/roster",
    status_code=201,
    summary="Assign an observer (code name) to the station, optionally for a shift (audited)",
    responses={201: {"description": "the assignment"}, **error_responses(400, 401, 403, 404, 413)},
    openapi_extra=_ASSIGNMENT.openapi(),
)
async def post_roster(
    request: Request,
    station: str,
    who: Coordinator = Depends(csrf_protected("roster.manage")),
    election: str = Depends(election_id),
) -> JSONResponse:
    """A new assignment ends the observer's overlapping ones (a move keeps the history)."""
    check_station_id(station)
    body = await _ASSIGNMENT.read(request)
    data = await run_in_threadpool(
        lambda: assign_observer(
            store_engine(request),
            election,
            station,
            body["code_name"],
            by=who.name,
            shift_start=body.get("shift_start"),
            shift_end=body.get("shift_end"),
        )
    )
    return JSONResponse(data, status_code=201)


@router.post(
    f"{_E}/stations/{{station}}/hotline",
    status_code=201,
    summary="Enter a report on an observer's behalf (hotline): ledger marked 'via hotline'",
    responses={
        200: {"description": "identical retry"},
        201: {"description": "the stored report with its ledger entry"},
        **error_responses(400, 401, 403, 404, 409, 413),
    },
    openapi_extra=_HOTLINE_REPORT.openapi(),
)
async def post_hotline(
    request: Request,
    station: str,
    who: Coordinator = Depends(csrf_protected("reports.hotline")),
    election: str = Depends(election_id),
) -> JSONResponse:
    """Validated as the observer's own report; who entered it goes to the audit log only."""
    check_station_id(station)
    body = await _HOTLINE_REPORT.read(request)
    stored = await run_in_threadpool(
        lambda: enter_hotline_report(
            store_engine(request), election, station, body["code_name"], body["report"], by=who.name
        )
    )
    return JSONResponse(stored.report, status_code=stored.status)
