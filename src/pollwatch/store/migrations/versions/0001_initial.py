"""Initial schema: elections, stations, people, reports, the ledger, audit and photos.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_table(
        "coordinators",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coordinators")),
        sa.UniqueConstraint("name", name=op.f("uq_coordinators_name")),
    )
    op.create_table(
        "elections",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_elections")),
    )
    op.create_table(
        "observers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("election", sa.String(length=100), nullable=False),
        sa.Column("code_name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("stations", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["election"], ["elections.id"], name=op.f("fk_observers_election_elections")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observers")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_observers_token_hash")),
    )
    op.create_table(
        "official_results",
        sa.Column("election", sa.String(length=100), nullable=False),
        sa.Column("station", sa.String(length=100), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["election"], ["elections.id"], name=op.f("fk_official_results_election_elections")
        ),
        sa.PrimaryKeyConstraint("election", "station", name=op.f("pk_official_results")),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("coordinator_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["coordinator_id"],
            ["coordinators.id"],
            name=op.f("fk_sessions_coordinator_id_coordinators"),
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_sessions")),
    )
    op.create_table(
        "stations",
        sa.Column("election", sa.String(length=100), nullable=False),
        sa.Column("station", sa.String(length=100), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("country", sa.Text(), nullable=True),
        sa.Column("city", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("registered", sa.Integer(), nullable=True),
        sa.Column("ballots_received", sa.Integer(), nullable=True),
        sa.Column("hours", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["election"], ["elections.id"], name=op.f("fk_stations_election_elections")
        ),
        sa.PrimaryKeyConstraint("election", "station", name=op.f("pk_stations")),
    )
    op.create_table(
        "invites",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("election", sa.String(length=100), nullable=False),
        sa.Column("stations", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("observer_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["election"], ["elections.id"], name=op.f("fk_invites_election_elections")
        ),
        sa.ForeignKeyConstraint(
            ["observer_id"], ["observers.id"], name=op.f("fk_invites_observer_id_observers")
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_invites")),
    )
    op.create_table(
        "reports",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("election", sa.String(length=100), nullable=False),
        sa.Column("station", sa.String(length=100), nullable=False),
        sa.Column("observer_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("canonical", sa.Text(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["election"], ["elections.id"], name=op.f("fk_reports_election_elections")
        ),
        sa.ForeignKeyConstraint(
            ["observer_id"], ["observers.id"], name=op.f("fk_reports_observer_id_observers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
    )
    op.create_index("ix_reports_election_received", "reports", ["election", "received_at"])
    op.create_index("ix_reports_election_station", "reports", ["election", "station"])

    op.create_table(
        "ledger",
        sa.Column("election", sa.String(length=100), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("report_id", sa.String(length=36), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["election"], ["elections.id"], name=op.f("fk_ledger_election_elections")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_ledger_report_id_reports")
        ),
        sa.PrimaryKeyConstraint("election", "seq", name=op.f("pk_ledger")),
        sa.UniqueConstraint("report_id", name=op.f("uq_ledger_report_id")),
    )
    op.create_table(
        "photos",
        sa.Column("report_id", sa.String(length=36), nullable=False),
        sa.Column("content_type", sa.String(length=50), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_photos_report_id_reports")
        ),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_photos")),
    )


def downgrade() -> None:
    op.drop_table("photos")
    op.drop_table("ledger")
    op.drop_index("ix_reports_election_station", table_name="reports")
    op.drop_index("ix_reports_election_received", table_name="reports")

    op.drop_table("reports")
    op.drop_table("invites")
    op.drop_table("stations")
    op.drop_table("sessions")
    op.drop_table("official_results")
    op.drop_table("observers")
    op.drop_table("elections")
    op.drop_table("coordinators")
    op.drop_table("audit_log")
