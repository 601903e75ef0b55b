"""The report body's schema in ``/openapi.json`` states exactly the bounds the parser applies.

The schema is built from :mod:`pollwatch.observe.reports`' constants; these tests hold it
against those constants and against :func:`parse_report` itself, so neither can move alone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pollwatch.config import Settings
from pollwatch.errors import InputError
from pollwatch.observe.reports import (
    CANDIDATE_NAME_LIMIT,
    COMMON_FIELDS,
    COUNT_LIMIT,
    FIGURE_FIELDS,
    ID_LIMIT,
    INCIDENT_CATEGORIES,
    KIND_FIELDS,
    MAX_CANDIDATES,
    REQUIRED_FIELDS,
    STATUSES,
    TEXT_LIMIT,
    WAIT_LIMIT,
    parse_report,
)
from pollwatch.web.app import create_app

NOW = datetime(2024, 3, 17, 12, tzinfo=UTC)

EXAMPLES: dict[str, dict[str, Any]] = {
    "count": {
        "window_start": "2024-03-17T08:00:00+03:00",
        "window_end": "2024-03-17T09:00:00+03:00",
        "entered": 112,
        "ballots_issued": 100,
        "queue": 3,
        "wait_minutes": 10,
    },
    "incident": {"category": "pressure", "text": "a man in the booth"},
    "protocol": {"figures": {"registered": 2000, "valid": 900, "votes": {"A": 900}}},
    "status": {"status": "opened", "queue": 12},
    "checklist": {"checklist": "opening", "version": 1, "answers": {"sealed": True, "staff": 4}},
}
"""A valid body of each kind with every optional field present."""


def _body(kind: str, **fields: Any) -> dict[str, Any]:
    header = {
        "id": "00000000-0000-4000-8000-000000000001",
        "election": "e1",
        "station": "s1",
        "kind": kind,
        "observed_at": "2024-03-17T09:00:00+03:00",
    }
    return {**header, **EXAMPLES[kind], **fields}


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The per-kind schemas that /openapi.json documents for POST /api/v1/reports."""
    home: Path = tmp_path_factory.mktemp("schema")
    app = create_app(Settings(data_dir=home, home=home))
    spec = app.openapi()
    body = spec["paths"]["/api/v1/reports"]["post"]["requestBody"]["content"]
    return {
        s["properties"]["kind"]["const"]: s for s in body["application/json"]["schema"]["oneOf"]
    }


def test_each_kind_documents_exactly_its_fields_and_required_ones(
    schemas: dict[str, dict[str, Any]],
) -> None:
    assert set(schemas) == set(KIND_FIELDS)
    for kind, schema in schemas.items():
        assert set(schema["properties"]) == {*COMMON_FIELDS, *KIND_FIELDS[kind]}
        assert set(schema["required"]) == {*COMMON_FIELDS, *REQUIRED_FIELDS[kind]}
        assert schema["additionalProperties"] is False


def test_the_documented_bounds_are_the_parsers_constants(
    schemas: dict[str, dict[str, Any]],
) -> None:
    count = schemas["count"]["properties"]
    for name in ("entered", "ballots_issued", "queue"):
        assert (count[name]["minimum"], count[name]["maximum"]) == (0, COUNT_LIMIT)
    assert count["wait_minutes"]["maximum"] == WAIT_LIMIT
    incident = schemas["incident"]["properties"]
    assert incident["text"]["maxLength"] == TEXT_LIMIT
    assert incident["category"]["enum"] == list(INCIDENT_CATEGORIES)
    assert schemas["status"]["properties"]["status"]["enum"] == list(STATUSES)
    assert schemas["status"]["properties"]["queue"]["maximum"] == COUNT_LIMIT
    for name in ("election", "station"):
        assert schemas["status"]["properties"][name]["maxLength"] == ID_LIMIT
    figures = schemas["protocol"]["properties"]["figures"]
    assert set(figures["properties"]) == {*FIGURE_FIELDS, "votes"}
    assert all(figures["properties"][n]["maximum"] == COUNT_LIMIT for n in FIGURE_FIELDS)
    votes = figures["properties"]["votes"]
    assert votes["maxProperties"] == MAX_CANDIDATES
    assert votes["propertyNames"]["maxLength"] == CANDIDATE_NAME_LIMIT
    assert votes["additionalProperties"]["maximum"] == COUNT_LIMIT


@pytest.mark.parametrize(
    ("kind", "field", "path"),
    [
        ("count", "entered", "entered"),
        ("count", "ballots_issued", "ballots_issued"),
        ("count", "queue", "queue"),
        ("count", "wait_minutes", "wait_minutes"),
        ("status", "queue", "queue"),
    ],
)
def test_the_parser_accepts_the_documented_maximum_and_refuses_one_more(
    schemas: dict[str, dict[str, Any]], kind: str, field: str, path: str
) -> None:
    documented = schemas[kind]["properties"][field]["maximum"]
    maximum = int(documented)  # the OpenAPI model may write it as 1000000.0
    assert maximum == documented
    parse_report(_body(kind, **{field: maximum}), now=NOW)
    with pytest.raises(InputError) as refused:
        parse_report(_body(kind, **{field: maximum + 1}), now=NOW)
    assert refused.value.column == path


def test_the_parser_holds_the_documented_lengths(schemas: dict[str, dict[str, Any]]) -> None:
    text_limit = schemas["incident"]["properties"]["text"]["maxLength"]
    parse_report(_body("incident", text="x" * text_limit), now=NOW)
    with pytest.raises(InputError, match="text"):
        parse_report(_body("incident", text="x" * (text_limit + 1)), now=NOW)
    id_limit = schemas["status"]["properties"]["station"]["maxLength"]
    parse_report(_body("status", station="s" * id_limit), now=NOW)
    with pytest.raises(InputError, match="station"):
        parse_report(_body("status", station="s" * (id_limit + 1)), now=NOW)


@pytest.mark.parametrize("kind", sorted(KIND_FIELDS))
def test_the_parser_requires_exactly_the_documented_fields(
    schemas: dict[str, dict[str, Any]], kind: str
) -> None:
    required = schemas[kind]["required"]
    minimal = {k: v for k, v in _body(kind).items() if k in required}
    parse_report(minimal, now=NOW)  # the optional ones may all be absent
    for name in required:
        incomplete = {k: v for k, v in minimal.items() if k != name}
        with pytest.raises(InputError) as refused:
            parse_report(incomplete, now=NOW)
        assert refused.value.column == name
