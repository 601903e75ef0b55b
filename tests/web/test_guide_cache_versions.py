"""The guide cache's version re-reads (pollwatch.web.guide_cache): a version older than a
second is still used by the fast path while ONE background task reads it again, so a crowd
never falls through to the router for the length of a database read; one older than
STALE_SECONDS is not used at all."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pollwatch.store import create_election, open_store
from pollwatch.store.guide import guide_version
from pollwatch.web.guide_cache import RECHECK_SECONDS, STALE_SECONDS, GuideCache

CUTOFF = datetime(2024, 3, 17, 8, 0, tzinfo=UTC)


def test_an_old_version_is_used_while_one_task_reads_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    create_election(engine, "e", name="E")
    reads = 0

    def counted(*args: object) -> tuple[int, int]:
        nonlocal reads
        reads += 1
        return guide_version(*args)  # type: ignore[arg-type]

    monkeypatch.setattr("pollwatch.web.guide_cache.guide_version", counted)

    async def scenario() -> None:
        cache = GuideCache(engine)
        try:
            assert cache.known_version("e", CUTOFF) is None  # nothing read yet: the route reads
            first = await cache.version("e", CUTOFF)
            assert reads == 1 and cache.known_version("e", CUTOFF) == first
            read_at, _ = cache._seqs[("e", CUTOFF)]
            cache._seqs[("e", CUTOFF)] = (read_at - RECHECK_SECONDS - 0.1, first)
            # a crowd of requests meanwhile: all answered with the old version, one re-read
            assert [cache.known_version("e", CUTOFF) for _ in range(100)] == [first] * 100
            while cache._rereading:  # wait for the one background read to finish
                await asyncio.sleep(0)
            assert reads == 2
            assert cache._seqs[("e", CUTOFF)][0] > read_at  # fresh again
            cache._seqs[("e", CUTOFF)] = (read_at - STALE_SECONDS - 0.1, first)
            assert cache.known_version("e", CUTOFF) is None  # too old: the route waits
        finally:
            for task in list(cache._rereading.values()):
                await task

    try:
        asyncio.run(scenario())
    finally:
        engine.dispose()
