"""The shared limit stores, each on its real server: SQLite, PostgreSQL and Redis.

Redis is found at ``POLLWATCH_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``); each
test gets its own key prefix, deleted afterwards. If Redis does not answer the tests FAIL
(they do not skip): ``make test`` starts it through ``scripts/ensure-redis.sh``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.limits.stores import open_test_counters

from pollwatch.limits import SharedCounters


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def counters(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SharedCounters]:
    """Empty shared counters of each kind."""
    with open_test_counters(request.param, tmp_path_factory.mktemp("limits")) as opened:
        yield opened
