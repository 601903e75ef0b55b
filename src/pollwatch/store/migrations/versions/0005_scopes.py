"""Coordinators' scopes (elections, optionally a country or region) and the stations' region.

Existing coordinators keep what they could see before scopes existed: each gets a scope on
every existing election, so upgrading a running service locks nobody out. Coordinators added
afterwards start without scopes and see nothing until an admin grants one.

Revision ID: 0005
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("stations", sa.Column("region", sa.Text(), nullable=True))
    scopes = op.create_table(
        "coordinator_scopes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("coordinator_id", sa.Integer(), nullable=False),
        sa.Column("election", sa.String(length=100), nullable=False),
        sa.Column("country", sa.Text(), nullable=True),
        sa.Column("region", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["coordinator_id"],
            ["coordinators.id"],
            name=op.f("fk_coordinator_scopes_coordinator_id_coordinators"),
        ),
        sa.ForeignKeyConstraint(
            ["election"], ["elections.id"], name=op.f("fk_coordinator_scopes_election_elections")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coordinator_scopes")),
    )
    op.create_index(
        op.f("ix_coordinator_scopes_coordinator_id"),
        "coordinator_scopes",
        ["coordinator_id"],
    )
    conn = op.get_bind()
    people = conn.execute(sa.text("SELECT id FROM coordinators WHERE role = 'coordinator'")).all()
    votes = conn.execute(sa.text("SELECT id FROM elections")).all()
    now = datetime.now(UTC)
    rows = [
        {
            "coordinator_id": p[0],
            "election": e[0],
            "country": None,
            "region": None,
            "created_at": now,
        }
        for p in people
        for e in votes
    ]
    if rows:
        op.bulk_insert(scopes, rows)


def downgrade() -> None:
    op.drop_index(op.f("ix_coordinator_scopes_coordinator_id"), table_name="coordinator_scopes")
    op.drop_table("coordinator_scopes")
    with op.batch_alter_table("stations") as batch:
        batch.drop_column("region")
