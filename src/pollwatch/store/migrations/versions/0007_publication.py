"""Publication policy: ledger format version 2 (salts), public incidents, election embargo.

Existing ledger rows become version 1 (``version`` 1, no salts) and verify by the rules they
were written with; new entries are version 2, so an election's chain may switch from 1 to 2
at the upgrade (:mod:`pollwatch.observe.ledger`). Existing reports are not public and no
election has an embargo end: their full ledgers and exports need a coordinator until one is
set (the safe default).

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD/DROP COLUMN, not batch mode: on SQLite a batch rebuild of ``reports`` would
    # drop a table that ``ledger`` and ``photos`` reference.
    op.add_column(
        "ledger", sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("1"))
    )
    op.add_column("ledger", sa.Column("salts", sa.JSON(), nullable=True))
    op.add_column(
        "reports", sa.Column("public", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("elections", sa.Column("embargo_until", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("elections", "embargo_until")
    op.drop_column("reports", "public")
    op.drop_column("ledger", "salts")
    op.drop_column("ledger", "version")
