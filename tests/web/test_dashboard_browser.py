"""End to end in a real browser: invite, offline report, and the coordinator sees it live.

A coordinator logs in through the form and creates an invite; an observer opens its link on
a phone-sized page, loses the connection, files a count report (kept as "unsent"), comes
back online and the report is sent; the coordinator's dashboard, open all along in another
browser context, shows the station's new report through the server-sent event stream with
no reload. Along the way: the map draws one marker per station with coordinates, no page
makes a request that leaves the test server, and no page logs a console error (CSP
violations are console errors in Chromium). Screenshots of both go to test-artifacts/.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from tests.web.servers import serve_in_thread
from tests.web.test_dashboard_pages import seed_quick_count

from pollwatch.config import Settings
from pollwatch.store import (
    add_coordinator,
    create_election,
    create_invites,
    get_report,
    import_stations,
    list_audit,
    logout,
    observer_for_token,
    redeem_invite,
    store_report,
)
from pollwatch.store import open_store as open_database
from pollwatch.store.dashboard import conflicts, dashboard_stations
from pollwatch.web.app import create_app

ELECTION = "live-2026"
DISPUTED = "disputed-2026"
QUICK = "quick-2026"
HOSTILE_TEXT = '<img src="/x" onerror="document.title=1"> voters told how to vote'
PASSWORD = "a long enough password"
STATIONS = [
    {"station": "8001", "name": "Embassy Belgrade", "country": "RS", "city": "Belgrade",
     "lat": 44.79, "lon": 20.45},
    {"station": "8002", "name": "Consulate Novi Sad", "country": "RS", "city": "Novi Sad",
     "lat": 45.26, "lon": 19.83},
    {"station": "8003", "name": "Embassy Berlin", "country": "DE", "city": "Berlin",
     "lat": 52.52, "lon": 13.40},
    {"station": "8004", "name": "No coordinates"},
]  # fmt: skip


@pytest.fixture(scope="module")
def dashboard_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    home = tmp_path_factory.mktemp("dashboard-home")
    return Settings(
        data_dir=home / "data",
        home=home,
        database_url=f"sqlite:///{home / 'dashboard.db'}",
        rate_limit=0,
    )


@pytest.fixture(scope="module")
def engine(dashboard_settings: Settings) -> Any:
    engine = open_database(dashboard_settings.resolved_database_url())
    add_coordinator(engine, "coord", PASSWORD)
    create_election(engine, ELECTION, name="Live test election")
    import_stations(engine, ELECTION, STATIONS)
    create_election(engine, DISPUTED, name="Disputed test election")
    import_stations(engine, DISPUTED, [{"station": "9001", "lat": 44.0, "lon": 21.0}])
    for valid in (930, 940):  # two observers copied the protocol differently
        token = redeem_invite(engine, create_invites(engine, DISPUTED, 1)[0].code).token
        store_report(
            engine,
            {
                "id": str(uuid.uuid4()),
                "election": DISPUTED,
                "station": "9001",
                "kind": "protocol",
                "observed_at": datetime.now(UTC).isoformat(),
                "figures": {"registered": 1500, "valid": valid, "invalid": 10},
            },
            observer=observer_for_token(engine, token),
        )
    store_report(
        engine,
        {
            "id": str(uuid.uuid4()),
            "election": DISPUTED,
            "station": "9001",
            "kind": "incident",
            "category": "pressure",
            "text": HOSTILE_TEXT,
            "observed_at": datetime.now(UTC).isoformat(),
        },
        observer=observer_for_token(engine, token),
    )
    seed_quick_count(engine, QUICK)
    return engine


@pytest.fixture(scope="module")
def server(dashboard_settings: Settings, engine: Any) -> Iterator[str]:
    with serve_in_thread(create_app(dashboard_settings)) as url:
        yield url


class Watched:
    """A browser page with what it requested outside the server and what it logged as errors."""

    def __init__(self, context: Any, base: str) -> None:
        self.page = context.new_page()
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", self._request(base))
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))

    def _request(self, base: str) -> Any:
        def record(request: Any) -> None:
            if not request.url.startswith((base + "/", "data:", "blob:")):
                self.outside.append(request.url)

        return record

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        location = message.location.get("url", "") if message.location else ""
        # The quick count answers 409 until a sample is drawn (its documented answer);
        # Chromium logs every non-2xx fetch as a console error.
        if "status of 409" in message.text and location.endswith("/pvt"):
            return
        # The phone tries to send while the test has cut its connection, on purpose.
        if "net::ERR_INTERNET_DISCONNECTED" in message.text:
            return
        self.errors.append(f"{message.text} ({location})")

    def ignore(self, text: str) -> None:
        """Drop console errors containing ``text`` (an answer the test caused on purpose)."""
        self.errors = [e for e in self.errors if text not in e]

    def check(self) -> None:
        assert not self.outside, f"requests left the test server: {self.outside}"
        assert not self.errors, f"console errors: {self.errors}"


@pytest.fixture()
def coordinator(browser: Any, server: str) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    watched = Watched(context, server)
    yield watched
    context.close()
    watched.check()


@pytest.fixture()
def phone(browser: Any, server: str) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    watched = Watched(context, server)
    yield watched
    context.close()
    watched.check()


def _login(page: Any, base: str) -> None:
    page.goto(f"{base}/coordinate")
    page.wait_for_url(f"{base}/coordinate/login")
    page.fill("#login-name", "coord")
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"{base}/coordinate")
    assert page.locator("#who-name").inner_text() == "coord"


def _cell(page: Any, station: str, column: str) -> Any:
    return page.locator(f"#stations tr[data-station='{station}'] td[data-col='{column}']")


@pytest.mark.browser
def test_offline_report_reaches_the_live_dashboard(
    coordinator: Watched, phone: Watched, server: str, engine: Any, screenshot: Any
) -> None:
    desk = coordinator.page
    _login(desk, server)

    # The coordinator creates an invite for station 8001.
    desk.goto(f"{server}/coordinate/{ELECTION}/invites")
    desk.fill("#invite-count", "1")
    desk.fill("#invite-stations", "8001")
    desk.click("#invite-submit")
    link = desk.locator("#invites .invite-url")
    link.wait_for()
    assert desk.locator("#invites img.qr").count() == 1
    assert desk.evaluate("document.querySelector('#invites img.qr').naturalWidth") > 0
    screenshot(desk, "coordinator-invites")
    invite_url = str(link.get_attribute("href"))
    assert invite_url.startswith(f"{server}/observe/join/")

    # The dashboard is open, live, with the registry and one marker per located station.
    desk.goto(f"{server}/coordinate/{ELECTION}")
    desk.locator("#live.on").wait_for(timeout=10_000)
    desk.locator("#dashboard[data-refreshed]").wait_for(timeout=10_000)
    assert desk.locator("#stations tbody tr").count() == len(STATIONS)
    assert desk.locator("#map path.station-marker").count() == 3
    assert desk.locator("#map path.leaflet-interactive").count() >= 3
    assert "without coordinates: 1" in desk.locator("#map-note").inner_text()
    assert _cell(desk, "8001", "reports").inner_text() == "0"
    desk.fill("#station-filter", "berlin")
    assert desk.locator("#stations tbody tr:visible").count() == 1
    assert desk.locator("#station-filter-count").inner_text() == "1 / 4"
    desk.fill("#station-filter", "")
    assert desk.locator("#stations tbody tr:visible").count() == len(STATIONS)
    desk.evaluate("window.__sameDocument = true")

    # The observer joins, loses the connection and files a count report.
    app = phone.page
    app.goto(invite_url)
    app.wait_for_url(f"{server}/observe?lang=en")
    app.evaluate("navigator.serviceWorker.ready.then(() => true)")
    app.click("button[data-station='8001']")
    app.context.set_offline(True)
    for _ in range(7):
        app.click("#count-plus")
    app.fill("#count-queue", "15")
    app.click("#count-send")
    item = app.locator("#outbox li").first
    item.wait_for()
    report_id = str(item.get_attribute("data-id"))
    assert item.get_attribute("data-state") == "unsent"
    assert item.locator(".badge").inner_text().lower() == "unsent"
    screenshot(app, "e2e-observer-offline")
    desk.wait_for_timeout(1500)
    assert _cell(desk, "8001", "reports").inner_text() == "0", "nothing sent while offline"

    # Back online: the phone sends it, and the dashboard shows it without a reload.
    app.context.set_offline(False)
    app.locator(f"#outbox li[data-id='{report_id}'][data-state='sent']").wait_for(timeout=15_000)
    assert get_report(engine, report_id)["entered"] == 7
    app.evaluate("window.scrollTo(0, 0)")
    screenshot(app, "e2e-observer-sent")

    desk.wait_for_function(
        """() => {
            const row = document.querySelector("#stations tr[data-station='8001']");
            return row && row.querySelector("td[data-col='reports']").textContent === "1";
        }""",
        timeout=15_000,
    )
    assert desk.evaluate("window.__sameDocument") is True, "updated live, not reloaded"
    assert _cell(desk, "8001", "counts").inner_text() == "1"
    assert _cell(desk, "8001", "queue").inner_text() == "15"
    assert _cell(desk, "8001", "last_report_at").get_attribute("data-at")
    assert _cell(desk, "8001", "last_report_at").inner_text() != "–"
    assert desk.locator("#t-reports").inner_text() == "1"
    # Charts follow within the server's summary reuse time (10 s) plus one refresh.
    desk.locator("#chart-reports svg rect.bar").first.wait_for(timeout=20_000)
    desk.locator("#chart-entered svg rect.bar").first.wait_for(timeout=20_000)
    screenshot(desk, "e2e-dashboard")


@pytest.mark.browser
def test_press_page_renders_without_script(browser: Any, server: str, screenshot: Any) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="ru-RU", java_script_enabled=False
    )
    try:
        watched = Watched(context, server)
        watched.page.goto(f"{server}/press/{QUICK}")
        assert watched.page.locator("h1").inner_text() == "Quick count election"
        assert "pollwatch ledger verify" in watched.page.locator(".verify").inner_text()
        assert watched.page.locator("#press-pvt tbody tr").count() == 3
        assert watched.page.evaluate("document.documentElement.scrollWidth") <= 391
        screenshot(watched.page, "press-page-ru")
        watched.check()
    finally:
        context.close()


@pytest.mark.browser
def test_coordinator_resolves_a_conflict_and_sets_the_tolerance_in_russian(
    coordinator: Watched, server: str, engine: Any, screenshot: Any
) -> None:
    desk = coordinator.page
    _login(desk, server)
    desk.goto(f"{server}/coordinate/{DISPUTED}?lang=ru")
    box = desk.locator(".conflict[data-station='9001'][data-field='valid']")
    box.wait_for(timeout=10_000)
    assert desk.locator("#t-conflicts").inner_text() == "1"
    incident = desk.locator("#incidents li[data-id]")
    assert incident.count() == 1
    assert HOSTILE_TEXT in incident.inner_text(), "report text is shown as text"
    assert "Давление или запугивание" in incident.inner_text()
    assert desk.locator("#incidents img").count() == 0
    choose = box.locator("span.value", has_text="940").locator("xpath=following-sibling::button[1]")
    assert choose.inner_text() == "Принять это значение"
    choose.click()
    resolved = desk.locator(".conflict.resolved[data-station='9001'][data-field='valid']")
    resolved.wait_for(timeout=10_000)
    assert "coord" in resolved.inner_text()
    [stored] = [c for c in conflicts(engine, DISPUTED) if c["field"] == "valid"]
    assert stored["resolved"]["value"] == 940
    assert stored["resolved"]["by"] == "coord"
    assert any(
        a["action"] == "resolve_conflict" and a["actor"] == "coord" for a in list_audit(engine)
    )

    desk.fill("#tolerance", "12.5")
    desk.click("#tolerance-save")
    desk.locator("#tolerance-status", has_text="Сохранено.").wait_for(timeout=10_000)
    assert dashboard_stations(engine, DISPUTED)["tolerance"] == pytest.approx(0.125)
    desk.evaluate("window.scrollTo(0, 0)")
    screenshot(desk, "dashboard-conflict-resolved-ru")


@pytest.mark.browser
def test_quick_count_and_sample_coverage_on_a_phone(
    browser: Any, server: str, screenshot: Any
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    try:
        watched = Watched(context, server)
        page = watched.page
        _login(page, server)
        page.goto(f"{server}/coordinate/{QUICK}")
        row = page.locator("#pvt table tr", has_text="Alpha")
        row.wait_for(timeout=10_000)
        assert "60.1 %" in row.inner_text()
        assert "± 4.1 %" in row.inner_text()
        assert page.locator("#pvt table tr", has_text="turnout (cast)").count() == 1
        coverage = page.locator("#sample-coverage").inner_text()
        assert "in sample: 4" in coverage and "with protocol: 4/4" in coverage
        assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1, "no sideways page"
        screenshot(page, "dashboard-phone")
        page.click("#logout")
        page.wait_for_url(f"{server}/coordinate/login")
        page.goto(f"{server}/coordinate/{QUICK}")
        page.wait_for_url(f"{server}/coordinate/login")
        watched.check()
    finally:
        context.close()


@pytest.mark.browser
def test_an_ended_session_says_so_on_the_dashboard(
    coordinator: Watched, server: str, engine: Any
) -> None:
    desk = coordinator.page
    _login(desk, server)
    desk.goto(f"{server}/coordinate/{QUICK}")
    desk.locator("#dashboard[data-refreshed]").wait_for(timeout=10_000)
    assert not desk.locator("#session-ended").is_visible()
    [session] = [c for c in desk.context.cookies() if c["name"] == "pollwatch_session"]
    logout(engine, session["value"])  # e.g. expired, or ended from another tab
    desk.fill("#tolerance", "7")
    desk.click("#tolerance-save")
    desk.locator("#session-ended").wait_for(timeout=10_000)
    assert desk.locator("#session-ended a").get_attribute("href") == "/coordinate/login?lang=en"
    coordinator.ignore("status of 401")
