"""Every route × every role, over HTTP, on SQLite and PostgreSQL.

The application's routes are enumerated from ``app.routes``. Each one either names an action
of the permission table (its ``authorized(action)`` dependency) or is listed in
``OPEN_ROUTES``; a route in neither fails :func:`test_every_route_is_in_the_permission_table`.
For each coordinator route the test sends a real request as an admin, a coordinator of the
election, a coordinator of another election, a viewer of the election and nobody, and checks
the answer against :func:`pollwatch.observe.permissions.can`: refused ones get 403 (not the
CSRF refusal), anonymous ones 401 (or the login form for a page), allowed ones anything but
401/403/5xx. A narrowed (one-country) coordinator's listings and station pages are checked on
their own.
"""

from __future__ import annotations

import importlib.util
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from tests.store.databases import database_url
from tests.web.servers import serve_in_thread

from pollwatch.config import Settings
from pollwatch.observe.permissions import (
    Place,
    Principal,
    Scope,
    can,
)
from pollwatch.store import (
    add_coordinator,
    add_scope,
    clean_photo,
    create_election,
    create_invites,
    import_stations,
    login,
    observer_for_token,
    open_store,
    redeem_invite,
    store_photo,
    store_report,
)
from pollwatch.web.app import create_app
from pollwatch.web.route_table import Endpoint, endpoints, permission_docs
from pollwatch.web.security import csrf_token_for

PASSWORD = "a long enough password"
INSIDE, OUTSIDE = "in-2026", "out-2026"
RS_STATION, DE_STATION = "101", "102"


def test_every_route_is_in_the_permission_table(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, home=tmp_path, rate_limit=0))
    found, problems = endpoints(app)
    assert problems == []
    assert len([p for p in found if p.action]) >= 15


def test_a_new_route_without_an_entry_is_caught(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, home=tmp_path, rate_limit=0))

    @app.get("/api/v1/elections/{election}/secrets")
    async def secrets(election: str) -> dict[str, str]:
        return {"election": election}

    _, problems = endpoints(app)
    assert problems == [
        "GET /api/v1/elections/{election}/secrets: no authorized(action) and not in OPEN_ROUTES"
    ]


# --- the matrix over HTTP ------------------------------------------------------------------


@dataclass
class World:
    base: str
    report_id: str
    tokens: dict[str, str]  # person → bearer session token
    routes: list[Endpoint]  # the routes that name an action


PEOPLE: dict[str, tuple[str, Scope | None]] = {
    "admin": ("admin", None),
    "inside": ("coordinator", Scope(INSIDE)),
    "outside": ("coordinator", Scope(OUTSIDE)),
    "viewer": ("viewer", Scope(INSIDE)),
    "narrow": ("coordinator", Scope(INSIDE, country="DE")),
}


def _photo() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    home = tmp_path_factory.mktemp("roles")
    with database_url(request.param, home) as url:
        engine = open_store(url)
        for election in (INSIDE, OUTSIDE):
            create_election(engine, election)
            import_stations(
                engine,
                election,
                [
                    {"station": RS_STATION, "country": "RS", "region": "Beograd"},
                    {"station": DE_STATION, "country": "DE", "region": "Berlin"},
                ],
            )
        for name, (role, scope) in PEOPLE.items():
            add_coordinator(engine, name, PASSWORD, role=role)
            if scope is not None:
                add_scope(engine, name, scope.election, country=scope.country, actor="test")
        invite = create_invites(engine, INSIDE, 1)[0]
        observer = observer_for_token(engine, redeem_invite(engine, invite.code).token)
        report_id = str(uuid.uuid4())
        store_report(
            engine,
            {
                "id": report_id,
                "election": INSIDE,
                "station": RS_STATION,
                "kind": "incident",
                "observed_at": datetime.now(UTC).isoformat(),
                "category": "other",
                "text": "seen",
            },
            observer=observer,
        )
        store_photo(engine, report_id, clean_photo(_photo()), observer=observer)
        tokens = {name: login(engine, name, PASSWORD)[1] for name in PEOPLE}
        settings = Settings(data_dir=home, home=home, database_url=url, rate_limit=0)
        app = create_app(settings)
        app.state.events_poll_seconds = 0.05
        with serve_in_thread(app) as base:
            routes = [p for p in endpoints(app)[0] if p.action]
            yield World(base, report_id, tokens, routes)
        app.state.engine.dispose()
        engine.dispose()


def _principal(name: str) -> Principal:
    role, scope = PEOPLE[name]
    return Principal(role, (scope,) if scope else ())


def _where(point: Endpoint) -> tuple[str | None, Place | None]:
    """The election and station place a request to ``point`` acts on (as the fixture made)."""
    if "{election}" in point.path or "{report_id}" in point.path:
        return INSIDE, Place(RS_STATION, "RS", "Beograd")
    return None, None


def _url(point: Endpoint, world: World) -> str:
    values = {"election": INSIDE, "station": RS_STATION, "report_id": world.report_id}
    path = point.path
    for name, value in values.items():
        path = path.replace(f"{{{name}}}", value)
    assert "{" not in path, f"fill the path parameters of {point.key} in this test"
    return path


def _send(world: World, point: Endpoint, person: str | None) -> httpx.Response:
    """One request as ``person`` (None: nobody): bearer for the API, the cookie for pages.

    Page forms carry the session's CSRF token, so a refusal can only be the permission's.
    """
    cookies: dict[str, str] = {}
    headers: dict[str, str] = {}
    token = None
    if person is not None:
        token = world.tokens[person]
        if point.action == "session.end":  # the request ends it: use a session of its own
            with httpx.Client(base_url=world.base) as client:
                answer = client.post("/api/v1/login", json={"name": person, "password": PASSWORD})
                token = answer.json()["token"]
    csrf = csrf_token_for(token or "")
    if token and point.page:
        cookies = {"pollwatch_session": token, "pollwatch_csrf": csrf}
    elif token:
        headers["Authorization"] = f"Bearer {token}"
    body: dict[str, Any] = {}
    if point.method in ("POST", "PUT"):
        body = {"data": {"csrf": csrf}} if point.page else {"json": {}}
    url = _url(point, world)
    with (
        httpx.Client(base_url=world.base, cookies=cookies, timeout=30) as client,
        client.stream(point.method, url, headers=headers, **body) as answer,
    ):
        if "text/event-stream" not in answer.headers.get("content-type", ""):
            answer.read()  # a live stream is left unread: its status is what counts
        return answer


@pytest.mark.parametrize("person", [*PEOPLE, None])
def test_every_coordinator_route_for_every_role(world: World, person: str | None) -> None:
    wrong: list[str] = []
    checked = 0
    for point in world.routes:
        answer = _send(world, point, person)
        status = answer.status_code
        election, place = _where(point)
        who = _principal(person) if person else None
        if who is None:
            login_page = status == 303 and answer.headers["location"].startswith(
                "/coordinate/login"
            )
            ok = status == 401 or (point.page and point.method == "GET" and login_page)
            expected = "401 or the login form"
        elif can(who, point.action or "", election, place):
            ok = status not in (401, 403) and status < 500
            expected = "allowed"
        else:
            field = answer.json()["error"]["field"] if status == 403 else None
            ok = status == 403 and field != "X-CSRF-Token"
            expected = "403 (permission)"
        checked += 1
        if not ok:
            wrong.append(f"{point.key} as {person}: {status}, expected {expected}")
    assert checked == len(world.routes) >= 15 and wrong == []


# --- a narrowed scope: one country of an election ------------------------------------------


def _client(world: World, person: str) -> httpx.Client:
    return httpx.Client(
        base_url=world.base,
        headers={"Authorization": f"Bearer {world.tokens[person]}"},
        timeout=30,
    )


def test_a_narrow_scope_lists_and_resolves_only_its_stations(world: World) -> None:
    with _client(world, "narrow") as client:
        table = client.get(f"/api/v1/elections/{INSIDE}/dashboard/stations").json()
        assert [s["station"] for s in table["stations"]] == [DE_STATION]
        assert client.get(f"/api/v1/elections/{INSIDE}/stations/{DE_STATION}").status_code == 200
        hidden = client.get(f"/api/v1/elections/{INSIDE}/stations/{RS_STATION}")
        assert hidden.status_code == 403 and "outside your scope" in hidden.text
        assert client.get(f"/api/v1/reports/{world.report_id}/photo").status_code == 403
        incidents = client.get(f"/api/v1/elections/{INSIDE}/dashboard/activity").json()
        assert incidents["incidents"] == []
        resolve = client.post(
            f"/api/v1/elections/{INSIDE}/stations/{RS_STATION}/resolutions",
            json={"field": "status", "value": "opened"},
        )
        assert resolve.status_code == 403
    with _client(world, "inside") as client:
        incidents = client.get(f"/api/v1/elections/{INSIDE}/dashboard/activity").json()
        assert [i["station"] for i in incidents["incidents"]] == [RS_STATION]


def _cookie_client(world: World, person: str) -> httpx.Client:
    token = world.tokens[person]
    return httpx.Client(
        base_url=world.base,
        cookies={"pollwatch_session": token, "pollwatch_csrf": csrf_token_for(token)},
        timeout=30,
    )


def test_a_narrow_scope_binds_invites_to_its_stations(world: World) -> None:
    path = f"/coordinate/{INSIDE}/invites"
    csrf = csrf_token_for(world.tokens["narrow"])
    with _cookie_client(world, "narrow") as client:
        unbound = client.post(path, data={"csrf": csrf, "count": "1", "stations": ""})
        assert unbound.status_code == 400 and unbound.json()["error"]["field"] == "stations"
        elsewhere = client.post(path, data={"csrf": csrf, "count": "1", "stations": "101"})
        assert elsewhere.status_code == 403
        mine = client.post(path, data={"csrf": csrf, "count": "1", "stations": "102"})
        assert mine.status_code == 201 and "/observe/join/" in mine.text


def test_a_narrow_scope_revokes_only_its_stations_observers(world: World) -> None:
    path = f"/coordinate/{INSIDE}/observers/revoke"
    csrf = csrf_token_for(world.tokens["narrow"])
    with _cookie_client(world, "narrow") as client:
        for form in (
            {"what": "station", "station": RS_STATION},
            {"what": "code_name", "code_name": "anyone"},
            {"what": "all", "confirm": INSIDE},
        ):
            answer = client.post(path, data={"csrf": csrf, **form})
            assert answer.status_code == 403, form
        mine = client.post(path, data={"csrf": csrf, "what": "station", "station": DE_STATION})
        assert mine.status_code == 200


def test_the_elections_page_lists_only_ones_scopes(world: World) -> None:
    with _cookie_client(world, "outside") as client:
        page = client.get("/coordinate").text
        assert f'data-election="{OUTSIDE}"' in page and f'data-election="{INSIDE}"' not in page
    with _cookie_client(world, "admin") as client:
        page = client.get("/coordinate").text
        assert f'data-election="{OUTSIDE}"' in page and f'data-election="{INSIDE}"' in page
        assert 'id="admin-link"' in page
    invites = f'href="/coordinate/{INSIDE}/invites'
    with _cookie_client(world, "inside") as client:
        page = client.get("/coordinate").text
        assert 'id="admin-link"' not in page and invites in page
        dashboard = client.get(f"/coordinate/{INSIDE}").text
        assert invites in dashboard and 'data-may-resolve="yes"' in dashboard
    with _cookie_client(world, "viewer") as client:  # no link to what would be refused
        assert invites not in client.get("/coordinate").text
        dashboard = client.get(f"/coordinate/{INSIDE}").text
        assert invites not in dashboard and 'id="tolerance-save"' not in dashboard
        assert 'data-may-resolve="no"' in dashboard  # the script offers no resolve buttons


def test_an_election_outside_ones_scope_cannot_be_probed(world: World) -> None:
    with _client(world, "outside") as client:
        for election in (INSIDE, "no-such-election"):
            answer = client.get(f"/api/v1/elections/{election}/dashboard/stations")
            assert answer.status_code == 403, election
    with _client(world, "admin") as client:
        missing = client.get("/api/v1/elections/no-such-election/dashboard/stations")
        assert missing.status_code == 404


# --- docs/observe.md "Who can do what" is the table ----------------------------------------


def _docs_script() -> ModuleType:
    """scripts/write_permission_docs.py, loaded by path (scripts/ is not a package)."""
    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location(
        "write_permission_docs", root / "scripts" / "write_permission_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_docs_show_the_permission_table(tmp_path: Path) -> None:
    docs = _docs_script()
    app = create_app(Settings(data_dir=tmp_path, home=tmp_path, rate_limit=0))
    text = docs.OBSERVE_MD.read_text(encoding="utf-8")
    assert docs.with_table(text, permission_docs(app)) == text, (
        f"docs/observe.md 'Who can do what' is out of date: run `{docs.COMMAND}`"
    )
