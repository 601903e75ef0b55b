"""Which shared store the limits count in: Redis when configured, else the service's database.

Kept apart from :mod:`pollwatch.limits.counters` (the interface both stores implement), so
that the interface imports neither store and no store imports its chooser.
"""

from __future__ import annotations

from sqlalchemy import Engine

from pollwatch.config import Settings
from pollwatch.limits.counters import SharedCounters

__all__ = ["open_counters"]


def open_counters(settings: Settings, engine: Engine) -> SharedCounters:
    """Redis when ``settings.redis_url`` is set, else the service's database."""
    if settings.redis_url:
        from pollwatch.limits.redis_counters import RedisCounters  # the redis client, lazily

        return RedisCounters(settings.redis_url)
    from pollwatch.store.limits import DatabaseCounters

    return DatabaseCounters(engine)
