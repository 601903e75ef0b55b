"""CSRF: a cookie-authenticated state change needs the double-submit token; a bearer one not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.web.servers import serve_in_thread

from pollwatch.config import Settings
from pollwatch.store import add_coordinator, open_store
from pollwatch.web.app import create_app


@pytest.fixture()
def base_url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = open_store(url)
    add_coordinator(engine, "coord", "a long enough password", role="coordinator")
    engine.dispose()
    app = create_app(Settings(data_dir=tmp_path, home=tmp_path, database_url=url))
    with serve_in_thread(app) as base:
        yield base


def _login(client: httpx.Client) -> str:
    answer = client.post(
        "/api/v1/login", json={"name": "coord", "password": "a long enough password"}
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


def test_cookie_logout_without_the_token_is_refused(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as client:
        _login(client)
        csrf = client.cookies.get("pollwatch_csrf")
        assert csrf and len(csrf) >= 32
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
