"""The network's pages and API over HTTP (a live uvicorn server, SQLite and PostgreSQL).

A regional coordinator sees and changes only their region's incidents; hostile text in
incidents and notes comes back as text; the hotline desk stores a report marked in the
ledger as entered via the hotline with its author in the audit log only; malformed input
gets a 4xx naming the field; a simulated election says so on every page, the press page
and its JSON included.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from markupsafe import escape
from tests.store.databases import database_url
from tests.web.servers import serve_store

from pollwatch.observe.ledger import verify_ledger
from pollwatch.store import (
    add_coordinator,
    add_scope,
    create_election,
    create_invites,
    import_stations,
    list_audit,
    login,
    observer_for_token,
    open_store,
    redeem_invite,
    revoke_observers,
    store_report,
)
from pollwatch.store.elections import set_simulated
from pollwatch.web.security import csrf_token_for

E = "net-pages-2026"
PASSWORD = "a long enough password"
HOSTILE = '<img src=x onerror="document.title=1"><script>alert(1)</script>'


@dataclass
class World:
    base: str
    url: str  # the database's
    tokens: dict[str, str]
    incidents: dict[str, str]  # region → incident id
    observers: dict[str, str]  # station → code name
    seized: tuple[str, str]  # a revoked observer's (code name, token)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    home = tmp_path_factory.mktemp("netpages")
    with database_url(request.param, home) as url:
        engine = open_store(url)
        create_election(engine, E, name="Network pages test")
        import_stations(
            engine,
            E,
            [
                {"station": "ns-1", "country": "RS", "region": "Vojvodina",
                 "timezone": "Europe/Belgrade", "schedule": "2026-03-15 07:00-20:00"},
                {"station": "bg-1", "country": "RS", "region": "Beograd",
                 "timezone": "Europe/Belgrade", "schedule": "2026-03-15 07:00-20:00"},
            ],
        )  # fmt: skip
        set_simulated(engine, E, by="test")
        incidents, names = {}, {}
        for station, region in (("ns-1", "Vojvodina"), ("bg-1", "Beograd")):
            observer = observer_for_token(
                engine,
                redeem_invite(
                    engine, create_invites(engine, E, 1, stations_=[station])[0].code
                ).token,
            )
            names[station] = observer.code_name
            rid = str(uuid.uuid4())
            store_report(
                engine,
                {"id": rid, "election": E, "station": station, "kind": "incident",
                 "category": "pressure", "text": HOSTILE,
                 "observed_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()},
                observer=observer,
            )  # fmt: skip
            incidents[region] = rid
        seized = redeem_invite(engine, create_invites(engine, E, 1, stations_=["bg-1"])[0].code)
        revoke_observers(engine, election=E, code_name=seized.observer, actor="test")
        add_coordinator(engine, "admin", PASSWORD, role="admin")
        add_coordinator(engine, "novisad", PASSWORD, role="coordinator")
        add_scope(engine, "novisad", E, region="Vojvodina", actor="test")
        add_coordinator(engine, "watcher", PASSWORD, role="viewer")
        add_scope(engine, "watcher", E, actor="test")
        tokens = {
            name: login(engine, name, PASSWORD)[1] for name in ("admin", "novisad", "watcher")
        }
        with serve_store(url, home) as base:
            yield World(base, url, tokens, incidents, names, (seized.observer, seized.token))
        engine.dispose()


def _api(world: World, person: str) -> httpx.Client:
    return httpx.Client(
        base_url=world.base + f"/api/v1/elections/{E}",
        headers={"Authorization": f"Bearer {world.tokens[person]}"},
        timeout=30,
    )


def _pages(world: World, person: str) -> httpx.Client:
    token = world.tokens[person]
    return httpx.Client(
        base_url=world.base,
        cookies={"pollwatch_session": token, "pollwatch_csrf": csrf_token_for(token)},
        timeout=30,
    )


def test_a_regional_coordinator_cannot_see_or_change_another_regions_incident(
    world: World,
) -> None:
    mine, theirs = world.incidents["Vojvodina"], world.incidents["Beograd"]
    with _api(world, "novisad") as api:
        listed = api.get("/incidents").json()
        assert [i["id"] for i in listed["incidents"]] == [mine] and listed["total"] == 1
        assert api.get(f"/incidents/{theirs}").status_code == 403
        for call in (
            lambda: api.patch(f"/incidents/{theirs}", json={"status": "resolved"}),
            lambda: api.post(f"/incidents/{theirs}/notes", json={"note": "mine now"}),
            lambda: api.post("/stations/bg-1/hotline", json={"code_name": "x", "report": {}}),
            lambda: api.post("/stations/bg-1/roster", json={"code_name": "x"}),
        ):
            answer = call()
            assert answer.status_code == 403, answer.text
        ok = api.patch(f"/incidents/{mine}", json={"status": "acknowledged", "assignee": "novisad"})
        assert ok.status_code == 200 and ok.json()["assignee"] == "novisad"
        elsewhere = api.patch(f"/incidents/{mine}", json={"assignee": "watcher"})
        assert elsewhere.status_code == 400 and elsewhere.json()["error"]["field"] == "assignee"
        assert [a["station"] for a in api.get("/roster").json()["assignments"]] == []
    with _pages(world, "novisad") as pages:
        assert pages.get(f"/coordinate/{E}/incidents/{theirs}").status_code == 403
        page = pages.get(f"/coordinate/{E}/incidents").text
        assert mine in page and theirs not in page
        csrf = csrf_token_for(world.tokens["novisad"])
        refused = pages.post(
            f"/coordinate/{E}/incidents/{theirs}",
            data={"csrf": csrf, "what": "update", "status": "resolved"},
        )
        assert refused.status_code == 403
    with _api(world, "admin") as api:
        assert api.get(f"/incidents/{theirs}").json()["status"] == "new"
    with _api(world, "watcher") as api:  # a viewer reads, changes nothing
        assert api.get(f"/incidents/{theirs}").status_code == 200
        assert api.patch(f"/incidents/{theirs}", json={"status": "resolved"}).status_code == 403


def test_every_incident_route_finds_the_incident_and_its_station_alike(world: World) -> None:
    """Reading, following up and publishing an incident are scoped by the same lookup: an id
    that is no incident of the election is the same 404, another region's one the same 403."""
    theirs, unknown = world.incidents["Beograd"], str(uuid.uuid4())
    csrf = {"X-CSRF-Token": csrf_token_for(world.tokens["novisad"])}
    with _api(world, "novisad") as api, _pages(world, "novisad") as pages:

        def answers(incident: str) -> list[httpx.Response]:
            return [
                api.get(f"/incidents/{incident}"),
                api.patch(f"/incidents/{incident}", json={"status": "resolved"}),
                api.post(f"/incidents/{incident}/notes", json={"note": "x"}),
                api.put(f"/incidents/{incident}/public", json={"public": True}),
                pages.put(
                    f"/api/v1/elections/{E}/incidents/{incident}/public",
                    json={"public": True},
                    headers=csrf,
                ),
            ]

        assert [a.status_code for a in answers(theirs)] == [403] * 5
        missing = answers(unknown)
        assert [a.status_code for a in missing] == [404] * 5
        messages = {a.json()["error"]["message"] for a in missing}
        assert messages == {f"no incident {unknown!r} in election {E!r}"}, messages
    with _api(world, "admin") as api:
        assert api.get(f"/incidents/{theirs}").json()["public"] is False


def test_hostile_text_in_incidents_and_notes_is_shown_as_text(world: World) -> None:
    rid = world.incidents["Beograd"]
    csrf = csrf_token_for(world.tokens["admin"])
    with _pages(world, "admin") as pages:
        added = pages.post(
            f"/coordinate/{E}/incidents/{rid}", data={"csrf": csrf, "what": "note", "note": HOSTILE}
        )
        assert added.status_code == 303
        page = pages.get(added.headers["location"]).text
        assert HOSTILE not in page and "<script>alert(1)" not in page
        assert page.count(str(escape(HOSTILE))) >= 2  # the observer's text and the note
        listing = pages.get(f"/coordinate/{E}/incidents?status=all").text
        assert "<img src=x" not in listing


def test_malformed_follow_up_input_names_the_field(world: World) -> None:
    rid = world.incidents["Beograd"]
    with _api(world, "admin") as api:
        for body, field in (
            ({"status": "done"}, "status"),
            ({"severity": "apocalyptic"}, "severity"),
            ({"assignee": "nobody-here"}, "assignee"),
            ({"public": "yes"}, "public"),
            ({"colour": "red"}, "colour"),
            ([1, 2], "body"),
        ):
            answer = api.patch(f"/incidents/{rid}", json=body)
            assert answer.status_code == 400 and answer.json()["error"]["field"] == field, body
        for note, field in (("", "note"), ("x" * 4001, "note"), (7, "note")):
            answer = api.post(f"/incidents/{rid}/notes", json={"note": note})
            assert answer.status_code == 400 and answer.json()["error"]["field"] == field
        assert (
            api.patch(f"/incidents/{uuid.uuid4()}", json={"status": "resolved"}).status_code == 404
        )
        assert api.get("/incidents?status=sideways").status_code == 400
        big = api.post(f"/incidents/{rid}/notes", content=b'{"note":"' + b"x" * 2_000_000 + b'"}')
        assert big.status_code == 413


def test_the_hotline_desk_stores_a_report_marked_via_hotline(world: World) -> None:
    csrf = csrf_token_for(world.tokens["admin"])
    desk = f"/coordinate/{E}/stations/ns-1/hotline"
    with _pages(world, "admin") as pages:
        form = pages.get(desk)
        assert form.status_code == 200 and "Europe/Belgrade" in form.text
        assert pages.get(f"/coordinate/{E}/stations/zz-9/hotline").status_code == 404
        report_id = str(uuid.uuid4())
        fields = {
            "csrf": csrf, "report_id": report_id, "code_name": world.observers["ns-1"],
            "kind": "status", "status": "opened", "observed_at": "2026-03-15T07:04",
        }  # fmt: skip
        stored = pages.post(desk, data=fields)
        assert stored.status_code == 201 and 'id="hotline-entered"' in stored.text
        assert pages.post(desk, data=fields).status_code == 200  # sent twice: one report
        wrong = pages.post(desk, data={**fields, "report_id": str(uuid.uuid4()), "kind": "vote"})
        assert wrong.status_code == 400 and wrong.json()["error"]["field"] == "kind"
        nobody = pages.post(
            desk, data={**fields, "report_id": str(uuid.uuid4()), "code_name": "ghost"}
        )
        assert nobody.status_code == 404
        moved = pages.post(
            f"/coordinate/{E}/stations/bg-1/roster",
            data={"csrf": csrf, "code_name": world.observers["ns-1"]},
        )
        assert moved.status_code == 303
        assert world.observers["ns-1"] in pages.get(f"/coordinate/{E}/roster").text
    with _api(world, "admin") as api:
        ledger = api.get("/ledger").text.splitlines()
        assert verify_ledger(ledger).ok
        entry = next(line for line in ledger if report_id in line)
        assert '"via":"hotline"' in entry and '"observed_at":"2026-03-15T06:04:00Z"' in entry
        assert "admin" not in entry and world.observers["ns-1"] not in entry
    engine = open_store(world.url)  # who entered it: in the audit log only
    try:
        (entry_audit,) = [a for a in list_audit(engine) if a["action"] == "reports.hotline"]
        assert entry_audit["actor"] == "admin" and entry_audit["target"].endswith(report_id)
    finally:
        engine.dispose()


def test_every_page_of_a_simulated_election_says_so(world: World) -> None:
    with _pages(world, "admin") as pages:
        for path in (
            f"/coordinate/{E}",
            f"/coordinate/{E}/invites",
            f"/coordinate/{E}/incidents",
            f"/coordinate/{E}/incidents/{world.incidents['Beograd']}",
            f"/coordinate/{E}/roster",
            f"/coordinate/{E}/stations/ns-1/hotline",
            f"/coordinate/{E}/checklists",
            f"/coordinate/{E}/checklists/results",
            f"/coordinate/{E}/messages",
            f"/coordinate/{E}/guide",
            f"/coordinate/{E}/guide/problems",
            f"/press/{E}",
        ):
            page = pages.get(path)
            assert page.status_code == 200, path
            assert 'id="simulated-banner"' in page.text and "SIMULATED" in page.text, path
    for path in (  # the voter guide's public pages too: no voter may take a drill for real
        f"/guide/{E}",
        f"/guide/{E}?q=ns-1",
        f"/guide/{E}/ns-1",
        f"/guide/{E}/info",
        f"/guide/{E}/totals",
        f"/guide/{E}/ns-1/problem",
    ):
        page = httpx.get(world.base + path)
        assert page.status_code == 200, path
        assert 'id="simulated-banner"' in page.text and "SIMULATED" in page.text, path
    press = httpx.get(world.base + f"/press/{E}").text
    assert 'id="press-simulated"' in press
    assert httpx.get(world.base + f"/api/v1/elections/{E}/public").json()["simulated"] is True


def test_alerts_and_coverage_answer_in_station_local_time(world: World) -> None:
    with _api(world, "admin") as api:
        coverage = api.get("/dashboard/coverage").json()
        assert coverage["timezones"] == {"bg-1": "Europe/Belgrade", "ns-1": "Europe/Belgrade"}
        alerts = api.get("/dashboard/alerts").json()
        assert alerts["watched"] == 2 and isinstance(alerts["alerts"], list)
    with _api(world, "novisad") as api:
        assert set(api.get("/dashboard/coverage").json()["timezones"]) == {"ns-1"}


def test_a_revoked_phone_still_sending_raises_an_alert(world: World) -> None:
    code_name, token = world.seized
    report = {"id": str(uuid.uuid4()), "election": E, "station": "bg-1", "kind": "status",
              "status": "opened", "observed_at": datetime.now(UTC).isoformat()}  # fmt: skip
    for _ in range(2):
        refused = httpx.post(
            world.base + "/api/v1/reports",
            json=report,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert refused.status_code == 401 and "revoked" in refused.text
    with _api(world, "admin") as api:
        (alert,) = [
            a
            for a in api.get("/dashboard/alerts").json()["alerts"]
            if a["kind"] == "revoked_sending"
        ]
        assert alert["station"] == "bg-1" and alert["details"]["code_name"] == code_name
        assert alert["details"]["attempts"] == 1 and alert["local_since"].endswith("+01:00")
    with _api(world, "novisad") as api:  # another region's phone: not in their alerts
        assert all(a["station"] != "bg-1" for a in api.get("/dashboard/alerts").json()["alerts"])
