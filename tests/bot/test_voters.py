"""Voters: finding a station with the guide's finder, its public status, following it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from tests.asyncrun import run_async
from tests.bot.harness import ELECTION, running_bot

from pollwatch.bot.app import create_bot
from pollwatch.bot.sender import PacedSender
from pollwatch.bot.voters import follow_updates
from pollwatch.observe.reports import format_timestamp
from pollwatch.store import store_report
from pollwatch.store.tables import telegram_users


def test_where_follow_an_update_and_unfollow(db_url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_bot(db_url, tmp_path) as h:
            found = await h.say(1001, "/where Belgrade")
            assert "8001" in found.text and "8003" in found.text and "8002" not in found.text
            cyrillic = await h.say(1001, "/where Белград")
            assert "8001" in cyrillic.text
            typo = await h.say(1001, "/where Novi Sadd")
            assert "8002" in typo.text
            assert "No station found" in (await h.say(1001, "/where zzzzqqqq")).text
            assert "Not accepted" in (await h.say(1001, "/where " + "x" * 300)).text
            assert "Not accepted" in (await h.say(1001, "/where")).text
            assert "/where Belgrade" in (await h.say(1001, "/where")).text  # how to ask
            assert "/follow 8001" in (await h.say(1001, "/follow  ")).text
            unknown = (await h.say(1001, "/follow 9999")).text
            assert "Not accepted" in unknown and "no station '9999'" in unknown
            assert "Not accepted" in (await h.say(1001, "/follow ../../etc")).text
            card = await h.say(1001, "/follow 8001")
            assert "You follow station 8001" in card.text and "No public figures yet" in card.text
            # an observer's count window, received half an hour ago (public after the delay)
            now = datetime.now(UTC)
            seen = now - timedelta(minutes=35)
            store_report(
                h.engine,
                {
                    "id": str(uuid.uuid4()),
                    "election": ELECTION,
                    "station": "8001",
                    "kind": "count",
                    "observed_at": format_timestamp(seen),
                    "window_start": format_timestamp(seen - timedelta(hours=1)),
                    "window_end": format_timestamp(seen),
                    "entered": 60,
                    "queue": 40,
                },
                observer=None,
                now=now - timedelta(minutes=30),
            )
            keys = h.services.keys
            assert follow_updates(h.engine, keys, ELECTION, delay_minutes=0) == 1
            assert follow_updates(h.engine, keys, ELECTION, delay_minutes=0) == 0  # no change
            bot = create_bot(h.settings)
            report = await PacedSender(h.engine, bot, keys, rate=100).drain()
            await bot.session.close()
            assert report.delivered == 1
            update = [c for c in h.fake.sent(1001) if "Queue" in c.text]
            assert len(update) == 1 and "Wait: about" in update[0].text
            stopped = await h.say(1001, "/unfollow")
            assert "1" in stopped.text
            with h.engine.connect() as conn:
                row = conn.execute(select(telegram_users)).mappings().one()
            assert row["chat"] is None  # nothing left to send: the chat id is dropped

    run_async(scenario())


def test_voters_commands_need_an_election(db_url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_bot(db_url, tmp_path, election=None) as h:
            assert "not set up" in (await h.say(1002, "/where Belgrade")).text
            assert "not set up" in (await h.say(1002, "/follow 8001")).text

    run_async(scenario())


def test_the_end_of_an_election_erases_its_chats(db_url: str, tmp_path: Path) -> None:
    from pollwatch.store.tables import telegram_follows
    from pollwatch.store.telegram import forget_election, queue_to_observers

    async def scenario() -> None:
        async with running_bot(db_url, tmp_path) as h:
            await h.link(1003)
            assert "You follow" in (await h.say(1004, "/follow 8002")).text
            assert queue_to_observers(h.engine, ELECTION, "hello").queued == 1
            assert forget_election(h.engine, ELECTION) == 2
            with h.engine.connect() as conn:
                rows = conn.execute(select(telegram_users)).mappings().all()
                assert all(r["chat"] is None and r["observer_id"] is None for r in rows)
                assert conn.execute(select(telegram_follows)).all() == []
            assert queue_to_observers(h.engine, ELECTION, "hello").queued == 0

    run_async(scenario())
