"""The coordinators' messages and the network's alerts, delivered in Telegram by the bot's
background tasks through the paced sender (the fake Bot API server, SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.asyncrun import run_async
from tests.bot.harness import ELECTION, Harness, running_bot

from pollwatch.bot.app import create_bot
from pollwatch.bot.deliveries import (
    URGENT_MARK,
    deliver_messages,
    message_text,
    watch_alerts,
    watch_deliveries,
)
from pollwatch.bot.sender import PacedSender
from pollwatch.observe.messages import parse_targets
from pollwatch.store import create_election, import_stations, store_report
from pollwatch.store.messages import list_messages, pending_deliveries, send_message
from pollwatch.store.telegram import link_observer, outbox_size

RATE = 60.0  # faster than Telegram's 30/s, slow enough to stop a broadcast in the middle
IN_FLIGHT = 5


def _link_many(h: Harness, chats: range, stations: tuple[str, ...]) -> None:
    """Observers linked in Telegram without the dialogue (the linking flow has its tests)."""
    keys = h.services.keys
    for chat in chats:
        observer = h.observer(stations)
        link_observer(
            h.engine, observer.id, user_hash=keys.user_hash(chat), chat=keys.seal_chat(chat)
        )


def _sender(h: Harness, bot: object) -> PacedSender:
    return PacedSender(
        h.engine,
        bot,  # type: ignore[arg-type]
        h.services.keys,
        rate=RATE,
        per_chat=0.2,
        per_group=0.05,
        in_flight=IN_FLIGHT,
        batch=10,
        lease=timedelta(seconds=1),
    )


async def _stop(*tasks: asyncio.Task[None]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_a_message_to_a_station_reaches_its_linked_observers_once(
    db_url: str, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running_bot(db_url, tmp_path) as h:
            await h.link(901, stations=("8001",))  # through the real /start dialogue
            _link_many(h, range(20_000, 20_030), ("8001",))
            await h.link(902, stations=("8002",))  # elsewhere: not reached
            here = {901, *range(20_000, 20_030)}
            sent = send_message(
                h.engine,
                ELECTION,
                text="Count the spoilt ballots twice",
                targets=parse_targets(["station:8001"]),
                urgent=True,
                actor="chief",
            )
            assert sent["recipients"] == 31
            bot = create_bot(h.settings)
            try:
                queuing = asyncio.create_task(watch_deliveries(h.services, every=0.05))
                sending = asyncio.create_task(_sender(h, bot).run_forever(poll_seconds=0.05))
                # the process dies in the middle of the broadcast ...
                await h.fake.wait_for(lambda: len(h.fake.sent()) >= 12 + 3)
                await _stop(queuing, sending)
                assert not pending_deliveries(h.engine)  # the target is marked sent
                assert outbox_size(h.engine) > 0
                # ... and is started again: the target is not queued twice, the rest arrives
                queuing = asyncio.create_task(watch_deliveries(h.services, every=0.05))
                sending = asyncio.create_task(_sender(h, bot).run_forever(poll_seconds=0.05))

                def arrived() -> bool:
                    got = {c.chat_id for c in h.fake.sent() if "spoilt" in (c.text or "")}
                    return got >= here and outbox_size(h.engine) == 0

                await h.fake.wait_for(arrived)
                await _stop(queuing, sending)
            finally:
                await bot.session.close()
            ours = [c for c in h.fake.sent() if "spoilt" in (c.text or "")]
            per_chat = Counter(c.chat_id for c in ours)
            assert set(per_chat) == here  # the observer at 8002 got nothing
            assert sum(n - 1 for n in per_chat.values()) <= IN_FLIGHT  # repeats bounded
            assert all(c.text.startswith(URGENT_MARK) for c in ours)
            [listed] = list_messages(h.engine, ELECTION)
            assert listed["bot"] == {"sent": 1}
            assert listed["delivered"] == 31  # a count, never who
            assert deliver_messages(h.engine).targets == 0  # nothing left to queue

    run_async(scenario())


def test_targets_by_country_code_name_and_everyone(db_url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_bot(db_url, tmp_path) as h:
            keys = h.services.keys
            bound = {}
            for chat, stations in ((31, ("8001",)), (32, ("8002",)), (33, ())):
                observer = h.observer(stations)
                link_observer(
                    h.engine, observer.id, user_hash=keys.user_hash(chat), chat=keys.seal_chat(chat)
                )
                bound[chat] = observer
            h.observer(("8001",))  # not linked in Telegram: reached, but nothing to queue
            for targets in (["country:Serbia"], [f"observer:{bound[32].code_name}"], ["all"]):
                send_message(
                    h.engine, ELECTION, text="x", targets=parse_targets(targets), actor="a"
                )
            send_message(h.engine, ELECTION, text="y", targets=parse_targets(["all"]), actor="a")
            report = deliver_messages(h.engine, limit=2)
            assert (report.targets, report.chats) == (2, 4)  # country: 3; code name: 1
            report = deliver_messages(h.engine)
            assert (report.targets, report.chats, report.failed) == (2, 6, 0)
            assert outbox_size(h.engine) == 10
            assert not pending_deliveries(h.engine)

    run_async(scenario())


def test_the_message_text_marks_urgency_in_the_readers_language() -> None:
    assert message_text("Hi", False, None).endswith("\n\nHi")
    assert not message_text("Hi", False, "ru").startswith(URGENT_MARK)
    assert message_text("Hi", True, "sr").startswith(f"{URGENT_MARK} Hitno: Poruka od")
    hostile = "<b>x</b> \u202e" + "z" * 2000
    assert message_text(hostile, True, "xx-evil").endswith(hostile)  # sent as plain text


def test_a_silent_stations_alert_reaches_the_group_once(db_url: str, tmp_path: Path) -> None:
    from pollwatch.store import create_invites, observer_for_token, redeem_invite

    election = "net-2026"
    now = datetime(2026, 3, 15, 7, 30, tzinfo=UTC)  # 08:30 in Belgrade

    async def scenario() -> None:
        async with running_bot(
            db_url,
            tmp_path,
            election=election,
            telegram_alerts_chat=-100555,
            telegram_alerts_lang="ru",
        ) as h:
            create_election(h.engine, election, name="Network")
            import_stations(
                h.engine,
                election,
                [{"station": "rs-1", "country": "RS", "timezone": "Europe/Belgrade",
                  "schedule": "2026-03-15 07:00-20:00"}],
            )  # fmt: skip
            code = create_invites(h.engine, election, 1, stations_=["rs-1"])[0].code
            observer = observer_for_token(h.engine, redeem_invite(h.engine, code).token)
            store_report(
                h.engine,
                {"id": str(uuid.uuid4()), "election": election, "station": "rs-1",
                 "kind": "status", "status": "opened", "observed_at": "2026-03-15T06:05:00Z"},
                observer=observer, now=datetime(2026, 3, 15, 6, 6, tzinfo=UTC),
            )  # fmt: skip
            rounds = [0]

            def clock() -> datetime:
                rounds[0] += 1
                return now + timedelta(seconds=rounds[0])  # the same silence, later rounds

            bot = create_bot(h.settings)
            try:
                posting = asyncio.create_task(watch_alerts(h.services, every=0.05, clock=clock))
                sending = asyncio.create_task(_sender(h, bot).run_forever(poll_seconds=0.05))
                await h.fake.wait_for(lambda: rounds[0] >= 2 and h.fake.sent(-100555))
                await h.fake.wait_for(lambda: rounds[0] >= 4 and outbox_size(h.engine) == 0)
                await _stop(posting)
                # a restart posts nothing again: the ids are stored
                posting = asyncio.create_task(watch_alerts(h.services, every=0.05, clock=clock))
                start = rounds[0]
                await h.fake.wait_for(lambda: rounds[0] >= start + 2)
                await h.fake.wait_for(lambda: outbox_size(h.engine) == 0)
                await _stop(posting, sending)
            finally:
                await bot.session.close()
            [alert] = h.fake.sent(-100555)
            # in the group's language (POLLWATCH_TELEGRAM_ALERTS_LANG=ru)
            assert "участок rs-1" in alert.text and "Нет сообщений 60 минут" in alert.text
            assert "07:06 +01:00" in alert.text  # local time, since the last report arrived

    run_async(scenario())


def test_two_processes_never_queue_one_target_twice(db_url: str, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from pollwatch.store.messages import queue_delivery

    async def scenario() -> None:
        async with running_bot(db_url, tmp_path) as h:
            _link_many(h, range(40_000, 40_020), ("8001",))
            for n in range(5):
                send_message(
                    h.engine, ELECTION, text=f"m{n}", targets=parse_targets(["all"]), actor="a"
                )
            targets = [t["target_id"] for t in pending_deliveries(h.engine)]
            with ThreadPoolExecutor(4) as pool:
                got = list(
                    pool.map(
                        lambda t: queue_delivery(h.engine, t, message_text), [*targets, *targets]
                    )
                )
            assert sorted(g for g in got if g is not None) == [20] * 5
            assert got.count(None) == 5
            assert outbox_size(h.engine) == 100
            assert queue_delivery(h.engine, 10**9, message_text) is None  # no such target

    run_async(scenario())


def test_alert_texts_in_each_language_with_the_network_pages_labels() -> None:
    from pollwatch.bot.deliveries import alert_text
    from pollwatch.web.i18n import read_catalogues

    # the labels are the network pages' own (web/labels.py; tests/web/test_labels.py holds
    # that the bot keeps no copy), so one translation each
    alert = {
        "kind": "no_opening",
        "severity": "high",
        "election": "e-2026",
        "station": "8001",
        "local_since": "2026-03-15 07:00 +01:00",
    }
    english = alert_text(alert)
    assert english == (
        "⚠️ High · e-2026: station 8001: Should have opened, no status yet "
        "(since 2026-03-15 07:00 +01:00)"
    )
    for lang in ("ru", "sr"):
        network = read_catalogues("network")[lang]
        text = alert_text(alert, lang)
        assert network["Should have opened, no status yet"] in text and network["High"] in text
        assert "8001" in text and "07:00 +01:00" in text and "station" not in text
    # an unknown kind (a newer library) is shown by its name, not dropped
    assert "brand_new" in alert_text({**alert, "kind": "brand_new", "station": None}, "ru")
