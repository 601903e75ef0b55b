"""The observer app in a real browser (Debian's chromium through Playwright), phone-sized.

An observer opens an invite link, files a count report with no connection, sees it kept as
"unsent", comes back online and the report reaches the server's database under the UUID the
phone made; a reload with no connection still opens the app (service worker) and still shows
the queued report (IndexedDB). Reports the server refuses are shown as "rejected" with its
message, and a report whose answer was lost is sent again with the same UUID.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
from babel.messages.pofile import read_po
from fastapi import FastAPI, Request
from PIL import ExifTags, Image
from playwright.sync_api import expect
from tests.web.servers import serve_in_thread

from pollwatch.config import Settings
from pollwatch.errors import NotFoundError
from pollwatch.store import (
    create_election,
    create_invites,
    get_photo,
    get_report,
    import_stations,
    open_store,
)
from pollwatch.web import observer
from pollwatch.web.app import create_app

ELECTION = "test-2026"
STATIONS = ("8001", "8002")

SERVED: list[str] = []
"""Paths the test server answered, to prove that the offline reload never reached it."""


def _build_app(settings: Settings) -> FastAPI:
    app = create_app(settings)

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Any:
        SERVED.append(request.url.path)
        return await call_next(request)

    return app


@pytest.fixture(scope="module")
def observe_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    home = tmp_path_factory.mktemp("observe-home")
    return Settings(
        data_dir=home / "data",
        home=home,
        database_url=f"sqlite:///{home / 'observe.db'}",
        rate_limit=0,
    )


@pytest.fixture(scope="module")
def engine(observe_settings: Settings) -> Any:
    engine = open_store(observe_settings.resolved_database_url())
    create_election(engine, ELECTION, name="Test election")
    import_stations(engine, ELECTION, [{"station": s} for s in STATIONS])
    return engine


@pytest.fixture(scope="module")
def observer_server(observe_settings: Settings, engine: Any) -> Iterator[str]:
    with serve_in_thread(_build_app(observe_settings)) as url:
        yield url


@pytest.fixture()
def phone(browser: Any, observer_server: str) -> Iterator[Any]:
    """A fresh phone (own storage, own service worker) that must not talk to third parties."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    pg = context.new_page()
    outside: list[str] = []
    pg.on(
        "request",
        lambda req: (
            None if req.url.startswith((observer_server, "data:")) else outside.append(req.url)
        ),
    )
    yield pg
    context.close()
    assert not outside, f"the app made third-party requests: {outside}"


def _invite(engine: Any, stations: tuple[str, ...] = STATIONS) -> str:
    return str(create_invites(engine, ELECTION, 1, stations_=stations)[0].code)


def _join(page: Any, base: str, code: str, lang: str = "en") -> None:
    page.goto(f"{base}/observe/join/{code}?lang={lang}")
    page.wait_for_url(f"{base}/observe?lang={lang}")
    # The service worker has stored the shell before the phone loses its connection.
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")


def _item(page: Any, state: str | None = None) -> Any:
    selector = "#outbox li" + (f"[data-state='{state}']" if state else "")
    return page.locator(selector).first


def _badge(text: str) -> re.Pattern[str]:
    """A badge's text as written in the page (CSS shows it upper-case)."""
    return re.compile(f"^{re.escape(text)}$", re.IGNORECASE)


NOT_BLANK = re.compile(r"\S")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
SEND_TIMEOUT = 10_000
"""Milliseconds a report may take to reach the server and its answer to show."""


@pytest.mark.browser
def test_offline_count_report_is_kept_and_sent_when_online(
    phone: Any, observer_server: str, engine: Any, screenshot: Any
) -> None:
    page = phone
    _join(page, observer_server, _invite(engine))
    expect(page.locator("#observer-name")).to_have_text(NOT_BLANK)
    page.click("button[data-station='8001']")
    expect(page.locator("#station-current")).to_have_text("8001")

    page.context.set_offline(True)
    for taps in range(1, 6):
        page.click("#count-plus")
        expect(page.locator("#count-value")).to_have_text(str(taps))
    page.click("#count-minus")
    expect(page.locator("#count-value")).to_have_text("4")
    page.fill("#count-queue", "12")
    page.click("#count-send")
    item = _item(page)
    expect(item).to_have_attribute("data-id", UUID4)
    report_id = str(item.get_attribute("data-id"))
    assert uuid.UUID(report_id).version == 4
    expect(item).to_have_attribute("data-state", "unsent")
    expect(item.locator(".badge")).to_have_text(_badge("unsent"))
    # A new window starts at zero.
    expect(page.locator("#count-value")).to_have_text("0")
    with pytest.raises(NotFoundError):
        get_report(engine, report_id)

    # Reloading with no connection still opens the app and still shows the queued report,
    # and nothing of it came from the server.
    hits_before = len(SERVED)
    response = page.reload()
    assert response is not None and response.from_service_worker
    assert not [p for p in SERVED[hits_before:] if p.startswith(("/observe", "/static"))]
    queued = page.locator(f"#outbox li[data-id='{report_id}']")
    expect(queued).to_have_attribute("data-state", "unsent")
    expect(page.locator("#net")).to_have_text("Offline")
    screenshot(page, "observer-app-offline")

    page.context.set_offline(False)
    expect(queued).to_have_attribute("data-state", "sent", timeout=SEND_TIMEOUT)
    stored = get_report(engine, report_id)
    assert stored["id"] == report_id
    assert stored["kind"] == "count"
    assert stored["entered"] == 4
    assert stored["queue"] == 12
    assert stored["station"] == "8001"
    assert stored["election"] == ELECTION
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "observer-app")


@pytest.mark.browser
def test_lost_answer_is_retried_with_the_same_uuid(
    phone: Any, observer_server: str, engine: Any
) -> None:
    """The server stores the report but the phone never hears back: the retry is harmless."""
    page = phone
    _join(page, observer_server, _invite(engine))
    page.click("button[data-station='8002']")
    answers: list[int] = []
    delivered: list[int] = []
    bodies: list[str] = []
    lose_answers = True

    def lose_answers_until_reload(route: Any) -> None:
        bodies.append(route.request.post_data)
        response = route.fetch()
        answers.append(response.status)
        if lose_answers:
            route.abort("connectionreset")
        else:
            delivered.append(response.status)
            route.fulfill(response=response)

    page.route("**/api/v1/reports", lose_answers_until_reload)
    page.click("#tab-status")
    page.click("#status-choices button[data-status='opened']")
    page.fill("#status-queue", "3")
    with page.expect_event(
        "requestfailed", lambda r: r.url.endswith("/api/v1/reports"), timeout=SEND_TIMEOUT
    ):
        page.click("#status-send")
    item = _item(page)
    expect(item).to_have_attribute("data-id", UUID4)
    report_id = str(item.get_attribute("data-id"))
    assert answers[:1] == [201], "the server stored the first attempt"
    # The app has finished with the lost answer (the outbox is no longer busy): no answer,
    # so the report is still unsent.
    expect(page.locator("#outbox")).to_have_attribute("aria-busy", "false")
    expect(item).to_have_attribute("data-state", "unsent")

    lose_answers = False
    page.reload()  # the app sends what is queued when it opens
    expect(page.locator(f"#outbox li[data-id='{report_id}']")).to_have_attribute(
        "data-state", "sent", timeout=SEND_TIMEOUT
    )
    # Every attempt after the first is answered as an identical repeat (the app's 20-second
    # timer may add one while answers are being lost), and the phone heard exactly one answer.
    assert answers[0] == 201 and answers[1:] and set(answers[1:]) == {200}, answers
    assert delivered == [200]
    assert len(set(bodies)) == 1, "the retry sends the very same body, UUID included"
    assert get_report(engine, report_id)["status"] == "opened"


@pytest.mark.browser
def test_refused_report_is_marked_rejected_with_the_servers_message(
    phone: Any, observer_server: str, engine: Any, screenshot: Any
) -> None:
    page = phone
    _join(page, observer_server, _invite(engine, stations=("8001",)))
    # The invite binds this observer to station 8001; station 9999 is refused by the server.
    page.fill("#station-id", "9999")
    page.click("#station-use")
    page.click("#tab-incident")
    page.click("#incident-categories button[data-category='pressure']")
    page.fill("#incident-text", "Voters photographed at the box")
    page.click("#incident-send")
    rejected = _item(page, "rejected")
    expect(rejected.locator(".badge")).to_have_text(_badge("rejected"), timeout=SEND_TIMEOUT)
    expect(rejected.locator(".why")).to_have_text(re.compile(r"^40[0-9]: \S"))

    # Retrying does not resend a rejected report, and a later report goes through, with
    # its photo shrunk on the phone and stripped of its GPS position.
    page.click("button[data-station='8001']")
    page.click("#incident-categories button[data-category='ballot_shortage']")
    page.set_input_files(
        "#incident-photo",
        files=[{"name": "box.jpg", "mimeType": "image/jpeg", "buffer": _photo_with_gps()}],
    )
    expect(page.locator("#incident-photo-name")).to_have_text("Photo attached")
    page.click("#incident-send")
    sent = page.locator("#outbox li[data-state='sent'][data-photo='sent']")
    expect(sent).to_have_count(1, timeout=SEND_TIMEOUT)
    expect(page.locator("#outbox li[data-state='rejected']")).to_have_count(1)
    assert get_report(engine, str(sent.get_attribute("data-id")))["category"] == "ballot_shortage"
    expect(sent.locator(".what")).to_have_text("Incident: Ballot shortage")
    stored = Image.open(io.BytesIO(get_photo(engine, str(sent.get_attribute("data-id")))))
    assert stored.format == "JPEG"
    assert max(stored.size) == 1600
    assert not stored.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    screenshot(page, "observer-incident")


def _photo_with_gps() -> bytes:
    """A 2400x1800 JPEG carrying a GPS position in its EXIF, like a phone's camera writes."""
    image = Image.new("RGB", (2400, 1800), (40, 90, 160))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestPhone"
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitude] = (55.0, 45.0, 0.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    return data


@pytest.mark.browser
def test_protocol_in_russian(
    phone: Any, observer_server: str, engine: Any, screenshot: Any
) -> None:
    page = phone
    _join(page, observer_server, _invite(engine), lang="ru")
    expect(page.locator("#tab-protocol")).to_have_text("Протокол")
    page.click("button[data-station='8001']")
    page.click("#tab-protocol")
    figures = {
        "registered": 1500,
        "ballots_received": 1400,
        "issued_early": 0,
        "issued_premises": 900,
        "issued_outside": 40,
        "valid": 930,
        "invalid": 10,
    }
    for key, value in figures.items():
        page.fill(f"#figure-{key}", str(value))
    page.fill("#votes .vote-row .vote-name", "Даванков")
    page.fill("#votes .vote-row .vote-count", "400")
    page.click("#votes-add")
    page.locator("#votes .vote-row .vote-name").nth(1).fill("Путин")
    page.locator("#votes .vote-row .vote-count").nth(1).fill("530")
    page.click("#protocol-send")
    sent = _item(page, "sent")
    expect(sent.locator(".badge")).to_have_text(_badge("отправлен"), timeout=SEND_TIMEOUT)
    stored = get_report(engine, str(sent.get_attribute("data-id")))
    assert {k: stored["figures"][k] for k in figures} == figures
    assert stored["figures"]["votes"] == {"Даванков": 400, "Путин": 530}
    screenshot(page, "observer-protocol-ru")


@pytest.mark.browser
def test_invite_works_once(browser: Any, phone: Any, observer_server: str, engine: Any) -> None:
    code = _invite(engine)
    _join(phone, observer_server, code)
    expect(phone.locator("#observer-name")).to_have_text(NOT_BLANK)
    name = phone.locator("#observer-name").inner_text()
    # The same phone reopening its link simply gets the app back, as the same observer.
    _join(phone, observer_server, code)
    expect(phone.locator("#observer-name")).to_have_text(name)

    other = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    try:
        page = other.new_page()
        page.goto(f"{observer_server}/observe/join/{code}?lang=en")
        status = page.locator("#join-status[role=alert]")
        expect(status).to_have_text(re.compile(r"^Could not join: \S"), timeout=SEND_TIMEOUT)
        assert page.evaluate("localStorage.getItem('pollwatch.observer')") is None
    finally:
        other.close()


def test_service_worker_may_control_observe_and_every_shell_file_exists(
    observer_server: str,
) -> None:
    """The worker's install stores every shell file; one missing file would break offline."""
    with httpx.Client(base_url=observer_server, timeout=30) as client:
        sw = client.get("/observe/sw.js")
        assert sw.status_code == 200
        assert sw.headers["service-worker-allowed"] == "/observe"
        assert sw.headers["content-type"].startswith("text/javascript")
        assert "__ASSETS__" not in sw.text and "__VERSION__" not in sw.text
        for path in observer.SHELL_ASSETS:
            assert path in sw.text
            assert client.get(path).status_code == 200, path
        page = client.get("/observe?lang=sr")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "<script>" not in page.text, "no inline script (CSP script-src 'self')"
        assert "Izveštaji na ovom telefonu" in page.text
        manifest = client.get("/observe/manifest.webmanifest").json()
        assert manifest["scope"] == "/observe"


def _used_msgids() -> set[str]:
    templates = Path(str(resources.files("pollwatch.web") / "templates"))
    found = set(observer.CLIENT_STRINGS)
    for template in templates.glob("observer*.html"):
        found |= {m[1] for m in re.findall(r"""_\((['"])(.*?)\1\)""", template.read_text())}
    return found


@pytest.mark.parametrize("lang", ["ru", "sr"])
def test_every_interface_string_is_translated(lang: str) -> None:
    po = resources.files("pollwatch.web") / "locale" / lang / "LC_MESSAGES" / "observer.po"
    with po.open("rb") as fh:
        translated = {str(m.id) for m in read_po(fh, locale=lang) if m.id and m.string}
    site = resources.files("pollwatch.web") / "locale" / lang / "LC_MESSAGES" / "pollwatch.po"
    with site.open("rb") as fh:
        translated |= {str(m.id) for m in read_po(fh, locale=lang) if m.id and m.string}
    used = _used_msgids()
    assert len(used) > 50
    assert sorted(used - translated) == []
