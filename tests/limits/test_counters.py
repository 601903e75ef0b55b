"""The shared stores (SQLite, PostgreSQL, Redis): atomic counts, the window before, holds."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from pollwatch.errors import LimitsUnavailable
from pollwatch.limits import SharedCounters, limit_key
from pollwatch.limits.window import window_start


def test_add_returns_totals_and_the_window_before(counters: SharedCounters) -> None:
    w = window_start(time.time(), 60)
    assert counters.add({("a", w - 60): 3}, 60) == {("a", w - 60): 3, ("a", w - 120): 0}
    totals = counters.add({("a", w): 2, ("b", w): 1}, 60)
    assert totals == {("a", w): 2, ("b", w): 1, ("a", w - 60): 3, ("b", w - 60): 0}
    assert counters.add({("a", w): 5}, 60)[("a", w)] == 7
    assert counters.add({}, 60) == {}


def test_concurrent_adds_are_not_lost(counters: SharedCounters) -> None:
    w = window_start(time.time(), 60)

    def hit(_: int) -> int:
        return counters.add({("k", w): 1, ("other", w): 2}, 60)[("k", w)]

    with ThreadPoolExecutor(8) as pool:
        seen = sorted(pool.map(hit, range(200)))
    assert seen == list(range(1, 201)), "every add saw its own total: increments are atomic"
    assert counters.add({("other", w): 0}, 60)[("other", w)] == 400


def test_holds_keep_the_latest_end_and_forget_clears_them(counters: SharedCounters) -> None:
    now = time.time()
    assert counters.held_until(["x", "y"]) == 0.0
    counters.hold("x", now + 30)
    counters.hold("y", now + 10)
    assert counters.held_until(["x", "y"]) == pytest.approx(now + 30, abs=0.01)
    assert counters.held_until(["y"]) == pytest.approx(now + 10, abs=0.01)
    w = window_start(now, 3600)
    counters.add({("x", w): 4, ("y", w): 1}, 3600)
    counters.forget(["x"], 3600, now)
    assert counters.held_until(["x"]) == 0.0
    assert counters.add({("x", w): 1, ("y", w): 1}, 3600)[("x", w)] == 1, "x counts afresh"
    assert counters.held_until(["y"]) > now, "other keys stay"


def test_keys_never_hold_the_secret_itself() -> None:
    key = limit_key("token", "a-bearer-token")
    assert "a-bearer-token" not in key and key.startswith("token:") and len(key) == 38
    assert limit_key("address", "10.0.0.1") != limit_key("token", "10.0.0.1")


def test_database_rows_expire(tmp_path: object) -> None:
    from tests.limits.stores import open_test_counters

    from pollwatch.store.limits import DatabaseCounters
    from pollwatch.store.tables import limit_counters

    with open_test_counters("sqlite", tmp_path) as opened:  # type: ignore[arg-type]
        assert isinstance(opened, DatabaseCounters)
        old = window_start(time.time(), 60) - 600
        opened.add({("stale", old): 1}, 60)  # expired 8 minutes ago; purged on this write
        opened.hold("gone", time.time() - 5)
        later = DatabaseCounters(opened.engine)  # a process whose purge is due
        later.add({("fresh", window_start(time.time(), 60)): 1}, 60)
        with opened.engine.connect() as conn:
            names = set(conn.execute(select(limit_counters.c.name)).scalars())
            assert names == {"fresh"}
            assert conn.execute(select(func.count()).select_from(limit_counters)).scalar() == 1


def test_a_redis_that_does_not_answer_is_a_clear_error() -> None:
    from pollwatch.limits.redis_counters import RedisCounters

    down = RedisCounters("redis://127.0.0.1:1/0")
    with pytest.raises(LimitsUnavailable, match=r"Redis at 127\.0\.0\.1:1 .*does not answer"):
        down.add({("k", 0): 1}, 60)
    with pytest.raises(LimitsUnavailable):
        down.held_until(["k"])
    down.close()
