"""The dashboard's read models on SQLite and PostgreSQL: station table, totals, activity over the
day, incidents feed, conflicts, comparison (and its cache), tolerance, the public summary."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine

from pollwatch.errors import InputError
from pollwatch.results import ElectionResults
from pollwatch.store import (
    activity,
    attach_results,
    comparison_rows,
    conflicts,
    dashboard_stations,
    events_after,
    import_stations,
    ledger_head,
    ledger_seq,
    list_audit,
    public_summary,
    resolve_conflict,
    set_tolerance,
    station_record,
    station_rows,
    station_totals,
    store_report,
    store_sample,
)

NOW = datetime(2024, 3, 17, 21, 0, tzinfo=UTC)


def _send(engine: Engine, station: str, kind: str, observed_at: str, **fields: Any) -> str:
    body = {
        "id": str(uuid.uuid4()),
        "election": "e",
        "station": station,
        "kind": kind,
        "observed_at": observed_at,
        **fields,
    }
    store_report(engine, body, observer=None, now=NOW)
    return str(body["id"])


def _count(engine: Engine, station: str, start: str, end: str, entered: int) -> str:
    return _send(
        engine,
        station,
        "count",
        f"2024-03-17T{end}:00Z",
        window_start=f"2024-03-17T{start}:00Z",
        window_end=f"2024-03-17T{end}:00Z",
        entered=entered,
    )


def _protocol(engine: Engine, station: str, valid: int, votes: dict[str, int]) -> str:
    figures = {
        "registered": 1000,
        "issued_early": 0,
        "issued_premises": valid,
        "issued_outside": 0,
        "valid": valid,
        "invalid": 0,
        "votes": votes,
    }
    return _send(engine, station, "protocol", "2024-03-17T20:30:00Z", figures=figures)


def _registry(engine: Engine, n: int = 4) -> None:
    import_stations(
        engine, "e", [{"station": f"S{i}", "name": f"Station {i}"} for i in range(1, n + 1)]
    )


def _official(rows: dict[str, int]) -> ElectionResults:
    frame = pd.DataFrame(
        {
            "region": ["abroad"] * len(rows),
            "station": list(rows),
            "registered": [1000] * len(rows),
            "issued_early": [0] * len(rows),
            "issued_premises": list(rows.values()),
            "issued_outside": [0] * len(rows),
            "valid": list(rows.values()),
            "invalid": [0] * len(rows),
            "abroad": [True] * len(rows),
            "A": list(rows.values()),
        }
    )
    return ElectionResults(name="e", stations=frame, candidates=("A",), source="synthetic")


def test_station_table_lists_every_station_with_its_counters(engine: Engine) -> None:
    _registry(engine)
    _send(engine, "S2", "status", "2024-03-17T08:00:00Z", status="opened")
    _count(engine, "S2", "08:00", "09:00", 40)
    _send(engine, "S3", "incident", "2024-03-17T10:00:00Z", category="pressure", text="x")
    _send(engine, "S3", "status", "2024-03-17T20:00:00Z", status="closed", queue=4)
    store_sample(
        engine,
        "e",
        pd.DataFrame({"station": ["S3"], "country": ["x"]}),
        strata_column="country",
        seed=1,
    )
    rows = station_rows(engine, "e")
    assert [r["station"] for r in rows] == ["S1", "S2", "S3", "S4"]
    s1, s2, s3, _ = rows
    assert s1["reports"] == 0 and s1["last_report_at"] is None and s1["status"] is None
    assert s2["status"] == "opened" and s2["reports"] == 2 and s2["counts"] == 1
    assert s2["last_report_at"] == "2024-03-17T21:00:00Z"
    assert s3 == {
        **s3,
        "status": "closed",
        "queue": 4,
        "incidents": 1,
        "in_sample": True,
        "name": "Station 3",
    }
    assert not s2["in_sample"]
    assert [r["station"] for r in station_rows(engine, "e", limit=2, offset=1)] == ["S2", "S3"]
    totals = station_totals(engine, "e")
    assert totals == {
        "stations": 4,
        "reporting": 2,
        "opened": 1,
        "closed": 1,
        "incidents": 1,
        "reports": 4,
        "conflicts": 0,
        "conflicts_pending": 0,
    }
    payload = dashboard_stations(engine, "e")
    assert payload["tolerance"] == 0.05 and len(payload["stations"]) == 4


def test_conflicts_are_listed_resolved_and_applied(engine: Engine) -> None:
    _registry(engine)
    first = _protocol(engine, "S1", 500, {"A": 300, "B": 200})
    second = _protocol(engine, "S1", 500, {"A": 320, "B": 180})
    _protocol(engine, "S2", 400, {"A": 200, "B": 200})
    listed = conflicts(engine, "e")
    assert {(c["station"], c["field"]) for c in listed} == {("S1", "votes.A"), ("S1", "votes.B")}
    conflict_a = next(c for c in listed if c["field"] == "votes.A")
    assert sorted(conflict_a["values"], key=lambda v: v["value"]) == [
        {"report_id": first, "value": 300},
        {"report_id": second, "value": 320},
    ]
    assert conflict_a["resolved"] is None
    assert station_totals(engine, "e")["conflicts"] == 2

    with pytest.raises(InputError) as not_conflict:
        resolve_conflict(engine, "e", "S1", "valid", 500, "coord")
    assert not_conflict.value.column == "field"
    with pytest.raises(InputError) as bad_value:
        resolve_conflict(engine, "e", "S1", "votes.A", "many", "coord")
    assert bad_value.value.column == "value"

    resolve_conflict(engine, "e", "S1", "votes.A", 300, "coord", "photo of the protocol")
    after = conflicts(engine, "e")
    resolved = next(c for c in after if c["field"] == "votes.A")
    assert resolved["resolved"]["value"] == 300
    assert resolved["resolved"]["by"] == "coord"
    assert resolved["resolved"]["note"] == "photo of the protocol"
    assert resolved["resolved"]["at"] is not None
    assert station_totals(engine, "e")["conflicts"] == 1
    assert list_audit(engine)[0]["action"] == "resolve_conflict"


def test_activity_counts_hours_and_spreads_windows(engine: Engine) -> None:
    _registry(engine)
    _count(engine, "S1", "08:30", "10:30", 120)  # 30 + 60 + 30
    _count(engine, "S2", "09:00", "10:00", 50)
    _count(engine, "S2", "09:00", "10:00", 50)  # a second observer, same window: once
    _count(engine, "S3", "09:00", "10:00", 10)  # S3's two windows disagree: left out
    _count(engine, "S3", "09:30", "10:30", 99)
    _send(engine, "S4", "incident", "2024-03-17T09:15:00Z", category="violence", text="hit")
    data = activity(engine, "e")
    assert data["reports_per_hour"] == [
        {"hour": "2024-03-17T09:00:00Z", "reports": 1, "incidents": 1},
        {"hour": "2024-03-17T10:00:00Z", "reports": 5, "incidents": 0},
    ]
    assert data["entered_per_hour"] == [
        {"hour": "2024-03-17T08:00:00Z", "entered": 30.0},
        {"hour": "2024-03-17T09:00:00Z", "entered": 110.0},
        {"hour": "2024-03-17T10:00:00Z", "entered": 30.0},
    ]
    (incident,) = data["incidents"]
    assert incident == {
        **incident,
        "station": "S4",
        "category": "violence",
        "text": "hit",
        "photo": False,
        "observed_at": "2024-03-17T09:15:00Z",
    }


def test_comparison_sorts_by_discrepancy_and_recomputes_only_changed_stations(
    engine: Engine,
) -> None:
    _registry(engine)
    attach_results(engine, "e", _official({"S1": 600, "S2": 330, "S3": 300}))
    for station in ("S1", "S2", "S3"):
        _send(engine, station, "status", "2024-03-17T08:00:00Z", status="opened")
        _count(engine, station, "08:00", "14:00", 150)
        _count(engine, station, "14:00", "20:00", 150)
        _send(engine, station, "status", "2024-03-17T20:00:00Z", status="closed")
    first = comparison_rows(engine, "e")
    assert [r["station"] for r in first["rows"]] == ["S1", "S2", "S3"]
    s1, s2, s3 = first["rows"]
    assert s1["flag"] is True and s1["independent"] == 300 and s1["official"] == 600
    assert s1["difference"] == 300 and s1["relative"] == pytest.approx(1.0)
    assert s2["flag"] is True and s2["relative"] == pytest.approx(0.1)  # beyond 5 %
    assert s3["flag"] is False and s3["difference"] == 0
    assert comparison_rows(engine, "e", tolerance=0.2)["rows"][1]["flag"] is False

    again = comparison_rows(engine, "e")
    assert all(a is b for a, b in zip(first["rows"], again["rows"], strict=True))
    _count(engine, "S3", "20:00", "20:00", 0)
    third = comparison_rows(engine, "e")
    by_station = {r["station"]: r for r in third["rows"]}
    assert by_station["S1"] is s1 and by_station["S2"] is s2
    assert by_station["S3"] is not s3

    set_tolerance(engine, "e", 0.2, by="coord")
    assert comparison_rows(engine, "e")["tolerance"] == 0.2
    assert [r["station"] for r in comparison_rows(engine, "e")["rows"] if r["flag"]] == ["S1"]
    assert list_audit(engine)[0]["action"] == "set_tolerance"
    assert station_record(engine, "e", "S2")["comparison"]["flagged"] is False  # its setting
    assert station_record(engine, "e", "S2", tolerance=0.05)["comparison"]["flagged"] is True
    for bad in (-0.1, 1.5, float("nan"), "x", True):
        with pytest.raises(InputError) as caught:
            set_tolerance(engine, "e", bad, by="coord")
        assert caught.value.column == "tolerance"


def test_public_summary_is_aggregated_and_names_no_one(engine: Engine) -> None:
    _registry(engine)
    attach_results(engine, "e", _official({"S1": 600, "S2": 300}))
    _send(engine, "S1", "status", "2024-03-17T08:00:00Z", status="opened")
    _count(engine, "S1", "08:00", "20:00", 300)
    _send(engine, "S1", "status", "2024-03-17T20:00:00Z", status="closed")
    _send(engine, "S2", "incident", "2024-03-17T09:00:00Z", category="pressure", text="Ivanov")
    _send(engine, "S2", "incident", "2024-03-17T09:30:00Z", category="pressure", text="secret")
    summary = public_summary(engine, "e")
    assert summary["stations"] == {"total": 4, "observed": 2, "opened": 0, "closed": 1}
    assert summary["reports"] == {"count": 5, "incidents": 2, "protocols": 0}
    assert summary["incidents_by_category"] == {"pressure": 2}
    assert summary["turnout"] == {
        "counted": 300,
        "independent": 300,
        "official": 600,
        "stations_compared": 1,
        "flagged": 1,
        "flagged_above": 1,
        "flagged_below": 0,
        "registers_compared": 0,
        "register_flagged": 0,
        "tested": 1,
        "expected_by_chance": 0.1,  # what an honest election shows at 5 % of 1 station
        "discoveries": 1,
        "level": 0.05,
    }
    assert summary["pvt"] is None
    head = ledger_head(engine, "e")
    assert summary["ledger"]["hash"] == head["head_hash"]
    assert summary["ledger"]["seq"] == 5 == ledger_seq(engine, "e")
    text = json.dumps(summary)
    for private in ("S1", "S2", "Station", "Ivanov", "secret"):
        assert private not in text


def test_events_after_follow_the_ledger(engine: Engine) -> None:
    _registry(engine)
    ids = [_count(engine, "S1", f"{8 + i:02d}:00", f"{9 + i:02d}:00", i) for i in range(3)]
    assert len(ids) == 3
    events = events_after(engine, "e", 1)
    assert [e["seq"] for e in events] == [2, 3]
    assert events[0] == {
        "seq": 2,
        "station": "S1",
        "kind": "count",
        "received_at": "2024-03-17T21:00:00Z",
    }
    assert events_after(engine, "e", 3) == []
    assert [e["seq"] for e in events_after(engine, "e", 0, limit=1)] == [1]
