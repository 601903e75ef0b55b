"""Every HTTP route that takes an election or station id follows the one id rule.

The routes are found in the application itself (every path with ``{election}`` or
``{station}``), so a new route is covered the day it is added. For each generated id a
refused one must answer 400 naming the field with the rule's message, and a well-formed
one must get past the id check (a page or listing answers 404 for an unknown election or
station). The observer's
report (``POST /api/v1/reports``) carries its ids in the body and follows the same rule.
The core, the store and the CLI are held to it in ``tests/observe/test_ids.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.routing import APIRoute
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.routing import BaseRoute
from tests.web.servers import serve_in_thread

from pollwatch.config import Settings
from pollwatch.observe.ids import ID_LIMIT, ID_PATTERN, is_valid_id
from pollwatch.store import (
    add_coordinator,
    create_election,
    create_invites,
    import_stations,
    login,
    open_store,
    redeem_invite,
)
from pollwatch.web.app import create_app
from pollwatch.web.security import csrf_token_for

KNOWN = "known"
STATION = "8001"

ids = st.one_of(
    st.from_regex(ID_PATTERN, fullmatch=True),
    st.text(st.sampled_from("aZ09-_.:~ ?#%" + "аеорсухАВЕКМНОРСТХ"), min_size=1, max_size=66),
    st.text(min_size=1, max_size=ID_LIMIT + 2),
).filter(lambda s: "/" not in s and s not in (KNOWN, STATION))
"""Ids that fit in one path segment: a ``/`` ends the segment, so such an id is a different
route (404) rather than an id; the existing election and station are left out so that
every well-formed id is an unknown one."""


class Api:
    def __init__(self, base: str, routes: list[tuple[str, str]], token: str, session: str):
        self.base = base
        self.routes = routes
        self.observer = {"authorization": f"Bearer {token}"}
        self.coordinator = {"authorization": f"Bearer {session}"}
        self.csrf = csrf_token_for(session)
        self.cookies = {"pollwatch_session": session, "pollwatch_csrf": self.csrf}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    folder: Path = tmp_path_factory.mktemp("api-ids")
    url = f"sqlite:///{folder / 'db.sqlite'}"
    engine = open_store(url)
    create_election(engine, KNOWN)
    import_stations(engine, KNOWN, [{"station": STATION}])
    token = redeem_invite(engine, create_invites(engine, KNOWN, 1)[0].code).token
    add_coordinator(engine, "ids", "a long passphrase", role="admin")  # no scope in the way
    session = login(engine, "ids", "a long passphrase")[1]
    engine.dispose()
    app = create_app(Settings(data_dir=folder, home=folder, database_url=url, rate_limit=0))
    routes = [
        (method, path)
        for path, methods in _api_routes(app.routes)
        if "{election}" in path or "{station}" in path
        for method in sorted(methods - {"HEAD"})
    ]
    with serve_in_thread(app) as base:
        yield Api(base, routes, token, session)
    app.state.engine.dispose()


def _api_routes(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """Every route's full path and methods, through included routers.

    FastAPI 0.165 keeps an included router as one entry (``original_router``); earlier
    versions copied its routes into the application's list.
    """
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, set(route.methods)
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from _api_routes(inner.routes, prefix + getattr(context, "prefix", ""))


def _segment(ident: str) -> str:
    encoded = quote(ident, safe="")
    return encoded.replace(".", "%2E") if set(ident) == {"."} else encoded


def _refused_by_the_rule(answer: httpx.Response, field: str) -> bool:
    """A 400 naming ``field`` with the id rule's message (not, say, "no station ...")."""
    if answer.status_code != 400:
        return False
    error = answer.json()["error"]
    return bool(error["field"] == field and "ASCII letters" in error["message"])


def test_the_routes_with_ids_are_found(api: Api) -> None:
    paths = {path for _, path in api.routes}
    assert "/api/v1/elections/{election}/ledger" in paths
    assert "/api/v1/elections/{election}/stations/{station}" in paths
    assert "/coordinate/{election}" in paths and "/press/{election}" in paths
    assert len(api.routes) >= 15, api.routes


def test_the_api_documents_the_rule(api: Api) -> None:
    """Clients that validate against /openapi.json refuse what the server refuses."""
    patterns: dict[str, set[str]] = {"election": set(), "station": set()}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for name, value in node.get("properties", {}).items():
                if name in patterns and isinstance(value, dict) and "pattern" in value:
                    patterns[name].add(value["pattern"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(httpx.get(f"{api.base}/openapi.json").json())
    assert patterns == {"election": {f"^{ID_PATTERN}$"}, "station": {f"^{ID_PATTERN}$"}}


def test_the_reported_bug_a_cyrillic_id_is_refused_the_same_way_everywhere(api: Api) -> None:
    with httpx.Client(base_url=api.base, timeout=30) as client:
        ledger = client.get(f"/api/v1/elections/{quote('уик-1')}/ledger")
        report = client.post("/api/v1/reports", json=_report("уик-1"), headers=api.observer)
    for answer in (ledger, report):
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["field"] == "election"
        assert "try 'uik-1'" in answer.json()["error"]["message"]


def _report(election: str, station: str = STATION) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "election": election,
        "station": station,
        "kind": "status",
        "observed_at": datetime.now(UTC).isoformat(),
        "status": "opened",
    }


@settings(max_examples=60, deadline=None)
@given(ident=ids)
def test_every_route_accepts_and_refuses_the_ids_the_rule_does(api: Api, ident: str) -> None:
    valid = is_valid_id(ident)
    segment = _segment(ident)
    with httpx.Client(base_url=api.base, timeout=30, cookies=api.cookies) as client:
        for method, path in api.routes:
            for field in ("election", "station"):
                if "{" + field + "}" not in path:
                    continue
                url = (
                    path.replace("{" + field + "}", segment)
                    .replace("{election}", KNOWN)
                    .replace("{station}", STATION)
                )
                answer = client.request(
                    method,
                    url,
                    headers={**api.coordinator, "x-csrf-token": api.csrf},
                    data={"csrf": api.csrf} if path.startswith("/coordinate") else None,
                )
                assert answer.status_code < 500, (method, url, answer.text)
                refused = _refused_by_the_rule(answer, field)
                assert refused is not valid, (method, url, answer.status_code, answer.text)
                if valid and method == "GET":  # a change may first refuse its empty body
                    assert answer.status_code == 404, (method, url, answer.text)
        for field in ("election", "station"):
            body = _report(ident) if field == "election" else _report(KNOWN, ident)
            answer = client.post("/api/v1/reports", json=body, headers=api.observer)
            refused = _refused_by_the_rule(answer, field)
            assert refused is not valid, (field, answer.status_code, answer.text)
