"""Shared limit counters in Redis (``POLLWATCH_REDIS_URL``): no database write per count.

Layout: counter ``<prefix>c:<key>:<window start>`` (an integer, ``INCRBY``; it expires by
itself, ``EXPIREAT``, two windows after its window began) and hold ``<prefix>h:<key>``
(the hold's end in milliseconds, expiring then). One :meth:`RedisCounters.add` is one
pipelined round trip whatever the number of counters. Redis 6.2 or newer (``PXAT``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pollwatch.errors import LimitsUnavailable
from pollwatch.limits.counters import WindowKey
from pollwatch.limits.window import window_start

__all__ = ["RedisCounters"]

TIMEOUT_SECONDS = 2.0
"""A Redis that does not answer within this long counts as down (the caller decides what then)."""


class RedisCounters:
    """The :class:`pollwatch.limits.counters.SharedCounters` of one Redis server."""

    backend = "redis"

    def __init__(self, url: str, *, prefix: str = "pollwatch:limits:") -> None:
        import redis

        self._errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self._client: Any = redis.Redis.from_url(
            url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
        )
        kwargs = self._client.connection_pool.connection_kwargs
        self.where = f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
        self.prefix = prefix

    def _counter(self, key: str, window: int) -> str:
        return f"{self.prefix}c:{key}:{window}"

    def _hold(self, key: str) -> str:
        return f"{self.prefix}h:{key}"

    def _run(self, build: Callable[[Any], None]) -> list[Any]:
        try:
            pipe = self._client.pipeline(transaction=False)
            build(pipe)
            return list(pipe.execute())
        except self._errors as exc:
            raise LimitsUnavailable(
                f"Redis at {self.where} (POLLWATCH_REDIS_URL) does not answer: {type(exc).__name__}"
            ) from exc

    def add(self, hits: Mapping[WindowKey, int], size: int) -> dict[WindowKey, int]:
        """Add the counts (``INCRBY`` + ``EXPIREAT`` each) and read the windows before."""
        if not hits:
            return {}
        given = list(hits.items())
        before = [(key, window - size) for key, window in hits if (key, window - size) not in hits]

        def build(pipe: Any) -> None:
            for (key, window), count in given:
                name = self._counter(key, window)
                pipe.incrby(name, count)
                pipe.expireat(name, window + 2 * size)
            for key, window in before:
                pipe.get(self._counter(key, window))

        answers = self._run(build)
        totals = {item: int(answers[2 * i]) for i, (item, _) in enumerate(given)}
        for j, item in enumerate(before):
            value = answers[2 * len(given) + j]
            totals[item] = int(value) if value is not None else 0
        return totals

    def hold(self, key: str, until: float) -> None:
        """``SET`` the hold's end, expiring at that moment."""
        millis = math.ceil(until * 1000)
        self._run(lambda pipe: pipe.set(self._hold(key), millis, pxat=millis))

    def held_until(self, keys: Sequence[str]) -> float:
        """The latest hold of these keys (``MGET``)."""
        if not keys:
            return 0.0
        (values,) = self._run(lambda pipe: pipe.mget([self._hold(k) for k in keys]))
        return max((int(v) / 1000 for v in values if v is not None), default=0.0)

    def forget(self, keys: Sequence[str], size: int, now: float) -> None:
        """``DEL`` the holds and the counters of the current and previous windows."""
        if not keys:
            return
        current = window_start(now, size)
        names = [self._hold(k) for k in keys]
        names += [self._counter(k, w) for k in keys for w in (current, current - size)]
        self._run(lambda pipe: pipe.delete(*names))

    def close(self) -> None:
        self._client.close()
