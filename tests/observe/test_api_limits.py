"""Rate limits (per token and per address) and login throttling over HTTP, on real servers.

* One server: a token over its limit gets 429 with ``Retry-After``; an address's limit is
  generous but finite; failed logins pause the name on both login routes (the JSON API and
  the form), with ``Retry-After`` and when to try again, the right password included.
* Two `pollwatch serve` processes on one database (SQLite, PostgreSQL) or one Redis enforce
  ONE limit: 60 a minute lets about 60 through, not 120; and failed logins counted on one
  process pause the name on the other.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.limits.stores import redis_url, require_redis
from tests.observe.test_crash import Server
from tests.store.databases import database_url
from tests.web.servers import serve_in_thread

from pollwatch.config import Settings
from pollwatch.limits.rate import ADDRESS_FACTOR, LOCAL_BURST
from pollwatch.store import (
    add_coordinator,
    create_election,
    create_invites,
    open_store,
    redeem_invite,
)
from pollwatch.web.app import create_app

PASSWORD = "correct horse battery"


def _prepare(url: str) -> str:
    """An election, a coordinator ``anna`` and one observer; returns the observer's token."""
    engine = open_store(url)
    create_election(engine, "e")
    add_coordinator(engine, "anna", PASSWORD)
    token = redeem_invite(engine, create_invites(engine, "e", 1)[0].code).token
    engine.dispose()
    return token


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    folder: Path = tmp_path_factory.mktemp("limits")
    url = f"sqlite:///{folder / 'db.sqlite'}"
    token = _prepare(url)
    settings = Settings(data_dir=folder, home=folder, database_url=url, rate_limit=5)
    app = create_app(settings)
    with serve_in_thread(app) as base:
        yield base, token
    app.state.engine.dispose()


def test_token_over_its_limit_gets_429_with_retry_after(server: tuple[str, str]) -> None:
    base, token = server
    headers = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base) as client:
        answers = [client.post("/api/v1/reports", json={}, headers=headers) for _ in range(7)]
    codes = [a.status_code for a in answers]
    assert codes[:5] == [400] * 5  # {} is bad input, answered until the limit is reached
    assert codes[5:] == [429, 429]
    assert ADDRESS_FACTOR * 5 > 7  # it was the token's limit, not the address's
    wait = int(answers[-1].headers["retry-after"])
    assert 1 <= wait <= 2 * 60  # until the minute holding these requests has slid out
    assert answers[-1].json()["error"]["message"] == f"too many requests; retry in {wait} s"


def test_address_limit_is_generous_but_finite(server: tuple[str, str]) -> None:
    base, _ = server
    with httpx.Client(base_url=base) as client:
        codes = [
            client.post("/api/v1/invites/unknown/redeem").status_code
            for _ in range(ADDRESS_FACTOR * 5 + 5)
        ]
    assert codes.count(429) >= 5 and codes.count(401) >= ADDRESS_FACTOR * 5 - 12
    r = httpx.post(f"{base}/api/v1/invites/unknown/redeem")
    assert r.status_code == 429 and r.json()["error"]["status"] == 429
    assert int(r.headers["retry-after"]) >= 1


# --- login throttling ---------------------------------------------------------------------------


@pytest.fixture()
def login_base(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    _prepare(url)
    settings = Settings(data_dir=tmp_path, home=tmp_path, database_url=url, rate_limit=0)
    app = create_app(settings)
    with serve_in_thread(app) as base:
        yield base
    app.state.engine.dispose()


def _wait_out(attempt: object, deadline_seconds: float = 10) -> httpx.Response:
    """Repeat ``attempt`` until it is not a 429 (the pause ends by itself)."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        answer: httpx.Response = attempt()  # type: ignore[operator]
        if answer.status_code != 429:
            return answer
        assert time.monotonic() < deadline, "the pause did not end"
        time.sleep(0.05)


def test_api_login_pauses_a_guessed_name(login_base: str) -> None:
    with httpx.Client(base_url=login_base, timeout=60) as client:

        def attempt(password: str) -> httpx.Response:
            return client.post("/api/v1/login", json={"name": "anna", "password": password})

        assert [attempt(f"guess {i}").status_code for i in range(5)] == [401] * 5
        paused = attempt(PASSWORD)
        assert paused.status_code == 429, "even the right password waits"
        assert paused.headers["retry-after"] == "1"
        message = paused.json()["error"]["message"]
        assert re.fullmatch(
            r"too many failed logins for this name or from this address; "
            r"try again in 1 s \(at \d\d:\d\d:\d\d UTC\)",
            message,
        )
        assert _wait_out(lambda: attempt(PASSWORD)).status_code == 200


def test_form_login_pauses_a_guessed_name(login_base: str) -> None:
    with httpx.Client(base_url=login_base, timeout=60) as client:
        client.get("/coordinate/login")
        csrf = client.cookies["pollwatch_csrf"]

        def attempt(password: str) -> httpx.Response:
            data = {"name": "anna", "password": password, "csrf": csrf}
            return client.post("/coordinate/login?lang=en", data=data)

        assert [attempt(f"guess {i}").status_code for i in range(5)] == [401] * 5
        paused = attempt(PASSWORD)
        assert paused.status_code == 429 and paused.headers["retry-after"] == "1"
        assert "Too many failed logins. Try again in 1 s." in paused.text
        assert _wait_out(lambda: attempt(PASSWORD)).status_code == 303


# --- two server processes, one limit --------------------------------------------------------


def _forget_logins_in_redis() -> None:
    """Redis outlives a test: clear the failed logins it counted for anna and 127.0.0.1."""
    from pollwatch.limits import limit_key
    from pollwatch.limits.login import FAILURE_WINDOW
    from pollwatch.limits.redis_counters import RedisCounters

    counters = RedisCounters(redis_url())
    keys = [limit_key("login-name", "anna"), limit_key("login-address", "127.0.0.1")]
    counters.forget(keys, FAILURE_WINDOW, time.time())
    counters.close()


@pytest.mark.parametrize("store", ["sqlite", "postgresql", "redis"])
def test_two_server_processes_enforce_one_limit(store: str, tmp_path: Path) -> None:
    env = {"POLLWATCH_RATE_LIMIT": "60"}
    if store == "redis":
        require_redis()
        _forget_logins_in_redis()
        env["POLLWATCH_REDIS_URL"] = redis_url()
    with database_url("sqlite" if store == "redis" else store, tmp_path) as url:
        token = _prepare(url)
        servers = [Server(url, tmp_path, env) for _ in range(2)]
        try:
            for server in servers:
                server.start()
            with contextlib.ExitStack() as stack:
                clients = [
                    stack.enter_context(httpx.Client(base_url=s.base, timeout=60)) for s in servers
                ]
                headers = {"authorization": f"Bearer {token}"}
                codes = [
                    clients[i % 2].post("/api/v1/reports", json={}, headers=headers).status_code
                    for i in range(150)
                ]
                # Failed logins on one process pause the name on the other.
                for i in range(5):
                    login = {"name": "anna", "password": f"guess {i}"}
                    assert clients[i % 2].post("/api/v1/login", json=login).status_code == 401
                login = {"name": "anna", "password": PASSWORD}
                paused = clients[1].post("/api/v1/login", json=login)
        finally:
            for server in servers:
                server.stop()
            if store == "redis":
                _forget_logins_in_redis()
    allowed = codes.count(400)
    assert codes.count(429) == 150 - allowed
    assert 60 <= allowed <= 60 + 60 * LOCAL_BURST, f"{allowed} of 60 a minute let through"
    assert paused.status_code == 429 and paused.headers["retry-after"] == "1"


def test_a_redis_that_is_down_stops_logins_clearly_but_not_reports(tmp_path: Path) -> None:
    """Reports are still taken (each process counts alone); logins answer 503, naming Redis."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    token = _prepare(url)
    settings = Settings(
        data_dir=tmp_path,
        home=tmp_path,
        database_url=url,
        rate_limit=5,
        redis_url="redis://127.0.0.1:1/0",
    )
    app = create_app(settings)
    with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        headers = {"authorization": f"Bearer {token}"}
        codes = [
            client.post("/api/v1/reports", json={}, headers=headers).status_code for _ in range(7)
        ]
        login = client.post("/api/v1/login", json={"name": "anna", "password": PASSWORD})
    app.state.engine.dispose()
    assert codes == [400] * 5 + [429] * 2, "the limit of one process still holds"
    assert login.status_code == 503
    assert "POLLWATCH_REDIS_URL" in login.json()["error"]["message"]
