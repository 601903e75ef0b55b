"""Server-rendered pages: the interface language, its translations and the one page renderer.

Every page is a Jinja2 template rendered by :func:`render_page` with the same context on
top of the page's own: ``lang`` (the request's interface language), ``languages``, ``_``
(gettext for that language) and ``version``. The language is ``?lang=`` when it is one of
:data:`pollwatch.web.i18n.LANGUAGES`, else the browser's ``Accept-Language``, else English
(:func:`request_language`); links inside the site keep an explicit ``?lang=``
(:func:`with_lang`), so a chosen language survives a redirect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from pollwatch import __version__
from pollwatch.web.i18n import LANGUAGES, Catalogues, pick_language

__all__ = ["render_page", "request_language", "translator", "with_lang"]


def request_language(request: Request) -> str:
    """The request's interface language: ``?lang=``, else Accept-Language, else English."""
    return pick_language(request.query_params.get("lang"), request.headers.get("accept-language"))


def translator(request: Request) -> Callable[[str], str]:
    """gettext for the request's language, from the site's catalogues (``pollwatch.po``)."""
    catalogues: Catalogues = request.app.state.catalogues
    return catalogues.gettext(request_language(request))


def with_lang(request: Request, path: str) -> str:
    """``path`` with the request's explicit ``?lang=``, if it asked for a known language."""
    lang = request.query_params.get("lang")
    return f"{path}?lang={lang}" if lang in LANGUAGES else path


def render_page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    gettext: Callable[[str], str] | None = None,
) -> HTMLResponse:
    """Render ``template`` in the request's language; ``gettext`` replaces the site's own."""
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request,
        template,
        {
            **context,
            "lang": request_language(request),
            "languages": LANGUAGES,
            "_": gettext or translator(request),
            "version": __version__,
        },
    )
