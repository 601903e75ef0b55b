"""The turnout tolerance is checked by one rule: every endpoint that takes one refuses a bad
value with the same 400 naming ``tolerance``, and the value checked is the one stored."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from tests.web.servers import serve_in_thread

from pollwatch.config import Settings
from pollwatch.store import add_coordinator, create_election, import_stations, open_store
from pollwatch.web.app import create_app

E = "tol"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A coordinator's client (bearer session) of a real server with one election."""
    home = tmp_path_factory.mktemp("tolerance")
    url = f"sqlite:///{home / 'db.sqlite'}"
    engine = open_store(url)
    create_election(engine, E)
    import_stations(engine, E, [{"station": "1"}])
    add_coordinator(engine, "coord", "a long passphrase", role="admin")  # settings: admins
    engine.dispose()
    app = create_app(Settings(data_dir=home, home=home, database_url=url, rate_limit=0))
    with serve_in_thread(app) as base, httpx.Client(base_url=base) as http:
        login = http.post("/api/v1/login", json={"name": "coord", "password": "a long passphrase"})
        http.headers["Authorization"] = f"Bearer {login.json()['token']}"
        http.cookies.clear()  # bearer only: no CSRF token needed for the change
        yield http


def _refusals(client: httpx.Client, raw: str) -> list[httpx.Response]:
    return [
        client.get(f"/api/v1/elections/{E}/stations/1", params={"tolerance": raw}),
        client.get(f"/api/v1/elections/{E}/dashboard/comparison", params={"tolerance": raw}),
        client.put(
            f"/api/v1/elections/{E}/settings",
            content=f'{{"tolerance": {raw}}}',
            headers={"content-type": "application/json"},
        ),
    ]


@pytest.mark.parametrize("raw", ["2", "-0.5", "NaN", "1.0001"])
def test_every_endpoint_refuses_a_bad_tolerance_with_the_same_answer(
    client: httpx.Client, raw: str
) -> None:
    answers = _refusals(client, raw)
    assert [a.status_code for a in answers] == [400, 400, 400], [a.text for a in answers]
    errors = [a.json()["error"] for a in answers]
    assert all(e["field"] == "tolerance" for e in errors)
    assert len({e["message"].partition("; got")[0] for e in errors}) == 1, errors
    assert errors[0]["message"].startswith("'tolerance' must be a number from 0 to 1")


@pytest.mark.parametrize("value", [0, 0.125, 1])
def test_every_endpoint_takes_a_tolerance_in_range(client: httpx.Client, value: float) -> None:
    station = client.get(f"/api/v1/elections/{E}/stations/1", params={"tolerance": value})
    comparison = client.get(
        f"/api/v1/elections/{E}/dashboard/comparison", params={"tolerance": value}
    )
    setting = client.put(f"/api/v1/elections/{E}/settings", json={"tolerance": value})
    assert station.status_code == comparison.status_code == setting.status_code == 200
    assert comparison.json()["tolerance"] == setting.json()["tolerance"] == value
