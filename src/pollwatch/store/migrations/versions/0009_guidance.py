"""The voter guide's content: guidance pages per election and language, the election's key
dates (the registration deadline), and the problems voters report with the guide's pages.

Guidance pages are Markdown written by coordinators (rendered safely by
:mod:`pollwatch.guide.markdown`); one row per election and language, with the time and the
author of the last change (every change is also in the audit log). Problem reports keep no
personal data: station, category, a bounded text and the hour it arrived — no address, no
e-mail, no exact time.

Revision ID: 0009
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("elections") as batch:
        batch.add_column(sa.Column("registration_deadline", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("registration_timezone", sa.String(64), nullable=True))
    op.create_table(
        "guidance_pages",
        sa.Column("election", sa.String(100), sa.ForeignKey("elections.id"), primary_key=True),
        sa.Column("lang", sa.String(8), primary_key=True),
        sa.Column("markdown", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
    )
    op.create_table(
        "guide_problems",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("election", sa.String(100), sa.ForeignKey("elections.id"), nullable=False),
        sa.Column("station", sa.String(100), nullable=False),
        sa.Column("category", sa.String(30), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("received_hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled_by", sa.String(100), nullable=True),
    )
    op.create_index(
        "ix_guide_problems_election_hour", "guide_problems", ["election", "received_hour"]
    )


def downgrade() -> None:
    op.drop_index("ix_guide_problems_election_hour", table_name="guide_problems")
    op.drop_table("guide_problems")
    op.drop_table("guidance_pages")
    with op.batch_alter_table("elections") as batch:
        batch.drop_column("registration_timezone")
        batch.drop_column("registration_deadline")
