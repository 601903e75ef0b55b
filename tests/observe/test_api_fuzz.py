"""API fuzzing: schemathesis generates requests from /openapi.json; none may answer 500.

Runs against a real uvicorn server on SQLite, with a valid observer token and coordinator
session so that generated reports reach the store, and checks afterwards that the ledger of
everything accepted still verifies (no stored garbage).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from tests.web.servers import free_port

from pollwatch.config import Settings
from pollwatch.observe.ledger import verify_ledger
from pollwatch.store import (
    add_coordinator,
    create_election,
    create_invites,
    import_stations,
    login,
    open_store,
    redeem_invite,
)
from pollwatch.web.app import create_app

STATE: dict[str, Any] = {}


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{folder / 'db.sqlite'}"
    engine = open_store(url)
    create_election(engine, "e")
    import_stations(engine, "e", [{"station": s} for s in ("0", "1", "A")])
    token = redeem_invite(engine, create_invites(engine, "e", 1)[0].code).token
    add_coordinator(engine, "fuzz", "a long passphrase", role="admin")
    session = login(engine, "fuzz", "a long passphrase")[1]
    engine.dispose()
    app = create_app(Settings(data_dir=folder, home=folder, database_url=url, rate_limit=0))
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    STATE.update(base=base, token=token, session=session, url=url)
    yield STATE
    srv.should_exit = True
    thread.join(timeout=10)
    app.state.engine.dispose()


@pytest.fixture(scope="module")
def api_schema(fuzz_server: dict[str, Any]) -> Any:
    spec = httpx.get(f"{fuzz_server['base']}/openapi.json").json()
    # every operation but the endless live-event stream (tested on its own) and the logout
    # (which would end the session the other operations are fuzzed with)
    return schemathesis.openapi.from_dict(spec).exclude(path_regex=r"/events$|/logout$")


@pytest.mark.slow
def test_no_server_errors(api_schema: Any) -> None:
    """Every documented operation, ~25 generated requests each: 4xx allowed, 5xx never.

    Observers' operations get the observer token, everything else the coordinator session
    (an admin's, so that every coordinator route reaches its handler, not only its 401).
    """
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 30

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            observer = case.path.startswith(("/api/v1/reports", "/api/v1/observer"))
            token = STATE["token"] if observer and case.method != "GET" else STATE["session"]
            case.call_and_validate(
                base_url=STATE["base"],
                headers={"authorization": f"Bearer {token}"},
                checks=[schemathesis.checks.not_a_server_error],
            )

        check()


def test_ledger_still_verifies_after_fuzzing(fuzz_server: dict[str, Any]) -> None:
    engine = open_store(fuzz_server["url"])
    session = login(engine, "fuzz", "a long passphrase")[1]  # fuzzing may have logged out
    engine.dispose()
    r = httpx.get(
        f"{fuzz_server['base']}/api/v1/elections/e/ledger",
        headers={"authorization": f"Bearer {session}"},
    )
    assert r.status_code == 200
    assert verify_ledger(r.text.splitlines()).ok
