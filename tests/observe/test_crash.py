"""Durability and scale-out with real `pollwatch serve` processes.

* SIGKILL in the middle of a stream of reports (SQLite): after a restart every report that
  was acknowledged with 2xx is there exactly once, and the exported ledger verifies.
* Two server processes against one database (PostgreSQL, and one SQLite file): reports (and
  retries of the same report) sent to both at once are stored once each, in one unbroken
  ledger — each process has its own group-commit writer; the database orders them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.store.databases import database_url
from tests.web.servers import free_port

from pollwatch.observe.ledger import verify_ledger
from pollwatch.store import create_election, create_invites, import_stations, open_store

ELECTION = "crash-test"


class Server:
    """`pollwatch serve` as a child process."""

    def __init__(self, url: str, home: Path, env: dict[str, str] | None = None) -> None:
        self.url = url
        self.home = home
        self.env = env or {}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "POLLWATCH_DATABASE_URL": self.url,
            "POLLWATCH_HOME": str(self.home),
            "POLLWATCH_RATE_LIMIT": "0",
            **self.env,
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pollwatch", "serve", "--port", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"pollwatch serve exited: {err}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("pollwatch serve did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()


def _prepare(url: str, observers: int) -> list[str]:
    """An election with stations and redeemed observer tokens, its ledger public (embargo
    over), so the servers' ledgers can be read without a coordinator."""
    from pollwatch.store import observer_for_token, redeem_invite, set_embargo

    engine = open_store(url)
    create_election(engine, ELECTION)
    set_embargo(engine, ELECTION, "2000-01-01T00:00:00Z", by="test")
    import_stations(engine, ELECTION, [{"station": str(i)} for i in range(1, 21)])
    tokens = []
    for invite in create_invites(engine, ELECTION, observers):
        token = redeem_invite(engine, invite.code).token
        observer_for_token(engine, token)
        tokens.append(token)
    engine.dispose()
    return tokens


def _report(station: int, entered: int) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "id": str(uuid.uuid4()),
        "election": ELECTION,
        "station": str(station),
        "kind": "count",
        "observed_at": now.isoformat(),
        "window_start": (now - timedelta(minutes=30)).isoformat(),
        "window_end": now.isoformat(),
        "entered": entered,
    }


def _ledger_ids(base: str) -> list[str]:
    import json

    r = httpx.get(f"{base}/api/v1/elections/{ELECTION}/ledger", timeout=30)
    assert r.status_code == 200
    lines = r.text.splitlines()
    result = verify_ledger(lines)
    assert result.ok, result.describe()
    return [json.loads(line)["report_id"] for line in lines]


@pytest.fixture()
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    with database_url("sqlite", tmp_path) as url:
        yield url


@pytest.mark.slow
def test_sigkill_mid_stream_loses_no_acknowledged_report(sqlite_url: str, tmp_path: Path) -> None:
    token = _prepare(sqlite_url, 1)[0]
    server = Server(sqlite_url, tmp_path / "home")
    server.start()
    acknowledged: dict[str, dict[str, Any]] = {}
    unanswered: list[dict[str, Any]] = []
    stop = threading.Event()

    def stream() -> None:
        with httpx.Client(base_url=server.base, timeout=5) as client:
            i = 0
            while not stop.is_set() and i < 5000:
                body = _report(i % 20 + 1, i)
                i += 1
                try:
                    r = client.post(
                        "/api/v1/reports", json=body, headers={"authorization": f"Bearer {token}"}
                    )
                except httpx.TransportError:
                    unanswered.append(body)
                    return
                if r.status_code in (200, 201):
                    acknowledged[body["id"]] = body
                else:  # pragma: no cover - a refused report is a test failure
                    raise AssertionError(r.text)

    sender = threading.Thread(target=stream)
    sender.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 100 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()  # SIGKILL: no shutdown handler, no flush
    stop.set()
    sender.join(timeout=30)
    assert len(acknowledged) >= 100

    server = Server(sqlite_url, tmp_path / "home")
    server.start()
    try:
        ids = _ledger_ids(server.base)
        assert len(ids) == len(set(ids))  # exactly once
        missing = set(acknowledged) - set(ids)
        assert not missing, f"{len(missing)} acknowledged reports lost"
        # At most the one in flight when the server died was stored without an answer.
        assert len(set(ids) - set(acknowledged)) <= len(unanswered) <= 1
        # Retrying everything after the restart stores nothing twice.
        with httpx.Client(base_url=server.base, timeout=10) as client:
            for body in [*list(acknowledged.values())[-20:], *unanswered]:
                r = client.post(
                    "/api/v1/reports", json=body, headers={"authorization": f"Bearer {token}"}
                )
                assert r.status_code in (200, 201)
                assert r.status_code == 200 or body in unanswered
        after = _ledger_ids(server.base)
        assert (
            len(after) == len(set(after)) == len(set(acknowledged) | {b["id"] for b in unanswered})
        )
    finally:
        server.stop()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_two_servers_share_one_database(kind: str, tmp_path: Path) -> None:
    with database_url(kind, tmp_path) as url:
        tokens = _prepare(url, 4)
        servers = [Server(url, tmp_path / f"home{i}") for i in range(2)]
        for s in servers:
            s.start()
        try:
            bodies = {t: [_report(k % 3 + 1, k) for k in range(25)] for t in tokens}
            statuses: list[int] = []
            lock = threading.Lock()

            def send(token: str, first: int) -> None:
                clients = [httpx.Client(base_url=s.base, timeout=30) for s in servers]
                try:
                    for k, body in enumerate(bodies[token]):
                        for attempt in range(2):  # a retry that lands on the other server
                            client = clients[(first + k + attempt) % 2]
                            r = client.post(
                                "/api/v1/reports",
                                json=body,
                                headers={"authorization": f"Bearer {token}"},
                            )
                            with lock:
                                statuses.append(r.status_code)
                finally:
                    for c in clients:
                        c.close()

            threads = [threading.Thread(target=send, args=(t, i)) for i, t in enumerate(tokens)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert statuses.count(201) == 100 and statuses.count(200) == 100
            for s in servers:
                ids = _ledger_ids(s.base)
                assert len(ids) == len(set(ids)) == 100
        finally:
            for s in servers:
                s.stop()
