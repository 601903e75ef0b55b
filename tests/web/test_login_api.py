"""``POST /api/v1/login``: what a client gets for each body, and the body it is documented to take.

The answers here are the contract scripts and the dashboard rely on: the status, the field
the error names and its message. The body is read by the one JSON body reader
(:mod:`pollwatch.web.json_bodies`), so the documented schema is the one the route checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.web.servers import serve_store, sqlite_url

from pollwatch.store import add_coordinator, open_store

PASSWORD = "a long enough password"
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    home = tmp_path_factory.mktemp("login")
    url = sqlite_url(home)
    engine = open_store(url)
    add_coordinator(engine, "coord", PASSWORD)
    engine.dispose()
    with serve_store(url, home) as base, httpx.Client(base_url=base) as http:
        yield http


def _error(answer: Any) -> tuple[int, str | None, str]:
    error = answer.json()["error"]
    return answer.status_code, error["field"], error["message"]


def test_the_right_password_opens_a_session(client: httpx.Client) -> None:
    answer = client.post("/api/v1/login", json={"name": "coord", "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    assert answer.json()["coordinator"] == "coord" and answer.json()["token"]
    assert "pollwatch_session" in answer.cookies


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        (b"{nope", (400, "body", "the body is not valid JSON")),
        (b"[1, 2]", (400, "body", "the body must be {'name': ..., 'password': ...}")),
        (b'"coord"', (400, "body", "the body must be {'name': ..., 'password': ...}")),
        (b'{"name": "", "password": "x"}', (400, "name", "'name' must be a non-empty string")),
        (b'{"name": 7, "password": "x"}', (400, "name", "'name' must be a non-empty string")),
        (b'{"name": "coord", "password": null}', (400, "password", "'password' must be a")),
        (
            b'{"name": "coord", "password": "' + b"x" * 1001 + b'"}',
            (400, "password", "'password' must be a non-empty string"),
        ),
        (b'{"name": "coord", "password": "wrong"}', (401, None, "wrong name or password")),
    ],
)
def test_each_bad_body_gets_its_answer(
    client: httpx.Client, body: bytes, answer: tuple[int, str | None, str]
) -> None:
    status, field, message = _error(client.post("/api/v1/login", content=body, headers=JSON))
    assert (status, field) == answer[:2]
    assert message.startswith(answer[2]), message


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_only_json_is_read(client: httpx.Client, content_type: str | None) -> None:
    """A cross-site ``text/plain`` form could otherwise log the browser into our account."""
    headers = {"Content-Type": content_type} if content_type else {}
    body = b'{"name": "coord", "password": "' + PASSWORD.encode() + b'"}'
    answer = client.post("/api/v1/login", content=body, headers=headers)
    status, field, message = _error(answer)
    assert (status, field) == (400, "Content-Type")
    assert "must be JSON (Content-Type: application/json)" in message
    assert "pollwatch_session" not in answer.cookies


def test_a_missing_field_is_named(client: httpx.Client) -> None:
    for body, field in (({"password": PASSWORD}, "name"), ({"name": "coord"}, "password")):
        status, named, _message = _error(client.post("/api/v1/login", json=body))
        assert (status, named) == (400, field)


def test_the_documented_body_is_name_and_password(client: httpx.Client) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/api/v1/login"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["type"] == "object"
    assert sorted(schema["required"]) == ["name", "password"]
    for field in ("name", "password"):
        assert schema["properties"][field]["type"] == "string"
