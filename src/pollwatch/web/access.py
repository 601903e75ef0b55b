"""Permission checks as FastAPI dependencies: ``Depends(authorized("action"))`` on each route.

The rule itself is :func:`pollwatch.observe.permissions.require`; this module only finds
what it needs in the request: the session's coordinator (with scopes), the path's
``{election}`` and, for station-level actions, the ``{station}``'s place in the registry.
A route whose election and station are not in its path passes ``locate`` (e.g. a report's
photo: the report says where it was made).

Order matters and is fixed here: authentication (401), then the permission (403), before
the route's own dependencies look the election up (404) — so someone outside an election's
scope cannot even learn whether it exists. Each dependency carries its ``action`` as an
attribute (and ``page``), which the route × role test reads to check every route is in the
table.

Listing answers are narrowed with :func:`visible`/:func:`only_visible`: a coordinator whose
scope is one country of an election sees only that country's stations in tables, conflicts,
comparisons, incidents and live events.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from fastapi import Request
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from pollwatch.observe.permissions import PERMISSIONS, Place, require
from pollwatch.store import (
    AuthError,
    Coordinator,
    session_coordinator,
    station_place,
    visible_stations,
)
from pollwatch.web.deps import bearer_token, store_engine
from pollwatch.web.security import SESSION_COOKIE, check_csrf

__all__ = [
    "Locate",
    "authorized",
    "csrf_protected",
    "only_visible",
    "session_token",
    "visible",
]

Locate = Callable[[Engine, Request], tuple[str, str | None]]
"""Finds ``(election, station or None)`` for a route whose path does not name them."""

_Row = TypeVar("_Row", bound=dict[str, Any])


def session_token(request: Request) -> str | None:
    """A coordinator's session token: bearer first, else the session cookie."""
    return bearer_token(request) or request.cookies.get(SESSION_COOKIE) or None


def authorized(
    action: str, *, page: bool = False, locate: Locate | None = None
) -> Callable[[Request], Awaitable[Coordinator | None]]:
    """A dependency that returns the coordinator allowed to take ``action`` here.

    No session: :class:`AuthError` (401), or ``None`` for a ``page`` (which redirects to the
    login form). A session without the permission: ``Forbidden`` (403). Pages accept only
    the cookie (a browser), the API the bearer token or the cookie.
    """
    rule = PERMISSIONS[action]  # KeyError at import time for an action not in the table

    async def dependency(request: Request) -> Coordinator | None:
        token = request.cookies.get(SESSION_COOKIE) if page else session_token(request)
        if not token:
            if page:
                return None
            raise AuthError("coordinator login required (bearer session token or cookie)")
        engine = store_engine(request)
        try:
            who = await run_in_threadpool(session_coordinator, engine, token)
        except AuthError:
            if page:
                return None
            raise
        if rule.level == "global" or who.role == "admin":
            require(who, action)  # admins may do everything, wherever
            return who
        if locate is not None:
            election, station = await run_in_threadpool(locate, engine, request)
        else:
            election = str(request.path_params["election"])
            station = request.path_params.get("station")
        place: Place | None = None
        if rule.level == "station" and station is not None:
            place = await run_in_threadpool(station_place, engine, election, str(station))
        require(who, action, election, place)
        return who

    dependency.action = action  # type: ignore[attr-defined]
    dependency.page = page  # type: ignore[attr-defined]
    dependency.__name__ = f"authorized_{action.replace('.', '_')}"
    return dependency


def csrf_protected(
    action: str, *, locate: Locate | None = None
) -> Callable[[Request], Awaitable[Coordinator]]:
    """The coordinator allowed to take ``action``, after the CSRF check of a state change.

    Authentication and the permission come first (401 without a session, 403 without the
    right), then the CSRF token (403 naming ``X-CSRF-Token`` when a cookie-authenticated
    change lacks it).
    """
    allowed = authorized(action, locate=locate)

    async def dependency(request: Request) -> Coordinator:
        who = await allowed(request)
        assert who is not None  # not a page: no session raises AuthError
        check_csrf(request)
        return who

    dependency.action = action  # type: ignore[attr-defined]
    dependency.page = False  # type: ignore[attr-defined]
    return dependency


async def visible(request: Request, who: Coordinator, election: str) -> frozenset[str] | None:
    """The stations of ``election`` ``who`` may see, or ``None`` for all (no filtering)."""
    if who.role == "admin":
        return None
    return await run_in_threadpool(visible_stations, store_engine(request), who, election)


def only_visible(rows: Iterable[_Row], allowed: frozenset[str] | None) -> list[_Row]:
    """The rows whose ``station`` is allowed (all of them when ``allowed`` is ``None``)."""
    if allowed is None:
        return list(rows)
    return [row for row in rows if row.get("station") in allowed]
