"""The coordinators' pages (login, elections, live dashboard, invites) and the public press page.

Pages only: the dashboard's live figures come from the JSON API of
:mod:`pollwatch.web.dashboard_api` (station table, activity, conflicts, comparison, quick
count) and its server-sent event stream; ``static/dashboard.js`` re-fetches them when a
report arrives. What is cheap is rendered on the server so the page is useful before (or
without) JavaScript: the station registry on the dashboard, everything on the press page.

Forms are protected as :mod:`pollwatch.web.security` says: a logged-in page's forms carry
the CSRF token bound to the session; the login form carries its own login token (also set
as a cookie) and must come from our origin. A POST without the right token is refused (403)
before anything else is read. A session opened here is the same session as
``POST /api/v1/login`` opens (same cookies), so the page's scripts call the JSON API with it.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from pollwatch.errors import AuthError, Forbidden, InputError, LoginThrottled
from pollwatch.limits import LoginThrottle, RateLimiter, client_address
from pollwatch.observe.ids import check_station_id
from pollwatch.observe.permissions import PERMISSIONS, can
from pollwatch.store import (
    Coordinator,
    create_invites,
    dashboard_stations,
    list_elections,
    login,
    logout,
    press_summary,
    revoke_observers,
)
from pollwatch.web.access import authorized, only_visible, visible
from pollwatch.web.deps import election_row, session_coordinator, store_engine
from pollwatch.web.forms import (
    checked_form,
    form_field,
    page_csrf,
    read_form,
    text_field,
    to_login,
)
from pollwatch.web.labels import CATEGORY_LABELS, NETWORK_LABELS, STATUS_LABELS
from pollwatch.web.pages import render_page, translator, with_lang
from pollwatch.web.security import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    check_login,
    close_session,
    new_csrf_token,
    open_session,
    public_base_url,
    set_csrf_cookie,
)

__all__ = [
    "CLIENT_STRINGS",
    "MAX_INVITES",
    "THROTTLED_MESSAGE",
    "router",
]

router = APIRouter(include_in_schema=False)

MAX_INVITES = 500
"""Invites one form submission may create (the QR codes of all of them are on one page)."""


THROTTLED_MESSAGE = "Too many failed logins. Try again in {seconds} s."
"""The login form's answer while the name or the address is paused (pollwatch.limits.login)."""

CLIENT_STRINGS: tuple[str, ...] = (
    "live",
    "reconnecting…",
    "No incidents yet.",
    "No conflicts.",
    "resolved",
    "Use this value",
    "Resolved by",
    "Could not save:",
    "No quick count yet:",
    "Not enough sampled protocols yet for a quick count.",
    "95% interval",
    "If every missing protocol gave it nothing / everything",
    "The differences between the official figures and the quick count are larger than "
    "sampling error explains",
    "The differences between the official figures and the quick count are within what "
    "sampling error explains",
    "In the official figures, the sampled stations whose protocol is missing differ from "
    "those that reported: read the bounds.",
    "In the official figures, the sampled stations whose protocol is missing look like those "
    "that reported.",
    "Sampled protocols received, per stratum",
    "Counted long enough to test",
    "An honest election would show about this many discrepancies by chance at this coverage:",
    "Discrepancies that remain after false-discovery control (Benjamini–Hochberg, 5 %):",
    "Home or early ballots beyond their register:",
    "home",
    "early",
    "turnout",
    "reports",
    "incidents",
    "people entered",
    "No data yet.",
    "in sample",
    "yes",
    "no",
    "photo",
    "Saved.",
    "flagged",
    "Stations on the map:",
    "without coordinates:",
    "reporting",
    "with protocol",
    "No sample drawn yet.",
    "Estimate",
    "Official",
    # issue 13, network: alerts, open incidents, coverage
    "Follow up",
    "none",
    "opens at",
    "last report",
    "attempts",
    "last attempt",
    "No alerts.",
    "Open incidents",
    "No open incidents.",
    "no schedule",
    "min",
    "h",
    "d",
    "Chart hours are the stations' local time:",
    "Chart hours are UTC: the stations are in several time zones.",
)
"""Messages the dashboard's JavaScript shows; passed to the page as JSON, translated here."""

_STATION_SPLIT = re.compile(r"[\s,;]+")


# --- helpers --------------------------------------------------------------------------------


def _login_token(request: Request) -> tuple[str, bool]:
    """The login form's token from its cookie, or a new one (and whether it must be set)."""
    existing = request.cookies.get(CSRF_COOKIE, "")
    if 20 <= len(existing) <= 100:
        return existing, False
    return new_csrf_token(), True


def _client_strings(request: Request) -> dict[str, str]:
    """Translated messages for the script, and labels keyed by category and status ids."""
    _ = translator(request)
    strings = {msgid: _(msgid) for msgid in CLIENT_STRINGS}
    for key, label in (CATEGORY_LABELS | STATUS_LABELS | NETWORK_LABELS).items():
        strings[key] = _(label)
    return strings


# --- login and logout -----------------------------------------------------------------------


def _login_page(
    request: Request, token: str, *, error: str | None = None, name: str = "", status: int = 200
) -> HTMLResponse:
    response = render_page(
        request,
        "coordinate_login.html",
        {"csrf": token, "error": error, "name": name},
    )
    response.status_code = status
    return response


@router.get("/coordinate/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    """The login form, with its login token in a cookie and in a hidden field."""
    if await session_coordinator(request) is not None:
        return RedirectResponse(with_lang(request, "/coordinate"), status_code=303)
    token, fresh = _login_token(request)
    response = _login_page(request, token)
    if fresh:
        set_csrf_cookie(response, request, token)
    return response


@router.post("/coordinate/login", response_class=HTMLResponse)
async def login_submit(request: Request) -> Response:
    """Check the password; success opens a session and goes to the elections list."""
    limiter: RateLimiter = request.app.state.rate_limiter
    await limiter.check(request, None)
    form = await read_form(request)
    check_login(request, form_field(form, "csrf"))
    name = text_field(form, "name")
    password = text_field(form, "password")
    throttle: LoginThrottle = request.app.state.login_throttle
    try:
        _who, session = await run_in_threadpool(
            lambda: login(
                store_engine(request),
                name,
                password,
                throttle=throttle,
                address=client_address(request),
            )
        )
    except LoginThrottled as exc:
        _ = translator(request)
        page = _login_page(
            request,
            request.cookies.get(CSRF_COOKIE, ""),
            error=_(THROTTLED_MESSAGE).format(seconds=exc.retry_after),
            name=name,
            status=429,
        )
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    except AuthError:
        _ = translator(request)
        return _login_page(
            request,
            request.cookies.get(CSRF_COOKIE, ""),
            error=_("Wrong name or password."),
            name=name,
            status=401,
        )
    response = RedirectResponse(with_lang(request, "/coordinate"), status_code=303)
    open_session(response, request, session)
    return response


@router.post("/coordinate/logout")
async def logout_submit(request: Request) -> Response:
    """End the session (the form carries the CSRF token) and go back to the login form."""
    await checked_form(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await run_in_threadpool(logout, store_engine(request), token)
    response = to_login(request)
    close_session(response)
    return response


# --- coordinator pages ----------------------------------------------------------------------


@router.get("/coordinate", response_class=HTMLResponse)
async def elections_page(
    request: Request, who: Coordinator | None = Depends(authorized("elections.list", page=True))
) -> Response:
    """The elections of one's scopes, with links to each one's dashboard and invites."""
    if who is None:
        return to_login(request)
    elections = await run_in_threadpool(list_elections, store_engine(request))
    if who.role != "admin":
        mine = {scope.election for scope in who.scopes}
        elections = [e for e in elections if e["id"] in mine]
    return render_page(
        request,
        "coordinate_elections.html",
        {
            "who": who,
            "elections": elections,
            "csrf": page_csrf(request),
            # every listed election is in the scopes, so the role decides
            "may_invite": all(can(who, "invites.create", e["id"]) for e in elections),
        },
    )


@router.get("/coordinate/{election}", response_class=HTMLResponse)
async def dashboard_page(
    request: Request,
    election: str,
    who: Coordinator | None = Depends(authorized("dashboard.read", page=True)),
) -> Response:
    """The live dashboard; the station registry is rendered here, live figures by script."""
    if who is None:
        return to_login(request)
    info = await election_row(request, election)
    # The same answer as GET .../dashboard/stations (activity counters, no report scan), so
    # the table and totals are right before the script runs, or without it.
    table = await run_in_threadpool(dashboard_stations, store_engine(request), election)
    table["stations"] = only_visible(table["stations"], await visible(request, who, election))
    _ = translator(request)
    return render_page(
        request,
        "coordinate_dashboard.html",
        {
            "who": who,
            "election": info,
            "table": table,
            "may_change_settings": can(who, "election.settings", election),
            "may_invite": can(who, "invites.create", election),
            # the listed conflicts are all inside the scope, so the role decides
            "may_resolve": who.role in PERMISSIONS["conflicts.resolve"].roles,
            "status_labels": {k: _(v) for k, v in STATUS_LABELS.items()},
            "csrf": page_csrf(request),
            "client_strings": _client_strings(request),
        },
    )


def _parse_count(form: FormData) -> int:
    raw = text_field(form, "count", limit=12)
    if not re.fullmatch(r"\s*\d{1,6}\s*", raw):
        raise InputError(
            f"'count' must be a whole number from 1 to {MAX_INVITES}; got {raw[:20]!r}",
            column="count",
        )
    count = int(raw)
    if not 1 <= count <= MAX_INVITES:
        raise InputError(
            f"'count' must be a whole number from 1 to {MAX_INVITES}; got {count}", column="count"
        )
    return count


def _parse_stations(form: FormData, *, name: str = "stations", most: int = 0) -> list[str]:
    """Station ids from a form field (separated by spaces, commas or semicolons)."""
    raw = text_field(form, name, limit=8000, required=False)
    found = [s for s in _STATION_SPLIT.split(raw) if s]
    for station in found:
        check_station_id(station, name)
    if most and len(found) > most:
        raise InputError(f"'{name}' takes at most {most} station id(s)", column=name)
    return found


def _qr_data_uri(url: str) -> str:
    """The invite link as a QR code, an SVG data: URI (img-src data: is allowed by the CSP)."""
    import segno

    return str(segno.make(url, error="m").svg_data_uri(scale=4, border=2))


def _invites_page(
    request: Request,
    who: Coordinator,
    info: dict[str, Any],
    created: list[dict[str, Any]],
    revoked: list[str] | None = None,
) -> HTMLResponse:
    return render_page(
        request,
        "coordinate_invites.html",
        {
            "who": who,
            "election": info,
            "created": created,
            "revoked": revoked,
            "max_invites": MAX_INVITES,
            "invite_ttl_hours": request.app.state.settings.invite_ttl_hours,
            "csrf": page_csrf(request),
        },
    )


@router.get("/coordinate/{election}/invites", response_class=HTMLResponse)
async def invites_form(
    request: Request,
    election: str,
    who: Coordinator | None = Depends(authorized("invites.create", page=True)),
) -> Response:
    """The form that creates one-time invites for observers."""
    if who is None:
        return to_login(request)
    info = await election_row(request, election)
    return _invites_page(request, who, info, [])


@router.post("/coordinate/{election}/invites", response_class=HTMLResponse)
async def invites_submit(
    request: Request,
    election: str,
    who: Coordinator | None = Depends(authorized("invites.create", page=True)),
) -> Response:
    """Create the invites (audited under the coordinator's name) and show each link and QR.

    The codes are shown once, on this answer only (the store keeps their hashes); the page
    is sent with ``Cache-Control: no-store``. A coordinator whose scope is part of the
    election binds every invite to stations of that part (an unbound invite would let its
    observer report anywhere in the election).
    """
    if who is None:
        raise AuthError("coordinator login required")
    form = await checked_form(request)
    info = await election_row(request, election)
    count = _parse_count(form)
    bound = _parse_stations(form)
    allowed = await visible(request, who, election)
    if allowed is not None:
        if not bound:
            raise InputError(
                "your scope is part of this election: bind the invites to its stations",
                column="stations",
            )
        outside = [s for s in bound if s not in allowed]
        if outside:
            raise Forbidden(f"station {outside[0]!r} is outside your scope")
    invites = await run_in_threadpool(
        lambda: create_invites(
            store_engine(request), election, count, stations_=bound, actor=who.name
        )
    )
    base = public_base_url(request) + "/"
    created = []
    for invite in invites:
        data = invite.to_dict(base)
        data["qr"] = _qr_data_uri(data["url"])
        created.append(data)
    response = _invites_page(request, who, info, created)
    response.status_code = 201
    return response


@router.post("/coordinate/{election}/observers/revoke", response_class=HTMLResponse)
async def revoke_submit(
    request: Request,
    election: str,
    who: Coordinator | None = Depends(authorized("observers.revoke", page=True)),
) -> Response:
    """Revoke one code name, a station's observers or all (audited under the coordinator).

    The form's ``what`` field says which: ``code_name`` (with ``code_name``), ``station``
    (with ``station``) or ``all`` (with ``confirm`` set to the election id, so a slip of the
    mouse cannot end every observer's access). A coordinator whose scope is part of the
    election revokes by station, one of the scope's.
    """
    if who is None:
        raise AuthError("coordinator login required")
    form = await checked_form(request)
    info = await election_row(request, election)
    what = text_field(form, "what", limit=20)
    ask: dict[str, Any]
    if what == "code_name":
        ask = {"code_name": text_field(form, "code_name", limit=100).strip()}
    elif what == "station":
        station = _parse_stations(form, name="station", most=1)
        if not station:
            raise InputError("'station' is required", column="station")
        ask = {"station": station[0]}
    elif what == "all":
        if text_field(form, "confirm", limit=100, required=False).strip() != election:
            raise InputError(
                "to revoke every observer, type the election id into 'confirm'", column="confirm"
            )
        ask = {"everyone": True}
    else:
        raise InputError("'what' must be code_name, station or all", column="what")
    allowed = await visible(request, who, election)
    if allowed is not None and ask.get("station") not in allowed:
        raise Forbidden(
            "your scope is part of this election: revoke the observers of one of its stations"
        )
    names = await run_in_threadpool(
        lambda: revoke_observers(store_engine(request), election=election, actor=who.name, **ask)
    )
    return _invites_page(request, who, info, [], revoked=names)


# --- the public press page ------------------------------------------------------------------


@router.get("/press/{election}", response_class=HTMLResponse)
async def press_page(request: Request, election: str) -> Response:
    """Aggregated, non-identifying figures and the ledger head; no login, no script."""
    info = await election_row(request, election)
    delay = request.app.state.settings.public_delay_minutes
    summary = await run_in_threadpool(
        lambda: press_summary(store_engine(request), election, delay_minutes=delay)
    )
    base = public_base_url(request)
    return render_page(
        request,
        "press.html",
        {
            "election": info,
            "summary": summary,
            "category_labels": CATEGORY_LABELS,
            "ledger_url": f"{base}/api/v1/elections/{election}/ledger",
            "delay_minutes": delay,
        },
    )
