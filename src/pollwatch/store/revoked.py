"""Revoked observers whose token is still presented: the "observer revoked still sending" alert.

A revoked token is refused (:func:`pollwatch.store.people.observer_for_token`), but that its
holder keeps trying is news for the coordinators: a phone taken from an observer, or an
observer who did not hear that they were stood down. Each refused attempt is noted here,
one row per observer (first and last attempt, how many), written at most once per
:data:`NOTE_INTERVAL` so that a phone retrying in a loop costs one write a minute, not one
per request. Nothing about the request (address, body) is kept.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from pollwatch.store._util import as_utc, utcnow
from pollwatch.store.engine import write_transaction
from pollwatch.store.read_models import forget_summaries
from pollwatch.store.tables import observers, revoked_attempts

__all__ = ["NOTE_INTERVAL", "note_revoked_attempt", "revoked_senders"]

NOTE_INTERVAL = timedelta(minutes=1)
"""Attempts of one revoked observer are written at most this often (counted per write)."""


def note_revoked_attempt(
    engine: Engine, observer_id: int, election: str, *, now: datetime | None = None
) -> bool:
    """Note that a revoked observer's token was presented; True when a row was written."""
    now = now or utcnow()
    with engine.connect() as conn:
        row = conn.execute(
            select(revoked_attempts.c.last_at).where(revoked_attempts.c.observer_id == observer_id)
        ).first()
    if row is not None and now - as_utc(row[0]) < NOTE_INTERVAL:
        return False
    try:
        with write_transaction(engine) as conn:
            if row is None:
                conn.execute(
                    insert(revoked_attempts).values(
                        observer_id=observer_id,
                        election=election,
                        first_at=now,
                        last_at=now,
                        attempts=1,
                    )
                )
            else:
                conn.execute(
                    update(revoked_attempts)
                    .where(revoked_attempts.c.observer_id == observer_id)
                    .values(last_at=now, attempts=revoked_attempts.c.attempts + 1)
                )
    except IntegrityError:
        return False  # another process noted the first attempt at the same moment
    forget_summaries(engine, election)  # the alert shows at once, not when the cache ages
    return True


def revoked_senders(engine: Engine, election: str) -> list[dict[str, Any]]:
    """The election's revoked observers whose token was presented again, newest first."""
    query = (
        select(
            observers.c.code_name,
            observers.c.stations,
            revoked_attempts.c.first_at,
            revoked_attempts.c.last_at,
            revoked_attempts.c.attempts,
            revoked_attempts.c.observer_id,
        )
        .join(observers, observers.c.id == revoked_attempts.c.observer_id)
        .where(revoked_attempts.c.election == election)
        .order_by(revoked_attempts.c.last_at.desc())
    )
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        {
            "observer_id": int(r["observer_id"]),
            "code_name": str(r["code_name"]),
            "stations": list(r["stations"] or ()),
            "first_at": as_utc(r["first_at"]),
            "last_at": as_utc(r["last_at"]),
            "attempts": int(r["attempts"]),
        }
        for r in rows
    ]
