"""Report ingestion for every face of the service (the web API, the bot): a group-commit
writer and an observer-token cache.

Why group commit. A durable commit costs a disk flush (SQLite ``synchronous=FULL``,
PostgreSQL ``synchronous_commit=on``): a few milliseconds each, so one transaction per
report caps a process at a few hundred reports per second however fast the rest is.
:class:`IngestWriter` is one thread per server process that takes the validated reports of
all concurrent requests from a queue and stores whatever has accumulated as ONE transaction
(:func:`pollwatch.store.reports.store_prepared`): while one batch is being flushed the next
one fills, so batches grow with the load and cost one flush each. Each request waits for
its own outcome — 201, 200 (a retry, also within the same batch), 409 or a 4xx — which is
set only after the batch committed: the durability contract (a 2xx means the report is on
disk) is the same as with one transaction per report. If a batch fails as a whole for a
reason other than one of its items, its reports are stored one by one so that one bad item
cannot fail the others.

After each batch the writer pokes its :class:`pollwatch.store.state_keeper.StateKeeper`,
which merges the stations that got reports into the stored dashboard state in its own
thread and transactions, so a restarted process does not merge them again; a report's
answer never waits for it.

Several server processes each have their own writer; they serialise on the database
(SQLite's write lock, PostgreSQL's election row locks), so the service stays stateless.

Why a token cache. Every report carries an observer token; looking it up costs a database
round trip (and a thread hop) per request. :class:`ObserverCache` keeps token hash →
observer in the process (all active observers are loaded when the server starts) and every
:data:`REVOCATION_INTERVAL` seconds asks the database
once which observers are revoked, so a revoked token stops working within about two seconds
on every process. Unknown tokens are never cached.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select

from pollwatch.store import secret_hash
from pollwatch.store.people import Observer, observer_for_token
from pollwatch.store.reports import Outcome, PreparedReport, StoredReport, store_prepared
from pollwatch.store.state_keeper import StateKeeper
from pollwatch.store.tables import observers

__all__ = [
    "MAX_BATCH",
    "REVOCATION_INTERVAL",
    "TOKEN_TTL",
    "IngestWriter",
    "ObserverCache",
    "active_observers",
    "revoked_token_hashes",
]

MAX_BATCH = 256
"""Most reports in one transaction (keeps the ``IN (...)`` lists and each flush small)."""

TOKEN_TTL = 600.0
"""Seconds an observer token's lookup is reused in one process."""

REVOCATION_INTERVAL = 2.0
"""Seconds between two polls for revoked tokens: a revoked token works at most this long
(plus one query) on a process that has it cached."""

_log = logging.getLogger(__name__)


@dataclass
class _Job:
    item: PreparedReport
    future: asyncio.Future[StoredReport]
    loop: asyncio.AbstractEventLoop


def _resolve(pairs: list[tuple[asyncio.Future[StoredReport], Outcome | BaseException]]) -> None:
    for future, outcome in pairs:
        if future.done():  # the request went away; its report is stored all the same
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


class IngestWriter:
    """Group commit: one writer thread stores the queued reports of many requests at once.

    ``await writer.submit(prepared)`` returns the :class:`StoredReport` (committed) or raises
    the item's :class:`PollwatchError`. :meth:`stop` stores what is queued, then ends the
    thread. ``store`` is the batch function (tests may pass another); ``keep_state`` runs
    a :class:`StateKeeper` beside the writer.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        max_batch: int = MAX_BATCH,
        store: Callable[[Engine, Sequence[PreparedReport]], list[Outcome]] | None = None,
        on_batch: Callable[[int, float], None] | None = None,
        keep_state: bool = True,
    ) -> None:
        self.engine = engine
        self.keeper = StateKeeper(engine) if keep_state else None
        self._on_batch = on_batch  # (reports, seconds) after each batch, e.g. for /metrics
        self.max_batch = max_batch
        self._stations: set[tuple[str, str]] = set()  # registered stations seen so far
        self._store = store or self._store_prepared
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0
        self.stored = 0
        self.busy = 0.0  # seconds spent storing (how close the writer is to saturation)

    def _store_prepared(self, engine: Engine, items: Sequence[PreparedReport]) -> list[Outcome]:
        return store_prepared(engine, items, known_stations=self._stations)

    def start(self) -> None:
        """Start the writer thread (idempotent)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="pollwatch-ingest", daemon=True
                )
                self._thread.start()
        if self.keeper is not None:
            self.keeper.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Store everything already queued, then stop the thread (and the keeper)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)
        if self.keeper is not None:
            self.keeper.stop(timeout)

    async def submit(self, item: PreparedReport) -> StoredReport:
        """Queue one validated report and wait until its batch has committed."""
        if self._thread is None:
            self.start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[StoredReport] = loop.create_future()
        self._queue.put(_Job(item, future, loop))
        return await future

    def queue_depth(self) -> int:
        """Reports waiting for the writer (approximate, as any queue size read)."""
        return self._queue.qsize()

    def running(self) -> bool:
        """Whether the writer thread is alive."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            job = self._queue.get()
            if job is None:
                break
            batch = [job]
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                batch.append(more)
            started = time.perf_counter()
            outcomes = self._outcomes([j.item for j in batch])
            took = time.perf_counter() - started
            self.busy += took
            if self._on_batch is not None:
                self._on_batch(len(batch), took)
            self.batches += 1
            self.stored += len(batch)
            if self.keeper is not None:
                self.keeper.poke()
            by_loop: dict[
                asyncio.AbstractEventLoop,
                list[tuple[asyncio.Future[StoredReport], Outcome | BaseException]],
            ] = {}
            for j, outcome in zip(batch, outcomes, strict=True):
                by_loop.setdefault(j.loop, []).append((j.future, outcome))
            for loop, pairs in by_loop.items():
                with contextlib.suppress(RuntimeError):  # the loop closed: server stopped
                    loop.call_soon_threadsafe(_resolve, pairs)

    def _outcomes(self, items: list[PreparedReport]) -> list[Outcome | BaseException]:
        try:
            return list(self._store(self.engine, items))
        except Exception as error:
            if len(items) == 1:
                _log.warning("storing a report failed: %s", type(error).__name__)
                return [error]
        # The batch failed as a whole: isolate the item that breaks it.
        out: list[Outcome | BaseException] = []
        for item in items:
            try:
                out.extend(self._store(self.engine, [item]))
            except Exception as error:
                _log.warning("storing a report failed: %s", type(error).__name__)
                out.append(error)
        return out


class ObserverCache:
    """Observer token → :class:`Observer`, kept in the process; revocations polled.

    A token's lookup is reused for up to ``ttl`` seconds; every ``revocation_interval``
    seconds one query lists the revoked observers' token hashes and drops them, so a
    revoked token stops working within about that long on every process, while an active
    observer costs no query per report. Only successful lookups are kept (an unknown token
    costs a query each time, so guessing cannot fill the cache), at most ``limit`` tokens.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        ttl: float = TOKEN_TTL,
        revocation_interval: float = REVOCATION_INTERVAL,
        limit: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.ttl = ttl
        self.revocation_interval = revocation_interval
        self.limit = limit
        self._clock = clock
        self._entries: dict[str, tuple[Observer, float]] = {}
        self._checked = clock()
        self._checking = False
        self.lookups = 0

    async def preload(self) -> int:
        """Remember every active observer now (one query at start; returns how many).

        On election morning thousands of observers send their first report within
        minutes; without this each first report would cost its own lookup.
        """
        now = self._clock()
        found = await asyncio.to_thread(active_observers, self.engine, self.limit)
        self._entries.update((key, (obs, now + self.ttl)) for key, obs in found.items())
        return len(found)

    async def observer(self, token: str) -> Observer:
        """The token's observer; :class:`pollwatch.store.AuthError` if unknown or revoked."""
        now = self._clock()
        if now - self._checked >= self.revocation_interval and not self._checking:
            await self._drop_revoked()
        key = secret_hash(token) if len(token) <= 200 else ""
        hit = self._entries.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        self.lookups += 1
        found = await asyncio.to_thread(observer_for_token, self.engine, token)
        if len(self._entries) >= self.limit:
            self._entries = {k: v for k, v in self._entries.items() if v[1] > now}
            if len(self._entries) >= self.limit:
                self._entries.clear()
        self._entries[key] = (found, now + self.ttl)
        return found

    async def _drop_revoked(self) -> None:
        self._checking = True
        try:
            started = self._clock()
            if self._entries:
                revoked = await asyncio.to_thread(revoked_token_hashes, self.engine)
                for key in revoked:
                    self._entries.pop(key, None)
            self._checked = started
        finally:
            self._checking = False


def active_observers(engine: Engine, limit: int) -> dict[str, Observer]:
    """Token hash → observer of (at most ``limit``) observers not revoked."""
    query = select(observers).where(observers.c.revoked.is_(False)).limit(limit)
    with engine.connect() as conn:
        return {
            str(row["token_hash"]): Observer(
                int(row["id"]),
                str(row["code_name"]),
                str(row["election"]),
                tuple(row["stations"] or ()),
            )
            for row in conn.execute(query).mappings()
        }


def revoked_token_hashes(engine: Engine) -> list[str]:
    """Token hashes of revoked observers (few; polled by every process's cache)."""
    with engine.connect() as conn:
        return [
            str(row[0])
            for row in conn.execute(
                select(observers.c.token_hash).where(observers.c.revoked.is_(True))
            )
        ]
