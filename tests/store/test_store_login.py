"""Coordinator login: one argon2 verification for known and unknown names, throttled, audited."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pollwatch.errors import LoginThrottled
from pollwatch.limits import LoginThrottle
from pollwatch.store import AuthError, add_coordinator, list_audit, login, open_store
from pollwatch.store.limits import DatabaseCounters

PASSWORD = "correct horse battery"


def test_known_and_unknown_names_take_the_same_time(tmp_path: Path) -> None:
    """Median times of wrong passwords for existing names and of unknown names: within 30 %.

    On SQLite only: the time is argon2's, the same on any database.
    """
    engine = open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    throttle = LoginThrottle(DatabaseCounters(engine))
    for i in range(10):
        add_coordinator(engine, f"known-{i}", PASSWORD)

    def timed(name: str, i: int) -> float:
        started = time.perf_counter()
        with pytest.raises(AuthError, match="wrong name or password"):
            login(engine, name, "not the password", throttle=throttle, address=f"10.1.1.{i}")
        return time.perf_counter() - started

    timed("warm-up", 99)  # the unknown-name hash is made once per process
    known, unknown = [], []
    for i in range(10):  # interleaved, so a busy moment of the machine hits both alike
        known.append(timed(f"known-{i}", i))
        unknown.append(timed(f"unknown-{i}", i))
    engine.dispose()
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.7 < ratio < 1.3, (statistics.median(known), statistics.median(unknown))


def test_failed_logins_are_audited_without_password_or_address(engine: Engine) -> None:
    throttle = LoginThrottle(DatabaseCounters(engine))
    add_coordinator(engine, "anna", PASSWORD)
    for name in ("anna", "nobody"):
        with pytest.raises(AuthError):
            login(engine, name, "guess-1234567", throttle=throttle, address="203.0.113.7")
    failed = [e for e in list_audit(engine) if e["action"] == "login.failed"]
    assert [e["target"] for e in failed] == ["(unknown name)", "anna"]
    assert failed[1]["detail"] == {"failures_for_name": 1, "paused_seconds": 0.0}
    text = repr(list_audit(engine))
    assert "guess-1234567" not in text and "203.0.113.7" not in text
    assert "nobody" not in text, "a mistyped name may be someone's password"


def test_a_paused_name_is_refused_even_with_the_right_password(engine: Engine) -> None:
    throttle = LoginThrottle(DatabaseCounters(engine))
    add_coordinator(engine, "anna", PASSWORD)
    for _ in range(5):
        with pytest.raises(AuthError):
            login(engine, "anna", "wrong password", throttle=throttle, address="10.0.0.1")
    with pytest.raises(LoginThrottled, match="try again in 1 s") as info:
        login(engine, "anna", PASSWORD, throttle=throttle, address="10.0.0.2")
    assert info.value.retry_after == 1
    deadline = time.monotonic() + 5
    while True:  # the pause ends by itself
        try:
            who, _token = login(engine, "anna", PASSWORD, throttle=throttle, address="10.0.0.2")
            break
        except LoginThrottled:
            assert time.monotonic() < deadline, "the 1 s pause did not end"
            time.sleep(0.05)
    assert who.name == "anna"
    with pytest.raises(AuthError):  # success forgot the name's failures: no pause now
        login(engine, "anna", "wrong again", throttle=throttle, address="10.0.0.1")


def test_unknown_names_are_paused_like_known_ones(engine: Engine) -> None:
    throttle = LoginThrottle(DatabaseCounters(engine))
    for _ in range(5):
        with pytest.raises(AuthError):
            login(engine, "ghost", "some password", throttle=throttle, address="10.0.0.1")
    with pytest.raises(LoginThrottled):
        login(engine, "ghost", "some password", throttle=throttle, address="10.0.0.3")
