"""The conversations' state in the database (:mod:`pollwatch.store.telegram_flows`), so a
restarted bot goes on with a half-typed report where it stopped.

aiogram keeps a conversation's state (the flow and its data) in a storage; its default
``MemoryStorage`` loses everything when the process stops. :class:`FlowStorage` is the
same interface over the store: the key is the account's keyed hash (the bot talks in
private chats only, so the user is the conversation), the data are the flow's JSON. A
report's UUID is in its draft, fixed when the flow started, so a report finished after a
restart is still stored once. Rows expire :data:`~pollwatch.store.telegram_flows.FLOW_TTL`
after their last change.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, StorageKey
from aiogram.fsm.storage.memory import SimpleEventIsolation
from sqlalchemy import Engine

from pollwatch.bot.keys import BotKeys
from pollwatch.store.telegram_flows import read_flow, write_flow

__all__ = ["FlowIsolation", "FlowStorage"]


def _track(handling: set[asyncio.Task[Any]] | None) -> None:
    """Count the current task as an update being handled until it ends."""
    task = asyncio.current_task()
    if handling is not None and task is not None and task not in handling:
        handling.add(task)
        task.add_done_callback(handling.discard)


class FlowIsolation(BaseEventIsolation):
    """One account's updates one at a time (aiogram's in-process
    :class:`~aiogram.fsm.storage.memory.SimpleEventIsolation`: a double tap or a resent
    update must not interleave two writes of its flow); an update waiting for its turn is
    counted as being handled, so stopping the bot waits for it too."""

    def __init__(self, handling: set[asyncio.Task[Any]] | None = None) -> None:
        self._inner = SimpleEventIsolation()
        self.handling = handling

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncGenerator[None, None]:
        _track(self.handling)
        async with self._inner.lock(key):
            yield

    async def close(self) -> None:
        await self._inner.close()


class FlowStorage(BaseStorage):
    """aiogram's FSM storage over the ``telegram_flows`` table."""

    def __init__(
        self, engine: Engine, keys: BotKeys, handling: set[asyncio.Task[Any]] | None = None
    ) -> None:
        self.engine = engine
        self.keys = keys
        self.handling = handling

    def _user(self, key: StorageKey) -> str:
        """The account's key; the update's task is counted as being handled from here on.

        aiogram reads the state before any handler or middleware of ours runs; with the
        state in the database that read waits, so an update could still be on its way to
        a handler (and then send a message) while the bot is stopping. Counting it in
        ``handling`` (:meth:`pollwatch.bot.services.BotServices.settle`) closes that gap.
        """
        _track(self.handling)
        return self.keys.user_hash(key.user_id)

    async def set_state(self, key: StorageKey, state: str | State | None = None) -> None:
        name = state.state if isinstance(state, State) else state
        await asyncio.to_thread(write_flow, self.engine, self._user(key), state=name)

    async def get_state(self, key: StorageKey) -> str | None:
        flow = await asyncio.to_thread(read_flow, self.engine, self._user(key))
        return flow.state

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await asyncio.to_thread(write_flow, self.engine, self._user(key), data=dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        flow = await asyncio.to_thread(read_flow, self.engine, self._user(key))
        return dict(flow.data)

    async def close(self) -> None:
        """Nothing to close: the engine belongs to the services."""
