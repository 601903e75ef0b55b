"""The bot under test: the real dispatcher and service layer, long polling against the fake
Bot API server, on a real SQLite or PostgreSQL database.

``async with running_bot(url, folder) as h:`` starts the fake server, the report writer and
``Dispatcher.start_polling`` (the same code path as ``pollwatch bot``); ``h.say(user, text)``
pushes the JSON update Telegram would send and returns the bot's first reply to that chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from tests.bot.fake_telegram import TOKEN, Call, FakeTelegram

from pollwatch.bot.app import build_dispatcher, create_bot, services_for
from pollwatch.bot.services import BotServices
from pollwatch.config import Settings
from pollwatch.limits import RateLimiter, open_counters
from pollwatch.store import (
    create_election,
    create_invites,
    import_stations,
    observer_for_token,
    open_store,
    redeem_invite,
)
from pollwatch.store.ingest import IngestWriter
from pollwatch.store.people import Observer

KEY = "a-test-key-that-is-long-enough-for-the-bot-0123456789"
ELECTION = "e-2026"

_message_ids = itertools.count(1)


def user(uid: int, lang: str = "en") -> dict[str, Any]:
    return {"id": uid, "is_bot": False, "first_name": "Test", "language_code": lang}


def message_update(
    uid: int, text: str | None = None, lang: str = "en", **extra: Any
) -> dict[str, Any]:
    """The JSON of a private text message (with /commands' entity, as Telegram sends it)."""
    msg: dict[str, Any] = {
        "message_id": next(_message_ids),
        "date": int(time.time()),
        "chat": {"id": uid, "type": "private", "first_name": "Test"},
        "from": user(uid, lang),
        **extra,
    }
    if text is not None:
        msg["text"] = text
        if text.startswith("/"):
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"message": msg}


def callback_update(uid: int, data: str, lang: str = "en") -> dict[str, Any]:
    """The JSON of a tap on an inline button."""
    return {
        "callback_query": {
            "id": str(next(_message_ids)),
            "from": user(uid, lang),
            "chat_instance": "1",
            "data": data,
            "message": {
                "message_id": next(_message_ids),
                "date": int(time.time()),
                "chat": {"id": uid, "type": "private"},
                "from": {"id": 123456, "is_bot": True, "first_name": "pollwatch"},
                "text": "…",
            },
        }
    }


@dataclass
class Harness:
    fake: FakeTelegram
    engine: Engine
    services: BotServices
    settings: Settings
    observers: dict[str, Observer] = field(default_factory=dict)

    async def send(self, update: dict[str, Any]) -> int:
        """Push an update; returns how many calls were recorded before it."""
        before = len(self.fake.calls)
        self.fake.push(update)
        return before

    async def say(self, uid: int, text: str, lang: str = "en") -> Call:
        """Send a text message and wait for the bot's first reply to that chat."""
        before = await self.send(message_update(uid, text, lang))
        return await self.fake.next_reply(uid, before)

    async def say_all(self, uid: int, text: str, count: int) -> list[Call]:
        """Send a text message and wait for ``count`` replies to that chat."""
        before = await self.send(message_update(uid, text))
        return await self.replies(uid, before, count)

    async def replies(self, uid: int, before: int, count: int) -> list[Call]:
        """The first ``count`` messages to ``uid`` after ``before`` recorded calls (waited for)."""

        def found() -> list[Call] | None:
            got = [
                c
                for c in self.fake.calls[before:]
                if c.method == "sendMessage" and c.answered == 200 and c.chat_id == uid
            ]
            return got[:count] if len(got) >= count else None

        result: list[Call] = await self.fake.wait_for(found)
        return result

    async def link(self, uid: int, stations: tuple[str, ...] = ()) -> Observer:
        """A new observer linked to this account (the link reply and the menu waited for)."""
        from pollwatch.store.telegram import create_link_code

        observer = self.observer(stations)
        code = create_link_code(self.engine, observer.id).code
        linked, menu = await self.say_all(uid, f"/start {code}", 2)
        assert "Not accepted" not in linked.text and menu.buttons(), linked.text
        return observer

    async def tap(self, uid: int, data: str, lang: str = "en") -> Call:
        """Tap a button and wait for the bot's next message to that chat."""
        before = await self.send(callback_update(uid, data, lang))
        return await self.fake.next_reply(uid, before)

    async def tap_label(self, uid: int, reply: Call, label: str) -> Call:
        """Tap the button of ``reply`` whose label starts with ``label``."""
        for text, data in reply.buttons():
            if text.startswith(label):
                return await self.tap(uid, data)
        raise AssertionError(f"no button {label!r} in {reply.buttons()}")

    def observer(self, stations: tuple[str, ...] = ()) -> Observer:
        invite = create_invites(self.engine, ELECTION, 1, stations_=stations)[0]
        redeemed = redeem_invite(self.engine, invite.code)
        return observer_for_token(self.engine, redeemed.token)


def _prepare(engine: Engine) -> None:
    create_election(engine, ELECTION, name="Test election")
    import_stations(
        engine,
        ELECTION,
        [
            {
                "station": "8001",
                "city": "Belgrade",
                "country": "Serbia",
                "address": "Kneza Milosa 1",
            },
            {"station": "8002", "city": "Novi Sad", "country": "Serbia"},
            {"station": "8003", "city": "Belgrade", "country": "Serbia", "address": "Nemanjina 2"},
        ],
    )


@contextlib.asynccontextmanager
async def running_bot(
    db_url: str,
    folder: Path,
    *,
    election: str | None = ELECTION,
    prepare: bool = True,
    **settings: Any,
) -> AsyncIterator[Harness]:
    """The bot running on ``db_url``; ``prepare=False`` for a restart over the same data
    (the election and its stations exist already)."""
    engine = open_store(db_url)
    if prepare:
        _prepare(engine)
    async with FakeTelegram() as fake:
        config = Settings(
            data_dir=folder / "data",
            home=folder,
            telegram_token=TOKEN,
            telegram_api=fake.url,
            telegram_key=KEY,
            telegram_election=election,
            public_delay_minutes=0,
            **settings,
        )
        writer = IngestWriter(engine)
        counters = open_counters(config, engine)
        limiter = RateLimiter(config.rate_limit, counters)
        services = services_for(config, engine, writer, limiter)
        bot = create_bot(config)
        dp = build_dispatcher(services)
        writer.start()
        polling = asyncio.create_task(
            dp.start_polling(bot, handle_signals=False, polling_timeout=1, close_bot_session=False)
        )
        try:
            await fake.wait_for(lambda: fake.polls > 0)  # polling runs: it can be stopped
            yield Harness(fake, engine, services, config)
        finally:
            with contextlib.suppress(RuntimeError):
                await dp.stop_polling()
            await polling
            await services.settle()  # a handler may still be sending its last message
            await bot.session.close()
            writer.stop()
            limiter.close()
            counters.close()
            engine.dispose()
