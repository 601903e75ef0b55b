"""Privacy and safety at the HTTP edge: strict headers, a body cap, CSRF, cookies, proxies.

Pages load nothing from third parties (Content-Security-Policy ``'self'`` only), send a
referrer to no one but ourselves, and cannot be framed. Bodies larger than ``max_body`` are
refused with 413 before they are read into memory (that answer carries the same headers).

Sessions and CSRF: a coordinator's session lives in an HttpOnly, SameSite=Strict cookie; every
unsafe request that carries it must also carry the CSRF token bound to that session
(:func:`csrf_token_for`), whatever other headers it has, and must not come from another
origin. The login form, which has no session yet, has its own token and the origin check.

Proxies: forwarded headers (``X-Forwarded-For``, ``X-Forwarded-Proto``) are believed only
from the addresses in the ``trusted_proxies`` setting (none by default), by
:class:`TrustedProxies`; ``pollwatch serve`` turns uvicorn's own handling off, which would
trust 127.0.0.1. HSTS and ``Secure`` cookies follow :func:`is_secure`: a request that came
over TLS, or a ``public_url`` that is https. Plain-HTTP answers of a local server without a
public https URL carry neither (a local test server on ``http://127.0.0.1`` stays reachable).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pollwatch.errors import CsrfError, InputError, PayloadTooLarge
from pollwatch.store.photos import MAX_PHOTO_BYTES
from pollwatch.web.errors import error_response

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "HSTS_HEADER",
    "PUBLIC_MAX_AGE",
    "ROUTE_HEADERS",
    "SECURITY_HEADERS",
    "SESSION_COOKIE",
    "SESSION_MAX_AGE",
    "BodyLimits",
    "SecurityMiddleware",
    "TrustedProxies",
    "check_csrf",
    "check_login",
    "check_origin",
    "close_session",
    "csrf_token_for",
    "headers_for",
    "is_secure",
    "new_csrf_token",
    "open_session",
    "own_origin",
    "parse_trusted_proxies",
    "public_base_url",
    "set_csrf_cookie",
]

SESSION_COOKIE = "pollwatch_session"
"""The coordinator's session token: HttpOnly, SameSite=Strict; stored only hashed."""

SESSION_MAX_AGE = 12 * 3600
"""Seconds a session cookie lives in the browser (the server's session ends at the same time)."""

CSRF_COOKIE = "pollwatch_csrf"
"""The CSRF token, readable by our own scripts, which send it back in :data:`CSRF_HEADER`.

Logged in, its value is :func:`csrf_token_for` the session, so the server checks the submitted
token against the session cookie, never against this cookie (which another site on a sibling
domain could overwrite). Before login it holds a random login token (:func:`check_login`)."""

CSRF_HEADER = "X-CSRF-Token"

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def new_csrf_token() -> str:
    """A fresh random login token for the :data:`CSRF_COOKIE` cookie and the login form."""
    return secrets.token_urlsafe(32)


def csrf_token_for(session_token: str) -> str:
    """The CSRF token bound to one session: a one-way function of its secret token.

    Why no server secret is needed: the session token is 256 random bits kept in an HttpOnly
    cookie, so a page of another site can neither read it nor compute this value; a leaked
    CSRF token does not reveal the session. Every server process derives the same value.
    """
    digest = hashlib.sha256(b"pollwatch-csrf-v1\x00" + session_token.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _refuse(reason: str) -> CsrfError:
    return CsrfError(
        f"{reason}: send the pollwatch_csrf cookie's value in the {CSRF_HEADER} header "
        "(or the form's csrf field)",
        column=CSRF_HEADER,
    )


def own_origin(request: Request) -> str:
    """Our origin as browsers name it: the ``public_url`` setting, else this request's."""
    public = getattr(request.app.state.settings, "public_url", None)
    if public:
        parts = urlsplit(public)
        return f"{parts.scheme}://{parts.netloc}".lower()
    return f"{request.url.scheme}://{request.url.netloc}".lower()


def public_base_url(request: Request) -> str:
    """Where links we hand out point (invites, the press page's ledger): ``public_url``.

    Without the setting (a local server) the request's own address is used; a deployment
    sets it so that a forged ``Host`` header can never put another site in an invite link.
    """
    public = getattr(request.app.state.settings, "public_url", None)
    return str(public or str(request.base_url)).rstrip("/")


def check_origin(request: Request) -> None:
    """Refuse an unsafe request that a browser says comes from another origin.

    Browsers send ``Origin`` on every cross-site POST/PUT/DELETE (``null`` from sandboxed or
    privacy-minded pages, which we refuse too); our own pages send our origin
    (``Referrer-Policy: same-origin``). Scripts and the CLI send none and are not at risk:
    they carry no ambient cookie.
    """
    if request.method in _SAFE_METHODS:
        return
    origin = request.headers.get("origin")
    if origin is not None and origin.strip().lower() != own_origin(request):
        raise CsrfError(
            f"request from another site (Origin {origin[:100]!r}) refused", column="Origin"
        )


def check_csrf(request: Request, submitted: str | None = None) -> None:
    """Refuse an unsafe request carrying our session cookie without its session's CSRF token.

    Whatever else the request carries (an ``Authorization`` header of any kind included): a
    browser attaches the session cookie by itself, so the cookie alone proves nothing. The
    token must equal :func:`csrf_token_for` this session. Requests without the cookie
    (bearer tokens of scripts, anonymous requests) have no ambient authority to ride.
    ``submitted`` is a form field's value; without it the :data:`CSRF_HEADER` header is used.
    """
    if request.method in _SAFE_METHODS:
        return
    check_origin(request)
    session = request.cookies.get(SESSION_COOKIE)
    if not session:
        return
    given = submitted if submitted is not None else request.headers.get(CSRF_HEADER, "")
    if not given:
        raise _refuse("missing CSRF token")
    if not hmac.compare_digest(csrf_token_for(session).encode(), given.encode()):
        raise _refuse("wrong CSRF token")


def check_login(request: Request, submitted: str | None) -> None:
    """The login form's own protection: same origin, and its login token matches the cookie.

    A login cannot be bound to a session that does not exist yet, so the form carries a
    random token also set as a SameSite=Strict cookie: another site's form can post a token
    it made up but the browser does not send it our cookie (login CSRF).
    """
    check_origin(request)
    expected = request.cookies.get(CSRF_COOKIE, "")
    given = submitted or ""
    if not expected or not given or not hmac.compare_digest(expected.encode(), given.encode()):
        raise _refuse("missing or wrong login token")


def is_secure(request: Request) -> bool:
    """Whether browsers reach us over TLS: the request's scheme (after a trusted proxy's
    ``X-Forwarded-Proto``), or a ``public_url`` that is https."""
    if request.url.scheme == "https":
        return True
    public = getattr(request.app.state.settings, "public_url", None) or ""
    return public.lower().startswith("https://")


def open_session(response: Response, request: Request, session_token: str) -> None:
    """Set the session cookie and its bound CSRF token (the one place cookies are made)."""
    secure = is_secure(request)
    response.set_cookie(
        SESSION_COOKIE,
        session_token,
        httponly=True,
        samesite="strict",
        secure=secure,
        max_age=SESSION_MAX_AGE,
        path="/",
    )
    set_csrf_cookie(response, request, csrf_token_for(session_token))


def set_csrf_cookie(response: Response, request: Request, token: str) -> None:
    """The script-readable CSRF cookie (a login token, or a session's bound token)."""
    response.set_cookie(
        CSRF_COOKIE,
        token,
        httponly=False,  # read by our scripts, echoed in X-CSRF-Token
        samesite="strict",
        secure=is_secure(request),
        max_age=SESSION_MAX_AGE,
        path="/",
    )


def close_session(response: Response) -> None:
    """Forget both cookies in the browser (the server ends the session itself)."""
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


SECURITY_HEADERS: dict[str, str] = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "permissions-policy": "geolocation=(), camera=(), microphone=(), interest-cohort=()",
    "cache-control": "no-store",
}


PUBLIC_MAX_AGE = 30
"""Seconds browsers and shared caches may reuse a public guide page. Short, because the
page's live figures move at the next release time and a coordinator's published incident
should show within a minute; the server keeps its own copy longer (web/guide_cache.py)."""

_PUBLIC = {
    "cache-control": f"public, max-age={PUBLIC_MAX_AGE}",
    "vary": "Accept-Language",  # the language may come from the browser's header
}

ROUTE_HEADERS: tuple[tuple[re.Pattern[str], Mapping[str, str]], ...] = (
    # the guide's other public pages and their JSON twins and feeds (not the problem
    # form); before the finder, so that a finder's .json twin asks for no location
    (
        re.compile(
            r"/guide(?:\.json|/[^/]+(?:\.json|/stations\.json|/[^/]+(?:\.json|/feed\.atom)?))"
        ),
        _PUBLIC,
    ),
    # the guide's finder, the one page that may ask for the location ("near me", measured
    # in the browser; nothing leaves it)
    (
        re.compile(r"/guide(?:/[A-Za-z0-9][A-Za-z0-9._-]*)?/?"),
        {
            **_PUBLIC,
            "permissions-policy": (
                "geolocation=(self), camera=(), microphone=(), interest-cohort=()"
            ),
        },
    ),
    # map tiles served from our own origin
    (re.compile(r"/tiles/\d+/\d+/\d+\.png"), {"cache-control": "public, max-age=86400"}),
)
"""Path (matched in full) → the headers that replace :data:`SECURITY_HEADERS`' for it; the
first match wins, unlisted paths (every private page and API) keep ``no-store`` and no
geolocation. Error answers (4xx, 5xx) keep ``no-store`` everywhere. The one place the
per-route header policy lives; routes add only an ``ETag``."""


def headers_for(path: str, status: int = 200) -> dict[str, str]:
    """The security headers of an answer to ``path`` with ``status`` (:data:`ROUTE_HEADERS`).

    >>> headers_for("/guide")["permissions-policy"].startswith("geolocation=(self)")
    True
    >>> headers_for("/guide/e1/8001")["cache-control"]
    'public, max-age=30'
    >>> headers_for("/guide/e1/8001/problem")["cache-control"]
    'no-store'
    """
    headers = dict(SECURITY_HEADERS)
    for pattern, extra in ROUTE_HEADERS:
        if pattern.fullmatch(path):
            headers.update(extra)
            if status >= 400:
                headers["cache-control"] = SECURITY_HEADERS["cache-control"]
                headers.pop("vary", None)
            break
    return headers


HSTS_HEADER = ("strict-transport-security", "max-age=31536000; includeSubDomains")
"""Sent on answers to requests over TLS, or from a service whose ``public_url`` is https."""


class SecurityMiddleware:
    """Adds the headers of :func:`headers_for` (and HSTS over TLS) and refuses oversized
    bodies (ASGI)."""

    def __init__(
        self, app: ASGIApp, *, max_body: int = 64 * 1024, public_https: bool = False
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.public_https = public_https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        hsts = scope.get("scheme") == "https" or self.public_https
        path = str(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = headers_for(path, int(message.get("status", 200)))
                if hsts:
                    extra[HSTS_HEADER[0]] = HSTS_HEADER[1]
                raw = list(message.get("headers", []))
                present = {k.lower() for k, _ in raw}
                for name, value in extra.items():
                    if name.encode() not in present:
                        raw.append((name.encode(), value.encode()))
                message = {**message, "headers": raw}
            await send(message)

        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await error_response(self._too_large())(scope, receive, send_with_headers)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise self._too_large()
            return message

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except PayloadTooLarge as exc:  # raised while the app read the body
            await error_response(exc)(scope, receive, send_with_headers)

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"request body larger than {self.max_body} bytes")


class BodyLimits:
    """The security middleware with a larger body cap for photo uploads only (pure ASGI)."""

    def __init__(
        self, app: ASGIApp, *, max_body: int = 64 * 1024, public_https: bool = False
    ) -> None:
        self.default = SecurityMiddleware(app, max_body=max_body, public_https=public_https)
        self.photos = SecurityMiddleware(
            app, max_body=MAX_PHOTO_BYTES + 64 * 1024, public_https=public_https
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", "")) if scope["type"] == "http" else ""
        is_photo = path.startswith("/api/v1/reports/") and path.endswith("/photo")
        await (self.photos if is_photo else self.default)(scope, receive, send)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted_proxies(
    value: str | Iterable[str], *, setting: str = "trusted_proxies"
) -> tuple[Network, ...]:
    """Addresses or networks (``10.0.0.5``, ``10.0.0.0/24``, ``::1``), e.g. trusted proxies."""
    items = value.split(",") if isinstance(value, str) else list(value)
    networks: list[Network] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise InputError(
                f"{setting} must be IP addresses or networks separated by commas; "
                f"got {item[:60]!r} instead",
                column=setting,
            ) from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


class TrustedProxies:
    """Believe ``X-Forwarded-For``/``-Proto`` only from trusted proxies (pure ASGI).

    Why: a client that sets ``X-Forwarded-For`` itself could otherwise dodge every limit by
    changing it, or get a victim's address refused by naming it. From a trusted proxy, the
    client is the right-most address in ``X-Forwarded-For`` that is not itself a trusted
    proxy (proxies append what they saw; anything to its left was written by the client).
    From anyone else both headers are ignored and the TCP peer is the client.
    """

    def __init__(self, app: ASGIApp, *, trusted: tuple[Network, ...] = ()) -> None:
        self.app = app
        self.trusted = trusted

    def _is_trusted(self, host: str | None) -> bool:
        address = _address(host) if host else None
        return address is not None and any(address in net for net in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.trusted:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        if not self._is_trusted(client[0] if client else None):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        scope = dict(scope)
        forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        while hops and self._is_trusted(hops[-1]):
            hops.pop()
        if hops and _address(hops[-1]) is not None:
            scope["client"] = (str(_address(hops[-1])), 0)
        proto = headers.get(b"x-forwarded-proto", b"").decode("latin-1").split(",")[-1]
        if proto.strip().lower() in ("http", "https"):
            scope["scheme"] = proto.strip().lower()
        await self.app(scope, receive, send)
