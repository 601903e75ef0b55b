"""The request dependencies that every router shares: the store, the caller, the election, the body.

Routes name what they need with FastAPI's ``Depends`` (``who = Depends(current_coordinator)``)
and get it checked; each dependency does one check and raises an error of the one exception
tree (:mod:`pollwatch.errors`), which :mod:`pollwatch.web.errors` turns into the one error body.

* :func:`store_engine` - the app's database engine;
* :func:`rate_limit` - the app's rate limiter, for the caller's address and bearer token;
* :func:`current_observer` - the observer of the bearer token (401 without a valid one);
* :func:`current_coordinator` - the coordinator of the bearer session token or the session
  cookie (401 without one); :func:`csrf_checked_coordinator` - the same for a state change,
  whose CSRF token is checked (403); :func:`session_coordinator` - the coordinator of the
  session cookie, or ``None``, for pages that send a logged-out browser to the login form;
* :func:`election_id` / :func:`election_row` - the path's election, checked to exist (404);
* :func:`json_body` - the body decoded as JSON (400 naming ``body`` otherwise).

The store's functions block, so the ones that reach the database run in the thread pool.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Depends, Request
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from pollwatch.errors import AuthError, InputError
from pollwatch.limits import RateLimiter
from pollwatch.observe.ids import check_election_id
from pollwatch.store import (
    Coordinator,
    Observer,
    coordinator_for_session,
    get_election,
    observer_for_token,
)
from pollwatch.store.ingest import ObserverCache
from pollwatch.web.security import SESSION_COOKIE, check_csrf

__all__ = [
    "bearer_token",
    "csrf_checked_coordinator",
    "current_coordinator",
    "current_observer",
    "election_id",
    "election_row",
    "json_body",
    "rate_limit",
    "session_coordinator",
    "store_engine",
]


def store_engine(request: Request) -> Engine:
    """The app's database engine (opened and migrated by ``create_app``)."""
    engine: Engine = request.app.state.engine
    return engine


def bearer_token(request: Request) -> str | None:
    """The ``Authorization: Bearer <token>`` header's token, or ``None``."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def rate_limit(request: Request) -> None:
    """Count the request against its address and bearer token (429 when over the limit)."""
    # async: far from the limit the check is a few dict operations; a sync dependency
    # would cost a thread hop (near the limit it asks the shared store from a thread).
    limiter: RateLimiter = request.app.state.rate_limiter
    await limiter.check(request, bearer_token(request))


async def current_observer(request: Request) -> Observer:
    """The observer of the bearer token, through the process's token cache when it has one."""
    token = bearer_token(request)
    if token is None:
        raise AuthError("an observer token is required: Authorization: Bearer <token>")
    cache: ObserverCache | None = getattr(request.app.state, "observers", None)
    if cache is None:
        return await run_in_threadpool(observer_for_token, store_engine(request), token)
    return await cache.observer(token)


async def current_coordinator(request: Request) -> Coordinator:
    """The coordinator of the bearer session token, else of the session cookie (401 without)."""
    token = bearer_token(request) or request.cookies.get(SESSION_COOKIE)
    if not token:
        raise AuthError("coordinator login required (bearer session token or cookie)")
    return await run_in_threadpool(coordinator_for_session, store_engine(request), token)


async def csrf_checked_coordinator(
    request: Request, who: Coordinator = Depends(current_coordinator)
) -> Coordinator:
    """The logged-in coordinator, after the double-submit CSRF check of a state change.

    Authentication comes first (401 without a session), then the CSRF token (403 naming
    ``X-CSRF-Token`` when a cookie-authenticated change lacks it).
    """
    check_csrf(request)
    return who


async def session_coordinator(request: Request) -> Coordinator | None:
    """The coordinator of the session cookie, or ``None`` when logged out (pages only)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return await run_in_threadpool(coordinator_for_session, store_engine(request), token)
    except AuthError:
        return None


async def election_row(request: Request, election: str) -> dict[str, Any]:
    """The path's election: 400 for a malformed id (:mod:`pollwatch.observe.ids`, checked
    before any query), 404 for an unknown one."""
    check_election_id(election)
    row: dict[str, Any] = await run_in_threadpool(get_election, store_engine(request), election)
    return row


async def election_id(request: Request, election: str) -> str:
    """The path's election id, checked like :func:`election_row`."""
    await election_row(request, election)
    return election


async def json_body(request: Request) -> Any:
    """The request body decoded as JSON; 400 naming ``body`` when empty or not JSON."""
    raw = await request.body()
    if not raw:
        raise InputError("the request body must be a JSON object", column="body")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(f"the body is not valid JSON ({exc})"[:200], column="body") from None
