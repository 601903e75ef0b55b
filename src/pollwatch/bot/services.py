"""What every handler reaches: the database, the report writer, the keys, the coach.

One :class:`BotServices` per bot process (or per web process serving the webhook, where the
writer is the web app's own, so bot and web reports share one group commit). Handlers get
it from the dispatcher as ``services``; blocking store calls run in a thread
(:meth:`BotServices.run`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Engine

from pollwatch.bot.keys import BotKeys
from pollwatch.coach import Coach, default_coach
from pollwatch.config import Settings
from pollwatch.limits import RateLimiter
from pollwatch.store import DecodeSlots
from pollwatch.store.ingest import IngestWriter

__all__ = ["BotServices"]

T = TypeVar("T")


@dataclass
class BotServices:
    """The bot's dependencies (the engine and writer are shared with the web app if any)."""

    settings: Settings
    engine: Engine
    writer: IngestWriter
    keys: BotKeys
    limiter: RateLimiter | None = None
    photo_slots: DecodeSlots = field(default_factory=DecodeSlots)
    _coach: Coach | None = None
    stations_cache: Any = None
    handling: set[asyncio.Task[Any]] = field(default_factory=set)

    @property
    def coach(self) -> Coach:
        """The coach (its index is built on first use)."""
        if self._coach is None:
            self._coach = default_coach()
        return self._coach

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until the updates being handled are done (before the bot's session closes:
        a handler still sending would open a new one)."""
        pending = [t for t in self.handling if t is not asyncio.current_task()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    async def run(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking library call in a worker thread."""
        return await asyncio.to_thread(partial(func, *args, **kwargs))
