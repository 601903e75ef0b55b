"""The coach's HTTP API against a real uvicorn server: answers, errors, privacy headers."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest


@pytest.fixture()
def client(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, timeout=30) as c:
        yield c


def test_ask_in_russian_gives_three_steps_with_sources(client: httpx.Client) -> None:
    r = client.post("/api/v1/coach/ask", json={"text": "Ну а если не Путин, то кто тогда?"})
    assert r.status_code == 200
    data = r.json()
    assert data["status"] == "confident"
    assert data["matches"][0]["id"] == "no-alternative"
    answer = data["answer"]
    assert answer["lang"] == "ru"
    assert answer["question"].endswith("?")
    assert answer["bridge"] and answer["counterargument"]
    assert all(s["url"].startswith("http") for s in answer["sources"])


def test_ask_in_english_with_typos(client: httpx.Client) -> None:
    r = client.post("/api/v1/coach/ask", json={"text": "sanctons only make us stronger lol"})
    assert r.status_code == 200
    assert r.json()["matches"][0]["id"] == "sanctions-help"


def test_unrelated_text_offers_topics(client: httpx.Client) -> None:
    r = client.post(
        "/api/v1/coach/ask", json={"text": "what is the recipe for borscht", "lang": "en"}
    )
    data = r.json()
    assert data["status"] in {"none", "choose"}
    if data["status"] == "none":
        assert data["topics"] and data["topics"][0]["arguments"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "x" * 2001}, "text"),
        ({"text": "hello", "lang": "de"}, "lang"),
        ({"text": "hello", "extra": 1}, "extra"),
        ({"text": 5}, "text"),
        ({}, "text"),
    ],
)
def test_bad_ask_bodies_name_the_field(
    client: httpx.Client, body: dict[str, object], field: str
) -> None:
    r = client.post("/api/v1/coach/ask", json=body)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == field


def test_malformed_and_oversized_bodies(client: httpx.Client) -> None:
    r = client.post(
        "/api/v1/coach/ask", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and "error" in r.json()
    r = client.post(
        "/api/v1/coach/ask", content=b"[" * 200_000, headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    assert r.json()["error"]["status"] == 413


def test_hostile_text_is_answered_not_executed(client: httpx.Client) -> None:
    text = "<script>alert(1)</script>\x00\x07 если не путин то кто 🙂"
    r = client.post("/api/v1/coach/ask", json={"text": text})
    assert r.status_code == 200
    page = client.get("/coach", params={"q": text})
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text


def test_practice_round_trip_and_tampered_state(client: httpx.Client) -> None:
    start = client.post("/api/v1/coach/practice", json={"argument": "stability", "lang": "en"})
    assert start.status_code == 200
    state = start.json()["state"]
    empathic = client.post(
        "/api/v1/coach/practice/reply",
        json={
            "state": state,
            "text": "I understand, the nineties were frightening for our family too. "
            "What do you remember most about those years?",
        },
    ).json()
    hostile = client.post(
        "/api/v1/coach/practice/reply",
        json={"state": state, "text": "You always repeat TV nonsense, you idiot."},
    ).json()
    assert empathic["feedback"]["total"] > hostile["feedback"]["total"]
    assert empathic["relative"] != hostile["relative"]
    bad = client.post(
        "/api/v1/coach/practice/reply", json={"state": {"argument_id": "x"}, "text": "hi"}
    )
    assert 400 <= bad.status_code < 500
    bad = client.post(
        "/api/v1/coach/practice/reply",
        json={"state": {**state, "turns": "many"}, "text": "hi"},
    )
    assert 400 <= bad.status_code < 500


def test_unknown_argument_is_404(client: httpx.Client) -> None:
    r = client.get("/api/v1/coach/arguments/does-not-exist")
    assert r.status_code == 404
    assert r.json()["error"]["status"] == 404


def test_pages_send_privacy_headers_and_json_twin(client: httpx.Client) -> None:
    r = client.get("/coach", params={"lang": "ru"})
    assert r.status_code == 200
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["referrer-policy"] == "same-origin"  # no referrer leaves our site
    assert "Тренер разговора" in r.text
    twin = client.get("/coach.json", params={"q": "If not Putin, then who?"}).json()
    assert twin["result"]["answer"]["argument_id"] == "no-alternative"
    assert len(twin["arguments"]) >= 16


def test_openapi_documents_the_coach_api(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/coach/ask", "/api/v1/coach/practice", "/api/v1/coach/practice/reply"):
        assert path in paths


def test_reports_written_by_the_demo_are_served(live_server: str, settings: Any) -> None:
    (settings.home / "reports").mkdir(parents=True, exist_ok=True)
    (settings.home / "reports" / "sample.html").write_text("<h1>report</h1>", encoding="utf-8")
    with httpx.Client(base_url=live_server) as c:
        assert "/reports/sample.html" in c.get("/index.json").json()["reports"]
        assert c.get("/reports/sample.html").text == "<h1>report</h1>"
        assert c.get("/reports/../pyproject.toml").status_code == 404


@pytest.mark.parametrize("seed", [-1, 2**40, "x"])
def test_practice_rejects_bad_seeds(client: httpx.Client, seed: object) -> None:
    r = client.post("/api/v1/coach/practice", json={"lang": "en", "seed": seed})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "seed"


def _article_text(html: str) -> str:
    """The text of the answer article minus links (URLs and source titles may be in any
    language)."""
    article = html[html.index('<article class="answer"') : html.index("</article>")]
    article = re.sub(r"<a\b[^>]*>.*?</a>", " ", article, flags=re.S)
    sources = article.find('<ul class="sources">')
    if sources >= 0:
        article = article[:sources] + article[article.index("</ul>", sources) :]
    return re.sub(r"<[^>]+>", " ", article)


def test_every_answer_page_warns_first_in_the_readers_language(client: httpx.Client) -> None:
    ids = [a["id"] for a in client.get("/api/v1/coach/arguments").json()["arguments"]]
    latin = re.compile(r"(?<![\w/.-])[A-Za-z][A-Za-z'’-]*[A-Za-z](?![\w/-])")
    for arg_id in ids:
        page = client.get("/coach", params={"lang": "ru", "argument": arg_id}).text
        article = page[page.index('<article class="answer"') :]
        assert article.index('class="warnings"') < article.index('class="step bridge"')
        assert "/coach/safety?lang=ru" in article
        text = _article_text(page)
        assert set(latin.findall(text)) <= {"VPN"}, (arg_id, latin.findall(text))
        api = client.get(f"/api/v1/coach/arguments/{arg_id}", params={"lang": "ru"}).json()
        for risk in api["answer"]["risks"]:
            assert risk["text"] in html.unescape(page)


def test_war_answers_carry_their_statute_in_every_interface(client: httpx.Client) -> None:
    data = client.post("/api/v1/coach/ask", json={"text": "на Украине у власти нацисты"}).json()
    risks = data["answer"]["risks"]
    assert risks and risks[0]["law"] == "cao-20-3-3" and "КоАП" in risks[0]["text"]
    assert data["answer"]["warnings"][0] == risks[0]["text"]
    assert data["answer"]["reviewed_by"] and data["answer"]["review_date"]


def test_safety_note_page_json_and_api(client: httpx.Client) -> None:
    page = client.get("/coach/safety", params={"lang": "ru"})
    assert page.status_code == 200 and "ст. 141 УК" in page.text
    twin = client.get("/coach/safety.json", params={"lang": "en"}).json()["note"]
    assert any("phone" in p for p in twin["points"])
    api = client.get("/api/v1/coach/safety", params={"lang": "ru"}).json()["note"]
    assert api["points"] and api["reviewed_by"]
    assert client.get("/api/v1/coach/safety", params={"lang": "de"}).status_code == 422


def test_out_of_scope_gets_the_general_answer(client: httpx.Client) -> None:
    data = client.post("/api/v1/coach/ask", json={"text": "Миром правят рептилоиды"}).json()
    assert data["status"] == "none" and data["general"]["question"].endswith("?")
    mixed = client.post(
        "/api/v1/coach/ask",
        json={"text": "Санкции нам только на пользу. А те, кто уехал, — предатели"},
    ).json()
    assert mixed["status"] == "choose" and mixed["mixed"] is True
    assert {"sanctions-help", "those-who-left"} <= {m["id"] for m in mixed["matches"]}
