"""Reports entered through the coordinators' hotline: how the ledger marks them.

An observer whose phone died calls the hotline; a coordinator enters the report on the
observer's behalf. The stored report is the one :func:`pollwatch.observe.reports.parse_report`
validated, with one more top-level field, ``"via": "hotline"`` — nothing else: not who
entered it (that goes to the audit log, which is not public), not the observer (the ledger
never names observers). Being a top-level field, it gets its own salted commitment in a
version-2 ledger entry like every other field (:mod:`pollwatch.observe.ledger`), so the mark
cannot be added or removed later without breaking the chain; ledgers written before it
existed verify unchanged, since they simply lack the field.

Observers cannot set the field themselves: ``parse_report`` refuses unknown fields, so only
:func:`hotline_canonical` (called by the store's hotline entry) writes it.

>>> from datetime import UTC, datetime
>>> from pollwatch.observe.reports import parse_report
>>> r = parse_report({"id": "00000000-0000-4000-8000-000000000001", "election": "e",
...     "station": "1", "kind": "status", "observed_at": "2024-03-17T08:00:00+03:00",
...     "status": "opened"}, now=datetime(2024, 3, 17, tzinfo=UTC))
>>> hotline_canonical(r).endswith('"status":"opened","via":"hotline"}')
True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pollwatch.observe.ledger import canonical_dumps
from pollwatch.observe.reports import Report

__all__ = ["CHANNEL_FIELD", "HOTLINE", "hotline_canonical", "without_channel"]

CHANNEL_FIELD = "via"
"""The top-level field that says how a report reached the service when not from the app."""

HOTLINE = "hotline"
"""Its one value: entered by a coordinator on an observer's behalf."""


def hotline_canonical(report: Report) -> str:
    """The canonical JSON of ``report`` marked as entered via the hotline."""
    body = report.to_dict()
    body[CHANNEL_FIELD] = HOTLINE
    return canonical_dumps(body)


def without_channel(body: Mapping[str, Any]) -> dict[str, Any]:
    """A stored report body without the channel mark (to parse it as a report again)."""
    return {k: v for k, v in body.items() if k != CHANNEL_FIELD}
