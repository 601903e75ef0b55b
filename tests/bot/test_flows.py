"""Unfinished flows survive a restart: the conversation's state is in the database."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.asyncrun import run_async
from tests.bot.harness import ELECTION, KEY, Harness, running_bot

from pollwatch.bot.keys import BotKeys
from pollwatch.errors import InputError
from pollwatch.store import list_reports, open_store
from pollwatch.store._util import utcnow
from pollwatch.store.tables import reports, telegram_flows
from pollwatch.store.telegram import forget_election
from pollwatch.store.telegram_flows import FLOW_TTL, read_flow, write_flow


def _button(reply: object, prefix: str) -> str:
    for text, data in reply.buttons():  # type: ignore[attr-defined]
        if text.startswith(prefix):
            return str(data)
    raise AssertionError(f"no button {prefix!r}")


def _flows(h: Harness) -> list[dict[str, object]]:
    with h.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(telegram_flows)).mappings()]


def test_a_half_typed_protocol_goes_on_after_a_restart_and_is_stored_once(
    db_url: str, tmp_path: Path
) -> None:
    user_hash = BotKeys.from_secret(KEY).user_hash(701)

    async def scenario() -> None:
        async with running_bot(db_url, tmp_path) as h:
            await h.link(701, stations=("8001",))
            ask = await h.tap(701, "m:protocol")
            assert "Registered voters" in ask.text
            ask = await h.say(701, "1500")
            assert "Ballots received" in ask.text
            ask = await h.say(701, "1200")
            (row,) = _flows(h)
            assert row["user_hash"] == user_hash and row["state"] == "ReportFlow:active"
            assert "701" not in str(row["data"])  # the key, not the Telegram id
            draft_id = read_flow(h.engine, user_hash).data["draft"]["id"]
        # the process stops here; a new one starts over the same database
        async with running_bot(db_url, tmp_path, prepare=False) as h:
            ask = await h.say(701, "0")  # "ballots issued early", where it stopped
            assert "Ballots issued in the premises" in ask.text, ask.text
            for value in ("900", "0", "880", "20"):
                ask = await h.say(701, value)
            assert "Registered voters: 1500" in ask.text and "Ballots received" in ask.text
            done = await h.tap(701, _button(ask, "Send"))
            assert "stored" in done.text
            again = await h.tap(701, _button(ask, "Send"))  # a second tap after the send
            assert "already" in again.text
            stored = list_reports(h.engine, ELECTION)
            assert [r["id"] for r in stored] == [draft_id]
            assert stored[0]["figures"]["registered"] == 1500
            with h.engine.connect() as conn:
                assert conn.execute(select(func.count()).select_from(reports)).scalar_one() == 1
            # /forget erases the conversation too
            await h.say(701, "/forget")
            assert _flows(h) == []

    run_async(scenario())


def test_a_flow_expires_and_the_election_being_forgotten_erases_it(
    db_url: str, tmp_path: Path
) -> None:
    engine = open_store(db_url)
    try:
        now = utcnow()
        write_flow(engine, "a" * 64, state="ReportFlow:active", data={"draft": {"x": 1}}, now=now)
        assert read_flow(engine, "a" * 64, now=now).state == "ReportFlow:active"
        later = now + FLOW_TTL + timedelta(seconds=1)
        assert read_flow(engine, "a" * 64, now=later).data == {}  # expired: as good as gone
        write_flow(engine, "b" * 64, data={"k": 1}, now=later)  # any write prunes it
        with engine.connect() as conn:
            left = [r[0] for r in conn.execute(select(telegram_flows.c.user_hash))]
        assert left == ["b" * 64]
        # state and data set apart keep each other; empty both: the row goes
        write_flow(engine, "b" * 64, state="S:x", now=later)
        assert read_flow(engine, "b" * 64, now=later).data == {"k": 1}
        write_flow(engine, "b" * 64, state=None, data={}, now=later)
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(telegram_flows)).scalar_one() == 0
        with pytest.raises(InputError, match="too long"):
            write_flow(engine, "c" * 64, data={"text": "x" * 70_000})
        with pytest.raises(InputError, match="mapping"):
            write_flow(engine, "c" * 64, data=["not", "a", "mapping"])
    finally:
        engine.dispose()


def test_forget_election_erases_a_linked_observers_flow(db_url: str, tmp_path: Path) -> None:
    user_hash = BotKeys.from_secret(KEY).user_hash(702)

    async def scenario() -> None:
        async with running_bot(db_url, tmp_path) as h:
            await h.link(702, stations=("8001",))
            await h.tap(702, "m:count")
            assert read_flow(h.engine, user_hash).state == "ReportFlow:active"
            assert forget_election(h.engine, ELECTION) == 1
            assert _flows(h) == []

    run_async(scenario())
