"""The admins' page in Chromium: add a coordinator, scope them, and they see only that election."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from tests.web.servers import serve_store, sqlite_url

from pollwatch.store import add_coordinator, create_election, import_stations, open_store

PASSWORD = "a long enough password"


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[str]:
    url = sqlite_url(tmp_path)
    engine = open_store(url)
    add_coordinator(engine, "root", PASSWORD, role="admin")
    for election in ("north-2026", "south-2026"):
        create_election(engine, election)
        import_stations(engine, election, [{"station": "1", "country": "RS"}])
    engine.dispose()
    with serve_store(url, tmp_path) as base:
        yield base


def _login(page: Any, base: str, name: str, password: str) -> None:
    page.goto(f"{base}/coordinate/login")
    page.fill("#login-name", name)
    page.fill("#login-password", password)
    page.click("#login-submit")
    expect(page.locator("#who-name")).to_have_text(name)


@pytest.mark.browser
def test_admin_adds_and_scopes_a_coordinator_in_the_browser(browser: Any, server: str) -> None:
    admin = browser.new_context(locale="en-US").new_page()
    _login(admin, server, "root", PASSWORD)
    admin.click("#admin-link")
    expect(admin.locator("#coordinators tr[data-name='root']")).to_have_count(1)
    admin.fill("#add-name", "vuk")
    admin.select_option("#add-role", "coordinator")
    admin.click("#add-submit")
    expect(admin.locator("#admin-done")).to_have_text("Coordinator added.")
    shown = admin.locator("#new-password").inner_text()
    assert len(shown) >= 20
    row = admin.locator("#coordinators tr[data-name='vuk']")
    row.locator(".scope-form select[name='election']").select_option("south-2026")
    row.locator(".scope-form input[name='country']").fill("RS")
    row.locator(".scope-form button").click()
    expect(admin.locator("#admin-done")).to_have_text("Scope added.")
    expect(admin.locator("#coordinators tr[data-name='vuk'] .scopes li")).to_contain_text(
        "south-2026 · country RS"
    )
    expect(admin.locator("#new-password")).to_have_count(0)  # shown once only

    coordinator = browser.new_context(locale="en-US").new_page()
    _login(coordinator, server, "vuk", shown)
    expect(coordinator.locator("#elections tr[data-election]")).to_have_count(1)
    expect(coordinator.locator("#elections tr[data-election='south-2026']")).to_have_count(1)
    expect(coordinator.locator("#admin-link")).to_have_count(0)
    coordinator.context.close()
    admin.context.close()
