"""The observer app in a real browser (Debian's chromium through Playwright), phone-sized.

An observer opens an invite link, files a count report with no connection, sees it kept as
"unsent", comes back online and the report reaches the server's database under the UUID the
phone made; a reload with no connection still opens the app (service worker) and still shows
the queued report (IndexedDB). Reports the server refuses are shown as "rejected" with its
message, and a report whose answer was lost is sent again with the same UUID.

A seized phone tells as little as possible: a report the server confirmed leaves the
phone's storage (only a count stays, or the newest ``observer_keep_sent`` for reference);
"leave no trace" and a token revoked by the coordinators empty localStorage, IndexedDB,
Cache Storage and the service worker registrations (read back with ``page.evaluate``).
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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

from pollwatch.config import Settings, load_settings
from pollwatch.errors import InputError, NotFoundError
from pollwatch.store import (
    AuthError,
    create_election,
    create_invites,
    get_photo,
    get_report,
    import_stations,
    list_audit,
    observer_for_token,
    open_store,
    revoke_observers,
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
    """The service as deployed by default: phones keep no sent report (only their count)."""
    with serve_in_thread(_build_app(observe_settings)) as url:
        yield url


KEEP_SENT = 2


@pytest.fixture(scope="module")
def keeping_server(observe_settings: Settings, engine: Any) -> Iterator[str]:
    """The same service told to let phones keep their newest ``KEEP_SENT`` sent reports."""
    keeping = dataclasses.replace(observe_settings, observer_keep_sent=KEEP_SENT)
    with serve_in_thread(_build_app(keeping)) as url:
        yield url


@contextmanager
def _new_phone(browser: Any, base: str) -> Iterator[Any]:
    """A fresh phone (own storage, own service worker) that must not talk to third parties."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    pg = context.new_page()
    outside: list[str] = []
    pg.on(
        "request",
        lambda req: (
            None if req.url.startswith((base, "data:", "about:blank")) else outside.append(req.url)
        ),
    )
    yield pg
    context.close()
    assert not outside, f"the app made third-party requests: {outside}"


@pytest.fixture()
def phone(browser: Any, observer_server: str) -> Iterator[Any]:
    with _new_phone(browser, observer_server) as pg:
        yield pg


@pytest.fixture()
def keeping_phone(browser: Any, keeping_server: str) -> Iterator[Any]:
    with _new_phone(browser, keeping_server) as pg:
        yield pg


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


def _sent_count(page: Any, count: int, timeout: int = 5_000) -> None:
    """Wait until the app says ``count`` reports were sent from this phone."""
    expect(page.locator("#sent-count")).to_have_attribute("data-count", str(count), timeout=timeout)


_DUMP_STORAGE = """async () => {
  const out = {local: {...localStorage}, session: {...sessionStorage}, idb: {}};
  for (const info of await indexedDB.databases()) {
    const db = await new Promise((ok, fail) => {
      const req = indexedDB.open(info.name);
      req.onsuccess = () => ok(req.result);
      req.onerror = () => fail(req.error);
    });
    const stores = {};
    for (const name of db.objectStoreNames) {
      stores[name] = await new Promise((ok, fail) => {
        const req = db.transaction(name).objectStore(name).getAll();
        req.onsuccess = () => ok(req.result);
        req.onerror = () => fail(req.error);
      });
    }
    db.close();
    out.idb[info.name] = stores;
  }
  return JSON.stringify(out, (key, value) => value instanceof Blob ? "blob:" + value.size : value);
}"""


def _storage(page: Any) -> str:
    """Everything the origin keeps in localStorage, sessionStorage and IndexedDB, as JSON."""
    return str(page.evaluate(_DUMP_STORAGE))


_WHAT_IS_LEFT = """async () => ({
  local: localStorage.length,
  session: sessionStorage.length,
  databases: (await indexedDB.databases()).map((d) => d.name),
  caches: await caches.keys(),
  workers: (await navigator.serviceWorker.getRegistrations()).length,
})"""


def _what_is_left(page: Any) -> dict[str, Any]:
    """What the origin still keeps on the phone (read without creating anything)."""
    left: dict[str, Any] = page.evaluate(_WHAT_IS_LEFT)
    return left


NOTHING = {"local": 0, "session": 0, "databases": [], "caches": [], "workers": 0}


def _token(page: Any) -> str:
    return str(json.loads(page.evaluate("localStorage.getItem('pollwatch.observer')"))["token"])


def _wait_revoked(base: str, token: str) -> None:
    """Wait (with a deadline) until the API refuses ``token`` as revoked.

    Each server process caches tokens and polls for revocations every two seconds.
    """
    deadline = time.monotonic() + 10
    with httpx.Client(base_url=base, timeout=10) as client:
        while True:
            answer = client.get("/api/v1/observer", headers={"Authorization": f"Bearer {token}"})
            if answer.status_code == 401:
                assert "revoked" in answer.json()["error"]["message"]
                return
            assert answer.status_code == 200
            assert time.monotonic() < deadline, "the token was not refused within 10 s"
            time.sleep(0.1)


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

    assert report_id in _storage(page), "the unsent report is kept on the phone"

    page.context.set_offline(False)
    # Once the server confirmed it, the report leaves the phone; its count stays.
    _sent_count(page, 1, timeout=SEND_TIMEOUT)
    expect(queued).to_have_count(0)
    expect(page.locator("#sent-count")).to_have_text("Sent from this phone: 1")
    assert report_id not in _storage(page)
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
    _sent_count(page, 1, timeout=SEND_TIMEOUT)
    expect(page.locator(f"#outbox li[data-id='{report_id}']")).to_have_count(0)
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
    expect(rejected.locator(".what")).to_have_text("Incident: Pressure or intimidation")
    # A refused report keeps its text, so the observer can see what to send again.
    assert "Voters photographed at the box" in _storage(page)

    # Retrying does not resend a rejected report, and a later report goes through, with
    # its photo shrunk on the phone and stripped of its GPS position.
    page.click("button[data-station='8001']")
    page.click("#incident-categories button[data-category='ballot_shortage']")
    page.fill("#incident-text", "No ballots left since noon")
    page.set_input_files(
        "#incident-photo",
        files=[{"name": "box.jpg", "mimeType": "image/jpeg", "buffer": _photo_with_gps()}],
    )
    expect(page.locator("#incident-photo-name")).to_have_text("Photo attached")
    with page.expect_request(
        lambda r: r.method == "POST" and r.url.endswith("/api/v1/reports")
    ) as posted:
        page.click("#incident-send")
    sent_id = str(posted.value.post_data_json["id"])
    _sent_count(page, 1, timeout=SEND_TIMEOUT)
    # The report stays listed (as a stub) until its photo is sent too.
    expect(page.locator(f"#outbox li[data-id='{sent_id}']")).to_have_count(0, timeout=SEND_TIMEOUT)
    expect(page.locator("#outbox li[data-state='rejected']")).to_have_count(1)
    assert get_report(engine, sent_id)["category"] == "ballot_shortage"
    assert get_report(engine, sent_id)["text"] == "No ballots left since noon"
    left = _storage(page)
    assert "No ballots left" not in left and sent_id not in left and "blob:" not in left

    # The refused one goes when the observer removes it.
    rejected.locator("button.remove").click()
    expect(page.locator("#outbox li")).to_have_count(0)
    assert "Voters photographed" not in _storage(page)
    stored = Image.open(io.BytesIO(get_photo(engine, sent_id)))
    assert stored.format == "JPEG"
    assert max(stored.size) == 1600
    assert not stored.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    screenshot(page, "observer-incident")


@pytest.mark.browser
def test_keep_sent_setting_keeps_only_the_newest_sent_reports(
    keeping_phone: Any, keeping_server: str, engine: Any
) -> None:
    page = keeping_phone
    _join(page, keeping_server, _invite(engine))
    page.click("button[data-station='8001']")
    page.click("#tab-status")
    ids = []
    for sent, status in enumerate(("opened", "suspended", "resumed"), start=1):
        page.click(f"#status-choices button[data-status='{status}']")
        with page.expect_request(
            lambda r: r.method == "POST" and r.url.endswith("/api/v1/reports")
        ) as posted:
            page.click("#status-send")
        ids.append(str(posted.value.post_data_json["id"]))
        _sent_count(page, sent, timeout=SEND_TIMEOUT)
    # The newest KEEP_SENT stay listed as sent, with their content; the oldest is gone.
    expect(page.locator("#outbox li[data-state='sent']")).to_have_count(KEEP_SENT)
    expect(page.locator("#outbox li .what")).to_have_text(["Status: Resumed", "Status: Suspended"])
    left = _storage(page)
    assert ids[0] not in left and ids[1] in left and ids[2] in left
    assert _token(page) not in json.dumps(json.loads(left)["idb"]), "kept reports drop the token"


_OLD_APP_OUTBOX = """async (entries) => {
  const db = await new Promise((ok, fail) => {
    const req = indexedDB.open("pollwatch-observer", 1);
    req.onupgradeneeded = () => req.result.createObjectStore("outbox", {keyPath: "id"});
    req.onsuccess = () => ok(req.result);
    req.onerror = () => fail(req.error);
  });
  await new Promise((ok, fail) => {
    const tx = db.transaction("outbox", "readwrite");
    for (const entry of entries) tx.objectStore("outbox").put(entry);
    tx.oncomplete = ok;
    tx.onerror = () => fail(tx.error);
  });
  db.close();
}"""


@pytest.mark.browser
def test_sent_reports_an_older_app_kept_are_deleted_and_counted(
    phone: Any, observer_server: str, engine: Any
) -> None:
    """A phone updated from the app that kept 200 sent reports keeps none of them."""
    page = phone
    page.goto(f"{observer_server}/healthz")
    body = {"id": str(uuid.uuid4()), "election": ELECTION, "station": "8001", "kind": "incident"}
    entries = [
        {"id": body["id"], "created": 1, "state": "sent", "token": "old-token", "photo": None,
         "photoState": None, "body": {**body, "category": "other", "text": "Seen by the old app"}},
        {"id": str(uuid.uuid4()), "created": 2, "state": "unsent", "token": "old-token",
         "photo": None, "photoState": None,
         "body": {**body, "category": "other", "text": "Still to send"}},
    ]  # fmt: skip
    page.evaluate(_OLD_APP_OUTBOX, entries)
    page.route("**/api/v1/reports", lambda route: route.abort("internetdisconnected"))
    _join(page, observer_server, _invite(engine))
    _sent_count(page, 1)
    expect(page.locator("#outbox li[data-state='unsent']")).to_have_count(1)
    left = _storage(page)
    assert "Seen by the old app" not in left and "Still to send" in left


@pytest.mark.browser
def test_leave_no_trace_erases_the_app_and_revokes_the_token(
    phone: Any, observer_server: str, engine: Any, screenshot: Any
) -> None:
    page = phone
    _join(page, observer_server, _invite(engine))
    token = _token(page)
    page_name = observer_for_token(engine, token).code_name
    page.click("button[data-station='8002']")
    # One report the server never gets (the request fails): it is lost, and the app says so.
    page.route("**/api/v1/reports", lambda route: route.abort("internetdisconnected"))
    page.click("#tab-incident")
    page.click("#incident-categories button[data-category='violence']")
    page.fill("#incident-text", "Observer pushed out of the room")
    page.click("#incident-send")
    expect(page.locator("#outbox li[data-state='unsent']")).to_have_count(1)
    before = _what_is_left(page)
    assert before["local"] and before["databases"] and before["caches"] and before["workers"]

    page.click("#wipe-start")
    expect(page.locator("#wipe-confirm")).to_be_visible()
    expect(page.locator("#wipe-unsent")).to_have_text("Reports not sent yet, lost if you erase: 1")
    screenshot(page, "observer-leave-no-trace")
    page.click("#wipe-yes")
    page.wait_for_url("about:blank")
    assert page.title() == ""
    # The blank page replaced the app in the tab's history.
    page.go_back()
    assert "/observe" not in page.url

    page.goto(f"{observer_server}/healthz")
    assert _what_is_left(page) == NOTHING
    _wait_revoked(observer_server, token)
    with pytest.raises(AuthError, match="revoked"):
        observer_for_token(engine, token)
    audit = [e for e in list_audit(engine, limit=50) if e["action"] == "observers.revoke"]
    assert [e["actor"] for e in audit if e["detail"]["revoked"] == [page_name]] == [
        f"observer {page_name}"
    ]


@pytest.mark.browser
def test_revoked_token_erases_the_app(phone: Any, observer_server: str, engine: Any) -> None:
    page = phone
    _join(page, observer_server, _invite(engine))
    token = _token(page)
    page.click("button[data-station='8001']")
    page.click("#tab-status")
    page.click("#status-choices button[data-status='opened']")
    page.click("#status-send")
    _sent_count(page, 1, timeout=SEND_TIMEOUT)
    # Any database of the site goes, not only the app's own (no server help here: the
    # server does not send Clear-Site-Data to a revoked token).
    page.evaluate(
        """new Promise((ok) => {
          const req = indexedDB.open("left-by-another-version");
          req.onsuccess = () => { req.result.close(); ok(); };
        })"""
    )
    assert len(_what_is_left(page)["databases"]) == 2

    # A coordinator revokes this observer.
    revoke_observers(engine, code_name=observer_for_token(engine, token).code_name, actor="test")
    _wait_revoked(observer_server, token)
    page.reload()  # the app asks the server about its token when it opens
    page.wait_for_url("about:blank", timeout=SEND_TIMEOUT)
    page.goto(f"{observer_server}/healthz")
    assert _what_is_left(page) == NOTHING


@pytest.mark.browser
def test_nothing_identifying_in_the_title_the_cached_shell_or_notifications(
    phone: Any, observer_server: str, engine: Any
) -> None:
    page = phone
    _join(page, observer_server, _invite(engine))
    expect(page.locator("#observer-name")).to_have_text(NOT_BLANK)
    name = page.locator("#observer-name").inner_text()
    token = _token(page)
    page.click("button[data-station='8002']")
    assert name not in page.title() and "8002" not in page.title()
    shell = page.evaluate(
        """async () => {
          const texts = [];
          for (const key of await caches.keys()) {
            const cache = await caches.open(key);
            for (const request of await cache.keys()) {
              texts.push(request.url + " " + await (await cache.match(request)).text());
            }
          }
          return texts;
        }"""
    )
    assert len(shell) >= len(observer.SHELL_ASSETS)
    assert not [t for t in shell if name in t or token in t]
    # Nothing identifying on a lock screen: the worker never notifies; the page notifies only
    # "an urgent message arrived" (issue 13), with a fixed text, never a message's own text.
    static = resources.files("pollwatch.web") / "static"
    assert "Notification" not in (static / "observer-sw.js").read_text("utf-8")
    script = (static / "observer.js").read_text("utf-8")
    assert re.findall(r"new Notification\(([^)]*)\)", script) == [
        't("pollwatch: an urgent message from the coordinators"'
    ]


def test_observer_token_api_says_revoked_and_forget_clears_site_data(
    observer_server: str, engine: Any
) -> None:
    from pollwatch.store import redeem_invite

    token = redeem_invite(engine, _invite(engine)).token
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=observer_server, timeout=30) as client:
        me = client.get("/api/v1/observer", headers=auth)
        assert me.status_code == 200
        assert me.json()["election"] == ELECTION
        assert me.json()["stations"] == list(STATIONS)
        unknown = client.get("/api/v1/observer", headers={"Authorization": "Bearer nope"})
        assert unknown.status_code == 401
        assert "revoked" not in unknown.json()["error"]["message"]
        assert client.post("/api/v1/observer/forget").status_code == 401
        forgot = client.post("/api/v1/observer/forget", headers=auth)
        assert forgot.status_code == 200
        assert forgot.json() == {"revoked": True}
        assert forgot.headers["clear-site-data"] == '"cache", "cookies", "storage"'
    _wait_revoked(observer_server, token)


def test_keep_sent_setting_is_checked() -> None:
    assert load_settings({}).observer_keep_sent == 0
    assert load_settings({"POLLWATCH_OBSERVER_KEEP_SENT": "5"}).observer_keep_sent == 5
    for bad in ("-1", "51", "many"):
        with pytest.raises(InputError, match="POLLWATCH_OBSERVER_KEEP_SENT"):
            load_settings({"POLLWATCH_OBSERVER_KEEP_SENT": bad})


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
    keeping_phone: Any, keeping_server: str, engine: Any, screenshot: Any
) -> None:
    """On a service that lets phones keep sent reports, the sent protocol stays listed."""
    page = keeping_phone
    _join(page, keeping_server, _invite(engine), lang="ru")
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
    expect(page.locator("#sent-count")).to_have_text("Отправлено с этого телефона: 1")
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


def test_a_simulated_election_says_so_in_the_observer_app(
    browser: Any, phone: Any, observer_server: str, engine: Any
) -> None:
    """Training days are simulated elections: the app says so on its every screen, and an
    observer of a real election never sees the banner."""
    from pollwatch.store.elections import set_simulated

    drill = "drill-2026"
    create_election(engine, drill, name="Drill")
    import_stations(engine, drill, [{"station": "9001"}])
    set_simulated(engine, drill, by="test")
    code = str(create_invites(engine, drill, 1, stations_=("9001",))[0].code)
    _join(phone, observer_server, code)
    expect(phone.locator("#observer-name")).to_have_text(NOT_BLANK)
    expect(phone.locator("#simulated-banner")).to_be_visible()
    expect(phone.locator("#simulated-banner")).to_contain_text("SIMULATED ELECTION")

    real = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    try:
        page = real.new_page()
        _join(page, observer_server, _invite(engine))
        expect(page.locator("#observer-name")).to_have_text(NOT_BLANK)
        expect(page.locator("#simulated-banner")).to_be_hidden()
    finally:
        real.close()


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
    for domain in ("pollwatch", "bot"):  # the Telegram link panel's strings are the bot's
        site = resources.files("pollwatch.web") / "locale" / lang / "LC_MESSAGES" / f"{domain}.po"
        with site.open("rb") as fh:
            translated |= {str(m.id) for m in read_po(fh, locale=lang) if m.id and m.string}
    used = _used_msgids()
    assert len(used) > 50
    assert sorted(used - translated) == []
