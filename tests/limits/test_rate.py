"""The rate limiter over each real store: the limit, the wait, two processes, a store that is down.

Two :class:`RateLimiter` objects on one store stand for two server processes here (each has
its own memory and its own hand-over thread); tests/observe/test_api_limits.py runs real ones.
"""

from __future__ import annotations

import time

import pytest

from pollwatch.errors import LimitsUnavailable
from pollwatch.limits import RateLimiter, SharedCounters
from pollwatch.limits.rate import LOCAL_BURST, WINDOW_SECONDS
from pollwatch.limits.window import window_start


class Clock:
    """Wall-clock time that a test moves on by hand (stores expire rows by the real clock)."""

    def __init__(self, into_window: float) -> None:
        self.now = window_start(time.time(), WINDOW_SECONDS) + into_window

    def __call__(self) -> float:
        return self.now


def shared_count(counters: SharedCounters, key: str, clock: Clock) -> int:
    return counters.add({(key, window_start(clock.now, WINDOW_SECONDS)): 0}, WINDOW_SECONDS)[
        (key, window_start(clock.now, WINDOW_SECONDS))
    ]


def test_the_limit_then_a_wait_that_is_honoured(counters: SharedCounters) -> None:
    clock = Clock(into_window=30.0)
    limiter = RateLimiter(60, counters, clock=clock)
    try:
        assert all(limiter.allow("k", 60) == 0 for _ in range(60))
        wait = limiter.allow("k", 60)
        assert 30 < wait < 33, "room again once this minute's count slides out"
        assert limiter.allow("other", 60) == 0, "limits are per key"
        clock.now += wait - 1
        assert limiter.allow("k", 60) > 0
        clock.now += 1.01
        assert limiter.allow("k", 60) == 0
    finally:
        limiter.close()


def test_counts_decided_in_memory_reach_the_shared_store(counters: SharedCounters) -> None:
    clock = Clock(into_window=5.0)
    limiter = RateLimiter(600, counters, clock=clock, flush_interval=3600)
    try:
        for _ in range(int(600 * LOCAL_BURST)):
            assert limiter.allow("k", 600) == 0
        assert shared_count(counters, "k", clock) == 0, "far from the limit: decided in memory"
        limiter.flush()
        assert shared_count(counters, "k", clock) == int(600 * LOCAL_BURST)
        clock.now += WINDOW_SECONDS  # counts of an ended window go to that window
        assert limiter.allow("k", 600) == 0
        limiter.flush()
        assert shared_count(counters, "k", clock) == 1
    finally:
        limiter.close()


@pytest.mark.parametrize("capacity", [5, 60, 600])
def test_two_processes_on_one_store_enforce_one_limit(
    counters: SharedCounters, capacity: int
) -> None:
    clock = Clock(into_window=1.0)
    first, second = (RateLimiter(capacity, counters, clock=clock) for _ in range(2))
    try:
        allowed = sum(
            (first if i % 2 else second).allow("k", capacity) == 0 for i in range(3 * capacity)
        )
    finally:
        first.close()
        second.close()
    assert capacity <= allowed <= capacity + capacity * LOCAL_BURST + 1, allowed


def test_zero_turns_limiting_off(counters: SharedCounters) -> None:
    limiter = RateLimiter(0, counters)
    assert all(limiter.allow("k", 1) == 0 for _ in range(1000))
    limiter.close()


def test_a_store_that_is_down_leaves_the_limit_of_one_process() -> None:
    from pollwatch.limits.redis_counters import RedisCounters

    down = RedisCounters("redis://127.0.0.1:1/0")
    with pytest.raises(LimitsUnavailable):
        down.held_until(["k"])
    limiter = RateLimiter(5, down, clock=Clock(into_window=1.0))
    try:
        assert [limiter.allow("k", 5) == 0 for _ in range(7)] == [True] * 5 + [False] * 2
        limiter.close()  # its last hand-over fails quietly
    finally:
        down.close()
