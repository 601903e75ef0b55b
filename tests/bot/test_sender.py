"""The paced sender: a broadcast to 500 observers under the fake server's 429s, the pace
within the limits, and a restart in the middle (every message delivered, repeats bounded by
the messages in flight)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from tests.asyncrun import run_async
from tests.bot.fake_telegram import FakeTelegram
from tests.bot.harness import KEY, running_bot

from pollwatch.bot.app import create_bot
from pollwatch.bot.keys import BotKeys
from pollwatch.bot.sender import PacedSender, Pacer
from pollwatch.config import Settings
from pollwatch.store import open_store
from pollwatch.store.telegram import outbox_size, queue_messages, queue_to_observers

RATE = 250.0  # the suite runs the pace faster than Telegram's 30/s; the rule is the same
PER_CHAT = 0.2


def _queue(engine: object, keys: BotKeys, chats: range, text: str = "Polls close at 20:00") -> int:
    return queue_messages(
        engine,  # type: ignore[arg-type]
        [(keys.user_hash(c), keys.seal_chat(c), f"{text} #{c}") for c in chats],
    )


def _pace_ok(times: list[float], rate: float) -> None:
    """No more sends in any window of one second than the rate allows (plus one)."""
    times = sorted(times)
    j = 0
    for i, t in enumerate(times):
        while times[j] < t - 1.0:
            j += 1
        assert i - j + 1 <= rate + 1, f"{i - j + 1} sends within one second"


def test_the_pacer_spaces_sends_overall_and_per_chat() -> None:
    now = [100.0]
    pacer = Pacer(rate=10, per_chat=1.0, clock=lambda: now[0])
    slots = [pacer.reserve(chat) for chat in (1, 2, 3, 1)]
    assert slots[:3] == pytest.approx([100.0, 100.1, 100.2]) and slots[3] == 101.0
    pacer.pause(5)
    assert pacer.reserve(4) == 105.0
    group = Pacer(rate=10, per_chat=1.0, per_group=3.0, clock=lambda: now[0])
    assert [group.reserve(-100) for _ in range(2)] == [100.0, 103.0]  # 20 a minute per group


def test_a_broadcast_to_500_under_429s_and_a_restart(db_url: str, tmp_path: Path) -> None:
    engine = open_store(db_url)
    keys = BotKeys.from_secret(KEY)
    chats = range(10_000, 10_500)
    assert _queue(engine, keys, chats) == 500

    async def scenario() -> None:
        async with FakeTelegram() as fake:
            settings = Settings(
                data_dir=tmp_path,
                home=tmp_path,
                telegram_token=fake.token,
                telegram_api=fake.url,
                telegram_key=KEY,
            )
            # every 60th message is answered 429 with retry_after=1, five times
            fake.throttle(
                lambda c: (
                    c.method == "sendMessage" and c.chat_id is not None and c.chat_id % 60 == 0
                ),
                times=5,
                retry_after=1,
            )
            bot = create_bot(settings)
            starts: list[tuple[float, int]] = []  # (when, chat) of every send the senders began
            pauses: list[tuple[float, float]] = []  # (when, seconds) of every 429 honoured

            def sender() -> PacedSender:
                made = PacedSender(
                    engine,
                    bot,
                    keys,
                    rate=RATE,
                    per_chat=PER_CHAT,
                    in_flight=20,
                    batch=100,
                    lease=timedelta(seconds=1),
                )
                pacer = made.pacer
                record, pause = pacer.record, pacer.pause

                def recorded(chat: int) -> None:
                    starts.append((pacer.clock(), chat))
                    record(chat)

                def paused(seconds: float) -> None:
                    pauses.append((pacer.clock(), seconds))
                    pause(seconds)

                pacer.record = recorded  # type: ignore[method-assign]
                pacer.pause = paused  # type: ignore[method-assign]
                return made

            running = asyncio.create_task(sender().drain())
            await fake.wait_for(lambda: len(fake.sent()) >= 150, timeout=30)
            running.cancel()  # the process dies in the middle of the broadcast
            with contextlib.suppress(asyncio.CancelledError):
                await running
            delivered_before = len(fake.sent())
            assert 0 < outbox_size(engine) < 500
            report = await sender().drain()
            await bot.session.close()

            sends = fake.sent()
            per_chat = Counter(c.chat_id for c in sends)
            assert set(per_chat) == set(chats)  # every message delivered
            repeats = sum(n - 1 for n in per_chat.values())
            assert repeats <= 20, repeats  # at most the messages in flight at the restart
            # the dead sender's last requests may still land after it was stopped
            after = len(sends) - delivered_before
            assert after - 20 <= report.delivered <= after
            assert outbox_size(engine) == 0
            throttled = [c for c in fake.calls if c.answered == 429]
            assert len(throttled) == 5
            # the pace, as the senders began the sends (the fake server shares their event
            # loop, so arrival times there bunch when the machine is busy)
            _pace_ok([t for t, _ in starts], RATE)
            assert len(pauses) == 5
            for when, seconds in pauses:  # nothing began while Telegram said to wait
                assert not [t for t, _ in starts if when < t < when + seconds]
            by_chat: dict[int, list[float]] = {}
            for t, chat in starts:
                by_chat.setdefault(chat, []).append(t)
            assert all(
                b - a >= PER_CHAT - 1e-6
                for times in by_chat.values()
                for a, b in zip(sorted(times), sorted(times)[1:], strict=False)
            )

    run_async(scenario())
    engine.dispose()


def test_a_coordinators_message_reaches_linked_observers(db_url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_bot(db_url, tmp_path) as h:
            await h.link(901, stations=("8001",))
            await h.link(902)
            h.observer()  # an observer not in Telegram gets nothing here
            assert (
                queue_to_observers(h.engine, "e-2026", "Close the door counts at 20:00").queued == 2
            )
            bot = create_bot(h.settings)
            sender = PacedSender(h.engine, bot, h.services.keys, rate=RATE, per_chat=PER_CHAT)
            report = await sender.drain()
            await bot.session.close()
            assert report.delivered == 2 and report.to_dict()["chats"] == 2
            assert {c.chat_id for c in h.fake.sent() if "door counts" in c.text} == {901, 902}

    run_async(scenario())


def test_alerts_reach_the_coordinators_group_once_each(db_url: str, tmp_path: Path) -> None:
    from pollwatch.bot.alerts import post_alerts

    async def scenario() -> None:
        async with running_bot(db_url, tmp_path, telegram_alerts_chat=-100777) as h:
            first = [
                ("silence:e-2026:8001:2026-12-05T09:00:00Z", "8001 silent for 60 min"),
                ("no_opening:e-2026:8002:2026-12-05T08:00:00Z", "8002 has not opened"),
            ]
            assert post_alerts(h.services, "e-2026", first) == 2
            again = [*first, ("silence:e-2026:8003:2026-12-05T10:00:00Z", "8003 silent")]
            assert post_alerts(h.services, "e-2026", again) == 1  # the lasting ones: once
            bot = create_bot(h.settings)
            report = await PacedSender(
                h.engine, bot, h.services.keys, rate=RATE, per_group=0.05
            ).drain()
            await bot.session.close()
            assert report.delivered == 3
            texts = sorted(c.text for c in h.fake.sent(-100777))
            assert texts == ["8001 silent for 60 min", "8002 has not opened", "8003 silent"]

    run_async(scenario())


def test_alerts_need_the_group(db_url: str, tmp_path: Path) -> None:
    from pollwatch.bot.alerts import post_alerts
    from pollwatch.errors import InputError

    async def scenario() -> None:
        async with running_bot(db_url, tmp_path) as h:
            with pytest.raises(InputError):
                post_alerts(h.services, "e-2026", [("a", "b")])

    run_async(scenario())
