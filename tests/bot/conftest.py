"""The bot's tests run on a fresh SQLite file and on a real PostgreSQL schema."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.store.databases import database_url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with database_url(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url
