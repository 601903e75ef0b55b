"""Database engines: SQLite (embedded default) or PostgreSQL, both through SQLAlchemy 2.

SQLite runs in WAL mode with ``synchronous=FULL`` (an acknowledged commit survives power
loss, not only a process crash) and a busy timeout, so several processes can share one
file. Writers take the write lock at ``BEGIN IMMEDIATE`` (see :func:`write_transaction`),
which serialises ledger appends without deadlocks. PostgreSQL uses psycopg 3; writers
serialise per election with ``SELECT ... FOR UPDATE`` on the election row.

References: SQLite, "Write-Ahead Logging" and "PRAGMA synchronous"
(https://www.sqlite.org/wal.html); SQLAlchemy 2, "Serializable isolation / Savepoints /
Transactional DDL" for pysqlite.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from pollwatch.errors import InputError

__all__ = [
    "BUSY_TIMEOUT_SECONDS",
    "is_sqlite",
    "make_engine",
    "write_transaction",
]

BUSY_TIMEOUT_SECONDS = 30.0
"""How long a SQLite writer waits for the lock before giving up."""


def is_sqlite(engine: Engine) -> bool:
    """Whether the engine talks to SQLite (else PostgreSQL)."""
    return engine.dialect.name == "sqlite"


def _sqlite_path(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database)


def _private_file(path: Path) -> None:
    """Create the SQLite file readable by its owner only (0600), or tighten an existing one.

    The database holds incident texts and hashed tokens; a shared machine's other users must
    not read it. SQLite gives its -wal and -shm files the database file's permissions.
    """
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            path.chmod(mode & 0o700)


def make_engine(url: str, *, connect_args: dict[str, Any] | None = None) -> Engine:
    """Open an engine for ``sqlite:///PATH`` or ``postgresql+psycopg://...``.

    The SQLite file's folder is created when missing. Raises
    :class:`pollwatch.errors.InputError` for any other URL.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InputError(f"not a database URL: {url!r}", column="POLLWATCH_DATABASE_URL") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = _sqlite_path(url)
        if path is None:
            raise InputError(
                "an in-memory SQLite database cannot be shared; give a file path",
                column="POLLWATCH_DATABASE_URL",
            )
        _private_file(path)
        engine = create_engine(
            url,
            connect_args={
                "timeout": BUSY_TIMEOUT_SECONDS,
                "check_same_thread": False,
                **(connect_args or {}),
            },
            # Connections are cheap to keep and costly to reopen (the PRAGMAs below), and
            # the server's thread pool has 40 threads: keep enough that none is reopened.
            pool_size=20,
            max_overflow=20,
        )
        _configure_sqlite(engine)
        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            raise InputError(
                "use the psycopg 3 driver: postgresql+psycopg://USER@HOST/DB",
                column="POLLWATCH_DATABASE_URL",
            )
        return create_engine(
            url,
            connect_args=connect_args or {},
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=10,
        )
    raise InputError(
        f"unsupported database {backend!r}; use sqlite:///PATH or postgresql+psycopg://...",
        column="POLLWATCH_DATABASE_URL",
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (not the sqlite3 module) decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("pollwatch_write") else ""
        conn.exec_driver_sql(f"BEGIN {mode}".strip())


@contextlib.contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: ``BEGIN IMMEDIATE`` on SQLite, plain on PostgreSQL.

    Commits on success, rolls back on any exception.
    """
    with engine.connect() as conn:
        conn.execution_options(pollwatch_write=True)
        with conn.begin():
            yield conn
