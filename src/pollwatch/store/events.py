"""The election's live feed: the newest ledger seq and the ledger entries after a seq.

The dashboard's event stream polls :func:`ledger_seq` and sends :func:`events_after`; both
are primary-key range reads of ``ledger``, so polling every second costs next to nothing.
The same seq tells the read models' cache whether anything arrived since an answer was built.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from pollwatch.store._util import format_stored
from pollwatch.store.tables import ledger, reports

__all__ = ["events_after", "ledger_seq"]


def ledger_seq(engine: Engine, election: str) -> int:
    """The seq of the election's newest ledger entry (0 when empty); a primary-key lookup."""
    with engine.connect() as conn:
        value = conn.execute(
            select(func.max(ledger.c.seq)).where(ledger.c.election == election)
        ).scalar()
    return int(value or 0)


def events_after(
    engine: Engine, election: str, after: int, *, limit: int = 200
) -> list[dict[str, Any]]:
    """Ledger entries after ``after`` (oldest first, at most ``limit``): the live feed."""
    query = (
        select(ledger.c.seq, reports.c.station, reports.c.kind, reports.c.received_at)
        .join(reports, reports.c.id == ledger.c.report_id)
        .where(ledger.c.election == election, ledger.c.seq > after)
        .order_by(ledger.c.seq)
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        {"seq": int(r[0]), "station": r[1], "kind": r[2], "received_at": format_stored(r[3])}
        for r in rows
    ]
