"""The observation API over a real uvicorn server, on SQLite and on PostgreSQL.

Idempotent retries (each report sent three times is stored once and chained once), 409 on a
changed body, 4xx naming the field for malformed, hostile and oversized bodies (never 500),
two observers on one station at once, invites, coordinator access, exports and the ledger.
"""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import uvicorn
from tests.store.databases import database_url
from tests.web.servers import free_port

from pollwatch.config import Settings
from pollwatch.observe.ledger import verify_ledger
from pollwatch.store import (
    add_coordinator,
    add_scope,
    create_election,
    create_invites,
    import_stations,
    open_store,
)
from pollwatch.web.app import create_app

ELECTION = "api-test"


class Live:
    """A running server, its database URL, and helpers."""

    def __init__(self, base: str, url: str) -> None:
        self.base = base
        self.url = url
        self.client = httpx.Client(base_url=base, timeout=30)

    def observer(self, stations: tuple[str, ...] = ()) -> str:
        engine = open_store(self.url)
        code = create_invites(engine, ELECTION, 1, stations_=stations)[0].code
        engine.dispose()
        r = self.client.post(f"/api/v1/invites/{code}/redeem")
        assert r.status_code == 201, r.text
        return str(r.json()["token"])

    def coordinator(self) -> str:
        r = self.client.post(
            "/api/v1/login", json={"name": "coord", "password": "a long passphrase"}
        )
        assert r.status_code == 200, r.text
        return str(r.json()["token"])

    def session(self) -> str:
        """One coordinator session for the module (the full ledger and exports need one)."""
        if not hasattr(self, "_session"):  # logged in apart: no cookie left in self.client
            r = httpx.post(
                f"{self.base}/api/v1/login",
                json={"name": "coord", "password": "a long passphrase"},
                timeout=30,
            )
            assert r.status_code == 200, r.text
            self._session = str(r.json()["token"])
        return self._session


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("api")
    with database_url(request.param, folder) as url:
        engine = open_store(url)
        create_election(engine, ELECTION, name="API test")
        import_stations(engine, ELECTION, [{"station": str(i)} for i in range(1, 11)])
        add_coordinator(engine, "coord", "a long passphrase")
        add_scope(engine, "coord", ELECTION, actor="test")
        engine.dispose()
        settings = Settings(data_dir=folder / "data", home=folder, database_url=url, rate_limit=0)
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "the test server did not start"
            time.sleep(0.05)
        live = Live(f"http://127.0.0.1:{port}", url)
        yield live
        live.client.close()
        server.should_exit = True
        thread.join(timeout=10)
        app_engine = server.config.app.state.engine  # type: ignore[attr-defined]
        app_engine.dispose()


def count(station: str = "1", entered: int = 5, **extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "id": str(uuid.uuid4()),
        "election": ELECTION,
        "station": station,
        "kind": "count",
        "observed_at": now.isoformat(),
        "window_start": (now - timedelta(hours=1)).isoformat(),
        "window_end": now.isoformat(),
        "entered": entered,
        **extra,
    }


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _ledger(live: Live) -> list[str]:
    r = live.client.get(f"/api/v1/elections/{ELECTION}/ledger", headers=_auth(live.session()))
    assert r.status_code == 200
    return r.text.splitlines()


def test_each_report_sent_three_times_is_stored_once(live: Live) -> None:
    token = live.observer()
    before = len(_ledger(live))
    bodies = [count(entered=i) for i in range(5)]
    for body in bodies:
        answers = [
            live.client.post("/api/v1/reports", json=body, headers=_auth(token)) for _ in range(3)
        ]
        assert [a.status_code for a in answers] == [201, 200, 200]
        assert answers[1].json() == answers[0].json() == answers[2].json()
        assert answers[0].json()["id"] == body["id"]
    lines = _ledger(live)
    assert len(lines) == before + 5
    ids = [json.loads(line)["report_id"] for line in lines]
    assert len(set(ids)) == len(ids) and {b["id"] for b in bodies} <= set(ids)
    assert verify_ledger(lines).ok


def test_changed_body_with_the_same_id_is_409(live: Live) -> None:
    token = live.observer()
    body = count(entered=3)
    assert live.client.post("/api/v1/reports", json=body, headers=_auth(token)).status_code == 201
    r = live.client.post("/api/v1/reports", json={**body, "entered": 4}, headers=_auth(token))
    assert r.status_code == 409
    assert r.json()["error"]["status"] == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**count(), "entered": -1}, "entered"),
        ({**count(), "entered": "12"}, "entered"),
        ({**count(), "entered": True}, "entered"),
        ({**count(), "entered": 10**400}, "entered"),
        ({**count(), "colour": "red"}, "colour"),
        ({**count(), "id": "not-a-uuid"}, "id"),
        ({**count(), "observed_at": "yesterday"}, "observed_at"),
        ({**count(), "observed_at": "2024-03-17T10:00:00"}, "observed_at"),
        ({**count(), "station": "x" * 500}, "station"),
        ({**count(), "station": "99"}, "station"),
        ({**count(), "kind": "vote"}, "kind"),
        ({**count(), "election": "other"}, None),  # 403: not this observer's election
        ([1, 2, 3], "body"),
        ("just a string", "body"),
    ],
)
def test_bad_bodies_are_4xx_naming_the_field(live: Live, body: Any, field: str | None) -> None:
    token = live.observer()
    r = live.client.post("/api/v1/reports", json=body, headers=_auth(token))
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["error"]["field"] == field


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b'{"id": "\xff\xfe"}', b"[" * 100_000 + b"]" * 100_000, b"NaN", b"\x00\x01"],
)
def test_hostile_raw_bodies_are_4xx(live: Live, raw: bytes) -> None:
    token = live.observer()
    headers = {**_auth(token), "content-type": "application/json"}
    r = live.client.post("/api/v1/reports", content=raw, headers=headers)
    assert 400 <= r.status_code < 500, r.text
    assert "error" in r.json()


def test_oversized_body_is_413(live: Live) -> None:
    token = live.observer()
    body = {**count(), "kind": "incident", "category": "other", "text": "x" * 200_000}
    for key in ("window_start", "window_end", "entered"):
        body.pop(key)
    r = live.client.post("/api/v1/reports", json=body, headers=_auth(token))
    assert r.status_code == 413


def test_missing_or_wrong_token_is_401(live: Live) -> None:
    assert live.client.post("/api/v1/reports", json=count()).status_code == 401
    r = live.client.post("/api/v1/reports", json=count(), headers=_auth("nope"))
    assert r.status_code == 401


def test_invite_redeems_once(live: Live) -> None:
    engine = open_store(live.url)
    code = create_invites(engine, ELECTION, 1)[0].code
    engine.dispose()
    first = live.client.post(f"/api/v1/invites/{code}/redeem")
    assert first.status_code == 201 and set(first.json()) >= {"token", "observer"}
    assert live.client.post(f"/api/v1/invites/{code}/redeem").status_code == 401
    assert live.client.post("/api/v1/invites/unknown/redeem").status_code == 401


def test_two_observers_on_one_station_at_once(live: Live) -> None:
    tokens = [live.observer(), live.observer()]
    bodies = {t: [count(station="7", entered=i) for i in range(12)] for t in tokens}
    statuses: list[int] = []

    def send(token: str) -> None:
        with httpx.Client(base_url=live.base, timeout=30) as client:
            for body in bodies[token]:
                for _ in range(2):
                    statuses.append(
                        client.post("/api/v1/reports", json=body, headers=_auth(token)).status_code
                    )

    threads = [threading.Thread(target=send, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(statuses)) == [200, 201] and statuses.count(201) == 24
    lines = _ledger(live)
    assert verify_ledger(lines).ok
    sent = {b["id"] for batch in bodies.values() for b in batch}
    assert sum(json.loads(line)["report_id"] in sent for line in lines) == 24


def test_station_record_needs_a_coordinator(live: Live) -> None:
    token = live.observer()
    live.client.post("/api/v1/reports", json=count(station="3", entered=40), headers=_auth(token))
    path = f"/api/v1/elections/{ELECTION}/stations/3"
    assert live.client.get(path).status_code == 401
    assert live.client.get(path, headers=_auth(token)).status_code == 401  # observer token
    session = live.coordinator()
    r = live.client.get(path, headers=_auth(session))
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["station"]["station"] == "3" and len(data["reports"]) >= 1
    assert data["master"] is not None
    assert (
        live.client.get(
            f"/api/v1/elections/{ELECTION}/stations/404", headers=_auth(session)
        ).status_code
        == 404
    )


def test_exports_have_every_report_and_no_secrets(live: Live) -> None:
    token = live.observer()
    body = count(station="2", entered=9)
    live.client.post("/api/v1/reports", json=body, headers=_auth(token))
    coordinator = _auth(live.session())
    csv = live.client.get(f"/api/v1/elections/{ELECTION}/export/reports.csv", headers=coordinator)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert token not in csv.text
    frame = pd.read_csv(io.StringIO(csv.text))
    assert body["id"] in set(frame["id"]) and frame["id"].is_unique
    pq = live.client.get(
        f"/api/v1/elections/{ELECTION}/export/reports.parquet", headers=coordinator
    )
    assert pq.status_code == 200
    assert set(pd.read_parquet(io.BytesIO(pq.content))["id"]) == set(frame["id"])
    head = live.client.get(f"/api/v1/elections/{ELECTION}/ledger/head", headers=coordinator).json()
    assert head["entries"] == len(frame)


def test_photo_is_reencoded_without_exif(live: Live, tmp_path: Path) -> None:
    from PIL import Image

    token = live.observer()
    incident = {**count(station="4"), "kind": "incident", "category": "pressure", "text": "t"}
    for key in ("window_start", "window_end", "entered"):
        incident.pop(key)
    assert (
        live.client.post("/api/v1/reports", json=incident, headers=_auth(token)).status_code == 201
    )
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x8825] = {2: (55.0, 45.0, 0.0)}  # GPS latitude
    raw = io.BytesIO()
    image.save(raw, format="JPEG", exif=exif)
    assert b"SpyCam" in raw.getvalue()
    path = f"/api/v1/reports/{incident['id']}/photo"
    r = live.client.post(
        path, files={"photo": ("p.jpg", raw.getvalue(), "image/jpeg")}, headers=_auth(token)
    )
    assert r.status_code == 201, r.text
    session = live.coordinator()
    stored = live.client.get(path, headers=_auth(session))
    assert stored.status_code == 200 and b"SpyCam" not in stored.content
    with Image.open(io.BytesIO(stored.content)) as back:
        assert back.format == "JPEG" and back.size == (64, 48) and not back.getexif()
    fake = live.client.post(
        path, files={"photo": ("p.jpg", b"not an image", "image/jpeg")}, headers=_auth(token)
    )
    assert fake.status_code == 400 and fake.json()["error"]["field"] == "photo"
    other = live.observer()
    denied = live.client.post(
        path, files={"photo": ("p.jpg", raw.getvalue(), "image/jpeg")}, headers=_auth(other)
    )
    assert denied.status_code == 403


def test_openapi_documents_the_contract(live: Live) -> None:
    spec = live.client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/v1/reports",
        "/api/v1/reports/{report_id}/photo",
        "/api/v1/invites/{code}/redeem",
        "/api/v1/elections/{election}/stations/{station}",
        "/api/v1/elections/{election}/export/reports.csv",
        "/api/v1/elections/{election}/export/reports.parquet",
        "/api/v1/elections/{election}/ledger",
    ):
        assert path in paths, path
    body = paths["/api/v1/reports"]["post"]["requestBody"]["content"]["application/json"]
    kinds = {s["properties"]["kind"]["const"] for s in body["schema"]["oneOf"]}
    assert kinds == {"count", "incident", "protocol", "status", "checklist"}
