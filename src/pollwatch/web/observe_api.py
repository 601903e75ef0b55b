"""The observation service's JSON API (``/api/v1``): reports, invites, station records, exports.

Contract (other parts build on it, keep it):

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
* ``GET /api/v1/elections/{e}/export/reports.csv|.parquet`` and ``/ledger`` (JSON lines):
  coordinators only until the election's embargo ends, then open data with withheld incident
  texts; ``/ledger/head`` always public (as of the release time during voting); never tokens
  or observer names (:mod:`pollwatch.observe.publication`).

Handlers only translate HTTP to one :mod:`pollwatch.store` call; the store functions block, so
they run in the thread pool. Reports are the hot path (thousands per second on election day):
the handler validates the body in the event loop, finds the observer through a short-lived
per-process token cache, and hands the report to the process's group-commit writer
(:mod:`pollwatch.store.ingest`), which stores the reports of concurrent requests in one
transaction and answers each request after that transaction committed. Rate limits: per observer
token and per client address (``POLLWATCH_RATE_LIMIT`` per minute per token, 20× per
address; 0 = off), shared by every process through the database or Redis
(:mod:`pollwatch.limits`); failed logins pause the name and the address
(:mod:`pollwatch.limits.login`). The dependencies every router shares (who is calling,
which election, the JSON body) live in :mod:`pollwatch.web.deps`, the report body's
documented schema in :mod:`pollwatch.web.report_schema`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from pollwatch.errors import AuthError, InputError, PollwatchError
from pollwatch.limits import LoginThrottle, client_address
from pollwatch.observe.publication import Access
from pollwatch.store import (
    Coordinator,
    DecodeSlots,
    Observer,
    clean_photo,
    export_ledger_lines,
    export_reports,
    get_election,
    get_photo,
    ledger_access,
    ledger_head,
    login,
    logout,
    photo_target,
    public_ledger_head,
    redeem_invite,
    reports_to_bytes,
    revoke_observers,
    store_photo,
)
from pollwatch.store.ingest import IngestWriter
from pollwatch.store.photos import MAX_PHOTO_BYTES
from pollwatch.store.reports import prepare_report
from pollwatch.store.station_record import station_record
from pollwatch.web.access import authorized, csrf_protected
from pollwatch.web.deps import (
    bearer_token,
    current_observer,
    election_id,
    json_body,
    rate_limit,
    store_engine,
)
from pollwatch.web.errors import error_response, error_responses
from pollwatch.web.json_bodies import ObjectBody
from pollwatch.web.metrics import ServiceMetrics
from pollwatch.web.path_places import report_place
from pollwatch.web.report_schema import REPORT_SCHEMA
from pollwatch.web.security import SESSION_COOKIE, check_origin, close_session, open_session

__all__ = ["ReportsFastPath", "router"]


router = APIRouter(prefix="/api/v1", tags=["observe"])


# --- routes ---------------------------------------------------------------------------------


async def _accept_report(request: Request) -> JSONResponse:
    """Rate limit, observer, body, validation, then the group-commit writer; 201 or 200."""
    metrics: ServiceMetrics = request.app.state.metrics
    try:
        await rate_limit(request)
        observer = await current_observer(request)
        payload = await json_body(request)
        prepared = prepare_report(payload, observer=observer)  # pure and quick: no thread hop
        writer: IngestWriter = request.app.state.ingest
        stored = await writer.submit(prepared)
    except PollwatchError as error:
        metrics.refused(error)
        raise
    metrics.answered(stored.status)
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
        **error_responses(400, 401, 403, 409, 413, 422, 429),
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
    dependencies=[Depends(rate_limit)],
    responses={
        200: {"description": "the same photo was stored before"},
        **error_responses(400, 401, 403, 404, 409, 413, 422, 429, 503),
    },
)
async def post_photo(
    request: Request,
    report_id: str,
    photo: UploadFile = File(..., description="JPEG, PNG or WebP; re-encoded without EXIF/GPS"),
    observer: Observer = Depends(current_observer),
) -> JSONResponse:
    """Check the report, then the image, re-encode it as JPEG without metadata and store it.

    The report is checked first, so an unknown or foreign id costs no decoding; decodes are
    bounded per process (``app.state.photo_slots``, :class:`pollwatch.store.DecodeSlots`).
    """
    engine = store_engine(request)
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
    responses={200: {"content": {"image/jpeg": {}}}, **error_responses(401, 404)},
)
async def get_report_photo(
    request: Request,
    report_id: str,
    _who: Coordinator = Depends(authorized("photos.read", locate=report_place)),
) -> Response:
    """The re-encoded JPEG."""
    data = await run_in_threadpool(get_photo, store_engine(request), report_id)
    return Response(data, media_type="image/jpeg")


@router.post(
    "/invites/{code}/redeem",
    status_code=201,
    summary="Redeem a one-time invite: get an observer token",
    dependencies=[Depends(rate_limit)],
    responses={
        201: {"description": "{'token', 'observer', 'election', 'stations', 'simulated'}"},
        **error_responses(401, 410, 429),
    },
)
async def post_redeem(request: Request, code: str) -> JSONResponse:
    """An invite works once; the token is shown only in this answer."""
    ttl = timedelta(hours=request.app.state.settings.invite_ttl_hours)
    engine = store_engine(request)
    redeemed = await run_in_threadpool(lambda: redeem_invite(engine, code, ttl=ttl))
    simulated = await _simulated(engine, redeemed.election)
    return JSONResponse({**redeemed.to_dict(), "simulated": simulated}, status_code=201)


async def _simulated(engine: Engine, election: str) -> bool:
    """Whether the election is a simulation: the observer app then says so on every screen,
    so that a training day is never taken for a real one."""
    info = await run_in_threadpool(get_election, engine, election)
    return bool(info.get("simulated"))


@router.get(
    "/observer",
    summary="The observer holding this token (the app checks it was not revoked)",
    dependencies=[Depends(rate_limit)],
    responses={
        200: {"description": "{'observer', 'election', 'stations', 'simulated'}"},
        **error_responses(401, 429),
    },
)
async def get_observer(
    request: Request, observer: Observer = Depends(current_observer)
) -> JSONResponse:
    """Code name, election and stations of the token's observer; 401 when revoked."""
    return JSONResponse(
        {
            "observer": observer.code_name,
            "election": observer.election,
            "stations": list(observer.stations),
            "simulated": await _simulated(store_engine(request), observer.election),
        }
    )


CLEAR_SITE_DATA = '"cache", "cookies", "storage"'
"""Asks the browser to delete everything this site keeps on the device (W3C Clear Site
Data): the app deletes it too, but the browser also reaches what a script cannot."""


@router.post(
    "/observer/forget",
    summary="Revoke one's own observer token (the app's 'leave no trace')",
    dependencies=[Depends(rate_limit)],
    responses={200: {"description": "{'revoked': true}"}, **error_responses(401, 429)},
)
async def post_forget(
    request: Request, observer: Observer = Depends(current_observer)
) -> JSONResponse:
    """Revoke the token at its holder's request, so a copy of it left anywhere is useless."""
    engine = store_engine(request)
    await run_in_threadpool(
        lambda: revoke_observers(
            engine,
            election=observer.election,
            code_name=observer.code_name,
            actor=f"observer {observer.code_name}",
        )
    )
    return JSONResponse({"revoked": True}, headers={"Clear-Site-Data": CLEAR_SITE_DATA})


_CREDENTIAL_LIMIT = 1000
"""Longest name or password read: argon2 would hash a megabyte just as patiently."""

_CREDENTIAL = {"type": "string", "minLength": 1, "maxLength": _CREDENTIAL_LIMIT}
_LOGIN = ObjectBody(
    {"name": _CREDENTIAL, "password": _CREDENTIAL},
    ("name", "password"),
    expected="{'name': ..., 'password': ...}",
    json_only=True,
)


@router.post(
    "/login",
    summary="Coordinator login: a session token (and an HttpOnly cookie)",
    dependencies=[Depends(rate_limit)],
    responses={
        200: {"description": "{'token', 'coordinator', 'role'}"},
        **error_responses(400, 401, 429),
    },
    openapi_extra=_LOGIN.openapi(),
)
async def post_login(request: Request) -> JSONResponse:
    """Check the password (argon2) and open a session.

    Only a JSON body from no other origin: a cross-site page can post a ``text/plain`` form
    without asking, and would log the browser into the attacker's account (login CSRF).
    """
    check_origin(request)
    body = await _LOGIN.read(request)
    name, password = body["name"], body["password"]
    for field, value in (("name", name), ("password", password)):
        if not isinstance(value, str) or not value or len(value) > _CREDENTIAL_LIMIT:
            raise InputError(f"'{field}' must be a non-empty string", column=field)
    throttle: LoginThrottle = request.app.state.login_throttle
    who, token = await run_in_threadpool(
        lambda: login(
            store_engine(request),
            str(name),
            str(password),
            throttle=throttle,
            address=client_address(request),
        )
    )
    response = JSONResponse({"token": token, "coordinator": who.name, "role": who.role})
    open_session(response, request, token)
    return response


@router.post("/logout", summary="End the coordinator session", responses=error_responses(401))
async def post_logout(
    request: Request, _who: Coordinator = Depends(csrf_protected("session.end"))
) -> JSONResponse:
    """Forget the session token (bearer or cookie; with the cookie it needs the CSRF token)."""
    token = bearer_token(request) or request.cookies.get(SESSION_COOKIE) or ""
    await run_in_threadpool(logout, store_engine(request), token)
    response = JSONResponse({"ok": True})
    close_session(response)
    return response


@router.get(
    "/elections/{election}/stations/{station}",
    summary="A station's master record, reports, estimate and comparison (coordinators)",
    responses=error_responses(401, 404, 422),
)
async def get_station(
    request: Request,
    station: str,
    tolerance: float | None = Query(
        None, description="relative turnout slack, 0…1 (default: the election's)"
    ),
    _who: Coordinator = Depends(authorized("stations.read")),
    election: str = Depends(election_id),
) -> JSONResponse:
    """Everything known about one station; the store checks ``tolerance``."""
    record = await run_in_threadpool(
        lambda: station_record(store_engine(request), election, station, tolerance=tolerance)
    )
    return JSONResponse(record)


async def _export_access(request: Request, election: str) -> Access:
    """What this reader gets of the full ledger and exports (the publication policy).

    A coordinator allowed ``exports.read`` in this election (bearer session token or cookie;
    an invalid one is a 401, one outside its scope a 403) gets everything; anyone else a 401
    until the election's embargo ends, then the redacted version.
    """
    if bearer_token(request) or request.cookies.get(SESSION_COOKIE):
        await authorized("exports.read")(request)  # 401 invalid session, 403 outside scope
        return "full"
    access: Access = await run_in_threadpool(
        lambda: ledger_access(store_engine(request), election, datetime.now(UTC), coordinator=False)
    )
    if access == "closed":
        raise AuthError(
            "the full ledger and the exports are for coordinators until the election's "
            "embargo ends; the head hash is public: GET .../ledger/head"
        )
    return access


def _cache_headers(access: Access) -> dict[str, str]:
    # A coordinator's full copy must not sit in a shared cache; the public one may.
    return {"cache-control": "no-store" if access == "full" else "public, max-age=60"}


def _export(fmt: str, media: str) -> Callable[..., Any]:
    async def export(request: Request, election: str = Depends(election_id)) -> Response:
        access = await _export_access(request, election)

        def build() -> bytes:
            frame = export_reports(store_engine(request), election, redacted=access != "full")
            return reports_to_bytes(frame, fmt)

        data = await run_in_threadpool(build)
        return Response(
            data,
            media_type=media,
            headers={
                "content-disposition": f'attachment; filename="{election}-reports.{fmt}"',
                **_cache_headers(access),
            },
        )

    export.__doc__ = (
        f"Every accepted report of the election, one row each ({fmt}). Coordinators only "
        "until the election's embargo ends; then public, with incident texts withheld unless "
        "a coordinator marked them public (column `withheld`)."
    )
    return export


router.add_api_route(
    "/elections/{election}/export/reports.csv",
    _export("csv", "text/csv; charset=utf-8"),
    methods=["GET"],
    summary="Reports export, CSV (coordinators; public and redacted after the embargo)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **error_responses(401, 404)},
)
router.add_api_route(
    "/elections/{election}/export/reports.parquet",
    _export("parquet", "application/vnd.apache.parquet"),
    methods=["GET"],
    summary="Reports export, Parquet (coordinators; public and redacted after the embargo)",
    response_class=Response,
    responses={
        200: {"content": {"application/vnd.apache.parquet": {}}},
        **error_responses(401, 404),
    },
)


@router.get(
    "/elections/{election}/ledger",
    summary="The election's hash-chained ledger, JSON lines (coordinators; public and "
    "redacted after the embargo; verify: pollwatch ledger verify)",
    response_class=PlainTextResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}, **error_responses(401, 404)},
)
async def get_ledger(request: Request, election: str = Depends(election_id)) -> Response:
    """One JSON object per line (format version 2, see docs/observe.md); after the embargo
    anyone gets it with the texts of incidents not marked public withheld (their salted
    commitments stay, so it verifies against the published head hashes)."""
    access = await _export_access(request, election)

    def build() -> str:
        lines = export_ledger_lines(store_engine(request), election, redacted=access != "full")
        return "".join(f"{line}\n" for line in lines)

    text = await run_in_threadpool(build)
    return Response(text, media_type="application/x-ndjson", headers=_cache_headers(access))


@router.get(
    "/elections/{election}/ledger/head",
    summary="The ledger's head hash and its time (public; publish it)",
    responses=error_responses(401, 404),
)
async def get_ledger_head(request: Request, election: str = Depends(election_id)) -> JSONResponse:
    """Entries, head hash and when the head entry was recorded. Anyone gets the head as of
    the release time during voting (``as_of``; live after the embargo), a coordinator the
    live head."""
    engine = store_engine(request)
    if bearer_token(request) or request.cookies.get(SESSION_COOKIE):
        await authorized("dashboard.read")(request)  # 401 invalid session, 403 outside scope
        head = await run_in_threadpool(ledger_head, engine, election)
        return JSONResponse({**head, "as_of": None}, headers={"cache-control": "no-store"})
    delay = request.app.state.settings.public_delay_minutes
    head = await run_in_threadpool(
        lambda: public_ledger_head(engine, election, datetime.now(UTC), delay_minutes=delay)
    )
    return JSONResponse(head, headers={"cache-control": "public, max-age=60"})
