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
    "checklist_versions",
    "coordinator_scopes",
    "coordinators",
    "elections",
    "guidance_pages",
    "guide_problems",
    "incident_followups",
    "incident_notes",
    "invites",
    "ledger",
    "limit_counters",
    "message_targets",
    "messages",
    "metadata",
    "observers",
    "official_results",
    "photos",
    "pvt_sample",
    "reports",
    "resolutions",
    "revoked_attempts",
    "roster",
    "sessions",
    "station_activity",
    "stations",
    "telegram_alerts",
    "telegram_batches",
    "telegram_codes",
    "telegram_flows",
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
    # A simulated election (the demo): every page of it says so.
    Column("simulated", Boolean, nullable=False, server_default=false()),
    # The voter guide's key date: when registration closes (aware UTC) and the time zone it
    # is shown in (pollwatch.guide.cards).
    Column("registration_deadline", DateTime(timezone=True), nullable=True),
    Column("registration_timezone", String(64), nullable=True),
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
    # Register counts that home and early voting are compared with (pollwatch.observe.registers).
    Column("home_requests", Integer),
    Column("early_voters", Integer),
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
    # The dashboard's newest-incidents feed (pollwatch.store.day_activity.incidents_feed).
    Index(
        "ix_reports_election_incidents",
        "election",
        "received_at",
        "id",
        sqlite_where=text("kind = 'incident'"),
        postgresql_where=text("kind = 'incident'"),
    ),
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


# --- checklists and messages to observers (issue 13, items 1 and 2) --------------------------

checklist_versions = Table(
    "checklist_versions",
    metadata,
    Column("election", String(100), ForeignKey("elections.id"), primary_key=True),
    Column("checklist", String(40), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    # The validated document (pollwatch.observe.checklists: Checklist.to_dict()).
    Column("definition", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(100), nullable=False),
    # A retired checklist is no longer offered to observers (its reports and results stay).
    Column("retired", Boolean, nullable=False, server_default=false()),
)
"""Every version of every checklist of an election; versions are never changed or deleted, so
a report names the version it answered and is judged by it."""

messages = Table(
    "messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("election", String(100), ForeignKey("elections.id"), nullable=False, index=True),
    Column("text", Text, nullable=False),
    Column("urgent", Boolean, nullable=False, server_default=false()),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("author", String(100), nullable=False),
    # Observers the targets named when it was sent (an upper bound: unbound observers count
    # for every station); receipts never exceed it.
    Column("recipients", Integer, nullable=False),
    # Read receipts are counts, never who: phones report "delivered" and "read" once each.
    Column("delivered", Integer, nullable=False, server_default=text("0")),
    Column("reads", Integer, nullable=False, server_default=text("0")),
)
"""Messages from the coordinators to observers, who have no contact details: phones fetch them
at each sync (the observer app's inbox) and the bot delivers them (message_targets)."""

message_targets = Table(
    "message_targets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", Integer, ForeignKey("messages.id"), nullable=False, index=True),
    # all (value NULL) | station | country | observer (a code name)
    Column("kind", String(20), nullable=False),
    Column("value", String(100), nullable=True),
    # The bot's delivery of this target: pending -> sent | failed (store/messages.py).
    Column("bot_state", String(20), nullable=False, server_default="pending"),
    Column("bot_attempts", Integer, nullable=False, server_default=text("0")),
    Column("bot_updated_at", DateTime(timezone=True), nullable=True),
    Index("ix_message_targets_bot_state", "bot_state"),
)
"""Whom a message is for, one row per target, each with the bot's delivery state."""

# --- incidents followed up, rosters, revoked senders (issue 13; migration 0011) ------------

incident_followups = Table(
    "incident_followups",
    metadata,
    Column("report_id", String(36), ForeignKey("reports.id"), primary_key=True),
    Column("election", String(100), ForeignKey("elections.id"), nullable=False),
    Column("station", String(100), nullable=False),
    Column("status", String(20), nullable=False),
    Column("severity", String(10), nullable=False),
    Column("assignee", String(100), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(100), nullable=False),
    Index("ix_incident_followups_election_status", "election", "status"),
)
"""What coordinators did about an incident (pollwatch.observe.followup); no row: still new,
at its category's default severity. Every change is also in the audit log."""

incident_notes = Table(
    "incident_notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("report_id", String(36), ForeignKey("reports.id"), nullable=False, index=True),
    Column("author", String(100), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("text", Text, nullable=False),
)
"""Coordinators' internal notes on an incident: never public, never in the ledger."""

roster = Table(
    "roster",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("election", String(100), ForeignKey("elections.id"), nullable=False),
    Column("observer_id", Integer, ForeignKey("observers.id"), nullable=False, index=True),
    Column("station", String(100), nullable=False),
    Column("shift_start", DateTime(timezone=True), nullable=True),
    Column("shift_end", DateTime(timezone=True), nullable=True),
    Column("assigned_at", DateTime(timezone=True), nullable=False),
    Column("assigned_by", String(100), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("ended_by", String(100), nullable=True),
    Index("ix_roster_election_station", "election", "station"),
)
"""Observers (by code name, no personal data) assigned to stations and shifts. A move ends
the current row and opens a new one, so the day's history stays."""

revoked_attempts = Table(
    "revoked_attempts",
    metadata,
    Column("observer_id", Integer, ForeignKey("observers.id"), primary_key=True),
    Column("election", String(100), ForeignKey("elections.id"), nullable=False),
    Column("first_at", DateTime(timezone=True), nullable=False),
    Column("last_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False),
)
"""A revoked observer's token presented again: when first and last, how many (counted at
most once a minute, so a phone retrying in a loop costs one write a minute)."""
guidance_pages = Table(
    "guidance_pages",
    metadata,
    Column("election", String(100), ForeignKey("elections.id"), primary_key=True),
    Column("lang", String(8), primary_key=True),
    Column("markdown", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(100), nullable=False),
)
"""Voter guidance written by coordinators: one Markdown page per election and language
(pollwatch.store.guidance); every change is also in the audit log."""

guide_problems = Table(
    "guide_problems",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("election", String(100), ForeignKey("elections.id"), nullable=False),
    Column("station", String(100), nullable=False),
    Column("category", String(30), nullable=False),
    Column("text", Text, nullable=False),
    # The hour it arrived (floored): no exact time, no address, no e-mail, no account.
    Column("received_hour", DateTime(timezone=True), nullable=False),
    # A coordinator dealt with it (the page corrected, or nothing to correct); audited.
    Column("handled_at", DateTime(timezone=True), nullable=True),
    Column("handled_by", String(100), nullable=True),
    Index("ix_guide_problems_election_hour", "election", "received_hour"),
)
"""Problems voters reported with a station's guide page (pollwatch.store.guide_problems)."""
# --- issue 16: the dashboard's merged state, kept in the database (store/station_state.py) ---

station_state = Table(
    "station_state",
    metadata,
    Column("election", String(100), ForeignKey("elections.id"), primary_key=True),
    Column("station", String(100), primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
    Column("resolutions", String(64), nullable=False),
    Column("conflicts", Integer, nullable=False),
    Column("record", Text, nullable=False),
    Column("slots", Text, nullable=False),
    Column("conflict_list", Text, nullable=False),
    # The reports the record was merged from, compact (migration 0015): new reports are
    # merged with them instead of re-reading the station's history.
    Column("inputs", Text, nullable=True),
    # The station's comparison-table row with the key it was built for (migration 0015).
    Column("comparison", Text, nullable=True),
)
"""Each station's merged master record as the dashboard uses it (``record``: compact JSON,
:mod:`pollwatch.store.station_state`), as of the station's ledger seq ``last_seq`` and the
digest of its resolutions, with people entered per 15-minute slot (``slots``), its open
and resolved conflicts (``conflict_list``) and the number of open ones. A cache of the
reports and resolutions: a row is used only while both still match, so a late report can
never leave it stale."""

activity_slots = Table(
    "activity_slots",
    metadata,
    Column("election", String(100), ForeignKey("elections.id"), primary_key=True),
    Column("slot", BigInteger, primary_key=True, autoincrement=False),
    Column("reports", Integer, nullable=False),
    Column("incidents", Integer, nullable=False),
)
"""Reports and incidents per 15-minute UTC slot (``slot`` = seconds since the epoch of
``observed_at`` // 900), kept in each report's transaction like ``station_activity``: any
local hour (a +5:30 zone included) is a sum of whole slots."""
election_shapes = Table(
    "election_shapes",
    metadata,
    Column("election", String(100), ForeignKey("elections.id"), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("shapes", Text, nullable=False),
)
"""The day shapes the comparison table's estimates use (migration 0015;
:mod:`pollwatch.store.day_shapes`), as of the election's ledger ``seq``."""

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
    # The batch counted in telegram_batches ("m:<message id>", "b:<broadcast>"); NULL: none.
    Column("batch", String(64), nullable=True),
)
"""Messages waiting to be sent by the paced sender; a row is deleted once Telegram took it."""

telegram_batches = Table(
    "telegram_batches",
    metadata,
    Column("batch", String(64), primary_key=True),
    Column("queued", Integer, nullable=False, server_default=text("0")),
    Column("delivered", Integer, nullable=False, server_default=text("0")),
    Column("failed", Integer, nullable=False, server_default=text("0")),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
"""Counts per batch of outbox messages: queued, accepted by Telegram, failed (migration 0014)."""

telegram_flows = Table(
    "telegram_flows",
    metadata,
    # The HMAC'd user id, as in telegram_users (no row there is needed).
    Column("user_hash", String(64), primary_key=True),
    Column("state", String(100), nullable=True),
    # The flow's half-typed values as JSON (a report draft, a practice's counters).
    Column("data", Text, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
)
"""The bot's unfinished conversations, kept across restarts until they expire."""

telegram_alerts = Table(
    "telegram_alerts",
    metadata,
    # The alert's stable id (pollwatch.observe.alerts: kind, election, station, since).
    Column("alert_id", String(300), primary_key=True),
    Column("election", String(100), nullable=False),
    Column("queued_at", DateTime(timezone=True), nullable=False),
)
"""Alerts already queued to the coordinators' chat: each situation is posted once."""
