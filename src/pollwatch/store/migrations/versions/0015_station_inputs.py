"""Each stored station record keeps the reports it was merged from (issue 16: steady refresh).

``station_state.inputs`` holds them as compact tuples
(:func:`pollwatch.store.station_state.encode_inputs`), so a station with new reports is
brought up to date by merging only the reports after its ``last_seq`` with them. Existing
rows get NULL and are merged once from their reports, as before, the next time they change.

Revision ID: 0015
Revises: 0012
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("station_state", sa.Column("inputs", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("station_state") as batch:
        batch.drop_column("inputs")
