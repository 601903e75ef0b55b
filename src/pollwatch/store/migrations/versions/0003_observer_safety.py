"""Observer code names unique per election.

Existing duplicates (possible with the old, small name space) are renamed deterministically
before the unique index is created: in each (election, code_name) group the oldest observer
(lowest id) keeps the name, each other one gets ``<name>-<id>``, which no generated name has
(generated names end in one group of digits).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_INDEX = "uq_observers_election_code_name"


def upgrade() -> None:
    conn = op.get_bind()
    observers = sa.table(
        "observers",
        sa.column("id", sa.Integer()),
        sa.column("election", sa.String()),
        sa.column("code_name", sa.String()),
    )
    rows = conn.execute(
        sa.select(observers.c.id, observers.c.election, observers.c.code_name).order_by(
            observers.c.election, observers.c.code_name, observers.c.id
        )
    ).all()
    seen: set[tuple[str, str]] = set()
    for observer_id, election, code_name in rows:
        if (election, code_name) in seen:
            conn.execute(
                sa.update(observers)
                .where(observers.c.id == observer_id)
                .values(code_name=f"{code_name}-{observer_id}")
            )
        seen.add((election, code_name))
    op.create_index(_INDEX, "observers", ["election", "code_name"], unique=True)


def downgrade() -> None:
    op.drop_index(_INDEX, table_name="observers")
