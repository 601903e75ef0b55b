"""The dashboard's merged per-station state and its activity in 15-minute slots, kept in the
database so that a restarted process answers without re-merging every station (issue 16).

``station_state`` starts empty (the service fills it as it runs, or ``pollwatch``'s
:func:`pollwatch.store.station_state.update_station_state`); ``activity_slots`` is filled
here from the stored reports, since each new report's transaction only adds to it.

Revision ID: 0013
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "station_state",
        sa.Column("election", sa.String(100), sa.ForeignKey("elections.id"), primary_key=True),
        sa.Column("station", sa.String(100), primary_key=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("resolutions", sa.String(64), nullable=False),
        sa.Column("conflicts", sa.Integer(), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("slots", sa.Text(), nullable=False),
        sa.Column("conflict_list", sa.Text(), nullable=False),
    )
    op.create_table(
        "activity_slots",
        sa.Column("election", sa.String(100), sa.ForeignKey("elections.id"), primary_key=True),
        sa.Column("slot", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("incidents", sa.Integer(), nullable=False),
    )
    if op.get_bind().dialect.name == "sqlite":
        slot = "CAST(strftime('%s', observed_at) AS INTEGER) / 900"
    else:
        slot = "CAST(floor(extract(epoch from observed_at) / 900) AS BIGINT)"
    op.execute(
        "INSERT INTO activity_slots (election, slot, reports, incidents) "
        f"SELECT election, {slot}, count(*), "
        "sum(CASE WHEN kind = 'incident' THEN 1 ELSE 0 END) "
        f"FROM reports GROUP BY election, {slot}"
    )


def downgrade() -> None:
    op.drop_table("activity_slots")
    op.drop_table("station_state")
