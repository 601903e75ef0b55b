"""Shared limit counters: rate limits and login throttles hold across processes.

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "limit_counters",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("window_start", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hits", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", "window_start", name=op.f("pk_limit_counters")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Counts that lose nothing that matters in a crash: no write-ahead log for them
        # (PostgreSQL empties an unlogged table after a crash; limits start again from zero).
        op.execute("ALTER TABLE limit_counters SET UNLOGGED")


def downgrade() -> None:
    op.drop_table("limit_counters")
