"""The dashboard's newest-incidents feed reads an index of the incidents alone (issue 16:
steady refresh).

The feed is the election's 50 newest incidents by ``received_at``. Walking the index of
every report newest first, it passed every protocol, status and count received after the
newest incidents: at the end of a day with a million reports (protocols and closing
statuses pour in, incidents stop) that was tens of thousands of rows, 0.1-0.3 s on SQLite
on every refresh. A partial index over the incidents only, ordered as the feed is
(``received_at``, then ``id``), makes it 50 index entries whatever the other reports are;
the other kinds (nine in ten reports) add nothing to it when stored.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_WHERE = sa.text("kind = 'incident'")


def upgrade() -> None:
    op.create_index(
        "ix_reports_election_incidents",
        "reports",
        ["election", "received_at", "id"],
        sqlite_where=_WHERE,
        postgresql_where=_WHERE,
    )


def downgrade() -> None:
    op.drop_index("ix_reports_election_incidents", "reports")
