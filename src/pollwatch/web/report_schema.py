"""The JSON Schema of a report body, as ``/openapi.json`` documents ``POST /api/v1/reports``.

Built from :mod:`pollwatch.observe.reports`' own constants (field names, which are required,
bounds, categories, statuses, lengths), so the documentation cannot promise a bound that
:func:`~pollwatch.observe.reports.parse_report` does not apply. The schema describes; the
parser decides: a body the schema accepts can still be refused for what a schema cannot say
(a window longer than :data:`~pollwatch.observe.reports.MAX_WINDOW`, a timestamp in the
future), always with a 4xx naming the field.
"""

from __future__ import annotations

from typing import Any

from pollwatch.observe.checklists import (
    ANSWER_TEXT_LIMIT,
    CHECKLIST_ID_PATTERN,
    MAX_QUESTIONS,
    NUMBER_LIMIT,
)
from pollwatch.observe.reports import (
    CANDIDATE_NAME_LIMIT,
    CHECKLIST_VERSION_LIMIT,
    COMMON_FIELDS,
    COUNT_LIMIT,
    FIGURE_FIELDS,
    ID_LIMIT,
    ID_PATTERN,
    INCIDENT_CATEGORIES,
    KIND_FIELDS,
    MAX_CANDIDATES,
    REQUIRED_FIELDS,
    STATUSES,
    TEXT_LIMIT,
    UUID_PATTERN,
    WAIT_LIMIT,
)

__all__ = ["REPORT_SCHEMA", "report_schema"]

_COUNT = {"type": "integer", "minimum": 0, "maximum": COUNT_LIMIT}
_TIME = {"type": "string", "format": "date-time"}
_ID = {"type": "string", "minLength": 1, "maxLength": ID_LIMIT, "pattern": f"^{ID_PATTERN}$"}

_PROPERTIES: dict[str, dict[str, Any]] = {
    "id": {"type": "string", "pattern": f"^{UUID_PATTERN}$", "description": "client UUID"},
    "election": _ID,
    "station": _ID,
    "observed_at": {**_TIME, "description": "ISO-8601 with a timezone"},
    "window_start": _TIME,
    "window_end": _TIME,
    "entered": _COUNT,
    "ballots_issued": _COUNT,
    "queue": _COUNT,
    "wait_minutes": {"type": "integer", "minimum": 0, "maximum": WAIT_LIMIT},
    "category": {"enum": list(INCIDENT_CATEGORIES)},
    "text": {"type": "string", "maxLength": TEXT_LIMIT},
    "status": {"enum": list(STATUSES)},
    "figures": {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            **{name: _COUNT for name in FIGURE_FIELDS},
            "votes": {
                "type": "object",
                "maxProperties": MAX_CANDIDATES,
                "propertyNames": {"minLength": 1, "maxLength": CANDIDATE_NAME_LIMIT},
                "additionalProperties": _COUNT,
            },
        },
    },
    # checklist reports (issue 13): answers are checked against the named version on storing
    "checklist": {"type": "string", "pattern": f"^{CHECKLIST_ID_PATTERN}$"},
    "version": {"type": "integer", "minimum": 1, "maximum": CHECKLIST_VERSION_LIMIT},
    "answers": {
        "type": "object",
        "maxProperties": MAX_QUESTIONS,
        "propertyNames": {"pattern": f"^{CHECKLIST_ID_PATTERN}$"},
        "additionalProperties": {
            "anyOf": [
                {"type": "boolean"},
                {"type": "integer", "minimum": -NUMBER_LIMIT, "maximum": NUMBER_LIMIT},
                {"type": "string", "maxLength": ANSWER_TEXT_LIMIT},
                {"type": "null"},
            ]
        },
    },
}
"""Each field's schema: every field of every kind appears here once."""


def _kind_schema(kind: str) -> dict[str, Any]:
    fields = (*COMMON_FIELDS, *KIND_FIELDS[kind])
    properties = {name: _PROPERTIES[name] for name in fields if name != "kind"}
    return {
        "type": "object",
        "title": f"{kind} report",
        "additionalProperties": False,
        "required": [*COMMON_FIELDS, *REQUIRED_FIELDS[kind]],
        "properties": {**properties, "kind": {"const": kind}},
    }


def report_schema() -> dict[str, Any]:
    """The report body's JSON Schema: one object schema per kind, under ``oneOf``."""
    return {"oneOf": [_kind_schema(kind) for kind in KIND_FIELDS]}


REPORT_SCHEMA: dict[str, Any] = report_schema()
"""The schema ``/openapi.json`` carries for the body of ``POST /api/v1/reports``."""
