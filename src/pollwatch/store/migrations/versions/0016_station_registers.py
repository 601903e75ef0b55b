"""Registry counts of the home-voting requests and of the early voters, per station: what the
official ballots issued at home and early are compared with (pollwatch.observe.registers).

Revision ID: 0016
Revises: 0012
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("stations", sa.Column("home_requests", sa.Integer(), nullable=True))
    op.add_column("stations", sa.Column("early_voters", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stations") as batch:
        batch.drop_column("early_voters")
        batch.drop_column("home_requests")
