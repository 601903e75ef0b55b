"""The admins' page (``/coordinate/admin``): coordinators, their roles and scopes, passwords
and sessions. Server-rendered like the other coordinator pages, with a JSON twin
(``/coordinate/admin.json``).

Every form posts to ``POST /coordinate/admin`` with an ``op`` field naming one store call of
:mod:`pollwatch.store.coordinators` (each audited under the admin's name). The forms carry
the double-submit CSRF token of :mod:`pollwatch.web.security`; permission
(``coordinators.manage``, admins only) is checked before the form is read. A password an
admin sets or resets is generated and shown once, on that answer only (``no-store``); the
store keeps its argon2 hash. The first admin comes from the command line
(``pollwatch coordinators add NAME --role admin``).

This router is included before the dashboard's, whose ``/coordinate/{election}`` would
otherwise take ``/coordinate/admin`` for an election id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from pollwatch.errors import InputError
from pollwatch.observe.permissions import ROLES
from pollwatch.store import (
    AuthError,
    Coordinator,
    add_scope,
    create_coordinator,
    end_sessions,
    list_audit,
    list_coordinators,
    list_elections,
    remove_scope,
    reset_password,
    set_role,
)
from pollwatch.web.access import authorized
from pollwatch.web.forms import checked_form, page_csrf, text_field, to_login
from pollwatch.web.pages import render_page, translator

__all__ = ["DONE", "OPERATIONS", "router"]

router = APIRouter(include_in_schema=False)

DONE: dict[str, str] = {
    "add": "Coordinator added.",
    "role": "Role changed.",
    "scope-add": "Scope added.",
    "scope-remove": "Scope removed.",
    "password": "Password reset; their sessions ended.",
    "sessions": "Sessions ended:",
}
"""The ``op`` values of the admin form (one store call each) and the message (id) each
answers with; translated in the page's catalogues."""

OPERATIONS: tuple[str, ...] = tuple(DONE)

AUDIT_SHOWN = 50
"""Newest audit entries about coordinators shown on the page."""

_manage = authorized("coordinators.manage", page=True)


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _state(engine: Engine) -> dict[str, Any]:
    """What the page and its JSON twin show: coordinators, elections, recent changes."""
    audit = [a for a in list_audit(engine, limit=1000) if a["action"].startswith("coordinators.")]
    return {
        "coordinators": list_coordinators(engine),
        "elections": [{"id": e["id"], "name": e["name"]} for e in list_elections(engine)],
        "roles": list(ROLES),
        "audit": audit[:AUDIT_SHOWN],
    }


def _page(
    request: Request,
    who: Coordinator,
    state: dict[str, Any],
    *,
    done: str | None = None,
    password: tuple[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    response = render_page(
        request,
        "coordinate_admin.html",
        {
            **state,
            "who": who,
            "done": done,
            "password": password,
            "csrf": page_csrf(request),
        },
    )
    response.status_code = status
    return response


@router.get("/coordinate/admin", response_class=HTMLResponse)
async def admin_page(request: Request, who: Coordinator | None = Depends(_manage)) -> Response:
    """Coordinators with their roles, scopes and sessions; forms to change them."""
    if who is None:
        return to_login(request)
    state = await run_in_threadpool(_state, _engine(request))
    return _page(request, who, state)


@router.get("/coordinate/admin.json")
async def admin_json(request: Request, who: Coordinator | None = Depends(_manage)) -> Response:
    """The page's data as JSON (no passwords, no session tokens: there are none to give)."""
    if who is None:
        raise AuthError("coordinator login required")
    return JSONResponse(await run_in_threadpool(_state, _engine(request)))


def _optional(form: FormData, name: str) -> str | None:
    return text_field(form, name, limit=200, required=False) or None


@dataclass(frozen=True)
class _Done:
    op: str
    password: tuple[str, str] | None = None  # (name, password), shown once
    count: int | None = None  # sessions ended


def _apply(engine: Engine, form: FormData, actor: str) -> _Done:
    """Run the form's operation (one store call, audited under ``actor``)."""
    op = text_field(form, "op", limit=20)
    if op not in OPERATIONS:
        raise InputError(f"'op' must be one of {', '.join(OPERATIONS)}", column="op")
    name = text_field(form, "name", limit=100).strip()
    if op == "add":
        role = text_field(form, "role", limit=20)
        added, password = create_coordinator(engine, name, role=role, actor=actor)
        return _Done(op, (added.name, password))
    if op == "role":
        set_role(engine, name, text_field(form, "role", limit=20), actor=actor)
    elif op in ("scope-add", "scope-remove"):
        election = text_field(form, "election", limit=100)
        change = add_scope if op == "scope-add" else remove_scope
        change(
            engine,
            name,
            election,
            country=_optional(form, "country"),
            region=_optional(form, "region"),
            actor=actor,
        )
    elif op == "password":
        return _Done(op, (name, reset_password(engine, name, actor=actor)))
    else:
        return _Done(op, count=end_sessions(engine, name, actor=actor))
    return _Done(op)


@router.post("/coordinate/admin", response_class=HTMLResponse)
async def admin_submit(request: Request, who: Coordinator | None = Depends(_manage)) -> Response:
    """One change (``op``), audited under the admin's name; the page again, with the result."""
    if who is None:
        raise AuthError("coordinator login required")
    form = await checked_form(request)
    engine = _engine(request)
    result = await run_in_threadpool(_apply, engine, form, who.name)
    message = translator(request)(DONE[result.op])
    if result.count is not None:
        message = f"{message} {result.count}"
    state = await run_in_threadpool(_state, engine)
    status = 201 if result.op == "add" else 200
    return _page(request, who, state, done=message, password=result.password, status=status)
