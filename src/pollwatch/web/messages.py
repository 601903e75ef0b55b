"""Messages to observers: the coordinators' page and the observer app's inbox.

* ``GET /coordinate/{election}/messages`` (and ``.json``): the messages sent so far, with
  how many observers they reached, how many phones received and read them (counts, never
  who) and the bot's delivery states; ``POST`` sends one (text, urgent flag, targets: all
  observers, stations, countries or one code name; :mod:`pollwatch.store.messages`).
* ``GET /api/v1/observer/messages?station=`` (observer token): the phone's inbox, fetched
  at each sync; ``station`` is where an observer free to report anywhere is now.
* ``POST /api/v1/observer/messages/receipts`` (observer token) with
  ``{"delivered": [ids], "read": [ids]}``: one more on each listed message's counters.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from pollwatch.errors import AuthError, InputError
from pollwatch.observe.ids import ID_LIMIT, check_station_id
from pollwatch.observe.messages import MESSAGE_TEXT_LIMIT, Target, parse_targets
from pollwatch.observe.permissions import can, whole_election
from pollwatch.store import Coordinator, Observer
from pollwatch.store.messages import inbox, list_messages, record_receipts, send_message
from pollwatch.web.access import authorized
from pollwatch.web.deps import (
    current_observer,
    election_row,
    json_body,
    rate_limit,
    store_engine,
)
from pollwatch.web.errors import error_responses
from pollwatch.web.forms import checked_form, form_field, page_csrf, text_field, to_login
from pollwatch.web.pages import render_page

__all__ = ["router"]

router = APIRouter()

_SPLIT = re.compile(r"[\s,;]+")
_LINES = re.compile(r"[\n;,]+")


def _form_targets(form: Any) -> tuple[Target, ...]:
    """The targets the form chose: ``to`` is all, stations, countries or observer."""
    to = form_field(form, "to")
    if to == "all":
        return parse_targets(["all"])
    if to == "stations":
        raw = text_field(form, "stations", limit=8000)
        return parse_targets(f"station:{s}" for s in _SPLIT.split(raw) if s)
    if to == "countries":
        raw = text_field(form, "countries", limit=4000)
        return parse_targets(f"country:{c.strip()}" for c in _LINES.split(raw) if c.strip())
    if to == "observer":
        return parse_targets([f"observer:{text_field(form, 'observer', limit=100).strip()}"])
    raise InputError("'to' must be all, stations, countries or observer", column="to")


async def _page(
    request: Request,
    who: Coordinator,
    election: str,
    *,
    sent: dict[str, Any] | None = None,
    error: InputError | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    info = await election_row(request, election)
    found = await run_in_threadpool(lambda: list_messages(store_engine(request), election, who=who))
    response = render_page(
        request,
        "coordinate_messages.html",
        {
            "who": who,
            "election": info,
            "messages": found,
            "sent": sent,
            "error": None if error is None else {"message": error.reason, "field": error.column},
            "form": form or {"to": "all" if whole_election(who, election) else "stations"},
            "may_send": can(who, "messages.send", election),
            "whole": whole_election(who, election),
            "text_limit": MESSAGE_TEXT_LIMIT,
            "csrf": page_csrf(request),
        },
    )
    response.status_code = status
    return response


@router.get("/coordinate/{election}/messages", response_class=HTMLResponse)
async def messages_page(
    request: Request,
    election: str,
    who: Coordinator | None = Depends(authorized("messages.read", page=True)),
) -> Response:
    """The messages sent to observers, their receipts, and the form to send one."""
    if who is None:
        return to_login(request)
    return await _page(request, who, election)


@router.get("/coordinate/{election}/messages.json")
async def messages_json(
    request: Request,
    election: str,
    who: Coordinator | None = Depends(authorized("messages.read")),
) -> JSONResponse:
    """The messages as JSON (a narrowed scope: those addressing its part)."""
    await election_row(request, election)
    found = await run_in_threadpool(lambda: list_messages(store_engine(request), election, who=who))
    return JSONResponse({"election": election, "messages": found})


@router.post("/coordinate/{election}/messages", response_class=HTMLResponse)
async def messages_submit(
    request: Request,
    election: str,
    who: Coordinator | None = Depends(authorized("messages.send", page=True)),
) -> Response:
    """Send a message; a refused one comes back with its text and the error (400)."""
    if who is None:
        raise AuthError("coordinator login required")
    form = await checked_form(request)
    await election_row(request, election)
    kept = {
        name: form_field(form, name)[:8000]
        for name in ("text", "to", "stations", "countries", "observer", "urgent")
    }
    try:
        text = text_field(form, "text", limit=MESSAGE_TEXT_LIMIT + 100)
        targets = _form_targets(form)
        urgent = form_field(form, "urgent") == "1"
        sent = await run_in_threadpool(
            lambda: send_message(
                store_engine(request),
                election,
                text=text,
                targets=targets,
                urgent=urgent,
                actor=who.name,
                who=who,
            )
        )
    except InputError as error:
        return await _page(request, who, election, error=error, form=kept, status=400)
    return await _page(request, who, election, sent=sent, status=201)


@router.get(
    "/api/v1/observer/messages",
    tags=["observe"],
    summary="The observer's inbox: messages from the coordinators",
    dependencies=[Depends(rate_limit)],
    responses=error_responses(400, 401, 403, 429),
)
async def observer_inbox(
    request: Request,
    station: str | None = Query(None, max_length=ID_LIMIT, description="where the phone is"),
    observer: Observer = Depends(current_observer),
) -> JSONResponse:
    """Messages that reach this observer, newest first: id, text, urgent, sent_at."""
    if station is not None:
        check_station_id(station)
    found = await run_in_threadpool(lambda: inbox(store_engine(request), observer, station=station))
    return JSONResponse({"messages": found})


@router.post(
    "/api/v1/observer/messages/receipts",
    tags=["observe"],
    summary="Count messages as delivered and read (counts only, never who)",
    dependencies=[Depends(rate_limit)],
    responses=error_responses(400, 401, 403, 429),
)
async def observer_receipts(
    request: Request, observer: Observer = Depends(current_observer)
) -> JSONResponse:
    """``{"delivered": [ids], "read": [ids], "station": optional}`` → counters moved."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise InputError("the body must be a JSON object", column="body")
    unknown = set(body) - {"delivered", "read", "station"}
    if unknown:
        raise InputError(f"unknown field {sorted(unknown)[0]!r}", column=sorted(unknown)[0])
    lists = {}
    for name in ("delivered", "read"):
        value = body.get(name, [])
        if not isinstance(value, list):
            raise InputError(f"'{name}' must be a list of message ids", column=name)
        lists[name] = value
    station = body.get("station")
    if station is not None:
        station = check_station_id(station)
    moved = await run_in_threadpool(
        lambda: record_receipts(
            store_engine(request),
            observer,
            delivered=lists["delivered"],
            read=lists["read"],
            station=station,
        )
    )
    return JSONResponse(moved)
