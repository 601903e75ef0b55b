"""Build the bot: the aiogram ``Bot`` (pointed at ``POLLWATCH_TELEGRAM_API``), the
dispatcher with every part's router, and long polling.

``pollwatch bot`` calls :func:`run_polling`; the web app's webhook
(:mod:`pollwatch.web.telegram`) builds the same dispatcher with :func:`build_dispatcher`
over the web app's engine and writer, so the two faces share one service layer.
"""

from __future__ import annotations

import logging

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import BotCommand
from sqlalchemy import Engine

from pollwatch.bot import coach, observers, privacy, voters
from pollwatch.bot.context import AccountMiddleware
from pollwatch.bot.keys import BotKeys
from pollwatch.bot.services import BotServices
from pollwatch.config import Settings
from pollwatch.errors import InputError
from pollwatch.store.ingest import IngestWriter

__all__ = ["COMMANDS", "build_dispatcher", "create_bot", "run_polling", "services_for"]

_log = logging.getLogger(__name__)

COMMANDS: tuple[tuple[str, str], ...] = (
    ("menu", "Observers: send a report"),
    ("mine", "Observers: my reports"),
    ("topics", "Coach: topics"),
    ("practice", "Coach: practise a conversation"),
    ("where", "Find a polling station"),
    ("follow", "Follow a station's queue"),
    ("unfollow", "Stop following"),
    ("language", "Language"),
    ("privacy", "What the bot keeps"),
    ("forget", "Erase what the bot keeps about me"),
)
"""The command menu Telegram shows (English; set once at start)."""


def create_bot(settings: Settings) -> Bot:
    """The aiogram bot for ``POLLWATCH_TELEGRAM_TOKEN`` at ``POLLWATCH_TELEGRAM_API``."""
    token = settings.telegram_token
    left, _, right = (token or "").partition(":")
    if not left.isdigit() or not right or any(c.isspace() for c in token or ""):
        raise InputError(
            "POLLWATCH_TELEGRAM_TOKEN must be the token @BotFather gave (digits:letters)",
            column="POLLWATCH_TELEGRAM_TOKEN",
        )
    assert token is not None
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api))
    return Bot(token, session=session)


def services_for(settings: Settings, engine: Engine, writer: IngestWriter) -> BotServices:
    """The handlers' dependencies; InputError if the key is missing or short."""
    return BotServices(
        settings=settings,
        engine=engine,
        writer=writer,
        keys=BotKeys.from_secret(settings.telegram_key),
    )


def build_dispatcher(services: BotServices) -> Dispatcher:
    """The dispatcher with every part's router and the account middleware."""
    dp = Dispatcher()
    dp["services"] = services
    middleware = AccountMiddleware(services)
    dp.message.outer_middleware(middleware)
    dp.callback_query.outer_middleware(middleware)
    # order matters: a flow's own text handlers before the coach's catch-all
    dp.include_routers(
        privacy.handlers.router(),
        observers.handlers.router(),
        voters.handlers.router(),
        coach.handlers.router(),
        privacy.fallback.router(),
    )
    return dp


async def set_commands(bot: Bot) -> None:
    """Publish the command menu."""
    await bot.set_my_commands([BotCommand(command=c, description=d) for c, d in COMMANDS])


async def run_polling(settings: Settings, engine: Engine | None = None) -> None:
    """Run the bot by long polling until stopped (Ctrl-C or SIGTERM)."""
    from pollwatch.store import open_store

    engine = engine or open_store(settings.resolved_database_url())
    writer = IngestWriter(engine)
    services = services_for(settings, engine, writer)
    bot = create_bot(settings)
    dp = build_dispatcher(services)
    writer.start()
    try:
        await bot.delete_webhook()
        await set_commands(bot)
        await dp.start_polling(bot, handle_signals=True)
    finally:
        writer.stop()
        await bot.session.close()
