"""The admins' page over HTTP: add coordinators, roles, scopes, passwords, sessions; audited.

Forms carry the double-submit CSRF token; each change is one store call recorded in the audit
log under the admin's name; a generated password is on that one answer only; hostile input
gets a 4xx naming the field and is escaped when shown.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from markupsafe import escape
from tests.web.servers import serve_store, sqlite_url

from pollwatch.store import (
    add_coordinator,
    create_election,
    import_stations,
    list_audit,
    login,
    open_store,
)
from pollwatch.web.admin import DONE

PASSWORD = "a long enough password"


@pytest.fixture()
def site(tmp_path: Path) -> Iterator[tuple[str, str]]:
    url = sqlite_url(tmp_path)
    engine = open_store(url)
    add_coordinator(engine, "root", PASSWORD, role="admin")
    create_election(engine, "e1", name="Election one")
    import_stations(engine, "e1", [{"station": "1", "country": "RS"}, {"station": "2"}])
    engine.dispose()
    with serve_store(url, tmp_path) as base:
        yield base, url


@pytest.fixture()
def admin(site: tuple[str, str]) -> Iterator[httpx.Client]:
    base, _ = site
    with httpx.Client(base_url=base, timeout=30) as client:
        page = client.get("/coordinate/login").text
        token = re.search(r'name="csrf" value="([^"]+)"', page)
        assert token
        answer = client.post(
            "/coordinate/login", data={"csrf": token.group(1), "name": "root", "password": PASSWORD}
        )
        assert answer.status_code == 303  # a session and a fresh CSRF cookie
        yield client


def _post(client: httpx.Client, **fields: str) -> httpx.Response:
    csrf = client.cookies.get("pollwatch_csrf") or ""
    return client.post("/coordinate/admin", data={"csrf": csrf, **fields})


def _new_password(page: str) -> str:
    found = re.search(r'<code id="new-password">([^<]+)</code>', page)
    assert found, "the page shows the new password"
    return html.unescape(found.group(1))


def test_admin_adds_a_coordinator_who_then_logs_in(
    admin: httpx.Client, site: tuple[str, str]
) -> None:
    page = admin.get("/coordinate/admin")
    assert page.status_code == 200 and 'data-name="root"' in page.text
    added = _post(admin, op="add", name="bea", role="coordinator")
    assert added.status_code == 201
    password = _new_password(added.text)
    assert len(password) >= 20
    assert 'data-name="bea"' in added.text
    assert password not in admin.get("/coordinate/admin").text  # shown once
    engine = open_store(site[1])
    who, _ = login(engine, "bea", password)
    assert who.role == "coordinator"
    audit = list_audit(engine)
    engine.dispose()
    assert (audit[1]["actor"], audit[1]["action"], audit[1]["target"]) == (
        "root",
        "coordinators.add",
        "bea",
    )
    assert all(password not in str(entry) for entry in audit)


def test_roles_scopes_reset_and_sessions(admin: httpx.Client, site: tuple[str, str]) -> None:
    password = _new_password(_post(admin, op="add", name="bea", role="coordinator").text)
    assert _post(admin, op="role", name="bea", role="viewer").status_code == 200
    done = _post(admin, op="scope-add", name="bea", election="e1", country="RS")
    assert done.status_code == 200 and 'id="admin-done"' in done.text
    state = admin.get("/coordinate/admin.json").json()
    bea = next(c for c in state["coordinators"] if c["name"] == "bea")
    assert bea["role"] == "viewer"
    assert bea["scopes"] == [{"election": "e1", "country": "RS", "region": None}]
    with httpx.Client(base_url=site[0]) as client:
        token = client.post("/api/v1/login", json={"name": "bea", "password": password})
        bearer = {"Authorization": f"Bearer {token.json()['token']}"}
        stations = client.get("/api/v1/elections/e1/dashboard/stations", headers=bearer)
        assert [s["station"] for s in stations.json()["stations"]] == ["1"]
        reset = _post(admin, op="password", name="bea")
        second = _new_password(reset.text)
        assert second != password
        assert (
            client.get("/api/v1/elections/e1/dashboard/stations", headers=bearer).status_code == 401
        )
        assert (
            client.post("/api/v1/login", json={"name": "bea", "password": password}).status_code
            == 401
        )
        again = client.post("/api/v1/login", json={"name": "bea", "password": second})
        bearer = {"Authorization": f"Bearer {again.json()['token']}"}
        ended = _post(admin, op="sessions", name="bea")
        assert ended.status_code == 200 and "Sessions ended: 1" in ended.text
        assert (
            client.get("/api/v1/elections/e1/dashboard/stations", headers=bearer).status_code == 401
        )
    removed = _post(admin, op="scope-remove", name="bea", election="e1", country="RS", region="")
    assert removed.status_code == 200
    engine = open_store(site[1])
    actions = [a["action"] for a in list_audit(engine) if a["actor"] == "root"]
    engine.dispose()
    assert actions[:6] == [
        "coordinators.scope.remove",
        "coordinators.sessions.end",
        "coordinators.password.reset",
        "coordinators.scope.add",
        "coordinators.role",
        "coordinators.add",
    ]


def test_changes_need_the_csrf_token(admin: httpx.Client) -> None:
    refused = admin.post("/coordinate/admin", data={"op": "add", "name": "eve", "role": "admin"})
    assert refused.status_code == 403 and refused.json()["error"]["field"] == "X-CSRF-Token"
    wrong = admin.post("/coordinate/admin", data={"csrf": "x" * 32, "op": "add", "name": "eve"})
    assert wrong.status_code == 403
    names = [c["name"] for c in admin.get("/coordinate/admin.json").json()["coordinators"]]
    assert names == ["root"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"op": "drop-tables", "name": "bea"}, "op"),
        ({"name": "bea"}, "op"),
        ({"op": "add", "name": "x" * 101, "role": "viewer"}, "name"),
        ({"op": "add", "name": "bea", "role": "superuser"}, "role"),
        ({"op": "scope-add", "name": "root", "election": "e1"}, "name"),
        ({"op": "scope-add", "name": "bea", "election": "e1", "country": "XX"}, "country"),
        ({"op": "role", "name": "root", "role": "viewer"}, "role"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(
    admin: httpx.Client, fields: dict[str, str], field: str
) -> None:
    _post(admin, op="add", name="bea", role="coordinator")
    answer = _post(admin, **fields)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["field"] == field


def test_unknown_names_are_404_and_hostile_names_are_escaped(admin: httpx.Client) -> None:
    assert _post(admin, op="password", name="nobody").status_code == 404
    hostile = '<img src=x onerror="alert(1)">'
    page = _post(admin, op="add", name=hostile, role="viewer").text
    assert hostile not in page
    assert str(escape(hostile)) in page  # Jinja's autoescape, in the table and the message


@pytest.mark.parametrize("lang", ["ru", "sr"])
def test_the_answers_are_translated(lang: str) -> None:
    from importlib import resources

    from babel.messages.pofile import read_po

    po = resources.files("pollwatch.web") / "locale" / lang / "LC_MESSAGES" / "pollwatch.po"
    with po.open("rb") as fh:
        translated = {str(m.id) for m in read_po(fh, locale=lang) if m.id and m.string}
    assert set(DONE.values()) <= translated
