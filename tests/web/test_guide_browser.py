"""The voter guide in Debian's chromium on a phone-sized screen: search in both scripts and
with typos, "near me" measured in the browser, the map without third-party requests, a
station page that shows what an observer just reported, the stale label, no serious axe
violation on any guide page, and screenshots of the finder, a station and the totals."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.web.guide_fixtures import E, Served, serve_guide, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serve_guide("sqlite", tmp_path_factory.mktemp("guide-browser"))


@pytest.fixture()
def phone(browser: Any, served: Served) -> Iterator[Any]:
    """A phone-sized page near Novi Sad that records every request leaving our server."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        locale="en-US",
        geolocation={"latitude": 45.26, "longitude": 19.83},
        permissions=["geolocation"],
    )
    page = context.new_page()
    outside: list[str] = []
    page.on(
        "request",
        lambda req: (
            outside.append(req.url)
            if not req.url.startswith((served.base, "data:", "blob:"))
            else None
        ),
    )
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield page
    context.close()
    assert not outside, f"the page made third-party requests: {outside}"
    assert not [e for e in errors if "Content Security Policy" in e], errors


@pytest.mark.parametrize("query", ["Белград", "Beograd", "belgrd", "Belgrade"])
def test_search_in_either_script_and_with_typos_finds_the_station(
    phone: Any, served: Served, query: str
) -> None:
    from playwright.sync_api import expect

    phone.goto(f"{served.base}/guide")
    phone.get_by_label("Country, city, address, station name or number").fill(query)
    phone.get_by_role("button", name="Search").click()
    expect(phone).to_have_url(re.compile(rf"/guide/{E}\?q="))
    link = phone.get_by_role("link", name="Посольство России", exact=True)
    expect(link).to_be_visible()
    link.click()
    expect(phone.locator("#station-name")).to_contain_text("8101")


def test_near_me_measures_in_the_browser_and_the_map_stays_on_our_origin(
    phone: Any, served: Served, screenshot: Callable[[Any, str], Path]
) -> None:
    from playwright.sync_api import expect

    phone.goto(f"{served.base}/guide/{E}")
    phone.get_by_role("button", name="Stations near me").click()
    first = phone.locator("#near-results li").first
    expect(first).to_contain_text("Генконсульство")
    expect(first).to_contain_text("km")
    expect(phone.locator("#near-note")).to_be_visible()
    phone.get_by_role("button", name="Show the map").click()
    expect(phone.locator("#map.leaflet-container")).to_be_visible()
    expect(phone.locator("#map path.leaflet-interactive").first).to_be_visible()
    phone.goto(f"{served.base}/guide/{E}?q=Beograd")
    expect(phone.locator("#result-groups")).to_be_visible()
    screenshot(phone, "guide-finder")


def _station_status(page: Any) -> str:
    page.reload()
    return str(page.locator("#status").text_content())


def test_station_page_shows_what_an_observer_just_reported(
    phone: Any, served: Served, screenshot: Callable[[Any, str], Path]
) -> None:
    from playwright.sync_api import expect

    phone.goto(f"{served.base}/guide/{E}/8101")
    expect(phone.locator("#status-age")).to_have_text("No report from this station yet.")
    report = served.count("8101", entered=60, queue=85, ballots_issued=2000)
    served.age(report, timedelta(minutes=15))
    wait_for(lambda: "about 90 people" in _station_status(phone))
    expect(phone.locator("#status-age")).to_contain_text("measured")
    expect(phone.locator("#status-wait")).to_contain_text("min")
    expect(phone.locator("#ballots-warning")).to_be_visible()  # 2000 received, all issued
    expect(phone.locator(".stale-label")).to_have_count(0)
    screenshot(phone, "guide-station")


def test_old_status_is_greyed_and_labelled(phone: Any, served: Served) -> None:
    from playwright.sync_api import expect

    report = served.count("8201", ago=timedelta(hours=2), entered=30, queue=10)
    served.age(report, timedelta(minutes=15))
    phone.goto(f"{served.base}/guide/{E}/8201")
    wait_for(lambda: "No recent report" in _station_status(phone))
    expect(phone.locator(".stale-label")).to_be_visible()
    grey = phone.locator("#status").evaluate("e => getComputedStyle(e).backgroundColor")
    assert grey == "rgb(236, 238, 239)"


def test_totals_page_draws_its_chart(
    phone: Any, served: Served, screenshot: Callable[[Any, str], Path]
) -> None:
    from playwright.sync_api import expect

    report = served.count("8102", entered=240, queue=40, ballots_issued=240)
    served.age(report, timedelta(minutes=15))
    phone.goto(f"{served.base}/guide/{E}/totals")
    wait_for(lambda: phone.reload() or phone.locator("#chart-doors rect.bar").count() > 0)
    expect(phone.locator("#longest-queues")).to_contain_text("Посольство")
    screenshot(phone, "guide-totals")


GUIDE_PAGES = [
    "/guide",
    f"/guide/{E}",
    f"/guide/{E}?q=Beograd",
    f"/guide/{E}?q=nothing-matches-this",
    f"/guide/{E}/8101",
    f"/guide/{E}/8103",
    f"/guide/{E}/moskva-1",
    f"/guide/{E}/totals",
    f"/guide/{E}/8101?lang=ru",
    f"/guide/{E}?q=Beograd&lang=sr",
]


@pytest.mark.parametrize("path", GUIDE_PAGES)
def test_no_serious_accessibility_violation(phone: Any, served: Served, path: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    phone.goto(served.base + path)
    phone.wait_for_load_state("load")
    results = Axe().run(phone)
    serious = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not serious, serious
