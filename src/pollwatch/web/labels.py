"""Labels of the coordinators' pages: the English text (message id) shown for each key of a
field — incident categories, station statuses, follow-up statuses, severities, alert kinds,
coverage states, the follow-up's audited changes.

One place for them, apart from the page routers that show them
(:mod:`pollwatch.web.dashboard`, :mod:`pollwatch.web.network_pages`; the voter guide's
incident list, :mod:`pollwatch.web.guide`, shows the same categories): a module that needs
a label imports it from here, not from a router, and a label written once is translated
once for every page. The Telegram bot shows the same labels from here: the categories and
statuses of its reporting flow (translated in its own catalogue, which holds the same
msgids) and the alerts it posts to the coordinators' group (translated in ``network``).
"""

from __future__ import annotations

__all__ = [
    "ACTION_LABELS",
    "CATEGORY_LABELS",
    "FOLLOWUP_LABELS",
    "NETWORK_LABELS",
    "SEVERITY_LABELS",
    "STATUS_LABELS",
]

CATEGORY_LABELS: dict[str, str] = {
    "ballot_shortage": "Ballot shortage",
    "pressure": "Pressure or intimidation",
    "violence": "Violence",
    "observer_obstruction": "Observers obstructed",
    "procedural_violation": "Procedural violation",
    "other": "Other",
}
"""English labels (message ids) of the incident categories, as the observer app shows them."""

STATUS_LABELS: dict[str, str] = {
    "opened": "Opened",
    "closed": "Closed",
    "suspended": "Suspended",
    "resumed": "Resumed",
}
"""English labels (message ids) of the stations' statuses."""

FOLLOWUP_LABELS: dict[str, str] = {
    "new": "New",
    "acknowledged": "Acknowledged",
    "in_progress": "In progress",
    "resolved": "Resolved",
    "rejected": "Rejected",
}
"""English labels (message ids) of the follow-up statuses."""

SEVERITY_LABELS: dict[str, str] = {"high": "High", "medium": "Medium", "low": "Low"}
"""English labels (message ids) of the severities."""

ACTION_LABELS: dict[str, str] = {
    "incidents.status": "Status",
    "incidents.severity": "Severity",
    "incidents.assign": "Assignee",
    "incidents.note": "Internal note added",
    "set_incident_public": "Public",
}
"""English labels (message ids) of the follow-up's audited changes."""

NETWORK_LABELS: dict[str, str] = {
    "alert_no_opening": "Should have opened, no status yet",
    "alert_silence": "No report for 60 minutes",
    "alert_count_gap": "Count window missing",
    "alert_revoked_sending": "Revoked observer still sending",
    **{f"severity_{key}": label for key, label in SEVERITY_LABELS.items()},
    **{f"followup_{key}": label for key, label in FOLLOWUP_LABELS.items()},
    "state_counted": "counted",
    "state_partial": "partly counted",
    "state_missing": "no count window",
    "state_future": "not yet",
}
"""Keys the dashboard script looks up → English labels (message ids): alert kinds,
severities, follow-up statuses, coverage states."""
