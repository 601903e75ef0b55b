"""The observation service's tables (SQLAlchemy 2 Core), one metadata for Alembic.

Tokens, invite codes and session ids are never stored: only their SHA-256 (they are
random 32-byte values, so a fast hash is enough); coordinator passwords are argon2 hashes.
Reports keep the canonical JSON that the ledger hashes, so an export can be re-verified.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    false,
    text,
)

__all__ = [
    "audit_log",
    "coordinator_scopes",
    "coordinators",
    "elections",
    "invites",
    "ledger",
    "limit_counters",
    "metadata",
    "observers",
    "official_results",
    "photos",
    "pvt_sample",
    "reports",
    "resolutions",
    "sessions",
    "station_activity",
    "stations",
    "telegram_alerts",
    "telegram_codes",
    "telegram_follows",
    "telegram_outbox",
    "telegram_users",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

elections = Table(
    "elections",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("name", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("candidates", JSON, nullable=True),
    # The relative turnout slack a coordinator accepts before a station is flagged.
    Column("tolerance", Float, nullable=True),
    # When polls have closed everywhere: before it, the full ledger and the exports are for
    # coordinators only; after it, public with withheld texts (observe/publication.py).
    Column("embargo_until", DateTime(timezone=True), nullable=True),
    # The default schedule of stations that have none (pollwatch.observe.schedule format).
    Column("timezone", String(64), nullable=True),
    Column("schedule", Text, nullable=True),
)

stations = Table(
    "stations",
    metadata,
    Column("election", String(100), ForeignKey("elections.id"), primary_key=True),
    Column("station", String(100), primary_key=True),
    Column("name", Text),
    Column("country", Text),
    Column("city", Text),
    Column("address", Text),
    Column("lat", Float),
    Column("lon", Float),
    Column("registered", Integer),
    Column("ballots_received", Integer),
    Column("hours", Text),
    Column("region", Text),
    # IANA time zone and opening hours per voting day (pollwatch.observe.schedule).
    Column("timezone", String(64)),
    Column("schedule", Text),
)

official_results = Table(
    "official_results",
    metadata,
    Column("election", String(100), ForeignKey("elections.id"), primary_key=True),
    Column("station", String(100), primary_key=True),
    Column("figures", JSON, nullable=False),
)

observers = Table(
    "observers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("election", String(100), ForeignKey("elections.id"), nullable=False),
    Column("code_name", String(100), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("stations", JSON, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    # A code name names one observer of an election, in reports, revocations and the audit.
    Index("uq_observers_election_code_name", "election", "code_name", unique=True),
)

invites = Table(
    "invites",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("election", String(100), ForeignKey("elections.id"), nullable=False),
    Column("stations", JSON, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
    Column("observer_id", Integer, ForeignKey("observers.id"), nullable=True),
)

coordinators = Table(
    "coordinators",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

coordinator_scopes = Table(
    "coordinator_scopes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("coordinator_id", Integer, ForeignKey("coordinators.id"), nullable=False, index=True),
    Column("election", String(100), ForeignKey("elections.id"), nullable=False),
    Column("country", Text, nullable=True),
    Column("region", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
"""The elections (optionally one country and/or region of each) a coordinator or viewer works
in (:mod:`pollwatch.observe.permissions`); admins need none."""

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("coordinator_id", Integer, ForeignKey("coordinators.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

reports = Table(
    "reports",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("election", String(100), ForeignKey("elections.id"), nullable=False),
    Column("station", String(100), nullable=False),
    Column("observer_id", Integer, ForeignKey("observers.id"), nullable=True),
    Column("kind", String(20), nullable=False),
    Column("observed_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("canonical", Text, nullable=False),
    Column("body", JSON, nullable=False),
    # A coordinator marked this incident for publication (its text is then not withheld).
    Column("public", Boolean, nullable=False, server_default=false()),
    Index("ix_reports_election_station", "election", "station"),
    Index("ix_reports_election_received", "election", "received_at"),
)

ledger = Table(
    "ledger",
    metadata,
    Column("election", String(100), ForeignKey("elections.id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),  # unique per election
    Column("report_id", String(36), ForeignKey("reports.id"), nullable=False, unique=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("recorded_at", String(40), nullable=False),
    # Ledger format (observe/ledger.py): 1 for entries written before version 2.
    Column("version", Integer, nullable=False, server_default=text("1")),
    # Version 2: the salt of each report field, secret until the field is published.
    Column("salts", JSON, nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("actor", String(100), nullable=False),
    Column("action", String(100), nullable=False),
    Column("target", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("detail", JSON, nullable=True),
)

limit_counters = Table(
    "limit_counters",
    metadata,
    # Hits of a key (a kind and a SHA-256 digest, never a raw token or address) in the fixed
    # window starting at window_start (epoch seconds); window_start -1 is a hold whose end
    # (epoch milliseconds) is in hits. Rows are deleted after expires_at (epoch seconds).
    Column("name", String(100), primary_key=True),
    Column("window_start", BigInteger, primary_key=True, autoincrement=False),
    Column("hits", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)

photos = Table(
    "photos",
    metadata,
    Column("report_id", String(36), ForeignKey("reports.id"), primary_key=True),
    Column("content_type", String(50), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("uploaded_at", DateTime(timezone=True), nullable=False),
)

station_activity = Table(
    "station_activity",
    metadata,
    Column("election", String(100), ForeignKey("elections.id"), primary_key=True),
    Column("station", String(100), primary_key=True),
    Column("reports", Integer, nullable=False),
    Column("counts", Integer, nullable=False),
    Column("incidents", Integer, nullable=False),
    Column("protocols", Integer, nullable=False),
    Column("last_report_at", DateTime(timezone=True), nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("status", String(20), nullable=True),
    Column("status_at", DateTime(timezone=True), nullable=True),
    Column("queue", Integer, nullable=True),
    Column("queue_at", DateTime(timezone=True), nullable=True),
)
"""Per-station counters kept in the same transaction as each accepted report, so that the
coordinators' station table reads one row per station instead of scanning every report.
They are a cache of the reports table: :func:`pollwatch.store.reports.rebuild_activity`
recomputes them from scratch."""

resolutions = Table(
    "resolutions",
    metadata,
    Column("election", String(100), ForeignKey("elections.id"), primary_key=True),
    Column("station", String(100), primary_key=True),
    Column("field", String(200), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("by", String(100), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("note", Text, nullable=True),
)
"""A coordinator's choice for one conflicting field of a station's master record (the latest
choice wins; every choice is also in the audit log)."""

pvt_sample = Table(
    "pvt_sample",
    metadata,
    Column("election", String(100), ForeignKey("elections.id"), primary_key=True),
    Column("station", String(100), primary_key=True),
    Column("stratum", Text, nullable=False),
    Column("strata_column", String(100), nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("drawn_at", DateTime(timezone=True), nullable=False),
)
"""The quick-count sample of an election: stations drawn by ``pollwatch pvt sample``."""


# --- the Telegram bot (pollwatch.bot; migration 0012) ----------------------------------------

telegram_codes = Table(
    "telegram_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("observer_id", Integer, ForeignKey("observers.id"), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)
"""One-time codes that link an observer to one Telegram account (only their SHA-256)."""

telegram_users = Table(
    "telegram_users",
    metadata,
    # A keyed hash (HMAC) of the Telegram user id: never the id, a phone or a name.
    Column("user_hash", String(64), primary_key=True),
    # The chat id, encrypted (AES-GCM, key from the environment); NULL when not needed.
    Column("chat", LargeBinary, nullable=True),
    Column("lang", String(8), nullable=True),
    Column("observer_id", Integer, ForeignKey("observers.id"), nullable=True, unique=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
"""What the bot keeps about a Telegram account, erased by /forget."""

telegram_follows = Table(
    "telegram_follows",
    metadata,
    Column("user_hash", String(64), ForeignKey("telegram_users.user_hash"), primary_key=True),
    Column("election", String(100), ForeignKey("elections.id"), primary_key=True),
    Column("station", String(100), primary_key=True),
    Column("last_status", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
"""Voters following a station's public status (/follow, /unfollow)."""

telegram_outbox = Table(
    "telegram_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_hash", String(64), nullable=False, index=True),
    Column("chat", LargeBinary, nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("claimed_until", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
)
"""Messages waiting to be sent by the paced sender; a row is deleted once Telegram took it."""

telegram_alerts = Table(
    "telegram_alerts",
    metadata,
    # The alert's stable id (pollwatch.observe.alerts: kind, election, station, since).
    Column("alert_id", String(300), primary_key=True),
    Column("election", String(100), nullable=False),
    Column("queued_at", DateTime(timezone=True), nullable=False),
)
"""Alerts already queued to the coordinators' chat: each situation is posted once."""
