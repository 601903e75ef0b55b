"""Schema migrations with Alembic, run automatically when a server or command starts.

Several processes may start at once against one database: on PostgreSQL the upgrade holds
a transaction-level advisory lock, on SQLite the upgrade runs inside ``BEGIN IMMEDIATE``,
so exactly one of them migrates and the others find the schema current.
"""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from pollwatch.store.engine import is_sqlite, write_transaction

__all__ = ["current_revision", "head_revision", "upgrade_database"]

_LOCK_KEY = 7_406_913_221
"""Arbitrary PostgreSQL advisory-lock key for migrations."""


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("pollwatch.store") / "migrations"))
    return cfg


def head_revision() -> str:
    """The newest migration revision shipped with this version of pollwatch."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (``None`` for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade_database(engine: Engine) -> str:
    """Bring the database schema to the newest revision; returns that revision."""
    head = head_revision()
    if current_revision(engine) == head:
        return head
    cfg = _config()
    with write_transaction(engine) as conn:
        if not is_sqlite(engine):
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return head
