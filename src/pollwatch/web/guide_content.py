"""The voter guide's content: guidance pages, key dates, date-aware cards and problem reports.

Public pages (no login, no script needed):

* ``GET /guide/{election}/info`` (and ``.json``) — the election's guidance in the reader's
  language, rendered by :func:`pollwatch.guide.markdown.render_markdown` (sanitised), with
  the date of the last change and the date-aware cards of :mod:`pollwatch.guide.cards`;
  when the page is not written in the reader's language, another one is shown and the page
  says so.
* ``GET/POST /guide/{election}/{station}/problem`` — "report a problem with this page".

Coordinator pages (``guidance.write``, ``guide.problems.read`` in the permission table):

* ``GET/POST /coordinate/{election}/guide`` (and ``guide.json``) — write the pages (Markdown,
  one per language) and the registration deadline; audited;
* ``GET /coordinate/{election}/guide/problems`` (and ``.json``) — what voters reported.

Why the anonymous problem form has no CSRF token. CSRF abuses a victim's ambient authority
(a session cookie); this form uses none — it is the same request whoever sends it, and it
stores nothing that identifies the sender. A token would need a cookie or server state per
reader, which a cached public page cannot carry. What another site *could* do is make its
visitors' browsers post reports from many addresses, around the per-address limit; the
Origin check (:func:`pollwatch.web.security.check_origin`) refuses cross-site posts, and the
store caps each station's reports per hour whatever their origin. Limits: the site's
per-address rate limit, plus :data:`PROBLEMS_PER_MINUTE` reports a minute per address.

This router is included before the guide's own (``web/guide.py``), whose
``/guide/{election}/{station}`` would otherwise take ``info`` for a station id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from pollwatch.errors import AuthError, InputError, RateLimited
from pollwatch.guide.cards import KeyDates, guide_cards
from pollwatch.guide.markdown import MAX_MARKDOWN, render_markdown
from pollwatch.limits import RateLimiter, client_address, limit_key
from pollwatch.observe.ids import check_election_id, check_station_id
from pollwatch.observe.permissions import can
from pollwatch.observe.schedule import StationSchedule, parse_schedule
from pollwatch.store import Coordinator, list_audit
from pollwatch.store.elections import election_key_dates, set_registration_deadline
from pollwatch.store.guidance import (
    GUIDANCE_LANGUAGES,
    guidance_page,
    list_guidance,
    set_guidance,
)
from pollwatch.store.guide_problems import (
    MAX_PROBLEM_TEXT,
    PROBLEM_CATEGORIES,
    list_problems,
    mark_handled,
    problem_station,
    record_problem,
)
from pollwatch.web.access import authorized, visible
from pollwatch.web.deps import election_row, rate_limit, store_engine
from pollwatch.web.forms import checked_form, form_field, page_csrf, read_form, to_login
from pollwatch.web.pages import render_page, request_language, translator
from pollwatch.web.security import check_origin

__all__ = [
    "CATEGORY_LABELS",
    "DONE",
    "FORM_ERRORS",
    "LANGUAGE_NAMES",
    "PROBLEMS_PER_MINUTE",
    "cards_for",
    "router",
]

router = APIRouter(include_in_schema=False)

PROBLEMS_PER_MINUTE = 5
"""Problem reports one address may send a minute (a person correcting a page sends one)."""

CATEGORY_LABELS: dict[str, str] = {
    "address": "The address or the map is wrong",
    "hours": "The opening hours are wrong",
    "closed": "The station is closed or has moved",
    "status": "The live status is wrong",
    "guidance": "The guidance is wrong or unclear",
    "other": "Something else",
}
"""Message ids of :data:`pollwatch.store.guide_problems.PROBLEM_CATEGORIES`."""

LANGUAGE_NAMES: dict[str, str] = {"en": "English", "ru": "Russian", "sr": "Serbian"}

DONE: dict[str, str] = {
    "page": "Guidance saved.",
    "removed": "Guidance removed.",
    "dates": "Key dates saved.",
    "handled": "Marked as handled.",
}
"""The editor's answers (message ids) after each operation."""

FORM_ERRORS: dict[str, str] = {
    "category": "Choose what is wrong.",
    "text": "Describe the problem in at most {n} characters.",
    "limited": "Too many reports; please try again later.",
}
"""The problem form's answers (message ids) to what it refuses."""


# --- the cards ---------------------------------------------------------------------------------


def _deadline(dates: dict[str, Any]) -> datetime | None:
    text = dates.get("registration_deadline")
    return None if not text else datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def cards_for(
    dates: dict[str, Any],
    now: datetime,
    schedule: StationSchedule | None = None,
) -> dict[str, Any]:
    """The cards for an election's key dates (:func:`election_key_dates`) at ``now``.

    ``schedule`` is a station's (its own time zone and hours); without it the election's
    default schedule is used, if it has one. Returns :meth:`GuideCards.to_dict`, which
    ``templates/guide_cards.html`` renders as its ``cards`` variable.
    """
    if schedule is None and dates.get("schedule") and dates.get("timezone"):
        schedule = parse_schedule(str(dates["schedule"]), str(dates["timezone"]))
    key = KeyDates(
        registration_deadline=_deadline(dates),
        deadline_timezone=dates.get("registration_timezone") or "UTC",
        voting=schedule.periods() if schedule is not None else (),
        voting_timezone=schedule.timezone if schedule is not None else "UTC",
    )
    return guide_cards(key, now).to_dict()


def _now() -> datetime:
    return datetime.now(UTC)


# --- public: the guidance page ----------------------------------------------------------------


def _info(request: Request, election: str) -> dict[str, Any]:
    engine = store_engine(request)
    lang = request_language(request)
    page = guidance_page(engine, election, lang)
    if page is not None:
        page = {**page, "html": render_markdown(page["markdown"])}
    dates = election_key_dates(engine, election)
    return {"page": page, "key_dates": dates, "cards": cards_for(dates, _now())}


@router.get("/guide/{election}/info", response_class=HTMLResponse)
async def info_page(request: Request, election: str) -> Response:
    """The election's voter guidance in the reader's language (or the one written)."""
    info = await election_row(request, election)
    data = await run_in_threadpool(_info, request, election)
    return render_page(
        request,
        "guide_info.html",
        {"election": info, **data, "language_names": LANGUAGE_NAMES},
    )


@router.get("/guide/{election}/info.json")
async def info_json(request: Request, election: str) -> JSONResponse:
    """The guidance page's data: the page (Markdown and safe HTML), key dates, cards."""
    info = await election_row(request, election)
    data = await run_in_threadpool(_info, request, election)
    return JSONResponse({"election": {"id": info["id"], "name": info["name"]}, **data})


# --- public: report a problem with a station's page -------------------------------------------


def _problem_page(
    request: Request,
    info: dict[str, Any],
    station: dict[str, Any],
    *,
    error: str | None = None,
    sent: bool = False,
    category: str = "",
    text: str = "",
    status: int = 200,
) -> HTMLResponse:
    _ = translator(request)
    response = render_page(
        request,
        "guide_problem.html",
        {
            "election": info,
            "station": station,
            "categories": [(c, _(CATEGORY_LABELS[c])) for c in PROBLEM_CATEGORIES],
            "max_text": MAX_PROBLEM_TEXT,
            "error": error,
            "sent": sent,
            "category": category,
            "text": text,
        },
    )
    response.status_code = status
    return response


async def _station(request: Request, election: str, station: str) -> dict[str, Any]:
    check_election_id(election)
    check_station_id(station)
    found: dict[str, Any] = await run_in_threadpool(
        problem_station, store_engine(request), election, station
    )
    return found


@router.get("/guide/{election}/{station}/problem", response_class=HTMLResponse)
async def problem_form(request: Request, election: str, station: str) -> Response:
    """The form (works without JavaScript); ``?sent=1`` thanks after a report."""
    info = await election_row(request, election)
    row = await _station(request, election, station)
    return _problem_page(request, info, row, sent=request.query_params.get("sent") == "1")


async def _limit_problems(request: Request) -> None:
    """The form's own limit (the site's per-address one was checked before anything else)."""
    limiter: RateLimiter = request.app.state.rate_limiter
    key = limit_key("guide-problem", client_address(request))
    wait = await run_in_threadpool(limiter.allow, key, PROBLEMS_PER_MINUTE)
    if wait > 0:
        seconds = max(1, int(wait + 0.999))
        raise RateLimited(f"too many reports; retry in {seconds} s", retry_after=seconds)


@router.post(
    "/guide/{election}/{station}/problem",
    response_class=HTMLResponse,
    dependencies=[Depends(rate_limit)],
)
async def problem_submit(request: Request, election: str, station: str) -> Response:
    """Store one anonymous report (no address, no e-mail, the hour only); thank the reader.

    Refused: another site's post (403), too many reports (429), a bad category or text
    (400, the form again with the text kept), an unknown station (404).
    """
    check_origin(request)
    info = await election_row(request, election)
    row = await _station(request, election, station)
    _ = translator(request)
    form = await read_form(request)
    category = form_field(form, "category")[:30]
    text = form_field(form, "text")
    try:
        await _limit_problems(request)
        await run_in_threadpool(
            record_problem, store_engine(request), election, station, category, text
        )
    except (InputError, RateLimited) as exc:
        message = _(FORM_ERRORS["limited"])
        if isinstance(exc, InputError):
            message = (
                _(FORM_ERRORS["category"])
                if exc.column == "category"
                else _(FORM_ERRORS["text"]).format(n=MAX_PROBLEM_TEXT)
            )
        page = _problem_page(
            request,
            info,
            row,
            error=message,
            category=category if category in PROBLEM_CATEGORIES else "",
            text=text[: MAX_PROBLEM_TEXT * 2],
            status=exc.status,
        )
        if isinstance(exc, RateLimited):
            page.headers["Retry-After"] = str(exc.retry_after)
        return page
    path = f"/guide/{election}/{station}/problem"
    lang = request.query_params.get("lang")
    target = f"{path}?sent=1" + (f"&lang={lang}" if lang in GUIDANCE_LANGUAGES else "")
    return RedirectResponse(target, status_code=303)


# --- coordinators: the editor -----------------------------------------------------------------

_write = authorized("guidance.write", page=True)
_read_problems = authorized("guide.problems.read", page=True)
_handle_problems = authorized("guide.problems.handle", page=True)

AUDIT_SHOWN = 20

EDITOR_PART_BYTES = 4 * MAX_MARKDOWN
"""A form part may hold a whole page: :data:`MAX_MARKDOWN` characters of up to 4 bytes.

The editor posts ``multipart/form-data``: URL-encoding would triple a Cyrillic page
(``%D0%9F`` per letter) past the site's 64 KB body cap, while multipart sends it as UTF-8
(20,000 Cyrillic letters are 40 KB)."""


def _editor_state(request: Request, election: str) -> dict[str, Any]:
    engine = store_engine(request)
    pages = list_guidance(engine, election)
    rendered = {lang: render_markdown(p["markdown"]) for lang, p in pages.items()}
    audit = [
        a
        for a in list_audit(engine, limit=2000)
        if (a["action"].startswith("guidance.") and a["target"].startswith(f"{election}/"))
        or (a["action"] == "election.key_dates" and a["target"] == election)
    ]
    dates = election_key_dates(engine, election)
    deadline, zone = _deadline(dates), dates.get("registration_timezone")
    local = None
    if deadline is not None and zone:
        local = deadline.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
    return {
        "pages": pages,
        "rendered": rendered,
        "key_dates": dates,
        "deadline_local": local,
        "audit": audit[:AUDIT_SHOWN],
    }


def _editor(
    request: Request,
    who: Coordinator,
    info: dict[str, Any],
    state: dict[str, Any],
    *,
    done: str | None = None,
    error: str | None = None,
    drafts: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    response = render_page(
        request,
        "coordinate_guide.html",
        {
            **state,
            "who": who,
            "election": info,
            "languages_written": GUIDANCE_LANGUAGES,
            "language_names": LANGUAGE_NAMES,
            "max_markdown": MAX_MARKDOWN,
            "done": done,
            "error": error,
            "drafts": drafts or {},
            "may_read_problems": can(who, "guide.problems.read", info["id"]),
            "csrf": page_csrf(request),
        },
    )
    response.status_code = status
    return response


@router.get("/coordinate/{election}/guide", response_class=HTMLResponse)
async def editor_page(
    request: Request, election: str, who: Coordinator | None = Depends(_write)
) -> Response:
    """The guidance pages (one per language) and the registration deadline, to edit."""
    if who is None:
        return to_login(request)
    info = await election_row(request, election)
    state = await run_in_threadpool(_editor_state, request, election)
    return _editor(request, who, info, state)


@router.get("/coordinate/{election}/guide.json")
async def editor_json(
    request: Request, election: str, who: Coordinator | None = Depends(_write)
) -> JSONResponse:
    """The editor's data: the pages as written, the key dates, recent changes."""
    if who is None:
        raise AuthError("coordinator login required")
    await election_row(request, election)
    state = await run_in_threadpool(_editor_state, request, election)
    state.pop("rendered")
    return JSONResponse(state)


def _save(request: Request, election: str, op: str, form: Any, actor: str) -> str:
    """Run the form's operation; returns the message id of its success."""
    engine = store_engine(request)
    if op == "page":
        lang = form_field(form, "lang")
        markdown = form_field(form, "markdown")
        render_markdown(markdown)  # the length check and the proof that it renders
        set_guidance(engine, election, lang, markdown, actor=actor)
        return DONE["page"] if markdown.strip() else DONE["removed"]
    if op == "dates":
        set_registration_deadline(
            engine,
            election,
            form_field(form, "registration_deadline")[:40],
            form_field(form, "registration_timezone")[:64] or None,
            actor=actor,
        )
        return DONE["dates"]
    raise InputError("'op' must be page or dates", column="op")


@router.post("/coordinate/{election}/guide", response_class=HTMLResponse)
async def editor_submit(
    request: Request, election: str, who: Coordinator | None = Depends(_write)
) -> Response:
    """Save one language's page (``op=page``) or the deadline (``op=dates``), audited.

    A refused text comes back in its form with the reason (400), never lost.
    """
    if who is None:
        raise AuthError("coordinator login required")
    form = await checked_form(request, max_part=EDITOR_PART_BYTES)
    info = await election_row(request, election)
    op = form_field(form, "op")
    _ = translator(request)
    try:
        done = await run_in_threadpool(_save, request, election, op, form, who.name)
    except InputError as exc:
        state = await run_in_threadpool(_editor_state, request, election)
        drafts = {}
        if op == "page" and form_field(form, "lang") in GUIDANCE_LANGUAGES:
            drafts[form_field(form, "lang")] = form_field(form, "markdown")
        return _editor(request, who, info, state, error=exc.reason, drafts=drafts, status=400)
    state = await run_in_threadpool(_editor_state, request, election)
    return _editor(request, who, info, state, done=_(done))


# --- coordinators: the problems voters reported -----------------------------------------------


async def _problems(
    request: Request, who: Coordinator, election: str, handled: bool | None
) -> list[dict[str, Any]]:
    allowed = await visible(request, who, election)
    rows: list[dict[str, Any]] = await run_in_threadpool(
        lambda: list_problems(store_engine(request), election, only=allowed, handled=handled)
    )
    return rows


def _shown_handled(request: Request) -> bool:
    """``?handled=1`` lists the handled reports; the default is the open ones."""
    return request.query_params.get("handled") == "1"


def _problems_page(
    request: Request,
    who: Coordinator,
    info: dict[str, Any],
    rows: list[dict[str, Any]],
    *,
    handled: bool,
    done: str | None = None,
) -> HTMLResponse:
    _ = translator(request)
    election = info["id"]
    return render_page(
        request,
        "coordinate_guide_problems.html",
        {
            "who": who,
            "election": info,
            "problems": rows,
            "handled": handled,
            "done": done,
            "labels": {c: _(label) for c, label in CATEGORY_LABELS.items()},
            "may_write": can(who, "guidance.write", election),
            "may_handle": can(who, "guide.problems.handle", election),
            "csrf": page_csrf(request),
        },
    )


@router.get("/coordinate/{election}/guide/problems", response_class=HTMLResponse)
async def problems_page(
    request: Request, election: str, who: Coordinator | None = Depends(_read_problems)
) -> Response:
    """The problems voters reported (one's scope only), newest first: the open ones, or
    with ``?handled=1`` the handled ones."""
    if who is None:
        return to_login(request)
    info = await election_row(request, election)
    handled = _shown_handled(request)
    rows = await _problems(request, who, election, handled)
    return _problems_page(request, who, info, rows, handled=handled)


@router.get("/coordinate/{election}/guide/problems.json")
async def problems_json(
    request: Request, election: str, who: Coordinator | None = Depends(_read_problems)
) -> JSONResponse:
    """Every report of one's scope, open and handled, newest first."""
    if who is None:
        raise AuthError("coordinator login required")
    await election_row(request, election)
    return JSONResponse({"problems": await _problems(request, who, election, None)})


@router.post("/coordinate/{election}/guide/problems", response_class=HTMLResponse)
async def problems_submit(
    request: Request, election: str, who: Coordinator | None = Depends(_handle_problems)
) -> Response:
    """Mark one report (``id``) handled, audited; the open reports again."""
    if who is None:
        raise AuthError("coordinator login required")
    form = await checked_form(request)
    info = await election_row(request, election)
    raw = form_field(form, "id")
    if not raw.isdigit() or len(raw) > 12:
        raise InputError("'id' must be the number of a problem report", column="id")
    allowed = await visible(request, who, election)
    await run_in_threadpool(
        lambda: mark_handled(
            store_engine(request), election, int(raw), actor=who.name, only=allowed
        )
    )
    rows = await _problems(request, who, election, False)
    _ = translator(request)
    return _problems_page(request, who, info, rows, handled=False, done=_(DONE["handled"]))
