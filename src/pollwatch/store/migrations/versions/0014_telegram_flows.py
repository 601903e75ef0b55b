"""The bot's unfinished flows kept across restarts, and its deliveries counted as Telegram
accepted them (issue 15).

``telegram_flows`` holds one conversation state per account (keyed by the HMAC'd user id):
the flow's state name and its half-typed values as JSON, until ``expires_at``.
``telegram_batches`` counts, per batch of outbox messages (a coordinators' message, a
broadcast), how many were queued, accepted by Telegram and failed; each outbox row names its
batch.

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "telegram_flows",
        sa.Column("user_hash", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(100), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_telegram_flows_expires_at", "telegram_flows", ["expires_at"])
    op.create_table(
        "telegram_batches",
        sa.Column("batch", sa.String(64), primary_key=True),
        sa.Column("queued", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("delivered", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("failed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("telegram_outbox") as batch:
        batch.add_column(sa.Column("batch", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("telegram_outbox") as batch:
        batch.drop_column("batch")
    op.drop_table("telegram_batches")
    op.drop_index("ix_telegram_flows_expires_at", table_name="telegram_flows")
    op.drop_table("telegram_flows")
