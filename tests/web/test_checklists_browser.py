"""Checklists and messages in the observer app, in a real browser (Debian's chromium).

An observer's phone fetches the election's checklists while online, fills one in with no
connection (a condition reveals "if no, why"), keeps it as "unsent" and sends it when the
connection returns: the report is in the database and the ledger under the phone's UUID,
answering the version the phone had. A message from the coordinators reaches the inbox at
the next sync; tapping it sends a read receipt that only moves a count. Hostile text in
questions, options, answers and messages is shown as text. No fixed sleeps: Playwright's
``expect`` waits for each condition.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import expect
from tests.web.servers import serve_in_thread

from pollwatch.config import Settings
from pollwatch.observe.messages import parse_targets
from pollwatch.store import create_election, create_invites, get_report, import_stations, open_store
from pollwatch.store.checklists import save_checklist
from pollwatch.store.messages import list_messages, send_message
from pollwatch.store.reports import list_reports
from pollwatch.web.app import create_app

ELECTION = "browser-lists-2026"
HOSTILE = '<img src=x onerror="window.pwned=1">'
CHECKLIST = f"""id: opening
title: {{en: Opening check, ru: Открытие}}
questions:
  - id: sealed
    kind: yes_no
    text: {{en: 'Was the box sealed? {HOSTILE}', ru: 'Урна опечатана?'}}
    flag: no
  - id: why
    kind: text
    text: {{en: "If not, why?"}}
    when: {{question: sealed, equals: no}}
    required: true
  - id: booths
    kind: choice
    text: {{en: Voting booths}}
    options:
      - {{id: enough, text: {{en: Enough}}}}
      - {{id: none, text: {{en: '{HOSTILE} none'}}}}
    flag: [none]
  - id: staff
    kind: number
    text: {{en: Members present}}
    min: 0
    max: 40
"""
SEND_TIMEOUT = 10_000


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    home = tmp_path_factory.mktemp("lists-browser")
    settings = Settings(
        data_dir=home / "data",
        home=home,
        database_url=f"sqlite:///{home / 'db.sqlite'}",
        rate_limit=0,
    )
    engine = open_store(settings.resolved_database_url())
    create_election(engine, ELECTION, name="Browser checklists")
    import_stations(
        engine,
        ELECTION,
        [{"station": "9001", "country": "RS"}, {"station": "9002", "country": "DE"}],
    )
    save_checklist(engine, ELECTION, CHECKLIST, actor="test")
    with serve_in_thread(create_app(settings)) as url:
        yield url, engine
    engine.dispose()


@contextmanager
def _phone(browser: Any, base: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    page = context.new_page()
    outside: list[str] = []
    page.on(
        "request",
        lambda r: (
            None if r.url.startswith((base, "data:", "blob:", "about:")) else outside.append(r.url)
        ),
    )
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    yield page
    assert page.evaluate("window.pwned === undefined"), "hostile text ran as markup"
    assert not dialogs
    context.close()
    assert not outside, f"the app made third-party requests: {outside}"


def _join(page: Any, base: str, engine: Any, stations: tuple[str, ...]) -> None:
    code = create_invites(engine, ELECTION, 1, stations_=stations)[0].code
    page.goto(f"{base}/observe/join/{code}?lang=en")
    page.wait_for_url(f"{base}/observe?lang=en")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")


@pytest.mark.browser
def test_a_checklist_filled_offline_is_sent_when_back_online(
    browser: Any, world: tuple[str, Any], screenshot: Any
) -> None:
    base, engine = world
    with _phone(browser, base) as page:
        _join(page, base, engine, ("9001",))
        page.click("button[data-station='9001']")
        page.click("#tab-checklist")
        choice = page.locator("#checklist-choices button[data-checklist='opening']")
        expect(choice).to_have_text("Opening check")  # fetched while online

        page.context.set_offline(True)
        expect(page.locator("#net")).to_have_text("Offline")
        choice.click()
        question = page.locator("[data-question='sealed'] .q-text")
        expect(question).to_have_text(f"Was the box sealed? {HOSTILE} *")
        assert page.locator("#checklist-questions img").count() == 0
        # Sending with nothing answered marks the required questions.
        page.click("#checklist-send")
        expect(page.locator("[data-question='sealed']")).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#message")).to_have_class(re.compile("error"))
        # "If not, why?" is asked only after "no".
        why = page.locator("[data-question='why']")
        expect(why).to_be_hidden()
        page.click("[data-question='sealed'] button[data-value='false']")
        expect(why).to_be_visible()
        page.fill("#q-why", f"Seal broken {HOSTILE}")
        page.click("[data-question='booths'] button[data-value='none']")
        expect(page.locator("[data-question='booths'] button[data-value='none']")).to_have_text(
            f"{HOSTILE} none"
        )
        page.fill("#q-staff", "7")
        page.click("#checklist-send")
        item = page.locator("#outbox li[data-kind='checklist']").first
        expect(item).to_have_attribute("data-state", "unsent")
        expect(item.locator(".what")).to_have_text("Checklist: Opening check")
        report_id = str(item.get_attribute("data-id"))
        screenshot(page, "observer-checklist-offline")

        page.context.set_offline(False)
        expect(page.locator("#sent-count")).to_have_attribute(
            "data-count", "1", timeout=SEND_TIMEOUT
        )
        expect(page.locator(f"#outbox li[data-id='{report_id}']")).to_have_count(0)
    stored = get_report(engine, report_id)
    assert stored["kind"] == "checklist"
    assert stored["version"] == 1
    assert stored["answers"] == {
        "sealed": False,
        "why": f"Seal broken {HOSTILE}",
        "booths": "none",
        "staff": 7,
    }
    assert stored["ledger"]["seq"] >= 1
    assert [r["id"] for r in list_reports(engine, ELECTION, station="9001")].count(report_id) == 1


def _wait_for(condition: Any, what: str, seconds: float = 10) -> None:
    """Poll ``condition`` until it holds (a deadline, not a fixed sleep)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds} s"
        time.sleep(0.05)


@pytest.mark.browser
def test_a_message_reaches_the_inbox_and_a_read_is_only_counted(
    browser: Any, world: tuple[str, Any], screenshot: Any
) -> None:
    base, engine = world
    with _phone(browser, base) as page:
        page.add_init_script(
            """(() => {
              window.__notes = [];
              class FakeNote { constructor(title) { window.__notes.push(title); } }
              FakeNote.permission = "granted";
              FakeNote.requestPermission = () => Promise.resolve("granted");
              window.Notification = FakeNote;
            })();"""
        )
        _join(page, base, engine, ("9002",))
        expect(page.locator("#inbox-empty")).to_be_visible()
        sent = send_message(
            engine,
            ELECTION,
            text=f"Polls in DE close at 20:00 {HOSTILE}\nsecond line",
            targets=parse_targets(["country:DE"]),
            urgent=True,
            actor="coord",
        )
        send_message(
            engine,
            ELECTION,
            text="Only for RS",
            targets=parse_targets(["country:RS"]),
            actor="coord",
        )
        page.reload()  # the next sync: opening the app
        item = page.locator(f"#inbox li[data-id='{sent['id']}']")
        expect(item.locator(".text")).to_have_text(
            f"Polls in DE close at 20:00 {HOSTILE}\nsecond line"
        )
        expect(item).to_have_class(re.compile("urgent"))
        expect(page.locator("#inbox li")).to_have_count(1)
        expect(page.locator("#inbox-unread")).to_have_attribute("data-count", "1")
        assert page.locator("#inbox img").count() == 0
        notes = page.evaluate("window.__notes")
        assert notes == ["pollwatch: an urgent message from the coordinators"]
        screenshot(page, "observer-inbox")

        def counts() -> tuple[int, int]:
            row = next(m for m in list_messages(engine, ELECTION) if m["id"] == sent["id"])
            return row["delivered"], row["read"]

        _wait_for(lambda: counts() == (1, 0), "the delivery receipt")
        item.click()
        expect(page.locator("#inbox-unread")).to_have_attribute("data-count", "0")
        _wait_for(lambda: counts() == (1, 1), "the read receipt")
        stored = json.dumps(page.evaluate("({...localStorage})"))
        assert "Only for RS" not in stored
        # The same phone in Russian: the checklist's Russian texts, English where none.
        page.goto(f"{base}/observe?lang=ru")
        page.click("#tab-checklist")
        page.click("#checklist-choices button[data-checklist='opening']")
        expect(page.locator("[data-question='sealed'] .q-text")).to_have_text("Урна опечатана? *")
        expect(page.locator("[data-question='staff'] .q-text")).to_have_text("Members present *")
        expect(page.locator("#inbox-title")).to_contain_text("Сообщения")
    # Only counts: nothing in the message's row or targets says who read it.
    row = next(m for m in list_messages(engine, ELECTION) if m["id"] == sent["id"])
    assert set(row) == {
        "id",
        "text",
        "urgent",
        "created_at",
        "author",
        "targets",
        "recipients",
        "delivered",
        "read",
        "bot",
        "telegram",
    }
    assert set(row["telegram"]) == {"queued", "delivered", "failed"}
    assert all(isinstance(n, int) for n in row["telegram"].values())


PASSWORD = "a long enough password"


@pytest.mark.browser
def test_coordinators_edit_checklists_read_results_and_send_messages(
    browser: Any, world: tuple[str, Any], screenshot: Any
) -> None:
    """The coordinators' pages in Chromium: a malformed checklist comes back with its field
    named, results and messages show hostile text as text."""
    from pollwatch.store import add_coordinator

    base, engine = world
    add_coordinator(engine, "chief", PASSWORD, role="admin")
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-US")
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.goto(f"{base}/coordinate/login")
        page.fill("#login-name", "chief")
        page.fill("#login-password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_url(f"{base}/coordinate")

        page.goto(f"{base}/coordinate/{ELECTION}/checklists")
        page.fill(
            "#checklist-source",
            "id: closing\ntitle: Closing\nquestions:\n  - id: booths\n    kind: choice\n"
            f"    text: '{HOSTILE}'\n",
        )
        page.click("#checklist-save")
        error = page.locator("#checklist-error")
        expect(error).to_have_attribute("data-field", "questions[0].options")
        expect(error).to_contain_text("questions[0].options: a choice question needs a list")
        expect(page.locator("#checklist-source")).to_have_value(re.compile(re.escape(HOSTILE)))
        screenshot(page, "coordinate-checklist-error")
        page.fill(
            "#checklist-source",
            "id: closing\ntitle: Closing\nquestions:\n  - {id: done, kind: yes_no, text: Done}\n",
        )
        page.click("#checklist-save")
        expect(page.locator("#saved")).to_contain_text("closing v1")
        expect(page.locator("#checklist-closing")).to_have_attribute("data-version", "1")
        screenshot(page, "coordinate-checklists")

        page.goto(f"{base}/coordinate/{ELECTION}/checklists/results")
        opening = page.locator("#results-opening")
        expect(opening.locator("[data-question='sealed'] .q-text")).to_have_text(
            f"Was the box sealed? {HOSTILE}"
        )
        expect(opening.locator("[data-question='booths'] [data-answer='none'] .a")).to_have_text(
            f"{HOSTILE} none"
        )
        assert page.locator("#results-opening img").count() == 0
        screenshot(page, "coordinate-checklist-results")

        page.goto(f"{base}/coordinate/{ELECTION}/messages")
        page.fill("#message-text", f"Count starts at 20:00 {HOSTILE}")
        page.check("#to-stations")
        page.fill("#message-stations", "9001 9002")
        page.check("#message-urgent")
        page.click("#message-send")
        expect(page.locator("#sent")).to_be_visible()
        first = page.locator("#messages li").first
        expect(first.locator(".text")).to_have_text(f"Count starts at 20:00 {HOSTILE}")
        expect(first.locator(".badge.urgent")).to_be_visible()
        assert page.locator("#messages img").count() == 0
        screenshot(page, "coordinate-messages")
    finally:
        context.close()
    assert not dialogs


def _jpeg(width: int = 3200, height: int = 2400) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.mark.browser
def test_a_checklist_photo_goes_with_its_report(browser: Any, world: tuple[str, Any]) -> None:
    import io

    from PIL import Image

    from pollwatch.store import get_photo

    base, engine = world
    save_checklist(
        engine,
        ELECTION,
        "id: count\ntitle: Count\nquestions:\n"
        "  - {id: posted, kind: yes_no, text: Protocol posted}\n"
        "  - {id: protocol, kind: photo, text: Photo of the protocol}\n",
        actor="test",
    )
    with _phone(browser, base) as page:
        _join(page, base, engine, ("9001",))
        page.click("button[data-station='9001']")
        page.click("#tab-checklist")
        page.click("#checklist-choices button[data-checklist='count']")
        page.click("[data-question='posted'] button[data-value='true']")
        page.set_input_files(
            "#q-protocol",
            files=[{"name": "protocol.jpg", "mimeType": "image/jpeg", "buffer": _jpeg()}],
        )
        with page.expect_request(
            lambda r: r.method == "POST" and r.url.endswith("/api/v1/reports")
        ) as posted:
            page.click("#checklist-send")
        report_id = str(posted.value.post_data_json["id"])
        expect(page.locator("#sent-count")).to_have_attribute(
            "data-count", "1", timeout=SEND_TIMEOUT
        )
        expect(page.locator(f"#outbox li[data-id='{report_id}']")).to_have_count(
            0, timeout=SEND_TIMEOUT
        )
    assert get_report(engine, report_id)["answers"] == {"posted": True, "protocol": True}
    stored = Image.open(io.BytesIO(get_photo(engine, report_id)))
    assert stored.format == "JPEG" and max(stored.size) == 2400
