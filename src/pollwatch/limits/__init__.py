"""Limits shared by every server process and machine: rate limits and login throttling.

* :mod:`~pollwatch.limits.counters` — the interface of the shared stores;
* :mod:`~pollwatch.limits.stores` — the choice between them (the database by default, Redis
  with ``POLLWATCH_REDIS_URL``);
* :mod:`~pollwatch.limits.window` — sliding-window counting from two fixed-window counts;
* :mod:`~pollwatch.limits.rate` — per-token and per-address request limits, decided in
  memory far from the limit and against the shared store near it;
* :mod:`~pollwatch.limits.login` — growing pauses after failed logins, per name and address.
"""

from __future__ import annotations

from pollwatch.limits.counters import SharedCounters, limit_key
from pollwatch.limits.login import FailedLogin, LoginThrottle
from pollwatch.limits.rate import ADDRESS_FACTOR, RateLimiter, client_address
from pollwatch.limits.stores import open_counters

__all__ = [
    "ADDRESS_FACTOR",
    "FailedLogin",
    "LoginThrottle",
    "RateLimiter",
    "SharedCounters",
    "client_address",
    "limit_key",
    "open_counters",
]
