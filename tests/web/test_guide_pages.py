"""The voter guide's pages over HTTP (a real server, SQLite and PostgreSQL): search in any
script and with typos, a station's live status after an observer's report, staleness, the
totals under the embargo, the Atom feed, the per-route headers and cache, hostile input."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
import pytest
from tests.web.guide_fixtures import E, Served, serve_guide, wait_for

from pollwatch.store import set_embargo, set_incident_public


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    tiles = tmp_path_factory.mktemp("tiles")
    (tiles / "3" / "4").mkdir(parents=True)
    (tiles / "3" / "4" / "2.png").write_bytes(b"\x89PNG\r\n\x1a\n tile")
    yield from serve_guide(request.param, tmp_path_factory.mktemp("guide"), guide_tiles=str(tiles))


def _stations(served: Served, q: str) -> list[str]:
    answer = httpx.get(f"{served.base}/guide/{E}.json", params={"q": q})
    assert answer.status_code == 200, answer.text
    groups = answer.json()["result"]["groups"]
    return [s["station"] for g in groups for s in g["stations"]]


@pytest.mark.parametrize(
    "query", ["Белград", "Beograd", "Belgrade", "belgrad", "beogard", "Belgrd", "BEOGRAD"]
)
def test_every_spelling_of_belgrade_finds_the_belgrade_stations(served: Served, query: str) -> None:
    found = _stations(served, query)
    assert set(found[:2]) == {"8101", "8102"}, found
    assert "8201" not in found and "moskva-1" not in found


def test_stations_at_one_address_are_one_group(served: Served) -> None:
    answer = httpx.get(f"{served.base}/guide/{E}.json", params={"q": "Beograd"}).json()
    first = answer["result"]["groups"][0]
    assert [s["station"] for s in first["stations"]] == ["8101", "8102"]
    page = httpx.get(f"{served.base}/guide/{E}", params={"q": "Deligradska"})
    assert page.status_code == 200 and "stations at this place: 2" in page.text


@pytest.mark.parametrize(
    ("query", "station"),
    [("Novi Sad", "8103"), ("Нови Сад", "8103"), ("Berlin", "8201"), ("Берлин", "8201"),
     ("Germany", "8201"), ("Германия", "8201"), ("Unter den Linden", "8201"), ("8103", "8103"),
     ("Moskva Lenina", "moskva-1")],
)  # fmt: skip
def test_city_country_address_and_number_find_the_station(
    served: Served, query: str, station: str
) -> None:
    assert _stations(served, query)[0] == station


def test_plain_guide_search_goes_to_the_current_election(served: Served) -> None:
    answer = httpx.get(f"{served.base}/guide", params={"q": "Белград", "lang": "ru"})
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(f"/guide/{E}?q=")
    assert "lang=ru" in answer.headers["location"]
    page = httpx.get(f"{served.base}/guide", params={"q": "Белград"}, follow_redirects=True)
    assert "Посольство России" in page.text


def test_only_elections_with_a_registry_have_a_public_guide(served: Served) -> None:
    listed = httpx.get(f"{served.base}/guide.json").json()
    assert [e["id"] for e in listed["elections"]] == [E] and listed["current"] == E
    assert httpx.get(f"{served.base}/guide/draft").status_code == 404
    assert httpx.get(f"{served.base}/guide/draft/8101").status_code == 404
    assert E in httpx.get(f"{served.base}/guide").text


def test_a_report_changes_the_station_page_and_the_cache_follows(served: Served) -> None:
    url = f"{served.base}/guide/{E}/8201"
    before = httpx.get(f"{url}.json").json()
    assert before["status"]["queue"] is None and before["freshness"]["state"] == "none"
    report = served.count("8201", entered=90, queue=48, ballots_issued=90)
    served.age(report, timedelta(minutes=15))  # past the release time (10-minute buckets)

    def shows() -> bool:
        return httpx.get(f"{url}.json").json()["status"]["queue"] == 50

    wait_for(shows)
    data = httpx.get(f"{url}.json").json()
    assert data["freshness"]["state"] == "fresh"
    assert data["status"]["wait_minutes"] == 15  # 48 people at 3 a minute: 16 min, rounded
    low, high = data["status"]["wait_low"], data["status"]["wait_high"]
    assert low <= 15 <= high
    assert data["status"]["ballots_issued"] == 90 and data["status"]["ballots_received"] == 3000
    page = httpx.get(url).text
    assert "about 50 people" in page and "measured" in page and "No recent report" not in page
    assert f"likely {low} to {high} min" in page
    for secret in (report, "code_name", '"kind"'):
        assert secret not in page and secret not in httpx.get(f"{url}.json").text


def test_old_figures_are_labelled_no_recent_report(served: Served) -> None:
    report = served.count("8103", ago=timedelta(hours=3), entered=40, queue=12)
    served.age(report, timedelta(minutes=15))
    url = f"{served.base}/guide/{E}/8103"
    wait_for(lambda: httpx.get(f"{url}.json").json()["freshness"]["state"] == "stale")
    page = httpx.get(url).text
    assert 'class="status stale"' in page and "No recent report" in page


def test_ballots_warning_and_public_incidents_only(served: Served) -> None:
    served.count("8102", entered=1400, queue=200, ballots_issued=1450)
    hidden = served.submit("8102", kind="incident", category="pressure", text="a secret text")
    shown = served.submit("8102", kind="incident", category="ballot_shortage", text="no ballots")
    for report in (hidden, shown):
        served.age(report, timedelta(minutes=15))
    set_incident_public(served.engine, E, shown, True, by="coord")
    url = f"{served.base}/guide/{E}/8102"
    wait_for(lambda: "no ballots" in httpx.get(url).text)  # the audit entry moves the cache
    page = httpx.get(url).text
    assert 'id="ballots-warning"' in page and "a secret text" not in page
    feed = httpx.get(f"{url}/feed.atom")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(feed.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = [e.findtext("a:title", namespaces=ns) for e in root.findall("a:entry", ns)]
    assert "Ballot shortage" in titles and "a secret text" not in feed.text


def test_totals_are_aggregates_and_official_figures_wait_for_the_embargo(served: Served) -> None:
    report = served.count("8101", entered=120, queue=30, ballots_issued=120)
    served.age(report, timedelta(minutes=15))
    url = f"{served.base}/guide/{E}/totals"
    wait_for(lambda: httpx.get(f"{url}.json").json()["reporting"] >= 1)
    data = httpx.get(f"{url}.json").json()
    assert data["stations"] == 5 and data["turnout"] is None and data["live"] is False
    assert sum(p["people"] for p in data["entered_per_hour"]) >= 120
    assert any(q["station"] == "8101" for q in data["longest_queues"])
    page = httpx.get(url).text
    assert "<svg" in page and 'id="totals-after"' in page
    set_embargo(served.engine, E, datetime.now(UTC) - timedelta(minutes=1), by="coord")
    try:
        wait_for(lambda: 'id="totals-turnout"' in httpx.get(url).text)
        data = httpx.get(f"{url}.json").json()
        assert data["live"] is True and data["turnout"] is not None
    finally:
        set_embargo(served.engine, E, None, by="coord")


def test_headers_per_route_cache_and_etag(served: Served) -> None:
    finder = httpx.get(f"{served.base}/guide/{E}")
    assert "geolocation=(self)" in finder.headers["permissions-policy"]
    assert finder.headers["cache-control"] == "public, max-age=30"
    station = httpx.get(f"{served.base}/guide/{E}/8101")
    assert "geolocation=()" in station.headers["permissions-policy"]
    assert station.headers["cache-control"].startswith("public")
    again = httpx.get(
        f"{served.base}/guide/{E}/8101", headers={"if-none-match": station.headers["etag"]}
    )
    assert again.status_code == 304 and not again.content
    private = httpx.get(f"{served.base}/coordinate/login")
    assert private.headers["cache-control"] == "no-store"
    assert "geolocation=()" in private.headers["permissions-policy"]
    missing = httpx.get(f"{served.base}/guide/{E}/9999")
    assert missing.status_code == 404 and missing.headers["cache-control"] == "no-store"
    for page in (finder, station):
        assert "default-src 'self'" in page.headers["content-security-policy"]


def test_station_page_is_under_100_kb_with_everything_it_loads(served: Served) -> None:
    page = httpx.get(f"{served.base}/guide/{E}/8101")
    total = len(page.content)
    for asset in ("/static/style.css", "/static/guide.css", "/static/guide.js"):
        assert asset in page.text
        total += len(httpx.get(served.base + asset).content)
    assert total < 100_000, total  # the map (Leaflet) loads only when asked for


def test_tiles_come_from_our_own_origin(served: Served) -> None:
    tile = httpx.get(f"{served.base}/tiles/3/4/2.png")
    assert tile.status_code == 200 and tile.headers["content-type"] == "image/png"
    assert "max-age=86400" in tile.headers["cache-control"]
    for bad in ("3/8/2", "3/4/9", "20/1/1", "x/1/1", "3/4/99999999999", "-1/0/0"):
        assert httpx.get(f"{served.base}/tiles/{bad}.png").status_code in (400, 404, 422)


HOSTILE = [
    "x" * 201,
    "a" * 10_000,
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "\x00\x01\x02",
    "%00",
    "🗳️" * 50,
    "Ｂｅｏｇｒａｄ",
    "\u202eдаргоеБ",
    "' OR 1=1 --",
    "../../../etc/passwd",
    " " * 150,
    "д" * 199,
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_searches_are_refused_or_escaped(served: Served, query: str) -> None:
    for path in (f"/guide/{E}", f"/guide/{E}.json", "/guide"):
        answer = httpx.get(f"{served.base}{path}", params={"q": query})
        assert answer.status_code < 500, (path, answer.text)
        if answer.status_code == 200 and path != f"/guide/{E}.json":
            assert "<script>alert" not in answer.text and "<img src=x" not in answer.text
        elif answer.status_code >= 400:
            assert answer.json()["error"]["status"] == answer.status_code


@pytest.mark.parametrize(
    "path",
    [
        f"/guide/{E}/{quote('уик-1')}",
        f"/guide/{E}/{'9' * 65}",
        f"/guide/{E}/..%2F..%2Fetc",
        f"/guide/{E}/%00",
        f"/guide/{E}/8101%3Cscript%3E",
        f"/guide/{E}/nope.json",
        f"/guide/{E}/nope/feed.atom",
        f"/guide/{quote('выборы')}",
        f"/guide/{'e' * 65}/8101",
        f"/guide/{E}?lat=91&lon=0",
        f"/guide/{E}?lat=abc&lon=1",
        f"/guide/{E}?lat=1e400&lon=1",
        f"/guide/{E}?lat={'1' * 40}&lon=1",
        f"/guide/{E}?lat=1",
    ],
)
def test_bad_ids_and_coordinates_are_4xx_never_500(served: Served, path: str) -> None:
    answer = httpx.get(served.base + path)
    assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.text)
    assert answer.headers["content-type"] == "application/json"  # echoed text is no markup
    assert answer.json()["error"]["status"] == answer.status_code


def test_near_me_without_script_lists_the_nearest(served: Served) -> None:
    page = httpx.get(f"{served.base}/guide/{E}", params={"lat": "45.25", "lon": "19.85"})
    assert page.status_code == 200
    assert page.text.index("Генконсульство") < page.text.index("Посольство России")
    located = httpx.get(f"{served.base}/guide/{E}/stations.json").json()
    assert {row[0] for row in located["stations"]} == {"8101", "8102", "8103", "8201"}


def test_the_located_registry_is_sent_compressed_to_who_takes_it(served: Served) -> None:
    url = f"{served.base}/guide/{E}/stations.json"
    plain = httpx.get(url, headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.headers["vary"] == "Accept-Encoding"
    for taken in ("gzip", "br, gzip;q=0.5, deflate", "GZIP"):
        packed = httpx.get(url, headers={"accept-encoding": taken})
        assert packed.headers["content-encoding"] == "gzip", taken
        assert packed.headers["vary"] == "Accept-Encoding"
        assert packed.json() == plain.json()  # httpx undoes the gzip
        assert packed.headers["etag"] != plain.headers["etag"]  # two representations
        again = httpx.get(
            url, headers={"accept-encoding": taken, "if-none-match": packed.headers["etag"]}
        )
        assert again.status_code == 304
    refused = httpx.get(url, headers={"accept-encoding": "gzip;q=0, identity"})
    assert "content-encoding" not in refused.headers and refused.json() == plain.json()


def test_pages_speak_russian_and_serbian(served: Served) -> None:
    ru = httpx.get(f"{served.base}/guide/{E}/8101", params={"lang": "ru"}).text
    sr = httpx.get(f"{served.base}/guide/{E}/8101", params={"lang": "sr"}).text
    assert "Часы работы" in ru and "Radno vreme" in sr
    assert '<html lang="ru">' in ru and '<html lang="sr">' in sr


def test_guide_pages_link_to_the_guidance_and_the_problem_form(served: Served) -> None:
    page = httpx.get(f"{served.base}/guide/{E}/8101").text
    assert f'href="/guide/{E}/info"' in page
    assert f'href="/guide/{E}/8101/problem"' in page


def test_every_guide_string_is_translated() -> None:
    import re
    from importlib import resources

    from pollwatch.web.i18n import read_catalogues

    web = resources.files("pollwatch.web")
    own = re.compile(r"guide_(?!info|problem|cards).*\.html")  # other parts' templates
    mine = [f for f in (web / "templates").iterdir() if own.fullmatch(f.name)]
    texts = [f.read_text(encoding="utf-8") for f in mine] + [(web / "guide.py").read_text()]
    wanted = {
        m[2].replace("\\'", "'")
        for t in texts
        for m in re.finditer(r"""(?<![\w.])_\((['"])((?:\\.|(?!\1).)*)\1\)""", t)
    }
    catalogues = read_catalogues("guide")
    for lang in ("ru", "sr"):
        missing = sorted(wanted - set(catalogues[lang]))
        assert not missing, (lang, missing)


def test_a_crowd_of_readers_is_answered_from_memory(served: Served) -> None:
    """Hundreds of reads of one page and its status build each answer about once (one more
    per second, when the version is read again), while reports keep arriving."""
    cache = served.app.state.guide_cache
    paths = [f"/guide/{E}/8103", f"/api/v1/public/elections/{E}/stations/8103/status"]
    with httpx.Client(base_url=served.base) as client:
        for path in paths:
            assert client.get(path).status_code == 200
        before = cache.misses
        served.count("8103", entered=10, queue=3)  # arrives after the release time
        for _ in range(150):
            for path in paths:
                answer = client.get(path)
                assert answer.status_code == 200 and answer.headers["etag"]
                assert answer.headers["cache-control"].startswith("public")
    assert cache.misses - before <= 4, cache.misses - before
