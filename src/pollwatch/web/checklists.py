"""Checklists: the coordinators' editor and results pages, and the observer app's copy.

* ``GET /coordinate/{election}/checklists`` (and ``.json``): the election's checklists, each
  in a textarea holding its YAML, and a form to add one (paste, or upload a ``.yaml`` or
  ``.json`` file). ``POST`` saves a document as the next version of its id
  (:func:`pollwatch.store.checklists.save_checklist`); a refused document comes back with
  its text and the error naming the field (``questions[3].options: …``), status 400.
  ``POST …/checklists/retire`` (field ``checklist``) stops offering one to observers.
* ``GET /coordinate/{election}/checklists/results`` (and ``.json``): per checklist and
  question the distribution of answers, the flagged stations and the stations that have not
  sent it — only the stations of the coordinator's scope.
* ``GET /api/v1/observer/checklists`` (observer token): the active checklists' newest
  versions, which the observer app keeps for filling in offline. Answers travel as reports
  (``POST /api/v1/reports``, kind ``checklist``).

Editing is for coordinators whose scope is the whole election (a checklist is the same form
for every station); reading is for every role of the election. Forms carry the session's
CSRF token; texts of questions and answers are rendered as text (Jinja2 escapes them).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from pollwatch.errors import AuthError, Forbidden, InputError, NotFoundError
from pollwatch.observe.checklist_examples import EXAMPLE_CHECKLIST
from pollwatch.observe.checklists import (
    LANGUAGES,
    MAX_SOURCE_BYTES,
    check_checklist_id,
    checklist_to_yaml,
)
from pollwatch.observe.permissions import can, whole_election
from pollwatch.store import Coordinator, Observer
from pollwatch.store.checklists import (
    checklist_results,
    list_checklists,
    observer_checklists,
    retire_checklist,
    save_checklist,
)
from pollwatch.web.access import authorized, visible
from pollwatch.web.deps import current_observer, election_row, rate_limit, store_engine
from pollwatch.web.errors import error_responses
from pollwatch.web.forms import checked_form, form_field, page_csrf, to_login
from pollwatch.web.pages import render_page, with_lang
from pollwatch.web.security import check_csrf

__all__ = ["router"]

router = APIRouter()


def _edit_allowed(who: Coordinator, election: str) -> bool:
    return can(who, "checklists.edit", election) and whole_election(who, election)


async def _editor(
    request: Request,
    who: Coordinator,
    election: str,
    *,
    source: str | None = None,
    error: InputError | None = None,
    saved: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    info = await election_row(request, election)
    found = await run_in_threadpool(list_checklists, store_engine(request), election)
    response = render_page(
        request,
        "coordinate_checklists.html",
        {
            "who": who,
            "election": info,
            "checklists": [{**c.to_dict(), "yaml": checklist_to_yaml(c.checklist)} for c in found],
            "may_edit": _edit_allowed(who, election),
            "source": source if source is not None else EXAMPLE_CHECKLIST,
            "error": None if error is None else {"message": error.reason, "field": error.column},
            "saved": saved,
            "max_bytes": MAX_SOURCE_BYTES,
            "csrf": page_csrf(request),
        },
    )
    response.status_code = status
    return response


@router.get("/coordinate/{election}/checklists", response_class=HTMLResponse)
async def checklists_page(
    request: Request,
    election: str,
    who: Coordinator | None = Depends(authorized("checklists.read", page=True)),
) -> Response:
    """The election's checklists, editable (whole-election coordinators) as YAML."""
    if who is None:
        return to_login(request)
    saved = request.query_params.get("saved")
    return await _editor(request, who, election, saved={"message": saved[:100]} if saved else None)


@router.get("/coordinate/{election}/checklists.json")
async def checklists_json(
    request: Request,
    election: str,
    who: Coordinator | None = Depends(authorized("checklists.read")),
) -> JSONResponse:
    """The same checklists as JSON: each newest version, its number, who saved it, when."""
    await election_row(request, election)
    found = await run_in_threadpool(list_checklists, store_engine(request), election)
    return JSONResponse({"election": election, "checklists": [c.to_dict() for c in found]})


async def _submitted_source(request: Request) -> str:
    """The document from the form: an uploaded file if one was chosen, else the textarea.

    The form is read with bounds (one file, few fields, parts no larger than a checklist)
    and its CSRF token checked before anything else is looked at.
    """
    try:
        form = await request.form(max_files=1, max_fields=5, max_part_size=MAX_SOURCE_BYTES + 1)
    except Exception as exc:  # malformed multipart, too many fields or a part too large
        raise InputError(f"the form could not be read ({exc})"[:200], column="body") from None
    try:
        token = form.get("csrf")
        check_csrf(request, submitted=token if isinstance(token, str) else "")
        upload = form.get("file")
        data = b""
        if isinstance(upload, UploadFile) and upload.filename:
            data = await upload.read(MAX_SOURCE_BYTES + 1)
    finally:
        await form.close()
    if data:
        if len(data) > MAX_SOURCE_BYTES:
            raise InputError(f"a checklist must be at most {MAX_SOURCE_BYTES} bytes", column="file")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("the file must be UTF-8 text (YAML or JSON)", column="file") from None
    source = form.get("source")
    if not isinstance(source, str) or not source.strip():
        raise InputError("paste a checklist or choose a file", column="source")
    return source


@router.post("/coordinate/{election}/checklists", response_class=HTMLResponse)
async def checklists_submit(
    request: Request,
    election: str,
    who: Coordinator | None = Depends(authorized("checklists.edit", page=True)),
) -> Response:
    """Save a checklist as the next version of its id; a refused one is shown with its error."""
    if who is None:
        raise AuthError("coordinator login required")
    await election_row(request, election)  # the path's id first: its error names the field
    source = await _submitted_source(request)
    if not whole_election(who, election):
        raise Forbidden(
            "checklists are the same for every station: only a coordinator of the "
            "whole election edits them"
        )
    try:
        saved = await run_in_threadpool(
            lambda: save_checklist(store_engine(request), election, source, actor=who.name)
        )
    except InputError as error:
        return await _editor(request, who, election, source=source, error=error, status=400)
    note = f"{saved.checklist.id} v{saved.version}" + ("" if saved.created else " (unchanged)")
    target = with_lang(request, f"/coordinate/{election}/checklists")
    sep = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{sep}saved={quote(note)}", status_code=303)


@router.post("/coordinate/{election}/checklists/retire", response_class=HTMLResponse)
async def checklist_retire(
    request: Request,
    election: str,
    who: Coordinator | None = Depends(authorized("checklists.edit", page=True)),
) -> Response:
    """Stop offering the form's ``checklist`` to observers (its reports and results stay)."""
    if who is None:
        raise AuthError("coordinator login required")
    await election_row(request, election)
    form = await checked_form(request)
    checklist = check_checklist_id(form_field(form, "checklist"), "checklist")
    if not whole_election(who, election):
        raise Forbidden("only a coordinator of the whole election retires checklists")
    await run_in_threadpool(
        lambda: retire_checklist(store_engine(request), election, checklist, actor=who.name)
    )
    return RedirectResponse(
        with_lang(request, f"/coordinate/{election}/checklists"), status_code=303
    )


async def _results(request: Request, who: Coordinator, election: str) -> list[dict[str, Any]]:
    engine = store_engine(request)
    allowed = await visible(request, who, election)
    found = await run_in_threadpool(list_checklists, engine, election)
    out = []
    for saved in found:
        try:
            result = await run_in_threadpool(
                checklist_results, engine, election, saved.checklist.id, visible=allowed
            )
        except NotFoundError:  # pragma: no cover - listed a moment ago, versions never deleted
            continue
        out.append({**result.to_dict(), "retired": saved.retired})
    return out


@router.get("/coordinate/{election}/checklists/results", response_class=HTMLResponse)
async def results_page(
    request: Request,
    election: str,
    who: Coordinator | None = Depends(authorized("checklists.read", page=True)),
) -> Response:
    """Per checklist: answers per question, flagged stations, stations still missing."""
    if who is None:
        return to_login(request)
    info = await election_row(request, election)
    results = await _results(request, who, election)
    return render_page(
        request,
        "coordinate_checklists_results.html",
        {
            "who": who,
            "election": info,
            "results": results,
            "languages_order": LANGUAGES,
            "csrf": page_csrf(request),
        },
    )


@router.get("/coordinate/{election}/checklists/results.json")
async def results_json(
    request: Request,
    election: str,
    who: Coordinator | None = Depends(authorized("checklists.read")),
) -> JSONResponse:
    """The results page's data: only the stations of the caller's scope."""
    assert who is not None  # not a page: no session raises AuthError
    await election_row(request, election)
    return JSONResponse(
        {"election": election, "checklists": await _results(request, who, election)}
    )


@router.get(
    "/api/v1/observer/checklists",
    tags=["observe"],
    summary="The checklists of the observer's election, to fill in offline",
    dependencies=[Depends(rate_limit)],
    responses=error_responses(401, 429),
)
async def observer_checklist_list(
    request: Request, observer: Observer = Depends(current_observer)
) -> JSONResponse:
    """Each active checklist's newest version (id, title, questions, version)."""
    found = await run_in_threadpool(observer_checklists, store_engine(request), observer.election)
    return JSONResponse({"election": observer.election, "checklists": found})
