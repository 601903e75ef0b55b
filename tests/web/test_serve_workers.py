"""`pollwatch serve --workers 2`: the workers share the reports through the database, and
one station-state process beside them (not one keeper per worker) stores the state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.observe.test_crash import ELECTION, _ledger_ids, _prepare, _report
from tests.store.databases import database_url
from tests.web.servers import free_port

from pollwatch.config import Settings
from pollwatch.store import open_store
from pollwatch.store.station_state import load_state
from pollwatch.web.app import create_app, create_worker_app


def test_only_the_served_workers_leave_the_state_to_its_own_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path / "data", home=tmp_path)
    assert create_app(settings).state.ingest.keeper is not None  # tests, embedding: a thread
    monkeypatch.setenv("POLLWATCH_HOME", str(tmp_path))
    assert create_worker_app().state.ingest.keeper is None  # `pollwatch serve` runs one process


@pytest.mark.slow
def test_two_workers_answer_retries_alike_and_one_process_keeps_the_state(
    tmp_path: Path,
) -> None:
    with database_url("sqlite", tmp_path) as url:
        tokens = _prepare(url, 2)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "POLLWATCH_DATABASE_URL": url,
            "POLLWATCH_HOME": str(tmp_path / "home"),
            "POLLWATCH_RATE_LIMIT": "0",
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "pollwatch", "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            process_group=0,
        )
        try:
            deadline = time.monotonic() + 90
            while True:
                assert server.poll() is None, "pollwatch serve --workers 2 exited"
                assert time.monotonic() < deadline, "pollwatch serve --workers 2 did not start"
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            bodies = [_report(k % 5 + 1, k) for k in range(30)]
            for k, body in enumerate(bodies):
                headers = {"authorization": f"Bearer {tokens[k % 2]}", "connection": "close"}
                # a new connection each time: the kernel hands it to either worker
                first = httpx.post(f"{base}/api/v1/reports", json=body, headers=headers)
                assert first.status_code == 201, first.text
                for _ in range(3):
                    again = httpx.post(f"{base}/api/v1/reports", json=body, headers=headers)
                    assert again.status_code == 200, again.text
                    assert again.json() == first.json()
            ids = _ledger_ids(base)
            assert sorted(ids) == sorted(b["id"] for b in bodies)  # each exactly once
            engine = open_store(url)
            try:
                while set(load_state(engine, ELECTION)) != {"1", "2", "3", "4", "5"}:
                    assert time.monotonic() < deadline + 60, "no process stored the state"
                    time.sleep(0.1)
            finally:
                engine.dispose()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
