"""Fresh shared limit stores for tests: a database (SQLite file, PostgreSQL schema) or Redis."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.store.databases import database_url

from pollwatch.limits import SharedCounters

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def redis_url() -> str:
    """The test Redis (database 15, so a developer's database 0 is left alone)."""
    return os.environ.get("POLLWATCH_TEST_REDIS_URL", DEFAULT_REDIS_URL)


def require_redis() -> None:
    """Fail (not skip) with the way out when the test Redis does not answer."""
    import redis

    try:
        redis.Redis.from_url(redis_url(), socket_connect_timeout=3).ping()
    except (redis.RedisError, OSError) as exc:
        pytest.fail(
            f"Redis does not answer at {redis_url()} ({exc}); run scripts/ensure-redis.sh "
            "(make test does) or set POLLWATCH_TEST_REDIS_URL",
            pytrace=False,
        )


def delete_prefix(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url())
    names = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if names:
        client.delete(*names)
    client.close()


@contextlib.contextmanager
def open_test_counters(kind: str, folder: Path) -> Iterator[SharedCounters]:
    """Empty counters of ``kind`` (``sqlite``, ``postgresql`` or ``redis``), closed afterwards."""
    if kind == "redis":
        from pollwatch.limits.redis_counters import RedisCounters

        require_redis()
        prefix = f"pollwatch-test:{uuid.uuid4().hex[:12]}:"
        counters = RedisCounters(redis_url(), prefix=prefix)
        try:
            yield counters
        finally:
            counters.close()
            delete_prefix(prefix)
        return
    from pollwatch.store import open_store
    from pollwatch.store.limits import DatabaseCounters

    with database_url(kind, folder) as url:
        engine = open_store(url)
        try:
            yield DatabaseCounters(engine)
        finally:
            engine.dispose()
