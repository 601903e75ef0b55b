"""The bot's unfinished conversations, kept in the database so a restart does not lose them.

A conversation's state is the flow's state name (``ReportFlow:active``, ``Practice:active``)
and its data: the values typed so far (a report draft with the UUID fixed when its flow
started, a practice's counters). One row per account, keyed by the account's keyed hash
(never the Telegram id), in ``telegram_flows``. A row lives :data:`FLOW_TTL` after its last
change and is then as good as gone (read as empty, deleted by the next write of any
account); it is erased at once when the flow ends, by ``/forget`` and when the election is
forgotten (:func:`pollwatch.store.telegram.forget_account`,
:func:`~pollwatch.store.telegram.forget_election`).

Privacy: the data hold only what a flow needs to go on (values typed for the current
report, a photo's Telegram file id, a practice's scores), never other messages; at most
:data:`MAX_FLOW_BYTES` of JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from pollwatch.errors import InputError
from pollwatch.store._util import as_utc, utcnow
from pollwatch.store.engine import write_transaction
from pollwatch.store.tables import telegram_flows

__all__ = [
    "FLOW_TTL",
    "MAX_FLOW_BYTES",
    "FlowState",
    "forget_flows",
    "read_flow",
    "write_flow",
]

FLOW_TTL = timedelta(hours=24)
"""How long an unfinished flow is kept after its last step: a protocol copied at night can
be finished the next morning; a flow abandoned longer than that is erased."""

MAX_FLOW_BYTES = 64 * 1024
"""Most JSON one account's flow may hold (a protocol draft with 50 vote lines is ~3 KB)."""

_KEEP = object()


@dataclass(frozen=True)
class FlowState:
    """One account's stored conversation: the state's name (or None) and its data."""

    state: str | None
    data: dict[str, Any]


def read_flow(engine: Engine, user_hash: str, *, now: datetime | None = None) -> FlowState:
    """The account's conversation (empty when there is none or it expired)."""
    now = now or utcnow()
    with engine.connect() as conn:
        row = conn.execute(
            select(
                telegram_flows.c.state, telegram_flows.c.data, telegram_flows.c.expires_at
            ).where(telegram_flows.c.user_hash == user_hash)
        ).first()
    if row is None or as_utc(row[2]) <= now:
        return FlowState(None, {})
    data = json.loads(row[1])
    return FlowState(row[0], data if isinstance(data, dict) else {})


def write_flow(
    engine: Engine,
    user_hash: str,
    *,
    state: Any = _KEEP,
    data: Any = _KEEP,
    now: datetime | None = None,
    ttl: timedelta = FLOW_TTL,
) -> None:
    """Set the state, the data or both (an omitted one is kept); a conversation with no
    state and no data is deleted. Expired rows of every account go in the same transaction."""
    now = now or utcnow()
    encoded: str | None = None
    if data is not _KEEP:
        if not isinstance(data, Mapping):
            raise InputError("a flow's data must be a mapping", column="data")
        encoded = json.dumps(dict(data), ensure_ascii=False, separators=(",", ":"))
        if len(encoded.encode("utf-8")) > MAX_FLOW_BYTES:
            raise InputError("this report is too long to keep; send or cancel it", column="data")
    for attempt in range(2):  # a concurrent first insert: the loser updates
        try:
            with write_transaction(engine) as conn:
                _write(conn, user_hash, state, encoded, now, ttl)
            return
        except IntegrityError:
            if attempt:
                raise


def _write(
    conn: Connection,
    user_hash: str,
    state: Any,
    encoded: str | None,
    now: datetime,
    ttl: timedelta,
) -> None:
    conn.execute(delete(telegram_flows).where(telegram_flows.c.expires_at <= now))
    row = conn.execute(
        select(telegram_flows.c.state, telegram_flows.c.data).where(
            telegram_flows.c.user_hash == user_hash
        )
    ).first()
    new_state = (row[0] if row is not None else None) if state is _KEEP else state
    new_data = encoded if encoded is not None else (row[1] if row is not None else "{}")
    if new_state is None and new_data in ("{}", ""):
        if row is not None:
            conn.execute(delete(telegram_flows).where(telegram_flows.c.user_hash == user_hash))
        return
    values = {"state": new_state, "data": new_data, "expires_at": now + ttl}
    if row is None:
        conn.execute(insert(telegram_flows).values(user_hash=user_hash, **values))
    else:
        conn.execute(
            update(telegram_flows).where(telegram_flows.c.user_hash == user_hash).values(**values)
        )


def forget_flows(conn: Connection, user_hashes: Iterable[str]) -> None:
    """Erase these accounts' conversations (inside the caller's transaction)."""
    hashes = list(user_hashes)
    for first in range(0, len(hashes), 1000):
        chunk = hashes[first : first + 1000]
        conn.execute(delete(telegram_flows).where(telegram_flows.c.user_hash.in_(chunk)))
