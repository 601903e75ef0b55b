"""The audit log: every coordinator action, who, what, on what, when."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from pollwatch.store._util import utcnow
from pollwatch.store.tables import audit_log

__all__ = ["list_audit", "record_audit"]


def record_audit(
    conn: Connection, actor: str, action: str, target: str, detail: dict[str, Any] | None
) -> None:
    """Record one action inside the caller's transaction (so it commits with the action)."""
    conn.execute(
        insert(audit_log).values(
            actor=actor, action=action, target=target, at=utcnow(), detail=detail
        )
    )


def list_audit(engine: Engine, *, limit: int = 1000) -> list[dict[str, Any]]:
    """The newest audit entries first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        ).mappings()
        return [
            {
                "actor": r["actor"],
                "action": r["action"],
                "target": r["target"],
                "at": r["at"].isoformat(),
                "detail": r["detail"],
            }
            for r in rows
        ]
