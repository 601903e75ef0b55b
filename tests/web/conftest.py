"""A real server on loopback and Debian's chromium driven by Playwright."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.web.servers import serve_in_thread

from pollwatch.config import Settings
from pollwatch.web.app import create_app

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    home = tmp_path_factory.mktemp("home")
    return Settings(data_dir=home / "data", home=home)


@pytest.fixture(scope="session")
def live_server(settings: Settings) -> Iterator[str]:
    """The web app served by uvicorn in a background thread; yields its base URL."""
    with serve_in_thread(create_app(settings)) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian chromium (installed by `make test`)."""
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).exists():
        pytest.fail(
            "chromium is not installed; `make test` installs it (scripts/ensure-chromium.sh)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


@pytest.fixture()
def page(browser: Any, live_server: str) -> Iterator[Any]:
    """A phone-sized page that records every request leaving loopback."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    pg = context.new_page()
    outside: list[str] = []
    pg.on(
        "request",
        lambda req: (
            outside.append(req.url)
            if not req.url.startswith((live_server, "data:", "blob:"))
            else None
        ),
    )
    pg.outside_requests = outside
    yield pg
    context.close()
    assert not outside, f"the page made third-party requests: {outside}"


@pytest.fixture()
def screenshot() -> Callable[[Any, str], Path]:
    """Save a full-page screenshot under test-artifacts/ for people reviewing the run."""

    def save(page: Any, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
