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

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import expect
from tests.web.servers import serve_in_thread
from tests.web.test_dashboard_pages import seed_quick_count

from pollwatch.config import Settings
from pollwatch.errors import NotFoundError
from pollwatch.store import (
    add_coordinator,
    conflicts,
    create_election,
    create_invites,
    dashboard_stations,
    get_report,
    import_stations,
    list_audit,
    logout,
    observer_for_token,
    redeem_invite,
    store_report,
)
from pollwatch.store import open_store as open_database
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
    add_coordinator(engine, "coord", PASSWORD, role="admin")  # also changes the tolerance
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
    expect(page.locator("#who-name")).to_have_text("coord")


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
    expect(link).to_have_count(1)
    expect(desk.locator("#invites img.qr")).to_have_count(1)
    desk.wait_for_function("document.querySelector('#invites img.qr').naturalWidth > 0")
    screenshot(desk, "coordinator-invites")
    invite_url = str(link.get_attribute("href"))
    assert invite_url.startswith(f"{server}/observe/join/")

    # The dashboard is open, live, with the registry and one marker per located station.
    asked: list[str] = []  # the station table's requests: the first whole, then changes only
    desk.on("request", lambda r: asked.append(r.url) if "/dashboard/stations" in r.url else None)
    desk.goto(f"{server}/coordinate/{ELECTION}")
    expect(desk.locator("#live.on")).to_have_count(1, timeout=10_000)
    expect(desk.locator("#dashboard[data-refreshed]")).to_have_count(1, timeout=10_000)
    expect(desk.locator("#stations tbody tr")).to_have_count(len(STATIONS))
    expect(desk.locator("#map path.station-marker")).to_have_count(3)
    expect(desk.locator("#map-note")).to_contain_text("without coordinates: 1")
    assert desk.locator("#map path.leaflet-interactive").count() >= 3  # markers drawn above
    expect(_cell(desk, "8001", "reports")).to_have_text("0")
    desk.fill("#station-filter", "berlin")
    expect(desk.locator("#stations tbody tr:visible")).to_have_count(1)
    expect(desk.locator("#station-filter-count")).to_have_text("1 / 4")
    desk.fill("#station-filter", "")
    expect(desk.locator("#stations tbody tr:visible")).to_have_count(len(STATIONS))
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
    expect(item).to_have_attribute("data-state", "unsent")
    report_id = str(item.get_attribute("data-id"))
    expect(item.locator(".badge")).to_have_text("unsent", ignore_case=True)
    screenshot(app, "e2e-observer-offline")
    with pytest.raises(NotFoundError):  # nothing sent while offline
        get_report(engine, report_id)
    expect(_cell(desk, "8001", "reports")).to_have_text("0")

    # Back online: the phone sends it, and the dashboard shows it without a reload.
    app.context.set_offline(False)
    # Sent: the phone keeps a count, not the report (a seized phone tells nothing)
    expect(app.locator("#sent-count")).to_have_attribute("data-count", "1", timeout=15_000)
    expect(app.locator(f"#outbox li[data-id='{report_id}']")).to_have_count(0)
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
    expect(_cell(desk, "8001", "counts")).to_have_text("1")
    expect(_cell(desk, "8001", "queue")).to_have_text("15")
    expect(_cell(desk, "8001", "last_report_at")).to_have_attribute("data-at", re.compile("."))
    expect(_cell(desk, "8001", "last_report_at")).not_to_have_text("–")
    expect(desk.locator("#t-reports")).to_have_text("1")
    # The refresh asked only for the stations changed since the last answer; every row stays.
    assert "since=" not in asked[0] and any("since=" in url for url in asked[1:]), asked
    expect(desk.locator("#stations tbody tr")).to_have_count(len(STATIONS))
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
        expect(watched.page.locator("h1")).to_have_text("Quick count election")
        expect(watched.page.locator(".verify")).to_contain_text("pollwatch ledger verify")
        expect(watched.page.locator("#press-pvt tbody tr")).to_have_count(3)
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
    expect(box).to_have_count(1, timeout=10_000)
    expect(desk.locator("#t-conflicts")).to_have_text("1")
    incident = desk.locator("#incidents li[data-id]")
    expect(incident).to_have_count(1, timeout=10_000)  # filled by the page's own fetch
    expect(incident).to_contain_text(HOSTILE_TEXT)  # the report's text is shown as text
    expect(incident).to_contain_text("Давление или запугивание")
    expect(desk.locator("#incidents img")).to_have_count(0)
    choose = box.locator("span.value", has_text="940").locator("xpath=following-sibling::button[1]")
    expect(choose).to_have_text("Принять это значение")
    choose.click()
    resolved = desk.locator(".conflict.resolved[data-station='9001'][data-field='valid']")
    expect(resolved).to_contain_text("coord", timeout=10_000)
    [stored] = [c for c in conflicts(engine, DISPUTED) if c["field"] == "valid"]
    assert stored["resolved"]["value"] == 940
    assert stored["resolved"]["by"] == "coord"
    assert any(
        a["action"] == "resolve_conflict" and a["actor"] == "coord" for a in list_audit(engine)
    )

    desk.fill("#tolerance", "12.5")
    desk.click("#tolerance-save")
    expect(desk.locator("#tolerance-status")).to_have_text("Сохранено.", timeout=10_000)
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
        expect(row).to_contain_text("57.4 %", timeout=10_000)
        expect(row).to_contain_text("56.9 %–57.9 %")  # the 95 % interval, not a verdict
        expect(page.locator("#pvt table tr", has_text="turnout (cast)")).to_have_count(1)
        expect(page.locator("#pvt-strata")).to_contain_text("A 12/12 · B 12/12")
        coverage = page.locator("#sample-coverage")
        expect(coverage).to_contain_text("in sample: 24")
        expect(coverage).to_contain_text("with protocol: 24/24")
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
    expect(desk.locator("#dashboard[data-refreshed]")).to_have_count(1, timeout=10_000)
    expect(desk.locator("#session-ended")).to_be_hidden()
    [session] = [c for c in desk.context.cookies() if c["name"] == "pollwatch_session"]
    logout(engine, session["value"])  # e.g. expired, or ended from another tab
    desk.fill("#tolerance", "7")
    desk.click("#tolerance-save")
    expect(desk.locator("#session-ended")).to_be_visible(timeout=10_000)
    expect(desk.locator("#session-ended a")).to_have_attribute("href", "/coordinate/login?lang=en")
    coordinator.ignore("status of 401")
