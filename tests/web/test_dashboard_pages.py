"""The coordinators' pages and the press page over HTTP, on a live uvicorn server.

Login goes through the form with its double-submit CSRF token; every page asks for a
session; the invites form creates working one-time invites, each shown with its link and a
QR code of exactly that link; the press page shows the ledger head and nothing that
identifies a station's incidents or an observer; hostile form input gets a 4xx naming the
field; HSTS is sent only to requests that came over TLS.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import segno
from tests.web.servers import serve_in_thread

from pollwatch.config import Settings
from pollwatch.store import (
    add_coordinator,
    add_scope,
    create_election,
    create_invites,
    import_stations,
    list_audit,
    observer_for_token,
    open_store,
    public_ledger_head,
    redeem_invite,
    store_report,
)
from pollwatch.web.app import create_app
from pollwatch.web.dashboard import MAX_INVITES

ELECTION = "pages-2026"
PASSWORD = "a long enough password"
HOSTILE_NAME = '<img src=x onerror="alert(1)">'
INCIDENT_TEXT = "Man in grey jacket photographs ballots at desk 3"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = tmp_path_factory.mktemp("pages")
    engine = open_store(f"sqlite:///{home / 'db.sqlite'}")
    add_coordinator(engine, "coord", PASSWORD)
    create_election(engine, ELECTION, name="Pages test election")
    import_stations(
        engine,
        ELECTION,
        [
            {"station": "8101", "name": "Embassy", "country": "RS", "lat": 44.8, "lon": 20.46},
            {"station": "8102", "name": "Consulate", "country": "RS", "lat": 45.25, "lon": 19.84},
            {"station": "8103", "name": HOSTILE_NAME, "city": "<b>Town</b>"},
        ],
    )
    add_scope(engine, "coord", ELECTION, actor="test")
    engine.info_home = home  # type: ignore[attr-defined]
    return engine


@pytest.fixture(scope="module")
def base_url(engine: Any) -> Iterator[str]:
    home: Path = engine.info_home
    settings = Settings(
        data_dir=home,
        home=home,
        database_url=str(engine.url),
        rate_limit=0,
    )
    with serve_in_thread(create_app(settings)) as url:
        yield url


def _csrf_from_form(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', page)
    assert found, "the form carries a hidden csrf field"
    return found.group(1)


@contextmanager
def _logged_in(base_url: str) -> Iterator[httpx.Client]:
    """A client that logged in through the form, as a coordinator's browser does."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        form = client.get("/coordinate/login")
        assert form.status_code == 200
        answer = client.post(
            "/coordinate/login",
            data={"name": "coord", "password": PASSWORD, "csrf": _csrf_from_form(form.text)},
        )
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/coordinate"
        yield client


@pytest.fixture()
def coordinator(base_url: str) -> Iterator[httpx.Client]:
    with _logged_in(base_url) as client:
        yield client


# --- login ------------------------------------------------------------------------------------


def test_login_form_sets_the_csrf_cookie_and_copies_it_into_the_form(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as client:
        form = client.get("/coordinate/login")
        assert form.status_code == 200
        cookie = client.cookies.get("pollwatch_csrf")
        assert cookie and len(cookie) >= 32
        assert _csrf_from_form(form.text) == cookie
        assert 'autocomplete="current-password"' in form.text
        assert '<label for="login-password">' in form.text


@pytest.mark.parametrize("token", [None, "", "wrong-token-of-some-length-0123456789"])
def test_login_without_the_right_csrf_token_is_refused(base_url: str, token: str | None) -> None:
    with httpx.Client(base_url=base_url) as client:
        client.get("/coordinate/login")
        data = {"name": "coord", "password": PASSWORD}
        if token is not None:
            data["csrf"] = token
        answer = client.post("/coordinate/login", data=data)
        assert answer.status_code == 403
        assert answer.json()["error"]["field"] == "X-CSRF-Token"
        assert "pollwatch_session" not in answer.cookies


def test_login_from_another_site_without_our_cookie_is_refused(base_url: str) -> None:
    """A cross-site form can post a token it made up, but cannot make our cookie match it."""
    with httpx.Client(base_url=base_url) as client:
        answer = client.post(
            "/coordinate/login", data={"name": "coord", "password": PASSWORD, "csrf": "x" * 43}
        )
        assert answer.status_code == 403


def test_wrong_password_shows_the_form_again_with_401(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as client:
        form = client.get("/coordinate/login?lang=ru")
        answer = client.post(
            "/coordinate/login?lang=ru",
            data={
                "name": "coord",
                "password": "not the password",
                "csrf": _csrf_from_form(form.text),
            },
        )
        assert answer.status_code == 401
        assert answer.headers["content-type"].startswith("text/html")
        assert 'role="alert"' in answer.text
        assert "Неверное имя или пароль" in answer.text
        assert 'value="coord"' in answer.text, "the name is kept, the password is not"
        assert "not the password" not in answer.text
        assert "pollwatch_session" not in answer.cookies


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "coord"}, "password"),
        ({"name": "", "password": PASSWORD}, "name"),
        ({"name": "c" * 1001, "password": PASSWORD}, "name"),
        ({"name": "coord", "password": "p" * 1001}, "password"),
    ],
)
def test_malformed_login_forms_get_a_4xx_naming_the_field(
    base_url: str, data: dict[str, str], field: str
) -> None:
    with httpx.Client(base_url=base_url) as client:
        token = _csrf_from_form(client.get("/coordinate/login").text)
        answer = client.post("/coordinate/login", data={**data, "csrf": token})
        assert answer.status_code == 400
        assert answer.json()["error"]["field"] == field


def test_a_file_in_the_login_form_is_refused(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as client:
        token = _csrf_from_form(client.get("/coordinate/login").text)
        answer = client.post(
            "/coordinate/login",
            data={"name": "coord", "csrf": token},
            files={"password": ("p.txt", b"a long enough password", "text/plain")},
        )
        assert 400 <= answer.status_code < 500
        assert "pollwatch_session" not in answer.cookies


def test_login_opens_the_same_session_as_the_api(coordinator: httpx.Client) -> None:
    session = coordinator.cookies.get("pollwatch_session")
    assert session
    # The JSON API accepts the page's session cookie.
    record = coordinator.get(f"/api/v1/elections/{ELECTION}/stations/8101")
    assert record.status_code == 200
    elections = coordinator.get("/coordinate")
    assert elections.status_code == 200
    assert "Pages test election" in elections.text
    assert f'href="/coordinate/{ELECTION}/invites' in elections.text


def test_login_cookie_flags(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as client:
        form = client.get("/coordinate/login")
        answer = client.post(
            "/coordinate/login",
            data={"name": "coord", "password": PASSWORD, "csrf": _csrf_from_form(form.text)},
        )
        cookies = answer.headers.get_list("set-cookie")
        session = next(c for c in cookies if c.startswith("pollwatch_session="))
        assert "HttpOnly" in session and "SameSite=strict" in session
        csrf = next(c for c in cookies if c.startswith("pollwatch_csrf="))
        assert "HttpOnly" not in csrf, "the dashboard's script reads it"
        assert csrf.split(";")[0].split("=", 1)[1] != _csrf_from_form(form.text), "rotated"


def test_logout_needs_the_csrf_field_and_ends_the_session(base_url: str) -> None:
    with _logged_in(base_url) as client:
        assert client.post("/coordinate/logout").status_code == 403
        still = client.get("/coordinate")
        assert still.status_code == 200
        csrf = client.cookies.get("pollwatch_csrf")
        out = client.post("/coordinate/logout", data={"csrf": csrf})
        assert out.status_code == 303
        assert out.headers["location"] == "/coordinate/login"
        assert client.get("/coordinate").status_code == 303


def test_login_is_rate_limited_per_address(engine: Any) -> None:
    home: Path = engine.info_home
    settings = Settings(data_dir=home, home=home, database_url=str(engine.url), rate_limit=1)
    with serve_in_thread(create_app(settings)) as url, httpx.Client(base_url=url) as client:
        form = client.get("/coordinate/login")
        token = _csrf_from_form(form.text)
        first = client.post(
            "/coordinate/login", data={"name": "coord", "password": "wrong!", "csrf": token}
        )
        assert first.status_code == 401
        # The limit is checked before anything else, so cheap refused posts use it up too.
        statuses = [
            client.post("/coordinate/login", data={"name": "coord", "password": "x"}).status_code
            for _ in range(40)
        ]
        assert set(statuses[:15]) == {403}, "under the limit: refused for the missing CSRF token"
        assert 429 in statuses, "20 tries a minute per address at rate limit 1"
        limited = client.post(
            "/coordinate/login", data={"name": "coord", "password": PASSWORD, "csrf": token}
        )
        assert limited.status_code == 429, "even the right password waits"


# --- pages need a session -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/coordinate", f"/coordinate/{ELECTION}", f"/coordinate/{ELECTION}/invites"],
)
def test_pages_redirect_to_login_when_logged_out(base_url: str, path: str) -> None:
    with httpx.Client(base_url=base_url) as client:
        answer = client.get(path + "?lang=sr")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/coordinate/login?lang=sr"
        client.cookies.set("pollwatch_session", "forged-session-token")
        assert client.get(path).status_code == 303


def test_invites_post_without_session_is_refused(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as client:
        client.get("/coordinate/login")
        csrf = client.cookies.get("pollwatch_csrf")
        answer = client.post(f"/coordinate/{ELECTION}/invites", data={"count": "3", "csrf": csrf})
        assert answer.status_code == 401


def test_dashboard_page_renders_the_registry_before_any_script(
    coordinator: httpx.Client,
) -> None:
    page = coordinator.get(f"/coordinate/{ELECTION}")
    assert page.status_code == 200
    text = page.text
    assert 'data-station="8101"' in text and 'data-station="8102"' in text
    assert HOSTILE_NAME not in text and "<b>Town" not in text, "registry text is escaped"
    assert "&lt;img src=x onerror=" in text
    assert '<th scope="col">' in text
    assert 'aria-live="polite"' in text
    assert "<script>" not in text and "style=" not in text, "CSP: no inline script or style"
    assert '<script src="/static/vendor/leaflet/leaflet.js"' in text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for asset in (
        "/static/dashboard.js",
        "/static/dashboard.css",
        "/static/vendor/leaflet/leaflet.js",
        "/static/vendor/leaflet/leaflet.css",
        "/static/vendor/world-atlas/countries-110m.geojson",
    ):
        assert coordinator.get(asset).status_code == 200, asset


def test_dashboard_links_to_every_coordination_page(coordinator: httpx.Client) -> None:
    """The dashboard is where coordinators start: each part's page is one click away."""
    text = coordinator.get(f"/coordinate/{ELECTION}").text
    for part in (
        "incidents",
        "roster",
        "checklists/results",
        "messages",
        "guide",
        "guide/problems",
    ):
        href = f'href="/coordinate/{ELECTION}/{part}?lang=en"'
        assert href in text, part
        assert coordinator.get(f"/coordinate/{ELECTION}/{part}").status_code == 200, part


def test_dashboard_page_renders_the_live_figures_on_the_server(
    coordinator: httpx.Client, engine: Any
) -> None:
    create_election(engine, "render-2026")
    import_stations(engine, "render-2026", [{"station": "r1"}, {"station": "r2"}])
    add_scope(engine, "coord", "render-2026", actor="test")
    token = redeem_invite(engine, create_invites(engine, "render-2026", 1)[0].code).token
    now = datetime.now(UTC).isoformat()
    for body in (
        {"kind": "status", "status": "opened", "queue": 9},
        {"kind": "incident", "category": "violence"},
    ):
        report = {"id": str(uuid.uuid4()), "election": "render-2026", "station": "r1"}
        store_report(
            engine,
            {**report, "observed_at": now, **body},
            observer=observer_for_token(engine, token),
        )
    text = coordinator.get("/coordinate/render-2026?lang=ru").text
    row = text[text.index('<tr data-station="r1">') :]
    row = row[: row.index("</tr>")]
    assert '<td data-col="status" class="status-opened">Открылся</td>' in row
    assert '<td data-col="reports" class="num">2</td>' in row
    assert '<td data-col="incidents" class="num">1</td>' in row
    assert '<td data-col="queue" class="num">9</td>' in row
    assert " UTC</td>" in row
    assert '<dd id="t-reporting">1</dd>' in text and '<dd id="t-incidents">1</dd>' in text
    assert 'id="tolerance" name="tolerance" min="0" max="100" step="0.5" value="5"' in text


def test_unknown_or_hostile_election_ids_are_refused_and_escaped(coordinator: httpx.Client) -> None:
    # Outside the coordinator's scopes: 403 whether the election exists or not (an id
    # cannot be probed).
    assert coordinator.get("/coordinate/no-such-election").status_code == 403
    hostile = "<script>alert(1)</script>"
    for path in (f"/coordinate/{hostile}", f"/coordinate/{hostile}/invites", f"/press/{hostile}"):
        answer = coordinator.get(path)
        assert answer.status_code == 404, path
        assert "<script>alert" not in answer.text


# --- invites ------------------------------------------------------------------------------------


def test_invites_form_creates_working_invites_with_qr_codes(
    coordinator: httpx.Client, engine: Any, base_url: str
) -> None:
    csrf = coordinator.cookies.get("pollwatch_csrf")
    form = coordinator.get(f"/coordinate/{ELECTION}/invites")
    assert form.status_code == 200
    assert _csrf_from_form(form.text) == csrf
    answer = coordinator.post(
        f"/coordinate/{ELECTION}/invites",
        data={"count": "3", "stations": "8101, 8102", "csrf": csrf},
    )
    assert answer.status_code == 201, answer.text
    urls = [html.unescape(u) for u in re.findall(r'class="invite-url" href="([^"]+)"', answer.text)]
    qrs = [html.unescape(q) for q in re.findall(r'<img class="qr" src="([^"]+)"', answer.text)]
    assert len(urls) == 3 and len(set(urls)) == 3
    assert len(qrs) == 3
    for url, qr in zip(urls, qrs, strict=True):
        assert url.startswith(f"{base_url}/observe/join/")
        # The QR code encodes exactly this link (segno is deterministic for the same input).
        assert qr == segno.make(url, error="m").svg_data_uri(scale=4, border=2)
    # Every link works once, through the API, and is bound to the stations asked for.
    code = urls[0].rsplit("/", 1)[1]
    with httpx.Client(base_url=base_url) as phone:
        redeemed = phone.post(f"/api/v1/invites/{code}/redeem")
        assert redeemed.status_code == 201
        assert redeemed.json()["stations"] == ["8101", "8102"]
        assert phone.post(f"/api/v1/invites/{code}/redeem").status_code == 401
    audit = [a for a in list_audit(engine, limit=20) if a["action"] == "invites.create"]
    assert audit[0]["actor"] == "coord"
    assert audit[0]["detail"] == {"count": 3, "stations": ["8101", "8102"]}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"count": "0"}, "count"),
        ({"count": "-5"}, "count"),
        ({"count": str(MAX_INVITES + 1)}, "count"),
        ({"count": "9" * 40}, "count"),
        ({"count": "three"}, "count"),
        ({"count": "1e3"}, "count"),
        ({"count": ""}, "count"),
        ({}, "count"),
        ({"count": "1", "stations": "9999"}, "stations"),
        ({"count": "1", "stations": "<script>alert(1)</script>"}, "stations"),
        ({"count": "1", "stations": "x" * 9000}, "stations"),
    ],
)
def test_hostile_invite_forms_get_a_4xx_naming_the_field(
    coordinator: httpx.Client, data: dict[str, str], field: str
) -> None:
    csrf = coordinator.cookies.get("pollwatch_csrf")
    answer = coordinator.post(f"/coordinate/{ELECTION}/invites", data={**data, "csrf": csrf})
    assert 400 <= answer.status_code < 500, answer.text
    error = answer.json()["error"]
    assert error["field"] == field
    assert "<script>" not in answer.text.replace("\\u003c", "<") or answer.headers[
        "content-type"
    ].startswith("application/json")


def test_invite_form_without_csrf_is_refused_and_creates_nothing(
    coordinator: httpx.Client, engine: Any
) -> None:
    before = len(list_audit(engine, limit=1000))
    answer = coordinator.post(f"/coordinate/{ELECTION}/invites", data={"count": "2"})
    assert answer.status_code == 403
    assert len(list_audit(engine, limit=1000)) == before


def test_oversized_and_malformed_form_bodies_are_refused(coordinator: httpx.Client) -> None:
    csrf = coordinator.cookies.get("pollwatch_csrf") or ""
    huge = coordinator.post(
        f"/coordinate/{ELECTION}/invites", data={"count": "1", "stations": "8101 " * 40_000}
    )
    assert huge.status_code == 413
    garbage = coordinator.post(
        f"/coordinate/{ELECTION}/invites",
        content=b"--x\r\nnot really multipart",
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert 400 <= garbage.status_code < 500
    many = coordinator.post(
        f"/coordinate/{ELECTION}/invites",
        data={**{f"f{i}": "1" for i in range(100)}, "count": "1", "csrf": csrf},
    )
    assert 400 <= many.status_code < 500
    assert many.json()["error"]["field"] == "body"


# --- the press page -----------------------------------------------------------------------------


def seed_quick_count(engine: Any, election: str, *, protocols: int = 24) -> None:
    """An election of 30 stations whose stored sample of 24 has ``protocols`` copies in.

    Polls have closed everywhere (the embargo is over), so the press page shows it.
    """
    import pandas as pd

    from pollwatch.store import set_embargo
    from pollwatch.store.pvt import store_sample

    create_election(engine, election, name="Quick count election")
    set_embargo(engine, election, "2024-01-01T00:00:00Z", by="test")
    import_stations(
        engine,
        election,
        [{"station": f"7{i:02d}", "registered": 1000, "country": "AB"[i % 2]} for i in range(30)],
    )
    sampled = [f"7{i:02d}" for i in range(24)]
    sample = pd.DataFrame({"station": sampled, "country": ["AB"[i % 2] for i in range(24)]})
    store_sample(engine, election, sample, strata_column="country", seed=1)
    token = redeem_invite(engine, create_invites(engine, election, 1)[0].code).token
    for i, station in enumerate(sampled[:protocols]):
        alpha, beta = 380 + (i * 37) % 120, 280 + (i * 53) % 90
        figures = {
            "registered": 1000,
            "issued_premises": alpha + beta + 10,
            "valid": alpha + beta,
            "invalid": 10,
            "votes": {"Alpha": alpha, "Beta": beta},
        }
        body = {
            "id": str(uuid.uuid4()),
            "election": election,
            "station": station,
            "kind": "protocol",
            "observed_at": datetime.now(UTC).isoformat(),
            "figures": figures,
        }
        store_report(engine, body, observer=observer_for_token(engine, token))


def test_press_page_shows_the_quick_count_with_intervals_and_response(
    base_url: str, engine: Any
) -> None:
    seed_quick_count(engine, "pvt-2026")
    with httpx.Client(base_url=base_url) as anyone:
        page = anyone.get("/press/pvt-2026?lang=sr")
        assert page.status_code == 200
        table = page.text[page.text.index('id="press-pvt"') :]
        assert "Alpha" in table and "Beta" in table
        assert "Izlaznost (cast)" in table
        strata = page.text[page.text.index('id="press-strata"') :]
        assert "Primljeni protokoli iz uzorka, po slojevima" in strata
        assert strata.count('<td class="num">12</td>') >= 4  # 12 of 12 in both strata
        for station in ("700", "717"):
            assert f">{station}<" not in page.text, "no sampled station is named"


def test_press_page_says_not_enough_protocols_yet(base_url: str, engine: Any) -> None:
    seed_quick_count(engine, "pvt-2027", protocols=4)
    with httpx.Client(base_url=base_url) as anyone:
        page = anyone.get("/press/pvt-2027")
        assert page.status_code == 200
        assert "Not enough sampled protocols yet for a quick count." in page.text
        assert 'id="press-pvt"' not in page.text and 'id="press-strata"' in page.text


def _report(engine: Any, token: str, at: datetime, **fields: Any) -> None:
    body = {
        "id": str(uuid.uuid4()),
        "election": ELECTION,
        "observed_at": at.isoformat(),
        **fields,
    }
    store_report(engine, body, observer=observer_for_token(engine, token), now=at)


def test_press_page_shows_the_ledger_head_and_nothing_identifying(
    base_url: str, engine: Any
) -> None:
    invite = create_invites(engine, ELECTION, 1)[0]
    redeemed = redeem_invite(engine, invite.code)
    now = datetime.now(UTC) - timedelta(minutes=30)  # older than the publication delay
    _report(engine, redeemed.token, now, station="8102", kind="incident", category="pressure",
            text=INCIDENT_TEXT)  # fmt: skip
    _report(
        engine,
        redeemed.token,
        now,
        station="8101",
        kind="count",
        window_start=(now - timedelta(hours=1)).isoformat(),
        window_end=now.isoformat(),
        entered=57,
    )
    head = public_ledger_head(engine, ELECTION, datetime.now(UTC))
    assert head["entries"] >= 2
    with httpx.Client(base_url=base_url) as anyone:
        page = anyone.get(f"/press/{ELECTION}")
        assert page.status_code == 200
        text = page.text
        assert head["head_hash"] in text
        assert "pollwatch ledger verify" in text
        assert f"/api/v1/elections/{ELECTION}/ledger" in text
        assert "Pressure or intimidation" in text
        assert INCIDENT_TEXT not in text
        assert "8102" not in text and "Consulate" not in text, "no station of an incident"
        assert redeemed.observer not in text, "no observer code name"
        assert "<script" not in text, "the press page needs no script"
        ru = anyone.get(f"/press/{ELECTION}?lang=ru")
        assert "Давление или запугивание" in ru.text
        assert anyone.get("/press/no-such-election").status_code == 404


# --- translations -------------------------------------------------------------------------------


def _page_msgids() -> set[str]:
    from importlib import resources

    from pollwatch.web import dashboard, labels

    templates = Path(str(resources.files("pollwatch.web") / "templates"))
    found = set(dashboard.CLIENT_STRINGS)
    for name in labels.__all__:  # every label the coordinators' pages show
        found |= set(getattr(labels, name).values())
    found.add("Wrong name or password.")
    found.add(dashboard.THROTTLED_MESSAGE)
    for template in [*templates.glob("coordinate_*.html"), templates / "press.html"]:
        for _quote, msgid in re.findall(r"""_\((['"])(.*?)(?<!\\)\1\)""", template.read_text()):
            found.add(msgid.replace("\\'", "'"))
    return found


@pytest.mark.parametrize("lang", ["ru", "sr"])
def test_every_page_string_is_translated(lang: str) -> None:
    from pollwatch.web.i18n import SITE_DOMAINS, read_catalogues

    translated: set[str] = set()
    for domain in SITE_DOMAINS:  # one catalogue file per part; the pages read them merged
        translated |= set(read_catalogues(domain).get(lang, {}))
    used = _page_msgids()
    assert len(used) > 100
    assert sorted(used - translated) == []
