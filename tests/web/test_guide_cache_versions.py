"""The guide cache under a crowd (pollwatch.web.guide_cache): a version older than a second
is still used by the fast path while ONE background task reads it again, so a crowd never
falls through to the router for the length of a database read (one older than STALE_SECONDS
is not used at all); and when pages must be rebuilt, one request rebuilds while the others
get the page's last answer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from starlette.types import Message, Receive, Scope, Send
from tests.asyncrun import run_async

from pollwatch.observe.publication import release_cutoff
from pollwatch.store import create_election, open_store
from pollwatch.store.guide import guide_version
from pollwatch.web.guide_cache import (
    RECHECK_SECONDS,
    STALE_SECONDS,
    GuideCache,
    GuideFastPath,
    station_key,
)

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
        run_async(scenario())
    finally:
        engine.dispose()


@pytest.mark.parametrize("version_read", [True, False])
def test_while_one_request_rebuilds_a_page_the_crowd_gets_its_last_answer(
    tmp_path: Path, version_read: bool
) -> None:
    """A new release time: every kept page is missing at once (and, the moment it comes,
    the new release time's version is not read yet). One request per process rebuilds
    (through the route); the others meanwhile get the page's last answer."""
    engine = open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    create_election(engine, "e", name="E")
    cache = GuideCache(engine)
    now = datetime.now(UTC)
    cutoff = release_cutoff(now, 10)
    older = release_cutoff(now - timedelta(minutes=15), 10)
    state = SimpleNamespace(guide_cache=cache, settings=SimpleNamespace(public_delay_minutes=10))
    app = SimpleNamespace(state=state)
    route_entered, route_may_finish = asyncio.Event(), asyncio.Event()
    routed: list[str] = []

    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        routed.append(scope["path"])
        route_entered.set()
        await route_may_finish.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"new"})

    fast = GuideFastPath(route)

    async def get(path: str) -> tuple[int, bytes]:
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        async def receive() -> Message:
            return {"type": "http.request", "body": b""}

        scope = {"type": "http", "method": "GET", "path": path, "app": app, "headers": []}
        await fast(scope, receive, send)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])

    async def scenario() -> None:
        async def old_page() -> tuple[bytes, str]:
            return b"last", "text/html"

        await cache.answer(station_key("e", "7", "en", older, (0, 0)), old_page)
        if version_read:  # only the page is missing, else its version too
            await cache.version("e", cutoff)
        rebuilding = asyncio.create_task(get("/guide/e/7"))
        await route_entered.wait()
        # (if they went to the route too, they would wait for it: the timeout fails the test)
        crowd = await asyncio.wait_for(
            asyncio.gather(*(get("/guide/e/7") for _ in range(20))), timeout=30
        )
        assert crowd == [(200, b"last")] * 20  # sent from memory while one rebuilds
        assert routed == ["/guide/e/7"]
        route_may_finish.set()
        assert await rebuilding == (200, b"new")
        assert cache.rebuilds == 0

    try:
        run_async(scenario())
    finally:
        engine.dispose()
