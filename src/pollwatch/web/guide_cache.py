"""The voter guide's answers, kept per process so that a crowd of readers costs the database
almost nothing and cannot slow the observers' reports down.

A public guide answer is a function of (what was asked, the language, the release time, the
reports received up to it, the coordinators' settings). So each rendered answer is kept
under a key holding the release time (:func:`pollwatch.observe.publication.release_cutoff`)
and the version :func:`pollwatch.store.guide.guide_version` (how many reports were received
up to the release time; the newest audit entry):

* the release time moves every 10 minutes, and the key with it: the reports received in the
  meantime become public then, all at once — which is why observers reporting 200 times a
  second do not empty the cache every second;
* a report that counts for the release time already (stored with an earlier time, as an
  import does) and every coordinator's change (an incident made public, an embargo end: all
  audited) move the version, which is read again at most once per :data:`RECHECK_SECONDS`
  per election (two indexed lookups a second, however large the crowd; in the background,
  while the kept answers keep being sent) — so the change reaches every page of its
  election within that time plus one read, in every process;
* anything else (a registry import) shows after at most :data:`MAX_AGE_SECONDS`, when the
  kept answer expires.

The station finder's search index (:class:`pollwatch.guide.search.StationIndex`) is built
once per registry and rebuilt when the registry's size changes (checked every
:data:`REGISTRY_RECHECK_SECONDS`): a registry import adds or replaces stations, and building
the index of 94,000 stations takes seconds, not something to do per request.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from pollwatch.guide.search import StationIndex
from pollwatch.observe.publication import next_release, release_cutoff
from pollwatch.store.guide import guide_registry, guide_version, registry_size
from pollwatch.web.i18n import pick_language

__all__ = [
    "LAST_BUILT_SECONDS",
    "MAX_AGE_SECONDS",
    "REBUILDS_AT_ONCE",
    "RECHECK_SECONDS",
    "REGISTRY_RECHECK_SECONDS",
    "STALE_SECONDS",
    "CachedAnswer",
    "GuideCache",
    "GuideFastPath",
    "station_key",
    "status_cache_control",
    "status_key",
]

RECHECK_SECONDS = 1.0
"""How often the election's ledger seq is read again (new reports show within this)."""

REBUILDS_AT_ONCE = 1
"""Requests of one process that may rebuild guide answers at once while the page's last
answer is still at hand. When the release time moves (every 10 minutes) or the kept
answers expire, every page of the crowd is missing at the same moment; building them all
at once (about 3 ms of the event loop each, a thousand pages) stalled the reports behind
them for seconds (``bench/guide_load.py`` crossing a release time: reports p99 3.2 s). One
at a time, the others meanwhile sent the answer last built, the pages are renewed in a few
seconds and nothing else waits."""

LAST_BUILT_SECONDS = 300.0
"""An answer last built longer ago than this is not sent in place of a new one."""

STALE_SECONDS = 5.0
"""A version this old is not used by the fast path any more (the database is not answering
its re-reads): requests go through the route, which waits for a fresh one."""

MAX_AGE_SECONDS = 60.0
"""Longest life of a kept answer (changes that are not reports show within this)."""

REGISTRY_RECHECK_SECONDS = 30.0
"""How often the registry's size is read again (an import shows within this)."""

_log = logging.getLogger(__name__)

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
        self._seqs: dict[tuple[str, datetime], tuple[float, tuple[int, int]]] = {}
        self._registries: dict[str, _Registry] = {}
        self._locks: dict[Hashable, asyncio.Lock] = {}
        self._rereading: dict[tuple[str, datetime], asyncio.Task[tuple[int, int]]] = {}
        self._last: OrderedDict[Hashable, CachedAnswer] = OrderedDict()  # per page, any key
        self.rebuilds = 0  # requests of this process building a guide answer now
        self.hits = 0
        self.misses = 0

    def _lock(self, key: Hashable) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def version(self, election: str, cutoff: datetime) -> tuple[int, int]:
        """:func:`pollwatch.store.guide.guide_version` of the election as of the release
        time ``cutoff``, read at most once per :data:`RECHECK_SECONDS`."""
        key = (election, cutoff)
        now = time.monotonic()
        known = self._seqs.get(key)
        if known is not None and now - known[0] < RECHECK_SECONDS:
            return known[1]
        async with self._lock(("version", key)):
            known = self._seqs.get(key)
            if known is not None and time.monotonic() - known[0] < RECHECK_SECONDS:
                return known[1]
            version = await run_in_threadpool(guide_version, self.engine, election, cutoff)
            if len(self._seqs) > 1024:  # old release times of many elections
                self._seqs.clear()
            self._seqs[key] = (time.monotonic(), version)
        self._locks.pop(("version", key), None)
        return version

    def known_version(self, election: str, cutoff: datetime) -> tuple[int, int] | None:
        """The version last read (no I/O here), or None if none was read for this release
        time or it is older than :data:`STALE_SECONDS`.

        Older than :data:`RECHECK_SECONDS`, it is still returned while one background task
        reads it again: otherwise every request of the crowd would go through the router
        (several times the CPU of a kept answer) for as long as that read takes — under load
        half of them did, and the queue they made delayed the observers' reports too.
        """
        key = (election, cutoff)
        known = self._seqs.get(key)
        if known is None:
            return None
        age = time.monotonic() - known[0]
        if age >= RECHECK_SECONDS and key not in self._rereading:
            task = asyncio.get_running_loop().create_task(self.version(election, cutoff))
            self._rereading[key] = task  # a strong reference until it is done
            task.add_done_callback(lambda done: self._reread(key, done))
        return None if age >= STALE_SECONDS else known[1]

    def _reread(self, key: tuple[str, datetime], done: asyncio.Task[tuple[int, int]]) -> None:
        self._rereading.pop(key, None)
        if not done.cancelled() and done.exception() is not None:
            _log.warning("reading the guide's version failed: %s", type(done.exception()).__name__)

    def kept(self, key: Hashable) -> CachedAnswer | None:
        """The kept answer for ``key`` if fresh (no I/O, no build)."""
        found = self._fresh(key)
        if found is not None:
            self.hits += 1
        return found

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
            page = _page_of(key)
            if page is not None:
                self._last[page] = made
                self._last.move_to_end(page)
                while len(self._last) > MAX_ANSWERS:
                    self._last.popitem(last=False)
        self._locks.pop(("answer", key), None)
        return made

    def last_built(self, page: Hashable | None) -> CachedAnswer | None:
        """The answer last built for ``page`` (a key without its release time and version)
        under any of them, if built less than :data:`LAST_BUILT_SECONDS` ago (no I/O)."""
        found = None if page is None else self._last.get(page)
        if found is None or time.monotonic() - found.made > LAST_BUILT_SECONDS:
            return None
        return found

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


def _page_of(key: Hashable) -> Hashable | None:
    """A station page's or status's key without its release time and version."""
    if isinstance(key, tuple) and key and key[0] in ("station", "status-api"):
        return key[:-2]
    return None


def station_key(
    election: str, station: str, lang: str, cutoff: datetime, version: tuple[int, int]
) -> tuple[Any, ...]:
    """The cache key of a station's page: the route (web/guide.py) and the fast path below
    build it with this one function, so they cannot disagree."""
    return ("station", election, station, lang, cutoff, version)


def status_key(
    election: str, station: str, cutoff: datetime, version: tuple[int, int]
) -> tuple[Any, ...]:
    """The cache key of the public status API's answer (web/public_api.py and the fast path)."""
    return ("status-api", election, station, cutoff, version)


def status_cache_control(now: datetime, delay_minutes: int) -> str:
    """``Cache-Control`` of the public status API: public until the next release time."""
    fresh = max(1, int((next_release(now, delay_minutes) - now).total_seconds() + 0.999))
    return f"public, max-age={fresh}"


_STATUS_API = re.compile(
    r"/api/v1/public/elections/([A-Za-z0-9][A-Za-z0-9._-]{0,63})"
    r"/stations/([A-Za-z0-9][A-Za-z0-9._-]{0,63})/status"
)
_STATION_PAGE = re.compile(
    r"/guide/([A-Za-z0-9][A-Za-z0-9._-]{0,63})/([A-Za-z0-9][A-Za-z0-9._-]{0,63})"
)
_NOT_STATIONS = frozenset({"totals", "info", "totals.json", "stations.json"})


def _rebuilding_cache(scope: Scope) -> GuideCache | None:
    """The guide cache if this request will build a guide answer (a station page or a
    status that is not kept), else None."""
    if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or "app" not in scope:
        return None
    path = scope["path"]
    if not (_STATUS_API.fullmatch(path) or _STATION_PAGE.fullmatch(path)):
        return None
    cache: GuideCache | None = getattr(scope["app"].state, "guide_cache", None)
    return cache


class GuideFastPath:
    """Answer a station page or public status kept in :class:`GuideCache` before any
    routing (pure ASGI).

    A crowd reads station pages; matching ~60 routes, solving dependencies and the rate
    limiter cost several times what sending a kept page does. So a ``GET`` of
    ``/guide/{election}/{station}`` (or of the public status API,
    ``/api/v1/public/elections/{election}/stations/{station}/status``) whose answer is kept
    under the current release time and
    a fresh version (read by the route less than a second ago) is sent from here, with its
    ``ETag`` (and 304 for a browser that has it). Anything else — a first request, a stale
    version, another path — goes through the router, whose route builds and keeps the
    answer with the same key (:func:`station_key`, :func:`status_key`). Only answers the
    route built are sent,
    so every check it makes (a public guide, a valid station) has been made. Install it
    inside the security middleware, so the per-route headers still apply.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self._kept(scope) if scope["type"] == "http" else None
        if found is None:
            cache = _rebuilding_cache(scope)
            if cache is None:
                await self.app(scope, receive, send)
                return
            cache.rebuilds += 1  # counted from here, before the route even starts
            try:
                await self.app(scope, receive, send)
            finally:
                cache.rebuilds -= 1
            return
        kept, more = found
        headers = Headers(scope=scope)
        if kept.etag in (t.strip() for t in headers.get("if-none-match", "").split(",")):
            status, body, extra = 304, b"", []
        else:
            status, body = 200, kept.body
            extra = [
                (b"content-type", kept.media_type.encode()),
                (b"content-length", str(len(body)).encode()),
            ]
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"etag", kept.etag.encode()), *more, *extra],
            }
        )
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )

    def _kept(self, scope: Scope) -> tuple[CachedAnswer, list[tuple[bytes, bytes]]] | None:
        if scope["method"] not in ("GET", "HEAD") or "app" not in scope:
            return None
        path = scope["path"]
        status = _STATUS_API.fullmatch(path) if path.startswith("/api/") else None
        page = None if status else _STATION_PAGE.fullmatch(path)
        if status is None and (
            page is None or page[2] in _NOT_STATIONS or page[2].endswith(".json")
        ):
            return None
        match = status or page
        assert match is not None
        state = scope["app"].state
        cache: GuideCache | None = getattr(state, "guide_cache", None)
        if cache is None:
            return None
        now = datetime.now(UTC)
        delay: int = state.settings.public_delay_minutes
        cutoff = release_cutoff(now, delay)
        version = cache.known_version(match[1], cutoff)
        election, station = match[1], match[2]
        if status is not None:
            key = functools.partial(status_key, election, station, cutoff)
            more = [(b"cache-control", status_cache_control(now, delay).encode())]
        else:
            query = QueryParams(scope.get("query_string", b"").decode("latin-1"))
            headers = Headers(scope=scope)
            lang = pick_language(query.get("lang"), headers.get("accept-language"))
            key, more = functools.partial(station_key, election, station, lang, cutoff), []
        if version is not None:
            kept = cache.kept(key(version))
            if kept is not None:
                return kept, more
        # Not kept for this release time and version (or the version of a new release time
        # not read yet): while REBUILDS_AT_ONCE requests of the process are rebuilding
        # answers, the others get the answer last built for the same page (an older release
        # time: never newer than public, only later).
        if cache.rebuilds < REBUILDS_AT_ONCE:
            return None
        older = cache.last_built(_page_of(key((0, 0))))
        return None if older is None else (older, more)
