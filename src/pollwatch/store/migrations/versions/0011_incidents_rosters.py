"""Incidents followed up, rosters, revoked observers still sending, simulated elections.

* ``incident_followups`` and ``incident_notes``: an incident's status, severity, assignee
  and coordinators' internal notes (:mod:`pollwatch.observe.followup`); the report and its
  ledger entry are unchanged.
* ``roster``: observers assigned to stations and shifts by code name, with history.
* ``revoked_attempts``: a revoked observer's token presented again (an alert).
* ``elections.simulated``: a simulated election says so on every page.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ALTER TABLE ADD COLUMN with a constant default: on SQLite, a batch operation (or
    # an expression default such as sa.false()) would copy and drop the elections table,
    # which the other tables' foreign keys forbid once they hold rows.
    op.add_column(
        "elections", sa.Column("simulated", sa.Boolean(), nullable=False, server_default="0")
    )
    op.create_table(
        "incident_followups",
        sa.Column("report_id", sa.String(36), nullable=False),
        sa.Column("election", sa.String(100), nullable=False),
        sa.Column("station", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("assignee", sa.String(100), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name="fk_incident_followups_report_id_reports"
        ),
        sa.ForeignKeyConstraint(
            ["election"], ["elections.id"], name="fk_incident_followups_election_elections"
        ),
        sa.PrimaryKeyConstraint("report_id", name="pk_incident_followups"),
    )
    op.create_index(
        "ix_incident_followups_election_status", "incident_followups", ["election", "status"]
    )
    op.create_table(
        "incident_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("report_id", sa.String(36), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name="fk_incident_notes_report_id_reports"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_incident_notes"),
    )
    op.create_index("ix_incident_notes_report_id", "incident_notes", ["report_id"])
    op.create_table(
        "roster",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("election", sa.String(100), nullable=False),
        sa.Column("observer_id", sa.Integer(), nullable=False),
        sa.Column("station", sa.String(100), nullable=False),
        sa.Column("shift_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("shift_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_by", sa.String(100), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(100), nullable=True),
        sa.ForeignKeyConstraint(
            ["election"], ["elections.id"], name="fk_roster_election_elections"
        ),
        sa.ForeignKeyConstraint(
            ["observer_id"], ["observers.id"], name="fk_roster_observer_id_observers"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_roster"),
    )
    op.create_index("ix_roster_observer_id", "roster", ["observer_id"])
    op.create_index("ix_roster_election_station", "roster", ["election", "station"])
    op.create_table(
        "revoked_attempts",
        sa.Column("observer_id", sa.Integer(), nullable=False),
        sa.Column("election", sa.String(100), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["observer_id"], ["observers.id"], name="fk_revoked_attempts_observer_id_observers"
        ),
        sa.ForeignKeyConstraint(
            ["election"], ["elections.id"], name="fk_revoked_attempts_election_elections"
        ),
        sa.PrimaryKeyConstraint("observer_id", name="pk_revoked_attempts"),
    )


def downgrade() -> None:
    op.drop_table("revoked_attempts")
    op.drop_index("ix_roster_election_station", table_name="roster")
    op.drop_index("ix_roster_observer_id", table_name="roster")
    op.drop_table("roster")
    op.drop_index("ix_incident_notes_report_id", table_name="incident_notes")
    op.drop_table("incident_notes")
    op.drop_index("ix_incident_followups_election_status", table_name="incident_followups")
    op.drop_table("incident_followups")
    with op.batch_alter_table("elections") as batch:
        batch.drop_column("simulated")
