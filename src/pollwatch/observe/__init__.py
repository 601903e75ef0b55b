"""Independent observation: reports, the tamper-evident ledger, master records, estimates, PVT.

The pure core of ``pollwatch observe`` (no files, no database, no sockets); storage, the HTTP
API and the observer app build on it. Formulas and the ledger format: ``docs/observe.md``.
"""

from __future__ import annotations

from pollwatch.observe.ledger import (
    GENESIS,
    LedgerEntry,
    LedgerVerification,
    append_entry,
    entry_hash,
    verify_ledger,
)
from pollwatch.observe.master import (
    Conflict,
    CountWindow,
    MasterRecord,
    ReportedValue,
    Resolution,
    merge_station_reports,
)
from pollwatch.observe.reports import (
    INCIDENT_CATEGORIES,
    REPORT_KINDS,
    STATUSES,
    CountReport,
    IncidentReport,
    ProtocolFigures,
    ProtocolReport,
    Report,
    StatusReport,
    canonical_json,
    parse_report,
)

__all__ = [
    "GENESIS",
    "INCIDENT_CATEGORIES",
    "REPORT_KINDS",
    "STATUSES",
    "Conflict",
    "CountReport",
    "CountWindow",
    "IncidentReport",
    "LedgerEntry",
    "LedgerVerification",
    "MasterRecord",
    "ProtocolFigures",
    "ProtocolReport",
    "Report",
    "ReportedValue",
    "Resolution",
    "StatusReport",
    "append_entry",
    "canonical_json",
    "entry_hash",
    "merge_station_reports",
    "parse_report",
    "verify_ledger",
]
