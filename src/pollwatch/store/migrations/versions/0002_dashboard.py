"""Dashboard support: per-station activity counters, conflict resolutions, the PVT sample.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("elections", sa.Column("tolerance", sa.Float(), nullable=True))
    op.create_table(
        "station_activity",
        sa.Column("election", sa.String(length=100), nullable=False),
        sa.Column("station", sa.String(length=100), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("counts", sa.Integer(), nullable=False),
        sa.Column("incidents", sa.Integer(), nullable=False),
        sa.Column("protocols", sa.Integer(), nullable=False),
        sa.Column("last_report_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("queue", sa.Integer(), nullable=True),
        sa.Column("queue_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["election"],
            ["elections.id"],
            name=op.f("fk_station_activity_election_elections"),
        ),
        sa.PrimaryKeyConstraint("election", "station", name=op.f("pk_station_activity")),
    )
    op.create_table(
        "resolutions",
        sa.Column("election", sa.String(length=100), nullable=False),
        sa.Column("station", sa.String(length=100), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("by", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["election"], ["elections.id"], name=op.f("fk_resolutions_election_elections")
        ),
        sa.PrimaryKeyConstraint("election", "station", "field", name=op.f("pk_resolutions")),
    )
    op.create_table(
        "pvt_sample",
        sa.Column("election", sa.String(length=100), nullable=False),
        sa.Column("station", sa.String(length=100), nullable=False),
        sa.Column("stratum", sa.Text(), nullable=False),
        sa.Column("strata_column", sa.String(length=100), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["election"], ["elections.id"], name=op.f("fk_pvt_sample_election_elections")
        ),
        sa.PrimaryKeyConstraint("election", "station", name=op.f("pk_pvt_sample")),
    )


def downgrade() -> None:
    op.drop_table("pvt_sample")
    op.drop_table("resolutions")
    op.drop_table("station_activity")
    with op.batch_alter_table("elections") as batch:
        batch.drop_column("tolerance")
