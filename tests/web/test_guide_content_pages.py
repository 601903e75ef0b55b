"""The guide's content over HTTP on a real server: guidance written by coordinators and read
by voters, key dates and their cards, and the anonymous problem form reaching coordinators.
Hostile and oversized input gets escaped text or a clear 4xx, never a 500."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.store.databases import database_url
from tests.web.servers import serve_in_thread, serve_store

from pollwatch.config import Settings
from pollwatch.store import (
    add_coordinator,
    add_scope,
    create_election,
    import_stations,
    login,
    open_store,
)
from pollwatch.store.guidance import list_guidance
from pollwatch.store.guide_problems import MAX_PROBLEM_TEXT, list_problems
from pollwatch.web.app import create_app
from pollwatch.web.security import csrf_token_for

PASSWORD = "a long enough password"
ELECTION = "guide-2030"


@dataclass
class Site:
    base: str
    url: str
    tokens: dict[str, str]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("guide-content")
    with database_url(request.param, home) as url:
        engine = open_store(url)
        create_election(
            engine, ELECTION, schedule="2030-03-17 08:00-20:00", timezone="Europe/Belgrade"
        )
        import_stations(
            engine,
            ELECTION,
            [
                {"station": "101", "name": "Embassy", "country": "RS", "address": "Deligradska 32"},
                {"station": "102", "name": "Consulate", "country": "DE", "city": "Berlin"},
            ],
        )
        people = {
            "admin": "admin",
            "inside": "coordinator",
            "viewer": "viewer",
            "narrow": "coordinator",
        }
        for name, role in people.items():
            add_coordinator(engine, name, PASSWORD, role=role)
        add_scope(engine, "inside", ELECTION, actor="test")
        add_scope(engine, "viewer", ELECTION, actor="test")
        add_scope(engine, "narrow", ELECTION, country="DE", actor="test")
        tokens = {name: login(engine, name, PASSWORD)[1] for name in people}
        engine.dispose()
        with serve_store(url, home) as base:
            yield Site(base, url, tokens)


def as_person(site: Site, person: str) -> httpx.Client:
    token = site.tokens[person]
    return httpx.Client(
        base_url=site.base,
        cookies={"pollwatch_session": token, "pollwatch_csrf": csrf_token_for(token)},
        timeout=30,
    )


def anonymous(site: Site) -> httpx.Client:
    return httpx.Client(base_url=site.base, timeout=30)


def save_page(site: Site, person: str, lang: str, markdown: str) -> httpx.Response:
    """Post the editor's form as a browser does (multipart/form-data, see its enctype)."""
    csrf = csrf_token_for(site.tokens[person])
    fields = {"csrf": csrf, "op": "page", "lang": lang, "markdown": markdown}
    with as_person(site, person) as client:
        return client.post(
            f"/coordinate/{ELECTION}/guide",
            files={name: (None, value.encode("utf-8")) for name, value in fields.items()},
        )


def stored_pages(site: Site) -> dict[str, dict[str, object]]:
    engine = open_store(site.url)
    try:
        return list_guidance(engine, ELECTION)
    finally:
        engine.dispose()


def main_of(html: str) -> str:
    return html[html.index("<main>") : html.index("</main>")]


def test_guidance_written_by_a_coordinator_is_read_by_voters(site: Site) -> None:
    with anonymous(site) as client:
        empty = client.get(f"/guide/{ELECTION}/info?lang=en")
        assert empty.status_code == 200 and 'id="guidance-missing"' in empty.text
    answer = save_page(site, "inside", "ru", "# Регистрация\n\nДо **12 февраля** в Госуслугах.")
    assert answer.status_code == 200 and 'id="guide-done"' in answer.text
    with anonymous(site) as client:
        page = client.get(f"/guide/{ELECTION}/info?lang=ru").text
        assert "<h2>Регистрация</h2>" in page and "<strong>12 февраля</strong>" in page
        assert 'id="guidance-fallback"' not in page and 'id="guidance-updated"' in page
        serbian = client.get(f"/guide/{ELECTION}/info?lang=sr").text
        assert 'id="guidance-fallback"' in serbian and 'lang="ru"' in serbian
        data = client.get(f"/guide/{ELECTION}/info.json?lang=sr").json()
        assert data["page"]["lang"] == "ru" and data["page"]["fallback"] is True
        assert data["page"]["updated_at"].endswith("Z")


def test_hostile_markdown_is_shown_as_text(site: Site) -> None:
    hostile = (
        "<script>alert(1)</script>\n\n[call us](javascript:alert(2))\n\n"
        '<img src=x onerror="alert(3)">\n\n[ok](https://example.org/ "t")\n\n'
        '<a href="javascript:alert(4)">raw</a> <iframe src="//evil"></iframe>'
    )
    assert save_page(site, "admin", "en", hostile).status_code == 200
    with anonymous(site) as client:
        html = main_of(client.get(f"/guide/{ELECTION}/info?lang=en").text)
    assert "<script" not in html and "<img" not in html and "<iframe" not in html
    assert not re.search(r"<a [^>]*href=\"?javascript:", html, re.IGNORECASE)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert (
        '<a href="https://example.org/" title="t" rel="noopener noreferrer nofollow">ok</a>' in html
    )


def test_an_oversized_page_is_refused_and_kept_in_the_form(site: Site) -> None:
    before = stored_pages(site).get("sr")
    answer = save_page(site, "inside", "sr", "Предугачко " * 2000)  # 22,000 letters, 42 KB
    assert answer.status_code == 400 and 'id="guide-error"' in answer.text
    assert "20,000 characters" in answer.text
    assert "Предугачко Предугачко" in answer.text  # the text is not lost
    assert stored_pages(site).get("sr") == before
    full = save_page(site, "inside", "sr", "Ж" * 19_999)  # a whole page in Cyrillic fits
    assert full.status_code == 200 and stored_pages(site)["sr"]["markdown"] == "Ж" * 19_999
    csrf = csrf_token_for(site.tokens["inside"])
    with as_person(site, "inside") as client:
        huge = client.post(
            f"/coordinate/{ELECTION}/guide",
            data={"csrf": csrf, "op": "page", "lang": "sr", "markdown": "x" * 200_000},
        )
        assert huge.status_code == 413 and huge.json()["error"]["status"] == 413
        bad_lang = client.post(
            f"/coordinate/{ELECTION}/guide",
            data={"csrf": csrf, "op": "page", "lang": "../de", "markdown": "x"},
        )
        assert bad_lang.status_code == 400
        bad_op = client.post(f"/coordinate/{ELECTION}/guide", data={"csrf": csrf, "op": "x"})
        assert bad_op.status_code == 400


def test_only_writers_with_the_csrf_token_change_guidance(site: Site) -> None:
    with as_person(site, "inside") as client:
        forged = client.post(
            f"/coordinate/{ELECTION}/guide", data={"op": "page", "lang": "en", "markdown": "x"}
        )
        assert forged.status_code == 403 and forged.json()["error"]["field"] == "X-CSRF-Token"
    assert save_page(site, "viewer", "en", "x").status_code == 403
    with anonymous(site) as client:
        assert client.post(f"/coordinate/{ELECTION}/guide", data={"op": "page"}).status_code == 401
        login_page = client.get(f"/coordinate/{ELECTION}/guide")
        assert login_page.status_code == 303
        assert login_page.headers["location"].startswith("/coordinate/login")


def test_key_dates_make_the_cards(site: Site) -> None:
    csrf = csrf_token_for(site.tokens["inside"])
    with as_person(site, "inside") as client:
        bad = client.post(
            f"/coordinate/{ELECTION}/guide",
            data={
                "csrf": csrf,
                "op": "dates",
                "registration_deadline": "<script>",
                "registration_timezone": "Europe/Moscow",
            },
        )
        assert bad.status_code == 400 and "<script>" not in main_of(bad.text)
        saved = client.post(
            f"/coordinate/{ELECTION}/guide",
            data={
                "csrf": csrf,
                "op": "dates",
                "registration_deadline": "2030-02-12 23:59",
                "registration_timezone": "Europe/Moscow",
            },
        )
        assert saved.status_code == 200 and 'value="2030-02-12 23:59"' in saved.text
        editor = client.get(f"/coordinate/{ELECTION}/guide.json").json()
        assert editor["key_dates"]["registration_deadline"] == "2030-02-12T20:59:00Z"
        assert any(a["action"] == "election.key_dates" for a in editor["audit"])
    with anonymous(site) as client:
        page = client.get(f"/guide/{ELECTION}/info?lang=en").text
        cards = client.get(f"/guide/{ELECTION}/info.json").json()["cards"]
    assert "Register by 2030-02-12 23:59 (Europe/Moscow)." in page
    assert [c["kind"] for c in cards["cards"]] == ["register-by", "voting-days"]
    assert cards["cards"][1]["days"] == ["2030-03-17 08:00–20:00"]
    # The finder and the station pages show the same cards; they are cached, and the change of
    # dates (audited) renews the cache within about a second: wait for it, not a fixed time.
    for path in (f"/guide/{ELECTION}?lang=en", f"/guide/{ELECTION}/101?lang=en"):
        with anonymous(site) as client:
            deadline = time.monotonic() + 15
            while "Register by 2030-02-12 23:59 (Europe/Moscow)." not in client.get(path).text:
                assert time.monotonic() < deadline, f"no registration card on {path}"
        with anonymous(site) as client:
            assert 'id="guide-cards"' in client.get(path).text


def test_a_problem_report_reaches_the_coordinators_escaped(site: Site) -> None:
    with anonymous(site) as client:
        form = client.get(f"/guide/{ELECTION}/101/problem?lang=en")
        assert form.status_code == 200 and 'name="category"' in form.text
        assert "Deligradska 32" in form.text and "<script" not in form.text
        sent = client.post(
            f"/guide/{ELECTION}/101/problem?lang=en",
            data={
                "category": "address",
                "text": "<script>alert(1)</script> entrance from the yard",
            },
        )
        assert sent.status_code == 303
        assert sent.headers["location"] == f"/guide/{ELECTION}/101/problem?sent=1&lang=en"
        thanks = client.get(sent.headers["location"])
        assert 'id="problem-sent"' in thanks.text
        assert "set-cookie" not in sent.headers  # no account, nothing to follow the reader
        client.post(
            f"/guide/{ELECTION}/102/problem", data={"category": "hours", "text": "closes at 18"}
        )
    with as_person(site, "inside") as client:
        page = client.get(f"/coordinate/{ELECTION}/guide/problems").text
        assert "&lt;script&gt;alert(1)&lt;/script&gt; entrance from the yard" in page
        assert "<script>alert" not in page
        listed = client.get(f"/coordinate/{ELECTION}/guide/problems.json").json()["problems"]
        texts = {p["station"]: p for p in listed}
        assert texts["101"]["category"] == "address"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:00:00Z", texts["101"]["received_hour"])
    with as_person(site, "narrow") as client:  # one country's coordinator: its stations only
        listed = client.get(f"/coordinate/{ELECTION}/guide/problems.json").json()["problems"]
        assert {p["station"] for p in listed} == {"102"}
    with as_person(site, "viewer") as client:
        page = client.get(f"/coordinate/{ELECTION}/guide/problems")
        assert page.status_code == 200 and "handle-" not in page.text  # reads, cannot mark
        refused = client.post(
            f"/coordinate/{ELECTION}/guide/problems",
            data={"csrf": csrf_token_for(site.tokens["viewer"]), "id": str(texts["101"]["id"])},
        )
        assert refused.status_code == 403
    with as_person(site, "narrow") as client:  # not another country's report
        refused = client.post(
            f"/coordinate/{ELECTION}/guide/problems",
            data={"csrf": csrf_token_for(site.tokens["narrow"]), "id": str(texts["101"]["id"])},
        )
        assert refused.status_code == 403
    with as_person(site, "inside") as client:
        csrf = csrf_token_for(site.tokens["inside"])
        for bad in ("x", "-1", "9" * 40, ""):
            answer = client.post(
                f"/coordinate/{ELECTION}/guide/problems", data={"csrf": csrf, "id": bad}
            )
            assert answer.status_code == 400, bad
        missing = client.post(
            f"/coordinate/{ELECTION}/guide/problems", data={"csrf": csrf, "id": "999999"}
        )
        assert missing.status_code == 404
        marked = client.post(
            f"/coordinate/{ELECTION}/guide/problems",
            data={"csrf": csrf, "id": str(texts["101"]["id"])},
        )
        assert marked.status_code == 200 and 'id="problems-done"' in marked.text
        assert f'data-id="{texts["101"]["id"]}"' not in marked.text  # no longer open
        handled = client.get(f"/coordinate/{ELECTION}/guide/problems?handled=1").text
        assert f'data-id="{texts["101"]["id"]}"' in handled and ">inside · " in handled


@pytest.mark.parametrize(
    ("path", "data", "status"),
    [
        ("101", {"category": "address", "text": "x" * (MAX_PROBLEM_TEXT + 1)}, 400),
        ("101", {"category": "<b>bad</b>", "text": "hello"}, 400),
        ("101", {"category": "address", "text": ""}, 400),
        ("101", {}, 400),
        ("999", {"category": "address", "text": "hello"}, 404),
        ("a%20b", {"category": "address", "text": "hello"}, 400),
        ("101", {"category": "address", "text": "y" * 100_000}, 413),
    ],
)
def test_bad_problem_reports_get_a_clear_4xx(
    site: Site, path: str, data: dict[str, str], status: int
) -> None:
    engine = open_store(site.url)
    before = len(list_problems(engine, ELECTION))
    with anonymous(site) as client:
        answer = client.post(f"/guide/{ELECTION}/{path}/problem", data=data)
    assert answer.status_code == status
    if status == 400 and path == "101":  # the form again, with the reason, as HTML
        assert 'id="problem-error"' in answer.text and "<b>bad</b>" not in answer.text
    assert len(list_problems(engine, ELECTION)) == before
    engine.dispose()


def test_a_problem_report_from_another_site_is_refused(site: Site) -> None:
    data = {"category": "other", "text": "spam"}
    with anonymous(site) as client:
        other = client.post(
            f"/guide/{ELECTION}/101/problem", data=data, headers={"Origin": "https://evil.example"}
        )
        assert other.status_code == 403 and other.json()["error"]["field"] == "Origin"
        ours = client.post(
            f"/guide/{ELECTION}/101/problem", data=data, headers={"Origin": site.base}
        )
        assert ours.status_code == 303


def test_problem_reports_are_rate_limited_per_address(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, home=tmp_path))  # the default limits
    create_election(app.state.engine, "rl")
    import_stations(app.state.engine, "rl", [{"station": "1"}])
    with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        answers = [
            client.post("/guide/rl/1/problem", data={"category": "other", "text": f"n{i}"})
            for i in range(7)
        ]
    statuses = [a.status_code for a in answers]
    assert statuses[:5] == [303] * 5 and statuses[5] == 429
    assert int(answers[5].headers["retry-after"]) >= 1 and 'id="problem-error"' in answers[5].text
    assert len(list_problems(app.state.engine, "rl")) == 5
    app.state.engine.dispose()


# --- translations ----------------------------------------------------------------------------

GUIDE_TEMPLATES = (
    "guide_cards.html",
    "guide_info.html",
    "guide_problem.html",
    "coordinate_guide.html",
    "coordinate_guide_problems.html",
)


def _guide_msgids() -> set[str]:
    from importlib import resources

    from pollwatch.web import guide_content

    templates = Path(str(resources.files("pollwatch.web") / "templates"))
    found = set(guide_content.CATEGORY_LABELS.values()) | set(guide_content.LANGUAGE_NAMES.values())
    found |= set(guide_content.DONE.values()) | set(guide_content.FORM_ERRORS.values())
    for name in GUIDE_TEMPLATES:
        text = (templates / name).read_text("utf-8")
        for _quote, msgid in re.findall(r"""_\((['"])(.*?)(?<!\\)\1\)""", text):
            found.add(msgid.replace("\\'", "'"))
    return found


@pytest.mark.parametrize("lang", ["ru", "sr"])
def test_every_guide_content_string_is_translated(lang: str) -> None:
    from pollwatch.web.i18n import load_catalogues

    used = _guide_msgids()
    assert len(used) > 50
    assert sorted(used - set(load_catalogues().messages[lang])) == []


def test_the_categories_of_the_store_all_have_labels() -> None:
    from pollwatch.store.guide_problems import PROBLEM_CATEGORIES
    from pollwatch.web.guide_content import CATEGORY_LABELS

    assert tuple(CATEGORY_LABELS) == PROBLEM_CATEGORIES


def test_the_pages_are_translated(site: Site) -> None:
    with anonymous(site) as client:
        ru = client.get(f"/guide/{ELECTION}/101/problem?lang=ru").text
        assert "Сообщить об ошибке на этой странице" in ru and "Неверные часы работы" in ru
        sr = client.get(f"/guide/{ELECTION}/info?lang=sr").text
        assert "Uputstvo za birače" in sr


# --- the cards partial, as the finder and station pages include it ----------------------------


def test_cards_for_a_station_use_its_own_schedule_and_zone() -> None:
    from datetime import UTC, datetime

    from pollwatch.observe.schedule import parse_schedule
    from pollwatch.web.guide_content import cards_for

    dates = {
        "registration_deadline": "2030-02-12T20:59:00Z",
        "registration_timezone": "Europe/Moscow",
        "schedule": "2030-03-17 08:00-20:00",
        "timezone": "Europe/Belgrade",
    }
    tbilisi = parse_schedule("2030-03-17 08:00-20:00", "Asia/Tbilisi")
    now = datetime(2030, 3, 17, 5, tzinfo=UTC)  # 09:00 in Tbilisi, 06:00 in Belgrade
    assert [c["kind"] for c in cards_for(dates, now, tbilisi)["cards"]] == ["open-now"]
    assert [c["kind"] for c in cards_for(dates, now)["cards"]] == ["opens-today"]
    assert cards_for({"registration_deadline": None}, now)["cards"] == []


@pytest.mark.parametrize("lang", ["en", "ru", "sr"])
def test_the_cards_partial_renders_every_kind(tmp_path: Path, lang: str) -> None:
    from pollwatch.guide.cards import CARD_KINDS
    from pollwatch.web.i18n import load_catalogues

    app = create_app(Settings(data_dir=tmp_path, home=tmp_path, rate_limit=0))
    template = app.state.templates.get_template("guide_cards.html")
    cards = [
        {"kind": kind, "at": "<b>12:00</b>", "zone": "Europe/Berlin", "days_left": 2,
         "urgent": True, "days": ["2030-03-17 08:00–20:00"], "reopens": "2030-03-18 08:00"}
        for kind in CARD_KINDS
    ]  # fmt: skip
    html = template.render(
        cards={"live_first": True, "cards": cards}, _=load_catalogues().gettext(lang)
    )
    assert html.count("<li") == len(CARD_KINDS) and "<b>" not in html
    assert all(f'data-kind="{kind}"' in html for kind in CARD_KINDS)
    assert template.render(cards=None, _=str).strip() == ""
    app.state.engine.dispose()


@pytest.mark.parametrize(
    "path",
    [
        "/guide/%3Cscript%3E/info",
        "/guide/no-such-election/info",
        "/guide/" + "e" * 500 + "/info.json",
        f"/guide/{ELECTION}/%00/problem",
        f"/guide/{ELECTION}/" + "9" * 500 + "/problem",
        f"/guide/{ELECTION}/..%2F..%2Fetc/problem",
    ],
)
def test_hostile_paths_get_a_clear_4xx(site: Site, path: str) -> None:
    with anonymous(site) as client:
        answer = client.get(path)
        posted = client.post(path, data={"category": "other", "text": "x"})
    assert answer.status_code in (400, 404)
    # the one error shape, as JSON (nosniff): an echoed id is never read as HTML
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert posted.status_code in (400, 404, 405)
