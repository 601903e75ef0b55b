"""The coach, privacy and languages in Telegram, with hostile and oversized messages."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from tests.asyncrun import run_async
from tests.bot.harness import running_bot

from pollwatch.store.tables import telegram_follows, telegram_users


def _within_limits(calls: list) -> None:  # type: ignore[type-arg]
    for call in calls:
        if call.method == "sendMessage":
            assert 0 < len(call.text) <= 4096
            for _, data in call.buttons():
                assert len(data.encode("utf-8")) <= 64


def test_the_coach_answers_offers_three_and_lists_topics(db_url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_bot(db_url, tmp_path) as h:
            answer = await h.say(701, "If not Putin, then who?")
            assert "1. " in answer.text and "3. " in answer.text and "http" in answer.text
            assert tuple(d for _, d in answer.buttons() if d.startswith("c:practice")) == (
                "c:practice:no-alternative",
            )
            unsure = await h.say(701, "NATO is a threat to Russia")
            assert "closest" in unsure.text and len(unsure.buttons()) == 3
            picked = await h.tap(701, unsure.buttons()[0][1])
            assert "1. " in picked.text
            none = await h.say(701, "asdf qwerty zxcv")
            assert "topics" in none.text and none.buttons()
            topic = await h.tap(701, none.buttons()[0][1])
            assert topic.buttons() and all(d.startswith("c:arg:") for _, d in topic.buttons())
            argument = await h.tap(701, topic.buttons()[0][1])
            assert "2. " in argument.text
            menu = await h.say(701, "/topics")
            assert len(menu.buttons()) >= 5
            russian = await h.say(702, "Крым наш", lang="ru")
            assert "Крым" in russian.text or "1." in russian.text
            _within_limits(h.fake.calls)

    run_async(scenario())


def test_practice_gives_feedback_and_ends(db_url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_bot(db_url, tmp_path) as h:
            start = await h.say(703, "/practice")
            assert "Relative:" in start.text
            turn = await h.say(703, "I understand why you worry. What makes you think so?")
            assert "Feedback:" in turn.text and "Relative:" in turn.text
            turn = await h.say(703, "You are an idiot, this is all propaganda!!!")
            assert "Feedback:" in turn.text
            stopped = await h.say(703, "/stop")
            assert "ended" in stopped.text
            after = await h.say(703, "If not Putin, then who?")  # the coach again, not practice
            assert "Feedback" not in after.text and "1. " in after.text
            _within_limits(h.fake.calls)

    run_async(scenario())


def test_hostile_and_oversized_messages_get_plain_answers(db_url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_bot(db_url, tmp_path) as h:
            long = await h.say(704, "слово " * 1000)
            assert "too long" in long.text
            for hostile in (
                "<b>bold</b> <a href='javascript:alert(1)'>x</a> *markdown* _x_ `code`",
                "\u202e\u200b\u0000 zero width and NUL",
                "🙂" * 500,
                "/unknowncommand with args",
                "/start " + "A" * 5000,
            ):
                before = await h.send({"message": {**(await _message(704, hostile))}})
                if hostile.startswith("/unknown"):
                    continue  # no handler answers an unknown command
                (reply,) = await h.replies(704, before, 1)
                assert reply.text
            # the bot still works afterwards
            assert "/privacy" in (await h.say(704, "/start")).text
            _within_limits(h.fake.calls)

    run_async(scenario())


async def _message(uid: int, text: str) -> dict:  # type: ignore[type-arg]
    from tests.bot.harness import message_update

    return dict(message_update(uid, text)["message"])


def test_privacy_language_and_forget(db_url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_bot(db_url, tmp_path) as h:
            text = (await h.say(705, "/privacy")).text
            assert "keyed hash" in text and "encrypted" in text and "/forget" in text
            russian = await h.say(706, "/privacy", lang="ru")
            assert "Хеш с ключом" in russian.text  # from bot.po
            serbian = await h.say(707, "/privacy", lang="sr")
            assert "Heš sa ključem" in serbian.text
            choose = await h.say(705, "/language")
            assert [d for _, d in choose.buttons()] == ["s:en", "s:ru", "s:sr"]
            changed = await h.tap(705, "s:sr")
            assert changed.text == "Jezik je promenjen."
            assert "Heš" in (await h.say(705, "/privacy")).text  # English Telegram, Serbian bot
            # a linked observer who follows a station, then /forget
            await h.link(705, stations=("8001",))
            followed = await h.say(705, "/follow 8001")
            assert "8001" in followed.text
            with h.engine.connect() as conn:
                assert conn.execute(select(telegram_follows)).first() is not None
            gone = await h.say(705, "/forget")
            assert gone.text
            with h.engine.connect() as conn:
                assert conn.execute(select(telegram_users)).all() == []
                assert conn.execute(select(telegram_follows)).all() == []
            nothing = await h.say(705, "/forget")
            assert nothing.text != gone.text
            # the chosen language was forgotten too: Telegram's (English) again
            assert "not linked" in (await h.say(705, "/menu")).text

    run_async(scenario())


def test_a_flood_is_dropped_and_told_once(db_url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_bot(db_url, tmp_path, rate_limit=5) as h:
            from tests.bot.harness import message_update

            before = len(h.fake.calls)
            for _ in range(12):
                h.fake.push(message_update(708, "/privacy"))
            replies = await h.replies(708, before, 6)
            told = [r for r in replies if "Too many messages" in r.text]
            assert len(told) == 1
            # another account is not slowed down, and by its answer the flood was handled
            assert "/privacy" in (await h.say(709, "/start")).text
            assert len(h.fake.sent(708)) == 6

    run_async(scenario())
