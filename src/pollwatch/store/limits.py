"""Shared limit counters in the service's own database (the default: nothing more to run).

One small table, ``limit_counters`` — ``(name, window_start) → hits`` — incremented with an
atomic upsert (``INSERT ... ON CONFLICT DO UPDATE SET hits = hits + excluded.hits``, SQLite
3.35+ and PostgreSQL alike), so any number of processes on one database count together.
A hold (the pause after failed logins) is a row with ``window_start = -1`` whose ``hits``
is the hold's end in milliseconds. Rows carry their own expiry and are purged at most once
a minute by whichever process writes then.

Costs: each :meth:`DatabaseCounters.add` is one write transaction however many counters it
carries (the rate limiter batches a process's counts into one every 0.1 s). On PostgreSQL
the table is unlogged and these transactions commit without waiting for the disk
(``synchronous_commit = off``): a counter lost in a crash costs nothing, a report would. On
SQLite they share the single write lock with the reports' writer.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from pollwatch.errors import LimitsUnavailable
from pollwatch.store.engine import is_sqlite, write_transaction
from pollwatch.store.tables import limit_counters

__all__ = ["HOLD_WINDOW", "DatabaseCounters"]

HOLD_WINDOW = -1
"""The ``window_start`` of hold rows (real windows start at or after the epoch)."""

PURGE_INTERVAL = 60.0
"""Seconds between two deletions of expired rows by one process."""

_CHUNK = 500
"""Keys per ``IN (...)`` list (well under SQLite's 32,766 parameters)."""

_table = limit_counters
_c = limit_counters.c


class DatabaseCounters:
    """The :class:`~pollwatch.limits.counters.SharedCounters` of a SQLite or PostgreSQL database."""

    backend = "database"

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self._clock = clock
        self._insert: Any = sqlite.insert if is_sqlite(engine) else postgresql.insert
        self._purged = 0.0

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction; on PostgreSQL its commit does not wait for the disk."""
        try:
            with write_transaction(self.engine) as conn:
                if not is_sqlite(self.engine):
                    conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                yield conn
        except OperationalError as exc:
            raise _unavailable(exc) from exc

    def _upsert(self, conn: Connection, rows: list[dict[str, int | str]], hits: Any) -> Any:
        """One upsert statement (compiled once, cached) run over all rows (executemany)."""
        stmt = self._insert(_table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[_c.name, _c.window_start],
            set_={"hits": hits(stmt.excluded), "expires_at": stmt.excluded.expires_at},
        ).returning(_c.name, _c.window_start, _c.hits)
        return conn.execute(stmt, rows)

    def add(self, hits: Mapping[tuple[str, int], int], size: int) -> dict[tuple[str, int], int]:
        """Upsert-increment the counters (sorted: two processes lock rows in one order)."""
        if not hits:
            return {}
        rows: list[dict[str, int | str]] = [
            {"name": key, "window_start": window, "hits": count, "expires_at": window + 2 * size}
            for (key, window), count in sorted(hits.items())
        ]
        totals: dict[tuple[str, int], int] = {}
        with self._write() as conn:
            answer = self._upsert(conn, rows, lambda new: _c.hits + new.hits)
            totals.update(((str(n), int(w)), int(h)) for n, w, h in answer)
            before = {(key, window - size) for key, window in hits} - set(hits)
            keys = sorted({key for key, _ in before})
            for i in range(0, len(keys), _CHUNK):
                found = conn.execute(
                    select(_c.name, _c.window_start, _c.hits).where(
                        _c.name.in_(keys[i : i + _CHUNK]),
                        _c.window_start.in_({window for _, window in before}),
                    )
                )
                totals.update(((str(n), int(w)), int(h)) for n, w, h in found)
            self._purge_if_due(conn)
        return {item: totals.get(item, 0) for item in [*hits, *before]}

    def hold(self, key: str, until: float) -> None:
        """Upsert the hold; of two holds on one key the later end wins."""
        millis = math.ceil(until * 1000)
        row: dict[str, int | str] = {
            "name": key,
            "window_start": HOLD_WINDOW,
            "hits": millis,
            "expires_at": math.ceil(until),
        }
        with self._write() as conn:
            self._upsert(
                conn, [row], lambda new: case((_c.hits > new.hits, _c.hits), else_=new.hits)
            )

    def held_until(self, keys: Sequence[str]) -> float:
        """The latest hold end among these keys (0 if none)."""
        if not keys:
            return 0.0
        try:
            with self.engine.connect() as conn:
                found = conn.execute(
                    select(_c.hits).where(_c.name.in_(list(keys)), _c.window_start == HOLD_WINDOW)
                ).scalars()
                return max((int(h) / 1000 for h in found), default=0.0)
        except OperationalError as exc:
            raise _unavailable(exc) from exc

    def forget(self, keys: Sequence[str], size: int, now: float) -> None:
        """Delete every row of these keys (counts and hold)."""
        if not keys:
            return
        with self._write() as conn:
            conn.execute(delete(_table).where(_c.name.in_(list(keys))))

    def close(self) -> None:
        """Nothing of its own to release: the engine is the caller's."""

    def _purge_if_due(self, conn: Connection) -> None:
        now = self._clock()
        if now - self._purged >= PURGE_INTERVAL:
            self._purged = now
            conn.execute(delete(_table).where(_c.expires_at < int(now)))


def _unavailable(exc: Exception) -> LimitsUnavailable:
    return LimitsUnavailable(f"the database does not answer for the limits: {type(exc).__name__}")
