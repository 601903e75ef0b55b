"""The one interface of the shared limit stores, and the choice between them.

Limits must hold across every server process and machine, so their counts live where all
processes meet: the service's database by default (:class:`pollwatch.store.limits.DatabaseCounters`,
SQLite or PostgreSQL, nothing more to run), or Redis when ``POLLWATCH_REDIS_URL`` is set
(:class:`pollwatch.limits.redis_counters.RedisCounters`, for many processes or machines:
counting there takes no database write). Both keep two kinds of state:

* counters — hits per key per fixed window (``(key, window start) → hits``), incremented
  atomically and forgotten two windows later (:mod:`pollwatch.limits.window` turns two of
  them into a sliding-window count);
* holds — "no attempt for this key before time T", for the growing pauses after failed logins
  (:mod:`pollwatch.limits.login`).

Keys are opaque strings that callers make from SHA-256 digests (:func:`limit_key`), never from
a raw token, password or address. Every method may raise
:class:`pollwatch.errors.LimitsUnavailable` when its store does not answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Protocol

__all__ = ["SharedCounters", "WindowKey", "limit_key"]

WindowKey = tuple[str, int]
"""A counter: the key and the start of its window, in whole seconds since the epoch."""


class SharedCounters(Protocol):
    """Counters and holds shared by every process that opens the same store."""

    backend: str
    """``database`` or ``redis`` (shown in logs and in the documentation's measurements)."""

    def add(self, hits: Mapping[WindowKey, int], size: int) -> dict[WindowKey, int]:
        """Add each count atomically; ``size`` is the windows' length in seconds.

        Returns the totals after adding of every counter given and of the window before
        each (0 when it has none), so one round trip yields both counts that a sliding
        window needs.
        """
        ...

    def hold(self, key: str, until: float) -> None:
        """Refuse ``key`` until ``until`` (seconds since the epoch)."""
        ...

    def held_until(self, keys: Sequence[str]) -> float:
        """The latest hold on any of ``keys`` (seconds since the epoch; 0 if none)."""
        ...

    def forget(self, keys: Sequence[str], size: int, now: float) -> None:
        """Drop the keys' holds and their counts of the windows that still matter at ``now``."""
        ...

    def close(self) -> None:
        """Release connections (the database engine belongs to the caller and stays open)."""
        ...


def limit_key(kind: str, value: str) -> str:
    """A counter key for ``value`` (a token, a name, an address): its kind and a digest.

    >>> limit_key("token", "secret")
    'token:a771bcf1d38ce20c6b0af894ab910fd4'

    The stores never see the value itself. An IPv4 address can still be found from its
    digest by trying all 2³² of them, which is why counters are forgotten within two windows.
    """
    digest = hashlib.sha256(f"{kind}\x00{value}".encode()).hexdigest()[:32]
    return f"{kind}:{digest}"
