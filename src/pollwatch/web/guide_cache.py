"""The voter guide's answers, kept per process so that a crowd of readers costs the database
almost nothing and cannot slow the observers' reports down.

A public guide answer is a function of (what was asked, the language, the release time, the
election's ledger, the coordinators' settings). So each rendered answer is kept under a key
holding the release time (:func:`pollwatch.observe.publication.release_cutoff`), the
election's newest ledger seq and the newest audit entry:

* the release time moves every 10 minutes, and the key with it;
* a new report moves the ledger seq, and every coordinator's change (an incident made
  public, an embargo end) adds an audit entry; both are read again at most once per
  :data:`RECHECK_SECONDS` per election (two primary-key lookups a second, however large the
  crowd) — so a report invalidates every page of its election within that time, in every
  process, whatever process stored it;
* anything else (a registry import) shows after at most :data:`MAX_AGE_SECONDS`, when the
  kept answer expires.

The station finder's search index (:class:`pollwatch.guide.search.StationIndex`) is built
once per registry and rebuilt when the registry's size changes (checked every
:data:`REGISTRY_RECHECK_SECONDS`): a registry import adds or replaces stations, and building
the index of 94,000 stations takes seconds, not something to do per request.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from pollwatch.guide.search import StationIndex
from pollwatch.store.guide import guide_registry, guide_version, registry_size

__all__ = [
    "MAX_AGE_SECONDS",
    "RECHECK_SECONDS",
    "REGISTRY_RECHECK_SECONDS",
    "CachedAnswer",
    "GuideCache",
]

RECHECK_SECONDS = 1.0
"""How often the election's ledger seq is read again (new reports show within this)."""

MAX_AGE_SECONDS = 60.0
"""Longest life of a kept answer (changes that are not reports show within this)."""

REGISTRY_RECHECK_SECONDS = 30.0
"""How often the registry's size is read again (an import shows within this)."""

MAX_ANSWERS = 4096
"""Answers kept per process, least recently used dropped first (a few MB of HTML)."""


@dataclass(frozen=True)
class CachedAnswer:
    """A rendered answer: its body, media type and entity tag."""

    body: bytes
    media_type: str
    etag: str
    made: float


@dataclass
class _Registry:
    size: int
    checked: float
    index: StationIndex
    rows: list[dict[str, Any]]


class GuideCache:
    """Rendered answers and search indexes of one process's guide (see the module text)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._answers: OrderedDict[Hashable, CachedAnswer] = OrderedDict()
        self._seqs: dict[str, tuple[float, tuple[int, int]]] = {}
        self._registries: dict[str, _Registry] = {}
        self._locks: dict[Hashable, asyncio.Lock] = {}
        self.hits = 0
        self.misses = 0

    def _lock(self, key: Hashable) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def version(self, election: str) -> tuple[int, int]:
        """The election's ledger seq and newest audit entry
        (:func:`pollwatch.store.guide.guide_version`), read at most once per
        :data:`RECHECK_SECONDS`."""
        now = time.monotonic()
        known = self._seqs.get(election)
        if known is not None and now - known[0] < RECHECK_SECONDS:
            return known[1]
        async with self._lock(("seq", election)):
            known = self._seqs.get(election)
            if known is not None and time.monotonic() - known[0] < RECHECK_SECONDS:
                return known[1]
            seq = await run_in_threadpool(guide_version, self.engine, election)
            self._seqs[election] = (time.monotonic(), seq)
            return seq

    async def answer(
        self, key: Hashable, build: Callable[[], Awaitable[tuple[bytes, str]]]
    ) -> CachedAnswer:
        """The kept answer for ``key`` (include the version and release time in it), else
        ``build()`` once — concurrent requests for the same key wait for the one build."""
        found = self._fresh(key)
        if found is not None:
            self.hits += 1
            return found
        async with self._lock(("answer", key)):
            found = self._fresh(key)
            if found is not None:
                self.hits += 1
                return found
            self.misses += 1
            body, media_type = await build()
            etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
            made = CachedAnswer(body, media_type, etag, time.monotonic())
            self._answers[key] = made
            while len(self._answers) > MAX_ANSWERS:
                self._answers.popitem(last=False)
        self._locks.pop(("answer", key), None)
        return made

    def _fresh(self, key: Hashable) -> CachedAnswer | None:
        found = self._answers.get(key)
        if found is None:
            return None
        if time.monotonic() - found.made > MAX_AGE_SECONDS:
            del self._answers[key]
            return None
        self._answers.move_to_end(key)
        return found

    async def registry(self, election: str) -> tuple[StationIndex, list[dict[str, Any]]]:
        """The election's search index and registry rows, rebuilt when its size changes."""
        now = time.monotonic()
        known = self._registries.get(election)
        if known is not None and now - known.checked < REGISTRY_RECHECK_SECONDS:
            return known.index, known.rows
        async with self._lock(("registry", election)):
            known = self._registries.get(election)
            if known is not None and time.monotonic() - known.checked < REGISTRY_RECHECK_SECONDS:
                return known.index, known.rows
            size = await run_in_threadpool(registry_size, self.engine, election)
            if known is None or known.size != size:
                rows = await run_in_threadpool(guide_registry, self.engine, election)
                index = await run_in_threadpool(StationIndex.build, rows)
                known = _Registry(size, time.monotonic(), index, rows)
            else:
                known.checked = time.monotonic()
            self._registries[election] = known
            return known.index, known.rows
