"""Fresh test databases: a SQLite file, or a PostgreSQL schema reached through search_path."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pg_base_url() -> str:
    return os.environ.get("POLLWATCH_TEST_PG_URL", DEFAULT_PG_URL)


def _admin_connect() -> object:
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(pg_base_url())
    try:
        return psycopg.connect(
            host=url.host or "127.0.0.1",
            port=url.port or 5432,
            user=url.username or "postgres",
            password=url.password,
            dbname=url.database or "test",
            connect_timeout=5,
            autocommit=True,
        )
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL does not answer at {pg_base_url()} ({exc}); run "
            "scripts/ensure-postgres.sh (make test does) or set POLLWATCH_TEST_PG_URL",
            pytrace=False,
        )


@contextlib.contextmanager
def database_url(kind: str, folder: Path) -> Iterator[str]:
    """Yield the URL of an empty database of this kind; drop it afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'pollwatch.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:16]}"
    conn = _admin_connect()
    conn.execute(f"CREATE SCHEMA {schema}")  # type: ignore[attr-defined]
    sep = "&" if "?" in pg_base_url() else "?"
    options = quote(f"-csearch_path={schema}")
    try:
        yield f"{pg_base_url()}{sep}options={options}"
    finally:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")  # type: ignore[attr-defined]
        conn.close()  # type: ignore[attr-defined]


@contextlib.contextmanager
def empty_database_like(url: str, folder: Path) -> Iterator[str]:
    """An empty database of the same kind as ``url`` to restore into; dropped afterwards.

    PostgreSQL: a new database on the same server, reached with the same options (so a
    schema restored from a dump of ``url`` is on its search_path).
    """
    if url.startswith("sqlite"):
        yield f"sqlite:///{folder / 'restored' / 'pollwatch.db'}"
        return
    from sqlalchemy.engine import make_url

    name = f"r_{uuid.uuid4().hex[:16]}"
    conn = _admin_connect()
    conn.execute(f"CREATE DATABASE {name}")  # type: ignore[attr-defined]
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")  # type: ignore[attr-defined]
        conn.close()  # type: ignore[attr-defined]
