"""The coach in the web app: a mobile-first chat page and its JSON API.

Every handler calls one coach function and formats its result; nothing the user types is
stored (opt-in counts record only argument ids, see :mod:`pollwatch.coach.stats`). Practice
state travels with the client, so the server keeps no session and no text.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from pollwatch.coach import AskResult, Coach, PracticeSession, default_coach
from pollwatch.coach.i18n import t
from pollwatch.coach.safety import safety_note
from pollwatch.coach.stats import record_ask
from pollwatch.coach.text import Lang
from pollwatch.web.pages import render_page, request_language, translator

__all__ = ["router"]

router = APIRouter()

MAX_TEXT = 2000
"""Longest text accepted from a user (characters); a relative's remark fits easily."""


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    lang: Literal["ru", "en"] | None = None


class PracticeStart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    argument: str | None = Field(default=None, max_length=100)
    lang: Literal["ru", "en", "sr"] = "en"
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)


class PracticeReply(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: dict[str, Any]
    text: str = Field(min_length=1, max_length=MAX_TEXT)


def content_lang(lang: str) -> Lang:
    """Coach content exists in Russian and English; other interface languages get English."""
    return "ru" if lang == "ru" else "en"


def _coach() -> Coach:
    return default_coach()


def _ask(request: Request, text: str, lang: Lang | None) -> AskResult:
    result = _coach().ask(text, lang)
    record_ask(request.app.state.settings, result)
    return result


def _arguments(lang: Lang) -> list[dict[str, Any]]:
    return [
        {"id": a.id, "claim": getattr(a.claim, lang), "topics": list(a.topics)}
        for a in _coach().kb.active
    ]


def coach_labels(lang: Lang) -> dict[str, str]:
    """Headings that travel with an answer, in the answer's own language (``coach.po``), so
    that a warning never mixes the interface language into the content's."""
    return {
        "risk": t("Legal risk of saying or sharing this", lang),
        "sharing": t("Sharing this source", lang),
        "safety": t("Safety note", lang),
        "safety_hint": t("Read this before you talk or share anything.", lang),
        "reviewed": t("Reviewed by {roles}, {date}", lang, roles="{roles}", date="{date}"),
        "draft": t("(draft, not yet reviewed)", lang),
        "no_answer": t("I have no answer for that yet.", lang),
        "mixed": t("You said two things at once; which one first?", lang),
    }


def _page_data(request: Request, q: str | None, argument: str | None) -> dict[str, Any]:
    clang = content_lang(request_language(request))
    result: dict[str, Any] | None = None
    if argument:
        answer = _coach().answer(argument, clang)
        result = {"status": "confident", "matches": [], "answer": answer.to_dict(), "topics": []}
    elif q and q.strip():
        result = _ask(request, q[:MAX_TEXT], clang).to_dict()
    return {
        "query": q,
        "result": result,
        "arguments": _arguments(clang),
        "content_lang": clang,
        "labels": coach_labels(clang),
    }


def _js_strings(request: Request) -> dict[str, str]:
    _ = translator(request)
    return {
        "error": _("Something went wrong:"),
        "bridge": _("Bridge"),
        "counterargument": _("Counterargument"),
        "question": _("Open question"),
        "sources": _("Sources"),
        "choose": _("Which of these is closest to what they said?"),
        "none": _("I did not find anything close to that. These are the topics I know:"),
        "thinking": _("Looking…"),
        "feedback": _("Feedback:"),
        "better": _("A reply that might work better:"),
        "done": _("Practice finished. Well done for keeping the conversation going."),
        **coach_labels(content_lang(request_language(request))),
    }


@router.get("/coach", response_class=HTMLResponse, include_in_schema=False)
def coach_page(
    request: Request,
    q: str | None = Query(default=None, max_length=MAX_TEXT),
    argument: str | None = Query(default=None, max_length=100),
) -> HTMLResponse:
    """The coach page; ``?q=`` answers without JavaScript (the form submits here)."""
    data = _page_data(request, q, argument)
    return render_page(request, "coach.html", {**data, "js_strings": _js_strings(request)})


@router.get("/coach.json")
def coach_page_json(
    request: Request,
    q: str | None = Query(default=None, max_length=MAX_TEXT),
    argument: str | None = Query(default=None, max_length=100),
) -> JSONResponse:
    """The JSON twin of the coach page."""
    return JSONResponse(_page_data(request, q, argument))


@router.get("/coach/safety", response_class=HTMLResponse, include_in_schema=False)
def coach_safety_page(request: Request) -> HTMLResponse:
    """The safety note (phones, reported remarks, the statutes), linked from every answer."""
    clang = content_lang(request_language(request))
    note = safety_note(_coach().kb, clang).to_dict()
    return render_page(request, "coach_safety.html", {"note": note, "labels": coach_labels(clang)})


@router.get("/coach/safety.json")
def coach_safety_json(request: Request) -> JSONResponse:
    """The JSON twin of the safety page."""
    return JSONResponse(
        {"note": safety_note(_coach().kb, content_lang(request_language(request))).to_dict()}
    )


@router.get("/api/v1/coach/safety")
def safety(lang: Literal["ru", "en", "sr"] = "en") -> dict[str, Any]:
    """The general safety note in ``lang`` (Serbian readers get the English content)."""
    return {"note": safety_note(_coach().kb, content_lang(lang)).to_dict()}


@router.post("/api/v1/coach/ask")
def ask(request: Request, body: AskRequest) -> dict[str, Any]:
    """Match what a relative said: ``{"status", "matches", "answer", "topics", "lang"}``."""
    return _ask(request, body.text, body.lang).to_dict()


@router.get("/api/v1/coach/arguments")
def arguments(lang: Literal["ru", "en"] = "en") -> dict[str, Any]:
    """Every active argument's id, claim and topics."""
    return {"arguments": _arguments(lang)}


@router.get("/api/v1/coach/arguments/{argument_id}")
def argument_answer(
    argument_id: str, lang: Literal["ru", "en", "sr"] = "en", variant: int = Query(0, ge=0, le=100)
) -> dict[str, Any]:
    """The three-step answer to one argument (when the user picked it from a list)."""
    return {"answer": _coach().answer(argument_id, content_lang(lang), variant=variant).to_dict()}


@router.post("/api/v1/coach/practice")
def practice_start(body: PracticeStart) -> dict[str, Any]:
    """Start a practice: the relative's opening line and the state to send back."""
    session = PracticeSession.start(
        _coach().kb, body.argument or None, content_lang(body.lang), seed=body.seed, coach=_coach()
    )
    argument = session.argument
    return {
        "state": session.to_dict(),
        "relative": session.opening,
        "argument": {"id": argument.id, "claim": getattr(argument.claim, session.state.lang)},
        "done": False,
    }


@router.post("/api/v1/coach/practice/reply")
def practice_reply(body: PracticeReply) -> dict[str, Any]:
    """Score a reply and give the relative's next line; the state comes back updated."""
    session = PracticeSession.from_dict(body.state, _coach().kb, _coach())
    turn = session.reply(body.text)
    return {
        "state": turn.state.to_dict(),
        "relative": turn.relative_line,
        "feedback": turn.feedback.to_dict(),
        "done": turn.finished,
    }
