"""Station schedules: an IANA time zone and opening hours per voting day, per station and as
the election's default.

Door counts are extrapolated over a station's opening hours, which must come from its
schedule (:mod:`pollwatch.observe.schedule`), never from when observers counted. Existing
rows keep NULL: their legacy ``hours`` text is still read where it parses.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stations") as batch:
        batch.add_column(sa.Column("timezone", sa.String(64), nullable=True))
        batch.add_column(sa.Column("schedule", sa.Text(), nullable=True))
    with op.batch_alter_table("elections") as batch:
        batch.add_column(sa.Column("timezone", sa.String(64), nullable=True))
        batch.add_column(sa.Column("schedule", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("elections") as batch:
        batch.drop_column("schedule")
        batch.drop_column("timezone")
    with op.batch_alter_table("stations") as batch:
        batch.drop_column("schedule")
        batch.drop_column("timezone")
