"""Login throttling over each real store: growing pauses per name and per address."""

from __future__ import annotations

import time

import pytest

from pollwatch.errors import LoginThrottled
from pollwatch.limits import LoginThrottle, SharedCounters
from pollwatch.limits.login import ADDRESS_RULE, NAME_RULE


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_pauses_grow_from_the_fifth_failure(counters: SharedCounters) -> None:
    clock = Clock()
    throttle = LoginThrottle(counters, clock=clock)
    pauses = []
    for _ in range(7):
        clock.now += pauses[-1] + 0.01 if pauses else 0  # a patient guesser waits each out
        throttle.check("anna", "10.0.0.1")
        pauses.append(throttle.failed("anna", "10.0.0.1").paused_for)
    assert pauses == [0, 0, 0, 0, 1, 2, 4]
    with pytest.raises(LoginThrottled, match=r"try again in 4 s \(at \d\d:\d\d:\d\d UTC\)") as info:
        throttle.check("anna", "10.0.0.1")
    assert info.value.retry_after == 4 and info.value.status == 429
    clock.now += 3.9
    with pytest.raises(LoginThrottled):
        throttle.check("anna", "10.0.0.2")  # the name is paused from any address
    throttle.check("boris", "10.0.0.3")
    clock.now += 0.2
    throttle.check("anna", "10.0.0.1")


def test_the_pause_is_capped(counters: SharedCounters) -> None:
    clock = Clock()
    throttle = LoginThrottle(counters, clock=clock)
    for _ in range(NAME_RULE.free_failures + 12):
        last = throttle.failed("anna", None)
    assert last.paused_for == NAME_RULE.longest_pause
    assert last.failures_for_name == NAME_RULE.free_failures + 12


def test_an_address_guessing_at_many_names_is_paused(counters: SharedCounters) -> None:
    clock = Clock()
    throttle = LoginThrottle(counters, clock=clock)
    for i in range(ADDRESS_RULE.free_failures):
        throttle.check(f"name-{i}", "10.0.0.9")
        failure = throttle.failed(f"name-{i}", "10.0.0.9")
    assert failure.failures_from_address == ADDRESS_RULE.free_failures
    assert failure.failures_for_name == 1 and failure.paused_for == 1.0
    with pytest.raises(LoginThrottled):
        throttle.check("someone-else", "10.0.0.9")
    throttle.check("someone-else", "10.0.0.10")


def test_success_clears_the_name_but_not_the_address(counters: SharedCounters) -> None:
    clock = Clock()
    throttle = LoginThrottle(counters, clock=clock)
    for _ in range(4):
        throttle.failed("anna", "10.0.0.1")
    throttle.succeeded("anna")
    assert throttle.failed("anna", "10.0.0.1").failures_for_name == 1
    assert throttle.failed("anna", "10.0.0.1").failures_from_address == 6
