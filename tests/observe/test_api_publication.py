"""The publication policy over HTTP (a real uvicorn server, on SQLite and PostgreSQL).

Before the embargo the full ledger and the exports answer 401 without a coordinator; after
it they are public with private incident texts withheld and still verify; the head hash is
always public; the press page, its JSON twin and the public station status carry no report
id, observer code name, observer count or report kind; a watcher replaying requests learns
nothing new within the delay; coordinators' changes are CSRF-checked and audited.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pandas as pd
import pytest
from tests.store.databases import database_url
from tests.web.servers import serve_in_thread

from pollwatch.config import Settings
from pollwatch.observe.ledger import verify_ledger
from pollwatch.store import (
    add_coordinator,
    create_election,
    create_invites,
    import_stations,
    list_audit,
    observer_for_token,
    open_store,
    redeem_invite,
    set_incident_public,
    store_report,
)
from pollwatch.web.app import create_app

E = "pub"
PASSWORD = "a long passphrase"
SECRET = "the consul's driver films observers"
PUBLISHED = "polling station closed early"
EXPORTS = (
    f"/api/v1/elections/{E}/export/reports.csv",
    f"/api/v1/elections/{E}/export/reports.parquet",
    f"/api/v1/elections/{E}/ledger",
)


class Live:
    def __init__(self, base: str, url: str) -> None:
        self.base = base
        self.url = url
        self.ids: dict[str, str] = {}
        self.code_name = ""

    def bearer(self) -> dict[str, str]:
        r = httpx.post(f"{self.base}/api/v1/login", json={"name": "coord", "password": PASSWORD})
        return {"authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("pub")
    with database_url(request.param, folder) as url:
        engine = open_store(url)
        create_election(engine, E, name="Publication test")
        import_stations(
            engine, E, [{"station": s, "ballots_received": 900} for s in ("C-1", "C-2", "C-3")]
        )
        add_coordinator(engine, "coord", PASSWORD, role="admin")
        redeemed = redeem_invite(engine, create_invites(engine, E, 1)[0].code)
        observer = observer_for_token(engine, redeemed.token)
        earlier = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=40)
        bodies = {
            "count": {"station": "C-1", "kind": "count", "entered": 60, "queue": 33,
                      "window_start": (earlier - timedelta(minutes=30)).isoformat(),
                      "window_end": earlier.isoformat()},
            "secret": {"station": "C-2", "kind": "incident", "category": "pressure",
                       "text": SECRET},
            "shown": {"station": "C-3", "kind": "incident", "category": "other",
                      "text": PUBLISHED},
        }  # fmt: skip
        live = Live("", url)
        live.code_name = redeemed.observer
        for name, fields in bodies.items():
            body = {"id": str(uuid.uuid4()), "election": E, "observed_at": earlier.isoformat()}
            store_report(engine, {**body, **fields}, observer=observer, now=earlier)
            live.ids[name] = body["id"]
        engine.dispose()
        settings = Settings(data_dir=folder / "data", home=folder, database_url=url, rate_limit=0)
        app = create_app(settings)
        with serve_in_thread(app) as base:
            live.base = base
            yield live
        app.state.engine.dispose()


def _get(live: Live, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(f"{live.base}{path}", timeout=30, **kwargs)


def _settings(live: Live, body: dict[str, Any]) -> httpx.Response:
    return httpx.put(
        f"{live.base}/api/v1/elections/{E}/settings", json=body, headers=live.bearer(), timeout=30
    )


def _status(live: Live, station: str) -> httpx.Response:
    return _get(live, f"/api/v1/public/elections/{E}/stations/{station}/status")


def test_1_exports_and_ledger_need_a_coordinator_before_the_embargo(live: Live) -> None:
    for path in EXPORTS:
        anyone = _get(live, path)
        assert anyone.status_code == 401, path
        assert anyone.json()["error"]["message"].startswith("the full ledger")
        assert _get(live, path, headers={"authorization": "Bearer forged"}).status_code == 401
        full = _get(live, path, headers=live.bearer())
        assert full.status_code == 200 and full.headers["cache-control"] == "no-store", path
    ledger = _get(live, EXPORTS[2], headers=live.bearer()).text
    assert SECRET in ledger and verify_ledger(ledger.splitlines()).ok
    head = _get(live, f"/api/v1/elections/{E}/ledger/head")
    assert head.status_code == 200 and head.json()["entries"] == 3  # stored 40 minutes ago
    assert head.json()["as_of"] is not None
    # An embargo in the future keeps them closed.
    later = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    assert _settings(live, {"embargo_until": later}).status_code == 200
    assert all(_get(live, path).status_code == 401 for path in EXPORTS)


def test_2_coordinator_marks_an_incident_public_with_csrf_and_audit(live: Live) -> None:
    path = f"/api/v1/elections/{E}/incidents/{live.ids['shown']}/public"
    assert httpx.put(f"{live.base}{path}", json={"public": True}).status_code == 401
    with httpx.Client(base_url=live.base, timeout=30) as cookie:
        assert cookie.post("/api/v1/login", json={"name": "coord", "password": PASSWORD}).is_success
        refused = cookie.put(path, json={"public": True})
        assert refused.status_code == 403
        assert refused.json()["error"]["field"] == "X-CSRF-Token"
        csrf = {"X-CSRF-Token": cookie.cookies.get("pollwatch_csrf") or ""}
        done = cookie.put(path, json={"public": True}, headers=csrf)
        assert done.status_code == 200 and done.json()["public"] is True
        bad = cookie.put(path, json={"public": "yes"}, headers=csrf)
        assert bad.status_code == 400 and bad.json()["error"]["field"] == "public"
        extra = cookie.put(path, json={"public": True, "why": 1}, headers=csrf)
        assert extra.status_code == 400 and extra.json()["error"]["field"] == "why"
        count = f"/api/v1/elections/{E}/incidents/{live.ids['count']}/public"
        assert cookie.put(count, json={"public": True}, headers=csrf).status_code == 404
    engine = open_store(live.url)
    audit = [a for a in list_audit(engine) if a["action"] == "set_incident_public"]
    engine.dispose()
    assert audit[0]["actor"] == "coord" and audit[0]["target"] == live.ids["shown"]


def test_3_public_faces_carry_no_ids_code_names_counts_or_kinds(live: Live) -> None:
    engine = open_store(live.url)
    set_incident_public(engine, E, live.ids["shown"], True, by="coord")
    engine.dispose()
    statuses = [_status(live, s) for s in ("C-1", "C-2", "C-3")]
    assert all(r.status_code == 200 for r in statuses)
    assert statuses[0].headers["cache-control"].startswith("public, max-age=")
    c1, c2, c3 = (r.json() for r in statuses)
    assert c1["queue"] == 35 and c1["wait_minutes"] == 15  # 33 people at 2 per minute
    assert c2["incidents"] == [] and c3["incidents"][0]["text"] == PUBLISHED
    press_json = _get(live, f"/api/v1/elections/{E}/public")
    press_page = _get(live, f"/press/{E}")
    assert press_json.status_code == press_page.status_code == 200
    assert press_json.json()["delayed"] is True and "pvt" not in press_json.json()
    assert "press-delay" in press_page.text
    everything = json.dumps([c1, c2, c3, press_json.json()]) + press_page.text
    for secret in (*live.ids.values(), live.code_name, SECRET, '"kind"', "observer_id"):
        assert secret not in everything, secret
    for key in ("observers", "reports", "report_ids", "kind"):
        assert key not in c1, key
    assert _status(live, "C-404").status_code == 404
    hostile = _status(live, "%3Cscript%3E")
    assert hostile.status_code == 400 and hostile.json()["error"]["field"] == "station"
    assert _get(live, "/api/v1/public/elections/none/stations/C-1/status").status_code == 404


def test_4_a_watcher_replaying_requests_learns_nothing_within_the_delay(live: Live) -> None:
    engine = open_store(live.url)
    redeemed = redeem_invite(engine, create_invites(engine, E, 1)[0].code)
    observer = observer_for_token(engine, redeemed.token)
    urls = [f"/api/v1/public/elections/{E}/stations/C-2/status", f"/api/v1/elections/{E}/public",
            f"/api/v1/elections/{E}/ledger/head", f"/press/{E}"]  # fmt: skip
    for _attempt in range(3):  # a release may fall between the two rounds; then again
        before = [_get(live, u).text for u in urls]
        now = datetime.now(UTC)
        body = {
            "id": str(uuid.uuid4()), "election": E, "station": "C-2", "kind": "status",
            "observed_at": now.isoformat(), "status": "opened", "queue": 140,
        }  # fmt: skip
        store_report(engine, body, observer=observer)
        after = [_get(live, u).text for u in urls]
        if json.loads(before[0])["as_of"] == json.loads(after[0])["as_of"]:
            break
    engine.dispose()
    assert after == before, "a fresh report changed a public answer within the delay"
    assert json.loads(after[0])["queue"] is None
    assert body["id"] not in "".join(after)


def test_5_after_the_embargo_anyone_gets_redacted_exports_that_verify(live: Live) -> None:
    engine = open_store(live.url)
    set_incident_public(engine, E, live.ids["shown"], True, by="coord")
    engine.dispose()
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    answer = _settings(live, {"embargo_until": past})
    assert answer.status_code == 200 and answer.json()["embargo_until"].endswith("Z")
    head = _get(live, f"/api/v1/elections/{E}/ledger/head").json()
    assert head["as_of"] is None, "after the embargo the head is live"
    ledger = _get(live, EXPORTS[2])
    assert ledger.status_code == 200 and ledger.headers["cache-control"].startswith("public")
    assert SECRET not in ledger.text and PUBLISHED in ledger.text
    result = verify_ledger(ledger.text.splitlines(), expected_head=head["head_hash"])
    assert result.ok and result.withheld >= 1, result.describe()
    csv = _get(live, EXPORTS[0])
    assert csv.status_code == 200 and SECRET not in csv.text
    frame = pd.read_csv(io.StringIO(csv.text)).set_index("id")
    assert frame.loc[live.ids["secret"], "withheld"] == "text"
    assert frame.loc[live.ids["shown"], "text"] == PUBLISHED
    parquet = pd.read_parquet(io.BytesIO(_get(live, EXPORTS[1]).content))
    assert SECRET not in parquet.to_csv()
    assert live.code_name not in csv.text + ledger.text
    full = _get(live, EXPORTS[2], headers=live.bearer()).text
    assert SECRET in full, "a coordinator still gets the full ledger"
    assert "pvt" in _get(live, f"/api/v1/elections/{E}/public").json()


def test_settings_refuse_bad_embargo_values(live: Live) -> None:
    for body, field in (
        ({"embargo_until": "tomorrow"}, "embargo_until"),
        ({"embargo_until": "2024-03-17T21:00:00"}, "embargo_until"),
        ({"embargo_until": 5}, "embargo_until"),
        ({}, "tolerance"),
        ({"embargo": None}, "embargo"),
    ):
        r = _settings(live, body)
        assert r.status_code == 400 and r.json()["error"]["field"] == field, (body, r.text)
