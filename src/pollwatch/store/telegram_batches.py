"""How many of a batch of Telegram messages were queued, accepted by Telegram and failed.

A batch is the outbox messages of one coordinators' message (``m:<message id>``,
:func:`pollwatch.store.messages.message_batch`) or of one broadcast (``b:<random>``,
:func:`new_broadcast_batch`). Each outbox row names its batch; the counts move in the same
transaction as the row: ``queued`` when it is queued, ``delivered`` when Telegram answered
``ok`` to its sendMessage, ``failed`` when it was given up (the chat blocked the bot or is
gone, the chat cannot be opened, or it failed too often). So ``queued - delivered - failed``
is what is still in the outbox, and a repeat after a crash is never counted twice (the row
is deleted with its count).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from pollwatch.store.tables import telegram_batches

__all__ = [
    "BATCH_COUNTS",
    "batch_counts",
    "batch_status",
    "count_batch",
    "list_batches",
    "new_broadcast_batch",
]

BATCH_COUNTS: tuple[str, ...] = ("queued", "delivered", "failed")
"""The counts of a batch, in the order they are shown."""


def new_broadcast_batch() -> str:
    """A new broadcast's batch id (``b:`` and 12 random hex digits)."""
    return "b:" + secrets.token_hex(6)


def count_batch(
    conn: Connection,
    batch: str | None,
    now: datetime,
    *,
    queued: int = 0,
    delivered: int = 0,
    failed: int = 0,
) -> None:
    """Add to a batch's counts in the caller's transaction (the row is made if missing;
    two processes making it at once do not collide: ``ON CONFLICT DO NOTHING``)."""
    if batch is None or not (queued or delivered or failed):
        return
    make = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(
        make(telegram_batches)
        .values(batch=batch, queued=0, delivered=0, failed=0, created_at=now)
        .on_conflict_do_nothing(index_elements=["batch"])
    )
    c = telegram_batches.c
    conn.execute(
        update(telegram_batches)
        .where(c.batch == batch)
        .values(
            queued=c.queued + queued, delivered=c.delivered + delivered, failed=c.failed + failed
        )
    )


def batch_counts(conn: Connection, batches: Sequence[str]) -> dict[str, dict[str, int]]:
    """The counts of these batches (those with none are absent)."""
    out: dict[str, dict[str, int]] = {}
    for first in range(0, len(batches), 1000):
        rows = conn.execute(
            select(telegram_batches).where(
                telegram_batches.c.batch.in_(list(batches[first : first + 1000]))
            )
        ).mappings()
        for row in rows:
            out[str(row["batch"])] = {name: int(row[name]) for name in BATCH_COUNTS}
    return out


def batch_status(engine: Engine, batch: str) -> dict[str, int]:
    """One batch's counts and how many are still pending (all zero for an unknown batch)."""
    with engine.connect() as conn:
        counts = batch_counts(conn, [batch]).get(batch, dict.fromkeys(BATCH_COUNTS, 0))
    return {**counts, "pending": counts["queued"] - counts["delivered"] - counts["failed"]}


def list_batches(engine: Engine, *, limit: int = 20) -> list[dict[str, Any]]:
    """The latest batches, newest first: id, when, queued, delivered, failed, pending."""
    with engine.connect() as conn:
        rows = (
            conn.execute(
                select(telegram_batches)
                .order_by(telegram_batches.c.created_at.desc(), telegram_batches.c.batch)
                .limit(limit)
            )
            .mappings()
            .all()
        )
    return [
        {
            "batch": str(r["batch"]),
            "created_at": r["created_at"],
            **{name: int(r[name]) for name in BATCH_COUNTS},
            "pending": int(r["queued"]) - int(r["delivered"]) - int(r["failed"]),
        }
        for r in rows
    ]
