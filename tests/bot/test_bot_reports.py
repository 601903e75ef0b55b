"""Reports through the bot: update in → flow → the web API's checks → group commit and
ledger → the Bot API call out, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import func, select
from tests.asyncrun import run_async
from tests.bot.harness import ELECTION, Harness, callback_update, message_update, running_bot

from pollwatch.store import get_photo, list_reports
from pollwatch.store.tables import ledger, reports
from pollwatch.store.telegram import election_candidates


def _count(h: Harness) -> int:
    with h.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(reports)).scalar_one())


async def _start(h: Harness, uid: int, kind: str) -> Any:
    return await h.tap(uid, f"m:{kind}")


def _button(reply: Any, prefix: str) -> str:
    for text, data in reply.buttons():
        if text.startswith(prefix):
            return str(data)
    raise AssertionError(f"no button {prefix!r} in {reply.buttons()}")


def test_a_count_window_step_by_step_with_a_bad_value_at_each_step(
    db_url: str, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running_bot(db_url, tmp_path) as h:
            await h.link(601, stations=("8001",))
            ask = await _start(h, 601, "count")
            assert "count window" in ask.text
            # typing instead of tapping a window button
            assert "tap one of the buttons" in (await h.say(601, "60")).text
            ask = await h.tap(601, _button(ask, "60 min"))
            assert "People who entered" in ask.text
            for other in (  # not text: a sticker, a voice note, a document
                {
                    "sticker": {
                        "file_id": "s",
                        "file_unique_id": "s",
                        "width": 1,
                        "height": 1,
                        "is_animated": False,
                        "is_video": False,
                        "type": "regular",
                    }
                },
                {"voice": {"file_id": "v", "file_unique_id": "v", "duration": 1}},
                {"document": {"file_id": "d", "file_unique_id": "d"}},
            ):
                before = await h.send(message_update(601, **other))
                (refused,) = await h.replies(601, before, 1)
                assert "text message" in refused.text
            for bad, why in (
                ("many", "whole number"),
                ("-5", "between 0 and"),
                ("2000000", "between 0 and"),
                ("1.5e3", "whole number"),
            ):
                refused = await h.say(601, bad)
                assert "Not accepted" in refused.text and why in refused.text, refused.text
            ask = await h.say(601, "112")
            assert "Ballots issued" in ask.text
            ask = await h.tap(601, _button(ask, "Skip"))
            assert "queue" in ask.text
            ask = await h.say(601, "30")
            assert "wait" in ask.text
            assert "between 0 and 1440" in (await h.say(601, "5000")).text
            summary = await h.say(601, "45")
            assert "112" in summary.text and "30" in summary.text and "45" in summary.text
            assert "60 minutes" in summary.text and "Send this report?" in summary.text
            assert _count(h) == 0  # nothing stored before the observer confirms
            done = await h.tap(601, _button(summary, "Send"))
            assert "stored" in done.text and "ledger entry 1" in done.text
            await h.fake.wait_for(  # the summary loses its buttons
                lambda: [c for c in h.fake.calls if c.method == "editMessageReplyMarkup"]
            )
            stored = list_reports(h.engine, ELECTION)
            assert len(stored) == 1 and stored[0]["kind"] == "count"
            assert stored[0]["entered"] == 112 and stored[0]["queue"] == 30
            assert stored[0]["wait_minutes"] == 45 and "ballots_issued" not in stored[0]

    run_async(scenario())


def test_a_resent_update_and_a_double_tap_store_one_report(db_url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_bot(db_url, tmp_path) as h:
            await h.link(602, stations=("8001",))
            ask = await _start(h, 602, "status")
            summary_ask = await h.tap(602, _button(ask, "Opened"))
            summary = await h.tap(602, _button(summary_ask, "Skip"))
            confirm = _button(summary, "Send")
            update = callback_update(602, confirm)
            update["update_id"] = 777_000
            before = len(h.fake.calls)
            h.fake.push(update)
            h.fake.push(dict(update))  # Telegram resends the same update
            h.fake.push(callback_update(602, confirm))  # and the observer taps again
            replies = await h.replies(602, before, 3)
            texts = " | ".join(r.text for r in replies)
            assert "Report sent and stored" in texts, texts
            assert "already" in texts
            assert _count(h) == 1
            with h.engine.connect() as conn:
                assert conn.execute(select(func.count()).select_from(ledger)).scalar_one() == 1

    run_async(scenario())


def test_an_incident_with_text_and_a_photo_stripped_of_exif(db_url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_bot(db_url, tmp_path) as h:
            await h.link(603, stations=("8001", "8003"))
            which = await _start(h, 603, "incident")
            assert "Which station" in which.text
            ask = await h.tap(603, _button(which, "8003"))
            ask = await h.tap(603, _button(ask, "Ballot shortage"))
            assert "Describe" in ask.text
            too_long = await h.say(603, "x" * 4001)
            assert "at most 4000 characters" in too_long.text
            ask = await h.say(603, "No ballots left at 14:00; <b>forty</b> people sent away \u202e")
            assert "photo" in ask.text
            # a photo with GPS in its EXIF
            image = Image.new("RGB", (64, 48), (200, 10, 10))
            exif = Image.Exif()
            exif[0x8825] = {2: (44.0, 48.0, 0.0)}  # GPSInfo
            exif[0x010F] = "PhoneMaker"
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", exif=exif)
            assert b"PhoneMaker" in buffer.getvalue()
            huge = h.fake.add_file(b"x")
            before = await h.send(
                message_update(
                    603,
                    photo=[
                        {
                            "file_id": huge,
                            "file_unique_id": "u9",
                            "width": 9000,
                            "height": 9000,
                            "file_size": 11 * 1024 * 1024,
                        }
                    ],
                )
            )
            assert "larger than 10 MB" in (await h.replies(603, before, 1))[0].text
            assert not [c for c in h.fake.calls if c.method == "getFile"]  # never fetched
            not_an_image = h.fake.add_file(b"this is not an image at all")
            before = await h.send(
                message_update(
                    603,
                    photo=[
                        {
                            "file_id": not_an_image,
                            "file_unique_id": "u0",
                            "width": 64,
                            "height": 48,
                            "file_size": 27,
                        }
                    ],
                )
            )
            refused = (await h.replies(603, before, 1))[0]
            assert "Not accepted" in refused.text
            file_id = h.fake.add_file(buffer.getvalue())
            before = await h.send(
                message_update(
                    603,
                    photo=[
                        {
                            "file_id": file_id,
                            "file_unique_id": "u1",
                            "width": 64,
                            "height": 48,
                            "file_size": len(buffer.getvalue()),
                        }
                    ],
                )
            )
            summary = (await h.replies(603, before, 1))[0]
            assert "attached" in summary.text and "Ballot shortage" in summary.text
            assert _count(h) == 0
            done = await h.tap(603, _button(summary, "Send"))
            assert "stored" in done.text
            stored = list_reports(h.engine, ELECTION)
            assert stored[0]["station"] == "8003" and stored[0]["category"] == "ballot_shortage"
            assert stored[0]["text"].startswith("No ballots left") and stored[0]["photo"]
            jpeg = get_photo(h.engine, stored[0]["id"])
            assert b"PhoneMaker" not in jpeg and Image.open(io.BytesIO(jpeg)).getexif() == {}

    run_async(scenario())


def test_a_protocol_field_by_field_with_checks_and_a_summary(db_url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_bot(db_url, tmp_path) as h:
            from pollwatch.store.tables import elections

            with h.engine.begin() as conn:
                conn.execute(elections.update().values(candidates=["Ivanov", "Petrova"]))
            assert election_candidates(h.engine, ELECTION) == ["Ivanov", "Petrova"]
            await h.link(604, stations=("8001",))
            ask = await _start(h, 604, "protocol")
            answers = {
                "Registered voters": "1 500",
                "Ballots received": "1200",
                "Ballots issued early": "0",
                "Ballots issued in the premises": "900",
                "Ballots issued outside": None,  # skipped: not copied
                "Valid ballots": "880",
                "Invalid ballots": "20",
                "Votes for Ivanov": "600",
                "Votes for Petrova": "300",
            }
            for label, value in answers.items():
                assert label in ask.text, (label, ask.text)
                if value is None:
                    ask = await h.tap(604, _button(ask, "Skip"))
                    continue
                assert "whole number" in (await h.say(604, "nine hundred")).text
                ask = await h.say(604, value)
            summary = ask
            assert "Registered voters: 1500" in summary.text
            assert "Ballots issued outside the premises: —" in summary.text
            assert "does not add up" in summary.text  # 600 + 300 votes ≠ 880 valid
            assert _count(h) == 0
            done = await h.tap(604, _button(summary, "Send"))
            assert "stored" in done.text
            figures = list_reports(h.engine, ELECTION)[0]["figures"]
            assert figures["registered"] == 1500 and "issued_outside" not in figures
            assert figures["votes"] == {"Ivanov": 600, "Petrova": 300}
            mine = await h.say(604, "/mine")
            assert "Protocol copy" in mine.text and "station 8001" in mine.text

    run_async(scenario())


def test_cancel_stale_buttons_and_a_foreign_station_store_nothing(
    db_url: str, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with running_bot(db_url, tmp_path) as h:
            await h.link(605, stations=("8001",))
            ask = await _start(h, 605, "status")
            cancelled = await h.tap(605, _button(ask, "Cancel"))
            assert "nothing was sent" in cancelled.text
            stale = await h.tap(605, "f:ok:deadbeef")
            assert "out of date" in stale.text
            hostile = await h.tap(605, "f:pick:" + "9" * 40)
            assert "No report is being entered" in hostile.text
            assert "unknown report kind" in (await h.tap(605, "m:evil")).text
            unknown = await h.tap(605, "zz:" + "€" * 20)  # not ours: answered, nothing else
            assert "no longer valid" in unknown.text
            # an observer not bound to stations types one; a malformed or unknown one is refused
            await h.link(606)
            ask = await _start(h, 606, "status")
            assert "station's number" in ask.text
            assert "Not accepted" in (await h.say(606, "8001; DROP TABLE reports")).text
            ask = await h.say(606, "9999")
            summary = await h.tap(606, _button(await h.tap(606, _button(ask, "Closed")), "Skip"))
            refused = await h.tap(606, _button(summary, "Send"))
            assert "Not accepted" in refused.text and "9999" in refused.text
            assert _count(h) == 0
            not_linked = await h.tap(607, "m:count")
            assert "not linked" in not_linked.text

    run_async(scenario())
