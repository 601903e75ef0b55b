"""Deliveries counted as Telegram accepted them: queued, delivered and failed apart, a user
who blocked the bot given up at once (and not queued to again), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.asyncrun import run_async
from tests.bot.harness import ELECTION, Harness, running_bot

from pollwatch.bot.app import create_bot
from pollwatch.bot.deliveries import deliver_messages
from pollwatch.bot.sender import PacedSender
from pollwatch.observe.messages import parse_targets
from pollwatch.store.messages import list_messages, send_message
from pollwatch.store.telegram import account, link_observer, outbox_size, queue_to_observers
from pollwatch.store.telegram_batches import list_batches

BLOCKED, GONE, FLAKY = 30_002, 30_003, 30_004
CHATS = range(30_000, 30_006)


def _link(h: Harness) -> None:
    keys = h.services.keys
    for chat in CHATS:
        observer = h.observer(("8001",))
        link_observer(
            h.engine, observer.id, user_hash=keys.user_hash(chat), chat=keys.seal_chat(chat)
        )


def _message(h: Harness, text: str) -> int:
    sent = send_message(
        h.engine, ELECTION, text=text, targets=parse_targets(["station:8001"]), actor="chief"
    )
    return int(sent["id"])


async def _drain(h: Harness) -> None:
    bot = create_bot(h.settings)
    try:
        sender = PacedSender(
            h.engine, bot, h.services.keys, rate=200, per_chat=0.0, lease=timedelta(seconds=1)
        )
        await sender.drain()
    finally:
        await bot.session.close()


def test_queued_delivered_and_failed_are_counted_apart(db_url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_bot(db_url, tmp_path) as h:
            _link(h)
            fake = h.fake
            fake.refuse(
                lambda c: c.chat_id == BLOCKED, 1, 403, "Forbidden: bot was blocked by the user"
            )
            fake.refuse(lambda c: c.chat_id == GONE, 1, 400, "Bad Request: chat not found")
            # a 400 about the message, not the chat: this message fails, the chat stays
            fake.refuse(lambda c: c.chat_id == FLAKY, 1, 400, "Bad Request: message is too long")
            first = _message(h, "Polls close at 20:00")
            assert deliver_messages(h.engine).chats == len(CHATS)
            [listed] = list_messages(h.engine, ELECTION)
            assert listed["telegram"] == {"queued": 6, "delivered": 0, "failed": 0}
            assert listed["delivered"] == 0  # queued is not delivered
            await _drain(h)
            assert outbox_size(h.engine) == 0
            [listed] = list_messages(h.engine, ELECTION)
            assert listed["telegram"] == {"queued": 6, "delivered": 3, "failed": 3}
            assert listed["delivered"] == 3  # the chats Telegram accepted
            # each refused chat was tried once (the fake would accept a retry): not retried
            tried = [c.chat_id for c in fake.calls if c.method == "sendMessage"]
            assert tried.count(BLOCKED) == 1 and tried.count(GONE) == 1
            keys = h.services.keys
            for chat, dropped in ((BLOCKED, True), (GONE, True), (FLAKY, False)):
                stored = account(h.engine, keys.user_hash(chat))
                assert stored is not None and (stored.chat is None) == dropped, chat
            # the next message is not queued to the chats that refused the bot
            _message(h, "Count the spoilt ballots twice")
            assert deliver_messages(h.engine).chats == len(CHATS) - 2
            await _drain(h)
            newest, oldest = list_messages(h.engine, ELECTION)
            assert oldest["id"] == first
            assert newest["telegram"] == {"queued": 4, "delivered": 4, "failed": 0}
            # a broadcast is a batch of its own, counted the same way
            broadcast = queue_to_observers(h.engine, ELECTION, "Thank you all")
            assert broadcast.queued == 4 and broadcast.batch.startswith("b:")
            await _drain(h)
            counts = {b["batch"]: b for b in list_batches(h.engine)}
            got = counts[broadcast.batch]
            assert (got["queued"], got["delivered"], got["failed"], got["pending"]) == (4, 4, 0, 0)
            # the observer who blocked the bot writes to it again: reachable again
            await h.say(BLOCKED, "/privacy")
            stored = account(h.engine, keys.user_hash(BLOCKED))
            assert stored is not None and stored.chat is not None

    run_async(scenario())
