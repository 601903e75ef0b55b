"""The coordinators' dashboard API and the public summary (JSON and server-sent events).

Everything under ``/api/v1/elections/{election}/``; coordinators only (bearer session token or
the session cookie), except ``public``. Handlers translate HTTP to one read-model call of
:mod:`pollwatch.store` in the thread pool. A state change authenticated by the cookie must
echo the ``pollwatch_csrf`` cookie in ``X-CSRF-Token``
(:func:`pollwatch.web.access.csrf_protected`); every change is in the audit log.

The live feed (``events``) is a ``text/event-stream`` that polls the election's ledger
every ``events_poll_seconds`` (a setting, 1 s): stateless, so it works the same with several
server processes behind a load balancer, and resumable through ``Last-Event-ID`` (the
ledger seq), which browsers' ``EventSource`` sends when it reconnects.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from pollwatch.config import Settings
from pollwatch.errors import InputError
from pollwatch.observe.ids import check_station_id
from pollwatch.store import (
    Coordinator,
    activity,
    comparison_rows,
    conflict_page,
    conflicts,
    dashboard_stations,
    events_after,
    ledger_seq,
    press_summary,
    pvt_estimate,
    resolve_conflict,
    set_embargo,
    set_incident_public,
    set_tolerance,
)
from pollwatch.web.access import authorized, csrf_protected, only_visible, visible
from pollwatch.web.deps import election_id, election_row, rate_limit, store_engine
from pollwatch.web.errors import error_responses
from pollwatch.web.json_bodies import ObjectBody
from pollwatch.web.path_places import incident_place

__all__ = ["EVENT_BATCH", "router"]

router = APIRouter(prefix="/api/v1", tags=["dashboard"])

EVENT_BATCH = 200
"""Report events sent per poll; beyond that one ``refresh`` event tells the page to reload."""

_E = "/elections/{election}"


# --- read endpoints ---------------------------------------------------------------------------


def _one_at_a_time(request: Request, election: str) -> asyncio.Lock:
    """The election's lock for the read models that may rebuild master records.

    A cold rebuild can take a minute with a million reports; requests arriving meanwhile
    wait here, in the event loop, instead of each holding a worker thread while blocked in
    the store (the thread pool also serves the observers' reports).
    """
    locks: dict[str, asyncio.Lock] | None = getattr(request.app.state, "dashboard_locks", None)
    if locks is None:
        locks = {}
        request.app.state.dashboard_locks = locks
    return locks.setdefault(election, asyncio.Lock())


_SINCE_DESCRIPTION = (
    "`version` of an earlier answer: only what changed after it (a whole number, "
    "0 or more; anything else is refused with 400)"
)


def _since(text: str | None) -> int | None:
    """The ``since`` query parameter: a ledger seq, as ``version`` in an earlier answer."""
    if text is None:
        return None
    value = text.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise InputError(
            "'since' must be the 'version' of an earlier answer (a whole number, 0 or more)",
            column="since",
        )
    return int(value)


def _answer(request: Request, data: dict[str, Any]) -> Response:
    """``data`` as JSON with an ``ETag`` over everything but ``generated_at``; 304 (no
    body) when the client's ``If-None-Match`` names it: a refresh with nothing new costs
    the dashboard nothing to parse or draw. Serialised once: the tag hashes the body
    before ``generated_at`` is appended to it."""
    stamp = data.pop("generated_at", None)
    core = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    tag = f'W/"{hashlib.blake2b(core.encode(), digest_size=12).hexdigest()}"'
    headers = {"etag": tag, "cache-control": "private, no-cache"}
    wanted = request.headers.get("if-none-match", "")
    if tag in (t.strip() for t in wanted.split(",")):
        return Response(status_code=304, headers=headers)
    if stamp is not None:
        core = core[:-1] + ("," if len(core) > 2 else "") + '"generated_at":'
        core += json.dumps(stamp) + "}"
    return Response(core.encode(), media_type="application/json", headers=headers)


@router.get(
    f"{_E}/dashboard/stations",
    summary="Every station with status, last report, counters and sample membership; totals",
    description=(
        "Every registry station (a page of them with `limit`/`offset`), the election's "
        "`totals` and `tolerance`, and `version` (the election's newest ledger seq when "
        "read). With `since=<version>` only the stations with a report after that "
        "version (the dashboard's refresh: a few rows instead of every station); "
        "`since` is echoed, or null when it was beyond `version` (a restored database): "
        "then every station is listed. A station's row changes only with its own "
        "reports; sample membership shows in the full answer. An `ETag` comes with "
        "every answer; `If-None-Match` with it answers 304 when nothing changed."
    ),
    responses={
        200: {
            "description": "{election, generated_at, tolerance, version, since, totals, "
            "stations: [...]}"
        },
        304: {"description": "nothing changed since the answer with this ETag"},
        **error_responses(400, 401, 404, 422),
    },
)
async def get_dashboard_stations(
    request: Request,
    limit: int | None = Query(None, ge=1, le=100_000, description="page size"),
    offset: int = Query(0, ge=0, le=10_000_000, description="stations to skip"),
    since: str | None = Query(None, description=_SINCE_DESCRIPTION),
    who: Coordinator = Depends(authorized("dashboard.read")),
    election: str = Depends(election_id),
) -> Response:
    """Reads the per-station counters, never the reports: fast with millions of reports."""
    after = _since(since)
    data = await run_in_threadpool(
        lambda: dashboard_stations(
            store_engine(request), election, limit=limit, offset=offset, since=after
        )
    )
    # A scope that is part of the election sees its stations only (a page may then hold
    # fewer than ``limit``); the totals stay the election's.
    data["stations"] = only_visible(data["stations"], await visible(request, who, election))
    return _answer(request, data)


@router.get(
    f"{_E}/dashboard/activity",
    summary="Reports and incidents per hour, people entered per hour, newest incidents",
    description=(
        "An `ETag` comes with every answer; `If-None-Match` with it answers 304 when "
        "nothing changed (the chart is rebuilt at most every few seconds)."
    ),
    responses={
        200: {
            "description": "{utc_offset, timezone, reports_per_hour, entered_per_hour, incidents}"
        },
        304: {"description": "nothing changed since the answer with this ETag"},
        **error_responses(401, 404),
    },
)
async def get_dashboard_activity(
    request: Request,
    who: Coordinator = Depends(authorized("dashboard.read")),
    election: str = Depends(election_id),
) -> Response:
    """Hours are the election's local clock hours (``utc_offset`` and ``timezone`` say
    which; UTC when its stations are in several zones); count windows are spread evenly
    over the hours they cover."""
    async with _one_at_a_time(request, election):
        data = await run_in_threadpool(
            lambda: activity(store_engine(request), election, utc_offset=None)
        )
    data["incidents"] = only_visible(data["incidents"], await visible(request, who, election))
    return _answer(request, data)


@router.get(
    f"{_E}/dashboard/conflicts",
    summary="Fields where observers disagree, open and resolved",
    description=(
        "Without parameters: every conflict of the election, by station and field "
        "(`{election, conflicts}`; megabytes with a million reports). With `limit` "
        "and/or `since`: the first `limit` conflicts by priority (open ones by station "
        "and field, then resolved ones) with the election's `total` and `open` counts "
        "and `version` (the newest ledger seq when read); with `since=<version>` only "
        "the conflicts of the stations that may have changed after it, named in "
        "`stations` (those with a report after it and those with resolutions): replace "
        "those stations' conflicts with the ones given. `since` is echoed, or null when "
        "it was beyond `version`. An `ETag` comes with every answer; `If-None-Match` "
        "with it answers 304 when nothing changed."
    ),
    responses={
        200: {
            "description": "{election, conflicts: [{station, field, values, resolved}]}; "
            "with limit/since also {version, since, total, open, stations?}"
        },
        304: {"description": "nothing changed since the answer with this ETag"},
        **error_responses(400, 401, 404, 422),
    },
)
async def get_dashboard_conflicts(
    request: Request,
    limit: int | None = Query(None, ge=1, le=100_000, description="conflicts at most"),
    since: str | None = Query(None, description=_SINCE_DESCRIPTION),
    who: Coordinator = Depends(authorized("dashboard.read")),
    election: str = Depends(election_id),
) -> Response:
    """Open conflicts (``resolved: null``) are left out of every estimate until resolved."""
    after = _since(since)
    engine = store_engine(request)
    allowed = await visible(request, who, election)
    if limit is None and after is None:  # the whole list, as before
        async with _one_at_a_time(request, election):
            data = await run_in_threadpool(conflicts, engine, election)
        return _answer(request, {"election": election, "conflicts": only_visible(data, allowed)})
    async with _one_at_a_time(request, election):
        page = await run_in_threadpool(
            lambda: conflict_page(engine, election, limit=limit, since=after)
        )
    page["conflicts"] = only_visible(page["conflicts"], allowed)
    if "stations" in page and allowed is not None:
        page["stations"] = [s for s in page["stations"] if s in allowed]
    return _answer(request, page)


@router.get(
    f"{_E}/dashboard/comparison",
    summary="Independent turnout against official figures, largest discrepancy first",
    responses={
        200: {"description": "{tolerance, rows: [...]}"},
        **error_responses(400, 401, 404, 422),
    },
)
async def get_dashboard_comparison(
    request: Request,
    tolerance: float | None = Query(
        None, description="relative turnout slack, 0…1 (default: the election's)"
    ),
    who: Coordinator = Depends(authorized("dashboard.read")),
    election: str = Depends(election_id),
) -> JSONResponse:
    """Flagged stations first, then by the relative difference; the store checks ``tolerance``."""
    async with _one_at_a_time(request, election):
        data = await run_in_threadpool(
            lambda: comparison_rows(store_engine(request), election, tolerance=tolerance)
        )
    data = {**data, "rows": only_visible(data["rows"], await visible(request, who, election))}
    return JSONResponse(data)


@router.get(
    f"{_E}/pvt",
    summary="Quick count of the stored sample: shares and turnout with 95%/99% margins",
    responses={
        200: {"description": "PVT result with sample_size and reported"},
        **error_responses(400, 401, 404, 409, 422),
    },
)
async def get_pvt(
    request: Request,
    denominator: Literal["valid", "cast"] = Query(
        "valid", description="shares of valid ballots, or of valid plus invalid"
    ),
    _who: Coordinator = Depends(authorized("dashboard.read")),
    election: str = Depends(election_id),
) -> JSONResponse:
    """409 when no sample is drawn; ``ready`` false while too few sampled protocols are in."""
    data = await run_in_threadpool(
        lambda: pvt_estimate(store_engine(request), election, denominator=denominator)
    )
    return JSONResponse(data)


@router.get(
    f"{_E}/public",
    summary="Aggregated, non-identifying figures for the press (no login)",
    dependencies=[Depends(rate_limit)],
    responses={
        200: {"description": "stations, reports, incidents by category, turnout, pvt, ledger"},
        **error_responses(404, 429),
    },
)
async def get_public(request: Request, election: str = Depends(election_id)) -> JSONResponse:
    """The press page's figures under the publication policy (``pollwatch.observe.
    publication``): during voting as of the release time, delayed and without the turnout
    comparison or quick count; no station ids, texts or observer names ever."""
    delay = request.app.state.settings.public_delay_minutes
    async with _one_at_a_time(request, election):
        data = await run_in_threadpool(
            lambda: press_summary(store_engine(request), election, delay_minutes=delay)
        )
    info = await election_row(request, election)
    data["simulated"] = info["simulated"]  # a simulated election says so everywhere
    return JSONResponse(data, headers={"cache-control": "public, max-age=60"})


# --- changes (audited, CSRF-checked) --------------------------------------------------------


_RESOLUTION = ObjectBody(
    {
        "field": {"type": "string", "maxLength": 200},
        "value": {
            "description": "an integer for a protocol figure, a status, or the id(s) of "
            "the count report(s) to keep"
        },
        "note": {"type": "string", "maxLength": 4000},
    },
    ("field", "value"),
)


@router.post(
    f"{_E}/stations/{{station}}/resolutions",
    status_code=201,
    summary="Resolve a conflicting field of a station's master record (audited)",
    responses={
        201: {"description": "{station, field, value, by, at, note}"},
        **error_responses(400, 401, 403, 404, 413),
    },
    openapi_extra=_RESOLUTION.openapi(),
)
async def post_resolution(
    request: Request,
    station: str,
    who: Coordinator = Depends(csrf_protected("conflicts.resolve")),
    election: str = Depends(election_id),
) -> JSONResponse:
    """The field must be a current conflict of the station and the value one it allows."""
    check_station_id(station)
    body = await _RESOLUTION.read(request)
    answer = await run_in_threadpool(
        lambda: resolve_conflict(
            store_engine(request),
            election,
            station,
            body["field"],
            body["value"],
            who.name,
            body.get("note"),
        )
    )
    return JSONResponse(answer, status_code=201)


_SETTINGS = ObjectBody(
    {
        "tolerance": {"type": "number", "minimum": 0, "maximum": 1},
        "embargo_until": {
            "type": ["string", "null"],
            "format": "date-time",
            "description": "when the full ledger and exports become public (polls "
            "closed everywhere); null: never (coordinators only)",
        },
    }
)


@router.put(
    f"{_E}/settings",
    summary="Set the election's turnout tolerance and/or embargo end (audited)",
    responses={
        200: {"description": "{election, tolerance?, embargo_until?}"},
        **error_responses(400, 401, 403, 404, 413),
    },
    openapi_extra=_SETTINGS.openapi(),
)
async def put_settings(
    request: Request,
    who: Coordinator = Depends(csrf_protected("election.settings")),
    election: str = Depends(election_id),
) -> JSONResponse:
    """``tolerance``: relative slack before a station's turnout is flagged (0…1);
    ``embargo_until``: ISO-8601 time with a timezone, or null. At least one of them."""
    body = await _SETTINGS.read(request)
    if not body:
        raise InputError("give 'tolerance' and/or 'embargo_until'", column="tolerance")
    engine = store_engine(request)

    def change() -> dict[str, Any]:
        answer: dict[str, Any] = {"election": election}
        if "embargo_until" in body:  # each change is validated and audited on its own
            answer.update(set_embargo(engine, election, body["embargo_until"], by=who.name))
        if "tolerance" in body:
            answer.update(set_tolerance(engine, election, body["tolerance"], by=who.name))
        return answer

    return JSONResponse(await run_in_threadpool(change))


_PUBLIC = ObjectBody({"public": {"type": "boolean"}}, ("public",))


@router.put(
    f"{_E}/incidents/{{report_id}}/public",
    summary="Publish an incident, or withdraw it (audited)",
    responses={
        200: {"description": "{election, report_id, public}"},
        **error_responses(400, 401, 403, 404, 413),
    },
    openapi_extra=_PUBLIC.openapi(),
)
async def put_incident_public(
    request: Request,
    report_id: str,
    who: Coordinator = Depends(csrf_protected("incidents.publish", locate=incident_place)),
    election: str = Depends(election_id),
) -> JSONResponse:
    """A public incident's category, text and coarse time show in its station's public status
    and its text in the public exports after the embargo; the ledger is unchanged."""
    body = await _PUBLIC.read(request)
    answer = await run_in_threadpool(
        lambda: set_incident_public(
            store_engine(request), election, report_id, body["public"], by=who.name
        )
    )
    return JSONResponse(answer)


# --- live events ------------------------------------------------------------------------------


def _resume_from(header: str | None) -> int | None:
    if header is None or header.strip() == "":
        return None
    text = header.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise InputError(
            "'Last-Event-ID' must be a ledger seq (a whole number)", column="Last-Event-ID"
        )
    return int(text)


def _event(name: str, seq: int, data: dict[str, Any]) -> str:
    return f"id: {seq}\nevent: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@router.get(
    f"{_E}/events",
    summary="Live feed of new reports (server-sent events; resumes from Last-Event-ID)",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "`event: report` per ledger entry ({seq, station, kind, "
            "received_at}), `event: refresh` after a burst, `: keepalive` comments",
            "content": {"text/event-stream": {}},
        },
        **error_responses(400, 401, 404),
    },
)
async def get_events(
    request: Request,
    last_event_id: str | None = Header(
        None, alias="Last-Event-ID", description="resume after this ledger seq"
    ),
    who: Coordinator = Depends(authorized("dashboard.read")),
    election: str = Depends(election_id),
) -> StreamingResponse:
    """Polls the ledger (stateless across processes); ends when the client goes away."""
    engine = store_engine(request)
    allowed = await visible(request, who, election)  # a narrowed scope: its stations only
    settings: Settings = request.app.state.settings
    poll, keepalive = settings.events_poll_seconds, settings.events_keepalive_seconds
    lifetime = settings.events_max_seconds
    resume = _resume_from(last_event_id)
    start = resume if resume is not None else await run_in_threadpool(ledger_seq, engine, election)

    async def stream() -> AsyncIterator[str]:
        last = start
        began = quiet_since = time.monotonic()
        yield f"retry: 3000\n: connected at seq {last}\n\n"
        while not await request.is_disconnected():
            batch = await run_in_threadpool(
                functools.partial(events_after, engine, election, last, limit=EVENT_BATCH + 1)
            )
            now = time.monotonic()
            if batch:
                for item in only_visible(batch[:EVENT_BATCH], allowed):
                    yield _event("report", item["seq"], item)
                last = batch[:EVENT_BATCH][-1]["seq"]
                if len(batch) > EVENT_BATCH:
                    last = await run_in_threadpool(ledger_seq, engine, election)
                    yield _event("refresh", last, {"seq": last})
                quiet_since = now
            elif now - quiet_since >= keepalive:
                yield ": keepalive\n\n"
                quiet_since = now
            if now - began >= lifetime:
                return  # the browser reconnects with Last-Event-ID; spreads long streams
            await asyncio.sleep(poll)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )
