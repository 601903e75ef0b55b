"""The application's routes and who may call each: read from the app, written into the docs.

Every route either names an action of the permission table (its ``authorized(action)``
dependency, :mod:`pollwatch.web.access`) or is listed in
:data:`pollwatch.observe.permissions.OPEN_ROUTES`. :func:`endpoints` enumerates the routes
from ``app.routes`` and names the problems (a route in neither table, an open entry whose
route is gone); ``tests/web/test_permissions_routes.py`` fails on any, then sends every
coordinator route a request as each role. :func:`permission_docs` is the Markdown the docs
show (``scripts/write_permission_docs.py`` writes it into docs/observe.md), so the table a
reader sees is the one the code enforces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from pollwatch.observe.permissions import OPEN_ROUTES, PERMISSIONS, permission_table

__all__ = ["Endpoint", "endpoints", "permission_docs"]


@dataclass(frozen=True)
class Endpoint:
    """One method and path of the app, with the action it names (None: an open route)."""

    method: str
    path: str
    action: str | None
    page: bool

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def _declared(dependant: Any) -> tuple[str, bool] | None:
    """The ``authorized(action)`` dependency anywhere in a route's dependency tree."""
    for sub in dependant.dependencies:
        action = getattr(sub.call, "action", None)
        if action is not None:
            return str(action), bool(getattr(sub.call, "page", False))
        found = _declared(sub)
        if found is not None:
            return found
    return None


def endpoints(app: FastAPI) -> tuple[list[Endpoint], list[str]]:
    """Every route of ``app`` and the problems: routes in neither table, stale open entries.

    ``iter_route_contexts`` flattens included routers into their effective routes (full
    path, every dependency including the router's own).
    """
    found: list[Endpoint] = []
    problems: list[str] = []
    keys: set[str] = set()
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, Mount):
            key = f"MOUNT {context.path}"
            keys.add(key)
            if key not in OPEN_ROUTES:
                problems.append(f"{key}: not in the permission table")
            continue
        dependant = getattr(context, "dependant", None)
        declared = _declared(dependant) if dependant is not None else None
        for method in sorted(context.methods or ()):
            point = Endpoint(method, str(context.path), *(declared or (None, False)))
            keys.add(point.key)
            found.append(point)
            if declared is None and point.key not in OPEN_ROUTES:
                problems.append(f"{point.key}: no authorized(action) and not in OPEN_ROUTES")
            if declared is not None and point.key in OPEN_ROUTES:
                problems.append(f"{point.key}: in OPEN_ROUTES but needs {declared[0]!r}")
            if declared is not None and declared[0] not in PERMISSIONS:
                problems.append(f"{point.key}: unknown action {declared[0]!r}")
    stale = [key for key in OPEN_ROUTES if key not in keys]
    problems += [f"{key}: in OPEN_ROUTES but no such route" for key in stale]
    return found, problems


def permission_docs(app: FastAPI) -> str:
    """The permission table and every route's action (or who may call it), as Markdown."""
    lines = ["| action | roles | scope checked | allows |", "|---|---|---|---|"]
    for row in permission_table():
        lines.append(f"| `{row['action']}` | {row['roles']} | {row['level']} | {row['summary']} |")
    lines += ["", "| route | needs |", "|---|---|"]
    found, _ = endpoints(app)
    for point in sorted(found, key=lambda p: (p.action is None, p.path, p.method)):
        needs = f"`{point.action}`" if point.action else OPEN_ROUTES[point.key]
        lines.append(f"| `{point.key}` | {needs} |")
    for key, who in OPEN_ROUTES.items():
        if key.startswith("MOUNT "):
            lines.append(f"| `{key.removeprefix('MOUNT ')}/…` (files) | {who} |")
    return "\n".join(lines) + "\n"
