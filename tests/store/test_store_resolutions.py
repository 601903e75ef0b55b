"""Resolving conflicts: only real conflicts, only allowed values, applied on read, audited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from pollwatch.errors import InputError, NotFoundError
from pollwatch.store import (
    import_stations,
    list_audit,
    list_resolutions,
    resolve_conflict,
    station_record,
    store_report,
)

NOW = datetime(2024, 3, 17, 21, 0, tzinfo=UTC)


def _send(engine: Engine, kind: str, observed_at: str, **fields: Any) -> str:
    body = {
        "id": str(uuid.uuid4()),
        "election": "e",
        "station": "1",
        "kind": kind,
        "observed_at": observed_at,
        **fields,
    }
    store_report(engine, body, observer=None, now=NOW)
    return str(body["id"])


def _protocol(engine: Engine, valid: int) -> str:
    return _send(
        engine,
        "protocol",
        "2024-03-17T20:30:00Z",
        figures={"valid": valid, "invalid": 3, "votes": {"A": 10}},
    )


@pytest.fixture()
def station(engine: Engine) -> Engine:
    import_stations(engine, "e", [{"station": "1"}, {"station": "2"}])
    return engine


def test_a_protocol_conflict_is_resolved_applied_and_audited(station: Engine) -> None:
    engine = station
    _protocol(engine, 500)
    _protocol(engine, 520)
    before = station_record(engine, "e", "1")["master"]
    assert "valid" not in before["figures"]
    assert [c["field"] for c in before["conflicts"]] == ["valid"]

    answer = resolve_conflict(engine, "e", "1", "valid", 510, "anna", "read from the photo")
    assert answer == {**answer, "station": "1", "field": "valid", "value": 510, "by": "anna"}
    after = station_record(engine, "e", "1")["master"]
    assert after["figures"]["valid"] == 510
    assert after["conflicts"] == []
    assert after["resolved"][0]["value"] == 510 and after["resolved"][0]["by"] == "anna"

    # A coordinator may change their mind: the table keeps the latest, the audit log both.
    resolve_conflict(engine, "e", "1", "valid", 520, "boris")
    assert [(r["field"], r["value"], r["by"]) for r in list_resolutions(engine, "e")] == [
        ("valid", 520, "boris")
    ]
    audit = [a for a in list_audit(engine) if a["action"] == "resolve_conflict"]
    assert [(a["actor"], a["detail"]["value"], a["detail"]["previous"]) for a in audit] == [
        ("boris", 520, 510),
        ("anna", 510, None),
    ]
    assert audit[0]["target"] == "e/1"
    assert station_record(engine, "e", "1")["master"]["figures"]["valid"] == 520


def test_status_and_window_conflicts_take_their_own_kinds_of_value(station: Engine) -> None:
    engine = station
    _send(engine, "status", "2024-03-17T20:00:00Z", status="closed")
    _send(engine, "status", "2024-03-17T20:00:00Z", status="suspended")
    keep = _send(
        engine,
        "count",
        "2024-03-17T10:00:00Z",
        window_start="2024-03-17T09:00:00Z",
        window_end="2024-03-17T10:00:00Z",
        entered=40,
    )
    _send(
        engine,
        "count",
        "2024-03-17T10:00:00Z",
        window_start="2024-03-17T09:30:00Z",
        window_end="2024-03-17T10:00:00Z",
        entered=30,
    )
    fields = [c["field"] for c in station_record(engine, "e", "1")["master"]["conflicts"]]
    window = next(f for f in fields if f.startswith("window:"))
    assert "status" in fields

    with pytest.raises(InputError) as bad_status:
        resolve_conflict(engine, "e", "1", "status", "maybe", "anna")
    assert bad_status.value.column == "value"
    resolve_conflict(engine, "e", "1", "status", "closed", "anna")

    for bad in (str(uuid.uuid4()), [], 7, {"a": 1}):
        with pytest.raises(InputError) as bad_window:
            resolve_conflict(engine, "e", "1", window, bad, "anna")
        assert bad_window.value.column == "value"
    resolve_conflict(engine, "e", "1", window, keep, "anna")
    master = station_record(engine, "e", "1")["master"]
    assert master["status"] == "closed"
    assert master["conflicts"] == []
    assert [w["report_ids"] for w in master["windows"]] == [[keep]]


@pytest.mark.parametrize(
    ("field", "value", "note", "column"),
    [
        ("valid", 1, None, "field"),  # not a conflict of this station
        ("votes.A", 1, None, "field"),
        ("", 1, None, "field"),
        ("x" * 201, 1, None, "field"),
        (7, 1, None, "field"),
        ("inv\x00alid", 1, None, "field"),
        ("invalid", 1, "n" * 5000, "note"),
        ("invalid", 1, 12, "note"),
        ("invalid", -1, None, "value"),
        ("invalid", 1.5, None, "value"),
        ("invalid", True, None, "value"),
        ("invalid", 10**9, None, "value"),
        ("invalid", ["x"] * 5000, None, "value"),
    ],
)
def test_bad_resolutions_name_the_field(
    station: Engine, field: Any, value: Any, note: Any, column: str
) -> None:
    engine = station
    _send(engine, "protocol", "2024-03-17T20:30:00Z", figures={"invalid": 3, "votes": {"A": 1}})
    _send(engine, "protocol", "2024-03-17T20:30:00Z", figures={"invalid": 4, "votes": {"A": 1}})
    with pytest.raises(InputError) as caught:
        resolve_conflict(engine, "e", "1", field, value, "anna", note)
    assert caught.value.column == column
    assert list_resolutions(engine, "e") == []
    assert not [a for a in list_audit(engine) if a["action"] == "resolve_conflict"]


def test_unknown_or_silent_stations(station: Engine) -> None:
    with pytest.raises(NotFoundError):
        resolve_conflict(station, "e", "nope", "valid", 1, "anna")
    with pytest.raises(NotFoundError):
        station_record(station, "e", "nope")
    for malformed in ("bad\x00id", "x" * 65, "", "уик-1"):
        with pytest.raises(InputError) as refused:
            resolve_conflict(station, "e", malformed, "valid", 1, "anna")
        assert refused.value.column == "station"
        with pytest.raises(InputError) as refused:
            station_record(station, "e", malformed)
        assert refused.value.column == "station"
    with pytest.raises(InputError) as silent:
        resolve_conflict(station, "e", "2", "valid", 1, "anna")
    assert silent.value.column == "field"
