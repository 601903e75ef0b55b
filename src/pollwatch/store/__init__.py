"""Storage of the observation service: SQLite or PostgreSQL through SQLAlchemy 2 Core.

:func:`open_store` opens the database named by ``POLLWATCH_DATABASE_URL`` (or a URL given)
and migrates it to the current schema (Alembic), so the server and every CLI command start
on the same schema with no set-up. Each repository function takes the engine first and
does one thing in one transaction; rules live in :mod:`pollwatch.observe`, not here.
"""

from __future__ import annotations

from sqlalchemy import Engine

# The store's refusals, raised by the functions below; they live in the one exception tree.
from pollwatch.errors import AuthError, ConflictError, Forbidden, PVTUnavailable
from pollwatch.store._util import secret_hash
from pollwatch.store.audit import list_audit, record_audit
from pollwatch.store.comparison import comparison_rows, set_tolerance
from pollwatch.store.conflict_list import conflict_page, conflicts
from pollwatch.store.coordinators import (
    add_scope,
    create_coordinator,
    end_sessions,
    list_coordinators,
    remove_scope,
    reset_password,
    session_coordinator,
    set_role,
    station_place,
    visible_stations,
)
from pollwatch.store.day_activity import activity, incidents_feed
from pollwatch.store.elections import (
    STATION_COLUMNS,
    ImportSummary,
    attach_results,
    create_election,
    get_election,
    import_stations,
    list_elections,
    list_stations,
    official_row,
    station_table,
)
from pollwatch.store.engine import is_sqlite, make_engine, write_transaction
from pollwatch.store.events import events_after, ledger_seq
from pollwatch.store.migrate import current_revision, head_revision, upgrade_database
from pollwatch.store.people import (
    INVITE_TTL,
    ROLES,
    Coordinator,
    Invite,
    Observer,
    Redeemed,
    add_coordinator,
    coordinator_for_session,
    create_invites,
    login,
    logout,
    observer_for_token,
    redeem_invite,
    revoke_observers,
)
from pollwatch.store.photos import (
    CleanPhoto,
    DecodeSlots,
    clean_photo,
    get_photo,
    photo_target,
    store_photo,
)
from pollwatch.store.press import public_summary
from pollwatch.store.public import (
    election_embargo,
    ledger_access,
    press_summary,
    public_ledger_head,
    public_station_status,
    set_embargo,
    set_incident_public,
)
from pollwatch.store.pvt import PVTSample, load_sample, pvt_estimate, store_sample
from pollwatch.store.reports import (
    EXPORT_COLUMNS,
    StoredReport,
    export_ledger_lines,
    export_reports,
    get_report,
    ledger_head,
    list_reports,
    rebuild_activity,
    reports_to_bytes,
    store_report,
)
from pollwatch.store.resolutions import list_resolutions, resolve_conflict
from pollwatch.store.station_overview import dashboard_stations, station_rows, station_totals
from pollwatch.store.station_record import station_record

__all__ = [
    "EXPORT_COLUMNS",
    "INVITE_TTL",
    "ROLES",
    "STATION_COLUMNS",
    "AuthError",
    "CleanPhoto",
    "ConflictError",
    "Coordinator",
    "DecodeSlots",
    "Forbidden",
    "ImportSummary",
    "Invite",
    "Observer",
    "PVTSample",
    "PVTUnavailable",
    "Redeemed",
    "StoredReport",
    "activity",
    "add_coordinator",
    "add_scope",
    "attach_results",
    "clean_photo",
    "comparison_rows",
    "conflict_page",
    "conflicts",
    "coordinator_for_session",
    "create_coordinator",
    "create_election",
    "create_invites",
    "current_revision",
    "dashboard_stations",
    "election_embargo",
    "end_sessions",
    "events_after",
    "export_ledger_lines",
    "export_reports",
    "get_election",
    "get_photo",
    "get_report",
    "head_revision",
    "import_stations",
    "incidents_feed",
    "is_sqlite",
    "ledger_access",
    "ledger_head",
    "ledger_seq",
    "list_audit",
    "list_coordinators",
    "list_elections",
    "list_reports",
    "list_resolutions",
    "list_stations",
    "load_sample",
    "login",
    "logout",
    "make_engine",
    "observer_for_token",
    "official_row",
    "open_store",
    "photo_target",
    "press_summary",
    "public_ledger_head",
    "public_station_status",
    "public_summary",
    "pvt_estimate",
    "rebuild_activity",
    "record_audit",
    "redeem_invite",
    "remove_scope",
    "reports_to_bytes",
    "reset_password",
    "resolve_conflict",
    "revoke_observers",
    "secret_hash",
    "session_coordinator",
    "set_embargo",
    "set_incident_public",
    "set_role",
    "set_tolerance",
    "station_place",
    "station_record",
    "station_rows",
    "station_table",
    "station_totals",
    "store_photo",
    "store_report",
    "store_sample",
    "upgrade_database",
    "visible_stations",
    "write_transaction",
]


def open_store(url: str) -> Engine:
    """Open the database at ``url`` and migrate it to the current schema."""
    engine = make_engine(url)
    upgrade_database(engine)
    return engine
