"""Rate limits (per token and per address) and the request-size cap of the observation API."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from pollwatch.config import Settings
from pollwatch.store import create_election, create_invites, open_store, redeem_invite
from pollwatch.web.app import create_app
from pollwatch.web.observe_api import ADDRESS_FACTOR, RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_the_limit_then_refills() -> None:
    clock = FakeClock()
    limiter = RateLimiter(60, clock=clock)
    assert all(limiter.allow("k", 60) == 0 for _ in range(60))
    wait = limiter.allow("k", 60)
    assert wait == pytest.approx(1.0)  # one request per second refills
    clock.now += 1.0
    assert limiter.allow("k", 60) == 0
    assert limiter.allow("other", 60) == 0  # buckets are per key


def test_zero_turns_limiting_off() -> None:
    limiter = RateLimiter(0)
    assert all(limiter.allow("k", 1) == 0 for _ in range(1000))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    folder: Path = tmp_path_factory.mktemp("limits")
    url = f"sqlite:///{folder / 'db.sqlite'}"
    engine = open_store(url)
    create_election(engine, "e")
    codes = [i.code for i in create_invites(engine, "e", 2)]
    token = redeem_invite(engine, codes[0]).token
    engine.dispose()
    settings = Settings(data_dir=folder, home=folder, database_url=url, rate_limit=5)
    app = create_app(settings)
    sock_port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=sock_port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock_port}", token
    srv.should_exit = True
    thread.join(timeout=10)
    app.state.engine.dispose()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_token_over_its_limit_gets_429(server: tuple[str, str]) -> None:
    base, token = server
    headers = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base) as client:
        codes = [
            client.post("/api/v1/reports", json={}, headers=headers).status_code for _ in range(7)
        ]
    assert codes[:5] == [400] * 5  # {} is bad input, answered until the bucket is empty
    assert codes[5:] == [429, 429]
    assert ADDRESS_FACTOR * 5 > 7  # it was the token's bucket, not the address's


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
