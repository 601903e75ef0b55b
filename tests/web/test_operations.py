"""Seen from outside: liveness, readiness, the figures Prometheus scrapes, JSON logs.

On SQLite and PostgreSQL: /readyz says ready only when the database answers, its schema is
current and the report writer runs; /metrics counts reports by outcome and refusal reason,
batches and commit latency, and is not public; logs are JSON lines without personal data.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from tests.store.databases import database_url
from tests.web.servers import serve_in_thread

from pollwatch.config import Settings
from pollwatch.logs import JsonFormatter, logging_config
from pollwatch.store import (
    add_coordinator,
    create_election,
    create_invites,
    import_stations,
    open_store,
    redeem_invite,
)
from pollwatch.web.app import create_app

ELECTION = "ops-2026"
PASSWORD = "a long passphrase"


def _count(**extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "id": str(uuid.uuid4()),
        "election": ELECTION,
        "station": "1",
        "kind": "count",
        "observed_at": now.isoformat(),
        "window_start": (now - timedelta(hours=1)).isoformat(),
        "window_end": now.isoformat(),
        "entered": 12,
        **extra,
    }


class Ops:
    def __init__(self, base: str, url: str, app: Any, token: str) -> None:
        self.base, self.url, self.app, self.token = base, url, app, token
        self.client = httpx.Client(base_url=base, timeout=30)

    def login(self, name: str) -> dict[str, str]:
        r = self.client.post("/api/v1/login", json={"name": name, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture(params=["sqlite", "postgresql"])
def ops(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ops]:
    with database_url(request.param, tmp_path) as url:
        engine = open_store(url)
        create_election(engine, ELECTION, name="Operations")
        import_stations(engine, ELECTION, [{"station": "1"}])
        add_coordinator(engine, "admin", PASSWORD, role="admin")
        add_coordinator(engine, "coord", PASSWORD, role="coordinator")
        token = redeem_invite(engine, create_invites(engine, ELECTION, 1)[0].code).token
        engine.dispose()
        settings = Settings(data_dir=tmp_path, home=tmp_path, database_url=url, rate_limit=0)
        app = create_app(settings)
        with serve_in_thread(app) as base:
            ops = Ops(base, url, app, token)
            yield ops
            ops.client.close()
        app.state.engine.dispose()


def test_ready_when_database_schema_and_writer_are(ops: Ops) -> None:
    assert ops.client.get("/healthz").json()["ok"] is True
    ready = ops.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {
        "ready": True,
        "database": "ok",
        "migrations": "ok",
        "writer": "ok",
        "queue_depth": 0,
    }


def test_readiness_details_are_for_the_operators_addresses_only(ops: Ops) -> None:
    from pollwatch.web.security import parse_trusted_proxies

    ops.app.state.metrics_from = parse_trusted_proxies("10.9.9.9")  # not this test client
    answer = ops.client.get("/readyz")
    assert answer.status_code == 200 and answer.json() == {"ready": True}
    ops.app.state.ingest.stop()
    stopped = ops.client.get("/readyz")
    assert stopped.status_code == 503 and stopped.json() == {"ready": False}


def test_not_ready_when_the_writer_stopped(ops: Ops) -> None:
    ops.app.state.ingest.stop()
    answer = ops.client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["writer"] == "stopped"


def test_not_ready_when_the_schema_is_behind(ops: Ops) -> None:
    with ops.app.state.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    answer = ops.client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["migrations"].startswith("at 0001")


def test_not_ready_when_the_database_does_not_answer(ops: Ops) -> None:
    from pollwatch.store import make_engine

    working = ops.app.state.engine
    ops.app.state.engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        answer = ops.client.get("/readyz")
    finally:
        ops.app.state.engine.dispose()
        ops.app.state.engine = working
    assert answer.status_code == 503
    assert answer.json()["database"].startswith("unreachable")


def _sample(body: str, name: str, **labels: str) -> float:
    for line in body.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_reports_by_outcome_and_reason(ops: Ops) -> None:
    auth = {"Authorization": f"Bearer {ops.token}"}
    report = _count()
    assert ops.client.post("/api/v1/reports", json=report, headers=auth).status_code == 201
    assert ops.client.post("/api/v1/reports", json=report, headers=auth).status_code == 200
    bad = ops.client.post("/api/v1/reports", json=_count(entered=-1), headers=auth)
    assert bad.status_code == 400
    assert ops.client.post("/api/v1/reports", json=_count()).status_code == 401
    body = ops.client.get("/metrics").text  # from 127.0.0.1: a local Prometheus
    assert _sample(body, "pollwatch_reports_total", outcome="created") == 1
    assert _sample(body, "pollwatch_reports_total", outcome="retry") == 1
    assert _sample(body, "pollwatch_reports_total", outcome="refused", field="entered") == 1
    assert _sample(body, "pollwatch_reports_total", outcome="refused", status="401") == 1
    assert _sample(body, "pollwatch_ingest_batch_size_count") >= 1
    assert _sample(body, "pollwatch_ingest_commit_seconds_count") >= 1
    assert "pollwatch_ingest_queue_depth 0.0" in body
    assert ops.token not in body and "ops-2026" not in body


def test_metrics_are_for_admins_from_elsewhere(ops: Ops) -> None:
    from pollwatch.web.security import parse_trusted_proxies

    ops.app.state.metrics_from = parse_trusted_proxies("10.9.9.9")  # not this test client
    assert ops.client.get("/metrics").status_code == 401
    assert ops.client.get("/metrics", headers=ops.login("coord")).status_code == 403
    assert ops.client.get("/metrics", headers=ops.login("admin")).status_code == 200


def test_log_lines_are_json_with_only_what_is_allowed() -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord(
        "pollwatch.x", logging.WARNING, __file__, 1, "batch of %d", (3,), None
    )
    record.__dict__.update(event="store", token="secret-token", code_name="brave-fox-0001")
    line = formatter.format(record)
    data = json.loads(line)
    assert data["message"] == "batch of 3" and data["event"] == "store"
    assert "secret-token" not in line and "brave-fox" not in line
    try:
        raise ValueError("the text of an incident: Ivanov threatened voters")
    except ValueError:
        import sys

        failing = logging.LogRecord(
            "pollwatch.x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    line = formatter.format(failing)
    assert json.loads(line)["error"] == "ValueError"
    assert "Ivanov" not in line, "a traceback may quote data: only the type is logged"


def test_the_servers_logging_config_is_json_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    import logging.config

    before = logging.getLogger().handlers[:], logging.getLogger().level
    try:
        logging.config.dictConfig(logging_config("WARNING"))
        logging.getLogger("uvicorn.error").warning("something happened")
        err = capsys.readouterr().err.strip().splitlines()
        assert err and json.loads(err[-1])["message"] == "something happened"
    finally:
        logging.getLogger().handlers[:] = before[0]
        logging.getLogger().setLevel(before[1])
