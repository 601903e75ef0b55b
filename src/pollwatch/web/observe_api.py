"""The observation service's JSON API (``/api/v1``): reports, invites, station records, exports.

Contract (issue 3; other parts build on it, keep it):

* ``POST /api/v1/reports`` (observer bearer token): 201 stored, 200 identical retry, 409
  same id with another body or from another observer (no author revealed), 4xx naming the
  field for bad input, never 500. The report and its ledger entry commit in one
  transaction before the answer.
* ``POST /api/v1/reports/{id}/photo`` (multipart ``photo``): the report checked first, then
  the declared size, then decoded (bounded per process), re-encoded, no EXIF.
* ``POST /api/v1/invites/{code}/redeem`` (no auth, once) → 201 ``{"token", "observer"}``;
  410 once the invite's time to live has passed.
* ``GET /api/v1/observer`` (observer token): who the token belongs to; a revoked token gets
  401 with "revoked" in the message, which makes the observer app wipe itself.
* ``POST /api/v1/observer/forget`` (observer token): the holder revokes its own token
  ("leave no trace" in the app); the answer tells the browser to clear the site's data.
* ``POST /api/v1/login`` / ``logout`` for coordinators (session token and cookie).
* ``GET /api/v1/elections/{e}/stations/{s}`` (coordinator): master record, reports,
  estimate, comparison.
* ``GET /api/v1/elections/{e}/export/reports.csv|.parquet`` and ``/ledger`` (JSON lines),
  ``/ledger/head``: open data, no tokens, no observer names.

Handlers only translate HTTP to one :mod:`pollwatch.store` call; the store functions block, so
they run in the thread pool. Reports are the hot path (thousands per second on election day):
the handler validates the body in the event loop, finds the observer through a short-lived
per-process token cache, and hands the report to the process's group-commit writer
(:mod:`pollwatch.web.ingest`), which stores the reports of concurrent requests in one
transaction and answers each request after that transaction committed. Rate limits: per observer
token and per client address (``POLLWATCH_RATE_LIMIT`` per minute per token, 20× per
address; 0 = off), shared by every process through the database or Redis
(:mod:`pollwatch.limits`); failed logins pause the name and the address
(:mod:`pollwatch.limits.login`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from pollwatch.errors import AuthError, InputError, NotFoundError, PollwatchError
from pollwatch.limits import LoginThrottle, RateLimiter, client_address
from pollwatch.observe.reports import FIGURE_FIELDS, INCIDENT_CATEGORIES, STATUSES
from pollwatch.store import (
    Coordinator,
    DecodeSlots,
    Observer,
    clean_photo,
    coordinator_for_session,
    export_ledger_lines,
    export_reports,
    get_election,
    get_photo,
    ledger_head,
    login,
    logout,
    observer_for_token,
    photo_target,
    redeem_invite,
    reports_to_bytes,
    revoke_observers,
    store_photo,
)
from pollwatch.store.photos import MAX_PHOTO_BYTES
from pollwatch.store.reports import prepare_report
from pollwatch.store.views import station_record
from pollwatch.web.errors import error_response
from pollwatch.web.ingest import IngestWriter, ObserverCache
from pollwatch.web.security import (
    SESSION_COOKIE,
    SecurityMiddleware,
    check_csrf,
    check_origin,
    close_session,
    open_session,
)

__all__ = [
    "BodyLimits",
    "ReportsFastPath",
    "router",
]


router = APIRouter(prefix="/api/v1", tags=["observe"])


class BodyLimits:
    """The security middleware with a larger body cap for photo uploads only (pure ASGI)."""

    def __init__(
        self, app: ASGIApp, *, max_body: int = 64 * 1024, public_https: bool = False
    ) -> None:
        self.default = SecurityMiddleware(app, max_body=max_body, public_https=public_https)
        self.photos = SecurityMiddleware(
            app, max_body=MAX_PHOTO_BYTES + 64 * 1024, public_https=public_https
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", "")) if scope["type"] == "http" else ""
        is_photo = path.startswith("/api/v1/reports/") and path.endswith("/photo")
        await (self.photos if is_photo else self.default)(scope, receive, send)


# --- dependencies ---------------------------------------------------------------------------


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def _limit(request: Request) -> None:
    # async: far from the limit the check is a few dict operations; a sync dependency
    # would cost a thread hop (near the limit it asks the shared store from a thread).
    limiter: RateLimiter = request.app.state.rate_limiter
    await limiter.check(request, _bearer(request))


async def _observer(request: Request) -> Observer:
    token = _bearer(request)
    if token is None:
        raise AuthError("an observer token is required: Authorization: Bearer <token>")
    cache: ObserverCache | None = getattr(request.app.state, "observers", None)
    if cache is None:
        return await run_in_threadpool(observer_for_token, _engine(request), token)
    return await cache.observer(token)


async def _coordinator(request: Request) -> Coordinator:
    token = _bearer(request) or request.cookies.get(SESSION_COOKIE)
    if not token:
        raise AuthError("coordinator login required (bearer session token or cookie)")
    return await run_in_threadpool(coordinator_for_session, _engine(request), token)


_ID = re.compile(r"[\w.:~-]{1,64}", re.ASCII)


async def _election(request: Request, election: str) -> str:
    """The path's election, which must be a well-formed id of an existing election."""
    if not _ID.fullmatch(election):
        raise NotFoundError(f"no election {election[:80]!r}")
    await run_in_threadpool(get_election, _engine(request), election)
    return election


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise InputError("the request body must be a JSON object", column="body")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(f"the body is not valid JSON ({exc})"[:200], column="body") from None


# --- OpenAPI documentation of the report body ------------------------------------------------

_COUNT = {"type": "integer", "minimum": 0, "maximum": 1_000_000}
_TIME = {"type": "string", "format": "date-time"}
_HEADER_PROPS: dict[str, Any] = {
    "id": {"type": "string", "format": "uuid", "description": "client-generated UUID"},
    "election": {"type": "string", "pattern": r"^[\w.:~-]{1,64}$"},
    "station": {"type": "string", "pattern": r"^[\w.:~-]{1,64}$"},
    "observed_at": {**_TIME, "description": "ISO-8601 with timezone"},
}


def _kind_schema(kind: str, props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "title": f"{kind} report",
        "additionalProperties": False,
        "required": ["id", "election", "station", "kind", "observed_at", *required],
        "properties": {**_HEADER_PROPS, "kind": {"const": kind}, **props},
    }


REPORT_SCHEMA: dict[str, Any] = {
    "oneOf": [
        _kind_schema(
            "count",
            {
                "window_start": _TIME,
                "window_end": _TIME,
                "entered": _COUNT,
                "ballots_issued": _COUNT,
                "queue": _COUNT,
                "wait_minutes": {"type": "integer", "minimum": 0, "maximum": 1440},
            },
            ["window_start", "window_end", "entered"],
        ),
        _kind_schema(
            "incident",
            {
                "category": {"enum": list(INCIDENT_CATEGORIES)},
                "text": {"type": "string", "maxLength": 4000},
            },
            ["category"],
        ),
        _kind_schema(
            "protocol",
            {
                "figures": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        **{name: _COUNT for name in FIGURE_FIELDS},
                        "votes": {"type": "object", "additionalProperties": _COUNT},
                    },
                }
            },
            ["figures"],
        ),
        _kind_schema(
            "status",
            {"status": {"enum": list(STATUSES)}, "queue": _COUNT},
            ["status"],
        ),
    ]
}

_ERROR = {
    "description": "error: {'error': {'status', 'message', 'field'}}",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "error": {
                        "type": "object",
                        "properties": {
                            "status": {"type": "integer"},
                            "message": {"type": "string"},
                            "field": {"type": ["string", "null"]},
                        },
                    }
                },
            }
        }
    },
}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: _ERROR for code in codes}


# --- routes ---------------------------------------------------------------------------------


async def _accept_report(request: Request) -> JSONResponse:
    """Rate limit, observer, body, validation, then the group-commit writer; 201 or 200."""
    await _limit(request)
    observer = await _observer(request)
    payload = await _json_body(request)
    prepared = prepare_report(payload, observer=observer)  # pure and quick: no thread hop
    writer: IngestWriter = request.app.state.ingest
    stored = await writer.submit(prepared)
    return JSONResponse(stored.report, status_code=stored.status)


class ReportsFastPath:
    """``POST /api/v1/reports`` answered straight from ASGI, before FastAPI's routing.

    Reports are the one hot path: on election day thousands arrive per second. Matching
    ~40 routes, solving dependencies and the exception middleware cost about as much CPU as
    everything the report itself needs, so this wrapper answers exactly that method and
    path with the same function the documented route uses (:func:`post_report`, which
    stays in the OpenAPI schema and answers if this wrapper is not installed), and turns
    :class:`PollwatchError` into the usual error body (:func:`error_response`). Everything
    else passes through.
    Install it inside the security middleware, so its headers and body cap still apply.
    """

    def __init__(self, app: ASGIApp, *, path: str = "/api/v1/reports") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] != self.path
            or "app" not in scope
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response: Response = await _accept_report(request)
        except PollwatchError as exc:
            response = error_response(exc)
        await response(scope, receive, send)


@router.post(
    "/reports",
    status_code=201,
    summary="Send a report (idempotent on its id)",
    responses={
        200: {"description": "the same report was stored before (a retry); the stored report"},
        201: {"description": "stored; the report with received_at, observer and ledger entry"},
        **_errors(400, 401, 403, 409, 413, 422, 429),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": REPORT_SCHEMA}},
        }
    },
)
async def post_report(request: Request) -> JSONResponse:
    """Store one report. The same id and body again answers 200 with the stored report."""
    return await _accept_report(request)


@router.post(
    "/reports/{report_id}/photo",
    status_code=201,
    summary="Attach a photo to one's own incident or protocol report",
    dependencies=[Depends(_limit)],
    responses={
        200: {"description": "the same photo was stored before"},
        **_errors(400, 401, 403, 404, 409, 413, 422, 429, 503),
    },
)
async def post_photo(
    request: Request,
    report_id: str,
    photo: UploadFile = File(..., description="JPEG, PNG or WebP; re-encoded without EXIF/GPS"),
    observer: Observer = Depends(_observer),
) -> JSONResponse:
    """Check the report, then the image, re-encode it as JPEG without metadata and store it.

    The report is checked first, so an unknown or foreign id costs no decoding; decodes are
    bounded per process (``app.state.photo_slots``, :class:`pollwatch.store.DecodeSlots`).
    """
    engine = _engine(request)
    await run_in_threadpool(lambda: photo_target(engine, report_id, observer=observer))
    data = await photo.read(MAX_PHOTO_BYTES + 1)
    slots: DecodeSlots = request.app.state.photo_slots
    async with slots.slot():
        cleaned = await run_in_threadpool(clean_photo, data)
    result = await run_in_threadpool(
        lambda: store_photo(engine, report_id, cleaned, observer=observer)
    )
    return JSONResponse(result, status_code=201 if result["created"] else 200)


@router.get(
    "/reports/{report_id}/photo",
    summary="A report's photo (coordinators)",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}, **_errors(401, 404)},
)
async def get_report_photo(
    request: Request, report_id: str, _who: Coordinator = Depends(_coordinator)
) -> Response:
    """The re-encoded JPEG."""
    data = await run_in_threadpool(get_photo, _engine(request), report_id)
    return Response(data, media_type="image/jpeg")


@router.post(
    "/invites/{code}/redeem",
    status_code=201,
    summary="Redeem a one-time invite: get an observer token",
    dependencies=[Depends(_limit)],
    responses={
        201: {"description": "{'token', 'observer', 'election', 'stations'}"},
        **_errors(401, 410, 429),
    },
)
async def post_redeem(request: Request, code: str) -> JSONResponse:
    """An invite works once; the token is shown only in this answer."""
    ttl = timedelta(hours=request.app.state.settings.invite_ttl_hours)
    redeemed = await run_in_threadpool(lambda: redeem_invite(_engine(request), code, ttl=ttl))
    return JSONResponse(redeemed.to_dict(), status_code=201)


@router.get(
    "/observer",
    summary="The observer holding this token (the app checks it was not revoked)",
    dependencies=[Depends(_limit)],
    responses={
        200: {"description": "{'observer', 'election', 'stations'}"},
        **_errors(401, 429),
    },
)
async def get_observer(observer: Observer = Depends(_observer)) -> JSONResponse:
    """Code name, election and stations of the token's observer; 401 when revoked."""
    return JSONResponse(
        {
            "observer": observer.code_name,
            "election": observer.election,
            "stations": list(observer.stations),
        }
    )


CLEAR_SITE_DATA = '"cache", "cookies", "storage"'
"""Asks the browser to delete everything this site keeps on the device (W3C Clear Site
Data): the app deletes it too, but the browser also reaches what a script cannot."""


@router.post(
    "/observer/forget",
    summary="Revoke one's own observer token (the app's 'leave no trace')",
    dependencies=[Depends(_limit)],
    responses={200: {"description": "{'revoked': true}"}, **_errors(401, 429)},
)
async def post_forget(request: Request, observer: Observer = Depends(_observer)) -> JSONResponse:
    """Revoke the token at its holder's request, so a copy of it left anywhere is useless."""
    engine = _engine(request)
    await run_in_threadpool(
        lambda: revoke_observers(
            engine,
            election=observer.election,
            code_name=observer.code_name,
            actor=f"observer {observer.code_name}",
        )
    )
    return JSONResponse({"revoked": True}, headers={"Clear-Site-Data": CLEAR_SITE_DATA})


@router.post(
    "/login",
    summary="Coordinator login: a session token (and an HttpOnly cookie)",
    dependencies=[Depends(_limit)],
    responses={
        200: {"description": "{'token', 'coordinator', 'role'}"},
        **_errors(400, 401, 429),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["name", "password"],
                        "properties": {"name": {"type": "string"}, "password": {"type": "string"}},
                    }
                }
            },
        }
    },
)
async def post_login(request: Request) -> JSONResponse:
    """Check the password (argon2) and open a session.

    Only a JSON body from no other origin: a cross-site page can post a ``text/plain`` form
    without asking, and would log the browser into the attacker's account (login CSRF).
    """
    check_origin(request)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise InputError(
            "the login body must be JSON (Content-Type: application/json)", column="Content-Type"
        )
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise InputError("the body must be {'name': ..., 'password': ...}", column="body")
    name, password = body.get("name"), body.get("password")
    for field, value in (("name", name), ("password", password)):
        if not isinstance(value, str) or not value or len(value) > 1000:
            raise InputError(f"'{field}' must be a non-empty string", column=field)
    throttle: LoginThrottle = request.app.state.login_throttle
    who, token = await run_in_threadpool(
        lambda: login(
            _engine(request),
            str(name),
            str(password),
            throttle=throttle,
            address=client_address(request),
        )
    )
    response = JSONResponse({"token": token, "coordinator": who.name, "role": who.role})
    open_session(response, request, token)
    return response


@router.post("/logout", summary="End the coordinator session", responses=_errors(401))
async def post_logout(request: Request, _who: Coordinator = Depends(_coordinator)) -> JSONResponse:
    """Forget the session token (bearer or cookie; with the cookie it needs the CSRF token)."""
    check_csrf(request)
    token = _bearer(request) or request.cookies.get(SESSION_COOKIE) or ""
    await run_in_threadpool(logout, _engine(request), token)
    response = JSONResponse({"ok": True})
    close_session(response)
    return response


@router.get(
    "/elections/{election}/stations/{station}",
    summary="A station's master record, reports, estimate and comparison (coordinators)",
    responses=_errors(401, 404, 422),
)
async def get_station(
    request: Request,
    station: str,
    tolerance: float = 0.05,
    _who: Coordinator = Depends(_coordinator),
    election: str = Depends(_election),
) -> JSONResponse:
    """Everything known about one station; ``tolerance`` is the relative turnout slack."""
    if not 0 <= tolerance <= 1:
        raise InputError("'tolerance' must be between 0 and 1", column="tolerance")
    record = await run_in_threadpool(
        lambda: station_record(_engine(request), election, station, tolerance=tolerance)
    )
    return JSONResponse(record)


def _export(fmt: str, media: str) -> Callable[..., Any]:
    async def export(request: Request, election: str = Depends(_election)) -> Response:
        def build() -> bytes:
            return reports_to_bytes(export_reports(_engine(request), election), fmt)

        data = await run_in_threadpool(build)
        return Response(
            data,
            media_type=media,
            headers={"content-disposition": f'attachment; filename="{election}-reports.{fmt}"'},
        )

    export.__doc__ = f"Every accepted report of the election, one row each ({fmt})."
    return export


router.add_api_route(
    "/elections/{election}/export/reports.csv",
    _export("csv", "text/csv; charset=utf-8"),
    methods=["GET"],
    summary="Reports export, CSV (open data: no token, no observer names)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
router.add_api_route(
    "/elections/{election}/export/reports.parquet",
    _export("parquet", "application/vnd.apache.parquet"),
    methods=["GET"],
    summary="Reports export, Parquet",
    response_class=Response,
    responses={200: {"content": {"application/vnd.apache.parquet": {}}}},
)


@router.get(
    "/elections/{election}/ledger",
    summary="The election's hash-chained ledger, JSON lines (verify: pollwatch ledger verify)",
    response_class=PlainTextResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
async def get_ledger(request: Request, election: str = Depends(_election)) -> Response:
    """One JSON object per line: seq, report_id, prev_hash, hash, recorded_at, report."""

    def build() -> str:
        return "".join(f"{line}\n" for line in export_ledger_lines(_engine(request), election))

    text = await run_in_threadpool(build)
    return Response(text, media_type="application/x-ndjson")


@router.get(
    "/elections/{election}/ledger/head",
    summary="The ledger's head hash and its time (publish it)",
)
async def get_ledger_head(request: Request, election: str = Depends(_election)) -> JSONResponse:
    """Entries, head hash and when the head entry was recorded."""
    head = await run_in_threadpool(ledger_head, _engine(request), election)
    return JSONResponse(head)
