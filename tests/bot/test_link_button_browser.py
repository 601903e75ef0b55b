"""The observer app's Telegram panel in Chromium: a link code, its t.me deep link and QR code
from the app, and the code then links a Telegram account once (the fake Bot API server
answers the bot's getMe)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from tests.bot.fake_telegram import BOT_USERNAME, TOKEN, ThreadedFake
from tests.bot.harness import KEY
from tests.web.servers import serve_in_thread

from pollwatch.bot.keys import BotKeys
from pollwatch.config import Settings
from pollwatch.errors import AuthError
from pollwatch.store import create_election, create_invites, import_stations, open_store
from pollwatch.store.telegram import redeem_link_code
from pollwatch.web.app import create_app

ELECTION = "tg-2026"
DEEP_LINK = re.compile(rf"^https://t\.me/{BOT_USERNAME}\?start=([A-Za-z0-9_-]{{43}})$")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian chromium, launched as tests/web's ``browser`` but for this module
    only: Playwright's sync API keeps an event loop in the main thread while it runs, and
    the bot's other tests call ``asyncio.run``."""
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).exists():
        pytest.fail(
            "chromium is not installed; `make test` installs it (scripts/ensure-chromium.sh)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def telegram() -> Iterator[ThreadedFake]:
    with ThreadedFake() as fake:
        yield fake


def _settings(home: Path, **extra: Any) -> Settings:
    return Settings(
        data_dir=home / "data",
        home=home,
        database_url=f"sqlite:///{home / 'observe.db'}",
        rate_limit=0,
        **extra,
    )


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, telegram: ThreadedFake
) -> Iterator[tuple[str, Any]]:
    home = tmp_path_factory.mktemp("tg-home")
    settings = _settings(
        home, telegram_token=TOKEN, telegram_api=telegram.fake.url, telegram_key=KEY
    )
    engine = open_store(settings.resolved_database_url())
    create_election(engine, ELECTION, name="Telegram election")
    import_stations(engine, ELECTION, [{"station": "8001"}])
    with serve_in_thread(create_app(settings)) as url:
        yield url, engine
    engine.dispose()


def _phone(browser: Any, base: str, engine: Any, lang: str) -> Any:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    page = context.new_page()
    outside: list[str] = []
    page.on(
        "request",
        lambda r: None if r.url.startswith((base, "data:")) else outside.append(r.url),
    )
    code = create_invites(engine, ELECTION, 1, stations_=("8001",))[0].code
    page.goto(f"{base}/observe/join/{code}?lang={lang}")
    page.wait_for_url(f"{base}/observe?lang={lang}")
    page.outside = outside
    return page


@pytest.mark.browser
def test_the_link_code_button_shows_the_code_the_link_and_the_qr(
    browser: Any,
    served: tuple[str, Any],
) -> None:
    base, engine = served
    page = _phone(browser, base, engine, "en")
    try:
        expect(page.locator("#telegram-result")).to_be_hidden()
        page.click("#telegram-link")
        link = page.locator("#telegram-url")
        expect(link).to_have_attribute("href", DEEP_LINK)
        href = str(link.get_attribute("href"))
        code = DEEP_LINK.fullmatch(href).group(1)  # type: ignore[union-attr]
        expect(page.locator("#telegram-code")).to_have_text(f"/start {code}")
        expect(page.locator("#telegram-url-text")).to_have_text(href)
        expect(page.locator("#telegram-expires")).to_have_attribute("datetime", re.compile("T"))
        qr = page.locator("#telegram-qr")
        expect(qr).to_have_attribute("src", re.compile(r"^data:image/svg\+xml;charset=utf-8,"))
        # the QR image really decodes (an SVG the browser draws, not a broken image)
        page.wait_for_function(
            "() => { const i = document.getElementById('telegram-qr');"
            " return i.complete && i.naturalWidth > 0; }"
        )
        # asked again: a new code (nothing kept on the phone)
        page.click("#telegram-link")
        expect(page.locator("#telegram-code")).not_to_have_text(f"/start {code}")
        assert code not in page.evaluate("JSON.stringify({...localStorage})")
        # the code links a Telegram account, once
        keys = BotKeys.from_secret(KEY)
        linked = redeem_link_code(engine, code, user_hash=keys.user_hash(5), chat=b"x")
        assert linked.election == ELECTION
        with pytest.raises(AuthError):
            redeem_link_code(engine, code, user_hash=keys.user_hash(6), chat=b"y")
        assert page.outside == []  # type: ignore[attr-defined]
    finally:
        page.context.close()


@pytest.mark.browser
def test_the_panel_in_russian_and_a_server_without_telegram(
    browser: Any,
    served: tuple[str, Any],
    tmp_path: Path,
) -> None:
    base, engine = served
    page = _phone(browser, base, engine, "ru")
    try:
        expect(page.locator("#telegram-title")).to_have_text("Сообщать через Telegram")
        expect(page.locator("#telegram-link")).to_have_text("Получить код для Telegram")
    finally:
        page.context.close()
    plain = _settings(tmp_path)  # no POLLWATCH_TELEGRAM_TOKEN
    other = open_store(plain.resolved_database_url())
    create_election(other, ELECTION, name="No bot")
    import_stations(other, ELECTION, [{"station": "8001"}])
    with serve_in_thread(create_app(plain)) as url:
        page = _phone(browser, url, other, "en")
        try:
            page.click("#telegram-link")
            error = page.locator("#telegram-error")
            expect(error).to_have_text("Telegram is not set up on this server.")
            expect(page.locator("#telegram-result")).to_be_hidden()
            # and a phone that never joined is told so, without asking the server
            page.evaluate("localStorage.clear()")
            page.click("#telegram-link")
            expect(error).to_have_text("Not joined yet: open your invite link.")
        finally:
            page.context.close()
    other.dispose()
