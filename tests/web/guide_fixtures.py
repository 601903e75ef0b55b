"""A served election for the guide's tests: a registry abroad and at home, an observer, and
reports submitted through the real API (then aged past the publication delay)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, select, update
from tests.store.databases import database_url
from tests.web.servers import serve_in_thread

from pollwatch.config import Settings
from pollwatch.store import (
    create_election,
    create_invites,
    import_stations,
    redeem_invite,
    write_transaction,
)
from pollwatch.store.tables import reports
from pollwatch.web.app import create_app

E = "ru-2024"
REGISTRY: list[dict[str, Any]] = [
    {"station": "8101", "name": "Посольство России", "country": "RS", "city": "Белград",
     "address": "Делиградска 32", "lat": 44.8016, "lon": 20.4651, "ballots_received": 2000,
     "timezone": "Europe/Belgrade", "schedule": "2024-03-15 08:00-20:00; 2024-03-17 08:00-20:00"},
    {"station": "8102", "name": "Посольство России (зал 2)", "country": "RS", "city": "Белград",
     "address": "Делиградска 32", "lat": 44.8016, "lon": 20.4651, "ballots_received": 1500},
    {"station": "8103", "name": "Генконсульство", "country": "RS", "city": "Нови Сад",
     "address": "Булевар ослобођења 4", "lat": 45.2551, "lon": 19.8452, "ballots_received": 800},
    {"station": "8201", "name": "Botschaft", "country": "DE", "city": "Berlin",
     "address": "Unter den Linden 63", "lat": 52.5166, "lon": 13.3810, "ballots_received": 3000},
    {"station": "moskva-1", "name": "УИК №1", "country": "RU", "city": "Москва",
     "address": "ул. Ленина, 12"},
]  # fmt: skip


@dataclass
class Served:
    base: str
    engine: Engine
    token: str
    settings: Settings
    app: Any

    def submit(self, station: str, **fields: Any) -> str:
        """Submit a report through the real API; its id."""
        now = datetime.now(UTC).replace(microsecond=0)
        body = {
            "id": str(uuid.uuid4()),
            "election": E,
            "station": station,
            "observed_at": fields.pop("observed_at", now - timedelta(minutes=1)).isoformat(),
            **fields,
        }
        answer = httpx.post(
            f"{self.base}/api/v1/reports",
            json=body,
            headers={"authorization": f"Bearer {self.token}"},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        return str(body["id"])

    def count(self, station: str, *, ago: timedelta = timedelta(minutes=1), **fields: Any) -> str:
        end = datetime.now(UTC).replace(microsecond=0) - ago
        return self.submit(
            station,
            kind="count",
            observed_at=end,
            window_start=(end - timedelta(minutes=30)).isoformat(),
            window_end=end.isoformat(),
            **fields,
        )

    def age(self, report_id: str, by: timedelta) -> None:
        """Move a report's arrival back by ``by``: the time the publication delay and the
        10-minute rounding would otherwise make the test wait for."""
        with write_transaction(self.engine) as conn:  # BEGIN IMMEDIATE on SQLite
            received = conn.execute(
                select(reports.c.received_at).where(reports.c.id == report_id)
            ).scalar_one()
            conn.execute(
                update(reports).where(reports.c.id == report_id).values(received_at=received - by)
            )


def wait_for(check: Callable[[], bool], *, seconds: float = 10.0) -> None:
    """Poll ``check`` until true (the guide's cache rereads the ledger once a second)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true in time")
        time.sleep(0.05)


def serve_guide(kind: str, folder: Path, **settings: Any) -> Iterator[Served]:
    with database_url(kind, folder) as url:
        config = Settings(
            data_dir=folder / "data",
            home=folder,
            database_url=url,
            public_delay_minutes=0,
            **settings,
        )
        app = create_app(config)
        engine = app.state.engine
        create_election(engine, E, name="Выборы Президента 2024")
        import_stations(engine, E, REGISTRY)
        create_election(engine, "draft", name="Not yet public")  # no registry: no guide
        token = redeem_invite(engine, create_invites(engine, E, 1)[0].code).token
        try:
            with serve_in_thread(app) as base:
                # the first search loads the place names (GeoNames, CLDR): seconds, once
                httpx.get(f"{base}/guide/{E}.json", params={"q": "warm"}, timeout=120)
                yield Served(base, engine, token, config, app)
        finally:
            engine.dispose()
