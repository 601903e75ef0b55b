"""Independent observation: reports, the tamper-evident ledger, master records, estimates, PVT.

The pure core of ``pollwatch observe`` (no files, no database, no sockets); storage, the HTTP
API and the observer app build on it. Formulas and the ledger format: ``docs/observe.md``.
"""

from __future__ import annotations

from pollwatch.observe.estimates import (
    Comparison,
    DayCurve,
    LineComparison,
    OpeningHours,
    Tolerance,
    TurnoutComparison,
    TurnoutEstimate,
    compare_with_official,
    day_curve_from_windows,
    turnout_estimate,
)
from pollwatch.observe.ids import ID_LIMIT, check_election_id, check_station_id
from pollwatch.observe.ledger import (
    GENESIS,
    LedgerEntry,
    LedgerVerification,
    append_entry,
    check_reveal,
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
from pollwatch.observe.pvt import (
    JointTest,
    PVTEstimate,
    PVTPending,
    PVTResult,
    StratumSummary,
    allocate_proportional,
    draw_stratified_sample,
    stratified_ratio_estimate,
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
    "ID_LIMIT",
    "INCIDENT_CATEGORIES",
    "REPORT_KINDS",
    "STATUSES",
    "Comparison",
    "Conflict",
    "CountReport",
    "CountWindow",
    "DayCurve",
    "IncidentReport",
    "JointTest",
    "LedgerEntry",
    "LedgerVerification",
    "LineComparison",
    "MasterRecord",
    "OpeningHours",
    "PVTEstimate",
    "PVTPending",
    "PVTResult",
    "ProtocolFigures",
    "ProtocolReport",
    "Report",
    "ReportedValue",
    "Resolution",
    "StatusReport",
    "StratumSummary",
    "Tolerance",
    "TurnoutComparison",
    "TurnoutEstimate",
    "allocate_proportional",
    "append_entry",
    "canonical_json",
    "check_election_id",
    "check_reveal",
    "check_station_id",
    "compare_with_official",
    "day_curve_from_windows",
    "draw_stratified_sample",
    "entry_hash",
    "merge_station_reports",
    "parse_report",
    "stratified_ratio_estimate",
    "turnout_estimate",
    "verify_ledger",
]
