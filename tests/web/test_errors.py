"""One translation of errors to HTTP: the reports' fast path, the routers and the body cap
answer the same error with the same status and body."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from tests.web.servers import serve_store, sqlite_url

from pollwatch.store import create_election, create_invites, open_store, redeem_invite

REPORT_ID = "00000000-0000-4000-8000-000000000001"
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A client of a real server whose ``Authorization`` is a redeemed observer token."""
    home = tmp_path_factory.mktemp("errors")
    url = sqlite_url(home)
    engine = open_store(url)
    create_election(engine, "e1")
    token = redeem_invite(engine, create_invites(engine, "e1", 1)[0].code).token
    engine.dispose()
    with serve_store(url, home) as base, httpx.Client(base_url=base) as http:
        http.headers["Authorization"] = f"Bearer {token}"
        yield http


def test_a_missing_token_gets_the_same_answer_from_the_fast_path_and_a_router(
    client: httpx.Client,
) -> None:
    anonymous = {"Authorization": ""}
    fast = client.post("/api/v1/reports", json={}, headers=anonymous)  # before FastAPI's routing
    routed = client.post(
        f"/api/v1/reports/{REPORT_ID}/photo", files={"photo": b"x"}, headers=anonymous
    )
    assert fast.status_code == routed.status_code == 401
    assert fast.json() == routed.json()
    assert fast.json()["error"]["message"].startswith("an observer token is required")


def test_a_body_that_is_not_json_names_the_field_alike_on_both_paths(
    client: httpx.Client,
) -> None:
    fast = client.post("/api/v1/reports", content=b"{nope")
    routed = client.post("/api/v1/login", content=b"{nope", headers=JSON)
    assert fast.status_code == routed.status_code == 400
    assert fast.json() == routed.json()
    assert fast.json()["error"]["field"] == "body"
    assert fast.json()["error"]["message"].startswith("the body is not valid JSON")


def test_the_body_cap_answers_alike_whether_the_size_is_declared_or_streamed(
    client: httpx.Client,
) -> None:
    big = b"x" * (65 * 1024)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    declared = client.post("/api/v1/login", content=big, headers=JSON)
    streamed = client.post("/api/v1/login", content=chunks(), headers=JSON)  # no length
    fast = client.post("/api/v1/reports", content=chunks())
    for answer in (declared, streamed, fast):
        assert answer.status_code == 413
        assert answer.json() == declared.json()
    assert declared.json()["error"] == {
        "status": 413,
        "message": "request body larger than 65536 bytes",
        "field": None,
    }
