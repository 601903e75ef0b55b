"""Login throttling: growing pauses after failed logins, per name and per address.

The rule (both login routes go through :func:`pollwatch.store.people.login`, which applies it):

* Failed logins are counted per name — any name, existing or not, so the throttle does not
  tell which accounts exist — and per client address, over a sliding hour
  (:data:`FAILURE_WINDOW`), in the shared store, so every process and machine sees them.
* From a name's 5th failure on, each failure pauses logins for that name: 1 s, 2 s, 4 s, …
  doubling up to 5 minutes (:data:`NAME_RULE`). From an address's 20th failure on, the
  same for that address, up to an hour (:data:`ADDRESS_RULE`): one address guessing at many
  names is stopped, while a carrier's address shared by several coordinators has room.
* While paused, a login is refused before its password is checked (429 with ``Retry-After``
  and the time to try again) — the right password too: otherwise a guesser would learn
  which guess was right from the answer.
* A successful login clears its name's failures; its address's stay (knowing one password
  must not reset an address that guesses at other accounts).

Why these numbers: with a 5-minute pause a guesser gets about 300 tries a day at one name
(passwords are at least 10 characters, argon2-hashed), while a coordinator who mistyped
waits seconds, and one locked out by someone else's guessing waits at most 5 minutes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pollwatch.errors import LoginThrottled
from pollwatch.limits.counters import SharedCounters, limit_key
from pollwatch.limits.window import elapsed_part, weighted_count, window_start

__all__ = [
    "ADDRESS_RULE",
    "FAILURE_WINDOW",
    "NAME_RULE",
    "FailedLogin",
    "LoginThrottle",
    "ThrottleRule",
]

FAILURE_WINDOW = 3600
"""Failures count for a sliding hour."""


@dataclass(frozen=True)
class ThrottleRule:
    """After ``free_failures`` failures, each failure pauses for 1 s, doubling, capped."""

    kind: str
    free_failures: int
    longest_pause: float

    def pause_after(self, failures: int) -> float:
        """Seconds of pause after the ``failures``-th failure.

        >>> [NAME_RULE.pause_after(n) for n in (4, 5, 6, 7, 14, 40)]
        [0.0, 1.0, 2.0, 4.0, 300.0, 300.0]
        """
        if failures < self.free_failures:
            return 0.0
        return min(2.0 ** min(failures - self.free_failures, 30), self.longest_pause)


NAME_RULE = ThrottleRule("name", free_failures=5, longest_pause=300.0)
ADDRESS_RULE = ThrottleRule("address", free_failures=20, longest_pause=3600.0)


@dataclass(frozen=True)
class FailedLogin:
    """What one failure changed: the failures now counted and the pause it started."""

    failures_for_name: int
    failures_from_address: int
    paused_for: float


class LoginThrottle:
    """The rule above over a shared store (:mod:`pollwatch.limits.counters`)."""

    def __init__(self, counters: SharedCounters, *, clock: Callable[[], float] = time.time) -> None:
        self.counters = counters
        self._clock = clock

    def _keys(self, name: str, address: str | None) -> list[tuple[ThrottleRule, str]]:
        keys = [(NAME_RULE, limit_key("login-name", name))]
        if address:
            keys.append((ADDRESS_RULE, limit_key("login-address", address)))
        return keys

    def check(self, name: str, address: str | None) -> None:
        """Raise :class:`LoginThrottled` while the name or the address is paused."""
        now = self._clock()
        until = self.counters.held_until([key for _, key in self._keys(name, address)])
        if until > now:
            seconds = math.ceil(until - now - 0.001)  # holds are kept to the next millisecond
            at = datetime.fromtimestamp(math.ceil(until), UTC).strftime("%H:%M:%S")
            raise LoginThrottled(
                f"too many failed logins for this name or from this address; "
                f"try again in {seconds} s (at {at} UTC)",
                retry_after=seconds,
            )

    def failed(self, name: str, address: str | None) -> FailedLogin:
        """Count a failure for the name and the address; pause them if the rule says so."""
        now = self._clock()
        window = window_start(now, FAILURE_WINDOW)
        keys = self._keys(name, address)
        totals = self.counters.add({(key, window): 1 for _, key in keys}, FAILURE_WINDOW)
        elapsed = elapsed_part(now, FAILURE_WINDOW)
        counted: list[int] = []
        longest = 0.0
        for rule, key in keys:
            previous = totals[(key, window - FAILURE_WINDOW)]
            failures = round(weighted_count(previous, totals[(key, window)], elapsed))
            pause = rule.pause_after(failures)
            if pause > 0:
                self.counters.hold(key, now + pause)
            counted.append(failures)
            longest = max(longest, pause)
        return FailedLogin(counted[0], counted[1] if len(counted) > 1 else 0, longest)

    def succeeded(self, name: str) -> None:
        """Forget the name's failures and pause (not the address's)."""
        key = limit_key("login-name", name)
        self.counters.forget([key], FAILURE_WINDOW, self._clock())
