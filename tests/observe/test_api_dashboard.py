"""The dashboard API over a real uvicorn server, on SQLite and on PostgreSQL.

Login is required (401), cookie-authenticated changes need the CSRF header (403), a conflict
between two observers is listed, resolved, applied and audited, bad bodies and parameters
answer 4xx naming the field, the event stream delivers new reports and resumes from
Last-Event-ID, the public summary names no one, and the quick count holds the official
figures against its intervals.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from tests.store.databases import database_url
from tests.store.test_store_pvt import copy_protocols, synthetic_results
from tests.web.servers import serve_in_thread

from pollwatch.config import Settings
from pollwatch.observe.pvt import draw_stratified_sample
from pollwatch.store import (
    add_coordinator,
    attach_results,
    create_election,
    create_invites,
    import_stations,
    list_audit,
    observer_for_token,
    open_store,
    station_table,
    store_report,
    store_sample,
)
from pollwatch.web.app import create_app

E = "dash"
STATIONS = ("PS-alpha", "PS-bravo", "PS-charlie", "PS-delta", "PS-echo")
PASSWORD = "a long passphrase"


class Live:
    """A running server, its database URL and helpers."""

    def __init__(self, base: str, url: str) -> None:
        self.base = base
        self.url = url

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=30)

    def observer(self) -> tuple[str, str]:
        engine = open_store(self.url)
        code = create_invites(engine, E, 1)[0].code
        engine.dispose()
        with self.client() as c:
            r = c.post(f"/api/v1/invites/{code}/redeem")
        assert r.status_code == 201, r.text
        return str(r.json()["token"]), str(r.json()["observer"])

    @contextlib.contextmanager
    def cookie_client(self) -> Iterator[httpx.Client]:
        """A client logged in by cookie, like the dashboard page."""
        with self.client() as c:
            r = c.post("/api/v1/login", json={"name": "coord", "password": PASSWORD})
            assert r.status_code == 200, r.text
            yield c

    def bearer(self) -> dict[str, str]:
        with self.client() as c:
            r = c.post("/api/v1/login", json={"name": "coord", "password": PASSWORD})
        return {"authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("dash")
    with database_url(request.param, folder) as url:
        engine = open_store(url)
        create_election(engine, E, name="Dashboard test")
        import_stations(engine, E, [{"station": s, "name": f"Name of {s}"} for s in STATIONS])
        add_coordinator(engine, "coord", PASSWORD, role="admin")  # also changes settings
        engine.dispose()
        settings = Settings(
            data_dir=folder / "data",
            home=folder,
            database_url=url,
            rate_limit=0,
            events_poll_seconds=0.1,
            events_keepalive_seconds=0.5,
        )
        app = create_app(settings)
        with serve_in_thread(app) as base:
            yield Live(base, url)
        app.state.engine.dispose()


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _report(station: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "election": E,
        "station": station,
        "kind": kind,
        "observed_at": _now().isoformat(),
        **fields,
    }


def _send(live: Live, token: str, body: dict[str, Any]) -> dict[str, Any]:
    with live.client() as c:
        r = c.post("/api/v1/reports", json=body, headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.text
    return dict(r.json())


GETS = (
    f"/api/v1/elections/{E}/dashboard/stations",
    f"/api/v1/elections/{E}/dashboard/activity",
    f"/api/v1/elections/{E}/dashboard/conflicts",
    f"/api/v1/elections/{E}/dashboard/comparison",
    f"/api/v1/elections/{E}/pvt",
    f"/api/v1/elections/{E}/events",
)


def test_login_is_required(live: Live) -> None:
    with live.client() as c:
        for path in GETS:
            r = c.get(path)
            assert r.status_code == 401, path
            assert r.json()["error"]["status"] == 401
        post = c.post(
            f"/api/v1/elections/{E}/stations/PS-alpha/resolutions",
            json={"field": "valid", "value": 1},
        )
        assert post.status_code == 401
        assert c.put(f"/api/v1/elections/{E}/settings", json={"tolerance": 0.1}).status_code == 401
        assert c.get(f"/api/v1/elections/{E}/public").status_code == 200


def test_station_table_and_totals(live: Live) -> None:
    token, _ = live.observer()
    _send(live, token, _report("PS-delta", "status", status="opened", queue=7))
    with live.cookie_client() as c:
        r = c.get(f"/api/v1/elections/{E}/dashboard/stations")
        assert r.status_code == 200
        data = r.json()
        assert [s["station"] for s in data["stations"]] == sorted(STATIONS)
        delta = next(s for s in data["stations"] if s["station"] == "PS-delta")
        assert delta["status"] == "opened" and delta["queue"] == 7 and delta["reports"] >= 1
        assert set(delta) == {
            "station", "name", "country", "city", "lat", "lon", "registered", "status",
            "status_at", "last_report_at", "reports", "counts", "incidents", "protocols",
            "queue", "in_sample",
        }  # fmt: skip
        assert data["totals"]["stations"] == 5 and data["totals"]["opened"] >= 1
        page = c.get(f"/api/v1/elections/{E}/dashboard/stations?limit=1&offset=1").json()
        assert [s["station"] for s in page["stations"]] == ["PS-bravo"]


def test_two_observers_disagree_and_a_coordinator_resolves(live: Live) -> None:
    (first, _), (second, _) = live.observer(), live.observer()
    figures = {"valid": 480, "invalid": 4, "votes": {"A": 300, "B": 180}}
    a = _send(live, first, _report("PS-bravo", "protocol", figures=figures))
    b = _send(live, second, _report("PS-bravo", "protocol", figures={**figures, "valid": 490}))
    conflicts_url = f"/api/v1/elections/{E}/dashboard/conflicts"
    with live.cookie_client() as c:
        listed = c.get(conflicts_url).json()["conflicts"]
        (conflict,) = [x for x in listed if x["station"] == "PS-bravo"]
        assert conflict["field"] == "valid" and conflict["resolved"] is None
        assert sorted(v["report_id"] for v in conflict["values"]) == sorted([a["id"], b["id"]])
        assert c.get(f"/api/v1/elections/{E}/dashboard/stations").json()["totals"]["conflicts"] >= 1

        url = f"/api/v1/elections/{E}/stations/PS-bravo/resolutions"
        body = {"field": "valid", "value": 480, "note": "protocol photo"}
        refused = c.post(url, json=body)
        assert refused.status_code == 403
        assert refused.json()["error"]["field"] == "X-CSRF-Token"
        csrf = {"X-CSRF-Token": c.cookies.get("pollwatch_csrf") or ""}
        done = c.post(url, json=body, headers=csrf)
        assert done.status_code == 201, done.text
        assert done.json() == {**done.json(), "station": "PS-bravo", "field": "valid", "value": 480}
        assert done.json()["by"] == "coord"

        record = c.get(f"/api/v1/elections/{E}/stations/PS-bravo").json()
        assert record["master"]["figures"]["valid"] == 480
        assert record["master"]["conflicts"] == []
        after = [x for x in c.get(conflicts_url).json()["conflicts"] if x["station"] == "PS-bravo"]
        assert after[0]["resolved"]["value"] == 480 and after[0]["resolved"]["by"] == "coord"

        # The same change by bearer token needs no CSRF header (browsers never add it).
        again = httpx.post(
            f"{live.base}{url}", json={"field": "valid", "value": 490}, headers=live.bearer()
        )
        assert again.status_code == 201
    engine = open_store(live.url)
    audit = [x for x in list_audit(engine) if x["action"] == "resolve_conflict"]
    engine.dispose()
    assert [(x["actor"], x["target"], x["detail"]["value"]) for x in audit[:2]] == [
        ("coord", f"{E}/PS-bravo", 490),
        ("coord", f"{E}/PS-bravo", 480),
    ]


def test_settings_change_the_tolerance_and_are_audited(live: Live) -> None:
    with live.cookie_client() as c:
        csrf = {"X-CSRF-Token": c.cookies.get("pollwatch_csrf") or ""}
        url = f"/api/v1/elections/{E}/settings"
        assert c.put(url, json={"tolerance": 0.1}).status_code == 403
        r = c.put(url, json={"tolerance": 0.1}, headers=csrf)
        assert r.status_code == 200 and r.json()["tolerance"] == 0.1
        assert c.get(f"/api/v1/elections/{E}/dashboard/comparison").json()["tolerance"] == 0.1
        assert c.get(f"/api/v1/elections/{E}/dashboard/stations").json()["tolerance"] == 0.1
        r = c.put(url, json={"tolerance": 0.05}, headers=csrf)
        assert r.status_code == 200
    engine = open_store(live.url)
    assert list_audit(engine)[0]["action"] == "set_tolerance"
    engine.dispose()


@pytest.fixture(scope="module")
def echo_conflict(live: Live) -> str:
    """PS-echo's two protocol copies disagree on 'valid' (whatever ran before on this worker)."""
    engine = open_store(live.url)
    for valid in (480, 490):
        body = _report("PS-echo", "protocol", figures={"valid": valid, "votes": {"A": 1}})
        store_report(engine, body, observer=None)
    engine.dispose()
    return "PS-echo"


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("stations/PS-alpha/resolutions", b"not json", 400, "body"),
        ("stations/PS-alpha/resolutions", b"[1, 2]", 400, "body"),
        ("stations/PS-alpha/resolutions", b"", 400, "body"),
        ("stations/PS-alpha/resolutions", {"field": "valid"}, 400, "value"),
        ("stations/PS-alpha/resolutions", {"value": 3}, 400, "field"),
        ("stations/PS-alpha/resolutions", {"field": "valid", "value": 1, "by": "x"}, 400, "by"),
        ("stations/PS-echo/resolutions", {"field": "registered", "value": 1}, 400, "field"),
        ("stations/PS-echo/resolutions", {"field": "valid", "value": "480"}, 400, "value"),
        ("stations/PS-echo/resolutions", {"field": "valid", "value": -1}, 400, "value"),
        ("stations/PS-echo/resolutions", {"field": "va\x00lid", "value": 1}, 400, "field"),
        ("stations/PS-echo/resolutions", {"field": ["valid"], "value": 1}, 400, "field"),
        ("stations/PS-echo/resolutions", {"field": "v" * 300, "value": 1}, 400, "field"),
        ("stations/PS-echo/resolutions", {"field": "valid", "value": 1, "note": 5}, 400, "note"),
        ("stations/PS-echo/resolutions", {"field": "valid", "value": 1e400}, 400, "value"),
        ("stations/nowhere/resolutions", {"field": "valid", "value": 1}, 404, None),
        ("stations/bad%00id/resolutions", {"field": "valid", "value": 1}, 400, "station"),
        ("stations/%D0%B6/resolutions", {"field": "valid", "value": 1}, 400, "station"),
        ("settings", {"tolerance": "high"}, 400, "tolerance"),
        ("settings", {"tolerance": 1.5}, 400, "tolerance"),
        ("settings", {"tolerance": None}, 400, "tolerance"),
        ("settings", {"tolerance": True}, 400, "tolerance"),
        ("settings", {}, 400, "tolerance"),
        ("settings", {"tolerance": 0.1, "admin": True}, 400, "admin"),
        ("settings", b'{"tolerance": NaN}', 400, "tolerance"),
        ("settings", b'{"tolerance": ' + b"[" * 100_000 + b"]}", 413, None),
        ("settings", b'{"tolerance": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400, None),
    ],
)
def test_bad_bodies_answer_4xx_naming_the_field(
    live: Live, echo_conflict: str, path: str, body: Any, status: int, field: str | None
) -> None:
    method = "PUT" if path == "settings" else "POST"
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = httpx.request(
        method,
        f"{live.base}/api/v1/elections/{E}/{path}",
        content=content,
        headers={**live.bearer(), "content-type": "application/json"},
    )
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["status"] == status and error["message"]
    if field is not None:
        assert error["field"] == field


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("dashboard/stations?limit=0", "limit"),
        ("dashboard/stations?limit=abc", "limit"),
        ("dashboard/stations?limit=99999999999999999999999", "limit"),
        ("dashboard/stations?offset=-1", "offset"),
        ("dashboard/comparison?tolerance=2", "tolerance"),
        ("dashboard/comparison?tolerance=nan", "tolerance"),
        ("dashboard/comparison?tolerance=%00", "tolerance"),
        ("pvt?denominator=everything", "denominator"),
    ],
)
def test_bad_query_parameters_name_the_field(live: Live, query: str, field: str) -> None:
    r = httpx.get(f"{live.base}/api/v1/elections/{E}/{query}", headers=live.bearer())
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["error"]["field"] == field


def test_bad_last_event_id_and_unknown_election(live: Live) -> None:
    r = httpx.get(
        f"{live.base}/api/v1/elections/{E}/events",
        headers={**live.bearer(), "Last-Event-ID": "seven"},
    )
    assert r.status_code == 400 and r.json()["error"]["field"] == "Last-Event-ID"
    for path in ("dashboard/stations", "events", "pvt"):
        missing = httpx.get(f"{live.base}/api/v1/elections/none/{path}", headers=live.bearer())
        assert missing.status_code == 404
    assert httpx.get(f"{live.base}/api/v1/elections/none/public").status_code == 404


def _read_events(response: httpx.Response, want: int, deadline: float) -> list[dict[str, Any]]:
    """Parse server-sent events until ``want`` report events arrived or the deadline."""
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    for line in response.iter_lines():
        if line == "":
            if "event" in current:
                events.append(current)
            current = {}
            if len([e for e in events if e["event"] == "report"]) >= want:
                break
        elif line.startswith(":"):
            pass
        else:
            key, _, value = line.partition(": ")
            current[key] = value
        if time.monotonic() > deadline:
            break
    return events


def test_events_deliver_new_reports_and_resume_from_last_event_id(live: Live) -> None:
    token, _ = live.observer()
    url = f"{live.base}/api/v1/elections/{E}/events"
    headers = live.bearer()
    sent: dict[str, Any] = {}

    def later() -> None:
        # The stream's starting seq is fixed before its headers are sent (200 below), so a
        # report sent after that is always delivered: no need to wait any longer.
        sent.update(_send(live, token, _report("PS-charlie", "status", status="opened")))

    with (
        httpx.Client(timeout=httpx.Timeout(10, read=10)) as c,
        c.stream("GET", url, headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        started = time.monotonic()
        sender = threading.Thread(target=later, daemon=True)
        sender.start()
        events = _read_events(response, 1, time.monotonic() + 8)
    assert time.monotonic() - started < 8  # one 1-s poll, with slack for a loaded machine
    # the stream can deliver the report before the sender has read its own answer
    sender.join(timeout=10)
    assert not sender.is_alive()
    (event,) = [e for e in events if e["event"] == "report"]
    data = json.loads(event["data"])
    assert data["seq"] == sent["ledger"]["seq"] == int(event["id"])
    assert data == {**data, "station": "PS-charlie", "kind": "status"}

    resume = {**headers, "Last-Event-ID": str(data["seq"] - 1)}
    with (
        httpx.Client(timeout=httpx.Timeout(10, read=10)) as c,
        c.stream("GET", url, headers=resume) as response,
    ):
        again = _read_events(response, 1, time.monotonic() + 8)
    assert [int(e["id"]) for e in again if e["event"] == "report"] == [data["seq"]]


def test_a_burst_ends_in_one_refresh_event_and_silence_in_keepalives(live: Live) -> None:
    engine = open_store(live.url)
    create_election(engine, "burst")
    import_stations(engine, "burst", [{"station": "B1"}])
    for i in range(205):
        body = {**_report("B1", "status", status="opened"), "election": "burst"}
        body["observed_at"] = (_now() - timedelta(seconds=i)).isoformat()
        store_report(engine, body, observer=None)
    engine.dispose()
    url = f"{live.base}/api/v1/elections/burst/events"
    headers = {**live.bearer(), "Last-Event-ID": "0"}
    with (
        httpx.Client(timeout=httpx.Timeout(10, read=10)) as c,
        c.stream("GET", url, headers=headers) as response,
    ):
        events: list[dict[str, str]] = []
        current: dict[str, str] = {}
        keepalive = False
        deadline = time.monotonic() + 8
        for line in response.iter_lines():
            if line == ": keepalive":
                keepalive = True
            elif line == "":
                if "event" in current:
                    events.append(current)
                current = {}
            elif not line.startswith(":"):
                key, _, value = line.partition(": ")
                current[key] = value
            if keepalive or time.monotonic() > deadline:
                break
    reports = [e for e in events if e["event"] == "report"]
    assert [int(e["id"]) for e in reports] == list(range(1, 201))
    (refresh,) = [e for e in events if e["event"] == "refresh"]
    assert int(refresh["id"]) == 205 == json.loads(refresh["data"])["seq"]
    assert keepalive, "no keepalive comment during silence"


def test_public_summary_names_no_station_text_or_observer(live: Live) -> None:
    token, code_name = live.observer()
    _send(
        live,
        token,
        _report("PS-alpha", "incident", category="pressure", text="Ivanov threatened voters"),
    )
    earlier = _now() - timedelta(minutes=30)  # older than the publication delay: on the page
    engine = open_store(live.url)
    body = {
        **_report("PS-bravo", "incident", category="pressure", text="Ivanov again"),
        "observed_at": earlier.isoformat(),
    }
    store_report(engine, body, observer=observer_for_token(engine, token), now=earlier)
    engine.dispose()
    r = httpx.get(f"{live.base}/api/v1/elections/{E}/public")
    assert r.status_code == 200
    data = r.json()
    assert data["name"] == "Dashboard test"
    assert data["stations"]["total"] == 5
    assert data["ledger"]["seq"] >= 1 and len(data["ledger"]["hash"]) == 64
    head = httpx.get(f"{live.base}/api/v1/elections/{E}/ledger/head").json()
    assert head["entries"] >= data["ledger"]["seq"]
    text = r.text
    for private in (*STATIONS, "Name of", "Ivanov", code_name):
        assert private not in text, private


def test_quick_count_against_synthetic_official_results(live: Live) -> None:
    engine = open_store(live.url)
    honest = synthetic_results()
    attach_results(engine, "pvt", honest)
    pvt_url = f"{live.base}/api/v1/elections/pvt/pvt"
    assert httpx.get(pvt_url, headers=live.bearer()).status_code == 409
    sample = draw_stratified_sample(station_table(engine, "pvt"), size=24, strata="region", seed=3)
    store_sample(engine, "pvt", sample, strata_column="region", seed=3)
    waiting = httpx.get(pvt_url, headers=live.bearer())
    assert waiting.status_code == 200 and waiting.json()["ready"] is False
    assert waiting.json()["reason"].startswith("not enough protocols yet")
    copy_protocols(engine, honest, [str(s) for s in sample["station"]], election="pvt")

    result = httpx.get(pvt_url, headers=live.bearer()).json()
    assert result["sample_size"] == 24 and result["reported"] == 24
    assert result["ready"] is True and result["joint"]["rejected"] is False
    attach_results(engine, "pvt", synthetic_results(shift=80))
    shifted = httpx.get(pvt_url, headers=live.bearer()).json()
    assert shifted["joint"]["rejected"] is True
    engine.dispose()


@pytest.mark.slow
def test_no_server_errors_under_fuzzing(live: Live) -> None:
    """schemathesis from /openapi.json over the dashboard operations: 4xx allowed, 5xx never.

    The event stream is left out: it is endless by design (its inputs are tested above).
    """
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    spec = httpx.get(f"{live.base}/openapi.json").json()
    schema = schemathesis.openapi.from_dict(spec).include(tag="dashboard")
    operations = [
        result.ok() for result in schema.get_all_operations() if "/events" not in result.ok().path
    ]
    assert len(operations) >= 8
    headers = live.bearer()

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def check(case: Any) -> None:
            if case.path_parameters and "election" in case.path_parameters:
                case.path_parameters["election"] = E  # reach the handlers, not only the 404
            case.call_and_validate(
                base_url=live.base,
                headers=headers,
                checks=[schemathesis.checks.not_a_server_error],
            )

        check()


def test_activity_is_shown_in_the_elections_local_hours(live: Live) -> None:
    """Stations in India (+5:30): the chart's hours are India's clock hours, each named by
    the UTC instant it starts at (hh:30 UTC), and the answer says which clock it used."""
    engine = open_store(live.url)
    try:
        create_election(
            engine, "india", name="Local hours", timezone="Asia/Kolkata",
            schedule="2024-03-17 07:00-18:00",
        )  # fmt: skip
        import_stations(engine, "india", [{"station": "IN-1", "timezone": "Asia/Kolkata"}])
        at = datetime(2024, 3, 17, 4, 30, tzinfo=UTC)  # 10:00 in India

        def body(kind: str, moment: datetime, **fields: Any) -> dict[str, Any]:
            return {
                "id": str(uuid.uuid4()), "election": "india", "station": "IN-1",
                "kind": kind, "observed_at": moment.isoformat(), **fields,
            }  # fmt: skip

        for report in (
            body("status", at + timedelta(minutes=15), status="opened"),  # 10:15 local
            body("count", at + timedelta(hours=1), window_start=at.isoformat(),
                 window_end=(at + timedelta(hours=1)).isoformat(), entered=60),
            body("incident", at + timedelta(minutes=59), category="other", text="late"),
        ):  # fmt: skip
            store_report(engine, report, observer=None, now=at + timedelta(hours=2))
    finally:
        engine.dispose()
    with live.cookie_client() as c:
        data = c.get("/api/v1/elections/india/dashboard/activity").json()
    assert (data["utc_offset"], data["timezone"]) == (330, "Asia/Kolkata")
    # 10:00-11:00 local holds the status, the incident; the count ends at 11:00 local.
    assert data["reports_per_hour"] == [
        {"hour": "2024-03-17T04:30:00Z", "reports": 2, "incidents": 1},
        {"hour": "2024-03-17T05:30:00Z", "reports": 1, "incidents": 0},
    ]
    assert data["entered_per_hour"] == [{"hour": "2024-03-17T04:30:00Z", "entered": 60.0}]
    # An election whose stations share no zone keeps UTC hours.
    with live.cookie_client() as c:
        utc = c.get(f"/api/v1/elections/{E}/dashboard/activity").json()
    assert (utc["utc_offset"], utc["timezone"]) == (0, None)


# --- refreshes that ask only for what changed (?since=, ETag) ---------------------------------


def _stations(c: httpx.Client, query: str = "") -> dict[str, Any]:
    r = c.get(f"/api/v1/elections/{E}/dashboard/stations{query}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_stations_since_lists_exactly_the_changed_stations(live: Live) -> None:
    token, _ = live.observer()
    with live.cookie_client() as c:
        full = _stations(c)
        assert [s["station"] for s in full["stations"]] == sorted(STATIONS)
        v0 = full["version"]
        quiet = _stations(c, f"?since={v0}")
        assert quiet["stations"] == [] and quiet["version"] == v0 and quiet["since"] == v0
        assert quiet["totals"] == full["totals"]

        _send(live, token, _report("PS-charlie", "status", status="opened", queue=3))
        one = _stations(c, f"?since={v0}")
        assert [s["station"] for s in one["stations"]] == ["PS-charlie"]
        assert one["stations"][0]["queue"] == 3 and one["version"] > v0
        assert one["totals"]["reports"] == full["totals"]["reports"] + 1

        _send(live, token, _report("PS-alpha", "status", status="opened"))
        _send(live, token, _report("PS-charlie", "status", status="closed"))
        two = _stations(c, f"?since={one['version']}")
        assert [s["station"] for s in two["stations"]] == ["PS-alpha", "PS-charlie"]
        assert two["stations"][1]["status"] == "closed"
        # The rows are the full answer's rows of those stations.
        now = {s["station"]: s for s in _stations(c)["stations"]}
        assert two["stations"] == [now["PS-alpha"], now["PS-charlie"]]

        # From 0: every station with a report; beyond the version (a restored database):
        # every station, and ``since`` null.
        reported = sorted(s for s, row in now.items() if row["reports"] > 0)
        assert [s["station"] for s in _stations(c, "?since=0")["stations"]] == reported
        ahead = _stations(c, f"?since={two['version'] + 1000}")
        assert ahead["since"] is None
        assert [s["station"] for s in ahead["stations"]] == sorted(STATIONS)


def test_an_unchanged_answer_is_304_with_its_etag(live: Live) -> None:
    token, _ = live.observer()
    tags = {}
    with live.cookie_client() as c:
        for path in ("dashboard/stations", "dashboard/conflicts?limit=5", "dashboard/activity"):
            url = f"/api/v1/elections/{E}/{path}"
            tag = tags[path] = c.get(url).headers["etag"]
            same = c.get(url, headers={"if-none-match": tag})
            assert same.status_code == 304 and same.content == b""
            assert c.get(url, headers={"if-none-match": 'W/"other"'}).status_code == 200
        _send(live, token, _report("PS-delta", "status", status="opened", queue=1))
        url = f"/api/v1/elections/{E}/dashboard/stations"
        changed = c.get(url, headers={"if-none-match": tags["dashboard/stations"]})
        assert changed.status_code == 200 and changed.headers["etag"] != tags["dashboard/stations"]


def test_conflicts_paged_by_priority_and_since(live: Live) -> None:
    conflicts_url = f"/api/v1/elections/{E}/dashboard/conflicts"
    (first, _), (second, _) = live.observer(), live.observer()
    with live.cookie_client() as c:
        everything = c.get(conflicts_url).json()["conflicts"]
        page = c.get(f"{conflicts_url}?limit=1").json()
        assert page["total"] == len(everything)
        assert page["open"] == sum(1 for x in everything if x["resolved"] is None)
        assert len(page["conflicts"]) == min(1, len(everything))
        whole = c.get(f"{conflicts_url}?limit=100000").json()["conflicts"]
        assert sorted(map(json.dumps, whole)) == sorted(map(json.dumps, everything))
        opened = [x["resolved"] is None for x in whole]
        assert opened == sorted(opened, reverse=True)  # open ones first
        version = page["version"]
        quiet = c.get(f"{conflicts_url}?since={version}").json()
        with_resolutions = {x["station"] for x in everything if x["resolved"] is not None}
        assert set(quiet["stations"]) == with_resolutions
        assert {x["station"] for x in quiet["conflicts"]} <= with_resolutions

        # A new disagreement at PS-alpha: listed since the version, with its station.
        figures = {"valid": 100, "invalid": 1, "votes": {"A": 60, "B": 40}}
        _send(live, first, _report("PS-alpha", "protocol", figures=figures))
        _send(live, second, _report("PS-alpha", "protocol", figures={**figures, "invalid": 2}))
        news = c.get(f"{conflicts_url}?since={version}").json()
        assert "PS-alpha" in news["stations"] and news["version"] > version
        alpha = [x for x in news["conflicts"] if x["station"] == "PS-alpha"]
        assert [(x["field"], x["resolved"]) for x in alpha] == [("invalid", None)]
        assert news["total"] == page["total"] + 1 and news["open"] == page["open"] + 1

        # Resolving it: the station is in every later ``since`` answer, resolved.
        csrf = {"X-CSRF-Token": c.cookies.get("pollwatch_csrf") or ""}
        done = c.post(
            f"/api/v1/elections/{E}/stations/PS-alpha/resolutions",
            json={"field": "invalid", "value": 1},
            headers=csrf,
        )
        assert done.status_code == 201, done.text
        after = c.get(f"{conflicts_url}?since={news['version']}").json()
        alpha = [x for x in after["conflicts"] if x["station"] == "PS-alpha"]
        assert [(x["field"], x["resolved"]["value"]) for x in alpha] == [("invalid", 1)]
        assert after["open"] == news["open"] - 1


@pytest.mark.parametrize("path", ["dashboard/stations", "dashboard/conflicts"])
@pytest.mark.parametrize(
    "since", ["-1", "abc", "1.5", "1e3", "", "%00", "99999999999999999999999", "٣"]
)
def test_malformed_since_is_a_clear_400(live: Live, path: str, since: str) -> None:
    r = httpx.get(f"{live.base}/api/v1/elections/{E}/{path}?since={since}", headers=live.bearer())
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["field"] == "since" and "version" in error["message"]
