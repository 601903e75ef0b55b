"""What a shared rate limit costs a request, on each store: SQLite, PostgreSQL, Redis.

Drives :meth:`pollwatch.limits.RateLimiter.check` — what the reports' hot path awaits —
at an open-loop ``--rate`` (default 1,000 requests/s) for ``--duration`` seconds, with the
limiter's hand-over thread running against a fresh store, and times each check:

* ``far`` — the election-day case: many observers (``--observers``, each sending about once a
  minute) behind carrier addresses (20 observers per address), all far below
  ``POLLWATCH_RATE_LIMIT`` = 600: decided in memory, counts handed over every 0.1 s;
* ``near`` — one client at its limit: every decision asks the shared store (one atomic
  increment; denials are then answered from memory until the announced wait is over).

Also prints the hand-overs: how many, and their mean duration (they run in the limiter's own
thread; what they cost the requests shows up in the ``far`` times through the shared CPU).

Run: ``.venv/bin/python bench/limits.py --store all`` (PostgreSQL on
``postgresql+psycopg://postgres@127.0.0.1:5432/test``, Redis on ``redis://127.0.0.1:6379/15``).
Goal: the limiter adds at most about 1 ms per request at 1,000 requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ingest import DEFAULT_PG_URL, fresh_database

from pollwatch.limits import RateLimiter, SharedCounters, limit_key

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


@contextlib.contextmanager
def open_store(kind: str, folder: Path, args: argparse.Namespace) -> Iterator[SharedCounters]:
    if kind == "redis":
        from pollwatch.limits.redis_counters import RedisCounters

        counters = RedisCounters(args.redis_url, prefix=f"pollwatch-bench:{uuid.uuid4().hex}:")
        yield counters
        counters.close()
        return
    from pollwatch.store import open_store as open_database
    from pollwatch.store.limits import DatabaseCounters

    with fresh_database(kind, folder, args.pg_url) as url:
        engine = open_database(url)
        yield DatabaseCounters(engine)
        engine.dispose()


class CountedFlushes(RateLimiter):
    """The limiter, timing its own hand-overs."""

    flush_times: list[float]

    def flush(self) -> None:
        started = time.perf_counter()
        super().flush()
        self.flush_times.append(time.perf_counter() - started)


async def drive(limiter: RateLimiter, rate: float, duration: float, pick: Any) -> list[float]:
    """Open loop: check i is due at start + i / rate; returns each check's duration."""
    times: list[float] = []
    start = time.perf_counter()
    for i in range(int(rate * duration)):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        request, token = pick(i)
        began = time.perf_counter()
        with contextlib.suppress(Exception):  # a 429 is an answer too
            await limiter.check(request, token)
        times.append(time.perf_counter() - began)
    return times


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p99 = ordered[int(0.99 * (len(ordered) - 1))]
    return (
        f"mean {statistics.fmean(times) * 1e3:6.3f} ms  median "
        f"{statistics.median(times) * 1e3:6.3f} ms  p99 {p99 * 1e3:6.3f} ms"
    )


def run_store(kind: str, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp, open_store(kind, Path(tmp), args) as counters:
        limiter = CountedFlushes(600, counters)
        limiter.flush_times = []
        requests = [
            SimpleNamespace(client=SimpleNamespace(host=f"10.{i // 250}.{i % 250}.1"))
            for i in range(max(1, args.observers // 20))
        ]

        def far(i: int) -> tuple[Any, str]:
            observer = i % args.observers
            return requests[observer % len(requests)], f"token-{observer}"

        far_times = asyncio.run(drive(limiter, args.rate, args.duration, far))
        flushes = list(limiter.flush_times)
        hot = SimpleNamespace(client=SimpleNamespace(host="192.0.2.1"))
        near_limiter = RateLimiter(600, counters)
        for _ in range(300):  # half the limit: from here every decision asks the store
            near_limiter.allow(limit_key("token", "hot"), 600)
        near_times = asyncio.run(drive(near_limiter, 200, 1.0, lambda i: (hot, "hot")))
        limiter.close()
        near_limiter.close()
    print(f"{kind:10s} far  {summary(far_times)}  ({len(far_times)} checks)")
    print(
        f"{kind:10s}      hand-overs: {len(flushes)}, mean "
        f"{statistics.fmean(flushes) * 1e3 if flushes else 0:.2f} ms each"
    )
    print(f"{kind:10s} near {summary(near_times)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=("sqlite", "postgresql", "redis", "all"), default="all")
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--observers", type=int, default=60_000)
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql", "redis"] if args.store == "all" else [args.store]
    print(f"{args.rate:.0f} checks/s for {args.duration:.0f} s, python {sys.version.split()[0]}")
    for kind in kinds:
        run_store(kind, args)


if __name__ == "__main__":
    main()
