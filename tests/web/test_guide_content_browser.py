"""The guide's content in Chromium: a coordinator writes guidance that voters then read, and a
voter's problem report (sent without JavaScript) reaches the coordinators. Every public page
is checked with axe-core: no serious or critical violation."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from tests.web.servers import serve_store, sqlite_url

from pollwatch.store import add_coordinator, create_election, import_stations, open_store

PASSWORD = "a long enough password"
ELECTION = "abroad-2030"


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[str]:
    url = sqlite_url(tmp_path)
    engine = open_store(url)
    add_coordinator(engine, "mila", PASSWORD, role="admin")
    create_election(engine, ELECTION, schedule="2030-03-17 08:00-20:00", timezone="Europe/Belgrade")
    import_stations(
        engine,
        ELECTION,
        [{"station": "8101", "name": "Embassy", "city": "Beograd", "address": "Deligradska 32"}],
    )
    engine.dispose()
    with serve_store(url, tmp_path) as base:
        yield base


def login(page: Any, base: str) -> None:
    page.goto(f"{base}/coordinate/login?lang=en")
    page.fill("#login-name", "mila")
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#who-name")).to_have_text("mila")


def serious_violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


@pytest.mark.browser
def test_a_coordinator_writes_guidance_and_voters_read_it(
    browser: Any, server: str, screenshot: Callable[[Any, str], Path]
) -> None:
    coordinator = browser.new_context(locale="en-US").new_page()
    login(coordinator, server)
    coordinator.goto(f"{server}/coordinate/{ELECTION}/guide?lang=en")
    coordinator.fill("#deadline", "2030-02-12 23:59")
    coordinator.fill("#deadline-zone", "Europe/Moscow")
    coordinator.click("#dates-save")
    expect(coordinator.locator("#guide-done")).to_have_text("Key dates saved.")
    coordinator.fill(
        "#markdown-ru",
        "# Регистрация\n\nПодайте заявление **до 12 февраля**.\n\n"
        "<script>document.title='pwned'</script>\n\n[Позвонить](javascript:alert(1))",
    )
    coordinator.click("#save-ru")
    expect(coordinator.locator("#guide-done")).to_have_text("Guidance saved.")
    expect(coordinator.locator("#updated-ru")).to_contain_text("mila")
    coordinator.fill("#markdown-en", "x" * 20_001)  # maxlength stops a browser; a script not
    coordinator.evaluate("document.querySelector('#markdown-en').removeAttribute('maxlength')")
    coordinator.fill("#markdown-en", "# Too long\n\n" + "x" * 20_001)
    coordinator.click("#save-en")
    expect(coordinator.locator("#guide-error")).to_contain_text("20,000 characters")
    expect(coordinator.locator("#markdown-en")).to_have_value("# Too long\n\n" + "x" * 20_001)
    screenshot(coordinator, "guide-content-editor")

    voter = browser.new_context(locale="sr-RS", viewport={"width": 390, "height": 844})
    reader = voter.new_page()
    outside: list[str] = []
    reader.on("request", lambda r: outside.append(r.url) if not r.url.startswith(server) else None)
    dialogs: list[str] = []
    reader.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    reader.goto(f"{server}/guide/{ELECTION}/info")
    expect(reader.locator("#guidance h2")).to_have_text("Регистрация")
    expect(reader.locator("#guidance strong")).to_have_text("до 12 февраля")
    expect(reader.locator("#guidance-fallback")).to_be_visible()  # no Serbian page yet
    expect(reader.locator("#guidance")).to_have_attribute("lang", "ru")
    expect(reader.locator("#guidance")).to_contain_text("<script>document.title='pwned'</script>")
    expect(reader.locator("#guidance a")).to_have_count(0)  # the javascript: link is text
    expect(reader.locator("#guide-cards [data-kind='register-by']")).to_contain_text(
        "2030-02-12 23:59"
    )
    updated = reader.locator("#guidance-updated time")
    expect(updated).to_have_attribute("datetime", re.compile(r"^20\d\d-.+Z$"))
    assert reader.title() != "pwned" and dialogs == []
    assert serious_violations(reader) == []
    screenshot(reader, "guide-content-info")
    assert outside == []
    voter.close()
    coordinator.context.close()


@pytest.mark.browser
def test_a_problem_report_without_javascript_reaches_the_coordinators(
    browser: Any, server: str
) -> None:
    voter = browser.new_context(locale="en-US", java_script_enabled=False)
    form = voter.new_page()
    form.goto(f"{server}/guide/{ELECTION}/8101/problem?lang=en")
    expect(form.locator("#problem-station")).to_have_text("Embassy")
    form.check("input[name='category'][value='hours']")
    form.fill("#problem-text", "Open until 18:00, not 20:00 <b>today</b>")
    form.click("#problem-submit")
    expect(form.locator("#problem-sent")).to_be_visible()
    voter.close()

    axe_context = browser.new_context(locale="en-US")
    checked = axe_context.new_page()
    checked.goto(f"{server}/guide/{ELECTION}/8101/problem?lang=en")
    assert serious_violations(checked) == []
    checked.click("#problem-submit")  # the browser itself asks for the missing fields
    expect(checked.locator("#problem-sent")).to_have_count(0)
    axe_context.close()

    coordinator = browser.new_context(locale="en-US").new_page()
    login(coordinator, server)
    coordinator.goto(f"{server}/coordinate/{ELECTION}/guide?lang=en")
    coordinator.click("#guide-problems-link")
    row = coordinator.locator("#problems tr[data-station='8101']")
    expect(row).to_have_count(1)
    expect(row.locator(".problem-text")).to_have_text("Open until 18:00, not 20:00 <b>today</b>")
    expect(row).to_contain_text("The opening hours are wrong")
    row.locator("button").click()
    expect(coordinator.locator("#problems-done")).to_have_text("Marked as handled.")
    expect(coordinator.locator("#problems tr[data-station='8101']")).to_have_count(0)
    coordinator.click("#show-handled")
    expect(coordinator.locator("#problems tr[data-station='8101']")).to_contain_text("mila")
    coordinator.context.close()
