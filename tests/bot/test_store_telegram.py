"""store/telegram.py on both databases: migration 0012 down and up, the tables as declared,
link codes' life, and what an account row holds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from pollwatch.bot.keys import BotKeys
from pollwatch.errors import AuthError, InputError, InviteExpired, NotFoundError
from pollwatch.store import (
    create_election,
    create_invites,
    import_stations,
    observer_for_token,
    open_store,
    redeem_invite,
    revoke_observers,
)
from pollwatch.store.engine import write_transaction
from pollwatch.store.tables import metadata
from pollwatch.store.telegram import (
    account,
    create_link_code,
    follow_station,
    linked_observer,
    redeem_link_code,
    set_language,
)

TABLES = (
    "telegram_codes",
    "telegram_users",
    "telegram_follows",
    "telegram_outbox",
    "telegram_alerts",
    "telegram_flows",  # 0014
    "telegram_batches",  # 0014
)
KEYS = BotKeys.from_secret("k" * 40)


def _alembic(conn: object, target: str, down: bool = False) -> None:
    from importlib import resources

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("pollwatch.store") / "migrations"))
    cfg.attributes["connection"] = conn
    (command.downgrade if down else command.upgrade)(cfg, target)


def test_migration_0012_goes_down_and_up_with_the_declared_columns(db_url: str) -> None:
    engine = open_store(db_url)
    try:
        names = set(inspect(engine).get_table_names())
        assert set(TABLES) <= names
        for table in TABLES:
            stored = {c["name"] for c in inspect(engine).get_columns(table)}
            assert stored == {c.name for c in metadata.tables[table].columns}, table
        with write_transaction(engine) as conn:
            _alembic(conn, "0008", down=True)
        assert not set(TABLES) & set(inspect(engine).get_table_names())
        with write_transaction(engine) as conn:
            _alembic(conn, "head")
        assert set(TABLES) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_link_codes_and_accounts(db_url: str) -> None:
    engine = open_store(db_url)
    try:
        create_election(engine, "e")
        import_stations(engine, "e", [{"station": "1"}])
        token = redeem_invite(engine, create_invites(engine, "e", 1)[0].code).token
        observer = observer_for_token(engine, token)
        user = KEYS.user_hash(42)
        code = create_link_code(engine, observer.id)
        assert len(code.code) == 43 and code.observer == observer.code_name
        with pytest.raises(InviteExpired):
            redeem_link_code(
                engine,
                code.code,
                user_hash=user,
                chat=KEYS.seal_chat(42),
                now=code.expires_at + timedelta(seconds=1),
            )
        assert redeem_link_code(engine, code.code, user_hash=user, chat=KEYS.seal_chat(42)) == (
            observer
        )
        with pytest.raises(AuthError):
            redeem_link_code(engine, code.code, user_hash=user, chat=KEYS.seal_chat(42))
        for bad in ("", "x" * 201):
            with pytest.raises(AuthError):
                redeem_link_code(engine, bad, user_hash=user, chat=b"")
        # a second account takes the observer over: one account per observer
        other = KEYS.user_hash(43)
        again = create_link_code(engine, observer.id).code
        redeem_link_code(engine, again, user_hash=other, chat=KEYS.seal_chat(43))
        assert linked_observer(engine, user) is None and linked_observer(engine, other) == observer
        stored = account(engine, other)
        assert stored is not None and stored.chat is not None
        assert KEYS.open_chat(stored.chat) == 43
        assert BotKeys.from_secret("z" * 40).open_chat(stored.chat) is None  # another key
        set_language(engine, other, "sr")
        set_language(engine, other, "ru")
        assert account(engine, other).lang == "ru"  # type: ignore[union-attr]
        with pytest.raises(InputError):
            set_language(engine, other, "de")
        with pytest.raises(NotFoundError):  # not registered: the store's one not-found (404)
            follow_station(engine, other, "e", "2", chat=b"x")
        follow_station(engine, other, "e", "1", chat=b"x")
        follow_station(engine, other, "e", "1", chat=b"x")  # again: harmless
        revoke_observers(engine, election="e", code_name=observer.code_name)
        with pytest.raises(AuthError):
            linked_observer(engine, other)
        with pytest.raises(AuthError):
            create_link_code(engine, observer.id)
    finally:
        engine.dispose()


def test_the_keys_refuse_a_short_secret_and_hide_themselves() -> None:
    for bad in (None, "", "short"):
        with pytest.raises(InputError):
            BotKeys.from_secret(bad)
    assert "k" not in repr(KEYS).replace("BotKeys", "")
    assert KEYS.user_hash(1) != BotKeys.from_secret("j" * 40).user_hash(1)
    assert KEYS.seal_chat(5) != KEYS.seal_chat(5)  # a fresh nonce each time
    assert KEYS.open_chat(b"short") is None
