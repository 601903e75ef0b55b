"""Independent observation: reports, the tamper-evident ledger, master records, estimates, PVT.

The pure core of ``pollwatch observe`` (no files, no database, no sockets); storage, the HTTP
API and the observer app build on it. Formulas and the ledger format: ``docs/observe.md``.
"""

from __future__ import annotations

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
    "INCIDENT_CATEGORIES",
    "REPORT_KINDS",
    "STATUSES",
    "CountReport",
    "IncidentReport",
    "ProtocolFigures",
    "ProtocolReport",
    "Report",
    "StatusReport",
    "canonical_json",
    "parse_report",
]
