"""The benchmarks' HTTP clients: aiohttp sessions spread over many loopback addresses.

Observers reach the service from many carriers' addresses, and the service limits requests
per client address as well as per token (:mod:`pollwatch.limits`). A load generator that
sent everything from 127.0.0.1 would measure that one address's limit, not the service. So
the benchmarks (``bench/ingest.py``, ``bench/guide_load.py``) open one session per source
address on loopback (any 127.x.y.z reaches a server bound to 127.0.0.1 on Linux) with its
share of the connections, and pick a fresh /24 on each run, so runs following each other
within a minute do not share the shared store's per-address counters.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

__all__ = ["address_sessions", "client_addresses"]


def client_addresses(count: int, seed_: int) -> list[str]:
    """``count`` loopback addresses in a 127.x.y.0/24 picked at random on each run."""
    rng = random.Random(f"{seed_}-{time.time_ns()}")
    x, y = rng.randrange(1, 255), rng.randrange(0, 255)
    return [f"127.{x}.{y}.{k}" for k in range(1, count + 1)]


@contextlib.asynccontextmanager
async def address_sessions(
    base: str, addresses: Sequence[str], connections: int, timeout: float
) -> AsyncIterator[list[Any]]:
    """One ``aiohttp.ClientSession`` per source address, ``connections`` shared among them
    (at least one each); all closed at the end."""
    import aiohttp

    per = max(1, connections // max(1, len(addresses)))
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                aiohttp.ClientSession(
                    base_url=base,
                    connector=aiohttp.TCPConnector(
                        limit=per, ttl_dns_cache=None, local_addr=(address, 0)
                    ),
                    timeout=aiohttp.ClientTimeout(total=timeout),
                )
            )
            for address in addresses or ["127.0.0.1"]
        ]
