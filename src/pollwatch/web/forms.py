"""Server-rendered forms of the coordinators' pages: read, CSRF-checked, fields validated.

One place for what every page form needs (the dashboard's invites and revocations, the admin
page, login and logout): a bounded parse (no files, few fields, small parts), the CSRF token
bound to the session (:mod:`pollwatch.web.security`), and text fields that name themselves
in the 4xx when they are missing or too long.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from pollwatch.errors import InputError
from pollwatch.web.pages import with_lang
from pollwatch.web.security import SESSION_COOKIE, check_csrf, csrf_token_for

__all__ = ["checked_form", "form_field", "page_csrf", "read_form", "text_field", "to_login"]

MAX_FIELDS = 20
MAX_PART = 16 * 1024


def to_login(request: Request) -> RedirectResponse:
    """Back to the login page, in the page's language."""
    return RedirectResponse(with_lang(request, "/coordinate/login"), status_code=303)


def page_csrf(request: Request) -> str:
    """The CSRF token of the logged-in session, for the page's forms and scripts."""
    return csrf_token_for(request.cookies.get(SESSION_COOKIE, ""))


async def read_form(request: Request, *, max_part: int = MAX_PART) -> FormData:
    """The submitted form, bounded: no file, at most 20 fields of ``max_part`` bytes (16 KB
    unless a form needs more, e.g. a guidance page in Cyrillic); else 400."""
    try:
        return await request.form(max_files=0, max_fields=MAX_FIELDS, max_part_size=max_part)
    except Exception as exc:  # malformed multipart or too many fields: the client's fault
        raise InputError(f"the form could not be read ({exc})"[:200], column="body") from None


def form_field(form: FormData, name: str) -> str:
    """A field's text, or "" when absent or not text."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def checked_form(request: Request, *, max_part: int = MAX_PART) -> FormData:
    """The submitted form of a logged-in page, its csrf field checked against the session."""
    form = await read_form(request, max_part=max_part)
    check_csrf(request, submitted=form_field(form, "csrf"))
    return form


def text_field(form: FormData, name: str, *, limit: int = 1000, required: bool = True) -> str:
    """A text field of at most ``limit`` characters; 400 naming it otherwise."""
    value = form.get(name, "")
    if not isinstance(value, str) or len(value) > limit:
        raise InputError(f"'{name}' must be text of at most {limit} characters", column=name)
    if required and not value:
        raise InputError(f"'{name}' is required", column=name)
    return value
