"""A broadcast through the paced sender at Telegram's real limits, against the fake Bot API
server of the suite (tests/bot/fake_telegram.py) on loopback.

Queues N messages to N chats in a fresh SQLite database, has the fake server answer some
sends with ``429`` and ``retry_after``, stops the sender in the middle (a crash), starts a new
one, and prints: delivered, repeats (bounded by the messages in flight), the highest number
of sends in any one second (≤ 30 + 1), the 429s honoured, and the time taken.

Run: ``PYTHONPATH=src:. .venv/bin/python bench/telegram_broadcast.py [--messages 500]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from tests.bot.fake_telegram import FakeTelegram

from pollwatch.bot.app import create_bot
from pollwatch.bot.keys import BotKeys
from pollwatch.bot.sender import OVERALL_RATE, PacedSender
from pollwatch.config import Settings
from pollwatch.store import open_store
from pollwatch.store.telegram import queue_messages

KEY = "bench-key-bench-key-bench-key-bench-key-0123"


def busiest_second(times: list[float]) -> int:
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] < t - 1.0:
            j += 1
        best = max(best, i - j + 1)
    return best


async def run(messages: int, crash_after: int, folder: Path) -> None:
    engine = open_store(f"sqlite:///{folder / 'bench.db'}")
    keys = BotKeys.from_secret(KEY)
    chats = range(1, messages + 1)
    queue_messages(engine, [(keys.user_hash(c), keys.seal_chat(c), f"message {c}") for c in chats])
    async with FakeTelegram() as fake:
        fake.throttle(
            lambda c: c.method == "sendMessage" and (c.chat_id or 0) % 97 == 0, 3, retry_after=2
        )
        settings = Settings(
            data_dir=folder,
            home=folder,
            telegram_token=fake.token,
            telegram_api=fake.url,
            telegram_key=KEY,
        )
        bot = create_bot(settings)
        started = time.monotonic()
        lease = timedelta(seconds=5)
        starts: list[float] = []

        def sender() -> PacedSender:
            made = PacedSender(engine, bot, keys, lease=lease)
            record = made.pacer.record

            def recorded(chat: int) -> None:
                starts.append(time.monotonic())
                record(chat)

            made.pacer.record = recorded  # type: ignore[method-assign]
            return made

        first = asyncio.create_task(sender().drain())
        await fake.wait_for(lambda: len(fake.sent()) >= crash_after, timeout=600)
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first
        await asyncio.sleep(1.0)  # a restart takes at least this long (a new process)
        report = await sender().drain()
        took = time.monotonic() - started
        await bot.session.close()
    sends = fake.sent()
    per_chat = Counter(c.chat_id for c in sends)
    print(f"messages queued          {messages}")
    print(f"chats reached            {len(per_chat)}")
    print(f"sends accepted           {len(sends)}")
    print(f"repeats after the crash  {sum(n - 1 for n in per_chat.values())} (in flight ≤ 30)")
    print(f"429s honoured            {sum(1 for c in fake.calls if c.answered == 429)}")
    print(f"busiest second (starts)  {busiest_second(starts)} sends (limit {OVERALL_RATE:.0f})")
    print(
        f"busiest second (arrived) {busiest_second([c.at for c in sends])} sends "
        "(the fake server shares the sender's event loop: arrivals bunch)"
    )
    print(f"second sender delivered  {report.delivered}")
    print(f"time                     {took:.1f} s ({len(sends) / took:.1f} messages/s)")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--crash-after", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(args.messages, args.crash_after, Path(folder)))


if __name__ == "__main__":
    main()
