"""Fixtures of the observation tests: a fresh database for the ``pollwatch`` commands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.store.databases import database_url


@pytest.fixture(params=["sqlite", "postgresql"])
def cli_db(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """An empty database of each kind, where the CLI finds it (``POLLWATCH_DATABASE_URL``,
    with ``POLLWATCH_HOME`` in the test's folder); yields its URL."""
    with database_url(request.param, tmp_path) as url:
        monkeypatch.setenv("POLLWATCH_DATABASE_URL", url)
        monkeypatch.setenv("POLLWATCH_HOME", str(tmp_path / "home"))
        yield url
