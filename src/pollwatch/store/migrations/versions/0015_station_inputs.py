"""Stored station records keep the reports they were merged from and their comparison-table
row; the election's day shapes are stored (issue 16: steady refresh, comparison table).

``station_state.inputs`` holds them as compact tuples
(:func:`pollwatch.store.station_state.encode_inputs`), so a station with new reports is
brought up to date by merging only the reports after its ``last_seq`` with them. Existing
rows get NULL and are merged once from their reports, as before, the next time they change.
``station_state.comparison`` keeps the station's comparison row with the key it was built
for, and ``election_shapes`` the day shapes those rows were estimated with
(:mod:`pollwatch.store.comparison`), so a restarted process does not estimate every
station again.

Revision ID: 0015
Revises: 0012
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("station_state", sa.Column("inputs", sa.Text(), nullable=True))
    op.add_column("station_state", sa.Column("comparison", sa.Text(), nullable=True))
    op.create_table(
        "election_shapes",
        sa.Column("election", sa.String(100), sa.ForeignKey("elections.id"), primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("shapes", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("election_shapes")
    with op.batch_alter_table("station_state") as batch:
        batch.drop_column("comparison")
        batch.drop_column("inputs")
