"""Linking a Telegram account to an observer: good, used, revoked, expired, malformed codes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from tests.asyncrun import run_async
from tests.bot.harness import running_bot

from pollwatch.store import create_invites, revoke_observers
from pollwatch.store.tables import telegram_users
from pollwatch.store.telegram import create_link_code, revoke_link_codes


def test_start_without_a_code_greets(db_url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_bot(db_url, tmp_path) as h:
            reply = await h.say(501, "/start")
            assert "pollwatch" in reply.text and "/privacy" in reply.text

    run_async(scenario())


def test_a_link_code_links_once_and_the_menu_follows(db_url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_bot(db_url, tmp_path) as h:
            observer = h.observer(stations=("8001",))
            code = create_link_code(h.engine, observer.id).code
            reply, menu = await h.say_all(502, f"/start {code}", 2)
            assert "Linked" in reply.text and observer.code_name in reply.text
            assert {d for _, d in menu.buttons()} == {
                "m:count",
                "m:incident",
                "m:protocol",
                "m:status",
                "m:mine",
            }
            # used: the same code again, from another account
            again = await h.say(503, f"/start {code}")
            assert "unknown or already used" in again.text
            with h.engine.connect() as conn:
                rows = conn.execute(select(telegram_users)).mappings().all()
            assert len(rows) == 1 and rows[0]["observer_id"] == observer.id
            stored = rows[0]
            assert "502" not in stored["user_hash"] and len(stored["user_hash"]) == 64
            assert b"502" not in bytes(stored["chat"])  # encrypted
            assert h.services.keys.open_chat(bytes(stored["chat"])) == 502

    run_async(scenario())


def test_revoked_expired_and_malformed_codes_are_refused(db_url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_bot(db_url, tmp_path) as h:
            observer = h.observer()
            revoked = create_link_code(h.engine, observer.id).code
            assert revoke_link_codes(h.engine, observer.id) == 1
            assert "unknown or already used" in (await h.say(504, f"/start {revoked}")).text
            expired = create_link_code(h.engine, observer.id, ttl=timedelta(seconds=-1)).code
            assert "expired" in (await h.say(504, f"/start {expired}")).text
            for bad in ("short", "x" * 65, "has;semicolon-and-more-than-twenty", "<script>" * 5):
                reply = await h.say(504, f"/start {bad}")
                assert "not a link code" in reply.text
            with h.engine.connect() as conn:
                assert conn.execute(select(telegram_users)).first() is None

    run_async(scenario())


def test_an_invite_starts_a_new_observer_in_telegram(db_url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_bot(db_url, tmp_path) as h:
            invite = create_invites(h.engine, "e-2026", 1, stations_=("8002",))[0]
            reply, _menu = await h.say_all(505, f"/start {invite.code}", 2)
            assert "Linked" in reply.text
            again = await h.say(506, f"/start {invite.code}")
            assert "unknown or already used" in again.text

    run_async(scenario())


def test_revoking_the_observer_unlinks_the_account(db_url: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_bot(db_url, tmp_path) as h:
            observer = await h.link(507)
            revoke_observers(h.engine, election="e-2026", code_name=observer.code_name)
            reply = await h.say(507, "/menu")
            assert "revoked" in reply.text
            with h.engine.connect() as conn:
                row = conn.execute(select(telegram_users)).mappings().first()
            assert row is not None and row["observer_id"] is None and row["chat"] is None
            # and a new code for a revoked observer cannot be made
            reply = await h.say(507, "/menu")
            assert "not linked" in reply.text

    run_async(scenario())
