"""Storage tests run twice: on a fresh SQLite file and on a real PostgreSQL server.

PostgreSQL is found at ``POLLWATCH_TEST_PG_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); each test gets its own schema,
dropped afterwards. If the server does not answer the tests FAIL (they do not skip):
``make test`` starts it through ``scripts/ensure-postgres.sh``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from tests.store.databases import database_url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A URL of an empty database: a new SQLite file, or a new PostgreSQL schema."""
    with database_url(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture()
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a migrated, empty database."""
    from pollwatch.store import open_store

    eng = open_store(db_url)
    yield eng
    eng.dispose()
