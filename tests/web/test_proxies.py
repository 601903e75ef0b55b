"""Behind a proxy and on a public https address: whom to believe, and what to send.

Forwarded headers from anyone but a trusted proxy are ignored, so they can neither dodge a
limit nor get a victim's address refused; HSTS and ``Secure`` cookies follow TLS or a public
https URL; invite links never come from the request's ``Host`` header.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from tests.web.servers import serve_in_thread

from pollwatch.config import Settings
from pollwatch.store import add_coordinator, create_election, import_stations, open_store
from pollwatch.web.app import create_app
from pollwatch.web.security import TrustedProxies, parse_trusted_proxies

PASSWORD = "a long enough password"
HSTS = "max-age=31536000; includeSubDomains"


@contextmanager
def _serve(tmp_path: Path, **settings: object) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = open_store(url)
    add_coordinator(engine, "coord", PASSWORD, role="admin")
    create_election(engine, "e", name="Proxy test")
    import_stations(engine, "e", [{"station": "1"}])
    engine.dispose()
    config = Settings(data_dir=tmp_path, home=tmp_path, database_url=url, **settings)  # type: ignore[arg-type]
    with serve_in_thread(create_app(config)) as base:
        yield base


def _public_until_limited(client: httpx.Client, forwarded_for: object) -> int:
    """How many GETs of the rate-limited public summary pass before the first 429."""
    for i in range(60):
        xff = forwarded_for(i) if callable(forwarded_for) else forwarded_for
        answer = client.get("/api/v1/elections/e/public", headers={"X-Forwarded-For": str(xff)})
        if answer.status_code == 429:
            return i
        assert answer.status_code == 200, answer.text
    return 60


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(tmp_path: Path) -> None:
    # rate_limit 1/min per token: an address may send 20 (many observers share one address)
    with _serve(tmp_path, rate_limit=1) as base, httpx.Client(base_url=base) as client:
        passed = _public_until_limited(client, lambda i: f"203.0.113.{i}")
        assert passed == 20, "a changing X-Forwarded-For must not dodge the address limit"
        plain = client.get("/healthz", headers={"X-Forwarded-Proto": "https"})
        assert "strict-transport-security" not in plain.headers


def test_a_victims_address_in_the_header_does_not_get_the_victim_refused(tmp_path: Path) -> None:
    with _serve(tmp_path, rate_limit=1, trusted_proxies="127.0.0.1") as base:
        with httpx.Client(base_url=base) as attacker:
            # the attacker writes the victim's address first; our proxy appends the real one
            used = _public_until_limited(attacker, "198.51.100.7, 203.0.113.66")
            assert used == 20
        with httpx.Client(base_url=base) as victim:
            answer = victim.get(
                "/api/v1/elections/e/public", headers={"X-Forwarded-For": "198.51.100.7"}
            )
            assert answer.status_code == 200


def test_a_trusted_proxy_makes_tls_and_the_client_known(tmp_path: Path) -> None:
    with (
        _serve(tmp_path, rate_limit=1, trusted_proxies="127.0.0.0/8, ::1") as base,
        httpx.Client(base_url=base) as client,
    ):
        tls = client.get("/coordinate/login", headers={"X-Forwarded-Proto": "https"})
        assert tls.headers["strict-transport-security"] == HSTS
        assert "Secure" in tls.headers["set-cookie"], "cookies over TLS are Secure"
        # each forwarded client has its own address budget
        assert _public_until_limited(client, "192.0.2.1") == 20
        assert _public_until_limited(client, "192.0.2.2") == 20


def test_a_public_https_url_means_hsts_secure_cookies_and_its_own_links(tmp_path: Path) -> None:
    public = "https://observe.example.org"
    with (
        _serve(tmp_path, rate_limit=0, public_url=public) as base,
        httpx.Client(base_url=base) as client,
    ):
        page = client.get("/coordinate/login")
        assert page.headers["strict-transport-security"] == HSTS
        assert "Secure" in page.headers["set-cookie"]
        too_big = client.post("/api/v1/login", content=b"x" * 200_000)
        assert too_big.status_code == 413
        assert too_big.headers["strict-transport-security"] == HSTS
        csrf = re.search(r'name="csrf" value="([^"]*)"', page.text)
        assert csrf
        # httpx keeps Secure cookies off plain http; hand them over as a proxy would
        token = str(page.cookies.get("pollwatch_csrf"))
        logged = client.post(
            "/coordinate/login",
            data={"name": "coord", "password": PASSWORD, "csrf": csrf.group(1)},
            headers={"Origin": public, "Cookie": f"pollwatch_csrf={token}"},
        )
        assert logged.status_code == 303, logged.text
        session = logged.cookies.get("pollwatch_session")
        cookies = (
            f"pollwatch_session={session}; pollwatch_csrf={logged.cookies.get('pollwatch_csrf')}"
        )
        form = client.get("/coordinate/e/invites", headers={"Cookie": cookies})
        made = client.post(
            "/coordinate/e/invites",
            data={
                "count": "1",
                "stations": "",
                "csrf": re.search(r'name="csrf" value="([^"]*)"', form.text).group(1),
            },  # type: ignore[union-attr]
            headers={"Cookie": cookies, "Host": "evil.example", "Origin": public},
        )
        assert made.status_code == 201, made.text
        links = re.findall(r'href="([^"]*/observe/join/[^"]*)"', made.text)
        assert links and all(link.startswith(f"{public}/observe/join/") for link in links)
        assert "evil.example" not in made.text


def test_the_413_answer_carries_the_security_headers(tmp_path: Path) -> None:
    with _serve(tmp_path) as base, httpx.Client(base_url=base) as client:
        answer = client.post("/api/v1/login", content=b"x" * 200_000)
        assert answer.status_code == 413
        for header in ("content-security-policy", "x-content-type-options", "cache-control"):
            assert header in answer.headers


@pytest.mark.parametrize("value", ["10.0.0.0/33", "proxy.example", "1.2.3"])
def test_a_malformed_trusted_proxies_setting_names_itself(value: str) -> None:
    with pytest.raises(Exception, match="trusted_proxies"):
        parse_trusted_proxies(value)


def test_the_rightmost_untrusted_address_is_the_client() -> None:
    seen: dict[str, object] = {}

    async def app(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        seen.update(client=scope["client"], scheme=scope["scheme"])

    import asyncio

    middleware = TrustedProxies(app, trusted=parse_trusted_proxies("10.0.0.0/8"))  # type: ignore[arg-type]
    scope = {
        "type": "http",
        "client": ("10.0.0.2", 5000),
        "scheme": "http",
        "headers": [
            (b"x-forwarded-for", b"6.6.6.6, 192.0.2.9, 10.0.0.1"),
            (b"x-forwarded-proto", b"https"),
        ],
    }
    # on a thread of its own: Playwright may keep an event loop running in this one
    worker = threading.Thread(target=asyncio.run, args=(middleware(scope, None, None),))  # type: ignore[arg-type]
    worker.start()
    worker.join(timeout=10)
    assert seen == {"client": ("192.0.2.9", 0), "scheme": "https"}
