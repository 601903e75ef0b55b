"""Privacy and safety middleware: strict headers, a request-size cap, no request logging.

Pages load nothing from third parties (Content-Security-Policy ``'self'`` only), send no
referrer, and cannot be framed. Bodies larger than ``max_body`` are refused with 413 before
they are read into memory. Answers to requests that came over TLS carry HSTS, so a browser
that once reached the service securely never falls back to plain HTTP; behind a TLS proxy
that holds when uvicorn trusts the proxy's ``X-Forwarded-Proto`` (``--proxy-headers
--forwarded-allow-ips=<proxy address>``), which makes the ASGI scope's scheme ``https``.
Plain-HTTP answers never carry it (a browser would ignore it, and a local test server on
``http://127.0.0.1`` must stay reachable).
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pollwatch.errors import InputError
from pollwatch.web.errors import error_body

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "HSTS_HEADER",
    "SECURITY_HEADERS",
    "CsrfError",
    "SecurityMiddleware",
    "check_csrf",
    "new_csrf_token",
]

CSRF_COOKIE = "pollwatch_csrf"
"""Double-submit cookie: readable by our own scripts, sent back in :data:`CSRF_HEADER`."""

CSRF_HEADER = "X-CSRF-Token"

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfError(InputError):
    """A state-changing request authenticated by cookie without the matching CSRF token."""

    status = 403


def new_csrf_token() -> str:
    """A fresh random token for the :data:`CSRF_COOKIE` cookie and forms' hidden field."""
    return secrets.token_urlsafe(32)


def check_csrf(request: Request, submitted: str | None = None) -> None:
    """Refuse a cookie-authenticated unsafe request whose CSRF token does not match.

    Why double-submit: a cross-site page can make the browser send our cookies, but it
    cannot read them, so it cannot copy the token into a header or form field. Requests
    authenticated by an ``Authorization`` header are not exposed to that attack (browsers
    never add the header by themselves) and pass. ``submitted`` is a form field's value;
    without it the :data:`CSRF_HEADER` header is used.
    """
    if request.method in _SAFE_METHODS or request.headers.get("authorization"):
        return
    expected = request.cookies.get(CSRF_COOKIE, "")
    given = submitted if submitted is not None else request.headers.get(CSRF_HEADER, "")
    if not expected or not given or not hmac.compare_digest(expected, given):
        raise CsrfError(
            "missing or wrong CSRF token: send the pollwatch_csrf cookie's value "
            f"in the {CSRF_HEADER} header (or the form's csrf field)",
            column=CSRF_HEADER,
        )


SECURITY_HEADERS: dict[str, str] = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "permissions-policy": "geolocation=(), camera=(), microphone=(), interest-cohort=()",
    "cache-control": "no-store",
}


HSTS_HEADER = ("strict-transport-security", "max-age=31536000; includeSubDomains")
"""Sent only on answers to requests whose scheme is ``https`` (one year, subdomains too)."""


class SecurityMiddleware:
    """Adds :data:`SECURITY_HEADERS` (and HSTS over TLS) and refuses oversized bodies (ASGI)."""

    def __init__(self, app: ASGIApp, *, max_body: int = 64 * 1024) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await self._too_large(send)
            return
        received = 0
        extra = dict(SECURITY_HEADERS)
        if scope.get("scheme") == "https":
            extra[HSTS_HEADER[0]] = HSTS_HEADER[1]

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _BodyTooLarge
            return message

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = list(message.get("headers", []))
                present = {k.lower() for k, _ in raw}
                for name, value in extra.items():
                    if name.encode() not in present:
                        raw.append((name.encode(), value.encode()))
                message = {**message, "headers": raw}
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except _BodyTooLarge:
            await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        import json

        body = json.dumps(
            error_body(413, f"request body larger than {self.max_body} bytes")
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass
