"""The network's coordinator pages: open incidents, one incident's follow-up, the roster and a
station's desk (assign an observer, take a report by phone).

Server-rendered forms that work without JavaScript (post, then redirect back: a reload
does not post twice), protected like every page form (the session's CSRF token,
:mod:`pollwatch.web.forms`). Each handler calls one store function; the rules are in
:mod:`pollwatch.observe.followup`, :mod:`pollwatch.store.rosters` and the permission table.
Text from observers and coordinators (incident texts, notes) is rendered escaped, as text.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from pollwatch.errors import AuthError, InputError
from pollwatch.observe.alerts import local_text
from pollwatch.observe.followup import INCIDENT_STATUSES, SEVERITIES, TRANSITIONS
from pollwatch.observe.ids import check_station_id
from pollwatch.observe.reports import INCIDENT_CATEGORIES, STATUSES
from pollwatch.store import Coordinator
from pollwatch.store.alerts import station_timezones
from pollwatch.store.incidents import (
    add_incident_note,
    assignable_coordinators,
    get_incident,
    list_incidents,
    update_incident,
)
from pollwatch.store.rosters import (
    assign_observer,
    enter_hotline_report,
    list_roster,
    registered_station,
)
from pollwatch.web.access import authorized, visible
from pollwatch.web.deps import election_row, store_engine
from pollwatch.web.forms import checked_form, page_csrf, text_field, to_login
from pollwatch.web.labels import (
    ACTION_LABELS,
    CATEGORY_LABELS,
    FOLLOWUP_LABELS,
    SEVERITY_LABELS,
    STATUS_LABELS,
)
from pollwatch.web.pages import render_page, translator, with_lang
from pollwatch.web.path_places import incident_place

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

PAGE = 200
"""Incidents per page of the list (the next ones by ``?offset=``)."""


def _labels(request: Request) -> dict[str, dict[str, str]]:
    _ = translator(request)
    return {
        "status": {k: _(v) for k, v in FOLLOWUP_LABELS.items()},
        "severity": {k: _(v) for k, v in SEVERITY_LABELS.items()},
        "category": {k: _(v) for k, v in CATEGORY_LABELS.items()},
        "station_status": {k: _(v) for k, v in STATUS_LABELS.items()},
        "action": {k: _(v) for k, v in ACTION_LABELS.items()},
    }


def _local(iso: str | None, zone: str | None) -> str:
    if not iso:
        return "–"
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return local_text(moment, zone) if zone else f"{iso[:16].replace('T', ' ')} UTC"


def _age(minutes: int, _: Callable[[str], str]) -> str:
    """``95`` → ``1 h 35 min`` (days beyond two days), in the page's language."""
    if minutes < 60:
        return f"{minutes} {_('min')}"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} {_('h')} {minutes % 60} {_('min')}"
    return f"{hours // 24} {_('d')} {hours % 24} {_('h')}"


# --- incidents ------------------------------------------------------------------------------


@router.get("/coordinate/{election}/incidents", response_class=HTMLResponse)
async def incidents_page(
    request: Request,
    election: str,
    who: Coordinator | None = Depends(authorized("dashboard.read", page=True)),
) -> Response:
    """Open incidents (or ``?status=``) most severe first, then oldest first; all of them."""
    if who is None:
        return to_login(request)
    info = await election_row(request, election)
    status = request.query_params.get("status", "open")[:20]
    raw_offset = request.query_params.get("offset", "0")[:9]
    offset = int(raw_offset) if raw_offset.isdigit() else 0
    allowed = await visible(request, who, election)
    engine = store_engine(request)
    data = await run_in_threadpool(
        lambda: list_incidents(
            engine, election, status=status, allowed=allowed, limit=PAGE, offset=offset
        )
    )
    zones = await run_in_threadpool(station_timezones, engine, election)
    _ = translator(request)
    for item in data["incidents"]:
        item["local_observed"] = _local(item["observed_at"], zones.get(item["station"]))
        item["age"] = _age(item["age_minutes"], _)
    return render_page(
        request,
        "coordinate_incidents.html",
        {
            "who": who,
            "election": info,
            "data": data,
            "selectors": ("open", "closed", "all", *INCIDENT_STATUSES),
            "page": PAGE,
            "labels": _labels(request),
            "csrf": page_csrf(request),
        },
    )


@router.get("/coordinate/{election}/incidents/{report_id}", response_class=HTMLResponse)
async def incident_page(
    request: Request,
    election: str,
    report_id: str,
    who: Coordinator | None = Depends(
        authorized("incidents.read", page=True, locate=incident_place)
    ),
) -> Response:
    """One incident: the observer's report, its follow-up, notes, history and the forms."""
    if who is None:
        return to_login(request)
    info = await election_row(request, election)
    engine = store_engine(request)
    item = await run_in_threadpool(get_incident, engine, election, report_id)
    zones = await run_in_threadpool(station_timezones, engine, election)
    zone = zones.get(item["station"])
    item["local_observed"] = _local(item["observed_at"], zone)
    for note in item["note_list"]:
        note["local_at"] = _local(note["at"], zone)
    for change in item["history"]:
        change["local_at"] = _local(change["at"], zone)
    may_follow = who.role in ("admin", "coordinator")  # the page's scope was checked
    people = (
        await run_in_threadpool(assignable_coordinators, engine, election, item["station"])
        if may_follow
        else []
    )
    return render_page(
        request,
        "coordinate_incident.html",
        {
            "who": who,
            "election": info,
            "item": item,
            "timezone": zone,
            "may_follow": may_follow,
            "moves": (item["status"], *TRANSITIONS[item["status"]]),
            "severities": SEVERITIES,
            "people": people,
            "labels": _labels(request),
            "csrf": page_csrf(request),
        },
    )


async def _posted_form(
    request: Request, who: Coordinator | None, election: str, station: str | None = None
) -> tuple[Coordinator, FormData]:
    """A page form's post: logged in (else 401), its CSRF token checked, then the path's
    station id (when the route has one) and election (400 malformed, 404 unknown)."""
    if who is None:
        raise AuthError("coordinator login required")
    form = await checked_form(request)
    if station is not None:
        check_station_id(station)
    await election_row(request, election)
    return who, form


def _back(request: Request, path: str) -> RedirectResponse:
    """Post, then redirect back (303, in the page's language): a reload does not post twice."""
    return RedirectResponse(with_lang(request, path), status_code=303)


def _choice(form: FormData, name: str) -> str | None:
    value = text_field(form, name, limit=100, required=False).strip()
    return value or None


@router.post("/coordinate/{election}/incidents/{report_id}", response_class=HTMLResponse)
async def incident_submit(
    request: Request,
    election: str,
    report_id: str,
    who: Coordinator | None = Depends(
        authorized("incidents.follow", page=True, locate=incident_place)
    ),
) -> Response:
    """``what=update`` (status, severity, assignee, public) or ``what=note``; then back."""
    who, form = await _posted_form(request, who, election)
    engine = store_engine(request)
    what = text_field(form, "what", limit=20, required=False)
    if what == "note":
        note = text_field(form, "note", limit=4000)
        await run_in_threadpool(
            lambda: add_incident_note(engine, election, report_id, note, by=who.name)
        )
    elif what == "update":
        changes: dict[str, Any] = {}
        for name in ("status", "severity"):
            value = _choice(form, name)
            if value is not None:
                changes[name] = value
        if "assignee" in form:
            changes["assignee"] = _choice(form, "assignee")
        public = _choice(form, "public")
        if public is not None:
            if public not in ("yes", "no"):
                raise InputError("'public' must be yes or no", column="public")
            changes["public"] = public == "yes"
        await run_in_threadpool(
            lambda: update_incident(engine, election, report_id, by=who.name, **changes)
        )
    else:
        raise InputError("'what' must be update or note", column="what")
    return _back(request, f"/coordinate/{election}/incidents/{report_id.lower()}")


# --- roster and a station's desk ----------------------------------------------------------


@router.get("/coordinate/{election}/roster", response_class=HTMLResponse)
async def roster_page(
    request: Request,
    election: str,
    who: Coordinator | None = Depends(authorized("roster.read", page=True)),
) -> Response:
    """Who is assigned where now, the day's moves, and each station's desk."""
    if who is None:
        return to_login(request)
    info = await election_row(request, election)
    allowed = await visible(request, who, election)
    engine = store_engine(request)
    data = await run_in_threadpool(lambda: list_roster(engine, election, allowed=allowed))
    zones = await run_in_threadpool(station_timezones, engine, election)
    for row in data["assignments"]:
        zone = zones.get(row["station"])
        for name in ("assigned_at", "ended_at", "shift_start", "shift_end"):
            row[f"local_{name}"] = _local(row[name], zone) if row[name] else ""
    names = sorted(s for s in zones if allowed is None or s in allowed)
    return render_page(
        request,
        "coordinate_roster.html",
        {
            "who": who,
            "election": info,
            "data": data,
            "stations": names,
            "may_manage": who.role in ("admin", "coordinator"),
            "csrf": page_csrf(request),
        },
    )


def _local_now(zone: str | None) -> str:
    now = datetime.now(ZoneInfo(zone)) if zone else datetime.now().astimezone()
    return now.strftime("%Y-%m-%dT%H:%M")


async def _desk(
    request: Request, who: Coordinator, election: str, station: str, **extra: Any
) -> HTMLResponse:
    info = await election_row(request, election)
    engine = store_engine(request)
    await run_in_threadpool(registered_station, engine, election, station)
    zones = await run_in_threadpool(station_timezones, engine, election)
    zone = zones.get(station)
    roster = await run_in_threadpool(lambda: list_roster(engine, election, station=station))
    for row in roster["assignments"]:
        row["local_assigned_at"] = _local(row["assigned_at"], zone)
        row["local_ended_at"] = _local(row["ended_at"], zone) if row["ended_at"] else ""
    return render_page(
        request,
        "coordinate_desk.html",
        {
            "who": who,
            "election": info,
            "station": station,
            "timezone": zone,
            "roster": roster["assignments"],
            "report_id": str(uuid.uuid4()),
            "local_now": _local_now(zone),
            "categories": INCIDENT_CATEGORIES,
            "statuses": STATUSES,
            "labels": _labels(request),
            "csrf": page_csrf(request),
            **extra,
        },
    )


@router.get("/coordinate/{election}/stations/{station}/hotline", response_class=HTMLResponse)
async def desk_page(
    request: Request,
    election: str,
    station: str,
    who: Coordinator | None = Depends(authorized("reports.hotline", page=True)),
) -> Response:
    """A station's desk: its roster (assign, move) and the hotline report form."""
    if who is None:
        return to_login(request)
    check_station_id(station)
    return await _desk(request, who, election, station)


def _local_moment(form: FormData, name: str, zone: str | None) -> str:
    """A ``datetime-local`` field read in the station's time zone, as ISO-8601 with offset."""
    raw = text_field(form, name, limit=40).strip()
    try:
        naive = datetime.fromisoformat(raw)
    except ValueError:
        raise InputError(
            f"'{name}' must be a date and time like 2026-03-15T08:30", column=name
        ) from None
    if naive.tzinfo is not None:
        return naive.isoformat()
    return naive.replace(tzinfo=ZoneInfo(zone or "UTC")).isoformat()


@dataclass(frozen=True)
class _DeskPost:
    """A station desk's posted form, with what each desk form needs."""

    who: Coordinator
    form: FormData
    zone: str | None
    """The station's time zone: its date and time fields are read in it."""
    code_name: str
    """The observer the form is about."""


async def _desk_form(
    request: Request, who: Coordinator | None, election: str, station: str
) -> _DeskPost:
    """A station desk's post, checked as :func:`_posted_form` checks it."""
    who, form = await _posted_form(request, who, election, station)
    zones = await run_in_threadpool(station_timezones, store_engine(request), election)
    code_name = text_field(form, "code_name", limit=100).strip()
    return _DeskPost(who, form, zones.get(station), code_name)


def _hotline_report(form: FormData, zone: str | None) -> dict[str, Any]:
    kind = text_field(form, "kind", limit=20)
    report: dict[str, Any] = {
        "id": text_field(form, "report_id", limit=40).strip(),
        "kind": kind,
        "observed_at": _local_moment(form, "observed_at", zone),
    }
    if kind == "status":
        report["status"] = text_field(form, "status", limit=20)
    elif kind == "incident":
        report["category"] = text_field(form, "category", limit=40)
        report["text"] = text_field(form, "text", limit=4000, required=False)
    elif kind == "count":
        report["window_start"] = _local_moment(form, "window_start", zone)
        report["window_end"] = report["observed_at"]
        entered = text_field(form, "entered", limit=8).strip()
        if not entered.isdigit():
            raise InputError("'entered' must be a whole number", column="entered")
        report["entered"] = int(entered)
    else:
        raise InputError("'kind' must be status, count or incident", column="kind")
    return report


@router.post("/coordinate/{election}/stations/{station}/hotline", response_class=HTMLResponse)
async def desk_hotline_submit(
    request: Request,
    election: str,
    station: str,
    who: Coordinator | None = Depends(authorized("reports.hotline", page=True)),
) -> Response:
    """Store the report taken by phone for the observer named by code name."""
    post = await _desk_form(request, who, election, station)
    report = _hotline_report(post.form, post.zone)
    engine = store_engine(request)
    stored = await run_in_threadpool(
        lambda: enter_hotline_report(
            engine, election, station, post.code_name, report, by=post.who.name
        )
    )
    response = await _desk(request, post.who, election, station, entered=stored.report)
    response.status_code = stored.status
    return response


@router.post("/coordinate/{election}/stations/{station}/roster", response_class=HTMLResponse)
async def desk_roster_submit(
    request: Request,
    election: str,
    station: str,
    who: Coordinator | None = Depends(authorized("roster.manage", page=True)),
) -> Response:
    """Assign (or move) an observer to this station; then back to the desk."""
    post = await _desk_form(request, who, election, station)
    engine = store_engine(request)
    start, end = (
        _local_moment(post.form, name, post.zone)
        if text_field(post.form, name, limit=40, required=False)
        else None
        for name in ("shift_start", "shift_end")
    )
    await run_in_threadpool(
        lambda: assign_observer(
            engine,
            election,
            station,
            post.code_name,
            by=post.who.name,
            shift_start=start,
            shift_end=end,
        )
    )
    return _back(request, f"/coordinate/{election}/stations/{station}/hotline")
