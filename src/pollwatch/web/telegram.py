"""The Telegram bot's webhook and the observer app's link code, in the web app.

``POST /telegram/webhook``: Telegram delivers updates here when
``POLLWATCH_TELEGRAM_WEBHOOK_SECRET`` is set (``pollwatch bot webhook URL`` registers it);
every call must carry the secret in ``X-Telegram-Bot-Api-Secret-Token`` (compared in constant
time), anything else is a 401. The update runs through the same dispatcher as
``pollwatch bot`` (:func:`pollwatch.bot.app.build_dispatcher`) over this process's engine and
group-commit writer, so bot and web reports share one commit. The bot is built on first use
(no aiogram import when no bot is configured).

``POST /api/v1/observer/telegram-link`` (observer token): a one-time link code for the
observer holding the token, its ``t.me`` deep link and QR code (SVG), for the observer app.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from pollwatch.errors import AuthError, InputError, NotFoundError
from pollwatch.store import Observer
from pollwatch.store.telegram import create_link_code
from pollwatch.web.deps import current_observer, rate_limit, store_engine
from pollwatch.web.errors import error_responses
from pollwatch.web.json_bodies import read_json_object

__all__ = ["SECRET_HEADER", "close_telegram", "router"]

router = APIRouter(tags=["telegram"])

SECRET_HEADER = "x-telegram-bot-api-secret-token"
"""The header in which Telegram sends the webhook's ``secret_token``."""

_log = logging.getLogger(__name__)

_AN_UPDATE = "a Telegram update with an update_id"


@dataclass
class _Face:
    bot: Any
    dispatcher: Any
    username: str | None = None


def _face(request: Request) -> _Face:
    """This process's bot and dispatcher, built on first use (no await: no race)."""
    state = request.app.state
    face: _Face | None = getattr(state, "telegram", None)
    if face is None:
        settings = state.settings
        if not settings.telegram_token:
            raise NotFoundError("no Telegram bot is configured on this server")
        from pollwatch.bot.app import build_dispatcher, create_bot, services_for

        services = services_for(settings, state.engine, state.ingest, state.rate_limiter)
        face = _Face(create_bot(settings), build_dispatcher(services))
        state.telegram = face
    return face


async def close_telegram(app: Any) -> None:
    """Close the bot's HTTP session at shutdown (if the bot was ever built)."""
    face: _Face | None = getattr(app.state, "telegram", None)
    if face is not None:
        await face.bot.session.close()


@router.post("/telegram/webhook", include_in_schema=False)
async def telegram_webhook(request: Request) -> JSONResponse:
    """One update from Telegram: checked secret, then the bot's dispatcher."""
    settings = request.app.state.settings
    secret = settings.telegram_webhook_secret
    if not secret or not settings.telegram_token:
        raise NotFoundError("no Telegram webhook is configured on this server")
    given = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode("utf-8", "replace"), secret.encode("utf-8")):
        raise AuthError("missing or wrong Telegram secret token")
    body = await read_json_object(request, None, expected=_AN_UPDATE)  # any of its fields
    if type(body.get("update_id")) is not int:
        raise InputError(f"the body must be {_AN_UPDATE}", column="body")
    face = _face(request)
    from aiogram.types import Update
    from pydantic import ValidationError

    try:
        update = Update.model_validate(body, context={"bot": face.bot})
    except ValidationError:
        raise InputError("the body is not a Telegram update", column="body") from None
    try:
        await face.dispatcher.feed_update(face.bot, update)
    except Exception:  # answered 200 all the same: Telegram would resend it forever
        _log.exception("the bot failed on an update")
    return JSONResponse({"ok": True})


@router.post(
    "/api/v1/observer/telegram-link",
    status_code=201,
    summary="A one-time code linking the observer to a Telegram account (deep link, QR)",
    dependencies=[Depends(rate_limit)],
    responses={
        201: {"description": "{'code', 'url', 'expires_at', 'qr_svg'}"},
        **error_responses(401, 404, 429),
    },
)
async def post_telegram_link(
    request: Request, observer: Observer = Depends(current_observer)
) -> JSONResponse:
    """A new link code (works once, for 24 hours) as a t.me deep link and its QR code."""
    face = _face(request)
    if face.username is None:
        me = await face.bot.get_me()
        face.username = me.username
    from pollwatch.bot.links import with_link

    engine = store_engine(request)
    link = await run_in_threadpool(create_link_code, engine, observer.id)
    shown = with_link(link, str(face.username))
    return JSONResponse(
        {
            "code": shown.code,
            "url": shown.url,
            "expires_at": shown.expires_at.isoformat(),
            "qr_svg": shown.qr_svg,
        },
        status_code=201,
    )
