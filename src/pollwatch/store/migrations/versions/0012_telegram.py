"""The Telegram bot: link codes, the accounts it knows (hashed user id, encrypted chat id),
followed stations, the outbox of the paced sender and the alerts posted to the coordinators'
chat.

Revision ID: 0012
Revises: 0013
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "telegram_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("observer_id", sa.Integer(), sa.ForeignKey("observers.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_telegram_codes_observer_id", "telegram_codes", ["observer_id"], unique=False
    )
    op.create_table(
        "telegram_users",
        sa.Column("user_hash", sa.String(64), primary_key=True),
        sa.Column("chat", sa.LargeBinary(), nullable=True),
        sa.Column("lang", sa.String(8), nullable=True),
        sa.Column(
            "observer_id", sa.Integer(), sa.ForeignKey("observers.id"), nullable=True, unique=True
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "telegram_follows",
        sa.Column(
            "user_hash",
            sa.String(64),
            sa.ForeignKey("telegram_users.user_hash"),
            primary_key=True,
        ),
        sa.Column("election", sa.String(100), sa.ForeignKey("elections.id"), primary_key=True),
        sa.Column("station", sa.String(100), primary_key=True),
        sa.Column("last_status", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "telegram_outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_hash", sa.String(64), nullable=False),
        sa.Column("chat", sa.LargeBinary(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )
    op.create_index("ix_telegram_outbox_user_hash", "telegram_outbox", ["user_hash"], unique=False)
    op.create_table(
        "telegram_alerts",
        sa.Column("alert_id", sa.String(300), primary_key=True),
        sa.Column("election", sa.String(100), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("telegram_alerts")
    op.drop_index("ix_telegram_outbox_user_hash", table_name="telegram_outbox")
    op.drop_table("telegram_outbox")
    op.drop_table("telegram_follows")
    op.drop_table("telegram_users")
    op.drop_index("ix_telegram_codes_observer_id", table_name="telegram_codes")
    op.drop_table("telegram_codes")
