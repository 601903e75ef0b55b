"""The paced sender: delivers the outbox within Telegram's limits, at least once.

Messages to many chats (coordinators' messages to observers, station updates to followers)
are queued in the database (:func:`pollwatch.store.telegram.queue_messages`) and sent here.

Limits (Telegram's Bot FAQ, "My bot is hitting limits"): about 30 messages per second
overall, one per second per chat and 20 a minute per group. :class:`Pacer` hands out send
times: one slot every ``1 / rate`` seconds overall, none sooner than ``per_chat`` seconds
(``per_group`` for a group, whose chat id is negative) after the chat's previous one. A
``429 Too Many Requests`` carries ``retry_after``: every send pauses that
long, and the message is tried again (it is not lost and not counted).

Delivery. A batch is *claimed* for a lease (``claimed_until``); a message is deleted from
the outbox only after Telegram accepted it. If the process dies, its unconfirmed claims
expire and another sender (or the restarted one) sends them: every message is delivered at
least once, and a message is repeated only if it was accepted but not yet deleted when the
process died — at most the messages in flight (``in_flight``), since Telegram's sendMessage
has no idempotency key. A chat that blocked the bot or no longer exists (403, 400) is
given up after one try and its account's chat id dropped (nothing more is queued to it);
other failures are retried up to ``max_attempts`` claims. Each message is counted once, in
its batch, as ``delivered`` (Telegram answered ok) or ``failed``
(:mod:`pollwatch.store.telegram_batches`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
)
from sqlalchemy import Engine

from pollwatch.bot.keys import BotKeys
from pollwatch.store.telegram import Outgoing, claim_outgoing, outbox_size, sent

__all__ = [
    "OVERALL_RATE",
    "PER_CHAT_SECONDS",
    "PER_GROUP_SECONDS",
    "PacedSender",
    "Pacer",
    "SendReport",
]

_log = logging.getLogger(__name__)

OVERALL_RATE = 30.0
"""Messages per second to all chats together (Telegram's broadcast limit)."""

PER_CHAT_SECONDS = 1.0
"""Least seconds between two messages to one private chat."""

PER_GROUP_SECONDS = 3.0
"""Least seconds between two messages to one group (Telegram: 20 a minute per group; group
and channel chat ids are negative)."""


class Pacer:
    """Send times within an overall rate and a per-chat interval, with pauses for 429s."""

    def __init__(
        self,
        rate: float = OVERALL_RATE,
        per_chat: float = PER_CHAT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        *,
        per_group: float = PER_GROUP_SECONDS,
    ) -> None:
        if rate <= 0 or per_chat < 0 or per_group < 0:
            raise ValueError("the rate must be positive and the per-chat interval not negative")
        self.interval = 1.0 / rate
        self.per_second = max(1, int(rate))
        self.per_chat = per_chat
        self.per_group = per_group
        self.clock = clock
        self._next = 0.0
        self._chats: dict[int, float] = {}
        self._recent: deque[float] = deque()
        self.paused_until = 0.0

    def reserve(self, chat: int) -> float:
        """The earliest time this chat's next message may go; the slot is taken."""
        at = max(self.clock(), self._next, self._chats.get(chat, 0.0), self.paused_until)
        self._next = at + self.interval
        self._chats[chat] = at + (self.per_chat if chat > 0 else self.per_group)
        return at

    def window_wait(self) -> float:
        """Seconds to wait before one more send keeps the last second within the rate.

        Slots alone are not enough: a task that wakes late (a busy event loop) would send
        together with the next slots' tasks. This counts the sends actually started.
        """
        now = self.clock()
        while self._recent and self._recent[0] <= now - 1.0:
            self._recent.popleft()
        if len(self._recent) < self.per_second:
            return 0.0
        return self._recent[0] + 1.0 - now

    def record(self, chat: int) -> None:
        """A send to ``chat`` starts now."""
        del chat  # counted overall; the chat's own interval was set by reserve()
        self._recent.append(self.clock())

    def pause(self, seconds: float) -> None:
        """Nothing is sent for ``seconds`` (Telegram's ``retry_after``)."""
        self.paused_until = max(self.paused_until, self.clock() + seconds)


@dataclass
class SendReport:
    """What a drain did: delivered, dropped (blocked or gone chats), 429s honoured."""

    delivered: int = 0
    dropped: int = 0
    throttled: int = 0
    failed: int = 0
    seconds: float = 0.0
    chats: set[int] = field(default_factory=set)

    def to_dict(self) -> dict[str, float | int]:
        """JSON-ready figures."""
        return {
            "delivered": self.delivered,
            "dropped": self.dropped,
            "throttled": self.throttled,
            "failed": self.failed,
            "seconds": round(self.seconds, 3),
            "chats": len(self.chats),
        }


class PacedSender:
    """Drain the outbox through a bot, paced, at least once (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        bot: Bot,
        keys: BotKeys,
        *,
        rate: float = OVERALL_RATE,
        per_chat: float = PER_CHAT_SECONDS,
        per_group: float = PER_GROUP_SECONDS,
        in_flight: int = 30,
        batch: int = 200,
        lease: timedelta = timedelta(seconds=60),
        max_attempts: int = 5,
    ) -> None:
        self.engine = engine
        self.bot = bot
        self.keys = keys
        self.pacer = Pacer(rate, per_chat, per_group=per_group)
        self.in_flight = in_flight
        self.batch = batch
        self.lease = lease
        self.max_attempts = max_attempts

    async def drain(self, *, wait_for_claims: bool = True) -> SendReport:
        """Send until the outbox is empty; with ``wait_for_claims``, also what another
        (dead) sender claimed, once its lease ends."""
        report = SendReport()
        started = time.monotonic()
        while True:
            claimed = await asyncio.to_thread(
                claim_outgoing, self.engine, self.batch, lease=self.lease
            )
            if claimed:
                await self._send_batch(claimed, report)
                continue
            if not wait_for_claims or await asyncio.to_thread(outbox_size, self.engine) == 0:
                break
            await asyncio.sleep(min(1.0, self.lease.total_seconds() / 4))
        report.seconds = time.monotonic() - started
        return report

    async def run_forever(self, poll_seconds: float = 2.0) -> None:
        """Drain, then look again every ``poll_seconds`` (the bot process's background task)."""
        while True:
            try:
                report = await self.drain(wait_for_claims=False)
                if report.delivered or report.dropped:
                    _log.info("telegram outbox: %s", report.to_dict())
            except Exception:  # the database or Telegram away for a moment: try again later
                _log.exception("the paced sender failed; retrying")
            await asyncio.sleep(poll_seconds)

    async def _send_batch(self, claimed: list[Outgoing], report: SendReport) -> None:
        slots = asyncio.Semaphore(self.in_flight)

        async def one(message: Outgoing) -> None:
            async with slots:
                await self._send_one(message, report)

        await asyncio.gather(*(one(m) for m in claimed))

    async def _send_one(self, message: Outgoing, report: SendReport) -> None:
        chat = self.keys.open_chat(message.chat)
        if chat is None:  # sealed with another key: nobody to send it to
            report.dropped += 1
            await asyncio.to_thread(sent, self.engine, [message.id], outcome="failed")
            return
        while True:
            at = self.pacer.reserve(chat)
            await asyncio.sleep(max(0.0, at - self.pacer.clock()))
            if self.pacer.clock() < self.pacer.paused_until:
                continue  # a 429 arrived while this one waited: take a new slot
            while (wait := self.pacer.window_wait()) > 0:
                await asyncio.sleep(wait)
            if self.pacer.clock() < self.pacer.paused_until:
                continue
            self.pacer.record(chat)  # no await between the check and this: one event loop
            try:
                await self.bot.send_message(chat, message.text)
            except TelegramRetryAfter as error:
                report.throttled += 1
                self.pacer.pause(float(error.retry_after))
                continue
            except (TelegramForbiddenError, TelegramBadRequest) as error:
                # blocked the bot, or the chat is gone: given up at once, and the account's
                # chat dropped so nothing more is queued to it (a 400 about the message
                # itself, e.g. its text, fails only this message)
                report.dropped += 1
                gone = isinstance(error, TelegramForbiddenError) or _chat_gone(error)
                await asyncio.to_thread(
                    sent,
                    self.engine,
                    [message.id],
                    outcome="failed",
                    unreachable=[message.user_hash] if gone else [],
                )
                return
            except TelegramNetworkError:
                report.failed += 1
                if message.attempts >= self.max_attempts:
                    report.dropped += 1
                    with contextlib.suppress(Exception):
                        await asyncio.to_thread(sent, self.engine, [message.id], outcome="failed")
                return  # left claimed: sent again when the lease ends
            report.delivered += 1
            report.chats.add(chat)
            await asyncio.to_thread(sent, self.engine, [message.id])
            return


def _chat_gone(error: TelegramBadRequest) -> bool:
    """Whether a 400 says the chat itself is unusable (not found, deactivated, kicked)."""
    text = str(error.message).lower()
    return any(w in text for w in ("chat not found", "deactivated", "kicked", "user not found"))
