"""A station's record: master record, turnout estimate and comparison with official figures."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine

from pollwatch.errors import InputError
from pollwatch.results import ElectionResults
from pollwatch.store import attach_results, store_report
from pollwatch.store.station_record import station_record

NOW = datetime(2024, 3, 17, 21, 0, tzinfo=UTC)


def _body(kind: str, observed_at: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "election": "e",
        "station": "8001",
        "kind": kind,
        "observed_at": observed_at,
        **fields,
    }


def _official(issued_premises: int) -> ElectionResults:
    frame = pd.DataFrame(
        {
            "region": ["abroad"],
            "station": ["8001"],
            "registered": [1000],
            "issued_early": [0],
            "issued_premises": [issued_premises],
            "issued_outside": [0],
            "valid": [issued_premises],
            "invalid": [0],
            "abroad": [True],
            "A": [issued_premises],
        }
    )
    return ElectionResults(name="x", stations=frame, candidates=("A",), source="synthetic")


def test_full_coverage_matches_official_and_inflation_is_flagged(engine: Engine) -> None:
    attach_results(engine, "e", _official(400))
    store_report(
        engine, _body("status", "2024-03-17T08:00:00Z", status="opened"), observer=None, now=NOW
    )
    for hour, entered in zip(range(8, 20, 2), (60, 70, 80, 70, 60, 60), strict=True):
        store_report(
            engine,
            _body(
                "count",
                f"2024-03-17T{hour + 2:02d}:00:00Z",
                window_start=f"2024-03-17T{hour:02d}:00:00Z",
                window_end=f"2024-03-17T{hour + 2:02d}:00:00Z",
                entered=entered,
            ),
            observer=None,
            now=NOW,
        )
    store_report(
        engine, _body("status", "2024-03-17T20:00:00Z", status="closed"), observer=None, now=NOW
    )
    record = station_record(engine, "e", "8001")
    assert len(record["reports"]) == 8
    assert record["estimate"] is not None
    assert record["estimate"]["method"] == "complete"
    assert record["comparison"] is not None and record["comparison"]["flagged"] is False
    attach_results(engine, "e", _official(800))  # official turnout double the door count
    inflated = station_record(engine, "e", "8001")
    assert inflated["comparison"]["flagged"] is True


def test_a_stored_election_schedule_that_no_longer_parses_reads_as_none(engine: Engine) -> None:
    """The public faces (guide, public status) show no hours rather than fail on it."""
    from sqlalchemy import update

    from pollwatch.store import create_election
    from pollwatch.store.tables import elections
    from pollwatch.store.views import (
        election_schedule,
        readable_election_schedule,
        readable_station_schedule,
    )

    create_election(engine, "sched")
    with engine.connect() as conn:
        assert readable_election_schedule(conn, "sched") is None  # none set
    with engine.begin() as conn:
        conn.execute(update(elections).values(timezone="Europe/Belgrade", schedule="x" * 50))
    with engine.connect() as conn:
        assert readable_election_schedule(conn, "sched") is None
        with pytest.raises(InputError):  # the premise: the stored one does not parse
            election_schedule(conn, "sched")
    bad = {"timezone": "Mars/Olympus_Mons", "schedule": "whenever; 2024-13-45 25:00-08:00"}
    assert readable_station_schedule(bad, None) is None
    good = {"timezone": "Europe/Belgrade", "schedule": "2026-03-15 07:00-20:00"}
    assert readable_station_schedule(good, None) is not None
