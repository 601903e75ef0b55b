"""CSRF: a state change riding the session cookie needs that session's token, always.

Each case is one an attacker's page can make a logged-in coordinator's browser send: the
cookie goes along by itself; the attacker may add headers a browser adds on its own
(``Authorization: Basic`` behind HTTP auth), set cookies of its own on a sibling domain, or
post a ``text/plain`` form to the login. None of them may change anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.web.servers import serve_store, sqlite_url

from pollwatch.store import add_coordinator, create_election, import_stations, open_store
from pollwatch.web.security import csrf_token_for

PASSWORD = "a long enough password"
ELECTION = "csrf-2026"


@pytest.fixture()
def base_url(tmp_path: Path) -> Iterator[str]:
    url = sqlite_url(tmp_path)
    engine = open_store(url)
    add_coordinator(engine, "coord", PASSWORD, role="admin")
    create_election(engine, ELECTION, name="CSRF test")
    import_stations(engine, ELECTION, [{"station": "1"}])
    engine.dispose()
    with serve_store(url, tmp_path) as base:
        yield base


def _login(client: httpx.Client) -> str:
    answer = client.post("/api/v1/login", json={"name": "coord", "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


def _form_csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', page)
    assert found, "the form carries a hidden csrf field"
    return found.group(1)


def test_cookie_logout_without_the_token_is_refused(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as client:
        session = _login(client)
        csrf = client.cookies.get("pollwatch_csrf")
        assert csrf == csrf_token_for(session), "the token is bound to the session"
        refused = client.post("/api/v1/logout")
        assert refused.status_code == 403
        assert refused.json()["error"]["field"] == "X-CSRF-Token"
        wrong = client.post("/api/v1/logout", headers={"X-CSRF-Token": csrf[:-1] + "x"})
        assert wrong.status_code == 403
        assert client.post("/api/v1/logout", headers={"X-CSRF-Token": csrf}).status_code == 200


def test_bearer_logout_needs_no_csrf_token(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as client:
        token = _login(client)
    with httpx.Client(base_url=base_url) as bare:
        answer = bare.post("/api/v1/logout", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200


@pytest.mark.parametrize(
    "authorization", ["Basic Y29vcmQ6cGFzc3dvcmQ=", "Bearer garbage", "Digest x", "bearer"]
)
def test_an_authorization_header_never_switches_the_check_off(
    base_url: str, authorization: str
) -> None:
    """Browsers add ``Authorization: Basic`` by themselves behind HTTP auth."""
    with httpx.Client(base_url=base_url) as client:
        _login(client)
        headers = {"Authorization": authorization}
        put = client.put(
            f"/api/v1/elections/{ELECTION}/settings", json={"tolerance": 0.2}, headers=headers
        )
        assert put.status_code in (401, 403), put.text
        form = client.post(
            f"/coordinate/{ELECTION}/invites",
            data={"count": "1", "stations": "", "csrf": "wrong-token-" + "x" * 30},
            headers=headers,
        )
        assert form.status_code == 403, form.text
        invites = client.post(
            f"/coordinate/{ELECTION}/invites", data={"count": "1"}, headers=headers
        )
        assert invites.status_code == 403


def test_a_matching_pair_the_attacker_set_is_refused(base_url: str) -> None:
    """Double submit alone would accept any cookie/header pair; the token must fit the session."""
    with httpx.Client(base_url=base_url) as client:
        _login(client)
        client.cookies.set("pollwatch_csrf", "attacker-chosen-value-0123456789abcdef")
        answer = client.put(
            f"/api/v1/elections/{ELECTION}/settings",
            json={"tolerance": 0.2},
            headers={"X-CSRF-Token": "attacker-chosen-value-0123456789abcdef"},
        )
        assert answer.status_code == 403


def test_another_sessions_token_is_refused(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as attacker:
        their_session = _login(attacker)
    with httpx.Client(base_url=base_url) as victim:
        _login(victim)
        answer = victim.put(
            f"/api/v1/elections/{ELECTION}/settings",
            json={"tolerance": 0.2},
            headers={"X-CSRF-Token": csrf_token_for(their_session)},
        )
        assert answer.status_code == 403
        ok = victim.put(
            f"/api/v1/elections/{ELECTION}/settings",
            json={"tolerance": 0.2},
            headers={"X-CSRF-Token": str(victim.cookies.get("pollwatch_csrf"))},
        )
        assert ok.status_code == 200, ok.text


def test_a_change_from_another_origin_is_refused_even_with_the_token(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as client:
        _login(client)
        csrf = str(client.cookies.get("pollwatch_csrf"))
        for origin in ("https://evil.example", "null"):
            answer = client.put(
                f"/api/v1/elections/{ELECTION}/settings",
                json={"tolerance": 0.2},
                headers={"X-CSRF-Token": csrf, "Origin": origin},
            )
            assert answer.status_code == 403
            assert answer.json()["error"]["field"] == "Origin"
        same = client.put(
            f"/api/v1/elections/{ELECTION}/settings",
            json={"tolerance": 0.2},
            headers={"X-CSRF-Token": csrf, "Origin": base_url},
        )
        assert same.status_code == 200


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_api_login_takes_json_only(base_url: str, content_type: str | None) -> None:
    """A cross-site ``text/plain`` form could otherwise log the browser into our account."""
    body = json.dumps({"name": "coord", "password": PASSWORD})
    headers = {"Content-Type": content_type} if content_type else {}
    with httpx.Client(base_url=base_url) as client:
        answer = client.post("/api/v1/login", content=body.encode(), headers=headers)
        assert answer.status_code == 400
        assert answer.json()["error"]["field"] == "Content-Type"
        assert "pollwatch_session" not in answer.cookies


def test_login_from_another_origin_is_refused(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as client:
        api = client.post(
            "/api/v1/login",
            json={"name": "coord", "password": PASSWORD},
            headers={"Origin": "https://evil.example"},
        )
        assert api.status_code == 403
        page = client.get("/coordinate/login")
        form = client.post(
            "/coordinate/login",
            data={"name": "coord", "password": PASSWORD, "csrf": _form_csrf(page.text)},
            headers={"Origin": "https://evil.example"},
        )
        assert form.status_code == 403
        assert "pollwatch_session" not in form.cookies


def test_logout_from_the_page_forgets_both_cookies(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as client:
        page = client.get("/coordinate/login")
        client.post(
            "/coordinate/login",
            data={"name": "coord", "password": PASSWORD, "csrf": _form_csrf(page.text)},
        )
        elections = client.get("/coordinate")
        answer = client.post("/coordinate/logout", data={"csrf": _form_csrf(elections.text)})
        assert answer.status_code == 303
        cleared = answer.headers.get_list("set-cookie")
        for name in ("pollwatch_session", "pollwatch_csrf"):
            assert any(c.startswith(f"{name}=") and "Max-Age=0" in c for c in cleared), cleared
