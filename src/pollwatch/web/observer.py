"""The observer app: phone pages that keep working without a connection.

Pages only; reports travel through the JSON API (``POST /api/v1/reports``,
``POST /api/v1/invites/{code}/redeem``, see :mod:`pollwatch.web.observe_api`); the
checklists to fill in and the coordinators' messages come from ``/api/v1/observer/checklists``
and ``/api/v1/observer/messages`` (:mod:`pollwatch.web.checklists`, :mod:`pollwatch.web.messages`)
whenever the phone is online, and are kept in localStorage for use offline. The browser
keeps every report in an IndexedDB outbox under a client-generated UUID before sending it,
so a report made in a basement with no signal is sent later, and a retry of the same UUID
is harmless (the API answers 200 with the stored report). A service worker
(``/observe/sw.js``, scope ``/observe``) keeps the app shell and its assets, so the page
opens offline. The approach follows ODK Collect's offline, idempotent submissions.

A seized phone must tell little: a report the server confirmed leaves the phone (only a
count stays, or the newest ``observer_keep_sent`` for reference, a server setting passed to
the page); "leave no trace" erases everything the app keeps and revokes the token
(``POST /api/v1/observer/forget``); a token the API calls revoked erases the app too. The
cached shell holds no code name, token or report (docs/observe.md, "A seized phone").

Interface strings are English in the templates and translated from
``web/locale/<lang>/LC_MESSAGES/observer.po`` (read with Babel, like :mod:`pollwatch.web.i18n`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from pollwatch import __version__
from pollwatch.web.i18n import LANGUAGES, load_catalogues, read_catalogues
from pollwatch.web.pages import render_page, request_language

__all__ = [
    "CLIENT_STRINGS",
    "SHELL_ASSETS",
    "load_observer_catalogues",
    "observer_gettext",
    "router",
]

router = APIRouter()

SHELL_ASSETS: tuple[str, ...] = (
    "/observe",
    *(f"/observe?lang={code}" for code in LANGUAGES),
    "/static/style.css",
    "/static/observer.css",
    "/static/observer.js",
    "/static/observer-icon.svg",
    "/observe/manifest.webmanifest",
)
"""Pages and files the service worker stores at install so the app opens with no connection."""

CLIENT_STRINGS: tuple[str, ...] = (
    "unsent",
    "sent",
    "rejected",
    "Count",
    "Incident",
    "Status",
    "Protocol",
    "people",
    "queue",
    "Choose a station first.",
    "Report saved on this phone.",
    "Could not join:",
    "This invite was already used or is unknown.",
    "No connection. Try the link again when you are online.",
    "Online",
    "Offline",
    "Not joined yet: open your invite link.",
    "Window since",
    "Choose a category.",
    "Choose a status.",
    "Enter whole numbers (0 or more).",
    "photo",
    "Photo attached",
    "Candidate",
    "Votes",
    "Remove",
    "Sent from this phone:",
    "Reports not sent yet, lost if you erase:",
    # checklists and the inbox (issue 13)
    "Checklist",
    "Yes",
    "No",
    "Add a photo",
    "Answer every question marked * (whole numbers within the limits).",
    "Urgent",
    "unread",
    "pollwatch: an urgent message from the coordinators",
)
"""Messages the JavaScript shows; passed to the page as JSON, translated on the server."""


@lru_cache(maxsize=1)
def load_observer_catalogues() -> Mapping[str, Mapping[str, str]]:
    """The observer app's own catalogues (``observer.po``), read once."""
    return read_catalogues("observer")


@lru_cache(maxsize=1)
def _site_catalogues() -> Mapping[str, Mapping[str, str]]:
    """The site's catalogues, merged as the pages read them (the simulated-election banner's
    text is the network part's)."""
    return load_catalogues().messages


def observer_gettext(lang: str) -> Callable[[str], str]:
    """Translate an observer-app message, falling back to the site catalogue, then English."""
    own = load_observer_catalogues().get(lang, {})
    site = _site_catalogues().get(lang, {})

    def _(msgid: str) -> str:
        return own.get(msgid) or site.get(msgid) or msgid

    return _


def _page(request: Request, template: str, context: dict[str, Any]) -> HTMLResponse:
    """Render an observer page with its own catalogue over the site's, and the script's strings."""
    _ = observer_gettext(request_language(request))
    strings = {msgid: _(msgid) for msgid in CLIENT_STRINGS}
    return render_page(
        request,
        template,
        {
            **context,
            "client_strings": strings,
            "keep_sent": request.app.state.settings.observer_keep_sent,
        },
        gettext=_,
    )


@router.get("/observe", response_class=HTMLResponse, include_in_schema=False)
async def observer_shell(request: Request) -> HTMLResponse:
    """The app shell: station, tap counter, incident, status and protocol, and the outbox."""
    return _page(request, "observer.html", {"page": "app"})


@router.get("/observe/join/{code}", response_class=HTMLResponse, include_in_schema=False)
async def observer_join(
    request: Request, code: str = Path(min_length=1, max_length=200)
) -> HTMLResponse:
    """Redeem an invite in the browser and keep its token on this phone only."""
    return _page(request, "observer_join.html", {"page": "join", "code": code})


@router.get("/observe/sw.js", include_in_schema=False)
async def observer_service_worker() -> Response:
    """The service worker, allowed to control ``/observe`` (one level above its own path)."""
    source = (resources.files("pollwatch.web") / "static" / "observer-sw.js").read_text("utf-8")
    body = source.replace("__VERSION__", __version__).replace(
        "__ASSETS__", json.dumps(list(SHELL_ASSETS))
    )
    return Response(
        body,
        media_type="text/javascript",
        headers={"Service-Worker-Allowed": "/observe", "Cache-Control": "no-cache"},
    )


@router.get("/observe/manifest.webmanifest", include_in_schema=False)
async def observer_manifest(request: Request) -> JSONResponse:
    """Web app manifest so the app can be added to a phone's home screen."""
    _ = observer_gettext(request_language(request))
    manifest = {
        "name": _("pollwatch observer"),
        "short_name": "pollwatch",
        "start_url": "/observe",
        "scope": "/observe",
        "display": "standalone",
        "background_color": "#fbfbf8",
        "theme_color": "#1f5fa8",
        "icons": [
            {"src": "/static/observer-icon.svg", "sizes": "any", "type": "image/svg+xml"},
        ],
    }
    return JSONResponse(manifest, media_type="application/manifest+json")
