"""In Chromium: a silence alert for a station in another time zone, and an incident taken from
new to resolved through the follow-up page, with hostile text shown as text.

The stations are the demo's silent stations (:mod:`pollwatch.observe.simulate_network`): open
now, in a time zone where it is daytime, whatever the hour the test runs. Screenshots go to
test-artifacts/ (network-alerts.png, network-incident-resolved.png).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from tests.web.servers import serve_in_thread
from tests.web.test_dashboard_browser import Watched

from pollwatch.config import Settings
from pollwatch.observe.alerts import local_text
from pollwatch.observe.schedule import parse_schedule
from pollwatch.observe.simulate_network import silent_stations
from pollwatch.store import (
    add_coordinator,
    create_election,
    create_invites,
    import_stations,
    observer_for_token,
    redeem_invite,
    store_report,
)
from pollwatch.store import open_store as open_database
from pollwatch.store.elections import set_simulated
from pollwatch.store.rosters import assign_observer
from pollwatch.web.app import create_app

E = "net-browser-2026"
PASSWORD = "a long enough password"
HOSTILE = '<img src="/x" onerror="document.title=1"> told to leave'


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("net-browser")
    settings = Settings(
        data_dir=home / "data",
        home=home,
        database_url=f"sqlite:///{home / 'net.db'}",
        rate_limit=0,
    )
    engine = open_database(settings.resolved_database_url())
    now = datetime.now(UTC)
    sim = silent_stations(now, prefix="tz")
    create_election(engine, E, name="Network browser test")
    import_stations(engine, E, sim.registry)
    set_simulated(engine, E, by="test")
    add_coordinator(engine, "coord", PASSWORD, role="admin")
    observers = {}
    for row in sim.registry:
        code = create_invites(engine, E, 1, stations_=[row["station"]])[0].code
        observers[row["station"]] = observer_for_token(engine, redeem_invite(engine, code).token)
    silent = "tz-silent"
    assign_observer(engine, E, silent, observers[silent].code_name, by="coord")
    incident = str(uuid.uuid4())
    store_report(
        engine,
        {"id": incident, "election": E, "station": "tz-quiet", "kind": "incident",
         "category": "observer_obstruction", "text": HOSTILE, "observed_at": now.isoformat()},
        observer=observers["tz-quiet"],
    )  # fmt: skip
    row = next(r for r in sim.registry if r["station"] == silent)
    zone = row["timezone"]
    opens = parse_schedule(row["schedule"], zone).periods()[0][0]
    with serve_in_thread(create_app(settings)) as base:
        yield {"base": base, "incident": incident, "opens": local_text(opens, zone), "zone": zone}
    engine.dispose()


def _login(page: Any, base: str, path: str) -> None:
    page.goto(f"{base}{path}")
    page.wait_for_url(f"{base}/coordinate/login")
    page.fill("#login-name", "coord")
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"{base}/coordinate")
    page.goto(f"{base}{path}")


def test_a_silence_alert_for_a_station_in_another_time_zone(
    browser: Any, world: dict[str, Any], screenshot: Callable[[Any, str], Path]
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    watched = Watched(context, world["base"])
    page = watched.page
    _login(page, world["base"], f"/coordinate/{E}")
    expect(page.locator("#simulated-banner")).to_contain_text("SIMULATED ELECTION")
    alert = page.locator("#alerts li[data-kind='no_opening'][data-station='tz-silent']")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("Should have opened, no status yet")
    # the opening time in the station's own zone, with its offset (e.g. 07:00 +05:30)
    expect(alert).to_contain_text(world["opens"][11:])
    row = page.locator("#coverage tbody tr[data-station='tz-silent']")
    expect(row).to_contain_text(world["zone"])
    expect(row.locator("td.h.missing, td.h.future").first).to_be_visible()
    screenshot(page, "network-alerts")
    assert watched.outside == [] and watched.errors == []
    context.close()


def test_an_incident_from_new_to_resolved(
    browser: Any, world: dict[str, Any], screenshot: Callable[[Any, str], Path]
) -> None:
    context = browser.new_context(viewport={"width": 1100, "height": 900}, locale="en-US")
    watched = Watched(context, world["base"])
    page = watched.page
    base, incident = world["base"], world["incident"]
    _login(page, base, f"/coordinate/{E}")
    entry = page.locator(f"#open-incidents li[data-id='{incident}']")
    expect(entry).to_contain_text(HOSTILE)  # the text, as text
    entry.locator("a").first.click()
    page.wait_for_url(f"{base}/coordinate/{E}/incidents/{incident}**")
    expect(page.locator("#incident-status")).to_have_text("New")
    expect(page.locator("#incident-text")).to_have_text(HOSTILE)

    page.select_option("#f-status", "acknowledged")
    page.select_option("#f-assignee", "coord")
    page.click("#followup-save")
    expect(page.locator("#incident-status")).to_have_text("Acknowledged")
    expect(page.locator("#incident-assignee")).to_have_text("coord")

    page.fill("#f-note", HOSTILE)
    page.click("#note-save")
    expect(page.locator("#notes .text")).to_have_text(HOSTILE)
    assert page.locator("#notes img").count() == 0

    page.select_option("#f-status", "in_progress")
    page.click("#followup-save")
    expect(page.locator("#incident-status")).to_have_text("In progress")
    page.select_option("#f-status", "resolved")
    page.click("#followup-save")
    expect(page.locator("#incident-status")).to_have_text("Resolved")
    expect(page.locator("#history li")).to_have_count(5)  # three moves, assignee, note
    screenshot(page, "network-incident-resolved")
    assert page.title() != "1"

    page.goto(f"{base}/coordinate/{E}")
    expect(page.locator("#open-incidents li.muted")).to_have_text("No open incidents.")
    page.goto(f"{base}/coordinate/{E}/incidents?status=resolved")
    expect(page.locator(f"#incident-list tr[data-id='{incident}']")).to_be_visible()
    assert watched.outside == [] and watched.errors == []
    context.close()
