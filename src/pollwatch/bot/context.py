"""Who is writing, in which language, and one answer for every library refusal.

:class:`AccountMiddleware` runs before every message and button handler: it ignores
anything but private chats with a person, hashes the user id (the id itself is never
stored), picks the interface language (the account's choice, else Telegram's
``language_code``) and hands the handler a :class:`Who`. A
:class:`pollwatch.errors.PollwatchError` raised by a handler becomes a plain reply (the
bot's face of the one exception tree): the reason, no traceback.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Chat, Message, TelegramObject

from pollwatch.bot.i18n import Translate, language_of, translator
from pollwatch.bot.reasons import translate_reason
from pollwatch.bot.services import BotServices
from pollwatch.errors import PollwatchError
from pollwatch.limits import limit_key
from pollwatch.store.telegram import account, restore_chat

__all__ = ["AccountMiddleware", "Who", "refusal"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Who:
    """The person behind an update, as the handlers see them (ids stay in memory)."""

    user_id: int
    chat_id: int
    user_hash: str
    lang: str
    _: Translate


def refusal(error: PollwatchError, _: Translate) -> str:
    """The reply to a refused input: what was wrong, in the reader's language (the bot's own
    reasons are msgids; the library's are translated by :func:`translate_reason`)."""
    reason = getattr(error, "reason", None) or str(error)
    return _("Not accepted: {reason}", reason=translate_reason(reason, _))


class AccountMiddleware(BaseMiddleware):
    """Adds ``who`` to the handler's data; turns library errors into replies."""

    def __init__(self, services: BotServices) -> None:
        self.services = services
        self._told: dict[str, float] = {}  # account → until when it was told to slow down

    async def _over_limit(self, user_hash: str) -> float:
        """Seconds this account must wait (``POLLWATCH_RATE_LIMIT`` updates a minute)."""
        limiter = self.services.limiter
        if limiter is None or limiter.per_minute <= 0:
            return 0.0
        key = limit_key("telegram", user_hash)
        return await asyncio.to_thread(limiter.allow, key, limiter.per_minute)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        chat: Chat | None
        if isinstance(event, Message):
            user, chat = event.from_user, event.chat
        elif isinstance(event, CallbackQuery):
            user = event.from_user
            chat = event.message.chat if event.message is not None else None
        else:
            return await handler(event, data)
        if user is None or user.is_bot or chat is None or chat.type != "private":
            return None  # the bot talks to people in private chats only
        keys = self.services.keys
        user_hash = keys.user_hash(user.id)
        wait = await self._over_limit(user_hash)
        if wait > 0:  # a flood: dropped, and told once per wait
            if isinstance(event, CallbackQuery):
                await event.answer()
            now = time.monotonic()
            if self._told.get(user_hash, 0.0) < now:
                if len(self._told) > 10_000:
                    self._told = {k: v for k, v in self._told.items() if v > now}
                self._told[user_hash] = now + wait
                _ = translator(language_of(user.language_code))
                await data["bot"].send_message(
                    chat.id, _("Too many messages; wait {n} s.", n=math.ceil(wait))
                )
            return None
        stored = await self.services.run(account, self.services.engine, user_hash)
        if stored is not None and stored.chat is None and stored.observer_id is not None:
            # an observer whose chat was dropped as unreachable (it blocked the bot) writes
            # again: reachable, so the coordinators' messages reach it again
            chat_sealed = keys.seal_chat(chat.id)
            await self.services.run(restore_chat, self.services.engine, user_hash, chat_sealed)
        lang = (stored.lang if stored is not None else None) or language_of(user.language_code)
        who = Who(user.id, chat.id, user_hash, lang, translator(lang))
        data["who"] = who
        task = asyncio.current_task()
        if task is not None:
            self.services.handling.add(task)
        try:
            return await handler(event, data)
        except PollwatchError as error:
            text = refusal(error, who._)
            if isinstance(event, CallbackQuery):
                await event.answer()
            bot = data["bot"]
            await bot.send_message(chat.id, text)
            return None
        finally:
            if task is not None:
                self.services.handling.discard(task)
