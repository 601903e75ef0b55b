"""Checklists per election (every version kept) and messages to observers with their targets.

Checklist reports need no column of their own: reports keep their canonical JSON. Messages
store read receipts as counts, never who read; each target has the bot's delivery state.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checklist_versions",
        sa.Column("election", sa.String(100), nullable=False),
        sa.Column("checklist", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("retired", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("election", "checklist", "version", name="pk_checklist_versions"),
        sa.ForeignKeyConstraint(
            ["election"], ["elections.id"], name="fk_checklist_versions_election_elections"
        ),
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("election", sa.String(100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("urgent", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("delivered", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("reads", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.ForeignKeyConstraint(
            ["election"], ["elections.id"], name="fk_messages_election_elections"
        ),
    )
    op.create_index("ix_messages_election", "messages", ["election"])
    op.create_table(
        "message_targets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("value", sa.String(100), nullable=True),
        sa.Column("bot_state", sa.String(20), server_default="pending", nullable=False),
        sa.Column("bot_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("bot_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_message_targets"),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name="fk_message_targets_message_id_messages"
        ),
    )
    op.create_index("ix_message_targets_message_id", "message_targets", ["message_id"])
    op.create_index("ix_message_targets_bot_state", "message_targets", ["bot_state"])


def downgrade() -> None:
    op.drop_index("ix_message_targets_bot_state", table_name="message_targets")
    op.drop_index("ix_message_targets_message_id", table_name="message_targets")
    op.drop_table("message_targets")
    op.drop_index("ix_messages_election", table_name="messages")
    op.drop_table("messages")
    op.drop_table("checklist_versions")
