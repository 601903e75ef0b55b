"""Link codes as people receive them: a ``t.me/<bot>?start=<code>`` deep link and its QR
code (segno: SVG for pages, text for a terminal), and the webhook's registration."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

import segno

from pollwatch.config import Settings
from pollwatch.errors import InputError
from pollwatch.store.telegram import LinkCode, create_link_code, observer_id_by_name

__all__ = ["DeepLink", "deep_link", "link_for_observer", "qr_svg", "set_webhook"]


@dataclass(frozen=True)
class DeepLink:
    """A link code with its deep link and QR codes."""

    code: str
    url: str
    expires_at: datetime
    qr_svg: str
    qr_text: str


def deep_link(bot_username: str, code: str) -> str:
    """``https://t.me/<bot>?start=<code>``: Telegram opens the bot and sends ``/start code``."""
    return f"https://t.me/{bot_username}?start={code}"


def qr_svg(url: str) -> str:
    """The QR code of ``url`` as an inline SVG (no network, no image file)."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="svg", scale=4, xmldecl=False)
    return buffer.getvalue().decode("utf-8")


def _qr_text(url: str) -> str:
    buffer = io.StringIO()
    segno.make(url, error="m").terminal(out=buffer, compact=True)
    return buffer.getvalue()


def with_link(link: LinkCode, bot_username: str) -> DeepLink:
    """A stored link code dressed as a deep link and QR codes."""
    url = deep_link(bot_username, link.code)
    return DeepLink(link.code, url, link.expires_at, qr_svg(url), _qr_text(url))


async def bot_username(settings: Settings) -> str:
    """The bot's @username, asked of the Bot API (getMe)."""
    from pollwatch.bot.app import create_bot

    bot = create_bot(settings)
    try:
        me = await bot.get_me()
    finally:
        await bot.session.close()
    if not me.username:
        raise InputError("the bot has no username; set one with @BotFather", column="bot")
    return me.username


async def link_for_observer(settings: Settings, election: str, code_name: str) -> DeepLink:
    """A new link code for an observer named by code name (the CLI's `bot link-code`)."""
    from pollwatch.store import open_store

    engine = open_store(settings.resolved_database_url())
    try:
        observer_id = observer_id_by_name(engine, election, code_name)
        link = create_link_code(engine, observer_id)
    finally:
        engine.dispose()
    return with_link(link, await bot_username(settings))


async def set_webhook(settings: Settings, url: str) -> None:
    """Register the web app's webhook with Telegram, with the secret it will check."""
    from pollwatch.bot.app import create_bot

    if not url.startswith("https://") or not url.rstrip("/").endswith("/telegram/webhook"):
        raise InputError("the webhook must be https://…/telegram/webhook", column="url")
    if not settings.telegram_webhook_secret:
        raise InputError(
            "set POLLWATCH_TELEGRAM_WEBHOOK_SECRET first (the web app checks it)",
            column="POLLWATCH_TELEGRAM_WEBHOOK_SECRET",
        )
    bot = create_bot(settings)
    try:
        await bot.set_webhook(url, secret_token=settings.telegram_webhook_secret)
    finally:
        await bot.session.close()
