"""Incident follow-up: the statuses an incident goes through, its severity, and which are open.

An observer's incident report is never changed (the ledger holds it); what coordinators do
about it is kept beside it: a status, an assignee among the coordinators, a severity and
internal notes (never public, never in the ledger). Publishing is a separate decision, the
publication policy's (:mod:`pollwatch.observe.publication`).

Statuses (:data:`INCIDENT_STATUSES`) and the moves allowed between them
(:data:`TRANSITIONS`)::

    new ──► acknowledged ──► in_progress ──► resolved
     │            │               │    ▲
     └────────────┴───────────────┴────┴──► rejected      (resolved / rejected: reopen to
                                                           in_progress)

An incident is *open* until it is resolved or rejected. Its default severity follows its
category (:data:`CATEGORY_SEVERITY`: violence and pressure are ``high``); a coordinator may
change it. The dashboard lists open incidents most severe first, oldest first within a
severity (:func:`open_order`), so an old serious incident cannot scroll away.

>>> check_transition("new", "resolved")
'resolved'
>>> try:
...     check_transition("resolved", "new")
... except InputError as refused:
...     print(refused.column, "|", refused)  # doctest: +ELLIPSIS
status | ...cannot go from resolved back to new; allowed: in_progress
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from pollwatch.errors import InputError
from pollwatch.observe.alerts import SEVERITIES

__all__ = [
    "CATEGORY_SEVERITY",
    "CLOSED_STATUSES",
    "INCIDENT_STATUSES",
    "NOTE_LIMIT",
    "SEVERITIES",
    "TRANSITIONS",
    "check_note",
    "check_severity",
    "check_transition",
    "default_severity",
    "open_order",
]

INCIDENT_STATUSES: tuple[str, ...] = ("new", "acknowledged", "in_progress", "resolved", "rejected")
"""An incident's follow-up statuses, in their usual order."""

CLOSED_STATUSES: tuple[str, ...] = ("resolved", "rejected")
"""Statuses that end the follow-up (the incident leaves the open list)."""

TRANSITIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "new": ("acknowledged", "in_progress", "resolved", "rejected"),
        "acknowledged": ("in_progress", "resolved", "rejected"),
        "in_progress": ("acknowledged", "resolved", "rejected"),
        "resolved": ("in_progress",),
        "rejected": ("in_progress",),
    }
)
"""Status → the statuses it may move to (never back to ``new``: someone has seen it)."""

CATEGORY_SEVERITY: Mapping[str, str] = MappingProxyType(
    {
        "violence": "high",
        "pressure": "high",
        "observer_obstruction": "high",
        "ballot_shortage": "medium",
        "procedural_violation": "medium",
        "other": "low",
    }
)
"""Default severity of each incident category: harm to people and to observers first."""

NOTE_LIMIT = 4_000
"""Longest internal note, in characters (as long as an incident's own text)."""


def check_transition(current: str, wanted: str) -> str:
    """``wanted`` if an incident may move there from ``current``, else InputError naming
    ``status``."""
    if wanted not in INCIDENT_STATUSES:
        raise InputError(
            f"'status' must be one of {', '.join(INCIDENT_STATUSES)}; got {str(wanted)[:40]!r}",
            column="status",
        )
    allowed = TRANSITIONS[current]
    if wanted not in allowed and wanted != current:
        back = " back" if INCIDENT_STATUSES.index(wanted) < INCIDENT_STATUSES.index(current) else ""
        raise InputError(
            f"an incident cannot go from {current}{back} to {wanted}; "
            f"allowed: {', '.join(allowed)}",
            column="status",
        )
    return wanted


def check_severity(value: object) -> str:
    """A severity of :data:`SEVERITIES`, else InputError naming ``severity``."""
    if not isinstance(value, str) or value not in SEVERITIES:
        raise InputError(
            f"'severity' must be one of {', '.join(SEVERITIES)}; got {str(value)[:40]!r}",
            column="severity",
        )
    return value


def default_severity(category: str | None) -> str:
    """The severity an incident of this category starts with."""
    return CATEGORY_SEVERITY.get(category or "", "low")


def check_note(value: object) -> str:
    """An internal note: text of 1 to :data:`NOTE_LIMIT` characters, no NUL, valid Unicode.

    Kept verbatim (it is shown as text, never as markup).
    """
    if not isinstance(value, str):
        raise InputError("'note' must be a string", column="note")
    text = value.strip()
    if not text:
        raise InputError("'note' must not be empty", column="note")
    if len(text) > NOTE_LIMIT:
        raise InputError(f"'note' must be at most {NOTE_LIMIT} characters", column="note")
    if "\x00" in text:
        raise InputError("'note' must not contain NUL characters", column="note")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError("'note' is not valid Unicode (lone surrogate)", column="note") from None
    return text


def open_order(severity: str, observed_at: str, report_id: str) -> tuple[int, str, str]:
    """Sort key of the open list: most severe first, then oldest first (ISO-8601 UTC times)."""
    rank = SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)
    return rank, observed_at, report_id
