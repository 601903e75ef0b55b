"""Build the bot: the aiogram ``Bot`` (pointed at ``POLLWATCH_TELEGRAM_API``), the
dispatcher with every part's router, and long polling.

``pollwatch bot`` calls :func:`run_polling`; the web app's webhook
(:mod:`pollwatch.web.telegram`) builds the same dispatcher with :func:`build_dispatcher`
over the web app's engine and writer, so the two faces share one service layer.
"""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import BotCommand
from sqlalchemy import Engine

from pollwatch.bot import coach, guidance, observers, privacy, voters
from pollwatch.bot.context import AccountMiddleware
from pollwatch.bot.deliveries import watch_alerts, watch_deliveries
from pollwatch.bot.flows import FlowIsolation, FlowStorage
from pollwatch.bot.keys import BotKeys
from pollwatch.bot.sender import PacedSender
from pollwatch.bot.services import BotServices
from pollwatch.config import Settings
from pollwatch.errors import InputError
from pollwatch.limits import RateLimiter, open_counters
from pollwatch.store.ingest import IngestWriter

__all__ = [
    "COMMANDS",
    "FOLLOW_SECONDS",
    "build_dispatcher",
    "create_bot",
    "run_polling",
    "run_sender",
    "services_for",
    "watch_followed",
]

_log = logging.getLogger(__name__)

COMMANDS: tuple[tuple[str, str], ...] = (
    ("menu", "Observers: send a report"),
    ("mine", "Observers: my reports"),
    ("topics", "Coach: topics"),
    ("practice", "Coach: practise a conversation"),
    ("where", "Find a polling station"),
    ("follow", "Follow a station's queue"),
    ("guide", "Voters: registration and voting days"),
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


def services_for(
    settings: Settings, engine: Engine, writer: IngestWriter, limiter: RateLimiter | None = None
) -> BotServices:
    """The handlers' dependencies; InputError if the key is missing or short. ``limiter``
    counts each account's updates (``POLLWATCH_RATE_LIMIT`` a minute, shared by processes)."""
    return BotServices(
        settings=settings,
        engine=engine,
        writer=writer,
        keys=BotKeys.from_secret(settings.telegram_key),
        limiter=limiter,
    )


def build_dispatcher(services: BotServices) -> Dispatcher:
    """The dispatcher with every part's router and the account middleware; conversations
    are kept in the database (:class:`pollwatch.bot.flows.FlowStorage`), so a restart
    keeps a half-typed report."""
    # one account's updates one at a time (a double tap, a resent update): each reads and
    # writes its flow's state in the database, which must not interleave
    dp = Dispatcher(
        storage=FlowStorage(services.engine, services.keys, services.handling),
        events_isolation=FlowIsolation(services.handling),
    )
    dp["services"] = services
    middleware = AccountMiddleware(services)
    dp.message.outer_middleware(middleware)
    dp.callback_query.outer_middleware(middleware)
    # order matters: a flow's own text handlers before the coach's catch-all
    dp.include_routers(
        privacy.handlers.router(),
        observers.handlers.router(),
        voters.handlers.router(),
        guidance.handlers.router(),
        coach.handlers.router(),
        privacy.fallback.router(),
    )
    return dp


async def set_commands(bot: Bot) -> None:
    """Publish the command menu."""
    await bot.set_my_commands([BotCommand(command=c, description=d) for c, d in COMMANDS])


FOLLOW_SECONDS = 60.0
"""How often followed stations are checked for a changed wait or ballots warning (the
public status itself moves in 10-minute steps)."""


async def watch_followed(services: BotServices, every: float = FOLLOW_SECONDS) -> None:
    """Queue an update to followers whose station changed, every ``every`` seconds."""
    election = services.settings.telegram_election
    if not election:
        return
    while True:
        try:
            await services.run(
                voters.follow_updates,
                services.engine,
                services.keys,
                election,
                delay_minutes=services.settings.public_delay_minutes,
            )
        except Exception:  # the database away for a moment: next round
            _log.exception("checking followed stations failed")
        await asyncio.sleep(every)


async def run_sender(settings: Settings, engine: Engine | None = None) -> None:
    """Only the paced sender, the followed stations' watch, the coordinators' messages and
    the alerts (for a webhook deployment)."""
    from pollwatch.store import open_store

    engine = engine or open_store(settings.resolved_database_url())
    writer = IngestWriter(engine)
    services = services_for(settings, engine, writer)
    bot = create_bot(settings)
    sender = PacedSender(engine, bot, services.keys)
    try:
        await asyncio.gather(
            sender.run_forever(),
            watch_followed(services),
            watch_deliveries(services),
            watch_alerts(services),
        )
    finally:
        await bot.session.close()


async def run_polling(settings: Settings, engine: Engine | None = None) -> None:
    """Run the bot by long polling until stopped (Ctrl-C or SIGTERM), with the paced sender,
    the followed stations' watch, the coordinators' messages and the alerts in the same
    process."""
    from pollwatch.store import open_store

    engine = engine or open_store(settings.resolved_database_url())
    writer = IngestWriter(engine)
    counters = open_counters(settings, engine)
    limiter = RateLimiter(settings.rate_limit, counters)
    services = services_for(settings, engine, writer, limiter)
    bot = create_bot(settings)
    dp = build_dispatcher(services)
    sender = PacedSender(engine, bot, services.keys)
    writer.start()
    background = [
        asyncio.create_task(sender.run_forever()),
        asyncio.create_task(watch_followed(services)),
        asyncio.create_task(watch_deliveries(services)),
        asyncio.create_task(watch_alerts(services)),
    ]
    try:
        await asyncio.to_thread(lambda: services.coach)  # the coach's index, off the loop
        await bot.delete_webhook()
        await set_commands(bot)
        await dp.start_polling(bot, handle_signals=True, close_bot_session=False)
        await services.settle()  # replies still being sent, before the session closes
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        writer.stop()
        limiter.close()
        counters.close()
        await bot.session.close()
