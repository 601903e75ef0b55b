"""Rate limits that hold across processes and machines, at almost no cost per request.

:class:`RateLimiter` allows each key (an observer token, a client address) ``capacity``
requests per sliding minute (:mod:`pollwatch.limits.window`), counted in the shared store of
:mod:`pollwatch.limits.counters` — the database or Redis — so ``--workers 2`` or two machines
let through one limit, not two.

Why a local pre-count. Reports are the hot path (1,000 a second on election day); a
database write per request would cost more than storing the report. So a process decides
alone while a key is far below its limit and counts those requests in memory; a background
thread adds them to the shared store every :data:`FLUSH_INTERVAL` seconds (one write, or one
Redis round trip, for all keys together) and brings back every key's shared count, which
includes the other processes' requests. Near the limit every decision is made against the
shared store, one atomic increment each, so the limit is exact there. "Far below" means both:

* the key's count as last seen, plus this process's own, is at most :data:`LOCAL_SHARE` of
  the capacity — with two processes deciding alone, together they stay within the limit;
* this process let at most :data:`LOCAL_BURST` of the capacity through since its last flush,
  which bounds what other processes cannot see yet.

So with N processes a key gets at most its capacity plus, while the processes' views are
out of date, ``(N − 1) × LOCAL_BURST`` of it (60 a minute with two processes: 60 to 66).
A denied request counts like any other; the process then answers that key from memory
until the wait it announced (``Retry-After``) is over, so a client hammering at a limit
costs one shared increment per wait, not one per request.

If the store does not answer (:class:`pollwatch.errors.LimitsUnavailable`), the process
counts alone (a warning is logged) and hands its counts over once the store is back:
the limits of one process still hold, and reports are still accepted.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pollwatch.errors import LimitsUnavailable, RateLimited
from pollwatch.limits.counters import SharedCounters, WindowKey, limit_key
from pollwatch.limits.window import (
    elapsed_part,
    seconds_until_room,
    weighted_count,
    window_start,
)

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = [
    "ADDRESS_FACTOR",
    "FLUSH_INTERVAL",
    "LOCAL_BURST",
    "LOCAL_SHARE",
    "WINDOW_SECONDS",
    "RateLimiter",
    "client_address",
]

WINDOW_SECONDS = 60
"""Limits are per minute (``POLLWATCH_RATE_LIMIT``)."""

ADDRESS_FACTOR = 20
"""An address may send this many times the per-token limit (observers behind one carrier NAT)."""

LOCAL_SHARE = 0.5
"""A process decides alone while a key's count is at most this part of its capacity."""

LOCAL_BURST = 0.1
"""... and while it let at most this part of the capacity through since its last flush."""

FLUSH_INTERVAL = 0.1
"""Seconds between two hand-overs of a process's counts to the shared store."""

_PRUNE_INTERVAL = 10.0
_log = logging.getLogger(__name__)


def client_address(request: Request) -> str:
    """The address limits count for a request: the peer's, or the one a trusted proxy
    forwarded (uvicorn's ``--forwarded-allow-ips``)."""
    return request.client.host if request.client else "unknown"


@dataclass
class _Seen:
    """One key as this process knows it, in the window starting at ``window``."""

    window: int
    previous: int = 0  # the shared count of the window before, as last seen
    current: int = 0  # the shared count of this window, as last seen (with our flushed hits)
    pending: int = 0  # our hits of this window not yet in the shared store
    blocked_until: float = 0.0  # a denial told the client to wait until then


class RateLimiter:
    """Sliding-minute limits per key, shared through ``counters``; ``per_minute`` 0 = off.

    Thread-safe. :meth:`allow` blocks on the shared store when it must ask it; the web layer
    calls :meth:`check`, which asks from a worker thread so the event loop never waits.
    """

    def __init__(
        self,
        per_minute: int,
        counters: SharedCounters,
        *,
        clock: Callable[[], float] = time.time,
        flush_interval: float = FLUSH_INTERVAL,
    ) -> None:
        self.per_minute = per_minute
        self.counters = counters
        self.flush_interval = flush_interval
        self._clock = clock
        self._seen: dict[str, _Seen] = {}
        self._outbox: dict[WindowKey, int] = {}  # our hits of windows that have ended
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pruned = clock()
        self._warned = 0.0

    # --- decisions ---------------------------------------------------------------------------

    def allow(self, key: str, capacity: int) -> float:
        """Count one request of ``key``; returns 0, or the seconds to wait when over the limit."""
        if self.per_minute <= 0:
            return 0.0
        now = self._clock()
        with self._lock:
            wait = self._decide_locally(key, capacity, now)
        return self._decide_shared(key, capacity, now) if wait is None else wait

    async def check(self, request: Request, token: str | None) -> None:
        """Raise :class:`RateLimited` when the client's address or its token is over its limit."""
        if self.per_minute <= 0:
            return
        address = client_address(request)
        wanted = [(limit_key("address", address), self.per_minute * ADDRESS_FACTOR)]
        if token:
            wanted.append((limit_key("token", token), self.per_minute))
        longest = 0.0
        for key, capacity in wanted:
            now = self._clock()
            with self._lock:
                wait = self._decide_locally(key, capacity, now)
            if wait is None:
                wait = await asyncio.to_thread(self._decide_shared, key, capacity, now)
            longest = max(longest, wait)
        if longest > 0:
            seconds = math.ceil(longest)
            raise RateLimited(f"too many requests; retry in {seconds} s", retry_after=seconds)

    def _roll(self, key: str, now: float) -> _Seen:
        """The key's entry, moved on to the window holding ``now`` (lock held)."""
        window = window_start(now, WINDOW_SECONDS)
        seen = self._seen.get(key)
        if seen is None:
            seen = self._seen[key] = _Seen(window)
        elif seen.window != window:
            if seen.pending:
                old = (key, seen.window)
                self._outbox[old] = self._outbox.get(old, 0) + seen.pending
            follows = window - seen.window == WINDOW_SECONDS
            seen.previous = seen.current + seen.pending if follows else 0
            seen.current = seen.pending = 0
            seen.window = window
        return seen

    def _verdict(self, seen: _Seen, capacity: int, now: float) -> float:
        """Allow (0) or the wait, from the counts as now known (lock held)."""
        elapsed = elapsed_part(now, WINDOW_SECONDS)
        current = seen.current + seen.pending
        if weighted_count(seen.previous, current, elapsed) <= capacity:
            return 0.0
        wait = seconds_until_room(seen.previous, current, capacity, elapsed, WINDOW_SECONDS)
        seen.blocked_until = now + wait
        return wait

    def _decide_locally(self, key: str, capacity: int, now: float) -> float | None:
        """Allow or deny from memory, or ``None``: the shared store must decide (lock held)."""
        seen = self._roll(key, now)
        if now < seen.blocked_until:
            return seen.blocked_until - now
        elapsed = elapsed_part(now, WINDOW_SECONDS)
        count = weighted_count(seen.previous, seen.current + seen.pending, elapsed) + 1
        if count <= capacity * LOCAL_SHARE and seen.pending + 1 <= capacity * LOCAL_BURST:
            seen.pending += 1
            self._start_flusher()
            return 0.0
        return None

    def _decide_shared(self, key: str, capacity: int, now: float) -> float:
        """Add this request (and the key's pending ones) to the shared store, then decide."""
        with self._lock:
            seen = self._roll(key, now)
            taken, seen.pending = seen.pending + 1, 0
            seen.current += taken
            window = seen.window
        try:
            totals = self.counters.add({(key, window): taken}, WINDOW_SECONDS)
        except LimitsUnavailable as exc:
            self._warn(exc)
            with self._lock:
                seen = self._roll(key, now)
                if seen.window == window:  # hand them over at the next flush
                    seen.current -= taken
                    seen.pending += taken
                else:
                    self._outbox[(key, window)] = self._outbox.get((key, window), 0) + taken
                return self._verdict(seen, capacity, now)
        with self._lock:
            seen = self._roll(key, now)
            self._learn(totals)
            return self._verdict(seen, capacity, now)

    def _learn(self, totals: dict[WindowKey, int]) -> None:
        """Take the shared counts the store answered (lock held)."""
        for (key, window), total in totals.items():
            seen = self._seen.get(key)
            if seen is None:
                continue
            if window == seen.window:
                seen.current = total
            elif window == seen.window - WINDOW_SECONDS:
                seen.previous = total

    # --- hand-over to the shared store ---------------------------------------------------------

    def flush(self) -> None:
        """Add this process's pending counts to the shared store and learn the shared totals."""
        with self._flushing:
            with self._lock:
                hits, self._outbox = self._outbox, {}
                for key, seen in self._seen.items():
                    if seen.pending:
                        item = (key, seen.window)
                        hits[item] = hits.get(item, 0) + seen.pending
                        seen.current += seen.pending
                        seen.pending = 0
                self._prune_if_due()
            if not hits:
                return
            try:
                totals = self.counters.add(hits, WINDOW_SECONDS)
            except LimitsUnavailable as exc:
                self._warn(exc)
                with self._lock:
                    for item, count in hits.items():
                        known = self._seen.get(item[0])
                        if known is not None and known.window == item[1]:
                            known.current -= count
                            known.pending += count
                        else:
                            self._outbox[item] = self._outbox.get(item, 0) + count
                return
            with self._lock:
                self._learn(totals)

    def _prune_if_due(self) -> None:
        """Forget keys idle for two windows, so memory follows the active clients (lock held)."""
        now = self._clock()
        if now - self._pruned < _PRUNE_INTERVAL:
            return
        self._pruned = now
        oldest = window_start(now, WINDOW_SECONDS) - WINDOW_SECONDS
        self._seen = {
            key: seen
            for key, seen in self._seen.items()
            if seen.window >= oldest or seen.pending or seen.blocked_until > now
        }

    def _start_flusher(self) -> None:
        if self._thread is None and not self._stop.is_set():
            self._thread = threading.Thread(
                target=self._flush_loop, name="pollwatch-limits", daemon=True
            )
            self._thread.start()

    def _flush_loop(self) -> None:
        while not self._stop.wait(self.flush_interval):
            try:
                self.flush()
            except Exception:  # keep counting; the next flush tries again
                _log.exception("handing rate-limit counts to the shared store failed")

    def close(self) -> None:
        """Stop the background hand-over after a last flush (the counters stay open)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self.flush()
        except LimitsUnavailable as exc:
            self._warn(exc)

    def _warn(self, exc: LimitsUnavailable) -> None:
        now = self._clock()
        if now - self._warned >= 60:
            self._warned = now
            _log.warning("%s; rate limits count per process until it answers", exc)
